"""The electronic signature pad: pen samples over a serial line, rendered to PNG.

Protocol (frames of `_lineproto`):
    host -> pad   ID | STAT | START | CLEAR | STOP
    pad -> host   ID,make,model,serial,firmware,width,height,max_pressure
                  STAT,OK | STAT,ERR,code     ACK,<command> | ERR,code
                  P,x,y,pressure,t_ms   (a pen sample; pressure 0 = pen lifted)
                  B,ACCEPT | B,CLEAR | B,CANCEL | B,PEN_DOWN   (the pad's own buttons)
"""

from __future__ import annotations

import io
import itertools
from dataclasses import dataclass
from typing import Final, Literal

from pydantic import Field

from appliance._text import Text

from ._errors import DeviceFault
from ._lineproto import Frame, FrameError
from ._registry import DeviceKind, DeviceType, register
from ._serial import SERIAL_CHECKLIST, SerialDeviceConfig, SerialLineDevice
from ._status import DeviceIdentity

# A capture that meets more garbage than this is not worth keeping.
_GARBAGE_TOLERANCE: Final = 8
_MAX_SAMPLES: Final = 20_000
_MIN_INKED_SAMPLES: Final = 10


@dataclass(frozen=True, slots=True)
class PenSample:
    x: int
    y: int
    pressure: int
    t_ms: int


@dataclass(frozen=True, slots=True)
class Signature:
    samples: tuple[PenSample, ...]
    width: int
    height: int
    max_pressure: int
    device: DeviceIdentity
    png: bytes


class SignaturePadConfig(SerialDeviceConfig):
    kind: Literal["signature_pad"] = "signature_pad"
    capture_timeout_s: float = Field(default=120.0, gt=0)


class SignaturePad(SerialLineDevice):
    kind = DeviceKind("signature_pad", Text("alat tanda tangan elektronik", "signature pad"))

    def __init__(
        self, *, name: str, path: str, baudrate: int = 115_200, reply_timeout_s: float = 1.0
    ) -> None:
        super().__init__(name=name, path=path, baudrate=baudrate, reply_timeout_s=reply_timeout_s)
        self.width = self.height = self.max_pressure = 0

    def _identified(self, frame: Frame) -> None:
        try:
            self.width = frame.int_field(4, low=16, high=10_000)
            self.height = frame.int_field(5, low=16, high=10_000)
            self.max_pressure = frame.int_field(6, low=1, high=65_535)
        except FrameError as exc:
            raise DeviceFault(self.name, "garbage", f"identity: {exc}") from None

    async def capture(self, *, timeout_s: float) -> Signature:
        """Let the applicant sign; returns when they press ACCEPT on the pad.

        CLEAR on the pad starts over; CANCEL ends with DeviceFault("cancelled").
        """
        async with self.operation("signature", timeout_s=timeout_s):
            self.drop_events()
            await self.command("START")
            samples = await self._collect()
            await self.command("STOP")
        assert self.identity is not None
        return Signature(
            samples=tuple(samples),
            width=self.width,
            height=self.height,
            max_pressure=self.max_pressure,
            device=self.identity,
            png=render_png(samples, self.width, self.height, self.max_pressure),
        )

    async def clear(self) -> None:
        """Blank the pad's screen (between applicants)."""
        async with self.operation("clear", timeout_s=self.reply_timeout_s * 2):
            await self.command("CLEAR")

    async def _collect(self) -> list[PenSample]:
        samples: list[PenSample] = []
        garbage = 0
        while True:
            try:
                frame = await self.next_event()
            except DeviceFault as fault:
                garbage += 1
                if fault.code != "garbage" or garbage > _GARBAGE_TOLERANCE:
                    raise
                continue
            if frame.kind == "P":
                samples.append(self._sample(frame))
                if len(samples) > _MAX_SAMPLES:
                    raise DeviceFault(
                        self.name, "garbage", "more pen samples than any signature has"
                    )
            elif frame.kind == "B":
                button = frame.fields[0] if frame.fields else ""
                if button == "CANCEL":
                    raise DeviceFault(self.name, "cancelled", "the applicant cancelled on the pad")
                if button == "CLEAR":
                    samples.clear()
                elif (
                    button == "ACCEPT"
                    and sum(s.pressure > 0 for s in samples) >= _MIN_INKED_SAMPLES
                ):
                    return samples
                # ACCEPT on an empty pad, PEN_DOWN, unknown buttons: keep waiting.

    def _sample(self, frame: Frame) -> PenSample:
        try:
            return PenSample(
                x=frame.int_field(0, low=0, high=self.width - 1),
                y=frame.int_field(1, low=0, high=self.height - 1),
                pressure=frame.int_field(2, low=0, high=self.max_pressure),
                t_ms=frame.int_field(3, low=0, high=3_600_000),
            )
        except FrameError as exc:
            raise DeviceFault(self.name, "garbage", str(exc)) from None

    async def _abandon(self) -> None:
        self.send("STOP")


def render_png(samples: list[PenSample], width: int, height: int, max_pressure: int) -> bytes:
    """Ink the pen path on white, line width following pressure; lifted pen draws nothing."""
    # Pillow (about 6 MB with its libraries) loads with the first signature, not with the
    # daemon: a station idles without it (docs/footprint.md).
    from PIL import Image, ImageDraw  # noqa: PLC0415

    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    for previous, sample in itertools.pairwise(samples):
        if previous.pressure > 0 and sample.pressure > 0:
            line_width = 1 + round(3 * sample.pressure / max_pressure)
            draw.line((previous.x, previous.y, sample.x, sample.y), fill=0, width=line_width)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


register(
    DeviceType(
        device=SignaturePad,
        config=SignaturePadConfig,
        build=SignaturePad.from_config,
        checklist=SERIAL_CHECKLIST,
    )
)
