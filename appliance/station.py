"""The station composed: register, biometric store, devices under their supervisor, card
issuance, the SOP pipeline and its local API, in the order they depend on each other.

`Station.open` builds the parts and closes them in reverse; `Station.run` runs the
background work (device supervision, the pipeline's loops, the API server) as named
tasks of one TaskGroup until cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import TypeVar

from appliance._text import Language
from appliance.api import (
    ApiServer,
    Audience,
    LanMode,
    LiveEvents,
    create_app,
    ensure_certificate,
)
from appliance.biostore import BiometricStore
from appliance.card import CardKeys, DocumentSigner
from appliance.clock import RealTimekeeper, ScaledClock, Timekeeper
from appliance.config import Config
from appliance.diskspace import MIB, DiskSpace
from appliance.doctor import StationDoctor
from appliance.domain import EventType
from appliance.fingerprint import FingerMatcher, FingerprintWorker
from appliance.hal import (
    Backoff,
    CardEncoder,
    CardPrinter,
    Device,
    DeviceSupervisor,
    SbiSingleFingerScanner,
    build_devices,
)
from appliance.issuance import CardActivator, CardIssuer
from appliance.keys import secure_state_directories
from appliance.liveness import Liveness
from appliance.logs import get_logger
from appliance.oversight import ContactBook, Period
from appliance.pipeline import DeviceSteps, Pipeline, StepWork
from appliance.pipeline._records import NoRecords, PersonRecords, SiakRecords
from appliance.register import Event, Register, StationKey
from appliance.reports import REPORT_EVENTS, render_html, report
from appliance.retention import RetentionPurge
from appliance.screens import mount_screens
from appliance.screens._board import offer_voice
from appliance.screens._live import BIOMETRICS, DEVICES
from appliance.speech import Announcer, Call, Synthesizer, aplay
from appliance.staff import Sessions, StaffDirectory
from appliance.status import StatusReport
from appliance.sync import Uplink
from appliance.telemetry import StationTelemetry

log = get_logger(__name__)

_D = TypeVar("_D", bound=Device)
_OFFICERS = (Audience.OFFICER,)


def station_clock(config: Config) -> Timekeeper:
    """Real time, unless the config asks for the simulator's scaled time."""
    clock = config.clock
    if clock.speed == 1.0 and clock.start is None:
        return RealTimekeeper()
    start = clock.start.timestamp() if clock.start else None
    return ScaledClock(
        speed=clock.speed,
        start_wall_ns=int(start * 1e9) if start is not None else RealTimekeeper().wall_ns(),
        anchor_monotonic_ns=clock.anchor_monotonic_ns,
    )


