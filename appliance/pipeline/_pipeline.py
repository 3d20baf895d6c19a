"""The SOP pipeline: every application a durable state machine whose states are the
register's, with the SOP's minutes as step budgets.

Each officer's action is checked against the application's derived state, then written
to the register as the transition itself, and only then acknowledged: a restart resumes
from exactly what the register says. Between that check and the append there is no
`await`, so two actions on the event loop cannot interleave inside one transition.

People and devices are claimed by the step that uses them (`Claims`): a device step
holds its devices for its whole run, a person's step holds that person. The encode and
print step needs no person, which is what lets the printer work on one applicant while
the operator records the next.

Device steps run as tasks under a cancel scope of their budget; a person's step that
overruns is recorded as a breach (escalated to the section head through the live
events) and goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from appliance._text import Text
from appliance.clock import Timekeeper, boot_id
from appliance.diskspace import MIB, DiskSpace
from appliance.domain import (
    Document,
    DomainError,
    RequirementProfile,
    Role,
    ServiceType,
    Step,
    StepKind,
    check_new_card_eligibility,
    check_nik_matches,
    mask_nik,
    missing_documents,
)
from appliance.hal import Device, DeviceError, DeviceState, DeviceStatus
from appliance.issuance import ActivationRefused, CardSpoiled, NoCardToActivate, WrongCard
from appliance.liveness import Liveness
from appliance.logs import get_logger
from appliance.register import (
    ApplicationSubmitted,
    BlankStock,
    EventType,
    InvalidEvent,
    Register,
    RegisterFull,
    Transaction,
)
from appliance.register import Event as RegisterEvent

from ._calendar import WorkingCalendar
from ._claims import Claims
from ._errors import Busy, Forbidden, Invalid, NotFound, PipelineError, Unavailable, WrongState
from ._forms import Officer, SubmitForm
from ._records import PersonRecords
from ._settings import PipelineSection
from ._views import (
    ApplicationView,
    CardView,
    FailureView,
    QueueFigures,
    QueueView,
    TicketView,
)
from ._work import StepFailure, StepWork, card_holder

log = get_logger(__name__)

STEP_ROLE: Final[Mapping[Step, Role]] = {
    Step.SUBMIT: Role.COUNTER_OFFICER,
    Step.CHECK: Role.COUNTER_OFFICER,
    Step.VALIDATE: Role.SECTION_HEAD,
    Step.BIOMETRIC: Role.OPERATOR,
    Step.ENCODE_PRINT: Role.OPERATOR,
    Step.ACTIVATE: Role.OPERATOR,
    Step.TRANSFER: Role.OPERATOR,
    Step.HANDOVER: Role.COUNTER_OFFICER,
}
"""Who starts each step (the encode and print step starts by itself; the operator may
start it again after a failure)."""

_TICKET_LETTERS: Final = {
    ServiceType.BARU: "A",
    ServiceType.PINDAH_DATANG: "B",
    ServiceType.HILANG: "C",
    ServiceType.RUSAK: "D",
    ServiceType.PERUBAHAN_DATA: "E",
}
_INTERRUPTED: Final = "interrupted"
_LOOP: Final = "pipeline"
"""The loop the watchdog watches: the encode-and-print worker, the pipeline's own."""
_BUDGET_EXCEEDED: Final = "budget_exceeded"
_OPEN: Final = "('in_progress', 'waiting_blank')"


@dataclass(frozen=True, slots=True)
class DeviceSteps:
    """The devices each device step holds, by configured name."""

    biometric: tuple[str, ...]
    encode_print: tuple[str, ...]
    activate: tuple[str, ...]
    handover: tuple[str, ...]

    def of(self, step: Step) -> tuple[str, ...]:
        return {
            Step.BIOMETRIC: self.biometric,
            Step.ENCODE_PRINT: self.encode_print,
            Step.ACTIVATE: self.activate,
            Step.HANDOVER: self.handover,
        }.get(step, ())


