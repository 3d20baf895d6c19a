"""What every part of the pipeline shares: the register and the clock, the claims on
people and devices, the background tasks, and the checks an action passes before it
writes (the officer's role, the workflow's table, the disk's reserve).

Each check reads the register's derived state and the append follows with no `await` in
between, so two actions on the event loop cannot interleave inside one transition.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from appliance._text import Text
from appliance.clock import Timekeeper, boot_id, wall_datetime
from appliance.diskspace import MIB, DiskSpace
from appliance.domain import (
    APPLICATION_TRANSITIONS,
    STEP_OWNER,
    EventType,
    Role,
    Step,
    WorkingCalendar,
    may_cause,
)
from appliance.hal import Device, DeviceState
from appliance.liveness import Liveness
from appliance.logs import get_logger
from appliance.register import (
    ApplicationRow,
    InvalidEvent,
    Register,
    RegisterFull,
    Transaction,
)
from appliance.register import Event as RegisterEvent

from ._claims import Claims
from ._errors import Busy, Forbidden, Invalid, NotFound, Unavailable, WrongState
from ._forms import Officer
from ._settings import PipelineSection
from ._views import FailureView
from ._work import StepWork

log = get_logger(__name__)


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


@dataclass(kw_only=True)
class PipelineCore:
    register: Register
    clock: Timekeeper
    settings: PipelineSection
    budgets: Mapping[Step, timedelta]
    zone: ZoneInfo
    devices: Mapping[str, Device]
    device_steps: DeviceSteps
    work: StepWork
    liveness: Liveness
    disk: DiskSpace | None
    calendar: WorkingCalendar
    claims: Claims = field(default_factory=Claims)
    needs_operator: dict[str, FailureView] = field(default_factory=dict)
    """Applications whose encode and print step failed: they wait for the operator to
    start it again, and the worker passes them by."""
    encode_wake: asyncio.Event = field(default_factory=asyncio.Event)
    """Set whenever the printer may take the next card."""
    tasks: asyncio.TaskGroup | None = None

    # ------------------------------------------------------------ time

    def now(self) -> datetime:
        return wall_datetime(self.clock).astimezone(self.zone)

    def today(self) -> date:
        return self.now().date()

    def elapsed_s(self, event: RegisterEvent | None) -> float:
        """Clock seconds since `event`: by monotonic time within this boot, by wall time
        across a reboot (a wrong clock then gives a wrong figure, never a wrong order)."""
        if event is None:
            return 0.0
        if event.boot_id == boot_id():
            return max(0.0, (self.clock.monotonic_ns() - event.mono_ns) / 1e9)
        return max(0.0, (self.now() - datetime.fromisoformat(event.ts)).total_seconds())

    # ------------------------------------------------------------ background tasks

    def spawn(self, coroutine: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        if self.tasks is None:
            coroutine.close()
            raise Unavailable(
                "pipeline_not_running",
                Text("Layanan belum siap; coba lagi.", "The service is not ready; try again."),
            )
        return self.tasks.create_task(coroutine, name=name)

    # ------------------------------------------------------------ reads

    def application(self, app: str) -> ApplicationRow:
        row = self.register.application(app)
        if row is None:
            raise NotFound(
                "unknown_application",
                Text(f"Permohonan {app} tidak ada.", f"There is no application {app}."),
            )
        return row

    # ------------------------------------------------------------ checks

    def require(self, officer: Officer, role: Role) -> None:
        if role not in officer.roles:
            raise forbidden(role)

    def require_waiting(self, row: ApplicationRow, step: Step) -> None:
        """The step may start: the workflow's table takes its start from where the
        application stands."""
        if not _applies(EventType.STEP_STARTED, row, step):
            raise WrongState(
                "wrong_step",
                Text(
                    f"Permohonan {row.id} tidak menunggu langkah {step.value} "
                    f"(sekarang: {row.step}, {row.phase}, {row.state}).",
                    f"Application {row.id} is not waiting for step "
                    f"{step.value} (it is at: {row.step}, {row.phase}, {row.state}).",
                ),
            )

    def active(self, officer: Officer, app: str, step: Step) -> ApplicationRow:
        """The application, if `officer` holds its `step` and may finish it now."""
        finishing = APPLICATION_TRANSITIONS[EventType.STEP_FINISHED]
        if not any(may_cause(finishing, role, step=step) for role in officer.roles):
            raise forbidden(STEP_OWNER[step])
        row = self.application(app)
        if not _applies(EventType.STEP_FINISHED, row, step):
            raise WrongState(
                "step_not_started",
                Text(
                    f"Permohonan {app} tidak sedang dalam langkah {step.value} "
                    f"(sekarang: {row.step}, {row.phase}).",
                    f"Application {app} is not in step {step.value} "
                    f"(it is at: {row.step}, {row.phase}).",
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
        return row

    def devices_ready(self, names: tuple[str, ...]) -> bool:
        return all(
            name in self.devices and self.devices[name].status.state is DeviceState.READY
            for name in names
        )

    def require_devices_ready(self, names: tuple[str, ...]) -> None:
        for name in names:
            device = self.devices.get(name)
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

    def require_counter(self, counter: str) -> None:
        if counter not in self.settings.counters:
            known = ", ".join(self.settings.counters)
            raise Invalid(
                "unknown_counter",
                Text(
                    f"Loket {counter!r} tidak dikenal (yang ada: {known}).",
                    f"Unknown counter {counter!r} (known: {known}).",
                ),
            )

    def ensure_room(self) -> None:
        """Refuse new work once the disk is down to its reserve: what is left is kept
        for the applications already in progress."""
        if self.disk is None:
            return
        disk = self.disk.report()
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

    # ------------------------------------------------------------ writes

    def append(
        self, event_type: EventType, data: dict[str, Any], *, application_id: str | None = None
    ) -> RegisterEvent:
        with self.transaction() as txn:
            return txn.append(event_type, data, application_id=application_id)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """The register's transaction, its refusals in the pipeline's words."""
        try:
            with self.register.transaction() as txn:
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


def _applies(event: EventType, row: ApplicationRow, step: Step) -> bool:
    return APPLICATION_TRANSITIONS[event].applies_to(
        state=row.state, phase=row.phase, step=row.step, event_step=step
    )


def forbidden(role: Role) -> Forbidden:
    return Forbidden(
        "wrong_role",
        Text(
            f"Tindakan ini hanya untuk {role.label.id}.",
            f"Only the {role.label.en.lower()} may do this.",
        ),
    )
