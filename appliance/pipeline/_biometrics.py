"""The biometric recording as the operator follows and steers it.

`StepWork.record_biometrics` takes one modality at a time (the face, the three finger
placements, the irises, the signature) through a `Recording`, which keeps each one's
progress (attempts, quality against the device's threshold, accepted or not) where the
screens read it (`BiometricSessions.progress`), and tells its listeners it changed (the
station turns that into a live signal: the pipeline knows no screens).

What the operator declared missing when starting the step (a finger, an eye, each with
its reason: `BiometricPlan`) is not asked of the devices, and the register records it.
A capture still below its threshold after the device's own retries is accepted as the
best one seen, as before; when the operator steers (`operator_decides`), the recording
waits instead for them to capture it again or accept it. That wait is inside the step's
budget like any device work: an operator who walks away fails the step at its budget,
and it can start again.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import Any, Final, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from appliance._text import Text
from appliance.hal import CaptureNotAccepted, CaptureResult, Eye, Finger, Slap
from appliance.register import MissingReason

from ._errors import Invalid, WrongState

_T = TypeVar("_T")
_KEPT: Final = 16
"""Ended recordings whose last progress stays readable (the operator's screen shows how
one ended); older ones are forgotten."""
CHIP_FINGERS: Final = 2
"""The card's chip holds two fingers' templates: fewer left to record cannot make a card."""


class Stage(StrEnum):
    """The recording's modalities, in the order they are taken."""

    FACE = "face"
    LEFT_FOUR = "left_four"
    RIGHT_FOUR = "right_four"
    THUMBS = "thumbs"
    IRISES = "irises"
    SIGNATURE = "signature"


SLAP_STAGES: Final = {
    Slap.LEFT_FOUR: Stage.LEFT_FOUR,
    Slap.RIGHT_FOUR: Stage.RIGHT_FOUR,
    Slap.THUMBS: Stage.THUMBS,
}


class StageState(StrEnum):
    WAITING = "waiting"
    CAPTURING = "capturing"
    DECIDING = "deciding"
    """Below its threshold: the operator captures it again or accepts the best."""
    ACCEPTED = "accepted"
    NOT_TAKEN = "not_taken"
    """Everything it would capture was declared missing."""


class Decision(StrEnum):
    RETRY = "retry"
    ACCEPT = "accept"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MissingPart(_Model):
    """A finger or an eye that cannot be recorded, and why."""

    part: Finger | Eye
    reason: MissingReason

    def for_register(self) -> dict[str, Any]:
        """As `biometrics.recorded` lists it (`MissingBiometric`)."""
        if isinstance(self.part, Finger):
            return {"finger": self.part.iso_position, "reason": self.reason.value}
        return {"eye": self.part.value.lower(), "reason": self.reason.value}


