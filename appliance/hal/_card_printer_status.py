"""What the card printer's status answers mean: where the card is, the sensors, the
ribbon, the reject box, and the one reason the device status gives for them all.

Each read is an A5013 command (Rev. E: `Rlr` p. 34, `Rse` p. 37, `Rcr` p. 32, `Rco`
p. 31); where the guide lists no answer or no option, the tables name the integrators'
code they come from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from ._card_printer_protocol import Answer
from ._errors import status_for
from ._status import READY, DeviceStatus


class CardPosition(StrEnum):
    NONE = "none"  # no card in the printer, and none handled since the driver started
    IN_CARD_PATH = "in_card_path"  # inside, at no station: stopped on its way (a jam)
    AT_CONTACTLESS_STATION = "at_contactless_station"
    AT_SMART_STATION = "at_smart_station"  # under the smart card contacts
    AT_PRINT_POSITION = "at_print_position"
    EJECTED = "ejected"  # the last card left through the output: the printer is empty
    REJECTED = "rejected"  # the last card went to the reject box: the printer is empty

    @property
    def in_printer(self) -> bool:
        return self in _INSIDE


_INSIDE: Final = frozenset(
    {
        CardPosition.IN_CARD_PATH,
        CardPosition.AT_CONTACTLESS_STATION,
        CardPosition.AT_SMART_STATION,
        CardPosition.AT_PRINT_POSITION,
    }
)
# Rlr;p's answers: "NO CARD" and "ERR CARD" are the guide's (Rev. E p. 34), the others
# those integrators read (leithergit/Z390, QEvolisPrinter.cpp: "OK" for no card, "CARD",
# "SMART CARD", "CONTACTLESS CARD").
_POSITIONS: Final = {
    "NO CARD": CardPosition.NONE,
    "OK": CardPosition.NONE,
    "ERR CARD": CardPosition.IN_CARD_PATH,
    "CARD": CardPosition.AT_PRINT_POSITION,
    "SMART CARD": CardPosition.AT_SMART_STATION,
    "CONTACTLESS CARD": CardPosition.AT_CONTACTLESS_STATION,
}
# Rlr;h, the reject box (leithergit/Z390): "CARD" when it is full.
_REJECT_BOX: Final = {"CARD": True, "NO CARD": False}
_VOLTS: Final = re.compile(r"(\d{1,2})[,.](\d{2}) Volts", re.ASCII)
_COUNT: Final = re.compile(r"\d{1,9}", re.ASCII)
# Rse reads a sensor's voltage; integrators read about 0 V as "off" and 5 V as "on"
# (leithergit/Z390: "0,00 Volts" with the cover open or the feeder empty, "5,00 Volts"
# otherwise). The middle divides them.
SENSOR_ON_VOLTS: Final = 2.5


def parse_position(answer: Answer) -> CardPosition | None:
    """Where `Rlr;p` says the card is; None if the answer is not a position. (ACK stands
    for "OK" in the ACK/NACK protocol.)"""
    if answer.nack is not None:
        return None
    return _POSITIONS.get("OK" if answer.ack else answer.text)


def parse_sensor(answer: Answer) -> bool | None:
    """Whether an `Rse` sensor ("5,00 Volts") sees something; None if not a reading."""
    match = _VOLTS.fullmatch(answer.text)
    if match is None:
        return None
    return float(f"{match[1]}.{match[2]}") >= SENSOR_ON_VOLTS


def parse_count(answer: Answer) -> int | None:
    """An `Rco` counter; None if the answer is not one."""
    return int(answer.text) if _COUNT.fullmatch(answer.text) else None


def parse_ribbon_at_end(answer: Answer) -> bool | None:
    """`Rcr` (Rev. E p. 32): "OK" off the ribbon's end mark, an error answer on it."""
    if answer.ok:
        return False
    return True if answer.refusal is not None else None


def parse_reject_box_full(answer: Answer) -> bool | None:
    return _REJECT_BOX.get(answer.text)


@dataclass(frozen=True, slots=True)
class CardPrinterReport:
    """What the printer says about itself. None: this printer refused the read as
    unknown (its firmware has none), so the condition is not reported."""

    position: CardPosition  # Rlr;p
    cover_open: bool  # Rse;o
    feeder_empty: bool | None  # Rse;f
    ribbon_at_end: bool | None  # Rcr
    ribbon_remaining: int | None  # Rco;l: cards the ribbon still prints ("not accurate")
    ribbon_low: bool
    reject_box_full: bool | None  # Rlr;h
    panels_printed: int | None  # Rco;p, over the printer's life

    @property
    def ribbon_out(self) -> bool:
        return bool(self.ribbon_at_end) or self.ribbon_remaining == 0

    @property
    def jam(self) -> bool:
        return self.position is CardPosition.IN_CARD_PATH

    def device_status(self) -> DeviceStatus:
        # The cover first: with it open, the other sensors cannot be trusted. Then what
        # stops a card already inside, before what only stops the next one.
        for condition, code in (
            (self.cover_open, "cover_open"),
            (self.jam, "card_jam"),
            (self.ribbon_out, "ribbon_out"),
            (bool(self.reject_box_full), "reject_box_full"),
            (bool(self.feeder_empty), "feeder_empty"),
            (self.ribbon_low, "ribbon_low"),
        ):
            if condition:
                return status_for(code)
        return READY
