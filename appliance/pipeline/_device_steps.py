"""Steps begun, and the device steps run: biometric recording, encoding and printing,
activation.

A device step runs as a task under a cancel scope of its budget: whatever stops it (the
budget, a device, a refused card, the station stopping) is recorded as the step's
failure, its devices are left safe by the work itself, and it can start again. The
encode and print step needs no person: a worker starts it for the next application whose
turn it is as soon as the printer and the encoder are free and ready, which is what lets
the printer work on one applicant while the operator records the next.
"""

from __future__ import annotations

import asyncio
from typing import Final

from appliance._text import Text
from appliance.domain import ApplicationState, EventType, Phase, Role, Step, StepKind
from appliance.hal import DeviceError, DeviceStatus
from appliance.issuance import ActivationRefused, CardSpoiled, NoCardToActivate, WrongCard
from appliance.logs import get_logger
from appliance.register import Transaction

from ._biometrics import BiometricPlan, Decision, Stage
from ._core import PipelineCore
from ._deadlines import Deadlines
from ._errors import Busy, PipelineError, WrongState
from ._forms import Officer
from ._views import FailureView
from ._work import StepFailure

log = get_logger(__name__)

INTERRUPTED: Final = "interrupted"
_BUDGET_EXCEEDED: Final = "budget_exceeded"
LOOP: Final = "pipeline"
"""The loop the watchdog watches: the encode-and-print worker, the pipeline's own."""

Actor = dict[str, str] | None


class DeviceStepRunner:
    def __init__(self, *, core: PipelineCore, deadlines: Deadlines) -> None:
        self._core = core
        self._deadlines = deadlines

    def begin(
        self,
        app: str,
        step: Step,
        actor: Actor,
        person: str | None,
        devices: tuple[str, ...],
        *,
        biometrics: BiometricPlan | None = None,
    ) -> None:
        """Give the step its person and devices; a device step then runs by itself, a
        person's step is watched against its budget. `biometrics`: how the operator
        starts a recording."""
        core = self._core
        started = core.append(
            EventType.STEP_STARTED,
            {"step": step, "by": actor, "devices": devices},
            application_id=app,
        )
        core.claims.take(app, person, devices)
        core.needs_operator.pop(app, None)
        if step.spec.kind is StepKind.DEVICE:
            core.spawn(self._run(app, step, actor, biometrics), name=f"step-{step}-{app}")
        else:
            self._deadlines.watch_budget(app, step, started.seq, 0.0)

    def steer_recording(self, officer: Officer, app: str, stage: Stage, decision: Decision) -> None:
        """The operator's decision on a capture below its threshold, in the recording
        they hold."""
        core = self._core
        core.require(officer, Role.OPERATOR)
        row = core.application(app)
        if row.step is not Step.BIOMETRIC or row.phase is not Phase.ACTIVE:
            raise WrongState(
                "not_recording",
                Text(
                    f"Perekaman biometrik permohonan {app} tidak sedang berjalan.",
                    f"The biometric recording of application {app} is not in progress.",
                ),
            )
        if row.active_by != officer.person:
            raise Busy(
                "step_taken",
                Text(
                    f"Langkah ini sedang ditangani {row.active_by}.",
                    f"This step is being handled by {row.active_by}.",
                ),
            )
        core.work.biometrics.decide(app, stage, decision)

    def on_device_status(self, _device: object, _status: DeviceStatus) -> None:
        self._core.encode_wake.set()  # a printer back to READY may take the next card

    async def encode_print_worker(self) -> None:
        """Start the encode and print step of the next application whose turn it is, as
        soon as the card printer and encoder are free and ready."""
        core = self._core
        devices = core.device_steps.encode_print
        while True:
            core.encode_wake.clear()
            if core.claims.free(devices) and core.devices_ready(devices):
                app = self._next_to_print()
                if app is not None:
                    self.begin(app, Step.ENCODE_PRINT, None, None, devices)
                    continue
            await core.liveness.wait(core.encode_wake, LOOP)

    def _next_to_print(self) -> str | None:
        core = self._core
        available = core.register.blank_stock().available
        for row in core.register.waiting_to_print():
            if row.id in core.needs_operator:
                continue
            if row.state is ApplicationState.WAITING_BLANK and available <= 0:
                continue
            return row.id
        return None

    async def _run(
        self, app: str, step: Step, actor: Actor, biometrics: BiometricPlan | None
    ) -> None:
        core = self._core
        started = core.clock.monotonic_ns()
        budget = core.budgets[step].total_seconds()
        scope: asyncio.Timeout | None = None
        try:
            async with core.clock.timeout(budget) as scope:
                await self._work(app, step, actor, started, biometrics)
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
            self._fail(app, step, INTERRUPTED, "the station is stopping", started)
            raise
        finally:
            core.claims.release(app)
            core.encode_wake.set()

    async def _work(
        self, app: str, step: Step, actor: Actor, started: int, biometrics: BiometricPlan | None
    ) -> None:
        core = self._core
        if step is Step.BIOMETRIC:
            recorded = await core.work.record_biometrics(app, biometrics)
            with core.transaction() as txn:
                txn.append(
                    EventType.BIOMETRICS_RECORDED,
                    {
                        "modalities": recorded.modalities,
                        "chip_fingers": recorded.chip_fingers,
                        "exceptions": [missing.for_register() for missing in recorded.missing],
                    },
                    application_id=app,
                )
                self._finish_in(txn, app, step, actor, started, next_step=Step.ENCODE_PRINT)
        elif step is Step.ENCODE_PRINT:
            outcome = await core.work.encode_and_print(app, now=core.now())
            if outcome == "printed":
                with core.transaction() as txn:
                    self._finish_in(txn, app, step, actor, started, next_step=Step.ACTIVATE)
            else:
                log.info("recorded_not_printed", application=app)
        else:
            await core.work.activate(app)
            with core.transaction() as txn:
                self._finish_in(txn, app, step, actor, started, next_step=Step.TRANSFER)

    def _finish_in(
        self,
        txn: Transaction,
        app: str,
        step: Step,
        actor: Actor,
        started: int,
        *,
        next_step: Step,
    ) -> None:
        duration = round((self._core.clock.monotonic_ns() - started) / 1e6)
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
        duration = round((self._core.clock.monotonic_ns() - started) / 1e6)
        if not self.record_failure(
            app, step, code, detail, duration, back_to_encode=back_to_encode
        ):
            # The step had moved on (a Surat Keterangan recorded, its print then cut off
            # by the budget): the application waits for a blank, not for the operator, or
            # the next blank received would pass it by.
            return
        if step is Step.ENCODE_PRINT and code != INTERRUPTED:
            self._core.needs_operator[app] = FailureView(step=step, code=code, detail=detail[:500])
        log.warning("step_failed", application=app, step=step, code=code)

    def record_failure(
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
            with self._core.transaction() as txn:
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
