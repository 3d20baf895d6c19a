"""Derived state: tables that follow from the events and change in the same transaction.

Each projection owns its tables and knows how one event changes them. Because the
derived tables are a pure function of the event log, `verify` can rebuild them from the
events alone and compare, and a schema change can drop and replay them.
A projection may refuse an event (an application that does not exist, a blank card that
is not in stock) by raising InvalidEvent; the transaction then writes nothing.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Final

from ._errors import InvalidEvent
from ._events import (
    ApplicationAdvanced,
    ApplicationReturned,
    ApplicationSubmitted,
    BiometricsPurged,
    BlankFed,
    BlankIssued,
    BlankReceived,
    BlankSpoiled,
    CardActivationAttempt,
    CardPersonalised,
    CardPrinted,
    EventType,
    QueueCalled,
    QueueNoShow,
    QueueRecalled,
    QueueTicketIssued,
    StepBreached,
    StepFailed,
    StepFinished,
    StepSkipped,
    StepStarted,
    ValidatedPayload,
)

DERIVED_TABLES_DDL: Final = (
    # One row per application: where it stands in the SOP. `phase` is the step's own
    # state: waiting for its person and devices, active (given to them), or finished.
    """CREATE TABLE applications (
        application_id TEXT PRIMARY KEY,
        service TEXT NOT NULL,
        nik TEXT NOT NULL,
        name TEXT NOT NULL,
        ticket TEXT,
        ticket_day TEXT,
        step TEXT NOT NULL,
        phase TEXT NOT NULL CHECK (phase IN ('waiting', 'active', 'finished')),
        state TEXT NOT NULL
            CHECK (state IN ('in_progress', 'waiting_blank', 'returned', 'completed')),
        active_by TEXT,
        active_devices TEXT NOT NULL,
        phase_seq INTEGER NOT NULL,
        breaches INTEGER NOT NULL,
        overdue INTEGER NOT NULL,
        return_reason TEXT,
        submitted_seq INTEGER NOT NULL,
        updated_seq INTEGER NOT NULL
    ) STRICT""",
    "CREATE INDEX applications_by_state ON applications (state, step)",
    """CREATE TABLE queue (
        day TEXT NOT NULL,
        ticket TEXT NOT NULL,
        service TEXT NOT NULL,
        number INTEGER NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('waiting', 'called', 'served', 'no_show')),
        counter TEXT,
        calls INTEGER NOT NULL,
        application_id TEXT,
        issued_seq INTEGER NOT NULL,
        called_seq INTEGER,
        updated_seq INTEGER NOT NULL,
        PRIMARY KEY (day, ticket)
    ) STRICT""",
    """CREATE TABLE blank_stock (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        received INTEGER NOT NULL,
        issued INTEGER NOT NULL,
        spoiled INTEGER NOT NULL,
        updated_seq INTEGER NOT NULL,
        CHECK (received - issued - spoiled >= 0)
    ) STRICT""",
    "INSERT INTO blank_stock VALUES (1, 0, 0, 0, 0)",
    # Every blank that left the hopper, from the moment it was fed until it is issued or
    # spoiled: a card can always be found here, whatever happened to the station.
    """CREATE TABLE cards (
        fed_seq INTEGER PRIMARY KEY,
        application_id TEXT NOT NULL,
        printer TEXT NOT NULL,
        card_serial TEXT,
        state TEXT NOT NULL
            CHECK (state IN ('fed', 'personalised', 'printed', 'issued', 'spoiled', 'not_fed')),
        spoil_reason TEXT,
        updated_seq INTEGER NOT NULL
    ) STRICT""",
    (
        "CREATE UNIQUE INDEX cards_one_open_per_application ON cards (application_id) "
        "WHERE state IN ('fed', 'personalised', 'printed')"
    ),
    # What the retention policy has destroyed so far, in counts: the register says that
    # the purge ran, and how much it took, never whose data it was.
    """CREATE TABLE biometric_purges (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        purges INTEGER NOT NULL,
        applications INTEGER NOT NULL,
        blobs INTEGER NOT NULL,
        updated_seq INTEGER NOT NULL
    ) STRICT""",
    "INSERT INTO biometric_purges VALUES (1, 0, 0, 0, 0)",
)


DERIVED_TABLES: Final = (
    ("applications", "application_id"),
    ("queue", "day, ticket"),
    ("blank_stock", "id"),
    ("cards", "fed_seq"),
    ("biometric_purges", "id"),
)

# The highest seq any derived row records. All event types but the genesis change derived
# state, so this is the seq of the newest such event: an anchor for the register's tail.
LAST_SEQ_IN_DERIVED_STATE: Final = """
    SELECT max(seq) FROM (
        SELECT max(updated_seq) AS seq FROM applications
        UNION ALL SELECT max(updated_seq) FROM blank_stock
        UNION ALL SELECT max(updated_seq) FROM cards
        UNION ALL SELECT max(updated_seq) FROM queue
        UNION ALL SELECT max(updated_seq) FROM biometric_purges
    )"""

Apply = Callable[[sqlite3.Cursor, int, str | None, ValidatedPayload], None]


def _submitted(cur: sqlite3.Cursor, seq: int, app: str | None, event: ValidatedPayload) -> None:
    assert isinstance(event.model, ApplicationSubmitted)
    payload = event.model
    day = payload.ticket_day.isoformat() if payload.ticket_day else None
    by = payload.by.person if payload.by else None
    try:
        cur.execute(
            "INSERT INTO applications VALUES "
            "(?, ?, ?, ?, ?, ?, 'submit', 'active', 'in_progress', ?, '[]', ?, 0, 0, NULL, ?, ?)",
            (
                app,
                payload.service,
                payload.nik,
                payload.name,
                payload.ticket,
                day,
                by,
                seq,
                seq,
                seq,
            ),
        )
    except sqlite3.IntegrityError:
        raise InvalidEvent(f"application {app} was submitted already") from None
    if day is not None:
        cur.execute(
            "UPDATE queue SET state = 'served', application_id = ?, updated_seq = ? "
            "WHERE day = ? AND ticket = ? AND state = 'called'",
            (app, seq, day, payload.ticket),
        )
        if cur.rowcount == 0:
            raise InvalidEvent(f"ticket {payload.ticket} of {day} is not called to a counter")


def _update_application(cur: sqlite3.Cursor, app: str | None, sql: str, *args: object) -> None:
    cur.execute(sql, (*args, app))
    if cur.rowcount == 0:
        raise InvalidEvent(f"application {app} is not open in the register")


def _advanced(cur: sqlite3.Cursor, seq: int, app: str | None, event: ValidatedPayload) -> None:
    assert isinstance(event.model, ApplicationAdvanced)
    _update_application(
        cur,
        app,
        "UPDATE applications SET step = ?, phase = 'waiting', active_by = NULL, "
        "active_devices = '[]', phase_seq = ?, updated_seq = ? "
        "WHERE application_id = ? AND state = 'in_progress'",
        event.model.step,
        seq,
        seq,
    )


def _in_step(
    cur: sqlite3.Cursor, app: str | None, step: str, phase: str, sql: str, *args: object
) -> None:
    """Change an application that stands at `step` in `phase`, or refuse the event."""
    cur.execute(
        f"{sql} WHERE application_id = ? AND step = ? AND phase = ? "
        "AND state IN ('in_progress', 'waiting_blank')",
        (*args, app, step, phase),
    )
    if cur.rowcount == 0:
        raise InvalidEvent(f"application {app} is not {phase} at step {step}")


def _step_started(cur: sqlite3.Cursor, seq: int, app: str | None, event: ValidatedPayload) -> None:
    assert isinstance(event.model, StepStarted)
    started = event.model
    _in_step(
        cur,
        app,
        started.step,
        "waiting",
        "UPDATE applications SET phase = 'active', state = 'in_progress', active_by = ?, "
        "active_devices = ?, phase_seq = ?, updated_seq = ?",
        started.by.person if started.by else None,
        json.dumps(list(started.devices)),
        seq,
        seq,
    )


def _step_finished(cur: sqlite3.Cursor, seq: int, app: str | None, event: ValidatedPayload) -> None:
    assert isinstance(event.model, StepFinished | StepSkipped)
    phase = "active" if isinstance(event.model, StepFinished) else "waiting"
    _in_step(
        cur,
        app,
        event.model.step,
        phase,
        "UPDATE applications SET phase = 'finished', active_by = NULL, active_devices = '[]', "
        "phase_seq = ?, updated_seq = ?",
        seq,
        seq,
    )


def _step_failed(cur: sqlite3.Cursor, seq: int, app: str | None, event: ValidatedPayload) -> None:
    assert isinstance(event.model, StepFailed)
    _in_step(
        cur,
        app,
        event.model.step,
        "active",
        "UPDATE applications SET phase = 'waiting', active_by = NULL, active_devices = '[]', "
        "phase_seq = ?, updated_seq = ?",
        seq,
        seq,
    )


def _breached(cur: sqlite3.Cursor, seq: int, app: str | None, event: ValidatedPayload) -> None:
    assert isinstance(event.model, StepBreached)
    _in_step(
        cur,
        app,
        event.model.step,
        "active",
        "UPDATE applications SET breaches = breaches + 1, updated_seq = ?",
        seq,
    )


def _biometrics_recorded(
    cur: sqlite3.Cursor, seq: int, app: str | None, _event: ValidatedPayload
) -> None:
    _in_step(cur, app, "biometric", "active", "UPDATE applications SET updated_seq = ?", seq)


def _overdue(cur: sqlite3.Cursor, seq: int, app: str | None, _event: ValidatedPayload) -> None:
    _update_application(
        cur,
        app,
        "UPDATE applications SET overdue = 1, updated_seq = ? "
        "WHERE application_id = ? AND state IN ('in_progress', 'waiting_blank') AND overdue = 0",
        seq,
    )


def _suket_issued(cur: sqlite3.Cursor, seq: int, app: str | None, _event: ValidatedPayload) -> None:
    _update_application(
        cur,
        app,
        "UPDATE applications SET state = 'waiting_blank', phase = 'waiting', active_by = NULL, "
        "active_devices = '[]', phase_seq = ?, updated_seq = ? "
        "WHERE application_id = ? AND state = 'in_progress'",
        seq,
        seq,
    )


def _returned(cur: sqlite3.Cursor, seq: int, app: str | None, event: ValidatedPayload) -> None:
    assert isinstance(event.model, ApplicationReturned)
    _update_application(
        cur,
        app,
        "UPDATE applications SET step = ?, phase = 'finished', state = 'returned', "
        "active_by = NULL, active_devices = '[]', return_reason = ?, "
        "updated_seq = ? WHERE application_id = ? AND state = 'in_progress'",
        event.model.step,
        event.model.reason,
        seq,
    )


def _completed(cur: sqlite3.Cursor, seq: int, app: str | None, _event: ValidatedPayload) -> None:
    _update_application(
        cur,
        app,
        "UPDATE applications SET step = 'handover', phase = 'finished', state = 'completed', "
        "active_by = NULL, active_devices = '[]', updated_seq = ? "
        "WHERE application_id = ? AND state = 'in_progress'",
        seq,
    )


def _ticket_issued(
    cur: sqlite3.Cursor, seq: int, _app: str | None, event: ValidatedPayload
) -> None:
    assert isinstance(event.model, QueueTicketIssued)
    ticket = event.model
    try:
        cur.execute(
            "INSERT INTO queue VALUES (?, ?, ?, ?, 'waiting', NULL, 0, NULL, ?, NULL, ?)",
            (ticket.day.isoformat(), ticket.ticket, ticket.service, ticket.number, seq, seq),
        )
    except sqlite3.IntegrityError:
        raise InvalidEvent(f"ticket {ticket.ticket} was issued already on {ticket.day}") from None


def _queue_call(*, from_states: tuple[str, ...], recall: bool) -> Apply:
    def apply(cur: sqlite3.Cursor, seq: int, _app: str | None, event: ValidatedPayload) -> None:
        assert isinstance(event.model, QueueCalled | QueueRecalled)
        call = event.model
        first_call = "called_seq = ?, " if not recall else ""
        cur.execute(
            f"UPDATE queue SET state = 'called', counter = ?, calls = calls + 1, {first_call}"  # noqa: S608 - literals only
            f"updated_seq = ? WHERE day = ? AND ticket = ? AND state IN {_sql_list(from_states)}",
            (call.counter, *(() if recall else (seq,)), seq, call.day.isoformat(), call.ticket),
        )
        if cur.rowcount == 0:
            raise InvalidEvent(
                f"ticket {call.ticket} of {call.day} is not {' or '.join(from_states)}"
            )

    return apply


def _no_show(cur: sqlite3.Cursor, seq: int, _app: str | None, event: ValidatedPayload) -> None:
    assert isinstance(event.model, QueueNoShow)
    cur.execute(
        "UPDATE queue SET state = 'no_show', updated_seq = ? "
        "WHERE day = ? AND ticket = ? AND state = 'called'",
        (seq, event.model.day.isoformat(), event.model.ticket),
    )
    if cur.rowcount == 0:
        raise InvalidEvent(f"ticket {event.model.ticket} of {event.model.day} is not called")


def _sql_list(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{value}'" for value in values) + ")"


STOCK_QUERY: Final = (
    "SELECT received, issued, spoiled, (SELECT count(*) FROM cards WHERE state IN "
    "('fed', 'personalised', 'printed')) FROM blank_stock WHERE id = 1"
)


def _open_card(cur: sqlite3.Cursor, app: str | None) -> tuple[int, str, str | None] | None:
    """The application's card that is neither issued nor spoiled: (fed_seq, state, serial)."""
    row = cur.execute(
        "SELECT fed_seq, state, card_serial FROM cards "
        "WHERE application_id = ? AND state IN ('fed', 'personalised', 'printed')",
        (app,),
    ).fetchone()
    return None if row is None else (row[0], row[1], row[2])


