"""`[targets]`: the office's measurable performance targets (seed 001 §12-13: performance
is set as measurable targets, monitored periodically and evaluated by the Camat).

```toml
[targets]
steps_within_sop_percent = 90        # of each SOP step, finished within its minutes
served_within_one_day_percent = 95   # handed over within the one-working-day promise
ikm = "B"                            # lowest IKM: a grade (A-D) or a number 25-100
complaints_on_time_percent = 90      # closed by their deadline
spoiled_cards_percent = 5            # at most, of the blanks used
[targets.returns_percent]            # at most, of the files decided, by why returned
check = 10                           # incomplete file at the counter (step 2)
validate = 5                         # not valid at the section head (step 3)
activate = 2                         # activation refused, file returned (step 6)
```
"""

from __future__ import annotations

from fractions import Fraction
from typing import Annotated, Final, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    field_validator,
)

from appliance.domain import Step
from appliance.oversight import Grade

Percent = Annotated[float, Field(ge=0, le=100)]

RETURN_STEPS: Final = (Step.CHECK, Step.VALIDATE, Step.ACTIVATE)
"""The steps that can send a file back, each its own reason: incomplete, not valid,
activation refused."""

ReturnStep = Literal["check", "validate", "activate"]

DEFAULT_RETURNS_PERCENT: Final[dict[ReturnStep, float]] = {
    "check": 10.0,
    "validate": 5.0,
    "activate": 2.0,
}


def _ikm_target(value: object) -> Grade | float:
    """A grade's letter or a score: one message for either mistake, not one per form."""
    if isinstance(value, str) and value in Grade.__members__:
        return Grade(value)
    if isinstance(value, int | float) and not isinstance(value, bool) and 25 <= value <= 100:
        return float(value)
    raise ValueError(f"a grade A, B, C or D, or an IKM from 25 to 100, not {value!r}")


class TargetsSection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    steps_within_sop_percent: Percent = 90
    """Each SOP step: at least this share finished within its minutes (seed 003)."""
    served_within_one_day_percent: Percent = 95
    """At least this share of cards handed over within one working day (seed 000, 001)."""
    ikm: Annotated[
        Grade | float,
        PlainValidator(_ikm_target),
        PlainSerializer(lambda value: str(value) if isinstance(value, Grade) else value),
    ] = Grade.B
    """The lowest IKM: a grade's letter (its lowest score) or a score 25-100."""
    complaints_on_time_percent: Percent = 90
    """At least this share of complaints closed by their deadline."""
    spoiled_cards_percent: Percent = 5
    """At most this share of the blank cards used spoiled."""
    returns_percent: dict[ReturnStep, Percent] = Field(
        default_factory=lambda: dict(DEFAULT_RETURNS_PERCENT)
    )
    """At most this share of the files decided returned, by the step that returned them;
    a step left out keeps its default."""

    @field_validator("returns_percent")
    @classmethod
    def _every_reason(cls, shares: dict[ReturnStep, float]) -> dict[ReturnStep, float]:
        return {**DEFAULT_RETURNS_PERCENT, **shares}

    @property
    def ikm_lowest(self) -> Fraction:
        """The lowest IKM as a number."""
        if isinstance(self.ikm, Grade):
            return Fraction(self.ikm.lowest)
        return Fraction(str(self.ikm))

    def returns_share(self, step: Step) -> Fraction:
        return share_of(next(v for k, v in self.returns_percent.items() if k == step.value))


def share_of(percent: float) -> Fraction:
    """A percent from the file as an exact share, by its decimal text: 90 -> 9/10, and
    92.5 -> 37/40 rather than the binary float's neighbour."""
    return Fraction(str(percent)) / 100


__all__ = ["DEFAULT_RETURNS_PERCENT", "RETURN_STEPS", "ReturnStep", "TargetsSection", "share_of"]
