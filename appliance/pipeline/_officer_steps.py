"""The officers' actions on an application: the file handed in (step 1), checked (2),
validated (3), a step started, the card transferred to the counter (7) and handed over
(8), and blank cards received.

Each action is checked against the application's derived state through the workflow's
table, then written to the register as the transition itself, and only then
acknowledged: a restart resumes from exactly what the register says.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import date
from typing import Any

from pydantic import ValidationError

from appliance._text import Text
from appliance.biostore import BiometricStoreError
from appliance.domain import (
    STEP_OWNER,
    ApplicationState,
    Document,
    DomainError,
    EventType,
    RegionCheck,
    RegionStatus,
    RequirementProfile,
    Role,
    ServiceType,
    Step,
    StepKind,
    TicketState,
    check_may_apply,
    check_new_card_eligibility,
    check_nik_matches,
    mask_nik,
    missing_documents,
    region_of,
)
from appliance.hal import DeviceError
from appliance.logs import get_logger
from appliance.register import ApplicationRow, ApplicationSubmitted, Transaction

from ._biometrics import BiometricPlan
from ._core import PipelineCore, forbidden
from ._deadlines import Deadlines, promise_watch, step_watch, ticket_watch
from ._device_steps import DeviceStepRunner
from ._errors import Invalid, NotFound, Unavailable, WrongState
from ._forms import Officer, SubmitForm
from ._queue import QueueDesk
from ._records import PersonRecords
from ._survey import SurveyDesk
from ._work import card_holder

log = get_logger(__name__)

NO_BLANK = Text(
    "Blangko KTP-el habis: belum dapat dicetak.", "No blank card left: it cannot be printed yet."
)


class OfficerSteps:
    def __init__(
        self,
        *,
        core: PipelineCore,
        queue: QueueDesk,
        deadlines: Deadlines,
        runner: DeviceStepRunner,
        records: PersonRecords,
        requirements: RequirementProfile,
        survey: SurveyDesk,
    ) -> None:
        self._core = core
        self._queue = queue
        self._deadlines = deadlines
        self._runner = runner
        self._records = records
        self._requirements = requirements
        self._survey = survey

    async def submit(self, officer: Officer, form: SubmitForm) -> str:
        """Step 1: the file handed in at the counter, for a ticket called there; returns
        the new application's id."""
        core = self._core
        core.require(officer, Role.COUNTER_OFFICER)
        core.ensure_room()
        day = core.today()
        ticket = self._queue.ticket(form.ticket, day=day)
        if ticket.state is not TicketState.CALLED:
            raise WrongState(
                "ticket_not_called",
                Text(
                    f"Nomor {form.ticket} belum dipanggil ke loket atau sudah dilayani.",
                    f"Ticket {form.ticket} has not been called to a counter, or was served.",
                ),
            )
        self._refuse_second_application(form)
        data = form.model_dump(mode="json", exclude={"ticket"})
        data |= {"ticket": form.ticket, "ticket_day": day}
        data["by"] = officer.actor(Role.COUNTER_OFFICER)
        self._refuse_unprintable(data, day)
        app = f"{day:%Y%m%d}-{core.register.applications_submitted_on(day) + 1:04d}"
        ticket_row = core.register.ticket(day, form.ticket)
        called = core.register.event(ticket_row.updated_seq) if ticket_row else None
        with core.transaction() as txn:
            submitted = txn.append(EventType.APPLICATION_SUBMITTED, data, application_id=app)
            txn.append(
                EventType.STEP_FINISHED,
                {
                    "step": Step.SUBMIT,
                    "duration_ms": round(core.elapsed_s(called) * 1000),
                    "by": officer.actor(Role.COUNTER_OFFICER),
                },
                application_id=app,
            )
            txn.append(EventType.APPLICATION_ADVANCED, {"step": Step.CHECK}, application_id=app)
        self._deadlines.cancel(ticket_watch(day, form.ticket))
        self._deadlines.watch_promise(app, submitted.seq)
        log.info("application_submitted", application=app, nik=mask_nik(form.nik))
        return app

    def _refuse_second_application(self, form: SubmitForm) -> None:
        history = self._core.register.applications_of(form.nik)
        try:
            check_may_apply(
                form.service,
                open_application=next((a.id for a in history if a.state.is_open), None),
                card_issued=any(a.state is ApplicationState.COMPLETED for a in history),
            )
        except DomainError as refused:
            raise Invalid(refused.code, refused.text) from None

    def _refuse_unprintable(self, data: dict[str, Any], day: date) -> None:
        try:
            card_holder(ApplicationSubmitted.model_validate(data), self._core.settings, today=day)
        except ValidationError as error:
            fields = ", ".join(".".join(map(str, e["loc"])) for e in error.errors())
            raise Invalid(
                "unprintable_data",
                Text(
                    f"Data ini tidak dapat dicetak pada KTP-el: {fields}.",
                    f"This data cannot be printed on a KTP-el: {fields}.",
                ),
            ) from None

    def start_step(
        self, officer: Officer, app: str, step: Step, biometrics: BiometricPlan | None = None
    ) -> None:
        """Give the step its person and devices; a device step then runs by itself.
        `biometrics`, for the recording only: what is missing, and whether the operator
        steers it."""
        core = self._core
        if step is Step.SUBMIT:
            raise WrongState(
                "submit_has_no_start",
                Text(
                    "Pengajuan berkas dicatat dengan menyerahkan formulir.",
                    "Submission is recorded by handing in the form.",
                ),
            )
        role = STEP_OWNER[step]
        core.require(officer, role)
        if biometrics is not None:
            if step is not Step.BIOMETRIC:
                raise Invalid(
                    "not_a_recording",
                    Text(
                        "Pengecualian biometrik hanya untuk langkah perekaman.",
                        "Biometric exceptions belong to the recording step only.",
                    ),
                )
            biometrics.refuse_unrecordable()
        row = core.application(app)
        core.require_waiting(row, step)
        if (
            row.state is ApplicationState.WAITING_BLANK
            and core.register.blank_stock().available <= 0
        ):
            raise Unavailable("no_blank_card", NO_BLANK)
        person = None if step is Step.ENCODE_PRINT else officer.person
        devices = core.device_steps.of(step)
        if step.spec.kind is StepKind.DEVICE:
            core.require_devices_ready(devices)
        core.claims.check(app, person, devices)
        self._runner.begin(app, step, officer.actor(role), person, devices, biometrics=biometrics)

    async def check(
        self, officer: Officer, app: str, documents: tuple[Document, ...]
    ) -> bool | None:
        """Step 2: the counter checks the file is complete; if not, it goes back, and the
        ticket printer gives the applicant the list of what is missing. Returns whether
        that slip printed (None: the file was complete); a failed print leaves the return
        as it is, recorded."""
        core = self._core
        row = core.active(officer, app, Step.CHECK)
        missing = missing_documents(row.service, documents, self._requirements)
        with self._finishing(row, Step.CHECK, officer) as txn:
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
        if not missing:
            return None
        return await core.work.print_return_slip(
            app, ticket=row.ticket, service=row.service, missing=missing, returned_at=core.now()
        )

    async def validate(
        self,
        officer: Officer,
        app: str,
        *,
        valid: bool,
        reason: str | None,
        confirm_region: bool = False,
    ) -> None:
        """Step 3: the section head validates the file against the rules and the central
        records; someone recorded before skips the biometric step. A NIK whose region code
        the official list lacks is validated only with `confirm_region`, which the register
        records."""
        core = self._core
        row = core.active(officer, app, Step.VALIDATE)
        submitted = core.work.submitted(app)
        problem = _rule_broken(submitted, core.today()) if valid else None
        if not valid and not reason:
            raise Invalid(
                "reason_required",
                Text("Sebutkan alasan berkas tidak valid.", "Say why the file is not valid."),
            )
        unlisted = region_to_confirm(submitted.nik) if valid and problem is None else None
        if unlisted is not None and not confirm_region:
            raise Invalid(
                "region_unconfirmed",
                Text(
                    f"{unlisted.unlisted.id if unlisted.unlisted else ''} Periksa dokumen "
                    "pemohon, lalu konfirmasi kode wilayah ini untuk melanjutkan.",
                    f"{unlisted.unlisted.en if unlisted.unlisted else ''} Check the "
                    "applicant's documents, then confirm this region code to go on.",
                ),
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
            row = core.active(officer, app, Step.VALIDATE)  # still so after the wait
        with self._finishing(row, Step.VALIDATE, officer) as txn:
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
                if unlisted is not None:
                    txn.append(
                        EventType.REGION_CONFIRMED,
                        {"code": unlisted.code, "by": officer.actor(Role.SECTION_HEAD)},
                        application_id=app,
                    )
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

    async def transfer(self, officer: Officer, app: str) -> None:
        """Step 7: the operator hands the card to the counter."""
        row = self._core.active(officer, app, Step.TRANSFER)
        with self._finishing(row, Step.TRANSFER, officer) as txn:
            txn.append(EventType.APPLICATION_ADVANCED, {"step": Step.HANDOVER}, application_id=app)

    async def handover(self, officer: Officer, app: str) -> None:
        """Step 8: the applicant signs the receipt on the pad and takes the card; then
        the survey is offered (the keypad lit, the kiosk's questionnaire), outside the
        handover's own path."""
        core = self._core
        core.active(officer, app, Step.HANDOVER)
        try:
            receipt = await core.work.sign_receipt(app)
        except DeviceError as error:
            raise Unavailable(
                "receipt_not_signed",
                Text(
                    f"Tanda terima belum ditandatangani: {error}. Ulangi.",
                    f"The receipt was not signed: {error}. Try again.",
                ),
            ) from error
        row = core.active(officer, app, Step.HANDOVER)
        with self._finishing(row, Step.HANDOVER, officer) as txn:
            txn.append(
                EventType.APPLICATION_COMPLETED,
                {"by": officer.actor(Role.COUNTER_OFFICER), "receipt": receipt},
                application_id=app,
            )
        self._deadlines.cancel(promise_watch(app))
        self._survey.after_handover(row.service)

    async def receipt_signature(self, officer: Officer, app: str) -> bytes:
        """The signature on the receipt of a card handed over (a PNG), for the counter
        officer to show the applicant what they signed."""
        core = self._core
        core.require(officer, Role.COUNTER_OFFICER)
        row = core.application(app)
        event = core.register.event(row.updated_seq)
        blob = event.data.get("receipt") if event is not None else None
        if row.state is not ApplicationState.COMPLETED or not isinstance(blob, str):
            raise NotFound(
                "no_receipt",
                Text(
                    f"Permohonan {app} belum memiliki tanda terima yang ditandatangani.",
                    f"Application {app} has no signed receipt.",
                ),
            )
        try:
            return await core.work.receipt_signature(blob)
        except BiometricStoreError as error:
            # Purged by the retention policy, or unreadable: there is nothing to show.
            raise NotFound(
                "no_receipt",
                Text(
                    f"Tanda tangan tanda terima permohonan {app} tidak tersedia lagi.",
                    f"The receipt signature of application {app} is no longer available.",
                ),
            ) from error

    def receive_blanks(self, officer: Officer, *, count: int, reference: str) -> None:
        if not ({Role.OPERATOR, Role.SECTION_HEAD} & officer.roles):
            raise forbidden(Role.OPERATOR)
        role = Role.OPERATOR if Role.OPERATOR in officer.roles else Role.SECTION_HEAD
        self._core.append(
            EventType.BLANK_RECEIVED,
            {"count": count, "reference": reference, "by": officer.actor(role)},
        )
        self._core.encode_wake.set()

    @contextlib.contextmanager
    def _finishing(
        self, row: ApplicationRow, step: Step, officer: Officer
    ) -> Iterator[Transaction]:
        """The step's end and what follows it, in one transaction; then the person and
        devices are free and the breach watch ends."""
        core = self._core
        started = core.register.event(row.phase_seq)
        with core.transaction() as txn:
            txn.append(
                EventType.STEP_FINISHED,
                {
                    "step": step,
                    "duration_ms": round(core.elapsed_s(started) * 1000),
                    "by": officer.actor(STEP_OWNER[step]),
                },
                application_id=row.id,
            )
            yield txn
        core.claims.release(row.id)
        self._deadlines.cancel(step_watch(row.id))
        core.encode_wake.set()


def region_to_confirm(nik: str) -> RegionCheck | None:
    """The NIK's region, if the official list lacks its regency or district code."""
    try:
        region = region_of(nik)
    except DomainError:
        return None  # refused at intake; a stored NIK from an older rule is not re-judged
    return region if region.status is RegionStatus.UNLISTED else None


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
