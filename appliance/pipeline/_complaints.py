"""The complaint book at the station (*Buku Pengaduan*, seed 001 §11): complaints written
in by the officers from each channel, verified, followed up and closed by the section
head, each step a register event under the workflow's table; past its deadline an open
complaint is escalated to the section head by the station's own watch (`Deadlines`).

A complainant's contact is written to the station's contact file (`ContactBook`), never
into an event, and is shown only to the roles that follow complaints up: the workflow's
table says who those are.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Final

from appliance._text import Text
from appliance.domain import (
    COMPLAINT_TRANSITIONS,
    ComplaintState,
    EventType,
    Role,
    StateTransition,
    may_cause,
)
from appliance.oversight import (
    Category,
    ContactBook,
    ContactBookError,
    OversightSection,
    complaint_due,
    complaint_number,
)
from appliance.register import ComplaintRow
from appliance.register import Event as RegisterEvent

from ._core import PipelineCore
from ._deadlines import Deadlines, complaint_watch
from ._errors import Forbidden, Invalid, NotFound, Unavailable, WrongState
from ._forms import Officer
from ._oversight_forms import (
    CloseForm,
    ComplaintForm,
    ComplaintView,
    FollowUpForm,
    FollowUpView,
    VerifyForm,
)

COMPLAINT_EVENTS: Final = (
    EventType.COMPLAINT_RECEIVED,
    EventType.COMPLAINT_VERIFIED,
    EventType.COMPLAINT_FOLLOWED_UP,
    EventType.COMPLAINT_CLOSED,
    EventType.COMPLAINT_ESCALATED,
)
_FOLLOWING_UP: Final = COMPLAINT_TRANSITIONS[EventType.COMPLAINT_FOLLOWED_UP]


def acting_role(officer: Officer, transition: StateTransition) -> Role:
    """The officer's role that may cause `transition` (Forbidden when none may)."""
    for role in sorted(officer.roles):
        if may_cause(transition, role):
            return role
    who = ", ".join(
        role.label.id for role in Role if may_cause(transition, role) and role is not Role.APPLICANT
    )
    who_en = ", ".join(
        role.label.en.lower()
        for role in Role
        if may_cause(transition, role) and role is not Role.APPLICANT
    )
    raise Forbidden(
        "wrong_role",
        Text(f"Tindakan ini hanya untuk {who}.", f"Only the {who_en} may do this."),
    )


def sees_contacts(officer: Officer) -> bool:
    """Whether the officer follows complaints up, and so may see a complainant's contact."""
    return any(may_cause(_FOLLOWING_UP, role) for role in officer.roles)


