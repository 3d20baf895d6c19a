"""The SOP as a durable state machine with per-step time budgets: the queue, the eight
steps and their decisions, the claims on people and devices, and the day's figures."""

from ._biometrics import (
    BiometricPlan,
    BiometricProgress,
    Decision,
    MissingPart,
    PartQuality,
    Stage,
    StageProgress,
    StageState,
)
from ._core import DeviceSteps
from ._errors import (
    Busy,
    Forbidden,
    Invalid,
    NotFound,
    PipelineError,
    Unavailable,
    WrongState,
)
from ._forms import Officer, SubmitForm
from ._outcomes import ActivationAttemptView, RecordedView, StepOutcomes
from ._oversight_forms import (
    CloseForm,
    ComplaintForm,
    ComplaintView,
    FollowUpForm,
    FollowUpView,
    KeypadPress,
    PublicRecap,
    QuestionnaireForm,
    RecapForm,
    RecapView,
    SurveyOffers,
    SurveyReceipt,
    VerifyForm,
)
from ._pipeline import Pipeline
from ._settings import PipelineSection
from ._views import (
    ApplicationView,
    CallView,
    CardView,
    FailureView,
    QueueFigures,
    QueueView,
    TicketView,
)
from ._work import RecordedBiometrics, StepFailure, StepWork, card_holder

__all__ = [
    "ActivationAttemptView",
    "ApplicationView",
    "BiometricPlan",
    "BiometricProgress",
    "Busy",
    "CallView",
    "CardView",
    "CloseForm",
    "ComplaintForm",
    "ComplaintView",
    "Decision",
    "DeviceSteps",
    "FailureView",
    "FollowUpForm",
    "FollowUpView",
    "Forbidden",
    "Invalid",
    "KeypadPress",
    "MissingPart",
    "NotFound",
    "Officer",
    "PartQuality",
    "Pipeline",
    "PipelineError",
    "PipelineSection",
    "PublicRecap",
    "QuestionnaireForm",
    "QueueFigures",
    "QueueView",
    "RecapForm",
    "RecapView",
    "RecordedBiometrics",
    "RecordedView",
    "Stage",
    "StageProgress",
    "StageState",
    "StepFailure",
    "StepOutcomes",
    "StepWork",
    "SubmitForm",
    "SurveyOffers",
    "SurveyReceipt",
    "TicketView",
    "Unavailable",
    "VerifyForm",
    "WrongState",
    "card_holder",
]
