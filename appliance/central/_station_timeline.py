"""A station's timeline for its page: its state changes (birth and death), its devices'
changes of state and the register's verification flags, merged newest first and worded
for the regency's staff. Pure: the store's reads come in, entries go out."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final, Literal

from appliance._text import Text
from appliance.hal import FAULT_CODES, DeviceState

Kind = Literal["state", "device", "flag"]
Level = Literal["ok", "warn", "bad", "info"]

DEVICE_STATES: Final = {
    DeviceState.READY.value: Text("Siap", "Ready"),
    DeviceState.BUSY.value: Text("Sedang dipakai", "In use"),
    DeviceState.NOT_READY.value: Text("Perlu tindakan", "Needs attention"),
    DeviceState.DISCONNECTED.value: Text("Tidak terhubung", "Not connected"),
    DeviceState.ERROR.value: Text("Bermasalah", "Faulty"),
}
_DEVICE_LEVELS: Final[dict[str, Level]] = {
    DeviceState.READY.value: "ok",
    DeviceState.BUSY.value: "ok",
    DeviceState.NOT_READY.value: "warn",
    DeviceState.DISCONNECTED.value: "warn",
    DeviceState.ERROR.value: "bad",
}
FLAG_KINDS: Final = {
    "bad_signature": Text("Tanda tangan tidak sah", "Signature does not verify"),
    "altered": Text("Kejadian diubah (hash tidak cocok)", "Event altered (hash mismatch)"),
    "wrong_station": Text("Kejadian stasiun lain", "Another station's event"),
    "chain_break": Text("Rantai register terputus", "Register chain broken"),
    "conflict": Text("Riwayat bercabang (seq sama, isi beda)", "Forked history (same seq)"),
    "malformed": Text("Pesan rusak", "Malformed message"),
    "unknown_station": Text("Stasiun tak terdaftar", "Unregistered station"),
}


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    at: str
    """RFC 3339 UTC, as the store keeps it."""
    kind: Kind
    level: Level
    title: Text
    detail: Text | None = None


def device_state_text(state: str | None) -> Text:
    if state is None:
        return Text("?", "?")
    return DEVICE_STATES.get(state, Text(state, state))


def device_level(state: str | None) -> Level:
    return _DEVICE_LEVELS.get(state or "", "info")


def fault_text(code: str | None, reason: object) -> Text | None:
    """A device's fault in words: what the station said (the HAL's own words, {"id",
    "en"}), else the HAL's table for its code, else the code."""
    if isinstance(reason, dict):
        id_text, en_text = reason.get("id"), reason.get("en")
        if isinstance(id_text, str) and isinstance(en_text, str):
            return Text(id_text, en_text)
    if code:
        fault = FAULT_CODES.get(code)
        return fault.text if fault is not None else Text(code, code)
    return None


def flag_text(kind: str) -> Text:
    return FLAG_KINDS.get(kind, Text(kind, kind))


def _state_entry(change: Any) -> TimelineEntry:
    version = getattr(change, "version", None)
    bd_seq = getattr(change, "bd_seq", None)
    parts = []
    if bd_seq is not None:
        parts.append(f"bd_seq {bd_seq}")
    if version:
        parts.append(f"v{version}")
    detail = Text(" · ".join(parts), " · ".join(parts)) if parts else None
    if change.online:
        return TimelineEntry(change.at, "state", "ok", Text("Daring", "Online"), detail)
    return TimelineEntry(change.at, "state", "bad", Text("Luring", "Offline"), detail)


def _device_entry(change: Any) -> TimelineEntry:
    state = device_state_text(change.state)
    title = Text(f"{change.name}: {state.id}", f"{change.name}: {state.en}")
    return TimelineEntry(
        change.at,
        "device",
        device_level(change.state),
        title,
        fault_text(change.code, change.reason),
    )


def _flag_entry(flag: Any) -> TimelineEntry:
    detail = flag.detail if flag.seq is None else f"seq {flag.seq}: {flag.detail}"
    return TimelineEntry(flag.at, "flag", "bad", flag_text(flag.kind), Text(detail, detail))


def timeline(
    *,
    states: Iterable[Any],
    devices: Iterable[Any],
    flags: Iterable[Any],
    since: str,
) -> list[TimelineEntry]:
    """Every state change, device change and flag at or after `since` (UTC text, as the
    store keeps times, so comparing the text compares the times), newest first."""
    entries = [
        *(_state_entry(c) for c in states if c.at >= since),
        *(_device_entry(c) for c in devices if c.at >= since),
        *(_flag_entry(f) for f in flags if f.at >= since),
    ]
    entries.sort(key=lambda entry: entry.at, reverse=True)
    return entries


__all__ = [
    "DEVICE_STATES",
    "FLAG_KINDS",
    "TimelineEntry",
    "device_level",
    "device_state_text",
    "fault_text",
    "flag_text",
    "timeline",
]
