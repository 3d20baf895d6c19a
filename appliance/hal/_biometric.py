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
from ._sbi_device import SBI_CHECKLIST, CaptureSpec, SbiDevice, SbiDeviceConfig
from ._sbi_protocol import BioType, Eye, Finger, Purpose, Slap

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
    purpose: Purpose = "Registration"
    """Activation matches the finger against the chip here, offline, so the station must
    read the image: a Registration-purpose device. An Auth-purpose device seals every
    image for the ID authority (online authentication), which the station cannot open."""
    domain_uri: str | None = None
    """The authentication server an auth capture is encrypted for (SBI `domainUri`)."""


class SbiIrisScannerConfig(SbiDeviceConfig):
    kind: Literal["sbi_iris"] = "sbi_iris"
    device_type: Literal["Iris"] = "Iris"
    device_subtype: Literal["Double"] = "Double"


# --------------------------------------------------------------------------- device classes


class SbiFaceCamera(SbiDevice):
    """The face camera (SBI type Face, subtype "Full face")."""

    kind = DeviceKind("camera", Text("kamera foto wajah", "face camera"))
    bio_type = BioType.FACE

    def __init__(self, *, name: str, config: SbiFaceCameraConfig) -> None:
        super().__init__(name=name, config=config)

    async def capture_face(self, *, exceptions: Collection[Finger | Eye] = ()) -> CaptureResult:
        """A face photo; `exceptions` names missing fingers/eyes (an exception photo)."""
        return await self._capture(
            CaptureSpec("RCAPTURE", "0", (), tuple(str(e) for e in exceptions))
        )


class SbiFingerprintScanner(SbiDevice):
    """The ten-print scanner: left four, right four, two thumbs (SBI Finger/Slap)."""

    kind = DeviceKind("fingerprint_scanner", Text("pemindai sidik jari", "fingerprint scanner"))
    bio_type = BioType.FINGER

    def __init__(self, *, name: str, config: SbiFingerprintScannerConfig) -> None:
        super().__init__(name=name, config=config)
        self.chip_preference = config.chip_fingers

    async def capture_slap(self, slap: Slap, *, missing: Collection[Finger] = ()) -> CaptureResult:
        """One placement; fingers in `missing` are declared SBI exceptions, not asked for."""
        present = tuple(f.value for f in slap.fingers if f not in missing)
        absent = tuple(f.value for f in slap.fingers if f in missing)
        if not present:
            return CaptureResult((), absent, 0, self.config.quality_threshold)
        return await self._capture(CaptureSpec("RCAPTURE", slap.value, present, absent))

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

    def __init__(self, *, name: str, config: SbiSingleFingerScannerConfig) -> None:
        super().__init__(name=name, config=config)

    async def capture_finger(self, finger: Finger) -> CaptureResult:
        """One finger: an image the station reads (RCAPTURE) from a Registration-purpose
        device, or an authentication capture sealed for the ID authority (CAPTURE)."""
        method: Literal["RCAPTURE", "CAPTURE"] = (
            "CAPTURE" if self.config.purpose == "Auth" else "RCAPTURE"
        )
        return await self._capture(CaptureSpec(method, "0", (finger.value,), ()))


class SbiIrisScanner(SbiDevice):
    """The iris scanner, both eyes at once (SBI Iris/Double)."""

    kind = DeviceKind("iris_scanner", Text("pemindai iris mata", "iris scanner"))
    bio_type = BioType.IRIS

    def __init__(self, *, name: str, config: SbiIrisScannerConfig) -> None:
        super().__init__(name=name, config=config)

    async def capture_irises(self, *, missing: Collection[Eye] = ()) -> CaptureResult:
        present = tuple(e.value for e in Eye if e not in missing)
        absent = tuple(e.value for e in Eye if e in missing)
        if not present:
            return CaptureResult((), absent, 0, self.config.quality_threshold)
        # Sub id 1 is the left eye, 2 the right, 3 both.
        sub_id = "3" if len(present) == 2 else ("1" if present == (Eye.LEFT.value,) else "2")
        return await self._capture(CaptureSpec("RCAPTURE", sub_id, present, absent))


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
