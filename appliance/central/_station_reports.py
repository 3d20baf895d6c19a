"""A station's performance report, recomputed at the centre from the events its uplink
delivered: the same pure function (`appliance.reports.report`) over the same events, so
the regency reads the numbers the Camat signs (docs/oversight.md, "Reports").

The centre reads the station's acknowledged register: the events from seq 1 up to its
head, chained without a gap and each signature checked by the collector. Events stored
beyond a gap wait for the ones missing before them, as the station's own report would
never count an event without those before it. A report over a busy year reads hundreds
of thousands of events: callers on an event loop run `build` on a worker thread.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from appliance._text import Language
from appliance.oversight import Period
from appliance.register import Event
from appliance.reports import (
    REPORT_EVENTS,
    Letterhead,
    Report,
    TargetsSection,
    render_html,
    render_pdf,
    report,
)
from appliance.sync import CollectorStore


@dataclass(frozen=True, slots=True)
class StationReport:
    """A period's report of one station, and what it was computed from."""

    station: str
    office: str
    """The office as the letterhead names it: the fleet's name of the station."""
    place: str | None
    """Where it is signed: the kecamatan's name, when the fleet knows its district."""
    upto: int
    """The station's events 1..upto were read: its head when the report was built."""
    report: Report

    def html(self, lang: Language) -> str:
        return render_html(self.report, office=self.office, station=self.station, lang=lang)

    def pdf(self, lang: Language) -> bytes:
        letterhead = Letterhead(office=self.office, station=self.station, place=self.place)
        return render_pdf(self.report, letterhead=letterhead, lang=lang)


def acknowledged_events(store: CollectorStore, station: str) -> tuple[int, Iterator[Event]]:
    """The station's head, and its events 1..head of the report's types, in seq order."""
    head = store.head(station)

    def events() -> Iterator[Event]:
        for event in store.events(station):
            if event.seq > head:
                return
            if event.type in REPORT_EVENTS:
                yield event

    return head, events()


def build_station_report(
    store: CollectorStore,
    *,
    station: str,
    office: str,
    place: str | None,
    period: Period,
    zone: ZoneInfo,
    targets: TargetsSection,
) -> StationReport:
    """The period's report of `station` from the store (blocking: seconds for a busy
    year; run it off the event loop)."""
    head, events = acknowledged_events(store, station)
    built = report(events, period, zone, targets)
    return StationReport(station=station, office=office, place=place, upto=head, report=built)


__all__ = [
    "StationReport",
    "acknowledged_events",
    "build_station_report",
]