@dataclass(slots=True)
class Station:
    config: Config
    clock: Timekeeper
    register: Register
    biostore: BiometricStore
    retention: RetentionPurge
    supervisor: DeviceSupervisor
    pipeline: Pipeline
    staff: StaffDirectory
    sessions: Sessions
    records: PersonRecords
    api: ApiServer
    uplink: Uplink | None
    liveness: Liveness
    announcer: Announcer | None = None
    """Speaks each call on the station's audio output; None when `[speech]` says not to."""

    @classmethod
    @asynccontextmanager
    async def open(
        cls, config: Config, *, clock: Timekeeper | None = None, liveness: Liveness | None = None
    ) -> AsyncIterator[Station]:
        clock = clock or station_clock(config)
        liveness = liveness or Liveness()
        async with AsyncExitStack() as stack:
            secure_state_directories(config)  # 0700 whatever the umask (files are 0600)
            register = Register.open(
                config.register_path,
                station_id=config.station.id,
                key=StationKey.load(config.station_key_path),
                clock=clock,
            )
            stack.callback(register.close)
            biostore = BiometricStore.open(
                config.biometrics_dir, master_key_path=config.biometric_key_path
            )
            stack.callback(biostore.close)
            retention = RetentionPurge(
                register=register,
                biostore=biostore,
                clock=clock,
                retention_days=config.biometrics.retention_days,
            )
            disk = DiskSpace(
                paths=(config.register_path.parent, config.biometrics_dir),
                reserve_bytes=config.paths.reserve_mb * MIB,
            )
            devices = build_devices(config.devices)
            supervisor = DeviceSupervisor(
                devices=devices,
                poll_interval_s=config.hal.poll_interval_s,
                backoff=Backoff(
                    initial_s=config.hal.reconnect_initial_s, maximum_s=config.hal.reconnect_max_s
                ),
                clock=clock,
            )
            by_name = supervisor.devices
            records: PersonRecords = NoRecords()
            if config.siak.url is not None:
                siak = SiakRecords(url=config.siak.url, timeout_s=config.siak.timeout_s)
                stack.push_async_callback(siak.aclose)
                records = siak
            issuance = config.issuance
            # numpy, SciPy and scikit-image live in this worker, on demand (docs/footprint.md).
            fingerprints = await stack.enter_async_context(FingerprintWorker())
            # What signs each chip's data, and the masters of each chip's keys.
            signer, card_keys = (
                DocumentSigner.load(*config.document_signer_paths),
                CardKeys.load(config.card_key_paths),
            )
            printer = _named(by_name, issuance.card_printer, CardPrinter)
            encoder = _named(by_name, issuance.card_encoder, CardEncoder)
            reader = _named(by_name, issuance.activation_reader, CardEncoder)
            scanner = _named(by_name, issuance.activation_scanner, SbiSingleFingerScanner)
            issuer = (
                CardIssuer(
                    register=register,
                    printer=printer,
                    encoder=encoder,
                    signer=signer,
                    card_keys=card_keys,
                    card_timeout_s=issuance.card_timeout_s,
                )
                if printer and encoder
                else None
            )
            activator = (
                CardActivator(
                    register=register,
                    reader=reader,
                    scanner=scanner,
                    matcher=FingerMatcher.from_settings(
                        issuance.matcher, fingerprints=fingerprints
                    ),
                    trust=(signer.certificate,),
                    card_keys=card_keys,
                    attempts_per_finger=issuance.attempts_per_finger,
                    fingers_to_try=issuance.fingers_to_try,
                    card_timeout_s=issuance.card_timeout_s,
                )
                if reader and scanner
                else None
            )
            settings = config.pipeline
            work = StepWork(
                register=register,
                biostore=biostore,
                devices=by_name,
                settings=settings,
                issuer=issuer,
                activator=activator,
                records=records,
                ticket_printer=issuance.ticket_printer,
                station_key=StationKey.load(config.station_key_path),
                office=config.station.office,
                fingerprints=fingerprints,
            )
            pipeline = Pipeline(
                register=register,
                clock=clock,
                settings=settings,
                budgets=config.sop.budgets(),
                requirements=config.station.requirements,
                zone=config.zone,
                devices=by_name,
                device_steps=DeviceSteps(
                    biometric=(
                        settings.camera,
                        settings.fingerprint_scanner,
                        settings.iris_scanner,
                        settings.signature_pad,
                    ),
                    encode_print=(issuance.card_printer, issuance.card_encoder),
                    activate=(issuance.activation_reader, issuance.activation_scanner),
                    handover=(settings.signature_pad,),
                ),
                work=work,
                records=records,
                liveness=liveness,
                disk=disk,
                oversight=config.oversight,
                # Complainants' contacts: beside the register, never in it (docs/oversight.md).
                contacts=stack.enter_context(
                    ContactBook.open(config.state_path(config.oversight.contacts))
                ),
            )
            staff = StaffDirectory.load(
                config.staff_path,
                clock=clock,
                max_failures=config.staff.max_failures,
                lockout=config.staff.lockout,
            )
            sessions = Sessions(clock=clock, idle=config.staff.session_idle)
            telemetry = StationTelemetry(
                register=register, pipeline=pipeline, devices=supervisor.snapshot, disk=disk
            )
            uplink = None
            if config.uplink.enabled:
                uplink = Uplink(
                    settings=config.uplink,
                    register=register,
                    key=StationKey.load(config.station_key_path),
                    resolve=config.state_path,
                    telemetry=telemetry,
                    devices=supervisor,
                    liveness=liveness,
                    # `cmd/doctor`: the check-up, with the daemon's own view of its devices.
                    doctor=StationDoctor(
                        config=config,
                        devices=supervisor.snapshot,
                        stale_loops=liveness.stale,
                        clock=clock,
                    ),
                )
            status = StatusReport(
                telemetry=telemetry,
                devices=supervisor.snapshot,
                uplink=uplink,
                clock=clock,
                liveness=liveness,
            )
            live = _live_events(register, by_name.values(), pipeline)
            app = create_app(
                pipeline=pipeline,
                staff=staff,
                sessions=sessions,
                live=live,
                devices=supervisor.snapshot,
                status=status,
                station_id=config.station.id,
                counters=settings.counters,
                max_body_bytes=config.api.max_body_bytes,
            )
            mount_screens(
                app,
                sessions=Sessions(clock=clock, idle=config.screens.idle_logout),
                settings=config.screens,
                office=config.station.office,
                performance=_performance(config, register),
            )
            speech = config.speech
            announcer = None
            if speech.enabled:
                # One synthesizer: the board fetching a call's audio gets what was played.
                synthesizer = Synthesizer(voice=speech.voice, speed=speech.speed)
                offer_voice(app, synthesizer)
                if speech.plays_on_station:
                    announcer = Announcer(synthesizer=synthesizer, play=aplay(speech.device))
                    register.add_listener(_calls_to(announcer, asyncio.get_running_loop()))
            api = ApiServer(
                app=app,
                host=config.api.host,
                port=config.api.port,
                on_stop=live.close,
                lan=_lan_mode(config),
            )
            yield cls(
                config=config,
                clock=clock,
                register=register,
                biostore=biostore,
                retention=retention,
                supervisor=supervisor,
                pipeline=pipeline,
                staff=staff,
                sessions=sessions,
                records=records,
                api=api,
                uplink=uplink,
                liveness=liveness,
                announcer=announcer,
            )

    async def run(self) -> None:
        """Supervise the devices, run the pipeline, serve the API and ship the register to
        the central office until cancelled.

        The devices are closed last: a device step cancelled on the way out still has
        them, to leave them safe (an interrupted card put in the reject box)."""
        async with asyncio.TaskGroup() as devices:
            supervisor = devices.create_task(self.supervisor.run(), name="devices")
            try:
                async with asyncio.TaskGroup() as tasks:
                    tasks.create_task(self.pipeline.run(), name="pipeline")
                    tasks.create_task(self.retention.run(), name="retention")
                    tasks.create_task(self.api.serve(), name="api")
                    if self.uplink is not None:
                        tasks.create_task(self.uplink.run(), name="uplink")
                    if self.announcer is not None:
                        tasks.create_task(self.announcer.run(), name="speech")
            finally:
                supervisor.cancel()


