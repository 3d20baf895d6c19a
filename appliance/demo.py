"""`appliance demo`: an office day on simulated devices, start to finish.

It starts the device simulator, the station daemon (`appliance run`, as systemd would)
and a day of applicants (`sim.day`): arrivals over the day, the usual mix of services,
some incomplete files, some forms that contradict their NIK, people recorded before, a
card jam and an unplugged signature pad. The officers serve them through the local API
while the day's progress is shown; at the end the summary is read back from the signed
register: who was served, returned or given a Surat Keterangan, the blank cards, each
step's durations against its SOP minutes, breaches, and the day's throughput against
serving one applicant at a time. The station ships its register over its real uplink
to a central office started beside it (a private broker, and `appliance central`'s parts:
the collector, the status and alert keepers, and the regency's dashboard); with
`--serve`, the dashboard's URL and a demo login are printed next to the station's screens.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TextIO

import httpx

from appliance._text import Language, Text
from appliance.domain import SOP_STEPS, Role, regency_name
from appliance.hal import FAULT_CODES
from appliance.register import export_csv, read_events
from sim.central import CentralReport, DashboardLogin
from sim.daemon import DaemonFailed
from sim.day import DayPlan, DurationModel, plan_day
from sim.day_report import DayReport, StepFigures
from sim.day_run import STAFF, ZONE, OfficeRun, next_working_day, office_run

_STEP_NAMES = {spec.step: spec.short for spec in SOP_STEPS}
_NAME_WIDTH = max(len(text) for name in _STEP_NAMES.values() for text in (name.id, name.en))
_FAILURE_WORDS = {
    # The pipeline's own codes; a device's fault codes are worded by the HAL's table.
    "budget_exceeded": Text("waktu habis", "out of time"),
    "device_timeout": Text("perangkat terlambat menjawab", "a device answered too late"),
    "interrupted": Text("terhenti karena stasiun berhenti", "cut off by the station stopping"),
    "capture_incomplete": Text("rekaman tidak lengkap", "incomplete capture"),
    "device_missing": Text("perangkat tidak dipasang", "no such device configured"),
    "card_spoiled": Text("kartu rusak", "card spoiled"),
    "no_printed_card": Text("kartu belum di pembaca", "no printed card in the reader"),
    "wrong_card": Text("kartu salah", "wrong card"),
    "no_match": Text("sidik jari tidak cocok", "fingerprint did not match"),
}
_WHO = {
    "counter officer": Role.COUNTER_OFFICER.label,
    "section head": Role.SECTION_HEAD.label,
    "operator": Role.OPERATOR.label,
    "card printer": Text("printer kartu", "card printer"),
}
_PROGRESS_EVERY_S = 5.0


@dataclass(frozen=True, slots=True)
class DemoOptions:
    state_dir: Path | None
    applicants: int
    seed: int
    speed: float | None
    """Times faster than real time; None: instant devices, officers acting at once."""
    arrivals_hours: float
    serve: bool = False
    """After the summary, keep the station running for a browser until Ctrl-C."""


_SERVE_SETTINGS: dict[str, dict[str, object]] = {"screens": {"idle_logout_minutes": 480}}
"""A demo's clock may run 60 times faster: its consoles sign out after 8 hours of it."""


def run_demo(options: DemoOptions, *, language: Language, out: TextIO) -> int:
    with _state_directory(options.state_dir) as directory:
        try:
            return asyncio.run(_demo(options, directory, language, out))
        except KeyboardInterrupt:
            # Ctrl-C while serving: the station and the simulator have been stopped.
            print(Text("Stasiun dihentikan.", "Station stopped.").in_language(language), file=out)
            return 0
        except DaemonFailed as failure:
            print(  # noqa: T201 - the demo speaks on the terminal
                Text(
                    "Daemon stasiun berhenti sendiri:", "The station daemon stopped by itself:"
                ).in_language(language),
                failure,
                file=sys.stderr,
            )
            return 1