def _refuse_unless_a_blank_is_left(cur: sqlite3.Cursor) -> None:
    received, issued, spoiled, in_process = cur.execute(STOCK_QUERY).fetchone()
    if received - issued - spoiled - in_process <= 0:
        raise InvalidEvent("no blank card is in stock")


def _fed(cur: sqlite3.Cursor, seq: int, app: str | None, event: ValidatedPayload) -> None:
    assert isinstance(event.model, BlankFed)
    _refuse_unless_a_blank_is_left(cur)
    # A blank arriving resumes an application that waited for one.
    _update_application(
        cur,
        app,
        "UPDATE applications SET state = 'in_progress', updated_seq = ? "
        "WHERE application_id = ? AND state IN ('in_progress', 'waiting_blank')",
        seq,
    )
    try:
        cur.execute(
            "INSERT INTO cards VALUES (?, ?, ?, NULL, 'fed', NULL, ?)",
            (seq, app, event.model.printer, seq),
        )
    except sqlite3.IntegrityError:
        raise InvalidEvent(f"application {app} already has a card in the printer") from None


def _feed_failed(cur: sqlite3.Cursor, seq: int, app: str | None, _event: ValidatedPayload) -> None:
    card = _open_card(cur, app)
    if card is None or card[1] != "fed":
        raise InvalidEvent(f"application {app} has no card just fed")
    cur.execute(
        "UPDATE cards SET state = 'not_fed', updated_seq = ? WHERE fed_seq = ?", (seq, card[0])
    )


