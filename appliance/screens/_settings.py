"""`[screens]`: how the officers' consoles, the board and the kiosk behave."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ScreensSection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    idle_logout_minutes: Annotated[float, Field(gt=0, le=8 * 60)] = 15
    """A console left alone this long signs its officer out (the office PC is shared)."""
    idle_warning_seconds: Annotated[int, Field(ge=10, le=600)] = 60
    """The countdown shown before that, with a button to stay signed in."""
    kiosk_tickets_per_minute: Annotated[int, Field(ge=1, le=120)] = 12
    """The kiosk's limit: tickets a minute from one client (a child at the touch screen)."""

    @property
    def idle_logout(self) -> timedelta:
        return timedelta(minutes=self.idle_logout_minutes)

    @model_validator(mode="after")
    def _warning_before_logout(self) -> ScreensSection:
        if self.idle_warning_seconds >= self.idle_logout_minutes * 60:
            raise ValueError("idle_warning_seconds must be shorter than idle_logout_minutes")
        return self
