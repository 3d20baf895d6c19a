"""What an SBI capture yields: the captures as the device signed them, the best of each
biometric over the attempts, and the refusal when none was good enough.

Biometric bytes stay in memory, in `BiometricCapture.bio_value`, and are never logged (the
dataclasses leave them out of their repr).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

from ._errors import DeviceFault
from ._sbi_protocol import BioType, Finger
from ._status import DeviceIdentity


@dataclass(frozen=True, slots=True)
class BiometricCapture:
    """One captured biometric, as the device signed it.

    `bio_value` is the device's record (an ISO/IEC 19794 record from certified devices,
    PNG from the simulator); for an authentication capture with `session_key` set it is
    encrypted for the ID authority and opaque to the station.
    """

    bio_type: BioType
    bio_subtype: str | None
    quality: float
    requested_score: float
    bio_value: bytes = field(repr=False)
    device: DeviceIdentity
    transaction_id: str
    timestamp: str
    chain_hash: str
    session_key: bytes | None = field(default=None, repr=False)
    thumbprint: str | None = None

    @property
    def sealed(self) -> bool:
        return self.session_key is not None


@dataclass(frozen=True, slots=True)
class CaptureResult:
    """The best capture of each requested biometric, and what was declared missing."""

    captures: tuple[BiometricCapture, ...]
    exceptions: tuple[str, ...]
    attempts: int
    quality_threshold: float

    def get(self, bio_subtype: str | None) -> BiometricCapture | None:
        return next((c for c in self.captures if c.bio_subtype == bio_subtype), None)

    @property
    def below_threshold(self) -> tuple[str | None, ...]:
        return tuple(c.bio_subtype for c in self.captures if c.quality < self.quality_threshold)


class CaptureNotAccepted(DeviceFault):
    """Retries ran out (or the budget did) without a capture good enough.

    `best` holds the best capture of each biometric that was seen, so the officer may
    still accept it; the code is `low_quality`, or `no_capture` if a biometric was
    never captured at all.
    """

    def __init__(self, device: str, code: str, detail: str, *, best: CaptureResult) -> None:
        super().__init__(device, code, detail)
        self.best = best


_FINGER_NAMES: Final = frozenset(Finger)


def choose_chip_fingers(
    captures: Iterable[BiometricCapture], *, preference: Sequence[Finger], count: int = 2
) -> tuple[Finger, ...]:
    """The `count` fingers to write on the card chip, best quality first.

    Captured fingers named in `preference` come first, by quality, ties going to the
    earlier preference; other captured fingers fill in only when too few of those were
    captured (missing or amputated fingers).
    """
    quality: dict[Finger, float] = {}
    for capture in captures:
        if capture.bio_type is BioType.FINGER and capture.bio_subtype in _FINGER_NAMES:
            finger = Finger(capture.bio_subtype)
            quality[finger] = max(quality.get(finger, 0.0), capture.quality)

    def rank(finger: Finger) -> tuple[bool, float, int]:
        preferred = finger in preference
        order = preference.index(finger) if preferred else len(preference)
        return (not preferred, -quality[finger], order)

    return tuple(sorted(quality, key=rank)[:count])
