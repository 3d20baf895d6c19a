"""What each audience of the live stream may see of a register event.

The register keeps everything a card needs (full NIK, Family Card number, biodata); a
live stream gets only what its audience's screens show, projected here before the fan-out:

- `OFFICER`, every logged-in role: what the officers' views show. An application's NIK
  is masked (`mask_nik`, as in `ApplicationView`), its name is shown; the Family Card
  number, birth date, sex, marital status and biodata (address, birth place, religion,
  ...) are shown nowhere, so they are dropped. All roles see the same views today; a
  role whose views differ gets an audience of its own.
- `PUBLIC`, screens without a login (the waiting-room board): queue events only, reduced
  to the ticket, its service, counter and state, and the complaint recap's publication
  (its period: the board then reads the recap's counts). Nothing about a person, not
  even an application id; no complaint's text, let alone a contact (which no event has).

Every event type is listed for the officers (a test walks the catalogue): a type added
later and not listed here sends its type and sequence number only, never its data.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final

from appliance.domain import TICKET_TRANSITIONS, mask_nik
from appliance.register import Event, EventType


class Audience(StrEnum):
    OFFICER = "officer"
    PUBLIC = "public"


Data = dict[str, Any]

_SUBMITTED_SHOWN: Final = ("service", "name", "ticket", "ticket_day", "documents", "by")


def _as_recorded(data: Data) -> Data:
    return data


def _submitted_for_officers(data: Data) -> Data:
    shown: Data = {key: data[key] for key in _SUBMITTED_SHOWN if key in data}
    return {"nik": mask_nik(data["nik"]), **shown}


_NOTHING_PERSONAL: Final = (
    EventType.REGISTER_CREATED,
    EventType.APPLICATION_ADVANCED,
    EventType.APPLICATION_RETURNED,
    EventType.APPLICATION_COMPLETED,
    EventType.APPLICATION_OVERDUE,
    EventType.QUEUE_TICKET_ISSUED,
    EventType.QUEUE_CALLED,
    EventType.QUEUE_RECALLED,
    EventType.QUEUE_NO_SHOW,
    EventType.STEP_STARTED,
    EventType.STEP_FINISHED,
    EventType.STEP_FAILED,
    EventType.STEP_SKIPPED,
    EventType.STEP_BREACHED,
    EventType.BIOMETRICS_RECORDED,
    EventType.BIOMETRICS_PURGED,
    EventType.REGION_CONFIRMED,
    EventType.ACTIVATION_DECIDED,
    EventType.BLANK_RECEIVED,
    EventType.BLANK_FED,
    EventType.BLANK_FEED_FAILED,
    EventType.BLANK_ISSUED,
    EventType.BLANK_SPOILED,
    EventType.CARD_PERSONALISED,
    EventType.CARD_PRINTED,
    EventType.CARD_ACTIVATION_ATTEMPT,
    EventType.SURAT_KETERANGAN_ISSUED,
    EventType.SURVEY_KEYPAD_PRESSED,
    EventType.SURVEY_QUESTIONNAIRE_ANSWERED,
    EventType.COMPLAINT_RECEIVED,
    EventType.COMPLAINT_VERIFIED,
    EventType.COMPLAINT_FOLLOWED_UP,
    EventType.COMPLAINT_CLOSED,
    EventType.COMPLAINT_ESCALATED,
    EventType.RECAP_DRAFTED,
    EventType.RECAP_APPROVED,
    EventType.RECAP_PUBLISHED,
)
"""Event types whose data officers see as recorded: counts, states, steps, devices, card
serials, officers' ids, a return's reason (which the application view shows), anonymous
survey responses, the complaint book's entries (which hold no contact: that stays in
the station's contact file, for the section head's view only)."""

OFFICER_DATA: Final[Mapping[EventType, Callable[[Data], Data]]] = MappingProxyType(
    {
        EventType.APPLICATION_SUBMITTED: _submitted_for_officers,
        **dict.fromkeys(_NOTHING_PERSONAL, _as_recorded),
    }
)
"""How the officers see each event type's data."""

PUBLIC_STATE: Final[Mapping[EventType, str]] = MappingProxyType(
    {
        kind: TICKET_TRANSITIONS[kind].to_state.value
        for kind in (
            EventType.QUEUE_TICKET_ISSUED,
            EventType.QUEUE_CALLED,
            EventType.QUEUE_RECALLED,
            EventType.QUEUE_NO_SHOW,
        )
    }
)
"""The events the public sees, and the ticket's state after each."""

_PUBLIC_FIELDS: Final = ("day", "ticket", "service", "counter")


def _kind(event: Event) -> EventType | None:
    try:
        return EventType(event.type)
    except ValueError:  # a type this software does not know (a newer register's)
        return None


def for_officers(event: Event) -> Data:
    kind = _kind(event)
    project = OFFICER_DATA.get(kind) if kind is not None else None
    body: Data = {"seq": event.seq, "type": event.type, "app": event.app, "ts": event.ts}
    if project is not None:
        body["data"] = project(event.data)
    return body


def for_the_public(event: Event) -> Data | None:
    """The queue event as a waiting-room board may show it, and a recap's publication;
    None for any other event."""
    kind = _kind(event)
    if kind is EventType.RECAP_PUBLISHED:
        return {"seq": event.seq, "type": event.type, "period": event.data["period"]}
    state = PUBLIC_STATE.get(kind) if kind is not None else None
    if state is None:
        return None
    data = event.data
    shown: Data = {key: data[key] for key in _PUBLIC_FIELDS if key in data}
    return {"seq": event.seq, "type": event.type, **shown, "state": state}


PROJECTIONS: Final[Mapping[Audience, Callable[[Event], Data | None]]] = MappingProxyType(
    {Audience.OFFICER: for_officers, Audience.PUBLIC: for_the_public}
)
"""One projection per audience; None: the audience does not see the event at all."""
