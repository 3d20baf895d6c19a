"""The collector's latest records (state, telemetry, device status, doctor report): taken
in from the network into each station's slot, and written to its store with the flags in
one transaction."""

from __future__ import annotations

from typing import Final

from appliance.logs import get_logger
from appliance.register import PublicKey

from ._bounds import MAX_DOCUMENT_BYTES, decode_document, printable
from ._check import BAD_SIGNATURE, MALFORMED
from ._collector_flags import UNKNOWN_STATION, Flagger
from ._collector_queues import LatestRecords, Record
from ._errors import MalformedMessage, RejectedMessage
from ._keys import StationKeys
from ._signed import open_state
from ._store import CollectorStore, Flag
from ._topics import ParsedTopic

log = get_logger(__name__)

DEVICES_PER_STATION: Final = 64


class RecordIntake:
    def __init__(self, *, keys: StationKeys, records: LatestRecords, flagger: Flagger) -> None:
        self._keys = keys
        self._records = records
        self._flagger = flagger

    def take(self, topic: ParsedTopic, payload: bytes, *, at: str, since: float) -> None:
        """Into its station's slot, or flagged: an unknown station, a forged or
        malformed message, a device past the station's bound."""
        station = topic.station
        key = self._keys.get(station)
        if key is None:
            self._flagger.flag(station, UNKNOWN_STATION, None, "no registered public key")
            return
        if topic.kind == "state":
            self._state(station, key, payload, at=at, since=since)
            return
        if topic.kind not in {"telemetry", "device", "doctor"} or (
            topic.kind == "device" and topic.name is None
        ):
            return
        # Everything from the network is in bounds before it reaches the store.
        try:
            document = decode_document(payload, where=topic.kind)
        except MalformedMessage as exc:
            self._flagger.flag(station, MALFORMED, None, str(exc))
            return
        name = topic.name if topic.kind == "device" else None
        if name is not None and not self._records.device_allowed(station, name):
            detail = f"device/{name}: more than {DEVICES_PER_STATION} devices"
            self._flagger.flag(station, MALFORMED, None, detail)
            return
        self._records.put(Record(station, topic.kind, name, document, at, since))

    def _state(
        self, station: str, key: PublicKey, payload: bytes, *, at: str, since: float
    ) -> None:
        """Only what the station signed counts: a forged death would mark it offline
        until its next birth (issue 16, defect 8a). A death of an earlier session (a
        lower bd_seq, a Last Will the broker sends late) is the store's to ignore."""
        if len(payload) > MAX_DOCUMENT_BYTES:
            self._flagger.flag(station, MALFORMED, None, f"state: {len(payload)} bytes")
            return
        try:
            state = open_state(key, payload, station=station)
        except RejectedMessage as exc:
            kind = BAD_SIGNATURE if exc.forged else MALFORMED
            self._flagger.flag(station, kind, None, f"state: {exc}")
            return
        log.info("station_state", station=station, online=state.online, bd_seq=state.bd_seq)
        self._records.put(Record(station, "state", None, state.document, at, since))


def write_records(store: CollectorStore, flags: list[Flag], records: list[Record]) -> int:
    """In the store's thread, in one transaction, and in order of station, as the ingest
    takes its stations' locks: two collectors then never wait on each other in a circle
    (a station's own flags and records keep their order). A record the store refuses
    for its form is flagged `malformed` instead; returns how many were."""
    items: list[Flag | Record] = [*flags, *records]
    items.sort(key=lambda item: item.station)
    malformed = 0
    with store.records():
        for item in items:
            if isinstance(item, Flag):
                store.flag(item)
                continue
            try:
                _write(store, item)
            except (TypeError, ValueError) as exc:  # the store's own check of the form
                detail = printable(f"{item.kind}: {exc}"[:300])
                store.flag(Flag(item.station, MALFORMED, None, detail, item.at))
                malformed += 1
    return malformed


def _write(store: CollectorStore, record: Record) -> None:
    station, at = record.station, record.at
    if record.kind == "state":
        store.record_state(station, record.document, at=at)
    elif record.kind == "telemetry":
        store.record_telemetry(station, record.document, at=at)
    elif record.kind == "device" and record.name is not None:
        store.record_device(station, record.name, record.document, at=at)
    elif record.kind == "doctor":
        store.record_doctor(station, record.document, at=at)
