"""The complaint book at the station: each channel, each status change under the
workflow's table and its roles, deadlines in working days by category on the office's
calendar, the overdue escalation on the injectable clock, the quarterly recap drafted,
approved by the Camat and published; and a complainant's contact in no event, shown only
to the section head."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from pydantic import ValidationError

from appliance.clock import ManualTimekeeper
from appliance.domain import (
    COMPLAINT_TRANSITIONS,
    RECAP_TRANSITIONS,
    ComplaintState,
    EventType,
    RecapState,
    Role,
    WorkingCalendar,
    may_cause,
    step_budgets,
)
from appliance.liveness import Liveness
from appliance.oversight import (
    Category,
    ContactBook,
    Element,
    OversightError,
    OversightSection,
    Period,
    complaint_due,
    figures,
)
from appliance.pipeline import (
    CloseForm,
    ComplaintForm,
    DeviceSteps,
    FollowUpForm,
    Forbidden,
    Invalid,
    Officer,
    PipelineSection,
    RecapForm,
    StepWork,
    VerifyForm,
    WrongState,
)
from appliance.pipeline._complaints import ComplaintBook
from appliance.pipeline._core import PipelineCore
from appliance.pipeline._deadlines import Deadlines
from appliance.pipeline._recaps import RecapDesk
from appliance.register import Event, InvalidEvent, Register, StationKey

ZONE = ZoneInfo("Asia/Jakarta")
SITI = Officer(person="siti", roles=frozenset({Role.COUNTER_OFFICER}))
BUDI = Officer(person="budi", roles=frozenset({Role.SECTION_HEAD}))
EKO = Officer(person="eko", roles=frozenset({Role.OPERATOR}))
CAMAT = Officer(person="camat", roles=frozenset({Role.SUPERVISOR}))
START = datetime(2025, 12, 15, 10, 0, tzinfo=ZONE)  # a Monday, in Q4 2025
CONTACT = {"name": "Sri Wahyuni", "phone": "0812 3456 7890", "address": "Jl. Mawar 3"}


def _calendar() -> WorkingCalendar:
    settings = PipelineSection()
    return WorkingCalendar(
        working_days=settings.working_days,
        opening=settings.opening,
        closing=settings.closing,
        holidays=(),
        zone=ZONE,
    )


@dataclass
class Desk:
    clock: ManualTimekeeper
    register: Register
    book: ComplaintBook
    recaps: RecapDesk
    written: asyncio.Queue[Event]

    def events(self) -> list[Event]:
        return list(self.register.events())

    async def next_event(self, kind: EventType) -> Event:
        async with asyncio.timeout(5):
            while (event := await self.written.get()).type != kind:
                pass
        return event


@pytest_asyncio.fixture
async def desk(tmp_path: Path, station_key: StationKey) -> AsyncIterator[Desk]:
    clock = ManualTimekeeper(wall_ns=int(START.timestamp() * 1e9))
    with (
        Register.open(
            tmp_path / "register.sqlite3", station_id="lumajang-01", key=station_key, clock=clock
        ) as register,
        ContactBook.open(tmp_path / "contacts.sqlite3") as contacts,
    ):
        written: asyncio.Queue[Event] = asyncio.Queue()

        def heard(events: Sequence[Event]) -> None:
            for event in events:
                written.put_nowait(event)

        register.add_listener(heard)
        core = PipelineCore(
            register=register,
            clock=clock,
            settings=PipelineSection(),
            budgets=step_budgets(),
            zone=ZONE,
            devices={},
            device_steps=DeviceSteps(biometric=(), encode_print=(), activate=(), handover=()),
            work=cast(StepWork, None),
            liveness=Liveness(),
            disk=None,
            calendar=_calendar(),
        )
        deadlines = Deadlines(core=core)
        book = ComplaintBook(
            core=core, deadlines=deadlines, settings=OversightSection(), contacts=contacts
        )
        async with asyncio.TaskGroup() as tasks:
            core.tasks = tasks
            yield Desk(clock, register, book, RecapDesk(core=core), written)
            for task in tasks._tasks:
                task.cancel()


def _form(**values: Any) -> ComplaintForm:
    return ComplaintForm.model_validate(
        {"channel": "meja_informasi", "account": "Antrean tidak dipanggil urut.", **values}
    )


@pytest.mark.asyncio
async def test_each_channel_is_written_into_the_book_with_its_number_and_deadline(
    desk: Desk,
) -> None:
    desk_ = desk.book.record(SITI, _form(contact=CONTACT, element="U7", standard="prosedur"))
    box = desk.book.record(
        SITI,
        _form(channel="kotak_saran", account="Kursi ruang tunggu kurang.", category="normatif"),
    )
    phone = desk.book.record(BUDI, _form(channel="telepon", contact={"phone": "081234567890"}))
    lapor = desk.book.record(
        EKO, _form(channel="lapor", lapor_id="#2512345678", category="kompleks")
    )
    assert [c.number for c in (desk_, box, phone, lapor)] == [
        "ADU-2025-0001",
        "ADU-2025-0002",
        "ADU-2025-0003",
        "ADU-2025-0004",
    ]
    assert [c.channel.value for c in (desk_, box, phone, lapor)] == [
        "meja_informasi",
        "kotak_saran",
        "telepon",
        "lapor",
    ]
    assert (desk_.anonymous, box.anonymous, phone.anonymous, lapor.anonymous) == (
        False,
        True,
        False,
        True,
    )
    assert lapor.lapor_id == "#2512345678"
    assert desk_.state is ComplaintState.RECEIVED
    assert desk_.received_by == "siti"
    # Monday 10:00: minor 2 working days -> Wednesday; normative 5 -> next Monday;
    # complex 14 -> past Christmas (Thursday 25th, a public holiday) and two weekends.
    assert desk_.due == datetime(2025, 12, 17, 10, 0, tzinfo=ZONE)
    assert box.due == datetime(2025, 12, 22, 10, 0, tzinfo=ZONE)
    assert lapor.due == datetime(2026, 1, 6, 10, 0, tzinfo=ZONE)


def test_deadlines_count_working_days_on_the_offices_calendar() -> None:
    calendar = _calendar()
    wednesday = datetime(2025, 12, 24, 10, 0, tzinfo=ZONE)
    # Thursday the 25th is Christmas; Friday, then Monday.
    assert complaint_due(wednesday, Category.RINGAN, calendar) == datetime(
        2025, 12, 29, 10, 0, tzinfo=ZONE
    )
    # A complaint written in after closing counts from the next opening.
    evening = datetime(2025, 12, 15, 17, 30, tzinfo=ZONE)
    assert complaint_due(evening, Category.RINGAN, calendar) == datetime(
        2025, 12, 18, 8, 0, tzinfo=ZONE
    )
    # The configuration takes precedence: a cuti bersama is a day off, and a day the
    # package calls a holiday is a working day when the office opens on it.
    cuti = WorkingCalendar(
        working_days=(1, 2, 3, 4, 5),
        opening=time(8),
        closing=time(15),
        holidays=(date(2025, 12, 26),),
        open_days=(date(2025, 12, 25),),
        zone=ZONE,
    )
    assert complaint_due(wednesday, Category.RINGAN, cuti) == datetime(
        2025, 12, 29, 10, 0, tzinfo=ZONE
    )
    assert cuti.is_working_day(date(2025, 12, 25))
    assert not cuti.is_working_day(date(2025, 12, 26))
    days = {**OversightSection().complaint_deadline_days, Category.RINGAN: 1}
    assert complaint_due(wednesday, Category.RINGAN, calendar, days) == datetime(
        2025, 12, 26, 10, 0, tzinfo=ZONE
    )
    assert OversightSection.model_validate(
        {"complaint_deadline_days": {"kompleks": 10}}
    ).complaint_deadline_days == {
        Category.RINGAN: 2,
        Category.NORMATIF: 5,
        Category.KOMPLEKS: 10,
        Category.INVESTIGASI: 60,
    }


@pytest.mark.asyncio
async def test_each_status_change_by_its_role_and_in_its_order(desk: Desk) -> None:
    number = desk.book.record(SITI, _form()).number
    for officer in (SITI, EKO, CAMAT):
        with pytest.raises(Forbidden):
            desk.book.verify(officer, number, VerifyForm(category=Category.NORMATIF))
    with pytest.raises(WrongState) as early:
        desk.book.close(BUDI, number, CloseForm(outcome="Selesai."))
    assert early.value.code == "complaint_wrong_state"
    verified = desk.book.verify(
        BUDI, number, VerifyForm(category=Category.NORMATIF, element=Element.U2, note="Benar.")
    )
    assert (verified.state, verified.category) == (ComplaintState.VERIFIED, Category.NORMATIF)
    assert verified.due == datetime(2025, 12, 22, 10, 0, tzinfo=ZONE)  # 5 days from receipt
    with pytest.raises(Forbidden):
        desk.book.follow_up(CAMAT, number, FollowUpForm(action="Dicek."))
    desk.book.follow_up(BUDI, number, FollowUpForm(action="Petugas loket diberi arahan."))
    followed = desk.book.follow_up(BUDI, number, FollowUpForm(action="Papan alur dipasang."))
    assert followed.state is ComplaintState.FOLLOWED_UP
    assert [(f.by, f.action) for f in followed.followups] == [
        ("budi", "Petugas loket diberi arahan."),
        ("budi", "Papan alur dipasang."),
    ]
    closed = desk.book.close(BUDI, number, CloseForm(outcome="Pelapor puas dengan penjelasan."))
    assert (closed.state, closed.outcome) == (
        ComplaintState.CLOSED,
        "Pelapor puas dengan penjelasan.",
    )
    head = desk.register.head()
    with pytest.raises(WrongState):
        desk.book.follow_up(BUDI, number, FollowUpForm(action="Lagi."))
    assert desk.register.head() == head
    # The register itself refuses a move the table does not have.
    with pytest.raises(InvalidEvent):
        desk.register.append(
            EventType.COMPLAINT_VERIFIED,
            {
                "number": number,
                "category": "ringan",
                "due": "2025-12-17T10:00:00+07:00",
                "by": {"role": "kasi_yanmum", "person": "budi"},
            },
        )
    assert desk.register.head() == head


def test_the_table_says_who_may_do_what_and_the_supervisor_serves_no_applicant() -> None:
    received = COMPLAINT_TRANSITIONS[EventType.COMPLAINT_RECEIVED]
    follow = COMPLAINT_TRANSITIONS[EventType.COMPLAINT_FOLLOWED_UP]
    assert {r for r in Role if may_cause(received, r)} == {
        Role.COUNTER_OFFICER,
        Role.SECTION_HEAD,
        Role.OPERATOR,
    }
    assert {r for r in Role if may_cause(follow, r)} == {Role.SECTION_HEAD}
    assert {r for r in Role if may_cause(RECAP_TRANSITIONS[EventType.RECAP_APPROVED], r)} == {
        Role.SUPERVISOR
    }


@pytest.mark.asyncio
async def test_an_overdue_complaint_is_escalated_to_the_section_head_once(desk: Desk) -> None:
    late = desk.book.record(SITI, _form()).number  # minor: due Wednesday 10:00
    done = desk.book.record(SITI, _form(account="Petugas tidak ramah.")).number
    desk.book.verify(BUDI, done, VerifyForm(category=Category.RINGAN))
    desk.book.follow_up(BUDI, done, FollowUpForm(action="Teguran lisan."))
    desk.book.close(BUDI, done, CloseForm(outcome="Selesai."))
    assert not desk.book.view(BUDI, late).overdue
    desk.clock.advance(47 * 3600)  # Wednesday 09:00: not yet
    await asyncio.sleep(0)
    assert desk.register.complaint(late).escalated is False  # type: ignore[union-attr]
    desk.clock.advance(3600)  # Wednesday 10:00: due
    escalated = await desk.next_event(EventType.COMPLAINT_ESCALATED)
    assert escalated.data == {
        "number": late,
        "due": "2025-12-17T10:00:00+07:00",
        "to": "kasi_yanmum",
    }
    view = desk.book.view(BUDI, late)
    assert view.escalated
    assert view.overdue
    assert view.state is ComplaintState.RECEIVED
    desk.clock.advance(30 * 86_400)
    await asyncio.sleep(0)
    kinds = [e.type for e in desk.events()]
    assert kinds.count(EventType.COMPLAINT_ESCALATED) == 1  # once, and not the closed one


@pytest.mark.asyncio
async def test_the_contact_is_in_no_event_and_only_the_section_head_sees_it(
    desk: Desk, tmp_path: Path
) -> None:
    number = desk.book.record(SITI, _form(contact=CONTACT)).number
    for event in desk.events():
        text = json.dumps(event.to_wire())
        assert "Sri Wahyuni" not in text
        assert "0812 3456 7890" not in text
        assert "Mawar" not in text
    received = next(e for e in desk.events() if e.type == EventType.COMPLAINT_RECEIVED)
    assert received.data["anonymous"] is False
    assert len(received.data["contact_ref"]) == 32
    contact = desk.book.view(BUDI, number).contact
    assert contact is not None
    assert contact.name == "Sri Wahyuni"
    for officer in (SITI, EKO, CAMAT):
        assert desk.book.view(officer, number).contact is None
        assert all(view.contact is None for view in desk.book.book(officer))
    assert desk.book.book(BUDI)[0].contact == contact
    assert (tmp_path / "contacts.sqlite3").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize(
    ("values", "code"),
    [
        ({"account": ""}, "complaint_text_missing"),
        ({"account": "   "}, "complaint_text_missing"),
        ({"account": "Hubungi saya di 0812-3456-7890."}, "complaint_text_has_number"),
        ({"account": "NIK saya 3508011708900116 salah."}, "complaint_text_has_number"),
        ({"channel": "lapor"}, "lapor_id_mismatch"),
        ({"lapor_id": "#123"}, "lapor_id_mismatch"),
        ({"contact": {"address": "Jl. Mawar"}}, "contact_empty"),
    ],
)
def test_a_complaint_that_breaks_a_rule_is_refused_at_its_field(
    values: dict[str, Any], code: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        _form(**values)
    (error,) = refused.value.errors()
    cause = error["ctx"]["error"]
    assert isinstance(cause, OversightError)
    assert cause.code == code
    assert cause.text.id


@pytest.mark.asyncio
async def test_the_quarterly_recap_drafted_approved_by_the_camat_and_published(
    desk: Desk,
) -> None:
    first = desk.book.record(SITI, _form(contact=CONTACT)).number
    desk.book.record(SITI, _form(channel="kotak_saran", element="U9", category="normatif"))
    desk.book.verify(BUDI, first, VerifyForm(category=Category.RINGAN))
    desk.book.follow_up(BUDI, first, FollowUpForm(action="Diperbaiki."))
    desk.clock.advance(3600)
    desk.book.close(BUDI, first, CloseForm(outcome="Selesai."))
    desk.clock.advance(18 * 86_400)  # 2026-01-02
    await desk.next_event(EventType.COMPLAINT_ESCALATED)  # the suggestion-box slip's
    form = RecapForm.model_validate(
        {"period": "2025-Q4", "improvements": ["Kursi ruang tunggu ditambah."]}
    )
    drafted = desk.recaps.draft(SITI, form)
    assert (drafted.state, drafted.version) == (RecapState.DRAFTED, 1)
    counts = drafted.counts
    assert counts["received"] == 2
    assert counts["closed"] == 1
    assert counts["closed_on_time"] == 1
    assert counts["by_channel"] == {
        "meja_informasi": 1,
        "kotak_saran": 1,
        "telepon": 0,
        "lapor": 0,
    }
    assert counts["by_status"]["closed"] == 1
    assert counts["by_status"]["received"] == 1
    assert counts["by_element"]["U9"] == 1
    assert counts["escalated"] == 1  # the suggestion-box slip, past its 5 working days
    assert counts["mean_days_to_close"] == {"shown": "0.04", "exact": "1/24"}
    # What was drafted is what anyone recomputes from the events up to `as_of_seq`.
    recomputed = figures(
        (e for e in desk.events() if e.seq <= drafted.as_of_seq), Period.parse("2025-Q4"), ZONE
    )
    assert recomputed.complaints.received == 2
    assert recomputed.complaints.escalated == 1
    assert desk.recaps.published() is None
    with pytest.raises(WrongState) as unapproved:
        desk.recaps.publish(BUDI, "2025-Q4")
    assert unapproved.value.code == "recap_not_approved"
    redrafted = desk.recaps.draft(BUDI, form)
    assert redrafted.version == 2
    for officer in (SITI, BUDI, EKO):
        with pytest.raises(Forbidden):
            desk.recaps.approve(officer, "2025-Q4")
    approved = desk.recaps.approve(CAMAT, "2025-Q4")
    assert (approved.state, approved.approved_by, approved.version) == (
        RecapState.APPROVED,
        "camat",
        2,
    )
    with pytest.raises(WrongState) as settled:
        desk.recaps.draft(SITI, form)
    assert settled.value.code == "recap_settled"
    published = desk.recaps.publish(CAMAT, "2025-Q4")
    assert published.state is RecapState.PUBLISHED
    board = desk.recaps.published()
    assert board is not None
    assert board.improvements == ("Kursi ruang tunggu ditambah.",)
    text = board.model_dump_json()
    for private in ("Sri Wahyuni", "0812 3456 7890", "Mawar", "siti", "budi", "camat", "Antrean"):
        assert private not in text


@pytest.mark.asyncio
async def test_figures_are_for_the_section_head_and_the_leadership(desk: Desk) -> None:
    period = Period.parse("2025-Q4")
    assert desk.recaps.figures(CAMAT, period)["period"] == "2025-Q4"
    assert desk.recaps.figures(BUDI, period)["complaints"]["received"] == 0
    for officer in (SITI, EKO):
        with pytest.raises(Forbidden):
            desk.recaps.figures(officer, period)


def test_a_period_given_to_the_figures_is_iterated_once() -> None:
    """The events may be a generator read once (the register's chunked read)."""
    assert figures(iter(()), Period.parse("2026"), ZONE).survey.respondents == 0


@pytest.mark.asyncio
async def test_a_recap_is_of_an_ended_quarter_and_drafted_by_the_information_officer(
    desk: Desk,
) -> None:
    form = RecapForm.model_validate({"period": "2025-Q4"})
    with pytest.raises(WrongState) as early:
        desk.recaps.draft(SITI, form)
    assert early.value.code == "recap_too_early"
    desk.clock.advance(18 * 86_400)  # 2026-01-02
    for officer in (EKO, CAMAT):
        with pytest.raises(Forbidden):
            desk.recaps.draft(officer, form)
    with pytest.raises(Invalid) as wrong:
        desk.recaps.draft(SITI, RecapForm.model_validate({"period": "2025-12"}))
    assert wrong.value.code == "recap_not_a_quarter"
    assert desk.recaps.draft(SITI, form).counts["received"] == 0
