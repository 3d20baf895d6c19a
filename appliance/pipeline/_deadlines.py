"""The pipeline's clocks: a person's step over its SOP minutes (a breach, escalated, not
aborted), the service promise of one working day, a called ticket nobody answers, and a
complaint open past its deadline (escalated to the section head).

Each watch is a task sleeping on the station's clock until its moment, then checking the
register: only if nothing moved in between does it record anything. A restart sets the
watches again from the register (`Pipeline.run`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from datetime import date, datetime
from typing import Any

from appliance.domain import OPEN_COMPLAINT_STATES, STEP_OWNER, EventType, Step, TicketState
from appliance.logs import get_logger
from appliance.register import Event as RegisterEvent

from ._core import PipelineCore
from ._errors import PipelineError

log = get_logger(__name__)

WatchKey = tuple[str, str]


def step_watch(app: str) -> WatchKey:
    return ("step", app)


def promise_watch(app: str) -> WatchKey:
    return ("promise", app)


def ticket_watch(day: date, ticket: str) -> WatchKey:
    return ("ticket", f"{day}/{ticket}")


def complaint_watch(number: str) -> WatchKey:
    return ("complaint", number)


class Deadlines:
    def __init__(self, *, core: PipelineCore) -> None:
        self._core = core
        self._watchers: dict[WatchKey, asyncio.Task[None]] = {}

    def watch_budget(self, app: str, step: Step, phase_seq: int, elapsed_s: float) -> None:
        """A person's step over its budget is a breach: recorded once, escalated."""
        core = self._core
        budget = core.budgets[step].total_seconds()

        async def watch() -> None:
            await core.clock.sleep(max(0.0, budget - elapsed_s))
            row = core.register.application(app)
            if row is not None and row.phase_seq == phase_seq:
                by = row.active_by
                core.append(
                    EventType.STEP_BREACHED,
                    {
                        "step": step,
                        "budget_ms": round(budget * 1000),
                        "by": {"role": STEP_OWNER[step].value, "person": by} if by else None,
                    },
                    application_id=app,
                )
                log.warning("step_breached", application=app, step=step, by=by)

        self._replace(step_watch(app), watch())

    def watch_promise(self, app: str, submitted_seq: int) -> None:
        core = self._core
        submitted = core.register.event(submitted_seq)
        row = core.register.application(app)
        if submitted is None or row is None or row.overdue:
            return
        due = core.calendar.due(datetime.fromisoformat(submitted.ts))

        async def watch() -> None:
            await core.clock.sleep(max(0.0, (due - core.now()).total_seconds()))
            with contextlib.suppress(PipelineError):  # handed over, or returned, meanwhile
                core.append(
                    EventType.APPLICATION_OVERDUE,
                    {"due": due.isoformat(timespec="minutes")},
                    application_id=app,
                )
                log.warning("application_overdue", application=app)

        self._replace(promise_watch(app), watch())

    def watch_no_show(self, day: date, ticket: str, call: RegisterEvent | None) -> None:
        """A ticket called and not answered within the configured minutes is a no-show,
        unless it was called again or served meanwhile."""
        core = self._core
        remaining = core.settings.no_show_minutes * 60 - core.elapsed_s(call)
        call_seq = call.seq if call else 0

        async def watch() -> None:
            await core.clock.sleep(max(0.0, remaining))
            row = core.register.ticket(day, ticket)
            if row is not None and row.state is TicketState.CALLED and row.updated_seq == call_seq:
                core.append(EventType.QUEUE_NO_SHOW, {"day": day, "ticket": ticket})
                log.info("ticket_no_show", ticket=ticket)

        self._replace(ticket_watch(day, ticket), watch())

    def watch_complaint(self, number: str, due: datetime) -> None:
        """An open complaint past `due` is escalated to the section head, once, unless it
        was closed, escalated or given another deadline meanwhile."""
        core = self._core

        async def watch() -> None:
            await core.clock.sleep(max(0.0, (due - core.now()).total_seconds()))
            row = core.register.complaint(number)
            if (
                row is not None
                and row.state in OPEN_COMPLAINT_STATES
                and not row.escalated
                and row.due == due
            ):
                core.append(EventType.COMPLAINT_ESCALATED, {"number": number, "due": due})
                log.warning("complaint_escalated", complaint=number, due=due.isoformat())

        self._replace(complaint_watch(number), watch())

    def cancel(self, key: WatchKey) -> None:
        task = self._watchers.pop(key, None)
        if task is not None:
            task.cancel()

    def _replace(self, key: WatchKey, coroutine: Coroutine[Any, Any, None]) -> None:
        self.cancel(key)
        task = self._core.spawn(coroutine, name=f"watch-{key[0]}-{key[1]}")
        self._watchers[key] = task
        task.add_done_callback(lambda done: self._forget(key, done))

    def _forget(self, key: WatchKey, task: asyncio.Task[None]) -> None:
        if self._watchers.get(key) is task:
            del self._watchers[key]
