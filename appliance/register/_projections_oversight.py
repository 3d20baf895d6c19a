"""How the oversight events change the derived state: the survey's counts per service,
the complaint book, and the quarterly recaps, each state moved through the workflow's
tables (`COMPLAINT_TRANSITIONS`, `COMPLAINT_ESCALATION`, `RECAP_TRANSITIONS`)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Final

from appliance.domain import (
    COMPLAINT_ESCALATION,
    COMPLAINT_TRANSITIONS,
    RECAP_TRANSITIONS,
    EventType,
)

from ._errors import InvalidEvent
from ._events import ValidatedPayload
from ._payloads_oversight import (
    ComplaintReceived,
    ComplaintVerified,
    RecapApproved,
    RecapDrafted,
    RecapPublished,
    SurveyKeypadPressed,
    SurveyQuestionnaireAnswered,
)
from ._schema import sql_values

_ESCALABLE: Final = sql_values(COMPLAINT_ESCALATION.states)

Apply = Callable[[sqlite3.Cursor, int, str | None, ValidatedPayload], None]


def _survey(cur: sqlite3.Cursor, seq: int, _app: str | None, event: ValidatedPayload) -> None:
    assert isinstance(event.model, SurveyKeypadPressed | SurveyQuestionnaireAnswered)
    keypad = int(isinstance(event.model, SurveyKeypadPressed))
    cur.execute(
        "INSERT INTO survey_responses VALUES (?, ?, ?, ?) ON CONFLICT (service) DO UPDATE "
        "SET keypad = keypad + excluded.keypad, "
        "questionnaires = questionnaires + excluded.questionnaires, updated_seq = ?",
        (event.model.service.value, keypad, 1 - keypad, seq, seq),
    )


# ---------------------------------------------------------------- the complaint book


def _received(cur: sqlite3.Cursor, seq: int, _app: str | None, event: ValidatedPayload) -> None:
    assert isinstance(event.model, ComplaintReceived)
    complaint = event.model
    state = COMPLAINT_TRANSITIONS[event.type].to_state.value
    try:
        cur.execute(
            "INSERT INTO complaints VALUES (?, ?, ?, ?, ?, 0, 0, ?, ?, ?)",
            (
                complaint.number,
                complaint.channel.value,
                complaint.category.value,
                state,
                complaint.due.isoformat(),
                complaint.contact_ref,
                seq,
                seq,
            ),
        )
    except sqlite3.IntegrityError:
        raise InvalidEvent(f"complaint {complaint.number} was recorded already") from None


def _moved(cur: sqlite3.Cursor, seq: int, _app: str | None, event: ValidatedPayload) -> None:
    """Verified, followed up or closed, through the workflow's table."""
    number: str = getattr(event.model, "number")  # noqa: B009 - each of the three has one
    transition = COMPLAINT_TRANSITIONS[event.type]
    sets = {"state": transition.to_state.value, "updated_seq": seq}
    if isinstance(event.model, ComplaintVerified):
        sets |= {"category": event.model.category.value, "due": event.model.due.isoformat()}
    assignments = ", ".join(f"{column} = ?" for column in sets)
    followups = ", followups = followups + 1" * (event.type is EventType.COMPLAINT_FOLLOWED_UP)
    cur.execute(
        f"UPDATE complaints SET {assignments}{followups} "  # noqa: S608 - columns and enum literals
        f"WHERE number = ? AND state IN {sql_values(transition.states)}",
        (*sets.values(), number),
    )
    if cur.rowcount == 0:
        states = " or ".join(sorted(transition.states))
        raise InvalidEvent(f"{event.type}: complaint {number} is not {states}")


def _escalated(cur: sqlite3.Cursor, seq: int, _app: str | None, event: ValidatedPayload) -> None:
    number: str = getattr(event.model, "number")  # noqa: B009
    cur.execute(
        "UPDATE complaints SET escalated = 1, updated_seq = ? "  # noqa: S608 - enum literals
        f"WHERE number = ? AND escalated = 0 AND state IN {_ESCALABLE}",
        (seq, number),
    )
    if cur.rowcount == 0:
        raise InvalidEvent(f"{event.type}: complaint {number} is not open, or was escalated")


# ---------------------------------------------------------------- the quarterly recap


def _recap(cur: sqlite3.Cursor, seq: int, _app: str | None, event: ValidatedPayload) -> None:
    assert isinstance(event.model, RecapDrafted | RecapApproved | RecapPublished)
    recap = event.model
    transition = RECAP_TRANSITIONS[event.type]
    row = cur.execute(
        "SELECT state, version FROM recaps WHERE period = ?", (recap.period,)
    ).fetchone()
    drafting = isinstance(recap, RecapDrafted)
    if row is None:
        if not drafting or recap.version != 1:
            raise InvalidEvent(f"{event.type}: the recap of {recap.period} has no draft 1")
        cur.execute(
            "INSERT INTO recaps VALUES (?, ?, 1, ?, ?)",
            (recap.period, transition.to_state.value, seq, seq),
        )
        return
    state, version = row
    expected = version + 1 if drafting else version
    if state not in transition.states or recap.version != expected:
        raise InvalidEvent(
            f"{event.type}: the recap of {recap.period} is {state} at version {version}"
        )
    cur.execute(
        "UPDATE recaps SET state = ?, version = ?, version_seq = "
        "CASE WHEN ? THEN ? ELSE version_seq END, updated_seq = ? WHERE period = ?",
        (transition.to_state.value, recap.version, drafting, seq, seq, recap.period),
    )


OVERSIGHT_PROJECTIONS: Final[Mapping[EventType, Apply]] = MappingProxyType(
    {
        EventType.SURVEY_KEYPAD_PRESSED: _survey,
        EventType.SURVEY_QUESTIONNAIRE_ANSWERED: _survey,
        EventType.COMPLAINT_RECEIVED: _received,
        EventType.COMPLAINT_VERIFIED: _moved,
        EventType.COMPLAINT_FOLLOWED_UP: _moved,
        EventType.COMPLAINT_CLOSED: _moved,
        EventType.COMPLAINT_ESCALATED: _escalated,
        EventType.RECAP_DRAFTED: _recap,
        EventType.RECAP_APPROVED: _recap,
        EventType.RECAP_PUBLISHED: _recap,
    }
)
