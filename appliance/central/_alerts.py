"""The alert rules: what in a station's status calls for the operations room, as pure
functions of the status, the time and the `[alerts]` thresholds.

```toml
[alerts]
interval_s = 15                      # how often every station's status is evaluated
[alerts.offline]                     # minutes of service hours: [fleet]'s, in the station's zone
after_min = 15
[alerts.clock]
enabled = false                      # every rule can be switched off
severity = "peringatan"              # and given its severity: kritis or peringatan
```

A rule reads only what the status table holds (`StationStatus`), so evaluating 7,277
stations is a read of one table and arithmetic. Each active condition comes with its
description in Indonesian and English, as the alert will show it, naming the facts that
raised it (times in the station's own zone) and nothing about any person.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Final

from pydantic import BaseModel, ConfigDict, Field

from appliance._text import Text
from appliance.domain import WorkingCalendar

if TYPE_CHECKING:
    from ._status import StationStatus


class Severity(StrEnum):
    KRITIS = "kritis"
    """Service is stopped or the register is in doubt: act now."""
    PERINGATAN = "peringatan"
    """Service will suffer if nobody acts."""

    @property
    def label(self) -> Text:
        return _SEVERITY_LABELS[self]


_SEVERITY_LABELS: Final = {
    Severity.KRITIS: Text("Kritis", "Critical"),
    Severity.PERINGATAN: Text("Peringatan", "Warning"),
}


class Rule(StrEnum):
    OFFLINE = "offline"
    BACKLOG = "backlog"
    BLANKS = "blanks"
    DEVICE_ERROR = "device_error"
    FORGERY = "forgery"
    CLOCK = "clock"
    DISK = "disk"

    @property
    def label(self) -> Text:
        return _RULE_LABELS[self]


_RULE_LABELS: Final = {
    Rule.OFFLINE: Text("Stasiun luring", "Station offline"),
    Rule.BACKLOG: Text("Register tertinggal", "Register behind"),
    Rule.BLANKS: Text("Blanko KTP-el menipis", "Blank cards running low"),
    Rule.DEVICE_ERROR: Text("Perangkat rusak", "Device in error"),
    Rule.FORGERY: Text("Register diragukan", "Register in doubt"),
    Rule.CLOCK: Text("Jam tidak sinkron", "Clock not synchronised"),
    Rule.DISK: Text("Cadangan disk menipis", "Disk reserve low"),
}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _RuleSection(_Section):
    enabled: bool = True
    severity: Severity


class OfflineRule(_RuleSection):
    severity: Severity = Severity.KRITIS
    after_min: Annotated[float, Field(gt=0, le=7 * 24 * 60)] = 15.0
    """Minutes offline counted inside service hours only."""


class BacklogRule(_RuleSection):
    severity: Severity = Severity.PERINGATAN
    older_than_min: Annotated[float, Field(gt=0, le=30 * 24 * 60)] = 60.0
    """The oldest event the centre has not acknowledged is older than this."""


class BlanksRule(_RuleSection):
    severity: Severity = Severity.PERINGATAN
    days_below: Annotated[float, Field(gt=0, le=365)] = 3.0
    """The stock lasts fewer working days than this at the recent daily use."""


class DeviceErrorRule(_RuleSection):
    severity: Severity = Severity.KRITIS
    after_min: Annotated[float, Field(gt=0, le=7 * 24 * 60)] = 10.0
    """A device has been in ERROR longer than this."""


class ForgeryRule(_RuleSection):
    severity: Severity = Severity.KRITIS
    within_h: Annotated[float, Field(gt=0, le=365 * 24)] = 72.0
    """A flag putting the register in doubt keeps its alert open this long after it: a
    flag is a moment, not a state, and nothing the station sends later withdraws it."""


class ClockRule(_RuleSection):
    severity: Severity = Severity.PERINGATAN
    after_min: Annotated[float, Field(ge=0, le=24 * 60)] = 10.0
    """Minutes a station is online before its unsynchronised clock counts: a Pi has no
    real-time clock, and NTP takes a few minutes after every boot."""


class DiskRule(_RuleSection):
    severity: Severity = Severity.PERINGATAN


class AlertsSection(_Section):
    """`[alerts]`: when the alert keeper looks, and each rule's threshold and severity."""

    enabled: bool = True
    """The alert keeper runs in `appliance central`."""
    interval_s: Annotated[float, Field(ge=1, le=3600)] = 15.0
    """Seconds between two evaluations of every station's status."""
    offline: OfflineRule = OfflineRule()
    backlog: BacklogRule = BacklogRule()
    blanks: BlanksRule = BlanksRule()
    device_error: DeviceErrorRule = DeviceErrorRule()
    forgery: ForgeryRule = ForgeryRule()
    clock: ClockRule = ClockRule()
    disk: DiskRule = DiskRule()

    def rule(self, rule: Rule) -> _RuleSection:
        section: _RuleSection = getattr(self, rule.value)
        return section