def _card_progress(state: str, *, previous: str) -> Apply:
    def apply(cur: sqlite3.Cursor, seq: int, app: str | None, event: ValidatedPayload) -> None:
        assert isinstance(event.model, CardPersonalised | CardPrinted | CardActivationAttempt)
        serial = event.model.card_serial
        card = _open_card(cur, app)
        if card is None or card[1] != previous or card[2] not in (None, serial):
            raise InvalidEvent(f"application {app} has no card {serial} in state {previous}")
        cur.execute(
            "UPDATE cards SET state = ?, card_serial = ?, updated_seq = ? WHERE fed_seq = ?",
            (state, serial, seq, card[0]),
        )

    return apply


def _close_card(cur: sqlite3.Cursor, seq: int, app: str | None, event: ValidatedPayload) -> None:
    """An issued or spoiled blank ends the application's card in the printer, if any."""
    assert isinstance(event.model, BlankIssued | BlankSpoiled)
    card = _open_card(cur, app) if app else None
    if isinstance(event.model, BlankIssued):
        serial = event.model.card_serial
        if card is None or card[1] != "printed" or card[2] != serial:
            raise InvalidEvent(f"card {serial} is not a printed card of application {app}")
        cur.execute(
            "UPDATE cards SET state = 'issued', updated_seq = ? WHERE fed_seq = ?",
            (seq, card[0]),
        )
    elif card is None:  # a blank spoiled in the stockroom: it must be one still there
        _refuse_unless_a_blank_is_left(cur)
    else:
        cur.execute(
            "UPDATE cards SET state = 'spoiled', spoil_reason = ?, "
            "card_serial = coalesce(card_serial, ?), updated_seq = ? WHERE fed_seq = ?",
            (event.model.reason, event.model.card_serial, seq, card[0]),
        )