class BiometricPlan(_Model):
    """How the operator starts a recording: what is missing, and whether they steer it."""

    missing: tuple[MissingPart, ...] = Field(default=(), max_length=len(Finger) + len(Eye))
    operator_decides: bool = False
    """A capture below its threshold waits for the operator (capture again, or accept);
    otherwise the best capture seen is accepted (the JSON API, the simulated day)."""

    @model_validator(mode="after")
    def _each_part_once(self) -> BiometricPlan:
        parts = [missing.part for missing in self.missing]
        if len(set(parts)) != len(parts):
            raise ValueError("a finger or eye is declared missing twice")
        return self

    @property
    def fingers(self) -> frozenset[Finger]:
        return frozenset(m.part for m in self.missing if isinstance(m.part, Finger))

    @property
    def eyes(self) -> frozenset[Eye]:
        return frozenset(m.part for m in self.missing if isinstance(m.part, Eye))

    def refuse_unrecordable(self) -> None:
        """A card needs two fingers on its chip: refuse a plan that leaves fewer."""
        if len(Finger) - len(self.fingers) < CHIP_FINGERS:
            raise Invalid(
                "too_few_fingers",
                Text(
                    "Paling sedikit dua jari harus dapat direkam: chip KTP-el memuat dua "
                    "sidik jari.",
                    "At least two fingers must be recordable: the KTP-el chip holds two "
                    "fingerprints.",
                ),
            )

    def wanted(self, stage: Stage) -> tuple[str, ...]:
        """The parts `stage` captures (SBI names; the face is "face"), less those missing."""
        if stage is Stage.FACE:
            return ("face",)
        if stage is Stage.IRISES:
            return tuple(eye.value for eye in Eye if eye not in self.eyes)
        if stage is Stage.SIGNATURE:
            return ("signature",)
        slap = next(slap for slap, of in SLAP_STAGES.items() if of is stage)
        return tuple(finger.value for finger in slap.fingers if finger not in self.fingers)

    def missing_in(self, stage: Stage) -> tuple[MissingPart, ...]:
        if stage is Stage.IRISES:
            return tuple(m for m in self.missing if isinstance(m.part, Eye))
        slap = next((slap for slap, of in SLAP_STAGES.items() if of is stage), None)
        if slap is None:
            return ()
        return tuple(m for m in self.missing if m.part in slap.fingers)


class PartQuality(_Model):
    part: str
    """The SBI name ("Left IndexFinger", "Right"), or "face"."""
    quality: float | None
    """The best capture's score; None: nothing captured yet."""


class StageProgress(_Model):
    stage: Stage
    state: StageState = StageState.WAITING
    attempts: int = 0
    """The device's attempts so far, over every capture the operator asked for."""
    threshold: float | None = None
    parts: tuple[PartQuality, ...] = ()
    missing: tuple[MissingPart, ...] = ()

    @property
    def below_threshold(self) -> bool:
        if self.threshold is None:
            return False
        return any(p.quality is None or p.quality < self.threshold for p in self.parts)


class BiometricProgress(_Model):
    """One application's recording as its operator's screen shows it."""

    application: str
    stages: tuple[StageProgress, ...]
    operator_decides: bool
    ended: bool = False
    """The step's work is over (finished or failed: the application says which)."""

    @property
    def current(self) -> StageProgress | None:
        busy = (StageState.CAPTURING, StageState.DECIDING)
        return next((stage for stage in self.stages if stage.state in busy), None)


class Recording:
    """One application's recording in progress: `StepWork` takes each modality through it."""

    def __init__(self, app: str, plan: BiometricPlan, changed: Callable[[str], None]) -> None:
        self.app = app
        self.plan = plan
        self._changed = changed
        self._stages = {
            stage: StageProgress(stage=stage, missing=plan.missing_in(stage)) for stage in Stage
        }
        self._decision: asyncio.Future[Decision] | None = None

    def progress(self, *, ended: bool = False) -> BiometricProgress:
        return BiometricProgress(
            application=self.app,
            stages=tuple(self._stages.values()),
            operator_decides=self.plan.operator_decides,
            ended=ended,
        )

    async def capture(
        self, stage: Stage, take: Callable[[], Awaitable[CaptureResult]], *, threshold: float
    ) -> CaptureResult:
        """Take `stage` until it is good enough, or accepted below its threshold; the best
        capture of each part over every attempt is kept."""
        wanted = self.plan.wanted(stage)
        if not wanted:
            self._update(stage, state=StageState.NOT_TAKEN, threshold=threshold)
            return CaptureResult((), (), 0, threshold)
        best: CaptureResult | None = None
        while True:
            self._update(stage, state=StageState.CAPTURING, threshold=threshold)
            try:
                result = await take()
            except CaptureNotAccepted as refused:  # retries ran out: the best one seen
                result = refused.best
            best = _keep_best(best, result)
            self._update(stage, attempts=best.attempts, parts=_qualities(best, wanted))
            if not self.plan.operator_decides or not self._stages[stage].below_threshold:
                self._update(stage, state=StageState.ACCEPTED)
                return best
            decision: asyncio.Future[Decision] = asyncio.get_running_loop().create_future()
            self._decision = decision
            self._update(stage, state=StageState.DECIDING)
            if await decision is Decision.ACCEPT:
                return best

    async def sign(self, take: Callable[[], Awaitable[_T]]) -> _T:
        """The signature, which has no quality score to judge."""
        self._update(Stage.SIGNATURE, state=StageState.CAPTURING)
        signed = await take()
        self._update(Stage.SIGNATURE, state=StageState.ACCEPTED)
        return signed

    def decide(self, stage: Stage, decision: Decision) -> None:
        pending = self._decision
        if self._stages[stage].state is not StageState.DECIDING or pending is None:
            raise WrongState(
                "nothing_to_decide",
                Text(
                    "Tahap ini tidak sedang menunggu keputusan (sudah diputuskan atau sudah "
                    "berlanjut).",
                    "This stage is not waiting for a decision (already decided, or moved on).",
                ),
            )
        self._decision = None
        # Said at once, so that a second click finds it decided.
        state = StageState.ACCEPTED if decision is Decision.ACCEPT else StageState.CAPTURING
        self._update(stage, state=state)
        pending.set_result(decision)

    def _update(self, stage: Stage, **changes: Any) -> None:
        self._stages[stage] = self._stages[stage].model_copy(update=changes)
        self._changed(self.app)


