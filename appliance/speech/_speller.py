"""The sentence a call is spoken as: "Nomor antrian A nol dua belas, silakan menuju loket
satu" for ticket A-012 at counter loket-1.

Numbers are Indonesian words from num2words (lang="id"); this module only composes the
sentence around them. A ticket's leading zeros are spoken one by one ("nol"), as people
read the printed number aloud; letters stay letters, which espeak-ng's `id` voice says
by their Indonesian names (B as "be"). num2words loads its every language on import
(about 5 MB), so it is imported with the first call, not with the daemon."""

from __future__ import annotations

import re
from functools import cache
from typing import Final

_PARTS: Final = re.compile(r"[0-9]+|[A-Za-z]+")
_ZERO: Final = "nol"
_COUNTER_WORD: Final = "loket"


@cache
def _number_words(number: int) -> str:
    from num2words import num2words  # noqa: PLC0415 - loaded with the first call

    words: str = num2words(number, lang="id")
    return words


def spell_number(digits: str) -> str:
    """`"012"` as "nol dua belas", `"100"` as "seratus", `"000"` as "nol nol nol"."""
    if not digits.isascii() or not digits.isdigit():
        raise ValueError(f"not a number: {digits!r}")
    significant = digits.lstrip("0") or "0"
    zeros = [_ZERO] * (len(digits) - len(significant))
    return " ".join([*zeros, _number_words(int(significant))])


def _spell_part(part: str) -> str:
    if part.isdigit():
        return spell_number(part)
    return part.upper() if len(part) == 1 else part.lower()  # a lone letter: its name


def spell_ticket(ticket: str) -> str:
    """`"A-012"` as "A nol dua belas"."""
    parts = _PARTS.findall(ticket)
    if not parts:
        raise ValueError(f"not a ticket number: {ticket!r}")
    return " ".join(_spell_part(part) for part in parts)


def spell_counter(counter: str) -> str:
    """`"loket-1"` as "loket satu"; a counter named by a number alone (`"2"`) is still a
    loket ("loket dua")."""
    parts = _PARTS.findall(counter)
    if not parts:
        raise ValueError(f"not a counter name: {counter!r}")
    words = [_spell_part(part) for part in parts]
    if parts[0].isdigit() or len(parts[0]) == 1:
        words.insert(0, _COUNTER_WORD)
    return " ".join(words)


def call_sentence(ticket: str, counter: str) -> str:
    """What the waiting room hears: the ticket and the counter, nothing about a person."""
    return f"Nomor antrian {spell_ticket(ticket)}, silakan menuju {spell_counter(counter)}"