class Pipeline:
    def __init__(
        self,
        *,
        register: Register,
        clock: Timekeeper,
        settings: PipelineSection,
        budgets: Mapping[Step, timedelta],
        requirements: RequirementProfile,
        zone: ZoneInfo,
        office: str,
        devices: Mapping[str, Device],
        device_steps: DeviceSteps,
        work: StepWork,
        records: PersonRecords,
        liveness: Liveness | None = None,
        disk: DiskSpace | None = None,
    ) -> None:
        self._register = register
        self._disk = disk
        self._liveness = liveness or Liveness()
        self._clock = clock
        self._settings = settings
        self._budgets = dict(budgets)
        self._requirements = requirements
        self._zone = zone
        self._office = office
        self._devices = devices
        self._device_steps = device_steps
        self._work = work
        self._records = records
        self._calendar = WorkingCalendar(
            working_days=settings.working_days,
            opening=settings.opening,
            closing=settings.closing,
            holidays=settings.holidays,
            zone=zone,
        )
        self._claims = Claims()
        self._tasks: asyncio.TaskGroup | None = None
        self._watchers: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._needs_operator: dict[str, FailureView] = {}
        self._encode_wake = asyncio.Event()
        self.ready = asyncio.Event()

    # ================================================================ lifecycle

    async def run(self) -> None:
        """Recover what a restart left open, then run the background work until cancelled."""
        # The worker's rounds are short: three idle periods without one is a stuck loop.
        self._liveness.register(_LOOP, allowance_s=3 * self._liveness.period_s)
        async with asyncio.TaskGroup() as tasks:
            self._tasks = tasks
            await self._recover()
            tasks.create_task(self._encode_print_worker(), name="pipeline-encode-print")
            for device in self._devices.values():
                device.add_listener(self._on_device_status)
            self.ready.set()
            log.info("pipeline_ready")

    def _on_device_status(self, _device: Device, _status: DeviceStatus) -> None:
        self._encode_wake.set()  # a printer back to READY may take the next card

    async def _recover(self) -> None:
        try:
            await self._work.recover()
        except DeviceError as error:
            # The printer is not there yet: its cards stay open, and the issuer closes
            # them before it feeds the next card.
            log.warning("card_recovery_deferred", error=str(error))
        for row in self._open_rows():
            app, step = row["application_id"], Step(row["step"])
            if row["phase"] == "active":
                if step.spec.kind is StepKind.DEVICE:
                    self._append_step_failure(
                        app, step, _INTERRUPTED, "the station restarted during the step", 0
                    )
                    continue
                self._claims.take(app, row["active_by"], self._device_steps.of(step))
                started = self._register.event(row["phase_seq"])
                self._watch_budget(app, step, row["phase_seq"], self._elapsed_s(started))
            elif step is Step.ENCODE_PRINT:
                failure = self._failure_of(row)
                if failure is not None and failure.code != _INTERRUPTED:
                    self._needs_operator[app] = failure
            self._watch_promise(app, row["submitted_seq"])
        for ticket in self._register.query(
            "SELECT day, ticket, updated_seq FROM queue WHERE state = 'called'"
        ):
            event = self._register.event(ticket["updated_seq"])
            self._watch_no_show(date.fromisoformat(ticket["day"]), ticket["ticket"], event)
        self._encode_wake.set()

    def _spawn(self, coroutine: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        if self._tasks is None:
            coroutine.close()
            raise Unavailable(
                "pipeline_not_running",
                Text("Layanan belum siap; coba lagi.", "The service is not ready; try again."),
            )
        return self._tasks.create_task(coroutine, name=name)

    # ================================================================ queue

    async def issue_ticket(self, officer: Officer, service: ServiceType) -> TicketView:
        """A ticket recorded, then printed: a failed print leaves a ticket the counter can
        still call by its number (`printed` is false)."""
        del officer  # any logged-in officer (the counter's kiosk) hands out tickets
        view = self.issue_ticket_record(service)
        printed = await self._work.print_ticket(
            number=view.ticket, service=service, issued_at=self.now()
        )
        return view.model_copy(update={"printed": printed})

    def issue_ticket_record(self, service: ServiceType) -> TicketView:
        """Record a new ticket for `service`; numbered per service and per day."""
        self._ensure_room()
        day = self.today()
        letter = _TICKET_LETTERS[service]
        count = self._register.query(
            "SELECT count(*) AS n FROM queue WHERE day = ? AND service = ?",
            day.isoformat(),
            service.value,
        )[0]["n"]
        number = count + 1
        ticket = f"{letter}-{number:03d}"
        self._append(
            EventType.QUEUE_TICKET_ISSUED,
            {"day": day, "ticket": ticket, "service": service, "number": number},
        )
        return self.ticket(ticket)

    def call_next(
        self, officer: Officer, *, counter: str, service: ServiceType | None = None
    ) -> TicketView:
        self._require(officer, Role.COUNTER_OFFICER)
        self._require_counter(counter)
        day = self.today()
        rows = self._register.query(
            "SELECT ticket, issued_seq FROM queue WHERE day = ? AND state = 'waiting' "
            "AND (? IS NULL OR service = ?) ORDER BY issued_seq LIMIT 1",
            day.isoformat(),
            service,
            service,
        )
        if not rows:
            raise NotFound(
                "queue_empty",
                Text("Tidak ada nomor antrian yang menunggu.", "No ticket is waiting."),
            )
        ticket = rows[0]["ticket"]
        waited = self._elapsed_s(self._register.event(rows[0]["issued_seq"]))
        event = self._append(
            EventType.QUEUE_CALLED,
            {
                "day": day,
                "ticket": ticket,
                "counter": counter,
                "waited_ms": round(waited * 1000),
                "by": officer.actor(Role.COUNTER_OFFICER),
            },
        )
        self._watch_no_show(day, ticket, event)
        return self.ticket(ticket)

    def recall(self, officer: Officer, ticket: str, *, counter: str) -> TicketView:
        self._require(officer, Role.COUNTER_OFFICER)
        self._require_counter(counter)
        view = self.ticket(ticket)
        if view.state not in ("called", "no_show"):
            raise WrongState(
                "ticket_not_called",
                Text(
                    f"Nomor {ticket} belum dipanggil atau sudah dilayani.",
                    f"Ticket {ticket} has not been called, or was served already.",
                ),
            )
        event = self._append(
            EventType.QUEUE_RECALLED,
            {
                "day": view.day,
                "ticket": ticket,
                "counter": counter,
                "by": officer.actor(Role.COUNTER_OFFICER),
            },
        )
        self._watch_no_show(view.day, ticket, event)
        return self.ticket(ticket)

    def mark_no_show(self, officer: Officer | None, ticket: str) -> TicketView:
        if officer is not None:
            self._require(officer, Role.COUNTER_OFFICER)
        view = self.ticket(ticket)
        if view.state != "called":
            raise WrongState(
                "ticket_not_called",
                Text(f"Nomor {ticket} tidak sedang dipanggil.", f"Ticket {ticket} is not called."),
            )
        by = officer.actor(Role.COUNTER_OFFICER) if officer else None
        self._append(EventType.QUEUE_NO_SHOW, {"day": view.day, "ticket": ticket, "by": by})
        return self.ticket(ticket)

    def ticket(self, ticket: str, *, day: date | None = None) -> TicketView:
        rows = self._register.query(
            "SELECT * FROM queue WHERE day = ? AND ticket = ?",
            (day or self.today()).isoformat(),
            ticket,
        )
        if not rows:
            raise NotFound(
                "unknown_ticket",
                Text(
                    f"Nomor antrian {ticket} tidak ada hari ini.",
                    f"There is no ticket {ticket} today.",
                ),
            )
        return self._ticket_view(rows[0])

    def queue(self) -> QueueView:
        day = self.today()
        rows = self._register.query(
            "SELECT * FROM queue WHERE day = ? ORDER BY issued_seq", day.isoformat()
        )
        tickets = tuple(self._ticket_view(row) for row in rows)
        waits = [t.waited_s for t in tickets]
        states = [t.state for t in tickets]
        figures = QueueFigures(
            waiting=states.count("waiting"),
            called=states.count("called"),
            served=states.count("served"),
            no_show=states.count("no_show"),
            mean_wait_s=sum(waits) / len(waits) if waits else 0.0,
            max_wait_s=max(waits, default=0.0),
        )
        return QueueView(day=day, tickets=tickets, figures=figures)

    def _ticket_view(self, row: Mapping[str, Any]) -> TicketView:
        if row["called_seq"] is None:
            waited = self._elapsed_s(self._register.event(row["issued_seq"]))
        else:
            called = self._register.event(row["called_seq"])
            waited = (called.data.get("waited_ms") or 0) / 1000 if called else 0.0
        return TicketView(
            day=date.fromisoformat(row["day"]),
            ticket=row["ticket"],
            service=row["service"],
            number=row["number"],
            state=row["state"],
            counter=row["counter"],
            calls=row["calls"],
            application=row["application_id"],
            waited_s=waited,
        )

    def _watch_no_show(self, day: date, ticket: str, call: RegisterEvent | None) -> None:
        minutes = self._settings.no_show_minutes
        remaining = minutes * 60 - self._elapsed_s(call)
        key = ("ticket", f"{day}/{ticket}")
        call_seq = call.seq if call else 0

        async def watch() -> None:
            await self._clock.sleep(max(0.0, remaining))
            rows = self._register.query(
                "SELECT state, updated_seq FROM queue WHERE day = ? AND ticket = ?",
                day.isoformat(),
                ticket,
            )
            if rows and rows[0]["state"] == "called" and rows[0]["updated_seq"] == call_seq:
                self._append(EventType.QUEUE_NO_SHOW, {"day": day, "ticket": ticket})
                log.info("ticket_no_show", ticket=ticket)

        self._replace_watcher(key, watch())

    # ================================================================ applications

    async def submit(self, officer: Officer, form: SubmitForm) -> ApplicationView:
        """Step 1: the file handed in at the counter, for a ticket called there."""
        self._require(officer, Role.COUNTER_OFFICER)
        self._ensure_room()
        day = self.today()
        ticket = self.ticket(form.ticket, day=day)
        if ticket.state != "called":
            raise WrongState(
                "ticket_not_called",
                Text(
                    f"Nomor {form.ticket} belum dipanggil ke loket atau sudah dilayani.",
                    f"Ticket {form.ticket} has not been called to a counter, or was served.",
                ),
            )
        data = form.model_dump(mode="json", exclude={"ticket"})
        data |= {"ticket": form.ticket, "ticket_day": day}
        data["by"] = officer.actor(Role.COUNTER_OFFICER)
        self._refuse_unprintable(data, day)
        count = self._register.query(
            "SELECT count(*) AS n FROM applications WHERE application_id LIKE ?",
            f"{day:%Y%m%d}-%",
        )[0]["n"]
        app = f"{day:%Y%m%d}-{count + 1:04d}"
        called = self._register.event(self._ticket_row(day, form.ticket)["updated_seq"])
        with self._transaction() as txn:
            submitted = txn.append(EventType.APPLICATION_SUBMITTED, data, application_id=app)
            txn.append(
                EventType.STEP_FINISHED,
                {
                    "step": Step.SUBMIT,
                    "duration_ms": round(self._elapsed_s(called) * 1000),
                    "by": officer.actor(Role.COUNTER_OFFICER),
                },
                application_id=app,
            )
            txn.append(EventType.APPLICATION_ADVANCED, {"step": Step.CHECK}, application_id=app)
        self._cancel_watcher(("ticket", f"{day}/{form.ticket}"))
        self._watch_promise(app, submitted.seq)
        log.info("application_submitted", application=app, nik=mask_nik(form.nik))
        return self.application(app)

    def _refuse_unprintable(self, data: Mapping[str, Any], day: date) -> None:
        try:
            card_holder(ApplicationSubmitted.model_validate(data), self._settings, today=day)
        except ValidationError as error:
            fields = ", ".join(".".join(map(str, e["loc"])) for e in error.errors())
            raise Invalid(
                "unprintable_data",
                Text(
                    f"Data ini tidak dapat dicetak pada KTP-el: {fields}.",
                    f"This data cannot be printed on a KTP-el: {fields}.",
                ),
            ) from None

    async def start_step(self, officer: Officer, app: str, step: Step) -> ApplicationView:
        """Give the step its person and devices; a device step then runs by itself."""
        if step is Step.SUBMIT:
            raise WrongState(
                "submit_has_no_start",
                Text(
                    "Pengajuan berkas dicatat dengan menyerahkan formulir.",
                    "Submission is recorded by handing in the form.",
                ),
            )
        role = STEP_ROLE[step]
        self._require(officer, role)
        row = self._row(app)
        self._require_waiting(row, step)
        waiting_blank = row["state"] == "waiting_blank"
        if waiting_blank and self._register.blank_stock().available <= 0:
            raise Unavailable("no_blank_card", _NO_BLANK)
        person = None if step is Step.ENCODE_PRINT else officer.person
        devices = self._device_steps.of(step)
        if step.spec.kind is StepKind.DEVICE:
            self._require_devices_ready(devices)
        self._claims.check(app, person, devices)
        self._begin(app, step, officer.actor(role), person, devices)
        return self.application(app)

    def _begin(
        self,
        app: str,
        step: Step,
        actor: dict[str, str] | None,
        person: str | None,
        devices: tuple[str, ...],
    ) -> None:
        started = self._append(
            EventType.STEP_STARTED,
            {"step": step, "by": actor, "devices": devices},
            application_id=app,
        )
        self._claims.take(app, person, devices)
        self._needs_operator.pop(app, None)
        if step.spec.kind is StepKind.DEVICE:
            self._spawn(self._run_device_step(app, step, actor), name=f"step-{step}-{app}")
        else:
            self._watch_budget(app, step, started.seq, 0.0)

    async def check(
        self, officer: Officer, app: str, documents: tuple[Document, ...]
    ) -> ApplicationView:
        """Step 2: the counter checks the file is complete; if not, it goes back."""
        row = self._active(officer, app, Step.CHECK)
        missing = missing_documents(row["service"], documents, self._requirements)
        with self._finishing(app, Step.CHECK, officer, row) as txn:
            if missing:
                txn.append(
                    EventType.APPLICATION_RETURNED,
                    {
                        "step": Step.CHECK,
                        "reason": "berkas belum lengkap / incomplete file",
                        "missing_documents": missing,
                        "by": officer.actor(Role.COUNTER_OFFICER),
                    },
                    application_id=app,
                )
            else:
                txn.append(
                    EventType.APPLICATION_ADVANCED, {"step": Step.VALIDATE}, application_id=app
                )
        return self.application(app)

    async def validate(
        self, officer: Officer, app: str, *, valid: bool, reason: str | None
    ) -> ApplicationView:
        """Step 3: the section head validates the file against the rules and the central
        records; someone recorded before skips the biometric step."""
        row = self._active(officer, app, Step.VALIDATE)
        submitted = self._work.submitted(app)
        problem = _rule_broken(submitted, self.today()) if valid else None
        if not valid and not reason:
            raise Invalid(
                "reason_required",
                Text("Sebutkan alasan berkas tidak valid.", "Say why the file is not valid."),
            )
        recorded = False
        if valid and problem is None:
            try:
                recorded = await self._records.lookup(submitted.nik) is not None
            except Exception as error:
                raise Unavailable(
                    "records_unavailable",
                    getattr(error, "text", None)
                    or Text(
                        "Data pusat tidak dapat dihubungi.", "The central records are unreachable."
                    ),
                ) from error
            row = self._active(officer, app, Step.VALIDATE)  # still so after the wait
        with self._finishing(app, Step.VALIDATE, officer, row) as txn:
            if not valid or problem is not None:
                txn.append(
                    EventType.APPLICATION_RETURNED,
                    {
                        "step": Step.VALIDATE,
                        "reason": (reason or (problem.text.id if problem else ""))[:200],
                        "by": officer.actor(Role.SECTION_HEAD),
                    },
                    application_id=app,
                )
            else:
                txn.append(
                    EventType.APPLICATION_ADVANCED, {"step": Step.BIOMETRIC}, application_id=app
                )
                if recorded:
                    txn.append(
                        EventType.STEP_SKIPPED,
                        {
                            "step": Step.BIOMETRIC,
                            "reason": "sudah pernah direkam (SIAK) / recorded before",
                        },
                        application_id=app,
                    )
                    txn.append(
                        EventType.APPLICATION_ADVANCED,
                        {"step": Step.ENCODE_PRINT},
                        application_id=app,
                    )
        self._encode_wake.set()
        return self.application(app)

    async def transfer(self, officer: Officer, app: str) -> ApplicationView:
        """Step 7: the operator hands the card to the counter."""
        row = self._active(officer, app, Step.TRANSFER)
        with self._finishing(app, Step.TRANSFER, officer, row) as txn:
            txn.append(EventType.APPLICATION_ADVANCED, {"step": Step.HANDOVER}, application_id=app)
        return self.application(app)

    async def handover(self, officer: Officer, app: str) -> ApplicationView:
        """Step 8: the applicant signs the receipt on the pad and takes the card."""
        self._active(officer, app, Step.HANDOVER)
        try:
            receipt = await self._work.sign_receipt(app)
        except DeviceError as error:
            raise Unavailable(
                "receipt_not_signed",
                Text(
                    f"Tanda terima belum ditandatangani: {error}. Ulangi.",
                    f"The receipt was not signed: {error}. Try again.",
                ),
            ) from error
        row = self._active(officer, app, Step.HANDOVER)
        with self._finishing(app, Step.HANDOVER, officer, row) as txn:
            txn.append(
                EventType.APPLICATION_COMPLETED,
                {"by": officer.actor(Role.COUNTER_OFFICER), "receipt": receipt},
                application_id=app,
            )
        self._cancel_watcher(("promise", app))
        return self.application(app)

    def receive_blanks(self, officer: Officer, *, count: int, reference: str) -> None:
        if not ({Role.OPERATOR, Role.SECTION_HEAD} & officer.roles):
            raise _forbidden(Role.OPERATOR)
        role = Role.OPERATOR if Role.OPERATOR in officer.roles else Role.SECTION_HEAD
        self._append(
            EventType.BLANK_RECEIVED,
            {"count": count, "reference": reference, "by": officer.actor(role)},
        )
        self._encode_wake.set()

    # ================================================================ views

    def claimed(self) -> tuple[dict[str, str], dict[str, str]]:
        """What the active steps hold now: person → application, device → application."""
        return dict(self._claims.persons), dict(self._claims.devices)

    def blank_stock(self) -> BlankStock:
        return self._register.blank_stock()

    def application(self, app: str) -> ApplicationView:
        return self._view(self._row(app))

    def applications(
        self, *, state: str | None = None, step: Step | None = None, limit: int = 200
    ) -> list[ApplicationView]:
        rows = self._register.query(
            "SELECT * FROM applications WHERE (? IS NULL OR state = ?) "
            "AND (? IS NULL OR step = ?) ORDER BY submitted_seq DESC LIMIT ?",
            state,
            state,
            step,
            step,
            limit,
        )
        return [self._view(row) for row in rows]

    def today(self) -> date:
        return self.now().date()

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._clock.wall_ns() / 1e9, tz=UTC).astimezone(self._zone)

    def _view(self, row: Mapping[str, Any]) -> ApplicationView:
        app = row["application_id"]
        cards = self._register.query(
            "SELECT card_serial, state FROM cards WHERE application_id = ? "
            "ORDER BY fed_seq DESC LIMIT 1",
            app,
        )
        failure = self._failure_of(row) if row["phase"] == "waiting" else None
        return ApplicationView(
            id=app,
            service=row["service"],
            nik=mask_nik(row["nik"]),
            name=row["name"],
            ticket=row["ticket"],
            step=row["step"],
            phase=row["phase"],
            state=row["state"],
            active_by=row["active_by"],
            devices=tuple(self._claimed_devices(app)),
            breaches=row["breaches"],
            overdue=bool(row["overdue"]),
            return_reason=row["return_reason"],
            card=CardView(serial=cards[0]["card_serial"], state=cards[0]["state"])
            if cards
            else None,
            last_failure=failure,
            needs_operator=app in self._needs_operator,
        )

    def _claimed_devices(self, app: str) -> list[str]:
        return [device for device, held in self._claims.devices.items() if held == app]

    def _failure_of(self, row: Mapping[str, Any]) -> FailureView | None:
        event = self._register.event(row["phase_seq"])
        if event is None or event.type != EventType.STEP_FAILED:
            return None
        return FailureView(
            step=event.data["step"], code=event.data["code"], detail=event.data.get("detail", "")
        )

    # ================================================================ device steps

    async def _run_device_step(self, app: str, step: Step, actor: dict[str, str] | None) -> None:
        started = self._clock.monotonic_ns()
        budget = self._budgets[step].total_seconds()
        scope: asyncio.Timeout | None = None
        try:
            async with self._clock.timeout(budget) as scope:
                await self._device_work(app, step, actor, started)
        except TimeoutError as error:
            code = _BUDGET_EXCEEDED if scope is not None and scope.expired() else "device_timeout"
            self._fail(app, step, code, str(error) or "budget exceeded", started)
        except StepFailure as failure:
            self._fail(app, step, failure.code, failure.detail, started)
        except (WrongCard, ActivationRefused) as refusal:
            self._fail(app, step, refusal.code, refusal.text.en, started)
        except (CardSpoiled, NoCardToActivate) as spoiled:
            # A card that fails at activation needs a new one: back to encoding.
            again = step is Step.ACTIVATE
            self._fail(app, step, spoiled.code, spoiled.text.en, started, back_to_encode=again)
        except DeviceError as error:
            self._fail(app, step, error.code, str(error), started)
        except asyncio.CancelledError:
            self._fail(app, step, _INTERRUPTED, "the station is stopping", started)
            raise
        finally:
            self._claims.release(app)
            self._encode_wake.set()

    async def _device_work(
        self, app: str, step: Step, actor: dict[str, str] | None, started: int
    ) -> None:
        if step is Step.BIOMETRIC:
            recorded = await self._work.record_biometrics(app)
            with self._transaction() as txn:
                txn.append(
                    EventType.BIOMETRICS_RECORDED,
                    {"modalities": recorded.modalities, "chip_fingers": recorded.chip_fingers},
                    application_id=app,
                )
                self._finish_in(
                    txn,
                    app=app,
                    step=step,
                    actor=actor,
                    started=started,
                    next_step=Step.ENCODE_PRINT,
                )
        elif step is Step.ENCODE_PRINT:
            outcome = await self._work.encode_and_print(app, now=self.now())
            if outcome == "printed":
                with self._transaction() as txn:
                    self._finish_in(
                        txn,
                        app=app,
                        step=step,
                        actor=actor,
                        started=started,
                        next_step=Step.ACTIVATE,
                    )
            else:
                log.info("recorded_not_printed", application=app)
        else:
            await self._work.activate(app)
            with self._transaction() as txn:
                self._finish_in(
                    txn, app=app, step=step, actor=actor, started=started, next_step=Step.TRANSFER
                )

    def _finish_in(
        self,
        txn: Transaction,
        *,
        app: str,
        step: Step,
        actor: dict[str, str] | None,
        started: int,
        next_step: Step,
    ) -> None:
        duration = round((self._clock.monotonic_ns() - started) / 1e6)
        txn.append(
            EventType.STEP_FINISHED,
            {"step": step, "duration_ms": duration, "by": actor},
            application_id=app,
        )
        txn.append(EventType.APPLICATION_ADVANCED, {"step": next_step}, application_id=app)

    def _fail(
        self,
        app: str,
        step: Step,
        code: str,
        detail: str,
        started: int,
        *,
        back_to_encode: bool = False,
    ) -> None:
        duration = round((self._clock.monotonic_ns() - started) / 1e6)
        if not self._append_step_failure(
            app, step, code, detail, duration, back_to_encode=back_to_encode
        ):
            # The step had moved on (a Surat Keterangan recorded, its print then cut off
            # by the budget): the application waits for a blank, not for the operator, or
            # the next blank received would pass it by.
            return
        if step is Step.ENCODE_PRINT and code != _INTERRUPTED:
            self._needs_operator[app] = FailureView(step=step, code=code, detail=detail[:500])
        log.warning("step_failed", application=app, step=step, code=code)

    def _append_step_failure(
        self,
        app: str,
        step: Step,
        code: str,
        detail: str,
        duration_ms: int,
        *,
        back_to_encode: bool = False,
    ) -> bool:
        """Record the step's failure; False if it was no longer active to fail."""
        try:
            with self._transaction() as txn:
                txn.append(
                    EventType.STEP_FAILED,
                    {
                        "step": step,
                        "code": code[:200],
                        "detail": detail[:500],
                        "duration_ms": duration_ms,
                    },
                    application_id=app,
                )
                if back_to_encode:
                    txn.append(
                        EventType.APPLICATION_ADVANCED,
                        {"step": Step.ENCODE_PRINT},
                        application_id=app,
                    )
        except PipelineError:
            # The step is no longer active (its work moved it on, as a Surat Keterangan
            # does): there is nothing left to fail.
            log.info("step_failure_not_recorded", application=app, step=step, code=code)
            return False
        return True

    async def _encode_print_worker(self) -> None:
        """Start the encode and print step of the next application whose turn it is, as
        soon as the card printer and encoder are free and ready."""
        devices = self._device_steps.encode_print
        while True:
            self._encode_wake.clear()
            if self._claims.free(devices) and self._devices_ready(devices):
                app = self._next_to_print()
                if app is not None:
                    self._begin(app, Step.ENCODE_PRINT, None, None, devices)
                    continue
            await self._liveness.wait(self._encode_wake, _LOOP)

    def _next_to_print(self) -> str | None:
        available = self._register.blank_stock().available
        for row in self._register.query(
            "SELECT application_id, state FROM applications WHERE step = 'encode_print' "
            "AND phase = 'waiting' AND state IN ('in_progress', 'waiting_blank') "
            "ORDER BY updated_seq"
        ):
            app = row["application_id"]
            if app in self._needs_operator:
                continue
            if row["state"] == "waiting_blank" and available <= 0:
                continue
            return str(app)
        return None

    # ================================================================ watchers

    def _watch_budget(self, app: str, step: Step, phase_seq: int, elapsed_s: float) -> None:
        """A person's step over its budget is a breach: recorded once, escalated."""
        budget = self._budgets[step].total_seconds()

        async def watch() -> None:
            await self._clock.sleep(max(0.0, budget - elapsed_s))
            rows = self._register.query(
                "SELECT phase_seq, active_by FROM applications WHERE application_id = ?", app
            )
            if rows and rows[0]["phase_seq"] == phase_seq:
                by = rows[0]["active_by"]
                self._append(
                    EventType.STEP_BREACHED,
                    {
                        "step": step,
                        "budget_ms": round(budget * 1000),
                        "by": {"role": STEP_ROLE[step].value, "person": by} if by else None,
                    },
                    application_id=app,
                )
                log.warning("step_breached", application=app, step=step, by=by)

        self._replace_watcher(("step", app), watch())

    def _watch_promise(self, app: str, submitted_seq: int) -> None:
        submitted = self._register.event(submitted_seq)
        if submitted is None:
            return
        at = datetime.fromisoformat(submitted.ts)
        due = self._calendar.due(at)

        async def watch() -> None:
            wait = (due - self.now()).total_seconds()
            await self._clock.sleep(max(0.0, wait))
            with contextlib.suppress(PipelineError):
                self._append(
                    EventType.APPLICATION_OVERDUE,
                    {"due": due.isoformat(timespec="minutes")},
                    application_id=app,
                )
                log.warning("application_overdue", application=app)

        rows = self._register.query(
            "SELECT overdue FROM applications WHERE application_id = ?", app
        )
        if rows and not rows[0]["overdue"]:
            self._replace_watcher(("promise", app), watch())

    def _replace_watcher(self, key: tuple[str, str], coroutine: Coroutine[Any, Any, None]) -> None:
        self._cancel_watcher(key)
        task = self._spawn(coroutine, name=f"watch-{key[0]}-{key[1]}")
        self._watchers[key] = task
        task.add_done_callback(lambda done: self._forget_watcher(key, done))

    def _forget_watcher(self, key: tuple[str, str], task: asyncio.Task[None]) -> None:
        if self._watchers.get(key) is task:
            del self._watchers[key]

    def _cancel_watcher(self, key: tuple[str, str]) -> None:
        task = self._watchers.pop(key, None)
        if task is not None:
            task.cancel()

    # ================================================================ helpers

    def _elapsed_s(self, event: RegisterEvent | None) -> float:
        """Clock seconds since `event`: by monotonic time within this boot, by wall time
        across a reboot (a wrong clock then gives a wrong figure, never a wrong order)."""
        if event is None:
            return 0.0
        if event.boot_id == boot_id():
            return max(0.0, (self._clock.monotonic_ns() - event.mono_ns) / 1e9)
        at = datetime.fromisoformat(event.ts)
        return max(0.0, (self.now() - at).total_seconds())

    def _row(self, app: str) -> dict[str, Any]:
        rows = self._register.query("SELECT * FROM applications WHERE application_id = ?", app)
        if not rows:
            raise NotFound(
                "unknown_application",
                Text(f"Permohonan {app} tidak ada.", f"There is no application {app}."),
            )
        return rows[0]

    def _open_rows(self) -> list[dict[str, Any]]:
        return self._register.query(
            f"SELECT * FROM applications WHERE state IN {_OPEN} ORDER BY submitted_seq"  # noqa: S608
        )

    def _ticket_row(self, day: date, ticket: str) -> dict[str, Any]:
        return self._register.query(
            "SELECT * FROM queue WHERE day = ? AND ticket = ?", day.isoformat(), ticket
        )[0]

    def _active(self, officer: Officer, app: str, step: Step) -> dict[str, Any]:
        self._require(officer, STEP_ROLE[step])
        row = self._row(app)
        if row["step"] != step or row["phase"] != "active" or row["state"] != "in_progress":
            raise WrongState(
                "step_not_started",
                Text(
                    f"Permohonan {app} tidak sedang dalam langkah {step.value} "
                    f"(sekarang: {row['step']}, {row['phase']}).",
                    f"Application {app} is not in step {step.value} "
                    f"(it is at: {row['step']}, {row['phase']}).",
                ),
            )
        if row["active_by"] != officer.person:
            raise Busy(
                "step_taken",
                Text(
                    f"Langkah ini sedang ditangani {row['active_by']}.",
                    f"This step is being handled by {row['active_by']}.",
                ),
            )
        return row

    def _require_waiting(self, row: Mapping[str, Any], step: Step) -> None:
        if (
            row["step"] != step
            or row["phase"] != "waiting"
            or row["state"] not in ("in_progress", "waiting_blank")
        ):
            raise WrongState(
                "wrong_step",
                Text(
                    f"Permohonan {row['application_id']} tidak menunggu langkah {step.value} "
                    f"(sekarang: {row['step']}, {row['phase']}, {row['state']}).",
                    f"Application {row['application_id']} is not waiting for step "
                    f"{step.value} (it is at: {row['step']}, {row['phase']}, {row['state']}).",
                ),
            )

    def _require(self, officer: Officer, role: Role) -> None:
        if role not in officer.roles:
            raise _forbidden(role)

    def _require_counter(self, counter: str) -> None:
        if counter not in self._settings.counters:
            known = ", ".join(self._settings.counters)
            raise Invalid(
                "unknown_counter",
                Text(
                    f"Loket {counter!r} tidak dikenal (yang ada: {known}).",
                    f"Unknown counter {counter!r} (known: {known}).",
                ),
            )

    def _devices_ready(self, names: tuple[str, ...]) -> bool:
        return all(
            name in self._devices and self._devices[name].status.state is DeviceState.READY
            for name in names
        )

    def _require_devices_ready(self, names: tuple[str, ...]) -> None:
        for name in names:
            device = self._devices.get(name)
            if device is None or device.status.state is not DeviceState.READY:
                status = device.status if device else None
                why = status.reason if status is not None and status.reason else "-"
                state = status.state.value if status is not None else "not configured"
                raise Unavailable(
                    "device_not_ready",
                    Text(
                        f"Perangkat {name} belum siap ({state}: {why}).",
                        f"Device {name} is not ready ({state}: {why}).",
                    ),
                )

    def _append(
        self,
        event_type: EventType,
        data: dict[str, Any],
        *,
        application_id: str | None = None,
    ) -> RegisterEvent:
        with self._transaction() as txn:
            return txn.append(event_type, data, application_id=application_id)

    def _ensure_room(self) -> None:
        """Refuse new work once the disk is down to its reserve: what is left is kept
        for the applications already in progress."""
        if self._disk is None:
            return
        disk = self._disk.report()
        if not disk.refusing:
            return
        free_mb = disk.free_bytes // MIB
        log.warning("disk_nearly_full", path=disk.path, free_bytes=disk.free_bytes)
        raise Unavailable(
            "disk_nearly_full",
            Text(
                f"Penyimpanan stasiun hampir penuh (sisa {free_mb} MB): nomor antrean dan "
                "permohonan baru tidak diterima agar permohonan yang sedang berjalan dapat "
                "diselesaikan. Hubungi teknisi.",
                f"The station's storage is nearly full ({free_mb} MB left): no new tickets or "
                "applications are taken, so that those in progress can be finished. "
                "Call a technician.",
            ),
        )

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Transaction]:
        try:
            with self._register.transaction() as txn:
                yield txn
        except InvalidEvent as refused:
            raise WrongState(
                "refused_by_register",
                Text(
                    f"Register menolak perubahan ini: {refused}",
                    f"The register refused this change: {refused}",
                ),
            ) from refused
        except RegisterFull as full:
            raise Unavailable(
                "register_full",
                Text(
                    "Penyimpanan stasiun penuh; tidak ada yang diubah. Hubungi teknisi.",
                    "The station's storage is full; nothing was changed. Call a technician.",
                ),
            ) from full

    @contextlib.contextmanager
    def _finishing(
        self, app: str, step: Step, officer: Officer, row: Mapping[str, Any]
    ) -> Iterator[Transaction]:
        """The step's end and what follows it, in one transaction; then the person and
        devices are free and the breach watch ends."""
        started = self._register.event(row["phase_seq"])
        with self._transaction() as txn:
            txn.append(
                EventType.STEP_FINISHED,
                {
                    "step": step,
                    "duration_ms": round(self._elapsed_s(started) * 1000),
                    "by": officer.actor(STEP_ROLE[step]),
                },
                application_id=app,
            )
            yield txn
        self._claims.release(app)
        self._cancel_watcher(("step", app))
        self._encode_wake.set()


_NO_BLANK = Text(
    "Blangko KTP-el habis: belum dapat dicetak.", "No blank card left: it cannot be printed yet."
)


def _forbidden(role: Role) -> Forbidden:
    return Forbidden(
        "wrong_role",
        Text(
            f"Tindakan ini hanya untuk {role.label.id}.",
            f"Only the {role.label.en.lower()} may do this.",
        ),
    )


def _rule_broken(submitted: ApplicationSubmitted, today: date) -> DomainError | None:
    try:
        check_nik_matches(submitted.nik, birth_date=submitted.birth_date, sex=submitted.sex)
        if submitted.service is ServiceType.BARU:
            check_new_card_eligibility(
                birth_date=submitted.birth_date,
                marital_status=submitted.marital_status,
                on=today,
            )
    except DomainError as error:
        return error
    return None
