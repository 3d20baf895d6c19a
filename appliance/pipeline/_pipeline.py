"""The SOP pipeline: every application a durable state machine whose states are the
register's, with the SOP's minutes as step budgets.

`Pipeline` is the front the API and the station use. Behind it, each concept has its
module: the queue (`_queue`), the officers' actions (`_officer_steps`), the device steps
and the encode-and-print worker (`_device_steps`), the deadlines (`_deadlines`), and what
they share (`_core`). The workflow's states and transitions are the domain's
(`appliance.domain._workflow`), applied by the register's projections and checked here
through the same table.

People and devices are claimed by the step that uses them: a device step holds its
devices for its whole run, a person's step holds that person.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from appliance.clock import Timekeeper
from appliance.diskspace import DiskSpace
from appliance.domain import (
    ApplicationState,
    Document,
    EventType,
    Phase,
    RequirementProfile,
    ServiceType,
    Step,
    StepKind,
    WorkingCalendar,
    mask_nik,
    required_documents,
)
from appliance.hal import Device, DeviceError
from appliance.liveness import Liveness
from appliance.logs import get_logger
from appliance.oversight import ContactBook, OversightSection
from appliance.register import ActivationDecision, ApplicationRow, BlankStock, Register

from ._biometrics import BiometricPlan, BiometricProgress, Decision, Stage
from ._complaints import ComplaintBook
from ._core import DeviceSteps, PipelineCore
from ._deadlines import Deadlines
from ._decisions import ActivationDecisions, awaits_decision
from ._device_steps import INTERRUPTED, LOOP, DeviceStepRunner
from ._forms import Officer, SubmitForm
from ._officer_steps import OfficerSteps, region_to_confirm
from ._outcomes import StepOutcomes, step_outcomes
from ._queue import QueueDesk
from ._recaps import RecapDesk
from ._records import PersonRecords
from ._settings import PipelineSection
from ._survey import SurveyDesk
from ._views import (
    ApplicationView,
    CallView,
    CardView,
    FailureView,
    QueueView,
    TicketView,
)
from ._work import StepWork

log = get_logger(__name__)


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
        devices: Mapping[str, Device],
        device_steps: DeviceSteps,
        work: StepWork,
        records: PersonRecords,
        liveness: Liveness | None = None,
        disk: DiskSpace | None = None,
        oversight: OversightSection | None = None,
        contacts: ContactBook | None = None,
    ) -> None:
        """`contacts`: where complainants' contacts are kept; without it, a complaint
        can only be recorded as anonymous."""
        self._core = PipelineCore(
            register=register,
            clock=clock,
            settings=settings,
            budgets=dict(budgets),
            zone=zone,
            devices=devices,
            device_steps=device_steps,
            work=work,
            liveness=liveness or Liveness(),
            disk=disk,
            calendar=WorkingCalendar(
                working_days=settings.working_days,
                opening=settings.opening,
                closing=settings.closing,
                holidays=settings.holidays,
                open_days=settings.open_days,
                national=settings.national_holidays,
                zone=zone,
            ),
        )
        self._requirements = requirements
        self._deadlines = Deadlines(core=self._core)
        self._runner = DeviceStepRunner(core=self._core, deadlines=self._deadlines)
        self._queue = QueueDesk(core=self._core, deadlines=self._deadlines, work=work)
        oversight = oversight or OversightSection()
        self.survey = SurveyDesk(core=self._core, settings=oversight)
        """The keypad after each handover, and the kiosk's questionnaire."""
        self.complaints = ComplaintBook(
            core=self._core, deadlines=self._deadlines, settings=oversight, contacts=contacts
        )
        """The complaint book."""
        self.recaps = RecapDesk(core=self._core)
        """The period's figures and the quarterly complaint recap."""
        self._steps = OfficerSteps(
            core=self._core,
            queue=self._queue,
            deadlines=self._deadlines,
            runner=self._runner,
            records=records,
            requirements=requirements,
            survey=self.survey,
        )
        self._decisions = ActivationDecisions(core=self._core, deadlines=self._deadlines)
        self.ready = asyncio.Event()

    # ================================================================ lifecycle

    async def run(self) -> None:
        """Recover what a restart left open, then run the background work until cancelled."""
        core = self._core
        # The worker's rounds are short: three idle periods without one is a stuck loop.
        core.liveness.register(LOOP, allowance_s=3 * core.liveness.period_s)
        async with asyncio.TaskGroup() as tasks:
            core.tasks = tasks
            await self._recover()
            tasks.create_task(self._runner.encode_print_worker(), name="pipeline-encode-print")
            for device in core.devices.values():
                device.add_listener(self._runner.on_device_status)
            self.ready.set()
            log.info("pipeline_ready")

    async def _recover(self) -> None:
        core = self._core
        try:
            await core.work.recover()
        except DeviceError as error:
            # The printer is not there yet: its cards stay open, and the issuer closes
            # them before it feeds the next card.
            log.warning("card_recovery_deferred", error=str(error))
        for row in core.register.open_applications():
            if row.phase is Phase.ACTIVE:
                if row.step.spec.kind is StepKind.DEVICE:
                    self._runner.record_failure(
                        row.id, row.step, INTERRUPTED, "the station restarted during the step", 0
                    )
                    continue
                core.claims.take(row.id, row.active_by, core.device_steps.of(row.step))
                started = core.register.event(row.phase_seq)
                self._deadlines.watch_budget(
                    row.id, row.step, row.phase_seq, core.elapsed_s(started)
                )
            elif row.step is Step.ENCODE_PRINT:
                failure = self._failure_of(row)
                if failure is not None and failure.code != INTERRUPTED:
                    core.needs_operator[row.id] = failure
            self._deadlines.watch_promise(row.id, row.submitted_seq)
        for ticket in core.register.called_tickets():
            event = core.register.event(ticket.updated_seq)
            self._deadlines.watch_no_show(ticket.day, ticket.ticket, event)
        self.complaints.watch_open()
        core.encode_wake.set()

    # ================================================================ the queue

    async def issue_ticket(self, officer: Officer, service: ServiceType) -> TicketView:
        return await self._queue.issue_ticket(officer, service)

    async def issue_printed_ticket(self, service: ServiceType) -> TicketView:
        """The kiosk's ticket: recorded only once printed (see `QueueDesk`)."""
        return await self._queue.issue_printed_ticket(service)

    def ticket_printer_ready(self) -> bool:
        return self._queue.ticket_printer_ready()

    def call_next(
        self, officer: Officer, *, counter: str, service: ServiceType | None = None
    ) -> TicketView:
        return self._queue.call_next(officer, counter=counter, service=service)

    def recall(self, officer: Officer, ticket: str, *, counter: str) -> TicketView:
        return self._queue.recall(officer, ticket, counter=counter)

    def mark_no_show(self, officer: Officer | None, ticket: str) -> TicketView:
        return self._queue.mark_no_show(officer, ticket)

    def ticket(self, ticket: str, *, day: date | None = None) -> TicketView:
        return self._queue.ticket(ticket, day=day)

    def queue(self) -> QueueView:
        return self._queue.queue()

    def calls(self, limit: int = 5) -> tuple[CallView, ...]:
        """Today's latest calls, the newest first (the waiting-room board's)."""
        return self._queue.calls(limit)

    # ================================================================ the officers' steps

    async def submit(self, officer: Officer, form: SubmitForm) -> ApplicationView:
        return self.application(await self._steps.submit(officer, form))

    async def start_step(
        self, officer: Officer, app: str, step: Step, *, biometrics: BiometricPlan | None = None
    ) -> ApplicationView:
        self._steps.start_step(officer, app, step, biometrics)
        return self.application(app)

    def steer_recording(
        self, officer: Officer, app: str, stage: Stage, decision: Decision
    ) -> BiometricProgress | None:
        """Capture a stage below its threshold again, or accept it (`operator_decides`)."""
        self._runner.steer_recording(officer, app, stage, decision)
        return self.recording(app)

    async def check(
        self, officer: Officer, app: str, documents: tuple[Document, ...]
    ) -> ApplicationView:
        """The answer says, for a file returned, whether its slip printed."""
        printed = await self._steps.check(officer, app, documents)
        view = self.application(app)
        return view if printed is None else view.model_copy(update={"slip_printed": printed})

    async def validate(
        self,
        officer: Officer,
        app: str,
        *,
        valid: bool,
        reason: str | None,
        confirm_region: bool = False,
    ) -> ApplicationView:
        await self._steps.validate(
            officer, app, valid=valid, reason=reason, confirm_region=confirm_region
        )
        return self.application(app)

    async def transfer(self, officer: Officer, app: str) -> ApplicationView:
        await self._steps.transfer(officer, app)
        return self.application(app)

    async def handover(self, officer: Officer, app: str) -> ApplicationView:
        await self._steps.handover(officer, app)
        return self.application(app)

    async def decide_activation(
        self,
        officer: Officer,
        app: str,
        *,
        decision: ActivationDecision,
        reason: str | None = None,
    ) -> ApplicationView:
        """The section head's decision on a refused activation (`awaits_decision`)."""
        self._decisions.decide(officer, app, decision, reason)
        return self.application(app)

    def receive_blanks(self, officer: Officer, *, count: int, reference: str) -> None:
        self._steps.receive_blanks(officer, count=count, reference=reference)

    async def receipt_signature(self, officer: Officer, app: str) -> bytes:
        return await self._steps.receipt_signature(officer, app)

    # ================================================================ views

    def claimed(self) -> tuple[dict[str, str], dict[str, str]]:
        """What the active steps hold now: person → application, device → application."""
        claims = self._core.claims
        return dict(claims.persons), dict(claims.devices)

    def required_documents(self, service: ServiceType) -> tuple[Document, ...]:
        """What this office requires for `service` (its requirement profile), in order."""
        return required_documents(service, self._requirements)

    def add_recording_listener(self, listener: Callable[[str], None]) -> None:
        """`listener(app)` hears of every change in a biometric recording's progress."""
        self._core.work.biometrics.add_listener(listener)

    def recording(self, app: str) -> BiometricProgress | None:
        """The application's biometric recording in progress, or how it last ended."""
        return self._core.work.biometrics.progress(app)

    def outcomes(self, app: str) -> StepOutcomes:
        """Its biometrics recorded or skipped, and its card's activation attempts."""
        self._core.application(app)  # NotFound for an unknown application
        return step_outcomes(self._core.register, app)

    def blank_stock(self) -> BlankStock:
        return self._core.register.blank_stock()

    def application(self, app: str) -> ApplicationView:
        return self._view(self._core.application(app))

    def applications(
        self, *, state: ApplicationState | None = None, step: Step | None = None, limit: int = 200
    ) -> list[ApplicationView]:
        rows = self._core.register.applications(state=state, step=step, limit=limit)
        return [self._view(row) for row in rows]

    def today(self) -> date:
        return self._core.today()

    def now(self) -> datetime:
        return self._core.now()

    def _view(self, row: ApplicationRow) -> ApplicationView:
        core = self._core
        card = core.register.latest_card(row.id)
        return ApplicationView(
            id=row.id,
            service=row.service,
            nik=mask_nik(row.nik),
            name=row.name,
            ticket=row.ticket,
            step=row.step,
            phase=row.phase,
            state=row.state,
            active_by=row.active_by,
            devices=tuple(d for d, held in core.claims.devices.items() if held == row.id),
            breaches=row.breaches,
            overdue=row.overdue,
            return_reason=row.return_reason,
            card=CardView(serial=card.card_serial, state=card.state) if card else None,
            last_failure=self._failure_of(row) if row.phase is Phase.WAITING else None,
            region_to_confirm=_unconfirmed_region(row),
            needs_operator=row.id in core.needs_operator,
            awaits_decision=awaits_decision(core, row) is not None,
            missing_documents=self._missing_of(row),
        )

    def _missing_of(self, row: ApplicationRow) -> tuple[Document, ...]:
        """What a file returned at the check lacked, as its return recorded it."""
        if row.state is not ApplicationState.RETURNED:
            return ()
        event = self._core.register.event(row.updated_seq)
        if event is None or event.type != EventType.APPLICATION_RETURNED:
            return ()
        return tuple(Document(code) for code in event.data.get("missing_documents", ()))

    def _failure_of(self, row: ApplicationRow) -> FailureView | None:
        event = self._core.register.event(row.phase_seq)
        if event is None or event.type != EventType.STEP_FAILED:
            return None
        return FailureView(
            step=event.data["step"], code=event.data["code"], detail=event.data.get("detail", "")
        )


def _unconfirmed_region(row: ApplicationRow) -> str | None:
    """Before validation, the region code the section head is to confirm, if any."""
    if row.state is not ApplicationState.IN_PROGRESS or row.step not in _BEFORE_BIOMETRIC:
        return None
    region = region_to_confirm(row.nik)
    return region.code if region is not None else None


_BEFORE_BIOMETRIC = frozenset({Step.SUBMIT, Step.CHECK, Step.VALIDATE})