def _stock_change(column: str) -> Apply:
    def apply(cur: sqlite3.Cursor, seq: int, _app: str | None, event: ValidatedPayload) -> None:
        count = event.model.count if isinstance(event.model, BlankReceived) else 1
        try:
            cur.execute(
                f"UPDATE blank_stock SET {column} = {column} + ?, updated_seq = ? WHERE id = 1",  # noqa: S608 - column is one of three literals
                (count, seq),
            )
        except sqlite3.IntegrityError:
            raise InvalidEvent("no blank card is in stock") from None

    return apply


def _purged(cur: sqlite3.Cursor, seq: int, _app: str | None, event: ValidatedPayload) -> None:
    assert isinstance(event.model, BiometricsPurged)
    cur.execute(
        "UPDATE biometric_purges SET purges = purges + 1, applications = applications + ?, "
        "blobs = blobs + ?, updated_seq = ? WHERE id = 1",
        (event.model.applications, event.model.blobs, seq),
    )


def _then(*steps: Apply) -> Apply:
    def apply(cur: sqlite3.Cursor, seq: int, app: str | None, event: ValidatedPayload) -> None:
        for step in steps:
            step(cur, seq, app, event)

    return apply


PROJECTIONS: Final[Mapping[EventType, Apply]] = MappingProxyType(
    {
        EventType.APPLICATION_SUBMITTED: _submitted,
        EventType.APPLICATION_ADVANCED: _advanced,
        EventType.APPLICATION_RETURNED: _returned,
        EventType.APPLICATION_COMPLETED: _completed,
        EventType.QUEUE_TICKET_ISSUED: _ticket_issued,
        EventType.QUEUE_CALLED: _queue_call(from_states=("waiting",), recall=False),
        EventType.QUEUE_RECALLED: _queue_call(from_states=("called", "no_show"), recall=True),
        EventType.QUEUE_NO_SHOW: _no_show,
        EventType.STEP_STARTED: _step_started,
        EventType.STEP_FINISHED: _step_finished,
        EventType.STEP_SKIPPED: _step_finished,
        EventType.STEP_FAILED: _step_failed,
        EventType.STEP_BREACHED: _breached,
        EventType.BIOMETRICS_RECORDED: _biometrics_recorded,
        EventType.BIOMETRICS_PURGED: _purged,
        EventType.APPLICATION_OVERDUE: _overdue,
        EventType.BLANK_RECEIVED: _stock_change("received"),
        EventType.BLANK_FED: _fed,
        EventType.BLANK_FEED_FAILED: _feed_failed,
        EventType.BLANK_ISSUED: _then(_close_card, _stock_change("issued")),
        EventType.BLANK_SPOILED: _then(_close_card, _stock_change("spoiled")),
        EventType.CARD_PERSONALISED: _card_progress("personalised", previous="fed"),
        EventType.CARD_PRINTED: _card_progress("printed", previous="personalised"),
        EventType.CARD_ACTIVATION_ATTEMPT: _card_progress("printed", previous="printed"),
        EventType.SURAT_KETERANGAN_ISSUED: _suket_issued,
    }
)


def apply_event(cur: sqlite3.Cursor, seq: int, app: str | None, event: ValidatedPayload) -> None:
    project = PROJECTIONS.get(event.type)
    if project is not None:
        project(cur, seq, app, event)