async def _demo(options: DemoOptions, directory: Path, language: Language, out: TextIO) -> int:
    def say(text: Text) -> None:
        print(text.in_language(language), file=out, flush=True)

    instant = options.speed is None
    today = date.today() if instant else next_working_day(date.today())  # noqa: DTZ011
    plan = plan_day(
        applicants=options.applicants,
        seed=options.seed,
        today=today,
        arrivals_over_s=options.arrivals_hours * 3600,
        model=DurationModel.without_people() if instant else DurationModel(),
    )
    say(_opening(plan, options))
    settings = _SERVE_SETTINGS if options.serve else None
    async with office_run(
        directory / "office",
        plan,
        speed=options.speed,
        central=True,
        dashboard=True,
        settings=settings,
    ) as run:
        progress = asyncio.create_task(_progress(run, plan, say), name="demo-progress")
        try:
            log = await run.play(plan)
        finally:
            progress.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await progress
        central = await run.central_report()
        report = run.report()
        for line in _summary(plan, report, instant=instant):
            say(line)
        if central is not None:
            say(_central_line(central))
        if log.given_up:
            say(
                Text(
                    "perlu teknisi (langkah perangkat gagal berulang): {n} permohonan",
                    "needs a technician (a device step kept failing): {n} applications",
                ).format(n=len(log.given_up))
            )
        if options.serve:
            login = run.central.login if run.central is not None else None
            for line in _serving(run.api_url, login):
                say(line)
            await asyncio.Event().wait()  # until Ctrl-C cancels the demo
    if options.state_dir is not None:
        csv_path = options.state_dir / "register.csv"
        with csv_path.open("w", encoding="utf-8", newline="") as stream:
            export_csv(
                read_events(run.config.register_path), stream, timezone=ZONE, language=language
            )
        say(Text("buku register (CSV): {p}", "register book (CSV): {p}").format(p=csv_path))
    intact = report.verified is None and (central is None or central.verified)
    return 0 if intact else 1


def _serving(url: str, dashboard: DashboardLogin | None = None) -> list[Text]:
    """Where a newcomer points a browser, and how to sign in: the station's screens and
    the central office's dashboard."""
    officers = (
        (STAFF.counter, Role.COUNTER_OFFICER),
        (STAFF.section_head, Role.SECTION_HEAD),
        (STAFF.operator, Role.OPERATOR),
    )
    return [
        Text("", ""),
        Text(
            "Stasiun tetap berjalan untuk dicoba di peramban (Ctrl-C untuk berhenti):",
            "The station keeps running, to try in a browser (Ctrl-C to stop):",
        ),
        Text("  konsol petugas : {u}/masuk", "  officers' console: {u}/masuk").format(u=url),
        Text("  papan antrian  : {u}/board", "  waiting-room board: {u}/board").format(u=url),
        Text("  kios tiket     : {u}/kiosk", "  ticket kiosk      : {u}/kiosk").format(u=url),
        *(
            Text("  {role}: ID {id}, PIN {pin}", "  {role}: ID {id}, PIN {pin}").format(
                role=role.label, id=person, pin=STAFF.secret
            )
            for person, role in officers
        ),
        *(_dashboard_lines(dashboard) if dashboard is not None else ()),
    ]


def _dashboard_lines(login: DashboardLogin) -> list[Text]:
    scope = regency_name(login.scope) or login.scope
    dotted = f"{login.scope[:2]}.{login.scope[2:]}"
    return [
        Text("  dasbor kantor pusat: {u}/masuk", "  central office dashboard: {u}/masuk").format(
            u=login.url
        ),
        Text(
            "  Dinas (teknisi, {scope} {dotted}): pengguna {user}, kata sandi {password}",
            "  Dinas (technician, {scope} {dotted}): user {user}, password {password}",
        ).format(scope=scope, dotted=dotted, user=login.user, password=login.password),
    ]


def _central_line(central: CentralReport) -> Text:
    if not central.verified:
        return Text(
            "kantor pusat: salinan register GAGAL diverifikasi ({n} kejadian)",
            "central office: its copy of the register FAILED verification ({n} events)",
        ).format(n=central.stored)
    return Text(
        "kantor pusat: {n} kejadian diterima lewat MQTT, rantai dan tanda tangan utuh, "
        "{f} tanda peringatan",
        "central office: {n} events received over MQTT, chain and signatures intact, {f} flags",
    ).format(n=central.stored, f=central.flags)


