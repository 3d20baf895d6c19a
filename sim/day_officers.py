"""The officers of a simulated office day: they serve the applicants of a
`sim.day.DayPlan` through the station's local API, as they would at their desks.

`OfficeDay` plays the three officers as concurrent loops that look at the station's state,
do the next thing their role would do, and wait on the live events: nothing is scripted
per applicant, so the day goes on the same way when the daemon is killed and restarted
under it (an action whose answer was lost is found done, or refused as no longer
fitting, and the loop moves on). The devices' part is played on the simulator: the
applicant's fingers on the scanners, the card carried from the printer's tray to the
activation desk. Each applicant handed a card then does their part of the satisfaction
survey as the plan says (`SurveyChoice`): a button on the keypad the station lights, the
questionnaire on the kiosk, both or neither.

Time is the scenario's clock, the same scaled clock the daemon runs on, so officers'
minutes pass at the day's speed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import httpx

from appliance.clock import Timekeeper
from appliance.domain import Step
from appliance.hal import Rating
from appliance.oversight import Satisfaction

from .day import Applicant, DayPlan
from .day_desk import Changes, Desk, Kiosk, Refused
from .office import SimulatedOffice
from .sbi import SbiSimulator
from .serial_devices import SatisfactionKeypadSim

_COUNTER: Final = "loket-1"
_RETRIES: Final = 4
"""A device step retried this many times for one applicant is left waiting for a
technician, as an operator would after a few tries."""
_KEYPAD_WITHIN_S: Final = 10.0
"""Real seconds an applicant waits for the keypad to light, and then for the station to
take their press: a station that went down with the handover's answer lights nothing."""


@dataclass(frozen=True, slots=True)
class Staff:
    """The logins the officers use; one PIN for the simulated office."""

    counter: str
    section_head: str
    operator: str
    secret: str


@dataclass(slots=True)
class DayLog:
    """What the scenario saw, beside what the register recorded."""

    tickets: dict[tuple[str, str], int] = field(default_factory=dict)
    """(Ticket day, ticket number) → applicant number: numbers start again each day."""
    applications: dict[str, int] = field(default_factory=dict)
    """Application id → applicant number."""
    retries: dict[tuple[str, str], int] = field(default_factory=dict)
    given_up: set[str] = field(default_factory=set)
    """Applications whose device step kept failing: left waiting for a technician."""
    rejected_cards: int = 0
    """Cards taken out of the card printer's reject box."""
    stray_tickets: int = 0
    """Tickets issued while the answer was lost in a restart: nobody holds them."""
    keypad_presses: Counter[Satisfaction] = field(default_factory=Counter)
    """The keypad's buttons the applicants pressed and the station took, by rating."""
    questionnaires: list[Mapping[str, int]] = field(default_factory=list)
    """The questionnaires the kiosk accepted: each element's score by code."""


