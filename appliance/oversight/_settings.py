"""`[oversight]`: the complaint book's deadlines and files, and how long a handover's
questionnaire stays offered on the kiosk.

```toml
[oversight]
questionnaire_window_minutes = 60
contacts = "complaint-contacts.sqlite3"   # in the state directory, 0600, never shipped
[oversight.complaint_deadline_days]       # working days, by category
ringan = 2
normatif = 5
kompleks = 14
investigasi = 60
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ._complaints import DEFAULT_DEADLINE_DAYS, Category


class OversightSection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    complaint_deadline_days: dict[Category, Annotated[int, Field(ge=1, le=60)]] = Field(
        default_factory=lambda: dict(DEFAULT_DEADLINE_DAYS)
    )
    """Working days from a complaint's receipt to its closure, by category; a category
    left out keeps its default (60 is SP4N-LAPOR!'s outer limit)."""
    questionnaire_window_minutes: Annotated[int, Field(ge=1, le=24 * 60)] = 60
    """After a handover, the kiosk takes one questionnaire for its service this long."""
    contacts: Path = Path("complaint-contacts.sqlite3")
    """Complainants' contacts (`ContactBook`), relative to the state directory."""

    @field_validator("complaint_deadline_days")
    @classmethod
    def _every_category(cls, days: dict[Category, int]) -> dict[Category, int]:
        return {**DEFAULT_DEADLINE_DAYS, **days}


__all__ = ["OversightSection"]
