"""`[pipeline]`: the office's counters, calendar and devices, as the SOP pipeline uses them."""

from __future__ import annotations

from datetime import date, time
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

DeviceName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
Counter = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,31}$")]
Place = Annotated[str, Field(min_length=1, max_length=40)]


class PipelineSection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    counters: tuple[Counter, ...] = ("loket-1",)
    """The counters (loket) tickets are called to."""
    no_show_minutes: Annotated[float, Field(gt=0, le=240)] = 10.0
    """A called ticket nobody answers within this time is marked as not present."""
    working_days: tuple[Annotated[int, Field(ge=1, le=7)], ...] = (1, 2, 3, 4, 5)
    """ISO weekdays the office serves (1 = Monday)."""
    opening: time = time(8, 0)
    closing: time = time(15, 0)
    national_holidays: bool = True
    """Indonesia's public holidays are days off (from the `holidays` package)."""
    holidays: tuple[date, ...] = ()
    """More days off: the year's cuti bersama (decreed yearly) and local days off."""
    open_days: tuple[date, ...] = ()
    """Days the office serves although the `holidays` package has a holiday on them (a
    holiday moved by decree): this list and `holidays` take precedence over the package."""
    kecamatan: Place = "LUMAJANG"
    regency: Place = "LUMAJANG"
    province: Place = "JAWA TIMUR"
    """Where applicants live unless their file says otherwise; printed on the card."""
    camera: DeviceName = "camera"
    fingerprint_scanner: DeviceName = "fingerprint_scanner"
    iris_scanner: DeviceName = "iris_scanner"
    signature_pad: DeviceName = "signature_pad"
    satisfaction_keypad: DeviceName = "satisfaction_keypad"
    """Armed after each handover for the applicant's anonymous press (the coins)."""
    signature_timeout_s: Annotated[float, Field(gt=0, le=600)] = 120.0
    """How long the pad waits for the applicant's signature (recording and receipt)."""
    keypad_timeout_s: Annotated[float, Field(gt=0, le=600)] = 60.0
    """How long the satisfaction keypad stays lit after a handover for the press."""

    @model_validator(mode="after")
    def _open_before_close(self) -> PipelineSection:
        if self.opening >= self.closing:
            raise ValueError("opening must be before closing")
        if not self.working_days:
            raise ValueError("at least one working day is needed")
        if len(set(self.counters)) != len(self.counters) or not self.counters:
            raise ValueError("counters must be distinct, and at least one")
        return self
