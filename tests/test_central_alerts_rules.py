"""The alert rules on hand-made station statuses: each raises its condition past its
threshold and not before, offline time counts only inside service hours (working days,
national holidays, the station's own zone), and `[alerts]` switches rules off and sets
their severities."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from appliance.central._alerts import (
    AlertsSection,
    Condition,
    Rule,
    Severity,
    evaluate,
    service_seconds,
)
from appliance.central._status import StationStatus
from appliance.domain import WorkingCalendar
from appliance.sync import FORGERY_FLAG_KINDS

from .central_alerts_rig import DEFAULTS, HOURS, JAKARTA, WIB, WIT, healthy, text, wib


def rules(
    status: StationStatus,
    now: datetime,
    settings: AlertsSection = DEFAULTS,
    calendar: WorkingCalendar = JAKARTA,
) -> dict[Rule, Condition]:
    return {c.rule: c for c in evaluate(status, now, settings, calendar)}


def offline_since(moment: datetime) -> StationStatus:
    return healthy(online=False, online_since=text(moment), last_seen=text(moment))


def test_a_healthy_station_raises_nothing() -> None:
    assert rules(healthy(), wib(7, 10)) == {}


def test_offline_counts_fifteen_minutes_of_service_hours() -> None:
    status = offline_since(wib(7, 9))
    assert Rule.OFFLINE not in rules(status, wib(7, 9, 14))
    assert Rule.OFFLINE not in rules(status, wib(7, 9, 15)), "more than 15 minutes"
    raised = rules(status, wib(7, 9, 16))[Rule.OFFLINE]
    assert raised.severity is Severity.KRITIS
    assert "07-12-2026 09:00 WIB" in raised.text.id
    assert "15 menit" in raised.text.id
    assert "15 minutes" in raised.text.en


def test_offline_overnight_and_over_a_weekend_counts_only_the_hours_of_service() -> None:
    evening = offline_since(wib(7, 15, 30))  # after closing on Monday
    assert Rule.OFFLINE not in rules(evening, wib(7, 23))
    assert Rule.OFFLINE not in rules(evening, wib(8, 7, 59))
    assert Rule.OFFLINE not in rules(evening, wib(8, 8, 15))
    assert Rule.OFFLINE in rules(evening, wib(8, 8, 16))

    friday = offline_since(wib(4, 14, 50))  # 10 minutes before Friday's closing
    assert Rule.OFFLINE not in rules(friday, wib(6, 12)), "Saturday and Sunday count nothing"
    assert Rule.OFFLINE not in rules(friday, wib(7, 8, 5))
    assert Rule.OFFLINE in rules(friday, wib(7, 8, 6))

    # Christmas (Friday the 25th) is a national holiday: 5 minutes on Thursday, then Monday.
    thursday = offline_since(wib(24, 14, 55))
    assert Rule.OFFLINE not in rules(thursday, wib(28, 8, 10))
    assert Rule.OFFLINE in rules(thursday, wib(28, 8, 11))


def test_offline_is_judged_in_the_station_s_own_zone() -> None:
    """07:00 UTC is 14:00 in Jakarta (open) and 16:00 in Jayapura (closed)."""
    gone = datetime(2026, 12, 7, 7, 0, tzinfo=UTC)
    status = offline_since(gone)
    now = gone + timedelta(minutes=20)
    assert Rule.OFFLINE in rules(status, now, calendar=HOURS.calendar(WIB))
    assert Rule.OFFLINE not in rules(status, now, calendar=HOURS.calendar(WIT))
    assert service_seconds(HOURS.calendar(WIT), gone, now) == 0


def test_a_station_never_heard_of_or_online_is_not_offline() -> None:
    never = healthy(online=None, online_since=None, last_seen=None)
    assert Rule.OFFLINE not in rules(never, wib(9, 12))
    # Offline with no change recorded: judged from when it was last seen.
    unknown_since = healthy(online=False, online_since=None, last_seen=text(wib(7, 9)))
    assert Rule.OFFLINE in rules(unknown_since, wib(7, 9, 30))


def test_backlog_older_than_an_hour_while_online() -> None:
    behind = healthy(backlog=42, backlog_oldest_ts=text(wib(7, 9)))
    assert Rule.BACKLOG not in rules(behind, wib(7, 10))
    raised = rules(behind, wib(7, 10, 1))[Rule.BACKLOG]
    assert raised.severity is Severity.PERINGATAN
    assert "42" in raised.text.id
    assert "09:00 WIB" in raised.text.en
    assert Rule.BACKLOG not in rules(replace(behind, backlog=0), wib(7, 12))
    offline = replace(behind, online=False, online_since=text(wib(7, 11)))
    assert Rule.BACKLOG not in rules(offline, wib(7, 12)), "the offline rule speaks for it"


def test_blanks_lasting_fewer_than_three_working_days_or_none_left() -> None:
    assert Rule.BLANKS not in rules(healthy(blanks_days_left=3.0), wib(7, 10))
    low = rules(healthy(blanks_available=50, blanks_days_left=2.5), wib(7, 10))[Rule.BLANKS]
    assert "50" in low.text.id
    assert "2,5 hari kerja" in low.text.id
    assert "2.5 working days" in low.text.en
    assert Rule.BLANKS in rules(healthy(blanks_available=0, blanks_days_left=None), wib(7, 10))
    unused = healthy(blanks_available=5, blanks_daily_use=0.0, blanks_days_left=None)
    assert Rule.BLANKS not in rules(unused, wib(7, 10)), "no use, no run-out to forecast"


def test_a_device_in_error_for_more_than_ten_minutes() -> None:
    broken = healthy(devices_fault=("card_printer",), device_error_since=text(wib(7, 9)))
    assert Rule.DEVICE_ERROR not in rules(broken, wib(7, 9, 10))
    raised = rules(broken, wib(7, 9, 11))[Rule.DEVICE_ERROR]
    assert raised.severity is Severity.KRITIS
    assert "card_printer" in raised.text.id
    unplugged = healthy(devices_fault=("camera",), device_error_since=None)  # not ERROR
    assert Rule.DEVICE_ERROR not in rules(unplugged, wib(7, 12))


@pytest.mark.parametrize("kind", FORGERY_FLAG_KINDS)
def test_a_forgery_or_chain_flag_keeps_its_alert_for_its_window(kind: str) -> None:
    flagged = healthy(flags=3, forgery_kind=kind, forgery_at=text(wib(7, 9)))
    found = rules(flagged, wib(7, 10))
    assert Rule.FORGERY in found
    assert kind in found[Rule.FORGERY].text.en
    # 72 hours by default: still there a minute before, gone a minute after.
    assert Rule.FORGERY in rules(flagged, wib(7, 9) + timedelta(hours=72) - timedelta(minutes=1))
    assert Rule.FORGERY not in rules(flagged, wib(7, 9) + timedelta(hours=72, minutes=1))


def test_a_harmless_flag_raises_nothing_and_hides_no_forgery() -> None:
    assert Rule.FORGERY not in rules(healthy(flags=2, last_flag_kind="malformed"), wib(7, 10))
    assert Rule.FORGERY not in rules(healthy(), wib(7, 10))
    behind_a_harmless_one = healthy(
        flags=2,
        last_flag_kind="malformed",
        forgery_kind="bad_signature",
        forgery_at=text(wib(7, 9)),
    )
    assert Rule.FORGERY in rules(behind_a_harmless_one, wib(7, 10))


def test_clock_and_disk() -> None:
    assert Rule.CLOCK in rules(healthy(clock_synced=False), wib(7, 10))
    assert Rule.CLOCK not in rules(healthy(clock_synced=None), wib(7, 10)), "unknown is not false"
    booted = healthy(clock_synced=False, online_since=text(wib(7, 9, 55)))
    assert Rule.CLOCK not in rules(booted, wib(7, 10, 5)), "NTP's minutes after a boot"
    assert Rule.CLOCK in rules(booted, wib(7, 10, 6))
    away = healthy(clock_synced=False, online=False, online_since=text(wib(7, 9, 59)))
    assert Rule.CLOCK in rules(away, wib(7, 10)), "the last word of a station gone away"
    low = rules(healthy(disk_low=True), wib(7, 10))[Rule.DISK]
    refusing = rules(healthy(disk_low=True, disk_refusing=True), wib(7, 10))[Rule.DISK]
    assert "tidak menerima" in refusing.text.id
    assert low.text != refusing.text


def test_rules_switched_off_and_severities_from_the_config() -> None:
    settings = AlertsSection.model_validate(
        {
            "offline": {"after_min": 30, "severity": "peringatan"},
            "clock": {"enabled": False},
            "blanks": {"days_below": 5},
        }
    )
    status = replace(offline_since(wib(7, 9)), clock_synced=False, blanks_days_left=4.0)
    found = rules(status, wib(7, 9, 20), settings)
    assert Rule.CLOCK not in found
    assert Rule.OFFLINE not in found
    assert found[Rule.BLANKS].severity is Severity.PERINGATAN
    later = rules(status, wib(7, 9, 31), settings)
    assert later[Rule.OFFLINE].severity is Severity.PERINGATAN
    assert "30 menit" in later[Rule.OFFLINE].text.id


@pytest.mark.parametrize(
    "document",
    [
        {"offline": {"after_min": 0}},
        {"offline": {"severity": "darurat"}},
        {"disk": {"threshold": 1}},
        {"interval_s": 0},
        {"backlog": {"older_than_min": -1}},
    ],
)
def test_bad_thresholds_are_refused(document: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        AlertsSection.model_validate(document)
