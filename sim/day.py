"""A simulated office day: applicants arrive, and the officers serve them through the
station's local API, as they would at their desks.

`plan_day` draws the day from a seed: who comes when, for which service, with which
file (some incomplete, some whose form contradicts their NIK), who was recorded before
(enrolled in the simulated central records), and how long each officer takes over each
step (`DurationModel`, around the SOP minutes). `OfficeDay` then plays the three
officers as concurrent loops that look at the station's state, do the next thing their
role would do, and wait on the live events: nothing is scripted per applicant, so the
day goes on the same way when the daemon is killed and restarted under it (an action
whose answer was lost is found done, or refused as no longer fitting, and the loop moves
on). The devices' part is played on the simulator: the applicant's fingers on the
scanners, the card carried from the printer's tray to the activation desk.

Time is the scenario's clock, the same scaled clock the daemon runs on, so officers'
minutes pass at the day's speed.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Final, Literal

import httpx

from appliance.clock import Timekeeper
from appliance.domain import (
    SOP_STEPS,
    Document,
    DomainError,
    MaritalStatus,
    ServiceType,
    Sex,
    Step,
    check_new_card_eligibility,
    check_nik_matches,
    compose_kk,
    compose_nik,
    required_documents,
)

from ._base import Fault
from .office import SimulatedOffice
from .sbi import SbiSimulator
from .scenario import ScheduledFault

SERVICE_MIX: Final = (
    (ServiceType.BARU, 0.55),
    (ServiceType.PINDAH_DATANG, 0.15),
    (ServiceType.HILANG, 0.12),
    (ServiceType.RUSAK, 0.10),
    (ServiceType.PERUBAHAN_DATA, 0.08),
)
PERSONS: Final = (11, 12, 13, 14, 15, 16)
"""Synthetic people whose fingers the scanners present: a small pool, since each one's
finger images are made once (about a second each) and then cached on disk."""
_NAMES: Final = (
    "Ahmad Fauzi",
    "Siti Aminah",
    "Dewi Lestari",
    "Fitri Handayani",
    "Gunawan Wibowo",
    "Hartini",
    "Imam Syafii",
    "Joko Susilo",
    "Kartika Sari",
    "Lukman Hakim",
    "Maya Puspita",
    "Nur Hidayah",
    "Rudi Hartono",
)
_VILLAGES: Final = ("Ditotrunan", "Citrodiwangsan", "Jogotrunan", "Tompokersan", "Rogotrunan")
_REGIONS: Final = ("350801", "350802", "350810", "350815")
_MINUTES: Final = {spec.step: spec.minutes for spec in SOP_STEPS}
_PERSON_STEPS: Final = (Step.SUBMIT, Step.CHECK, Step.VALIDATE, Step.TRANSFER, Step.HANDOVER)
_OPERATOR_SESSIONS: Final = (Step.BIOMETRIC, Step.ACTIVATE)
_COUNTER: Final = "loket-1"
_RETRIES: Final = 4
"""A device step retried this many times for one applicant is left waiting for a
technician, as an operator would after a few tries."""


@dataclass(frozen=True, slots=True)
class DurationModel:
    """How long the officers take, in seconds of the day's clock.

    A person's step (submit, check, validate, transfer, handover) lasts its SOP minutes
    times a factor drawn around 0.85 between 1 - 1.6 * spread and 1 + spread / 2: most
    keep to the standard, a few overrun their budget. The operator's sessions at the
    biometric and activation desks last their SOP minutes times a factor from
    [1 - spread, 1], ending with the devices' own work. The card printer takes
    `card_print_s` per card, with no one standing by it.
    """

    spread: float = 0.25
    card_print_s: float = 210.0
    instant: bool = False

    @classmethod
    def without_people(cls) -> DurationModel:
        """Every officer acts at once and the devices are instant: the machinery alone."""
        return cls(spread=0.0, card_print_s=0.0, instant=True)

    def draw(self, rng: random.Random) -> dict[Step, float]:
        if self.instant:
            return dict.fromkeys((*_PERSON_STEPS, *_OPERATOR_SESSIONS), 0.0)
        drawn = {
            step: 60
            * _MINUTES[step]
            * rng.triangular(1 - 1.6 * self.spread, 1 + self.spread / 2, 0.85)
            for step in _PERSON_STEPS
        }
        for step in _OPERATOR_SESSIONS:
            drawn[step] = 60 * _MINUTES[step] * rng.uniform(1 - self.spread, 1.0)
        return drawn


Outcome = Literal["returned_at_check", "returned_at_validate", "served"]


@dataclass(frozen=True, slots=True)
class Applicant:
    number: int
    arrival_s: float
    """Seconds after the office opens."""
    service: ServiceType
    form: Mapping[str, Any]
    """The submission form as the counter officer types it, without the ticket."""
    documents: tuple[Document, ...]
    """What the applicant actually hands in."""
    person: int
    """The synthetic person whose fingers and face they have."""
    recorded_before: bool
    durations: Mapping[Step, float]

    @property
    def nik(self) -> str:
        return str(self.form["nik"])

    def outcome(self, today: date) -> Outcome:
        """What the SOP makes of this file: returned at the counter, at validation, or
        served (a card, or a Surat Keterangan while there is no blank)."""
        if set(required_documents(self.service)) - set(self.documents):
            return "returned_at_check"
        declared = date.fromisoformat(str(self.form["birth_date"]))
        try:
            check_nik_matches(self.nik, birth_date=declared, sex=Sex(self.form["sex"]))
            if self.service is ServiceType.BARU:
                check_new_card_eligibility(
                    birth_date=declared,
                    marital_status=MaritalStatus(self.form["marital_status"]),
                    on=today,
                )
        except DomainError:
            return "returned_at_validate"
        return "served"

    def path(
        self, today: date, card_print_s: float, *, blank: bool = True
    ) -> list[tuple[str, float]]:
        """Who works on this applicant, in order, and for how many seconds; without a
        `blank` card they leave after recording, with a Surat Keterangan."""
        d = self.durations
        path = [("counter officer", d[Step.SUBMIT] + d[Step.CHECK])]
        outcome = self.outcome(today)
        if outcome != "returned_at_check":
            path.append(("section head", d[Step.VALIDATE]))
        if outcome != "served":
            return path
        if not self.recorded_before:
            path.append(("operator", d[Step.BIOMETRIC]))
        if not blank:
            return path
        path.append(("card printer", card_print_s))
        path.append(("operator", d[Step.ACTIVATE] + d[Step.TRANSFER]))
        path.append(("counter officer", d[Step.HANDOVER]))
        return path


@dataclass(frozen=True, slots=True)
class DayPlan:
    seed: int
    applicants: tuple[Applicant, ...]
    blanks: int
    faults: tuple[ScheduledFault, ...]
    model: DurationModel
    today: date

    def loads(self) -> dict[str, float]:
        """Seconds of work over the day for each officer and the card printer."""
        total: dict[str, float] = {}
        for _, path in self._paths():
            for who, seconds in path:
                total[who] = total.get(who, 0.0) + seconds
        return total

    def sequential_s(self) -> float:
        """The day served strictly one applicant at a time: every step of each in turn."""
        return sum(self.loads().values())

    def bound(self) -> tuple[str, float]:
        """The busiest person or device, and the shortest the day can be because of it:
        its work over the day, after the soonest any applicant can reach it, and before
        the least work that must still follow its last use."""
        loads = self.loads()
        busiest = max(loads, key=lambda who: loads[who])
        leads, tails = [], []
        for applicant, path in self._paths():
            uses = [i for i, (who, _) in enumerate(path) if who == busiest]
            if uses:
                leads.append(applicant.arrival_s + sum(s for _, s in path[: uses[0]]))
                tails.append(sum(s for _, s in path[uses[-1] + 1 :]))
        return busiest, min(leads) + loads[busiest] + min(tails)

    def _paths(self) -> list[tuple[Applicant, list[tuple[str, float]]]]:
        """Each applicant's path; the blanks go to the first served, in ticket order."""
        paths = []
        blanks = self.blanks
        for applicant in self.applicants:
            served = applicant.outcome(self.today) == "served"
            path = applicant.path(self.today, self.model.card_print_s, blank=blanks > 0)
            blanks -= served
            paths.append((applicant, path))
        return paths