def _lan_mode(config: Config) -> LanMode | None:
    """The LAN mode's TLS and client list; its certificate is made on first use."""
    if not config.api.tls:
        return None
    certificate = config.state_path(config.api.tls_certificate)
    key = config.state_path(config.api.tls_key)
    names = (*config.api.tls_names, "localhost", "127.0.0.1", "::1")
    if ensure_certificate(key, certificate, station_id=config.station.id, names=names):
        log.info("https_certificate_created", path=str(certificate), names=list(names))
    return LanMode(certificate=certificate, key=key, allowed_clients=config.api.allowed_clients)


_SPOKEN = frozenset({EventType.QUEUE_CALLED, EventType.QUEUE_RECALLED})


def _calls_to(
    announcer: Announcer, loop: asyncio.AbstractEventLoop
) -> Callable[[Sequence[Event]], None]:
    """The register's listener that hands every call and recall to the announcer. It runs
    in the appending thread, so the call crosses to the loop; the ticket and the counter
    are all it takes from the event."""

    def listener(events: Sequence[Event]) -> None:
        heard = time.monotonic_ns()
        for event in events:
            if event.type in _SPOKEN:
                data = event.data
                call = Call(
                    seq=event.seq, ticket=data["ticket"], counter=data["counter"], heard_ns=heard
                )
                with contextlib.suppress(RuntimeError):  # the loop closed: the station stopped
                    loop.call_soon_threadsafe(announcer.announce, call)

    return listener


def _performance(config: Config, register: Register) -> Callable[[Period, Language], str]:
    """The leadership's console's performance report: the same pure function and page as
    `appliance report --format html`, over this station's register."""

    def render(period: Period, lang: Language) -> str:
        events = register.events_of(tuple(REPORT_EVENTS))
        built = report(events, period, config.zone, config.targets)
        return render_html(
            built, office=config.station.office, station=config.station.id, lang=lang
        )

    return render


def _live_events(register: Register, devices: Iterable[Device], pipeline: Pipeline) -> LiveEvents:
    """The register's events for the screens, and what it does not hold: each device's
    change of state, each change in a biometric recording's progress."""
    live = LiveEvents(register=register)
    for device in devices:
        device.add_listener(lambda _device, _status: live.signal(DEVICES, _OFFICERS))
    pipeline.add_recording_listener(lambda _app: live.signal(BIOMETRICS, _OFFICERS))
    return live


def _named(devices: dict[str, Device], name: str, kind: type[_D]) -> _D | None:
    device = devices.get(name)
    return device if isinstance(device, kind) else None
