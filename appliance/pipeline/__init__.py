"""The SOP as a durable state machine with per-step time budgets: the queue, the eight
steps and their decisions, the claims on people and devices, and the day's figures."""

from ._calendar import WorkingCalendar
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
    "ApplicationView",
    "Busy",
    "CallView",
    "CardView",
    "DeviceSteps",
    "FailureView",
    "Forbidden",
    "Invalid",
    "NotFound",
    "Officer",
    "Pipeline",
    "PipelineError",
    "PipelineSection",
    "QueueFigures",
    "QueueView",
    "RecordedBiometrics",
    "StepFailure",
    "StepWork",
    "SubmitForm",
    "TicketView",
    "Unavailable",
    "WorkingCalendar",
    "WrongState",
    "card_holder",
]