def plan_day(
    *,
    applicants: int,
    seed: int,
    today: date,
    arrivals_over_s: float = 6 * 3600,
    model: DurationModel | None = None,
    blank_ratio: float = 0.9,
    faults: bool = True,
) -> DayPlan:
    """A reproducible day: arrivals spread over `arrivals_over_s` (0: all at opening)."""
    model = model or DurationModel()
    rng = random.Random(seed)  # noqa: S311 - a reproducible scenario, not a secret
    arrivals = sorted(rng.uniform(0, arrivals_over_s) for _ in range(applicants))
    people = [
        _applicant(rng, number, arrival, today, model)
        for number, arrival in enumerate(arrivals, start=1)
    ]
    scheduled: list[ScheduledFault] = []
    if faults and not model.instant and applicants >= 8:
        span = max(arrivals_over_s, applicants * 13 * 60)
        scheduled = [
            # The next card to move jams; a person frees it when they come round to it.
            ScheduledFault(
                at_s=0.4 * span, device="card_printer", fault=Fault.JAM, duration_s=20 * 60
            ),
            ScheduledFault(
                at_s=0.55 * span, device="signature_pad", fault=Fault.UNPLUG, duration_s=180
            ),
        ]
    return DayPlan(
        seed=seed,
        applicants=tuple(people),
        blanks=max(1, round(applicants * blank_ratio)),
        faults=tuple(scheduled),
        model=model,
        today=today,
    )


