"""Biometric devices through MOSIP SBI: face camera, ten-print (slap) scanner,
single-finger scanner for card activation, iris scanner.

Each is an `SbiDevice` (`_sbi_device`) asking for its own biometric; any SBI-certified
device works, and the simulator (`sim.sbi`) speaks the same HTTP.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Literal

from appliance._text import Text

from ._registry import DeviceKind, DeviceType, register
from ._sbi_captures import BiometricCapture, CaptureResult, choose_chip_fingers
from ._sbi_config import SBI_CHECKLIST, SbiDeviceConfig
from ._sbi_device import CaptureSpec, SbiDevice
from ._sbi_protocol import IRIS_BOTH, BioType, Eye, Finger, Purpose, Slap
from ._sbi_trust import Clock

# --------------------------------------------------------------------------- configuration


class SbiFaceCameraConfig(SbiDeviceConfig):
    kind: Literal["sbi_face"] = "sbi_face"
    device_type: Literal["Face"] = "Face"
    device_subtype: Literal["Full face"] = "Full face"


class SbiFingerprintScannerConfig(SbiDeviceConfig):
    kind: Literal["sbi_finger_slap"] = "sbi_finger_slap"
    device_type: Literal["Finger"] = "Finger"
    device_subtype: Literal["Slap"] = "Slap"
    chip_fingers: tuple[Finger, ...] = (
        Finger.RIGHT_THUMB,
        Finger.RIGHT_INDEX,
        Finger.LEFT_THUMB,
        Finger.LEFT_INDEX,
    )
    """Fingers preferred for the card chip, best first; the two of best quality are used."""


class SbiSingleFingerScannerConfig(SbiDeviceConfig):
    kind: Literal["sbi_finger_single"] = "sbi_finger_single"
    device_type: Literal["Finger"] = "Finger"
    device_subtype: Literal["Single", "Touchless"] = "Single"
    purpose: Purpose = "Auth"
    """MOSIP certifies single-finger scanners as Authentication devices (MockMDS offers
    its single-finger scanner in Auth mode only): each capture is sealed for a domain.
    Activation matches the finger against the chip here, so the station must be that
    domain to read it: `domain_key` (its key) and `domain_uri` (its name at the
    device's management server). A scanner certified for Registration is
    `purpose = "Registration"`."""


class SbiIrisScannerConfig(SbiDeviceConfig):
    kind: Literal["sbi_iris"] = "sbi_iris"
    device_type: Literal["Iris"] = "Iris"
    device_subtype: Literal["Double"] = "Double"


# --------------------------------------------------------------------------- device classes


class SbiFaceCamera(SbiDevice):
    """The face camera (SBI type Face, subtype "Full face")."""

    kind = DeviceKind("camera", Text("kamera foto wajah", "face camera"))
    bio_type = BioType.FACE

    def __init__(
        self, *, name: str, config: SbiFaceCameraConfig, trust_clock: Clock | None = None
    ) -> None:
        super().__init__(name=name, config=config, trust_clock=trust_clock)

    async def capture_face(self, *, exceptions: Collection[Finger | Eye] = ()) -> CaptureResult:
        """A face photo; `exceptions` names missing fingers/eyes (an exception photo)."""
        return await self._capture(CaptureSpec("0", (), tuple(str(e) for e in exceptions)))


class SbiFingerprintScanner(SbiDevice):
    """The ten-print scanner: left four, right four, two thumbs (SBI Finger/Slap)."""

    kind = DeviceKind("fingerprint_scanner", Text("pemindai sidik jari", "fingerprint scanner"))
    bio_type = BioType.FINGER

    def __init__(
        self,
        *,
        name: str,
        config: SbiFingerprintScannerConfig,
        trust_clock: Clock | None = None,
    ) -> None:
        super().__init__(name=name, config=config, trust_clock=trust_clock)
        self.chip_preference = config.chip_fingers

    async def capture_slap(self, slap: Slap, *, missing: Collection[Finger] = ()) -> CaptureResult:
        """One placement; fingers in `missing` are declared SBI exceptions, not asked for:
        `count` and `bioSubType` name the fingers present, `exception` those missing, which
        together make the placement's four (two for the thumbs), as MockMDS requires."""
        present = tuple(f.value for f in slap.fingers if f not in missing)
        absent = tuple(f.value for f in slap.fingers if f in missing)
        if not present:
            return CaptureResult((), absent, 0, self.config.quality_threshold)
        return await self._capture(CaptureSpec(slap.value, present, absent))

    async def capture_ten_prints(
        self, *, missing: Collection[Finger] = ()
    ) -> dict[Slap, CaptureResult]:
        """The three placements in turn (each its own operation)."""
        return {slap: await self.capture_slap(slap, missing=missing) for slap in Slap}

    def chip_fingers(self, captures: Iterable[BiometricCapture]) -> tuple[Finger, ...]:
        """The two fingers for the card chip, by the configured preference."""
        return choose_chip_fingers(captures, preference=self.chip_preference)


class SbiSingleFingerScanner(SbiDevice):
    """The single-finger scanner used at card activation, to match a live finger 1:1."""

    kind = DeviceKind("single_finger_scanner", Text("pemindai satu jari", "single-finger scanner"))
    bio_type = BioType.FINGER

    def __init__(
        self,
        *,
        name: str,
        config: SbiSingleFingerScannerConfig,
        trust_clock: Clock | None = None,
    ) -> None:
        super().__init__(name=name, config=config, trust_clock=trust_clock)

    async def capture_finger(self, finger: Finger) -> CaptureResult:
        """One finger (sub id 0): CAPTURE from an Auth device, sealed for its domain and
        opened when the station is that domain; RCAPTURE from a Registration one."""
        return await self._capture(CaptureSpec("0", (finger.value,), ()))


class SbiIrisScanner(SbiDevice):
    """The iris scanner, both eyes at once (SBI Iris/Double)."""

    kind = DeviceKind("iris_scanner", Text("pemindai iris mata", "iris scanner"))
    bio_type = BioType.IRIS

    def __init__(
        self, *, name: str, config: SbiIrisScannerConfig, trust_clock: Clock | None = None
    ) -> None:
        super().__init__(name=name, config=config, trust_clock=trust_clock)

    async def capture_irises(self, *, missing: Collection[Eye] = ()) -> CaptureResult:
        """Both eyes (sub id 3); an eye in `missing` is declared an exception and the other
        alone asked for, still with sub id 3 (MockMDS and the toolkit's schema allow no
        exception with the one-eye sub ids 1 and 2)."""
        present = tuple(e.value for e in Eye if e not in missing)
        absent = tuple(e.value for e in Eye if e in missing)
        if not present:
            return CaptureResult((), absent, 0, self.config.quality_threshold)
        return await self._capture(CaptureSpec(IRIS_BOTH, present, absent))


register(
    DeviceType(
        device=SbiFaceCamera,
        config=SbiFaceCameraConfig,
        build=SbiFaceCamera,
        checklist=SBI_CHECKLIST,
    )
)
register(
    DeviceType(
        device=SbiFingerprintScanner,
        config=SbiFingerprintScannerConfig,
        build=SbiFingerprintScanner,
        checklist=SBI_CHECKLIST,
    )
)
register(
    DeviceType(
        device=SbiSingleFingerScanner,
        config=SbiSingleFingerScannerConfig,
        build=SbiSingleFingerScanner,
        checklist=SBI_CHECKLIST,
    )
)
register(
    DeviceType(
        device=SbiIrisScanner,
        config=SbiIrisScannerConfig,
        build=SbiIrisScanner,
        checklist=SBI_CHECKLIST,
    )
)
