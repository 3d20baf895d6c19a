"""The activation's decision: is a live finger the finger of a chip template?"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Final

from pydantic import BaseModel, ConfigDict, Field

from ._deferred import WORKING_DPI, Fingerprints, InProcessFingerprints, match_score
from ._iso import FingerTemplate

DEFAULT_THRESHOLD: Final = 0.15
"""From the synthetic benchmark (docs/fingerprint.md): FAR <= 0.1 % is reached at 0.11;
the default sits above that (measured FAR 0.02 %, FRR 0 %), a margin against impostors
paid for with false rejects on fingers that synthetic ones do not model."""


@dataclass(frozen=True, slots=True)
class MatchResult:
    score: float
    matched: bool


class MatcherSettings(BaseModel):
    """The activation matcher's settings, for the station configuration."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    threshold: Annotated[float, Field(gt=0, lt=1)] = DEFAULT_THRESHOLD
    """Scores at or above it are the same finger. Raising it lowers false accepts and
    raises false rejects (see docs/fingerprint.md for the measured trade-off)."""


class FingerMatcher:
    """Decides whether a live finger is the finger of a chip template.

    `fingerprints` does the numeric work of `verify`: the daemon gives its worker process;
    by default it runs in a thread of this process.
    """

    def __init__(
        self, *, threshold: float = DEFAULT_THRESHOLD, fingerprints: Fingerprints | None = None
    ) -> None:
        if not 0 < threshold < 1:
            raise ValueError(f"threshold {threshold} is not between 0 and 1")
        self.threshold = threshold
        self._fingerprints = fingerprints or InProcessFingerprints()

    @classmethod
    def from_settings(
        cls, settings: MatcherSettings, *, fingerprints: Fingerprints | None = None
    ) -> FingerMatcher:
        return cls(threshold=settings.threshold, fingerprints=fingerprints)

    def matches(self, probe: FingerTemplate, reference: FingerTemplate) -> MatchResult:
        return self._decide(match_score(probe, reference))

    async def verify(
        self,
        image: bytes,
        reference: FingerTemplate,
        *,
        finger_position: int,
        resolution_dpi: int = WORKING_DPI,
    ) -> MatchResult:
        """The live finger's image (PNG or PGM) against the chip template, off the event
        loop: seconds of array work on a Pi. An unusable image is an `ExtractionError`."""
        score = await self._fingerprints.verify_score(
            image, reference, finger_position=finger_position, resolution_dpi=resolution_dpi
        )
        return self._decide(score)

    def _decide(self, score: float) -> MatchResult:
        return MatchResult(score=score, matched=score >= self.threshold)