def _applicant(
    rng: random.Random, number: int, arrival_s: float, today: date, model: DurationModel
) -> Applicant:
    service = rng.choices([s for s, _ in SERVICE_MIX], [w for _, w in SERVICE_MIX])[0]
    sex = rng.choice(list(Sex))
    # Mostly adults; now and then a 16-year-old, who may have a card only if married.
    young = rng.random() < 0.08
    age_days = rng.randint(16 * 365 + 2, 17 * 365 - 2) if young else rng.randint(17 * 366, 70 * 365)
    birth = today - timedelta(days=age_days)
    marital = rng.choices(list(MaritalStatus), [45, 45, 5, 5])[0]
    region = rng.choice(_REGIONS)
    nik = compose_nik(region=region, birth_date=birth, sex=sex, serial=number)
    kk = compose_kk(
        region=region, issued=today - timedelta(days=rng.randint(30, 3000)), serial=number
    )
    documents = list(required_documents(service))
    if rng.random() < 0.1 and documents:
        documents.remove(rng.choice(documents))  # forgot one at home
    # Now and then the form's birth date contradicts the NIK (a typo, or somebody else's
    # papers): the section head's validation must catch it.
    declared = birth if rng.random() > 0.05 else birth + timedelta(days=rng.randint(1, 400))
    form = {
        "service": service,
        "nik": nik,
        "kk": kk,
        "name": rng.choice(_NAMES),
        "birth_date": declared.isoformat(),
        "sex": sex,
        "marital_status": marital,
        "documents": list(documents),
        "biodata": {
            "birth_place": "Lumajang",
            "address": f"Jl. Kyai Ilyas No. {rng.randint(1, 120)}",
            "rt_rw": f"{rng.randint(1, 9):03d}/{rng.randint(1, 12):03d}",
            "village": rng.choice(_VILLAGES),
            "religion": "ISLAM",
            "occupation": rng.choice(("Petani", "Pedagang", "Guru", "Pelajar/Mahasiswa")),
        },
    }
    return Applicant(
        number=number,
        arrival_s=arrival_s,
        service=service,
        form=form,
        documents=tuple(documents),
        person=rng.choice(PERSONS),
        # Everybody but a new card's applicant has had one, and so was recorded before.
        recorded_before=service is not ServiceType.BARU or rng.random() < 0.1,
        durations=model.draw(rng),
    )


# ====================================================================== the officers


class _Changes:
    """Counts the station's live events, so that an officer can look at the state and
    then wait for the next change without missing one that came in between."""

    def __init__(self) -> None:
        self.count = 0
        self._event = asyncio.Event()

    def bump(self) -> None:
        self.count += 1
        self._event.set()
        self._event = asyncio.Event()

    async def after(self, seen: int) -> None:
        """Return at the first change after `seen`, or after a second at most: a live
        stream cut by a restarting daemon may have missed some."""
        if self.count != seen:
            return
        event = self._event
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_LOOK_AGAIN_S):
                await event.wait()


_LOOK_AGAIN_S: Final = 1.0


class Refused(Exception):
    """The station refused an action as no officer's request should be refused: a defect
    in the scenario or in the station, not a turn of the day."""


@dataclass(slots=True)
class _Desk:
    """One officer's session with the station's API. It logs in again when the daemon
    has restarted (sessions live in its memory) and waits out a daemon that is down."""

    http: httpx.AsyncClient
    person: str
    secret: str
    token: str | None = None

    async def headers(self) -> dict[str, str]:
        while self.token is None:
            response = await self._send(
                "POST", "/session", {"person": self.person, "secret": self.secret}, {}
            )
            _raise_for_defect(response)
            self.token = response.json()["token"]
        return {"Authorization": f"Bearer {self.token}"}

    async def call(
        self, method: str, path: str, body: Mapping[str, Any] | None = None
    ) -> httpx.Response:
        while True:
            response = await self._send(method, path, body, await self.headers())
            if response.status_code != 401:
                return response
            self.token = None

    async def get(self, path: str) -> Any:
        response = await self.call("GET", path)
        _raise_for_defect(response)
        return response.json()

    async def act(
        self, path: str, body: Mapping[str, Any] | None = None, *, not_now: int | None = None
    ) -> Any | None:
        """POST an action; None when the station says "not now" (the state moved on,
        a device is busy or not ready, or the status `not_now` this action may get), which
        the officer takes as a cue to look again."""
        response = await self.call("POST", path, body)
        if response.status_code in (409, 503, not_now):
            return None
        _raise_for_defect(response)
        return response.json() if response.content else {}

    async def _send(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None,
        headers: Mapping[str, str],
    ) -> httpx.Response:
        pause = 0.02
        while True:
            try:
                return await self.http.request(method, f"/api/v1{path}", json=body, headers=headers)
            except httpx.TransportError:
                # The daemon is down or restarting: again soon, a little later each time.
                await asyncio.sleep(pause)
                pause = min(0.5, pause * 2)


def _raise_for_defect(response: httpx.Response) -> None:
    if response.status_code >= 400:
        request = response.request
        raise Refused(
            f"{request.method} {request.url.path}: {response.status_code} {response.text[:300]}"
        )


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
        self._counter = _Desk(http, staff.counter, staff.secret)
        self._head = _Desk(http, staff.section_head, staff.secret)
        self._operator = _Desk(http, staff.operator, staff.secret)
        self._changes = _Changes()
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
        return await self._counter.act(f"/applications/{app}/handover") is not None

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
