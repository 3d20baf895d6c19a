"""The ATR: what a card says it can do, in its historical bytes (ISO/IEC 7816-3 and -4)."""

from __future__ import annotations

from dataclasses import dataclass

from ._apdu import ApduError


@dataclass(frozen=True, slots=True)
class CardCapabilities:
    """What the card says it can do in its ATR's historical bytes (tag 7, third byte)."""

    chaining: bool = False
    extended_length: bool = False


def historical_bytes(atr: bytes) -> bytes:
    """The historical bytes of an ATR (ISO/IEC 7816-3 §8.2)."""
    if len(atr) < 2 or atr[0] not in (0x3B, 0x3F):
        raise ApduError("an ATR starts with TS 3B or 3F")
    indicator, position = atr[1], 2  # T0: which interface bytes follow, and K
    count = indicator & 0x0F
    while True:
        present = indicator >> 4
        position += (present & 0x07).bit_count()  # TAi, TBi, TCi
        if not present & 0x08:  # no TDi: the interface bytes end here
            break
        if position >= len(atr):
            raise ApduError("ATR cut short in its interface bytes")
        indicator = atr[position]  # TDi: the next group's indicator
        position += 1
    start = position
    if start + count > len(atr):
        raise ApduError(f"ATR announces {count} historical bytes, has {len(atr) - start}")
    return bytes(atr[start : start + count])


def card_capabilities(atr: bytes) -> CardCapabilities:
    """Chaining and extended length as the ATR announces them; none if it does not say
    (its historical bytes are not in the compact-TLV format, or leave tag 7 out; storage
    cards' PC/SC historical bytes, 80 4F ..., are not compact-TLV after their first)."""
    history = historical_bytes(atr)
    if not history or history[0] not in (0x00, 0x80):
        return CardCapabilities()
    body = history[1:-3] if history[0] == 0x00 else history[1:]  # 00: status at the end
    position = 0
    while position < len(body):
        tag, size = body[position] >> 4, body[position] & 0x0F
        value = body[position + 1 : position + 1 + size]
        if len(value) != size:
            break  # not compact-TLV after all: the card says nothing we can read
        if tag == 0x7 and size >= 3:
            return CardCapabilities(
                chaining=bool(value[2] & 0x80), extended_length=bool(value[2] & 0x40)
            )
        position += 1 + size
    return CardCapabilities()