class OfficeDay:
    """Plays the officers of one office day against a running station."""

    def __init__(
        self,
        *,
        plan: DayPlan,
        http: httpx.AsyncClient,
        sim: SimulatedOffice,
        clock: Timekeeper,
        staff: Staff,
        sequential: bool = False,
    ) -> None:
        self.plan = plan
        self.log = DayLog()
        self._sim = sim
        self._clock = clock
        self._sequential = sequential
        self._http = http
        self._kiosk = Kiosk(http)
        keypad = sim.devices["satisfaction_keypad"]
        if not isinstance(keypad, SatisfactionKeypadSim):
            raise TypeError("the simulated office has no satisfaction keypad")
        self._keypad = keypad
        self._counter = Desk(http, staff.counter, staff.secret)
        self._head = Desk(http, staff.section_head, staff.secret)
        self._operator = Desk(http, staff.operator, staff.secret)
        self._changes = Changes()
        self._by_number = {a.number: a for a in plan.applicants}
        self._arrived = 0
        self._issuing = False
        """A ticket is being printed: a called ticket not known yet may be that one."""
        self._done = asyncio.Event()
        self._opened_ns = 0
        self._device_s: dict[Step, float] = {}
        """How long each of the operator's device steps took last time."""

    async def run(self) -> DayLog:
        """Serve the whole plan; returns when every applicant has left, one way or other."""
        self._opened_ns = self._clock.monotonic_ns()
        for applicant in self.plan.applicants:
            if applicant.recorded_before:
                self._sim.enroll_record(nik=applicant.nik, person=applicant.person)
        await self._operator.act(
            "/blanks", {"count": self.plan.blanks, "reference": f"BA/{self.plan.seed}/1"}
        )
        async with asyncio.TaskGroup() as tasks:
            loops = [
                tasks.create_task(self._live_events(), name="day-live-events"),
                tasks.create_task(self._arrivals(), name="day-arrivals"),
                tasks.create_task(self._faults(), name="day-faults"),
                tasks.create_task(self._officer(self._counter_turn), name="day-counter"),
                tasks.create_task(self._officer(self._head_turn), name="day-section-head"),
                tasks.create_task(self._officer(self._operator_turn), name="day-operator"),
            ]
            await self._done.wait()
            for loop in loops:
                loop.cancel()
        return self.log

    # ------------------------------------------------------------------ the day's frame

    async def _live_events(self) -> None:
        desk = self._operator
        while True:
            with contextlib.suppress(httpx.TransportError):
                async with self._http.stream(
                    "GET",
                    "/api/v1/events",
                    headers=await desk.headers(),
                    timeout=httpx.Timeout(5.0, read=None),
                ) as stream:
                    if stream.status_code == 401:
                        desk.token = None
                    else:
                        self._changes.bump()  # (re)connected: things may have moved
                        async for line in stream.aiter_lines():
                            if line.startswith("data:"):
                                self._changes.bump()
            self._changes.bump()
            await asyncio.sleep(0.05)  # the daemon is restarting: give it a moment

    async def _arrivals(self) -> None:
        for applicant in sorted(self.plan.applicants, key=lambda a: a.arrival_s):
            await self._hold(self._opened_ns, applicant.arrival_s)
            self._issuing = True
            while (
                ticket := await self._counter.act("/queue/tickets", {"service": applicant.service})
            ) is None:
                await self._changes.after(self._changes.count)  # the ticket printer is busy
            self.log.tickets[(str(ticket["day"]), ticket["ticket"])] = applicant.number
            self._issuing = False
            self._arrived += 1

    async def _faults(self) -> None:
        for fault in sorted(self.plan.faults, key=lambda f: f.at_s):
            await self._hold(self._opened_ns, fault.at_s)
            device = self._sim.devices[fault.device]
            device.inject(fault.fault, dict(fault.params))
            if fault.duration_s is not None:
                await self._clock.sleep(fault.duration_s)
                device.clear(fault.fault)

    async def _hold(self, since_ns: int, seconds: float) -> None:
        """Be busy until `seconds` of the day's clock have passed since `since_ns`."""
        elapsed = (self._clock.monotonic_ns() - since_ns) / 1e9
        await self._clock.sleep(seconds - elapsed)

    async def _officer(self, turn: Callable[[list[dict[str, Any]]], Awaitable[bool]]) -> None:
        """An officer looks at the open files, does the next thing their role does, and
        when there was nothing to do (or the station said not now) waits for a change."""
        while not self._done.is_set():
            seen = self._changes.count
            views: list[dict[str, Any]] = await self._counter.get(
                "/applications?state=in_progress&limit=1000"
            )
            views = [v for v in views if v["id"] not in self.log.given_up]
            if not await turn(views):
                await self._changes.after(seen)

    async def _applicant_of(self, view: Mapping[str, Any]) -> Applicant:
        app = str(view["id"])
        number = self.log.applications.get(app)
        if number is None:
            # Submitted as the daemon went down, the answer lost: the queue says which
            # ticket the file came with. (A view names its ticket without its day, and
            # after midnight the numbers start again.)
            queue = await self._counter.get("/queue")
            held = next((t for t in queue["tickets"] if t["application"] == app), None)
            if held is None:
                raise Refused(f"application {app}: no ticket of today's queue holds it")
            number = self.log.tickets[(str(held["day"]), held["ticket"])]
            self.log.applications[app] = number
        return self._by_number[number]

    # ------------------------------------------------------------------ the counter

    async def _counter_turn(self, views: list[dict[str, Any]]) -> bool:
        desk = self._counter
        mine = _active_by(views, desk.person)
        at = _waiting(views)
        if mine:
            return await self._finish_at_counter(mine)
        for step in (Step.HANDOVER, Step.CHECK):
            if at[step]:
                view = at[step][0]
                started = self._clock.monotonic_ns()
                if await desk.act(f"/applications/{view['id']}/steps/{step}/start") is None:
                    return False
                await self._hold(started, (await self._applicant_of(view)).durations[step])
                return await self._finish_at_counter({**view, "step": step})
        if await self._serve_the_queue(views):
            return True
        if await self._settled(views):
            self._done.set()
        return False

    async def _finish_at_counter(self, view: Mapping[str, Any]) -> bool:
        app = view["id"]
        if view["step"] == Step.CHECK:
            documents = list((await self._applicant_of(view)).documents)
            return (
                await self._counter.act(f"/applications/{app}/check", {"documents": documents})
                is not None
            )
        # The applicant signs the receipt on the pad: an unplugged pad is not now.
        lit_before = self._keypad.arms
        if await self._counter.act(f"/applications/{app}/handover") is None:
            return False
        await self._survey(await self._applicant_of(view), lit_before)
        return True

    async def _survey(self, applicant: Applicant, lit_before: int) -> None:
        """The applicant, card in hand, presses a button on the keypad the handover lit
        and may answer the kiosk's questionnaire, as their plan says. The counter waits
        for them: the next handover would take the keypad over."""
        choice = applicant.survey
        if choice.button is not None:
            await self._press(Rating(choice.button), lit_before)
        if choice.answers is None:
            return
        answered = await self._kiosk.post(
            "/survey/questionnaires",
            {
                "service": applicant.service,
                "answers": dict(choice.answers),
                "profile": dict(choice.profile),
            },
        )
        if answered.status_code == 201:
            self.log.questionnaires.append(choice.answers)
        elif answered.status_code != 409:  # 409: the restarted station forgot the handover
            raise Refused(f"questionnaire: {answered.status_code} {answered.text[:300]}")

    async def _press(self, rating: Rating, lit_before: int) -> None:
        """Press once the keypad lights, and count the press once the station took it:
        the buttons go dark and the station offers the handover's coins no more."""
        keypad = self._keypad
        try:
            async with asyncio.timeout(_KEYPAD_WITHIN_S):
                await keypad.lit(after=lit_before)
            keypad.press(int(rating))
            async with asyncio.timeout(_KEYPAD_WITHIN_S):
                await keypad.dark()
                while True:
                    seen = self._changes.count
                    if not (await self._kiosk.get("/survey/offers"))["keypad"]:
                        break
                    await self._changes.after(seen)
        except TimeoutError:
            return  # not lit (the station went down), or the press not taken: not counted
        self.log.keypad_presses[Satisfaction[rating.name]] += 1

    async def _serve_the_queue(self, views: Sequence[Mapping[str, Any]]) -> bool:
        """Take the file of the ticket called to the counter, or call the next one."""
        queue = await self._counter.get("/queue")
        called = [t for t in queue["tickets"] if t["state"] == "called"]
        if called:
            return await self._submit(called[0])
        if not any(t["state"] == "waiting" for t in queue["tickets"]):
            return False
        if self._sequential and views:
            return False  # one applicant at a time: the one inside must leave first
        # The ticket seen waiting may have been called already, its answer lost.
        called_next = await self._counter.act(
            "/queue/call-next", {"counter": _COUNTER}, not_now=404
        )
        return called_next is not None

    async def _submit(self, ticket: Mapping[str, Any]) -> bool:
        """The applicant of the called `ticket` hands in their file."""
        number = self.log.tickets.get((str(ticket["day"]), ticket["ticket"]))
        if number is None and self._issuing:
            return False  # its applicant is still taking it from the printer
        if number is None:
            # Printed while the daemon went down: the answer was lost, and the
            # applicant took the one printed again.
            self.log.stray_tickets += 1
            return await self._counter.act(f"/queue/tickets/{ticket['ticket']}/no-show") is not None
        applicant = self._by_number[number]
        await self._clock.sleep(applicant.durations[Step.SUBMIT])
        form = {**applicant.form, "ticket": ticket["ticket"]}
        submitted = await self._counter.act("/applications", form)
        if submitted is None:
            return False
        self.log.applications[str(submitted["id"])] = number
        return True

    async def _settled(self, views: Sequence[Mapping[str, Any]]) -> bool:
        """Everyone has come and nobody is left to serve: the day is over."""
        if views or self._arrived < len(self.plan.applicants):
            return False
        queue = await self._counter.get("/queue")
        return not any(t["state"] in ("waiting", "called") for t in queue["tickets"])

    # ------------------------------------------------------------------ the section head

    async def _head_turn(self, views: list[dict[str, Any]]) -> bool:
        desk = self._head
        # The rules (the NIK against the form, a new card's eligibility) and the central
        # records are the station's to apply: the section head confirms the file.
        mine = _active_by(views, desk.person)
        if mine:
            return (
                await desk.act(f"/applications/{mine['id']}/validate", {"valid": True}) is not None
            )
        waiting = _waiting(views)[Step.VALIDATE]
        if not waiting:
            return False
        view = waiting[0]
        started = self._clock.monotonic_ns()
        if await desk.act(f"/applications/{view['id']}/steps/validate/start") is None:
            return False
        await self._hold(started, (await self._applicant_of(view)).durations[Step.VALIDATE])
        return await desk.act(f"/applications/{view['id']}/validate", {"valid": True}) is not None

    # ------------------------------------------------------------------ the operator

    async def _operator_turn(self, views: list[dict[str, Any]]) -> bool:
        desk = self._operator
        mine = _active_by(views, desk.person)
        if mine is not None:
            # The operator's device steps end by themselves; a transfer is theirs to end.
            return (
                mine["step"] == Step.TRANSFER
                and await desk.act(f"/applications/{mine['id']}/transfer") is not None
            )
        at = _waiting(views)
        # Cards already printed first: their applicants have waited longest.
        if at[Step.ACTIVATE]:
            return await self._operator_session(at[Step.ACTIVATE][0], Step.ACTIVATE)
        if at[Step.TRANSFER]:
            return await self._operator_transfer(at[Step.TRANSFER][0])
        if at[Step.BIOMETRIC]:
            return await self._operator_session(at[Step.BIOMETRIC][0], Step.BIOMETRIC)
        return await self._tend_printer() or await self._print_again(at[Step.ENCODE_PRINT])

    async def _tend_printer(self) -> bool:
        """A full reject box stops the card printer until someone empties it."""
        devices = await self._operator.get("/devices")
        if any(status.get("code") == "reject_box_full" for status in devices.values()):
            self.log.rejected_cards += len(self._sim.empty_reject_box())
            return True
        return False

    async def _print_again(self, views: Sequence[Mapping[str, Any]]) -> bool:
        """A card that failed to print waits for the operator to start it again."""
        for view in views:
            failure = view["last_failure"]
            if failure is not None and failure["code"] == "reject_box_full":
                self.log.rejected_cards += len(self._sim.empty_reject_box())
            if view["needs_operator"] and self._try_again(view, Step.ENCODE_PRINT):
                return await self._start_device_step(view, Step.ENCODE_PRINT)
        return False

    async def _operator_transfer(self, view: Mapping[str, Any]) -> bool:
        desk = self._operator
        started = self._clock.monotonic_ns()
        if await desk.act(f"/applications/{view['id']}/steps/transfer/start") is None:
            return False
        await self._hold(started, (await self._applicant_of(view)).durations[Step.TRANSFER])
        return await desk.act(f"/applications/{view['id']}/transfer") is not None

    async def _operator_session(self, view: Mapping[str, Any], step: Step) -> bool:
        """The applicant at the operator's desk: seated, told what happens, positioned;
        then their fingers on the scanner (to activate, their printed card in the desk
        reader too) and the step run by the devices, which ends the session."""
        if not self._try_again(view, step):
            return False
        applicant = await self._applicant_of(view)
        app = str(view["id"])
        if view["last_failure"] is None:
            # The session's minutes, less what the devices took last time: the session
            # ends as the devices finish, and the card is printed after it.
            started = self._clock.monotonic_ns()
            await self._hold(started, applicant.durations[step] - self._device_s.get(step, 0.0))
        if step is Step.ACTIVATE and view["card"] is not None:
            with contextlib.suppress(LookupError):  # carried to the desk before a restart
                await self._sim.take_card(serial=view["card"]["serial"])
        for device in self._sim.devices.values():
            if isinstance(device, SbiSimulator):
                device.present(applicant.person)
        started = self._clock.monotonic_ns()
        if not await self._start_device_step(view, step):
            return False
        while True:
            seen = self._changes.count
            now = await self._operator.get(f"/applications/{app}")
            if not (now["step"] == step and now["phase"] == "active"):
                break
            await self._changes.after(seen)
        if now["step"] == step:
            # It failed: the operator looks at what the station says before trying again.
            await self._changes.after(self._changes.count)
            return False
        self._device_s[step] = (self._clock.monotonic_ns() - started) / 1e9
        if step is Step.ACTIVATE:
            await self._sim.hand_card_over()  # activated, or spoiled: out of the reader
        return True

    def _try_again(self, view: Mapping[str, Any], step: Step) -> bool:
        """Whether to start a device step (again): after a few real failures the operator
        leaves it for a technician."""
        if self.log.retries.get((str(view["id"]), str(step)), 0) < _RETRIES:
            return True
        self.log.given_up.add(str(view["id"]))
        return False

    async def _start_device_step(self, view: Mapping[str, Any], step: Step) -> bool:
        """Start it; a start after a real failure (not one the station caused by
        stopping) counts as a retry."""
        app = str(view["id"])
        if await self._operator.act(f"/applications/{app}/steps/{step}/start") is None:
            return False
        failure = view["last_failure"]
        if failure is not None and failure["code"] != "interrupted":
            key = (app, str(step))
            self.log.retries[key] = self.log.retries.get(key, 0) + 1
        return True


def _active_by(views: Sequence[dict[str, Any]], person: str) -> dict[str, Any] | None:
    return next((v for v in views if v["phase"] == "active" and v["active_by"] == person), None)


def _waiting(views: Sequence[dict[str, Any]]) -> dict[Step, list[dict[str, Any]]]:
    """The applications waiting at each step, in the station's order."""
    waiting: dict[Step, list[dict[str, Any]]] = {step: [] for step in Step}
    for view in views:
        if view["phase"] == "waiting":
            waiting[Step(view["step"])].append(view)
    return waiting
