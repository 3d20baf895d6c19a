"""The one canonical encoding of register events.

Hashes and signatures are computed over bytes, so the station, the central office and an
auditor must all produce the same bytes from the same event. The encoding is JSON with
sorted keys, no insignificant white space, UTF-8 without escaping non-ASCII characters:
the subset of RFC 8785 (JCS) that holds when there are no floating-point numbers, which is
why floats are refused (durations are integer milliseconds, amounts integer units).
"""

from __future__ import annotations

import json
from typing import Any

CANONICAL_ENCODER = _ENCODER = json.JSONEncoder(
    ensure_ascii=False,
    allow_nan=False,
    sort_keys=True,
    separators=(",", ":"),
)


class NotCanonicalError(TypeError):
    """A value that has no canonical encoding (a float, bytes, a custom object...)."""


def _reject_floats(value: Any, path: str = "$") -> None:
    if isinstance(value, bool) or value is None or isinstance(value, int | str):
        return
    if isinstance(value, float):
        raise NotCanonicalError(f"{path}: floating-point numbers are not allowed ({value!r})")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise NotCanonicalError(f"{path}: object keys must be strings ({key!r})")
            _reject_floats(item, f"{path}.{key}")
        return
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _reject_floats(item, f"{path}[{index}]")
        return
    raise NotCanonicalError(f"{path}: {type(value).__name__} has no canonical JSON encoding")


def canonical_json(value: Any) -> str:
    """Encode `value` canonically; raises NotCanonicalError for what cannot be."""
    _reject_floats(value)
    return _ENCODER.encode(value)


def _string(value: str) -> str:
    # Hashes, times, ids and type names are plain printable ASCII: quoting them directly
    # gives exactly what the encoder would, at a fraction of the cost in `verify`.
    if value.isascii() and value.isprintable() and '"' not in value and "\\" not in value:
        return f'"{value}"'
    return _ENCODER.encode(value)


def event_body(
    *,
    station: str,
    seq: int,
    ts: str,
    mono_ns: int,
    boot_id: str,
    clock_synced: bool,
    type: str,  # noqa: A002 - the contract's field name
    app: str | None,
    data_json: str,
    prev_hash: str,
) -> bytes:
    """The bytes an event's hash covers: the canonical JSON of its fields.

    `data_json` is the payload already in canonical form; it is spliced in rather than
    parsed and re-encoded, which keeps `verify` fast. Keys appear in sorted order.
    """
    app_json = "null" if app is None else _string(app)
    synced_json = "true" if clock_synced else "false"
    return (
        f'{{"app":{app_json},"boot_id":{_string(boot_id)},'
        f'"clock_synced":{synced_json},"data":{data_json},'
        f'"mono_ns":{mono_ns:d},"prev_hash":{_string(prev_hash)},"seq":{seq:d},'
        f'"station":{_string(station)},"ts":{_string(ts)},"type":{_string(type)},"v":1}}'
    ).encode()
