"""The workflow's one table, the register's projections and the pipeline's pre-checks
agree: every application state, phase and step against every event that moves an
application, every ticket state against every queue event, and every event type has a
projection that leaves its mark on the derived state (the register's truncation check
relies on it)."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest

from appliance.domain import (
    APPLICATION_TRANSITIONS,
    CARD_TRANSITIONS,
    COMPLAINT_ESCALATION,
    COMPLAINT_TRANSITIONS,
    RECAP_TRANSITIONS,
    STEP_OWNER,
    TICKET_TRANSITIONS,
    ApplicationState,
    AtStep,
    CardState,
    ComplaintState,
    EventType,
    Phase,
    RecapState,
    Role,
    Step,
    TicketState,
    may_cause,
)
from appliance.pipeline._core import _applies
from appliance.register import InvalidEvent
from appliance.register._events import validate_payload
from appliance.register._projections import PROJECTIONS, apply_event
from appliance.register._queries import ApplicationRow
from appliance.register._schema import DERIVED_TABLES_DDL, LAST_SEQ_IN_DERIVED_STATE

APP = "20261207-0001"
NIK = "3508014101900002"
SEQ = 100


def _payload(kind: EventType, step: Step | None) -> dict[str, Any]:
    payloads: dict[EventType, dict[str, Any]] = {
        EventType.STEP_STARTED: {"step": step, "devices": []},
        EventType.STEP_FINISHED: {"step": step, "duration_ms": 1},
        EventType.STEP_SKIPPED: {"step": step, "reason": "recorded before"},
        EventType.STEP_FAILED: {"step": step, "code": "device_timeout"},
        EventType.STEP_BREACHED: {"step": step, "budget_ms": 60_000},
        EventType.APPLICATION_ADVANCED: {"step": step},
        EventType.APPLICATION_RETURNED: {"step": step, "reason": "incomplete"},
        EventType.BIOMETRICS_RECORDED: {"modalities": ["face"], "chip_fingers": [1, 6]},
        EventType.REGION_CONFIRMED: {"code": "350899"},
        EventType.ACTIVATION_DECIDED: {"decision": "retry", "refusal": "no_match"},
        EventType.APPLICATION_COMPLETED: {},
        EventType.APPLICATION_OVERDUE: {"due": "2026-12-08T16:00"},
        EventType.SURAT_KETERANGAN_ISSUED: {"number": "SK-1"},
        EventType.BLANK_FED: {"printer": "card_printer"},
    }
    return payloads[kind]


@pytest.fixture(scope="module")
def derived() -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    for statement in DERIVED_TABLES_DDL:
        conn.execute(statement)
    conn.execute("UPDATE blank_stock SET received = 5")  # a blank to feed
    yield conn
    conn.close()


def _row(state: ApplicationState, phase: Phase, step: Step) -> tuple[Any, ...]:
    return (APP, "baru", NIK, "SITI", None, None, step, phase, state, None, "[]", 1, 0, 0)


def _application_events() -> Iterator[tuple[EventType, Step | None]]:
    for kind, transition in APPLICATION_TRANSITIONS.items():
        if transition.creates:
            continue
        takes_step = AtStep.EVENT in (transition.at_step, transition.to_step)
        yield from ((kind, step) for step in (Step if takes_step else (None,)))


def test_the_pipeline_and_the_projections_agree_on_every_state_and_event(
    derived: sqlite3.Connection,
) -> None:
    cur = derived.cursor()
    cases = 0
    for state, phase, step in itertools.product(ApplicationState, Phase, Step):
        row = ApplicationRow.from_row((*_row(state, phase, step), None, 1, 1))
        for kind, event_step in _application_events():
            precheck = _applies(kind, row, event_step or step)
            cur.execute("SAVEPOINT walk")
            cur.execute(
                "INSERT INTO applications VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, 1, 1)",
                _row(state, phase, step),
            )
            payload = validate_payload(kind, _payload(kind, event_step), APP)
            try:
                apply_event(cur, SEQ, APP, payload)
            except InvalidEvent:
                projected = False
            else:
                projected = True
                after = cur.execute(
                    "SELECT state, phase, step, updated_seq FROM applications"
                ).fetchone()
                transition = APPLICATION_TRANSITIONS[kind]
                expected_step = (
                    event_step if transition.to_step is AtStep.EVENT else transition.to_step
                )
                assert after[0] == (transition.to_state or state)
                assert after[1] == (transition.to_phase or phase)
                assert after[2] == (expected_step or step)
                assert after[3] == SEQ
                assert cur.execute(LAST_SEQ_IN_DERIVED_STATE).fetchone()[0] == SEQ
            cur.execute("ROLLBACK TO walk")
            cur.execute("RELEASE walk")
            assert precheck == projected, (state, phase, step, kind, event_step)
            cases += 1
    assert cases > 5000


def test_every_ticket_state_and_queue_event_agree_with_the_table(
    derived: sqlite3.Connection,
) -> None:
    cur = derived.cursor()
    payloads = {
        EventType.QUEUE_CALLED: {"day": "2026-12-07", "ticket": "A-001", "counter": "1"},
        EventType.QUEUE_RECALLED: {"day": "2026-12-07", "ticket": "A-001", "counter": "1"},
        EventType.QUEUE_NO_SHOW: {"day": "2026-12-07", "ticket": "A-001"},
    }
    for state, (kind, data) in itertools.product(TicketState, payloads.items()):
        cur.execute("SAVEPOINT walk")
        cur.execute(
            "INSERT INTO queue VALUES ('2026-12-07', 'A-001', 'baru', 1, ?, NULL, 0, NULL, 1, NULL, 1)",
            (state,),
        )
        try:
            apply_event(cur, SEQ, None, validate_payload(kind, data, None))
        except InvalidEvent:
            projected = False
        else:
            projected = True
            assert cur.execute("SELECT state FROM queue").fetchone()[0] == (
                TICKET_TRANSITIONS[kind].to_state
            )
        cur.execute("ROLLBACK TO walk")
        cur.execute("RELEASE walk")
        assert projected == (state in TICKET_TRANSITIONS[kind].states), (state, kind)


def test_every_card_state_and_card_event_agree_with_the_table(
    derived: sqlite3.Connection,
) -> None:
    cur = derived.cursor()
    payloads: dict[EventType, dict[str, Any]] = {
        EventType.BLANK_FEED_FAILED: {},
        EventType.CARD_PERSONALISED: {
            "card_serial": "K1",
            "security_object_sha256": "0" * 64,
            "chip_fingers": [1, 6],
        },
        EventType.CARD_PRINTED: {"card_serial": "K1"},
        EventType.CARD_ACTIVATION_ATTEMPT: {
            "card_serial": "K1",
            "finger": 1,
            "attempt": 1,
            "score": 900,
            "threshold": 400,
            "matched": True,
        },
        EventType.BLANK_ISSUED: {"card_serial": "K1"},
        EventType.BLANK_SPOILED: {"reason": "jam"},
    }
    assert set(payloads) | {EventType.BLANK_FED} == set(CARD_TRANSITIONS)
    for state, (kind, data) in itertools.product(CardState, payloads.items()):
        cur.execute("SAVEPOINT walk")
        cur.execute(
            "INSERT INTO cards VALUES (1, ?, 'card_printer', 'K1', ?, NULL, 1)", (APP, state)
        )
        applies = state in CARD_TRANSITIONS[kind].states
        try:
            apply_event(cur, SEQ, APP, validate_payload(kind, data, APP))
        except InvalidEvent:
            projected = False
        else:
            projected = True
            moved = cur.execute("SELECT state FROM cards").fetchone()[0]
            # A blank spoiled when the application has no card in process is one spoiled
            # in the stockroom: only the stock changes.
            assert moved == (CARD_TRANSITIONS[kind].to_state if applies else state)
        cur.execute("ROLLBACK TO walk")
        cur.execute("RELEASE walk")
        stockroom = kind is EventType.BLANK_SPOILED
        assert projected == (applies or stockroom), (state, kind)


def test_every_event_type_but_the_genesis_has_a_projection() -> None:
    assert set(PROJECTIONS) == set(EventType) - {EventType.REGISTER_CREATED}


def test_only_a_steps_owner_may_start_and_finish_it() -> None:
    started = APPLICATION_TRANSITIONS[EventType.STEP_STARTED]
    for step, role in itertools.product(
        Step, (Role.COUNTER_OFFICER, Role.SECTION_HEAD, Role.OPERATOR)
    ):
        assert may_cause(started, role, step=step) == (STEP_OWNER[step] is role)


def test_every_complaint_state_and_complaint_event_agree_with_the_table(
    derived: sqlite3.Connection,
) -> None:
    cur = derived.cursor()
    by = {"role": "kasi_yanmum", "person": "budi"}
    due = "2026-12-09T10:00:00+07:00"
    payloads: dict[EventType, dict[str, Any]] = {
        EventType.COMPLAINT_VERIFIED: {"category": "ringan", "due": due, "by": by},
        EventType.COMPLAINT_FOLLOWED_UP: {"action": "Ditegur.", "by": by},
        EventType.COMPLAINT_CLOSED: {"outcome": "Selesai.", "by": by},
        EventType.COMPLAINT_ESCALATED: {"due": due},
    }
    assert set(payloads) - {EventType.COMPLAINT_ESCALATED} | {EventType.COMPLAINT_RECEIVED} == set(
        COMPLAINT_TRANSITIONS
    )
    for state, escalated, (kind, data) in itertools.product(
        ComplaintState, (0, 1), payloads.items()
    ):
        cur.execute("SAVEPOINT walk")
        cur.execute(
            "INSERT INTO complaints VALUES ('ADU-2026-0001', 'telepon', 'ringan', ?, ?, ?, 0, "
            "NULL, 1, 1)",
            (state, due, escalated),
        )
        payload = validate_payload(kind, {"number": "ADU-2026-0001", **data}, None)
        try:
            apply_event(cur, SEQ, None, payload)
        except InvalidEvent:
            projected = False
        else:
            projected = True
            after = cur.execute("SELECT state, escalated FROM complaints").fetchone()
            if kind is EventType.COMPLAINT_ESCALATED:
                assert after == (state, 1)
            else:
                assert after[0] == COMPLAINT_TRANSITIONS[kind].to_state
            assert cur.execute(LAST_SEQ_IN_DERIVED_STATE).fetchone()[0] == SEQ
        cur.execute("ROLLBACK TO walk")
        cur.execute("RELEASE walk")
        if kind is EventType.COMPLAINT_ESCALATED:
            expected = state in COMPLAINT_ESCALATION.states and not escalated
        else:
            expected = state in COMPLAINT_TRANSITIONS[kind].states
        assert projected == expected, (state, escalated, kind)


def test_every_recap_state_and_recap_event_agree_with_the_table(
    derived: sqlite3.Connection,
) -> None:
    cur = derived.cursor()
    by = {"role": "pimpinan", "person": "camat"}
    counts = {
        "received": 0,
        "by_channel": {},
        "by_category": {},
        "by_status": {},
        "by_element": {},
        "escalated": 0,
        "closed": 0,
        "closed_on_time": 0,
        "close_seconds_total": 0,
        "close_seconds_max": 0,
    }
    for state, kind in itertools.product(RecapState, RECAP_TRANSITIONS):
        data: dict[str, Any] = {"period": "2026-Q4", "version": 1, "by": by}
        if kind is EventType.RECAP_DRAFTED:
            data |= {"version": 2, "as_of_seq": 5, "counts": counts, "improvements": []}
        cur.execute("SAVEPOINT walk")
        cur.execute("INSERT INTO recaps VALUES ('2026-Q4', ?, 1, 1, 1)", (state,))
        try:
            apply_event(cur, SEQ, None, validate_payload(kind, data, None))
        except InvalidEvent:
            projected = False
        else:
            projected = True
            moved = cur.execute("SELECT state FROM recaps").fetchone()[0]
            assert moved == RECAP_TRANSITIONS[kind].to_state
        cur.execute("ROLLBACK TO walk")
        cur.execute("RELEASE walk")
        assert projected == (state in RECAP_TRANSITIONS[kind].states), (state, kind)


def test_the_supervisor_causes_no_step_and_no_ticket_or_card_event() -> None:
    for transition in APPLICATION_TRANSITIONS.values():
        for step in Step:
            assert not may_cause(transition, Role.SUPERVISOR, step=step), transition.event
    for table in (TICKET_TRANSITIONS, CARD_TRANSITIONS):
        for state_transition in table.values():
            agents = {agent.value for agent in state_transition.by}
            assert Role.SUPERVISOR.value not in agents
