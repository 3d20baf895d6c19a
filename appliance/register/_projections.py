"""Derived state: how each event changes the derived tables, in the same transaction.

Every state change goes through the workflow's one table (`appliance.domain._workflow`):
an event applies only to an application, ticket or card in a state the table lists for it,
and moves it to the state the table gives. What an event adds beyond the state (who holds
the step, a breach counted, the reason a file was returned) is written here, beside it.

Because the derived tables are a pure function of the event log, `verify` can rebuild
them from the events alone and compare, and a schema change can drop and replay them.
A projection refuses an event that does not apply by raising InvalidEvent; the
transaction then writes nothing.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Final

from appliance.domain import (
    APPLICATION_TRANSITIONS,
    CARD_TRANSITIONS,
    TICKET_TRANSITIONS,
    AtStep,
    CardState,
    EventType,
    Step,
)

from ._errors import InvalidEvent
from ._events import (
    ValidatedPayload,
)
from ._payloads import (
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
    QueueCalled,
    QueueNoShow,
    QueueRecalled,
    QueueTicketIssued,
    StepBreached,
    StepStarted,
)
from ._projections_oversight import OVERSIGHT_PROJECTIONS
from ._schema import IN_PROCESS_CARDS, STOCK_QUERY, sql_values

Apply = Callable[[sqlite3.Cursor, int, str | None, ValidatedPayload], None]

# ---------------------------------------------------------------- applications


def move_application(
    cur: sqlite3.Cursor,
    seq: int,
    app: str | None,
    event: ValidatedPayload,
    *,
    also: Mapping[str, object] | None = None,
    unless: str = "",
) -> None:
    """Apply `event` to its application through the workflow's table, with `also` set
    beside the state (column = value, or an SQL expression for `breaches`); `unless` is
    one more SQL condition the event needs."""
    transition = APPLICATION_TRANSITIONS[event.type]
    event_step: Step | None = getattr(event.model, "step", None)
    sets: dict[str, object] = {}
    if transition.to_state is not None:
        sets["state"] = transition.to_state.value
    if transition.to_phase is not None:
        sets |= {"phase": transition.to_phase.value, "active_by": None, "active_devices": "[]"}
        if transition.to_state is None or transition.to_state.is_open:
            # When the current step's phase began; a closed application keeps the last.
            sets["phase_seq"] = seq
    to_step = event_step if transition.to_step is AtStep.EVENT else transition.to_step
    if to_step is not None:
        sets["step"] = to_step.value
    sets |= dict(also or {}) | {"updated_seq": seq}
    where = [f"state IN {sql_values(transition.states)}"]
    args: list[object] = []
    if transition.phases is not None:
        where.append(f"phase IN {sql_values(transition.phases)}")
    at_step = event_step if transition.at_step is AtStep.EVENT else transition.at_step
    if isinstance(at_step, Step):
        where.append("step = ?")
        args.append(at_step.value)
    if unless:
        where.append(unless)
    assignments = ", ".join(
        f"{column} = {value.sql}" if isinstance(value, _Sql) else f"{column} = ?"
        for column, value in sets.items()
    )
    values = [value for value in sets.values() if not isinstance(value, _Sql)]
    cur.execute(
        f"UPDATE applications SET {assignments} "  # noqa: S608 - columns and enum literals
        f"WHERE application_id = ? AND {' AND '.join(where)}",
        (*values, app, *args),
    )
    if cur.rowcount == 0:
        raise InvalidEvent(_not_applicable(cur, app, event.type, event_step))


class _Sql(str):
    """An SQL expression to assign as it is (`breaches + 1`), not a value to bind."""

    __slots__ = ()

    @property
    def sql(self) -> str:
        return str(self)


def _not_applicable(
    cur: sqlite3.Cursor, app: str | None, kind: EventType, step: Step | None
) -> str:
    transition = APPLICATION_TRANSITIONS[kind]
    row = cur.execute(
        "SELECT state, step, phase FROM applications WHERE application_id = ?", (app,)
    ).fetchone()
    if row is None or row[0] not in transition.states:
        where = "" if row is None else f" ({row[0]})"
        return f"{kind}: application {app} is not open in the register{where}"
    phases = " or ".join(sorted(transition.phases or ()))
    at = step if transition.at_step is AtStep.EVENT else transition.at_step
    return f"{kind}: application {app} is not {phases} at step {at} ({row[1]}, {row[2]})"


def _submitted(cur: sqlite3.Cursor, seq: int, app: str | None, event: ValidatedPayload) -> None:
    assert isinstance(event.model, ApplicationSubmitted)
    payload = event.model
    transition = APPLICATION_TRANSITIONS[event.type]
    assert transition.to_state is not None
    assert transition.to_phase is not None
    assert isinstance(transition.to_step, Step)
    day = payload.ticket_day.isoformat() if payload.ticket_day else None
    try:
        cur.execute(
            "INSERT INTO applications VALUES "
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '[]', ?, 0, 0, NULL, ?, ?)",
            (
                app,
                payload.service,
                payload.nik,
                payload.name,
                payload.ticket,
                day,
                transition.to_step.value,
                transition.to_phase.value,
                transition.to_state.value,
                payload.by.person if payload.by else None,
                seq,
                seq,
                seq,
            ),
        )
    except sqlite3.IntegrityError:
        raise InvalidEvent(f"application {app} was submitted already") from None
    if day is not None and payload.ticket is not None:
        move_ticket(cur, seq, event.type, day, payload.ticket, also={"application_id": app})


def _step_started(cur: sqlite3.Cursor, seq: int, app: str | None, event: ValidatedPayload) -> None:
    assert isinstance(event.model, StepStarted)
    started = event.model
    move_application(
        cur,
        seq,
        app,
        event,
        also={
            "active_by": started.by.person if started.by else None,
            "active_devices": json.dumps(list(started.devices)),
        },
    )


def _step_moved(cur: sqlite3.Cursor, seq: int, app: str | None, event: ValidatedPayload) -> None:
    """An event whose whole effect is the workflow's transition."""
    move_application(cur, seq, app, event)


