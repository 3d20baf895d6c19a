"""What the pipeline refuses, and why, in words an officer reads.

Each refusal has a stable `code` (the API's contract) and an HTTP-like `status`; the API
maps them in one place. A refused action changes nothing.
"""

from __future__ import annotations

from typing import ClassVar

from appliance._text import Text
from appliance.errors import ApplianceError


class PipelineError(ApplianceError):
    status: ClassVar[int] = 409

    def __init__(self, code: str, text: Text) -> None:
        super().__init__(text.en)
        self.code = code
        self.text = text


class NotFound(PipelineError):
    """No such application or ticket."""

    status = 404


class Forbidden(PipelineError):
    """The officer's role may not do this."""

    status = 403


class WrongState(PipelineError):
    """The application or ticket is not where the action applies (wrong step, not started,
    already finished)."""

    status = 409


class Busy(PipelineError):
    """A person or device the step needs is given to another step."""

    status = 409


class Invalid(PipelineError):
    """The input breaks a rule: an invalid NIK, a form that does not make a card."""

    status = 422


class Unavailable(PipelineError):
    """The station cannot do it now: a device is down, the disk is full, records are
    unreachable. Nothing changed; try again."""

    status = 503
