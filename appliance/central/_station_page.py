"""What a station's page shows, gathered from the central office's reads: the fleet's
registration (name and region), the station's status row (the overview's, so both agree),
its timeline of the last days, its devices now and their history, the latest doctor
report and the commands sent to it. No HTTP here: the router renders what this returns.

The doctor report is the station's word (its JSON, `appliance doctor --json`): it is read
for what it should be, and a part that is not is left out, never trusted to render.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Protocol

from appliance._text import Text
from appliance.domain import district_name, province_name, regency_name

from ._station_timeline import (
    Level,
    TimelineEntry,
    device_level,
    device_state_text,
    fault_text,
    timeline,
)

TIMELINE_DAYS: Final = 7
_DOCTOR_LEVELS: Final[dict[str, Level]] = {"ok": "ok", "warning": "warn", "problem": "bad"}
_DOCTOR_WORDS: Final = {
    "ok": Text("Baik", "OK"),
    "warning": Text("Peringatan", "Warning"),
    "problem": Text("Masalah", "Problem"),
}


class StationSources(Protocol):
    """The reads a station's page needs (the collector store's, H1a)."""

    def state_history(self, station: str, since: str) -> Sequence[Any]: ...

    def device_history(self, station: str, since: str) -> Sequence[Any]: ...

    def flags(self, station: str | None = None) -> Sequence[Any]: ...

    def latest_doctor(self, station: str) -> Any: ...


@dataclass(frozen=True, slots=True)
class Region:
    district: str
    """6 digits; "" when the station is not in the fleet file."""

    @property
    def registered(self) -> bool:
        return bool(self.district)

    @property
    def district_name(self) -> str | None:
        return district_name(self.district) if self.district else None

    @property
    def regency(self) -> str:
        return self.district[:4]

    @property
    def regency_name(self) -> str | None:
        return regency_name(self.regency) if self.district else None

    @property
    def province(self) -> str:
        return self.district[:2]

    @property
    def province_name(self) -> str | None:
        return province_name(self.province) if self.district else None


@dataclass(frozen=True, slots=True)
class DoctorCheck:
    check: str
    level: Level
    verdict: Text
    text: Text
    advice: Text | None


@dataclass(frozen=True, slots=True)
class DoctorView:
    at: str
    """When the centre received it (RFC 3339 UTC)."""
    level: Level
    verdict: Text
    checks: tuple[DoctorCheck, ...]
    request: str | None
    """The request id it answers, when the station said."""
    counts: Mapping[Level, int]


@dataclass(frozen=True, slots=True)
class DeviceNow:
    name: str
    state: Text
    level: Level
    since: str | None


@dataclass(frozen=True, slots=True)
class DeviceEntry:
    at: str
    name: str
    state: Text
    level: Level
    fault: Text | None


def _text(value: object) -> Text | None:
    if isinstance(value, Mapping):
        id_text, en_text = value.get("id"), value.get("en")
        if isinstance(id_text, str) and isinstance(en_text, str):
            return Text(id_text, en_text)
    if isinstance(value, str):
        return Text(value, value)
    return None


def doctor_view(payload: Mapping[str, Any], at: str) -> DoctorView:
    """The doctor's JSON as the page shows it: each check's verdict, words and advice,
    problems first. The report may sit at the top or under "report"."""
    body = payload.get("report") if isinstance(payload.get("report"), Mapping) else payload
    findings = body.get("findings") if isinstance(body, Mapping) else None
    checks = []
    for finding in findings if isinstance(findings, list) else []:
        if not isinstance(finding, Mapping):
            continue
        level = finding.get("level")
        words = _text(finding.get("text"))
        if not isinstance(level, str) or level not in _DOCTOR_LEVELS or words is None:
            continue
        check = finding.get("check")
        checks.append(
            DoctorCheck(
                check=check if isinstance(check, str) else "?",
                level=_DOCTOR_LEVELS[level],
                verdict=_DOCTOR_WORDS[level],
                text=words,
                advice=_text(finding.get("advice")),
            )
        )
    order = {"bad": 0, "warn": 1, "ok": 2, "info": 3}
    checks.sort(key=lambda c: order[c.level])  # stable: the doctor's order within a level
    worst = checks[0].level if checks else "info"
    request = payload.get("request")
    verdicts = {"bad": "problem", "warn": "warning", "ok": "ok"}
    return DoctorView(
        at=at,
        level=worst,
        verdict=_DOCTOR_WORDS.get(verdicts.get(worst, ""), Text("Kosong", "Empty")),
        checks=tuple(checks),
        request=request if isinstance(request, str) else None,
        counts={level: sum(c.level == level for c in checks) for level in ("bad", "warn", "ok")},
    )


def devices_now(devices_since: Mapping[str, str], states: Mapping[str, str]) -> list[DeviceNow]:
    """Each device's current state (from its latest message) and since when."""
    return [
        DeviceNow(
            name=name,
            state=device_state_text(state),
            level=device_level(state),
            since=devices_since.get(name),
        )
        for name, state in sorted(states.items())
    ]


def device_entries(changes: Iterable[Any]) -> list[DeviceEntry]:
    rows = [
        DeviceEntry(
            at=c.at,
            name=c.name,
            state=device_state_text(c.state),
            level=device_level(c.state),
            fault=fault_text(c.code, c.reason),
        )
        for c in changes
    ]
    rows.sort(key=lambda row: row.at, reverse=True)
    return rows


@dataclass(frozen=True, slots=True)
class StationHistory:
    since: str
    timeline: list[TimelineEntry]
    device_history: list[DeviceEntry]
    doctor: DoctorView | None


def station_history(sources: StationSources, station: str, *, since: str) -> StationHistory:
    """The station's last days from the store: one call per read, bounded by `since`."""
    states = sources.state_history(station, since)
    devices = sources.device_history(station, since)
    flags = [flag for flag in sources.flags(station) if flag.at >= since]
    latest = sources.latest_doctor(station)
    return StationHistory(
        since=since,
        timeline=timeline(states=states, devices=devices, flags=flags, since=since),
        device_history=device_entries(devices),
        doctor=None if latest is None else doctor_view(latest.payload, latest.at),
    )


def since_days(now: datetime, days: int = TIMELINE_DAYS) -> str:
    """`days` before `now`, as the store writes times (UTC text: text order is time order)."""
    return (now - timedelta(days=days)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


__all__ = [
    "TIMELINE_DAYS",
    "DeviceEntry",
    "DeviceNow",
    "DoctorCheck",
    "DoctorView",
    "Region",
    "StationHistory",
    "StationSources",
    "devices_now",
    "doctor_view",
    "since_days",
    "station_history",
]