@contextmanager
def _state_directory(state_dir: Path | None) -> Iterator[Path]:
    if state_dir is not None:
        state_dir.mkdir(parents=True, exist_ok=True)
        yield state_dir
        return
    # Short, for the UNIX socket paths the simulator makes under it.
    with tempfile.TemporaryDirectory(prefix="ktpel-") as tmp:
        yield Path(tmp)


def _opening(plan: DayPlan, options: DemoOptions) -> Text:
    if options.speed is None:
        return Text(
            "Hari layanan simulasi: {n} pemohon, perangkat instan, petugas tanpa jeda.",
            "Simulated service day: {n} applicants, instant devices, officers without pause.",
        ).format(n=len(plan.applicants))
    return Text(
        "Hari layanan simulasi {day}: {n} pemohon datang dalam {h:g} jam, "
        "waktu {speed:g}x lebih cepat.",
        "Simulated service day {day}: {n} applicants arriving over {h:g} hours, "
        "time {speed:g}x faster.",
    ).format(
        day=plan.today.isoformat(),
        n=len(plan.applicants),
        h=options.arrivals_hours,
        speed=options.speed,
    )


async def _progress(run: OfficeRun, plan: DayPlan, say: Callable[[Text], None]) -> None:
    """A line now and then: the station's clock and where the applicants are."""
    async with _logged_in(run) as http:
        shown: tuple[int, ...] = ()
        while True:
            await asyncio.sleep(_PROGRESS_EVERY_S)  # a display's refresh, not a wait
            with contextlib.suppress(httpx.HTTPError):
                queue = (await http.get("/api/v1/queue")).json()
                states = [v["state"] for v in (await http.get("/api/v1/applications")).json()]
                figures = (
                    len(queue["tickets"]),
                    states.count("in_progress"),
                    states.count("completed"),
                    states.count("returned"),
                    states.count("waiting_blank"),
                )
                if figures == shown:
                    continue
                shown = figures
                say(
                    Text(
                        "[{t:%H:%M}] tiket {tickets}/{n} · diproses {busy} · "
                        "KTP-el diserahkan {done} · dikembalikan {back} · Suket {suket}",
                        "[{t:%H:%M}] tickets {tickets}/{n} · in progress {busy} · "
                        "cards handed over {done} · returned {back} · Suket {suket}",
                    ).format(
                        **dict(
                            zip(("tickets", "busy", "done", "back", "suket"), figures, strict=True)
                        ),
                        t=datetime.fromtimestamp(run.clock.wall_ns() / 1e9, ZONE),
                        n=len(plan.applicants),
                    )
                )


@contextlib.asynccontextmanager
async def _logged_in(run: OfficeRun) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=run.api_url, timeout=10) as http:
        session = await http.post(
            "/api/v1/session", json={"person": STAFF.section_head, "secret": STAFF.secret}
        )
        http.headers["Authorization"] = f"Bearer {session.json()['token']}"
        yield http