class BiometricSessions:
    """The recordings in progress, and how the last few ended, by application."""

    def __init__(self) -> None:
        self._listeners: list[Callable[[str], None]] = []
        self._live: dict[str, Recording] = {}
        self._ended: OrderedDict[str, BiometricProgress] = OrderedDict()

    def add_listener(self, listener: Callable[[str], None]) -> None:
        """`listener(app)` is called on the event loop at each change of a recording."""
        self._listeners.append(listener)

    def progress(self, app: str) -> BiometricProgress | None:
        recording = self._live.get(app)
        return recording.progress() if recording is not None else self._ended.get(app)

    def decide(self, app: str, stage: Stage, decision: Decision) -> None:
        recording = self._live.get(app)
        if recording is None:
            raise WrongState(
                "not_recording",
                Text(
                    f"Perekaman biometrik permohonan {app} tidak sedang berjalan.",
                    f"The biometric recording of application {app} is not in progress.",
                ),
            )
        recording.decide(stage, decision)

    @contextmanager
    def recording(self, app: str, plan: BiometricPlan) -> Iterator[Recording]:
        recording = Recording(app, plan, self._changed)
        self._ended.pop(app, None)
        self._live[app] = recording
        try:
            yield recording
        finally:
            del self._live[app]
            self._ended[app] = recording.progress(ended=True)
            while len(self._ended) > _KEPT:
                self._ended.popitem(last=False)
            self._changed(app)

    def _changed(self, app: str) -> None:
        for listener in self._listeners:
            listener(app)


def _keep_best(kept: CaptureResult | None, new: CaptureResult) -> CaptureResult:
    """Each part's best capture over both, and the attempts of both."""
    if kept is None:
        return new
    best = {capture.bio_subtype: capture for capture in kept.captures}
    for capture in new.captures:
        held = best.get(capture.bio_subtype)
        if held is None or capture.quality > held.quality:
            best[capture.bio_subtype] = capture
    return CaptureResult(
        captures=tuple(best.values()),
        exceptions=new.exceptions,
        attempts=kept.attempts + new.attempts,
        quality_threshold=new.quality_threshold,
    )


def _qualities(result: CaptureResult, wanted: tuple[str, ...]) -> tuple[PartQuality, ...]:
    def quality(part: str) -> float | None:
        capture = result.get(None if part == "face" else part)
        return None if capture is None else capture.quality

    return tuple(PartQuality(part=part, quality=quality(part)) for part in wanted)