# ---------------------------------------------------------------- the rules


@dataclass(frozen=True, slots=True)
class Situation:
    """What a rule judges: a station's status at a moment, by the thresholds, in the
    station's service hours."""

    status: StationStatus
    now: datetime
    settings: AlertsSection
    calendar: WorkingCalendar
    """The offices' service hours in the station's zone."""


@dataclass(frozen=True, slots=True)
class Condition:
    """A rule's condition holding for a station now."""

    rule: Rule
    severity: Severity
    text: Text


def evaluate(
    status: StationStatus, now: datetime, settings: AlertsSection, calendar: WorkingCalendar
) -> list[Condition]:
    """The conditions that hold for `status` at `now`, of the rules switched on;
    `calendar` is the station's service hours in its own zone."""
    situation = Situation(status, now, settings, calendar)
    found = []
    for rule, check in _RULES.items():
        section = settings.rule(rule)
        if not section.enabled:
            continue
        text = check(situation)
        if text is not None:
            found.append(Condition(rule, section.severity, text))
    return found


def offline(s: Situation) -> Text | None:
    """Offline (its signed death, or its will) longer than `after_min` counted inside
    service hours: a station switched off at night is not an alert, and one that went
    away at 14:50 on Friday is at 08:05 on Monday. A station never heard of is not
    offline but unknown (online None), which the overview shows."""
    if s.status.online is not False:
        return None
    since = _moment(s.status.online_since) or _moment(s.status.last_seen)
    if since is None:
        return None
    threshold_s = s.settings.offline.after_min * 60
    if service_seconds(s.calendar, since, s.now, enough=threshold_s) <= threshold_s:
        return None
    return Text(
        "Luring lebih dari {m} menit pada jam layanan, sejak {at}.",
        "Offline for more than {m} minutes of service hours, since {at}.",
    ).format(m=_number(s.settings.offline.after_min), at=_local(since, s.calendar))


def backlog(s: Situation) -> Text | None:
    """Events the centre has not acknowledged, the oldest older than `older_than_min`,
    while the station is online: an offline station's backlog is its being offline,
    which the offline rule speaks for."""
    oldest = _moment(s.status.backlog_oldest_ts)
    if s.status.online is False or not s.status.backlog or oldest is None:
        return None
    if s.now - oldest <= timedelta(minutes=s.settings.backlog.older_than_min):
        return None
    return Text(
        "{n} peristiwa register belum diterima pusat; yang tertua sejak {at}.",
        "{n} register events not yet acknowledged by the centre; the oldest since {at}.",
    ).format(n=s.status.backlog, at=_local(oldest, s.calendar))


def blanks(s: Situation) -> Text | None:
    """The blank cards last fewer than `days_below` working days at the recent daily
    use, or none is left."""
    available, days_left = s.status.blanks_available, s.status.blanks_days_left
    limit = s.settings.blanks.days_below
    if available == 0:
        return Text(
            "Blanko KTP-el habis.",
            "No blank cards left.",
        )
    if days_left is None or days_left >= limit:
        return None
    return Text(
        "Blanko KTP-el tersisa {n} lembar, cukup untuk {id_days} hari kerja (batas {id_limit}).",
        "{n} blank cards left, enough for {en_days} working days (threshold {en_limit}).",
    ).format(
        n="-" if available is None else available,
        id_days=_number(days_left, decimal=","),
        en_days=_number(days_left),
        id_limit=_number(limit, decimal=","),
        en_limit=_number(limit),
    )