def _summary(plan: DayPlan, report: DayReport, *, instant: bool) -> list[Text]:
    lines = [
        Text("== Ringkasan hari layanan ==", "== Summary of the service day =="),
        Text("pemohon: {n}", "applicants: {n}").format(n=report.applications),
        Text("KTP-el diserahkan: {n}", "KTP-el handed over: {n}").format(n=report.served),
        Text(
            "dikembalikan di loket (berkas belum lengkap): {n}",
            "returned at the counter (incomplete file): {n}",
        ).format(n=report.returned_at_check),
        Text(
            "dikembalikan saat validasi (data tidak sah): {n}",
            "returned at validation (invalid data): {n}",
        ).format(n=report.returned_at_validate),
        Text(
            "sudah pernah direkam (perekaman biometrik dilewati): {n}",
            "recorded before (biometric recording skipped): {n}",
        ).format(n=report.skipped_biometric),
        Text(
            "Surat Keterangan (sudah direkam, belum dicetak, menunggu blangko): {n}",
            "Surat Keterangan (recorded, not printed, waiting for a blank): {n}",
        ).format(n=report.suket),
        Text(
            "blangko: diterima {r}, terpakai {i}, rusak {s}, sisa {a}",
            "blank cards: received {r}, issued {i}, spoiled {s}, left {a}",
        ).format(
            r=report.blanks_received,
            i=report.cards_issued,
            s=report.cards_spoiled,
            a=report.blanks_left,
        ),
        Text(
            "langkah (menit): SOP · rata-rata · p95 · selesai · lewat batas · gagal",
            "steps (minutes): SOP · mean · p95 · finished · breaches · failures",
        ),
    ]
    lines.extend(_step_row(figures) for figures in report.steps)
    lines.extend(_failures(figures) for figures in report.steps if figures.failures)
    lines.append(
        Text(
            "pelanggaran waktu: {b} · lewat janji 1 hari kerja: {o}",
            "time breaches: {b} · past the one-working-day promise: {o}",
        ).format(b=report.breaches, o=report.overdue)
    )
    lines.append(
        Text(
            "tiket sampai KTP-el: rata-rata {mean:.1f} menit, p95 {p95:.1f} menit",
            "ticket to card: mean {mean:.1f} min, p95 {p95:.1f} min",
        ).format(mean=report.mean_ticket_to_card_s() / 60, p95=report.p95_ticket_to_card_s() / 60)
    )
    if not instant and report.day_s > 0:
        busiest, bound_s = plan.bound()
        who = _WHO[busiest]
        template = Text(
            "lama hari: {day:.0f} menit; satu pemohon sekaligus: {seq:.0f} menit "
            "({ratio:.2f}x lebih cepat berkat pipeline); batas oleh {who}: {bound:.0f} menit",
            "the day took {day:.0f} min; one applicant at a time: {seq:.0f} min "
            "({ratio:.2f}x faster, pipelined); bound set by the {who}: {bound:.0f} min",
        )
        lines.append(
            Text(
                template.id.replace("{who}", who.id), template.en.replace("{who}", who.en.lower())
            ).format(
                day=report.day_s / 60,
                seq=plan.sequential_s() / 60,
                ratio=plan.sequential_s() / report.day_s,
                bound=bound_s / 60,
            )
        )
    elif report.day_s > 0:
        lines.append(
            Text(
                "mesin saja: {n} pemohon dalam {s:.1f} s ({r:.2f} pemohon/s)",
                "the machinery alone: {n} applicants in {s:.1f} s ({r:.2f} applicants/s)",
            ).format(n=report.applications, s=report.day_s, r=report.applications / report.day_s)
        )
    lines.append(
        Text("register: {e} kejadian ditandatangani", "register: {e} signed events").format(
            e=report.events
        )
    )
    if report.verified is None:
        lines.append(Text("verifikasi register: utuh", "register verification: intact"))
    else:
        lines.append(
            Text("verifikasi register GAGAL: {d}", "register verification FAILED: {d}").format(
                d=report.verified
            )
        )
    return lines


def _step_row(figures: StepFigures) -> Text:
    row = "  {name:<{width}} {sop:>2} · {mean:5.2f} · {p95:5.2f} · {n:>3} · {b} · {f}"
    return Text(row, row).format(
        name=_STEP_NAMES[figures.step],
        width=_NAME_WIDTH,
        sop=figures.sop_minutes,
        mean=figures.mean_minutes,
        p95=figures.p95_minutes,
        n=figures.finished,
        b=figures.breaches,
        f=figures.failures,
    )


def _failures(figures: StepFigures) -> Text:
    """What failed at one step, in words: "perekaman biometrik gagal 2x: waktu habis (2)"."""
    name = _STEP_NAMES[figures.step]
    reasons = [
        Text("{what} ({n})", "{what} ({n})").format(what=_failure_words(code), n=count)
        for code, count in figures.failure_codes
    ]
    return Text("  {name} gagal {n}x: {reasons}", "  {name} failed {n}x: {reasons}").format(
        name=Text(_lower_first(name.id), _lower_first(name.en)),
        n=figures.failures,
        reasons=Text(", ".join(r.id for r in reasons), ", ".join(r.en for r in reasons)),
    )


def _failure_words(code: str) -> Text:
    words = _FAILURE_WORDS.get(code)
    if words is not None:
        return words
    fault = FAULT_CODES.get(code)
    if fault is None:
        return Text(code, code)
    # The HAL's text is a status with its remedy ("...; isi kertas"): the status alone.
    said = fault.text
    return Text(_lower_first(said.id.split(";")[0]), _lower_first(said.en.split(";")[0]))


def _lower_first(words: str) -> str:
    return words[:1].lower() + words[1:]
