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
    "Decision",
    "DeviceSteps",
    "FailureView",
    "Forbidden",
    "Invalid",
    "MissingPart",
    "NotFound",
    "Officer",
    "PartQuality",
    "Pipeline",
    "PipelineError",
    "PipelineSection",
    "QueueFigures",
    "QueueView",
    "RecordedBiometrics",
    "RecordedView",
    "Stage",
    "StageProgress",
    "StageState",
    "StepFailure",
    "StepOutcomes",
    "StepWork",
    "SubmitForm",
    "TicketView",
    "Unavailable",
    "WrongState",
    "card_holder",
]