class ComplaintBook:
    def __init__(
        self,
        *,
        core: PipelineCore,
        deadlines: Deadlines,
        settings: OversightSection,
        contacts: ContactBook | None,
    ) -> None:
        self._core = core
        self._deadlines = deadlines
        self._days = settings.complaint_deadline_days
        self._contacts = contacts

    def watch_open(self) -> None:
        """After a restart: watch the deadline of every open complaint not escalated."""
        for row in self._core.register.open_complaints():
            if not row.escalated:
                self._deadlines.watch_complaint(row.number, row.due)

    # ------------------------------------------------------------ actions

    def record(self, officer: Officer, form: ComplaintForm) -> ComplaintView:
        core = self._core
        role = acting_role(officer, COMPLAINT_TRANSITIONS[EventType.COMPLAINT_RECEIVED])
        core.ensure_room()
        now = core.now()
        occurred = form.occurred_at
        if occurred is not None and occurred.tzinfo is None:
            occurred = occurred.replace(tzinfo=core.zone)
        if occurred is not None and occurred > now:
            raise Invalid(
                "complaint_in_future",
                Text(
                    "Waktu kejadian tidak boleh sesudah saat ini.",
                    "What is complained of cannot have happened later than now.",
                ),
            )
        due = complaint_due(now, form.category, core.calendar, self._days)
        contact_ref = self._keep_contact(form) if form.contact is not None else None
        number = complaint_number(now.year, core.register.last_complaint_serial(now.year) + 1)
        core.append(
            EventType.COMPLAINT_RECEIVED,
            {
                "number": number,
                "channel": form.channel,
                "lapor_id": form.lapor_id,
                "anonymous": contact_ref is None,
                "contact_ref": contact_ref,
                "occurred_at": occurred,
                "account": form.account,
                "standard": form.standard,
                "element": form.element,
                "remedy": form.remedy,
                "category": form.category,
                "due": due,
                "by": officer.actor(role),
            },
        )
        self._deadlines.watch_complaint(number, due)
        return self.view(officer, number)

    def verify(self, officer: Officer, number: str, form: VerifyForm) -> ComplaintView:
        core = self._core
        row = self._moving(officer, number, EventType.COMPLAINT_VERIFIED)
        role = acting_role(officer, COMPLAINT_TRANSITIONS[EventType.COMPLAINT_VERIFIED])
        received = self._received_at(row)
        due = complaint_due(received, form.category, core.calendar, self._days)
        core.append(
            EventType.COMPLAINT_VERIFIED,
            {
                "number": number,
                "category": form.category,
                "due": due,
                "standard": form.standard,
                "element": form.element,
                "note": form.note,
                "by": officer.actor(role),
            },
        )
        if not row.escalated:
            self._deadlines.watch_complaint(number, due)
        return self.view(officer, number)

    def follow_up(self, officer: Officer, number: str, form: FollowUpForm) -> ComplaintView:
        self._moving(officer, number, EventType.COMPLAINT_FOLLOWED_UP)
        role = acting_role(officer, _FOLLOWING_UP)
        self._core.append(
            EventType.COMPLAINT_FOLLOWED_UP,
            {"number": number, "action": form.action, "by": officer.actor(role)},
        )
        return self.view(officer, number)

    def close(self, officer: Officer, number: str, form: CloseForm) -> ComplaintView:
        self._moving(officer, number, EventType.COMPLAINT_CLOSED)
        role = acting_role(officer, COMPLAINT_TRANSITIONS[EventType.COMPLAINT_CLOSED])
        self._core.append(
            EventType.COMPLAINT_CLOSED,
            {"number": number, "outcome": form.outcome, "by": officer.actor(role)},
        )
        self._deadlines.cancel(complaint_watch(number))
        return self.view(officer, number)

    # ------------------------------------------------------------ reads

    def view(self, officer: Officer, number: str) -> ComplaintView:
        row = self._row(number)
        events = self._core.register.events_of(COMPLAINT_EVENTS, after=row.received_seq - 1)
        return self._view(officer, row, [e for e in events if e.data["number"] == number])

    def book(
        self, officer: Officer, *, state: ComplaintState | None = None, limit: int = 200
    ) -> list[ComplaintView]:
        """The newest first; each with its contact only for those who follow up."""
        rows = self._core.register.complaints(state=state, limit=limit)
        if not rows:
            return []
        first = min(row.received_seq for row in rows)
        by_number: dict[str, list[RegisterEvent]] = {row.number: [] for row in rows}
        for event in self._core.register.events_of(COMPLAINT_EVENTS, after=first - 1):
            if (found := by_number.get(event.data["number"])) is not None:
                found.append(event)
        return [self._view(officer, row, by_number[row.number]) for row in rows]

    # ------------------------------------------------------------ helpers

    def _keep_contact(self, form: ComplaintForm) -> str:
        assert form.contact is not None
        if self._contacts is None:
            raise _contacts_unavailable()
        try:
            return self._contacts.keep(form.contact)
        except ContactBookError as error:
            raise _contacts_unavailable() from error

    def _row(self, number: str) -> ComplaintRow:
        row = self._core.register.complaint(number)
        if row is None:
            raise NotFound(
                "unknown_complaint",
                Text(f"Pengaduan {number} tidak ada.", f"There is no complaint {number}."),
            )
        return row

    def _moving(self, officer: Officer, number: str, event: EventType) -> ComplaintRow:
        transition = COMPLAINT_TRANSITIONS[event]
        acting_role(officer, transition)
        row = self._row(number)
        if row.state not in transition.states:
            raise WrongState(
                "complaint_wrong_state",
                Text(
                    f"Pengaduan {number} sedang {_STATE_ID[row.state]}; tindakan ini tidak "
                    "berlaku.",
                    f"Complaint {number} is {row.state.value.replace('_', ' ')}; this does "
                    "not apply to it.",
                ),
            )
        return row

    def _received_at(self, row: ComplaintRow) -> datetime:
        event = self._core.register.event(row.received_seq)
        assert event is not None  # the derived row names the event that made it
        return datetime.fromisoformat(event.ts)

    def _view(
        self, officer: Officer, row: ComplaintRow, events: Iterable[RegisterEvent]
    ) -> ComplaintView:
        received: dict[str, Any] = {}
        verified: dict[str, Any] = {}
        followups: list[FollowUpView] = []
        closed: RegisterEvent | None = None
        received_at = datetime.fromisoformat("1970-01-01T00:00:00+00:00")
        for event in events:
            data = event.data
            if event.type == EventType.COMPLAINT_RECEIVED:
                received, received_at = data, datetime.fromisoformat(event.ts)
            elif event.type == EventType.COMPLAINT_VERIFIED:
                verified = data
            elif event.type == EventType.COMPLAINT_FOLLOWED_UP:
                followups.append(
                    FollowUpView(
                        at=datetime.fromisoformat(event.ts).astimezone(self._core.zone),
                        by=data["by"]["person"],
                        action=data["action"],
                    )
                )
            elif event.type == EventType.COMPLAINT_CLOSED:
                closed = event
        contact = None
        if row.contact_ref and self._contacts is not None and sees_contacts(officer):
            contact = self._contacts.get(row.contact_ref)
        zone = self._core.zone
        return ComplaintView(
            number=row.number,
            channel=row.channel,
            lapor_id=received.get("lapor_id"),
            anonymous=bool(received.get("anonymous", True)),
            contact=contact,
            received_at=received_at.astimezone(zone),
            received_by=received["by"]["person"],
            occurred_at=received.get("occurred_at"),
            account=received["account"],
            standard=verified.get("standard") or received.get("standard"),
            element=verified.get("element") or received.get("element"),
            remedy=received.get("remedy"),
            category=Category(row.category),
            due=row.due.astimezone(zone),
            state=row.state,
            overdue=row.state is not ComplaintState.CLOSED and self._core.now() >= row.due,
            escalated=row.escalated,
            note=verified.get("note"),
            followups=tuple(followups),
            outcome=closed.data["outcome"] if closed else None,
            closed_at=datetime.fromisoformat(closed.ts).astimezone(zone) if closed else None,
        )


_STATE_ID: Final = {
    ComplaintState.RECEIVED: "diterima",
    ComplaintState.VERIFIED: "diverifikasi",
    ComplaintState.FOLLOWED_UP: "ditindaklanjuti",
    ComplaintState.CLOSED: "selesai",
}


def _contacts_unavailable() -> Unavailable:
    return Unavailable(
        "contacts_unavailable",
        Text(
            "Kontak pelapor tidak dapat disimpan; tidak ada yang dicatat. Hubungi teknisi, "
            "atau catat sebagai anonim atas persetujuan pelapor.",
            "The complainant's contact cannot be stored; nothing was recorded. Call a "
            "technician, or record it as anonymous if the complainant agrees.",
        ),
    )