def _breached(cur: sqlite3.Cursor, seq: int, app: str | None, event: ValidatedPayload) -> None:
    assert isinstance(event.model, StepBreached)
    move_application(cur, seq, app, event, also={"breaches": _Sql("breaches + 1")})


def _overdue(cur: sqlite3.Cursor, seq: int, app: str | None, event: ValidatedPayload) -> None:
    move_application(cur, seq, app, event, also={"overdue": 1}, unless="overdue = 0")


def _returned(cur: sqlite3.Cursor, seq: int, app: str | None, event: ValidatedPayload) -> None:
    assert isinstance(event.model, ApplicationReturned)
    move_application(cur, seq, app, event, also={"return_reason": event.model.reason})


# ---------------------------------------------------------------- queue tickets


def move_ticket(
    cur: sqlite3.Cursor,
    seq: int,
    kind: EventType,
    day: str,
    ticket: str,
    *,
    also: Mapping[str, object] | None = None,
) -> None:
    transition = TICKET_TRANSITIONS[kind]
    sets = {"state": transition.to_state.value, **(also or {}), "updated_seq": seq}
    assignments = ", ".join(
        f"{column} = {value.sql}" if isinstance(value, _Sql) else f"{column} = ?"
        for column, value in sets.items()
    )
    values = [value for value in sets.values() if not isinstance(value, _Sql)]
    cur.execute(
        f"UPDATE queue SET {assignments} WHERE day = ? AND ticket = ? "  # noqa: S608 - literals
        f"AND state IN {sql_values(transition.states)}",
        (*values, day, ticket),
    )
    if cur.rowcount == 0:
        states = " or ".join(sorted(transition.states))
        raise InvalidEvent(f"{kind}: ticket {ticket} of {day} is not {states}")


def _ticket_issued(
    cur: sqlite3.Cursor, seq: int, _app: str | None, event: ValidatedPayload
) -> None:
    assert isinstance(event.model, QueueTicketIssued)
    ticket = event.model
    state = TICKET_TRANSITIONS[event.type].to_state.value
    try:
        cur.execute(
            "INSERT INTO queue VALUES (?, ?, ?, ?, ?, NULL, 0, NULL, ?, NULL, ?)",
            (ticket.day.isoformat(), ticket.ticket, ticket.service, ticket.number, state, seq, seq),
        )
    except sqlite3.IntegrityError:
        raise InvalidEvent(f"ticket {ticket.ticket} was issued already on {ticket.day}") from None