def device_error(s: Situation) -> Text | None:
    """A device in ERROR for longer than `after_min` (by the collector's clock: when its
    ERROR status arrived)."""
    since = _moment(s.status.device_error_since)
    if since is None or s.now - since <= timedelta(minutes=s.settings.device_error.after_min):
        return None
    devices = ", ".join(s.status.devices_fault) or "-"
    return Text(
        "Perangkat dalam keadaan ERROR sejak {at}: {devices}.",
        "Device in ERROR since {at}: {devices}.",
    ).format(at=_local(since, s.calendar), devices=devices)


def forgery(s: Situation) -> Text | None:
    """The collector flagged the station's register as possibly forged or forked (a bad
    signature, altered content, another station's event, a broken chain, one seq with two
    hashes) within the last `within_h` hours. A later flag of a harmless kind does not
    hide it (the status keeps the latest such flag apart from the last flag of any kind);
    the alert closes `within_h` after the last one, and a chain break that stops the
    register also shows as the backlog growing."""
    at = _moment(s.status.forgery_at)
    if at is None or s.now - at > timedelta(hours=s.settings.forgery.within_h):
        return None
    return Text(
        "Register ditandai oleh pengumpul pusat pada {at}: {kind}. Periksa sebelum diterima.",
        "The central collector flagged the register at {at}: {kind}. Check it before trusting it.",
    ).format(at=_local(at, s.calendar), kind=s.status.forgery_kind or "?")


def clock(s: Situation) -> Text | None:
    """The station's clock is not synchronised (its last telemetry says so): its events'
    times, and so its SOP minutes, cannot be trusted. Not within `after_min` of the
    station coming online, when NTP is still at work after a boot."""
    if s.status.clock_synced is not False:
        return None
    since = _moment(s.status.online_since)
    grace = timedelta(minutes=s.settings.clock.after_min)
    if s.status.online and since is not None and s.now - since <= grace:
        return None
    return Text(
        "Jam stasiun tidak tersinkron (NTP): waktu peristiwa register tidak dapat dipercaya.",
        "The station's clock is not synchronised (NTP): its register's times cannot be trusted.",
    )


def disk(s: Situation) -> Text | None:
    """The station's disk is down to its reserve's margin (`low`), or to the reserve
    itself, when it takes no new ticket or application (`refusing`)."""
    if s.status.disk_refusing:
        return Text(
            "Disk stasiun mencapai cadangannya: stasiun tidak menerima antrean atau "
            "permohonan baru.",
            "The station's disk is down to its reserve: it takes no new ticket or application.",
        )
    if s.status.disk_low:
        return Text(
            "Ruang disk stasiun hampir mencapai cadangannya.",
            "The station's free disk space is close to its reserve.",
        )
    return None


_Check = Callable[[Situation], "Text | None"]
_RULES: Final[dict[Rule, _Check]] = {
    Rule.OFFLINE: offline,
    Rule.BACKLOG: backlog,
    Rule.BLANKS: blanks,
    Rule.DEVICE_ERROR: device_error,
    Rule.FORGERY: forgery,
    Rule.CLOCK: clock,
    Rule.DISK: disk,
}


def service_seconds(
    calendar: WorkingCalendar, start: datetime, end: datetime, *, enough: float | None = None
) -> float:
    """Seconds of [start, end) inside service hours (working days, opening to closing,
    in the calendar's zone). With `enough`, the count may stop as soon as it exceeds it."""
    zone = calendar.zone
    total = 0.0
    day = start.astimezone(zone).date()
    last = end.astimezone(zone).date()
    while day <= last:
        if calendar.is_working_day(day):
            opening = datetime.combine(day, calendar.opening, tzinfo=zone).astimezone(UTC)
            closing = datetime.combine(day, calendar.closing, tzinfo=zone).astimezone(UTC)
            overlap = (min(end, closing) - max(start, opening)).total_seconds()
            total += max(0.0, overlap)
            if enough is not None and total > enough:
                break
        day += timedelta(days=1)
    return total


def _moment(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _local(moment: datetime, calendar: WorkingCalendar) -> str:
    return f"{moment.astimezone(calendar.zone):%d-%m-%Y %H:%M %Z}"


def _number(value: float, *, decimal: str = ".") -> str:
    text = f"{value:.1f}".removesuffix(".0")
    return text.replace(".", decimal)
