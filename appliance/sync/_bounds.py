"""The bounds every number from the network is held to before anything keeps it.

Whatever arrives over MQTT, on any topic, is checked at decode time, before a store sees
it: SQLite's INTEGER and PostgreSQL's BIGINT are signed 64-bit, and a Python integer
past that raises OverflowError in the driver, where nothing expects it (it once stopped
the collector: issue 16, defect 7). Counts and sequence numbers are never negative.
JSON's NaN and Infinity, which Python's parser accepts, are no figures either, and text
must be text a database takes: no lone surrogate (`"\\ud800"` parses, and then fails to
encode), no NUL (PostgreSQL refuses it).
"""

from __future__ import annotations

import json
import math
from typing import Any, Final

from ._errors import MalformedMessage

MAX_INT: Final = 2**63 - 1
"""The largest integer a store keeps (signed 64-bit)."""
MIN_INT: Final = -(2**63)
MAX_DEPTH: Final = 16
"""How deep a state, telemetry or device document may nest; the station's are 4 deep."""
MAX_DOCUMENT_BYTES: Final = 256 * 1024
"""Telemetry and device status are small; anything bigger is not one."""


def is_count(value: object, *, minimum: int = 0) -> bool:
    """An int (not a bool) in [minimum, MAX_INT]."""
    return type(value) is int and minimum <= value <= MAX_INT


def decode_document(payload: bytes, *, where: str) -> dict[str, Any]:
    """A JSON object from the network (telemetry, a device's status), within bounds."""
    if len(payload) > MAX_DOCUMENT_BYTES:
        raise MalformedMessage(f"{where}: {len(payload)} bytes, more than {MAX_DOCUMENT_BYTES}")
    try:
        document = json.loads(payload)
    except (ValueError, RecursionError) as exc:  # not JSON, a huge integer, deep nesting
        raise MalformedMessage(f"{where}: not JSON: {type(exc).__name__}") from None
    if not isinstance(document, dict):
        raise MalformedMessage(f"{where}: not a JSON object")
    check_figures(document, where=where)
    return document


def check_figures(document: object, *, where: str) -> None:
    """Refuse a document with an integer out of 64 bits, a float that is not finite, text
    a database does not take, or nesting deeper than MAX_DEPTH; the message names the
    first such place."""
    problem = _first_problem(document, where, 0)
    if problem is not None:
        raise MalformedMessage(problem)


def is_storable_text(text: str) -> bool:
    """Encodes as UTF-8 (no lone surrogate) and holds no NUL."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def printable(text: str) -> str:
    """`text` made storable for a message or a flag: what is not, spelled as escapes."""
    return text.encode("utf-8", "backslashreplace").decode().replace("\x00", "\\x00")


def _first_problem(value: object, path: str, depth: int) -> str | None:
    if not isinstance(value, dict | list):
        return _scalar_problem(value, path)
    if depth >= MAX_DEPTH:
        return f"{path}: nested deeper than {MAX_DEPTH}"
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in items:
        if isinstance(key, str) and not is_storable_text(key):
            return f"{path}: a name that is not UTF-8 or has NUL"
        name = printable(str(key)[:32])
        problem = _first_problem(item, f"{path}.{name}" if path else name, depth + 1)
        if problem is not None:
            return problem
    return None


def _scalar_problem(value: object, path: str) -> str | None:
    if type(value) is str and not is_storable_text(value):
        return f"{path}: text that is not UTF-8 or has NUL"
    if type(value) is int and not MIN_INT <= value <= MAX_INT:
        return f"{path}: an integer out of 64 bits"
    if type(value) is float and not math.isfinite(value):
        return f"{path}: not a finite number"
    return None