def _ticket_called(
    cur: sqlite3.Cursor, seq: int, _app: str | None, event: ValidatedPayload
) -> None:
    assert isinstance(event.model, QueueCalled | QueueRecalled)
    call = event.model
    also: dict[str, object] = {"counter": call.counter, "calls": _Sql("calls + 1")}
    if isinstance(call, QueueCalled):
        also["called_seq"] = seq  # the first call: the wait ends here
    move_ticket(cur, seq, event.type, call.day.isoformat(), call.ticket, also=also)


def _no_show(cur: sqlite3.Cursor, seq: int, _app: str | None, event: ValidatedPayload) -> None:
    assert isinstance(event.model, QueueNoShow)
    move_ticket(cur, seq, event.type, event.model.day.isoformat(), event.model.ticket)


# ---------------------------------------------------------------- blank cards


def _open_card(cur: sqlite3.Cursor, app: str | None) -> tuple[int, str, str | None] | None:
    """The application's card that is neither issued nor spoiled: (fed_seq, state, serial)."""
    row = cur.execute(
        "SELECT fed_seq, state, card_serial FROM cards "  # noqa: S608 - enum literals
        f"WHERE application_id = ? AND state IN {IN_PROCESS_CARDS}",
        (app,),
    ).fetchone()
    return None if row is None else (row[0], row[1], row[2])


def move_card(
    cur: sqlite3.Cursor,
    seq: int,
    app: str | None,
    kind: EventType,
    *,
    serial: str | None = None,
    also: Mapping[str, object] | None = None,
) -> None:
    """Move the application's card through the workflow's table; with `serial`, it must
    be that card (or one whose serial is not known yet)."""
    transition = CARD_TRANSITIONS[kind]
    card = _open_card(cur, app)
    if (
        card is None
        or CardState(card[1]) not in transition.states
        or (serial is not None and card[2] not in (None, serial))
    ):
        states = " or ".join(sorted(transition.states))
        card_name = f"card {serial}" if serial else "card"
        if kind is EventType.BLANK_FEED_FAILED:
            states = f"{states}: no card just fed"
        raise InvalidEvent(f"{kind}: application {app} has no {card_name} in state {states}")
    sets = {"state": transition.to_state.value, **(also or {}), "updated_seq": seq}
    assignments = ", ".join(f"{column} = ?" for column in sets)
    cur.execute(
        f"UPDATE cards SET {assignments} WHERE fed_seq = ?",  # noqa: S608 - column names
        (*sets.values(), card[0]),
    )


def _refuse_unless_a_blank_is_left(cur: sqlite3.Cursor) -> None:
    received, issued, spoiled, in_process = cur.execute(STOCK_QUERY).fetchone()
    if received - issued - spoiled - in_process <= 0:
        raise InvalidEvent("no blank card is in stock")


def _fed(cur: sqlite3.Cursor, seq: int, app: str | None, event: ValidatedPayload) -> None:
    assert isinstance(event.model, BlankFed)
    _refuse_unless_a_blank_is_left(cur)
    move_application(cur, seq, app, event)
    try:
        cur.execute(
            "INSERT INTO cards VALUES (?, ?, ?, NULL, ?, NULL, ?)",
            (seq, app, event.model.printer, CARD_TRANSITIONS[event.type].to_state.value, seq),
        )
    except sqlite3.IntegrityError:
        raise InvalidEvent(f"application {app} already has a card in the printer") from None


def _feed_failed(cur: sqlite3.Cursor, seq: int, app: str | None, event: ValidatedPayload) -> None:
    move_card(cur, seq, app, event.type)


def _card_progress(cur: sqlite3.Cursor, seq: int, app: str | None, event: ValidatedPayload) -> None:
    assert isinstance(event.model, CardPersonalised | CardPrinted | CardActivationAttempt)
    serial = event.model.card_serial
    move_card(cur, seq, app, event.type, serial=serial, also={"card_serial": serial})


