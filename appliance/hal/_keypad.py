"""The satisfaction keypad (SKM): four buttons by the counter.

Protocol (frames of `_lineproto`):
    host -> keypad   ID | STAT | ARM | DISARM
    keypad -> host   ID,make,model,serial,firmware   STAT,OK | STAT,ERR,code
                     ACK,<command> | ERR,code        K,<1-4>   (a button press)
"""

from __future__ import annotations

from enum import IntEnum
from typing import Literal

from pydantic import Field

from appliance._text import Text

from ._errors import DeviceFault
from ._lineproto import FrameError
from ._registry import DeviceKind, DeviceType, register
from ._serial import SERIAL_CHECKLIST, SerialDeviceConfig, SerialLineDevice


class Rating(IntEnum):
    SANGAT_PUAS = 1
    PUAS = 2
    KURANG_PUAS = 3
    TIDAK_PUAS = 4

    @property
    def label(self) -> Text:
        return _LABELS[self]


_LABELS = {
    Rating.SANGAT_PUAS: Text("Sangat puas", "Very satisfied"),
    Rating.PUAS: Text("Puas", "Satisfied"),
    Rating.KURANG_PUAS: Text("Kurang puas", "Not quite satisfied"),
    Rating.TIDAK_PUAS: Text("Tidak puas", "Dissatisfied"),
}


class KeypadConfig(SerialDeviceConfig):
    kind: Literal["satisfaction_keypad"] = "satisfaction_keypad"
    baudrate: int = 9600
    rating_timeout_s: float = Field(default=60.0, gt=0)


class SatisfactionKeypad(SerialLineDevice):
    kind = DeviceKind("satisfaction_keypad", Text("tombol survei kepuasan", "satisfaction keypad"))

    async def rating(self, *, timeout_s: float) -> Rating:
        """Light the buttons and wait for the visitor's press."""
        async with self.operation("rating", timeout_s=timeout_s):
            self.drop_events()
            await self.command("ARM")
            while True:
                frame = await self.next_event()
                if frame.kind != "K":
                    continue
                try:
                    rating = Rating(frame.int_field(0, low=1, high=4))
                except FrameError as exc:
                    raise DeviceFault(self.name, "garbage", str(exc)) from None
                break
            await self.command("DISARM")
        return rating

    async def _abandon(self) -> None:
        self.send("DISARM")


register(
    DeviceType(
        device=SatisfactionKeypad,
        config=KeypadConfig,
        build=SatisfactionKeypad.from_config,
        checklist=SERIAL_CHECKLIST,
    )
)