def _issued(cur: sqlite3.Cursor, seq: int, app: str | None, event: ValidatedPayload) -> None:
    assert isinstance(event.model, BlankIssued)
    card = _open_card(cur, app)
    serial = event.model.card_serial
    if card is None or card[2] != serial or card[1] not in CARD_TRANSITIONS[event.type].states:
        raise InvalidEvent(f"card {serial} is not a printed card of application {app}")
    move_card(cur, seq, app, event.type)
    _count_in_stock(cur, seq, "issued", 1)


def _spoiled(cur: sqlite3.Cursor, seq: int, app: str | None, event: ValidatedPayload) -> None:
    assert isinstance(event.model, BlankSpoiled)
    card = _open_card(cur, app) if app else None
    if card is None:  # a blank spoiled in the stockroom: it must be one still there
        _refuse_unless_a_blank_is_left(cur)
    else:
        move_card(
            cur,
            seq,
            app,
            event.type,
            also={
                "spoil_reason": event.model.reason.value,
                "card_serial": card[2] or event.model.card_serial,
            },
        )
    _count_in_stock(cur, seq, "spoiled", 1)


def _received(cur: sqlite3.Cursor, seq: int, _app: str | None, event: ValidatedPayload) -> None:
    assert isinstance(event.model, BlankReceived)
    _count_in_stock(cur, seq, "received", event.model.count)


def _count_in_stock(cur: sqlite3.Cursor, seq: int, column: str, count: int) -> None:
    try:
        cur.execute(
            f"UPDATE blank_stock SET {column} = {column} + ?, updated_seq = ? WHERE id = 1",  # noqa: S608 - column is one of three literals
            (count, seq),
        )
    except sqlite3.IntegrityError:
        raise InvalidEvent("no blank card is in stock") from None


# ---------------------------------------------------------------- data lifecycle


def _purged(cur: sqlite3.Cursor, seq: int, _app: str | None, event: ValidatedPayload) -> None:
    assert isinstance(event.model, BiometricsPurged)
    cur.execute(
        "UPDATE biometric_purges SET purges = purges + 1, applications = applications + ?, "
        "blobs = blobs + ?, updated_seq = ? WHERE id = 1",
        (event.model.applications, event.model.blobs, seq),
    )


PROJECTIONS: Final[Mapping[EventType, Apply]] = MappingProxyType(
    {
        EventType.APPLICATION_SUBMITTED: _submitted,
        EventType.APPLICATION_ADVANCED: _step_moved,
        EventType.APPLICATION_RETURNED: _returned,
        EventType.APPLICATION_COMPLETED: _step_moved,
        EventType.APPLICATION_OVERDUE: _overdue,
        EventType.QUEUE_TICKET_ISSUED: _ticket_issued,
        EventType.QUEUE_CALLED: _ticket_called,
        EventType.QUEUE_RECALLED: _ticket_called,
        EventType.QUEUE_NO_SHOW: _no_show,
        EventType.STEP_STARTED: _step_started,
        EventType.STEP_FINISHED: _step_moved,
        EventType.STEP_SKIPPED: _step_moved,
        EventType.STEP_FAILED: _step_moved,
        EventType.STEP_BREACHED: _breached,
        EventType.BIOMETRICS_RECORDED: _step_moved,
        EventType.REGION_CONFIRMED: _step_moved,
        EventType.ACTIVATION_DECIDED: _step_moved,
        EventType.BIOMETRICS_PURGED: _purged,
        EventType.SURAT_KETERANGAN_ISSUED: _step_moved,
        EventType.BLANK_RECEIVED: _received,
        EventType.BLANK_FED: _fed,
        EventType.BLANK_FEED_FAILED: _feed_failed,
        EventType.BLANK_ISSUED: _issued,
        EventType.BLANK_SPOILED: _spoiled,
        EventType.CARD_PERSONALISED: _card_progress,
        EventType.CARD_PRINTED: _card_progress,
        EventType.CARD_ACTIVATION_ATTEMPT: _card_progress,
        **OVERSIGHT_PROJECTIONS,
    }
)
"""Every event type but the register's genesis changes derived state (a test pins it)."""


def apply_event(cur: sqlite3.Cursor, seq: int, app: str | None, event: ValidatedPayload) -> None:
    project = PROJECTIONS.get(event.type)
    if project is not None:
        project(cur, seq, app, event)
