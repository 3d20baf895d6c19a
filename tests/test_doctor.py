"""`appliance doctor` against the real things: simulated devices on their real transports
(ptys, the simulated USB bus, SBI over HTTP, pcscd with vpcd), a private mosquitto, the
daemon as a child process, real key files and a real register.

Nothing here sleeps: waits are bounded with asyncio.timeout, and the doctor bounds its
own.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import shutil
import socket
import sqlite3
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from structlog.testing import capture_logs

from appliance._secrets import write_secret_file
from appliance._text import Text
from appliance.clock import ManualClock
from appliance.config import Config, load_config
from appliance.diskspace import MIB
from appliance.doctor import (
    DoctorLimits,
    Finding,
    Level,
    Report,
    device_finding,
    diagnose,
    findings_from_daemon_status,
    render,
    run_doctor,
)
from appliance.hal import (
    CardEncoder,
    DeviceState,
    DeviceSupervisor,
    SignaturePad,
    SignaturePadConfig,
    TicketPrinter,
    build_devices,
    status_for,
)
from appliance.keys import init_keys
from appliance.register import EventType, Register, StationKey
from sim._base import Fault, NetworkService, Timing
from sim.broker import PrivateMosquitto
from sim.day_run import office_run
from sim.office import SimulatedOffice
from sim.pcscd import PrivatePcscd
from tests.support import quiet_day

STATION = "lumajang-doctor"
BROKER_PASSWORD = "kata-sandi-broker"  # noqa: S105 - the private broker's test password
SYNCED = ManualClock(wall_ns=time.time_ns(), synchronised=True)
WAIT_S = 30.0


# ------------------------------------------------------------------------ the station


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def make_station(
    directory: Path,
    *,
    overlays: tuple[Path, ...] = (),
    broker: PrivateMosquitto | None = None,
    password: str = BROKER_PASSWORD,
    with_register: bool = True,
    reserve_mb: int = 256,
) -> Config:
    """A station's config (its API on a port where no daemon listens), keys, a register
    and, with `broker`, an uplink to it with a 0600 password file."""
    directory.mkdir(parents=True, exist_ok=True)
    text = (
        f'[station]\nid = "{STATION}"\noffice = "Kecamatan Lumajang"\n'
        f'[paths]\nstate_dir = "state"\nreserve_mb = {reserve_mb}\n[api]\nport = {free_port()}\n'
        '[logging]\nlevel = "warning"\n'
    )
    if broker is not None:
        text += (
            f'[uplink]\nhost = "{broker.host}"\nport = {broker.port}\n'
            f'username = "{STATION}"\npassword_file = "broker.password"\n'
        )
    config_file = directory / "station.toml"
    config_file.write_text(text, encoding="utf-8")
    config = load_config(config_file, overlays=list(overlays))
    init_keys(config)
    if broker is not None:
        write_secret_file(config.state_dir / "broker.password", password.encode())
        # The central office's public key; any Ed25519 key will do for the doctor.
        config.state_path(config.uplink.central_public_key).write_bytes(
            StationKey.generate().public_key.to_pem()
        )
    if with_register:
        key = StationKey.load(config.station_key_path)
        with Register.open(config.register_path, station_id=STATION, key=key) as register:
            for n in range(5):
                register.append(EventType.BLANK_RECEIVED, {"count": 10, "reference": f"BA-{n}"})
    return config


def finding(report: Report, check: str) -> Finding:
    found = [f for f in report.findings if f.check == check]
    assert len(found) == 1, (check, [f.check for f in report.findings])
    return found[0]


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[PrivateMosquitto]:
    with PrivateMosquitto(directory=tmp_path / "broker", users={STATION: BROKER_PASSWORD}) as b:
        yield b


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def pcscd() -> AsyncIterator[PrivatePcscd]:
    async with PrivatePcscd() as daemon:
        yield daemon


@contextlib.asynccontextmanager
async def simulated_office(directory: Path, pcscd: PrivatePcscd) -> AsyncIterator[SimulatedOffice]:
    sim = SimulatedOffice(directory=directory / "sim", pcscd=pcscd, timing=Timing(scale=0))
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


def opened_devices(logs: Iterable[Mapping[str, Any]]) -> set[str]:
    """The devices opened in this process, as their drivers log it (serial ones do not)."""
    return {log["device"] for log in logs if log["event"].endswith(("_opened", ".connected"))}


async def unplug(sim: SimulatedOffice, name: str) -> None:
    device = sim.devices[name]
    if isinstance(device, NetworkService):
        await device.unplug()  # its port is closed on return
    else:
        device.inject(Fault.UNPLUG)


# ------------------------------------------------------------------ devices, directly


@pytest.mark.asyncio(loop_scope="module")
async def test_a_healthy_station_is_all_ok_with_every_device_identified(
    tmp_path: Path, pcscd: PrivatePcscd, broker: PrivateMosquitto
) -> None:
    async with simulated_office(tmp_path, pcscd) as sim:
        config = make_station(tmp_path / "station", overlays=(sim.overlay_path,), broker=broker)
        with capture_logs() as logs:
            async with asyncio.timeout(WAIT_S):
                report = await diagnose(config, clock=SYNCED)
        # Every device was closed again: a second look opens them all as freely.
        async with asyncio.timeout(WAIT_S):
            again = await diagnose(config, clock=SYNCED)

    assert opened_devices(logs) == set(config.devices) - {"signature_pad", "satisfaction_keypad"}
    assert report.exit_code == 0
    assert finding(report, "daemon").level is Level.WARNING  # not running: devices probed
    problems = [f for f in report.findings if f.level is not Level.OK and f.check != "daemon"]
    assert problems == []
    assert len(config.devices) == 10  # everything `appliance sim` simulates
    for name in config.devices:
        device = finding(report, f"device:{name}")
        identity = device.details["identity"]
        assert identity is not None
        assert device.details["state"] == "READY"
        if identity["serial"]:
            assert identity["serial"] in device.text.id
        assert device.text.id.endswith(identity["firmware"]) or not identity["firmware"]
    scanner = finding(report, "device:fingerprint_scanner")
    assert scanner.text.id.startswith("Pemindai sidik jari (fingerprint_scanner): siap — ")
    assert scanner.text.en.startswith("Fingerprint scanner (fingerprint_scanner): ready — ")
    assert finding(report, "broker").level is Level.OK
    assert finding(report, "register").details["events"] == 6
    assert [f.level for f in again.findings] == [f.level for f in report.findings]


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize(
    ("device", "fault", "cause", "advice_id", "advice_en"),
    [
        (
            "fingerprint_scanner",
            Fault.UNPLUG,
            "not_found",
            "Periksa kabel USB pemindai sidik jari dan lampu dayanya.",
            "Check the fingerprint scanner's USB cable and its power light.",
        ),
        (
            "signature_pad",
            Fault.UNPLUG,
            "not_found",
            "tidak ada: lihat `ls -l /dev/ktpel/`, aturan udev (systemd/70-ktpel-station.rules)",
            "does not exist: see `ls -l /dev/ktpel/`, the udev rules",
        ),
        (
            "signature_pad",
            Fault.HANG,
            "no_answer",
            "tersambung tetapi tidak menjawab. Periksa dayanya",
            "is connected but does not answer. Check its power",
        ),
        (
            "satisfaction_keypad",
            Fault.GARBAGE,
            "garbage",
            "`baudrate` di [devices.satisfaction_keypad] (9600) mungkin tidak sama",
            "`baudrate` in [devices.satisfaction_keypad] (9600) may not match",
        ),
    ],
)
async def test_a_failing_device_is_named_with_what_to_check(
    tmp_path: Path,
    pcscd: PrivatePcscd,
    device: str,
    fault: Fault,
    cause: str,
    advice_id: str,
    advice_en: str,
) -> None:
    async with simulated_office(tmp_path, pcscd) as sim:
        config = make_station(tmp_path / "station", overlays=(sim.overlay_path,))
        if fault is Fault.UNPLUG:
            await unplug(sim, device)
        else:
            sim.devices[device].inject(fault)
        async with asyncio.timeout(WAIT_S):
            report = await diagnose(config, clock=SYNCED)

    assert report.exit_code == 1
    failed = finding(report, f"device:{device}")
    assert failed.level is Level.PROBLEM
    assert failed.details["cause"] == cause
    assert failed.advice is not None
    assert advice_id in failed.advice.id
    assert advice_en in failed.advice.en
    others = [f for f in report.findings if f.check.startswith("device:") and f is not failed]
    assert len(others) == len(config.devices) - 1
    assert all(f.level is Level.OK for f in others)


@pytest.mark.asyncio(loop_scope="module")
async def test_the_daemons_view_of_its_devices_becomes_findings(
    tmp_path: Path, pcscd: PrivatePcscd
) -> None:
    """What `/api/v1/status` carries is `DeviceSupervisor.snapshot()`: from a real
    supervisor on the simulated devices, with one unplugged while it watches."""
    async with simulated_office(tmp_path, pcscd) as sim:
        config = make_station(tmp_path / "station", overlays=(sim.overlay_path,))
        supervisor = DeviceSupervisor(devices=build_devices(config.devices), poll_interval_s=0.05)
        watching = asyncio.create_task(supervisor.run())
        try:
            async with asyncio.timeout(WAIT_S):
                for name in supervisor.devices:
                    await supervisor.wait_for(name, DeviceState.READY)
                await unplug(sim, "signature_pad")
                await supervisor.wait_for("signature_pad", DeviceState.DISCONNECTED)
            snapshot = json.loads(json.dumps(supervisor.snapshot()))  # as it crosses HTTP
        finally:
            watching.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watching

    findings = {f.check: f for f in findings_from_daemon_status(config, snapshot)}
    assert set(findings) == {f"device:{name}" for name in config.devices}
    pad = findings.pop("device:signature_pad")
    assert pad.level is Level.PROBLEM
    assert pad.advice is not None
    assert "alat tanda tangan elektronik" in pad.advice.id
    assert all(f.level is Level.OK for f in findings.values())


# -------------------------------------------------------------- the daemon, running


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.timeout(120)
async def test_with_the_daemon_running_the_doctor_leaves_the_devices_to_it(
    tmp_path: Path, pcscd: PrivatePcscd
) -> None:
    plan = quiet_day()
    async with office_run(tmp_path / "office", plan, speed=None, pcscd=pcscd) as run:
        config = load_config(run.directory / "station.toml", overlays=[run.sim.overlay_path])
        with capture_logs() as logs:
            async with asyncio.timeout(WAIT_S):
                report = await diagnose(config, clock=SYNCED)

    assert opened_devices(logs) == set()  # in this process, none was opened
    daemon = finding(report, "daemon")
    assert daemon.level is Level.OK
    assert daemon.details["running"] is True
    # The daemon's own view (`/api/v1/status`), as it stands: each device ready, or still
    # being connected by the daemon, which started a moment ago.
    devices = [f for f in report.findings if f.check.startswith("device")]
    assert {f.check for f in devices} == {f"device:{name}" for name in config.devices}
    for device in devices:
        if device.details["state"] == "READY":
            assert device.level is Level.OK
            assert device.details["identity"] is not None
        else:
            assert device.level is Level.WARNING
            assert device.text.en.endswith(": the daemon is connecting it")
    assert finding(report, "register").level is Level.OK  # read while the daemon writes
    assert report.exit_code == 0


# ------------------------------------------------------------------------- the broker


async def test_a_broker_that_is_down_is_a_problem_with_its_own_advice(
    tmp_path: Path, broker: PrivateMosquitto
) -> None:
    config = make_station(tmp_path / "station", broker=broker)
    broker.stop()
    async with asyncio.timeout(WAIT_S):
        report = await diagnose(config, clock=SYNCED)

    assert report.exit_code == 1
    down = finding(report, "broker")
    assert down.level is Level.PROBLEM
    assert down.details["cause"] == "not_listening"
    assert f"127.0.0.1:{broker.port}" in down.text.id
    assert down.advice is not None
    assert "apakah brokernya berjalan" in down.advice.id


async def test_a_wrong_broker_password_is_told_apart(
    tmp_path: Path, broker: PrivateMosquitto
) -> None:
    config = make_station(tmp_path / "station", broker=broker, password="salah")  # noqa: S106 - wrong on purpose
    async with asyncio.timeout(WAIT_S):
        report = await diagnose(config, clock=SYNCED)

    refused = finding(report, "broker")
    assert refused.level is Level.PROBLEM
    assert refused.details["cause"] == "bad_credentials"
    assert refused.advice is not None
    assert "password_file" in refused.advice.en


async def test_a_port_that_never_answers_mqtt_is_told_apart(tmp_path: Path) -> None:
    """TCP accepts, no CONNACK ever comes: a TLS-only port, or not a broker at all."""
    hung_up = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # everything, until the doctor hangs up
        writer.close()
        await writer.wait_closed()
        hung_up.set()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        config = make_station(tmp_path / "station")
        uplink = config.uplink.model_copy(update={"host": "127.0.0.1", "port": port})
        config = config.model_copy(update={"uplink": uplink})
        async with asyncio.timeout(WAIT_S):
            report = await diagnose(config, clock=SYNCED, limits=DoctorLimits(broker_s=0.5))
            await hung_up.wait()  # the doctor closed its connection: nothing left open
    silent_port = finding(report, "broker")
    assert silent_port.level is Level.PROBLEM
    assert silent_port.details["cause"] == "no_mqtt_answer"
    assert silent_port.advice is not None
    assert "ca_certificate" in silent_port.advice.en


async def test_without_an_uplink_the_broker_is_a_warning(tmp_path: Path) -> None:
    config = make_station(tmp_path / "station")
    async with asyncio.timeout(WAIT_S):
        report = await diagnose(config, clock=SYNCED)

    assert finding(report, "broker").level is Level.WARNING
    assert report.exit_code == 0


@pytest.mark.parametrize(
    ("update", "warned"),
    [
        ({"host": "192.0.2.10"}, True),  # a remote broker, no TLS: the warning
        ({"host": "192.0.2.10", "ca_certificate": Path("keys/broker-ca.pem")}, False),
        ({"host": "localhost"}, False),  # a broker on this machine carries nothing away
        ({}, False),  # the private broker, on 127.0.0.1
    ],
)
async def test_personal_data_over_a_link_without_tls_is_a_warning(
    tmp_path: Path, broker: PrivateMosquitto, update: dict[str, Any], warned: bool
) -> None:
    """Issue 16, item 12: the register carries applicants' NIK and name."""
    config = make_station(tmp_path / "station", broker=broker)
    config = config.model_copy(update={"uplink": config.uplink.model_copy(update=update)})
    async with asyncio.timeout(WAIT_S):
        report = await diagnose(config, clock=SYNCED, limits=DoctorLimits(broker_s=0.3))

    checks = [f.check for f in report.findings]
    assert ("uplink_tls" in checks) is warned
    if warned:
        plain = finding(report, "uplink_tls")
        assert plain.level is Level.WARNING
        assert "tanpa TLS" in plain.text.id
        assert "NIK" in plain.text.en
        assert plain.advice is not None
        assert "ca_certificate" in plain.advice.id
        assert "ca_certificate" in plain.advice.en


# ------------------------------------------------------- keys, register, disk, clock


def test_a_key_file_readable_by_others_is_a_problem(tmp_path: Path) -> None:
    config = make_station(tmp_path / "station")
    config.biometric_key_path.chmod(0o644)
    out = io.StringIO()

    status = run_doctor(config, language="id", json_output=False, out=out)

    assert status == 1
    text = " ".join(out.getvalue().split())  # as read, whatever the line breaks
    assert (
        f"[MASALAH] Kunci induk biometrik {config.biometric_key_path} dapat dibaca pengguna "
        "lain (mode 0644, harus 0600); stasiun menolak memakainya "
        f"→ Jalankan: `sudo chmod 600 {config.biometric_key_path}`."
    ) in text


def test_a_missing_key_says_how_to_make_one(tmp_path: Path) -> None:
    config = make_station(tmp_path / "station")
    config.station_key_path.unlink()

    out = io.StringIO()
    assert run_doctor(config, language="en", json_output=False, out=out) == 1
    text = " ".join(out.getvalue().split())
    assert f"[FAIL] Station signing key is missing: {config.station_key_path}" in text
    assert "→ On a new station: `appliance keys init --config …`." in text


async def test_an_altered_event_in_the_register_tail_is_a_problem(tmp_path: Path) -> None:
    config = make_station(tmp_path / "station")
    with sqlite3.connect(config.register_path, isolation_level=None) as conn:
        conn.execute("DROP TRIGGER events_no_update")
        conn.execute('UPDATE events SET data = \'{"count":99,"reference":"BA-4"}\' WHERE seq = 6')
    conn.close()

    report = await diagnose(config, clock=SYNCED)

    altered = finding(report, "register")
    assert altered.level is Level.PROBLEM
    assert altered.text.en == "Event seq 6 was altered or its signature is not valid"
    assert altered.advice is not None
    assert "appliance register verify" in altered.advice.en


async def test_a_gap_in_the_register_is_a_problem(tmp_path: Path) -> None:
    config = make_station(tmp_path / "station")
    with sqlite3.connect(config.register_path, isolation_level=None) as conn:
        conn.execute("DROP TRIGGER events_no_delete")
        conn.execute("DELETE FROM events WHERE seq = 3")
    conn.close()

    report = await diagnose(config, clock=SYNCED)

    assert finding(report, "register").text.en == (
        "The register is incomplete: the last seq is 6, but it holds only 5 events"
    )


async def test_reading_the_register_leaves_no_file_behind(tmp_path: Path) -> None:
    """Under sudo, a -wal or -shm file left by the doctor would belong to root, and the
    daemon could no longer write its register."""
    config = make_station(tmp_path / "station")
    before = sorted(config.register_path.parent.iterdir())

    report = await diagnose(config, clock=SYNCED)

    assert finding(report, "register").level is Level.OK
    assert sorted(config.register_path.parent.iterdir()) == before


async def test_no_register_yet_is_a_warning(tmp_path: Path) -> None:
    config = make_station(tmp_path / "station", with_register=False)
    report = await diagnose(config, clock=SYNCED)
    assert finding(report, "register").level is Level.WARNING


@pytest.mark.parametrize(
    ("reserve_of_free", "level"),
    [(0.0, Level.OK), (2 / 3, Level.WARNING), (2.0, Level.PROBLEM)],
)
async def test_free_disk_space_is_judged_against_the_configured_reserve(
    tmp_path: Path, reserve_of_free: float, level: Level
) -> None:
    """As the daemon judges it: low below twice the reserve, refusing new work at it."""
    free_mib = shutil.disk_usage(tmp_path).free // MIB
    config = make_station(tmp_path / "station", reserve_mb=int(free_mib * reserve_of_free))
    report = await diagnose(config, clock=SYNCED)
    disk = finding(report, "disk")
    assert disk.level is level
    assert disk.details["free_bytes"] > 0
    assert disk.text.id.startswith(f"Ruang kosong di {config.state_dir}: ")
    if level is Level.PROBLEM:
        assert disk.text.en.endswith("the station REFUSES new applications")


@pytest.mark.parametrize(
    ("clock", "level"),
    [
        (ManualClock(wall_ns=time.time_ns(), synchronised=True), Level.OK),
        (ManualClock(wall_ns=time.time_ns(), synchronised=False), Level.WARNING),
        (ManualClock(wall_ns=0, synchronised=False), Level.PROBLEM),  # 1970: no RTC, no NTP
    ],
)
async def test_the_clock_is_judged_by_ntp_and_plausibility(
    tmp_path: Path, clock: ManualClock, level: Level
) -> None:
    config = make_station(tmp_path / "station")
    report = await diagnose(config, clock=clock)
    assert finding(report, "clock").level is level
    if level is Level.WARNING:
        advice = finding(report, "clock").advice
        assert advice is not None
        assert "timedatectl status" in advice.id


# ------------------------------------------------------------- advice without wires


def test_a_permission_refusal_points_at_the_udev_rules_and_groups() -> None:
    # As pyserial words it for a port the service's user may not open.
    status = status_for(
        "disconnected",
        "cannot open /dev/ktpel/signature-pad: [Errno 13] could not open port "
        "/dev/ktpel/signature-pad: [Errno 13] Permission denied: '/dev/ktpel/signature-pad'",
    )
    found = device_finding(
        name="signature_pad",
        kind=SignaturePad.kind,
        status=status,
        identity=None,
        device_config=SignaturePadConfig(kind="signature_pad", path="/dev/ktpel/signature-pad"),
    )
    assert found.details["cause"] == "permission"
    assert found.advice is not None
    assert "systemd/70-ktpel-station.rules" in found.advice.id
    assert "dialout, plugdev dan video" in found.advice.id


def test_a_stopped_card_reader_service_says_to_start_pcscd() -> None:
    found = device_finding(
        name="card_encoder",
        kind=CardEncoder.kind,
        status=status_for("pcsc_unavailable", "SCardEstablishContext: Service not available"),
        identity=None,
        device_config=None,
    )
    assert found.level is Level.PROBLEM
    assert found.advice is not None
    assert "sudo systemctl start pcscd.socket" in found.advice.en


def test_a_device_that_needs_a_person_gives_its_own_instruction() -> None:
    found = device_finding(
        name="ticket_printer",
        kind=TicketPrinter.kind,
        status=status_for("paper_out"),
        identity=None,
        device_config=None,
    )
    assert found.level is Level.PROBLEM
    assert found.advice is not None
    assert found.advice.id == "Kertas printer antrean habis; isi kertas"


# ----------------------------------------------------------------- output, languages


def test_the_report_reads_in_indonesian_or_english(tmp_path: Path) -> None:
    config = make_station(tmp_path / "station")
    config.station_key_path.chmod(0o640)

    outputs = {}
    for language in ("id", "en"):
        out = io.StringIO()
        assert run_doctor(config, language=language, json_output=False, out=out) == 1
        outputs[language] = out.getvalue().splitlines()

    indonesian, english = outputs["id"], outputs["en"]
    assert indonesian[0] == f"Pemeriksaan stasiun {STATION}"
    assert english[0] == f"Check-up of station {STATION}"
    # A station without devices: valid, but worth a word.
    assert indonesian[1].startswith("[PERINGATAN] Konfigurasi sah: stasiun lumajang-doctor")
    assert english[1].startswith("[WARN] Configuration is valid: station lumajang-doctor")
    assert any(line.startswith("[ OK ]       Register utuh: 6 kejadian") for line in indonesian)
    assert any(line.startswith("[ OK ] The register is intact: 6 events") for line in english)
    assert any(line.startswith("[PERINGATAN] Daemon stasiun tidak berjalan") for line in indonesian)
    assert any(line.startswith("[WARN] The station daemon is not running") for line in english)
    assert any(line.startswith("[MASALAH]    Kunci tanda tangan stasiun") for line in indonesian)
    assert any(line.startswith("[FAIL] Station signing key") for line in english)
    assert indonesian[-1].startswith("Hasil: 1 masalah, ")
    assert english[-1].startswith("Result: problems 1, ")
    # Advice sits beneath its finding, indented past the marks.
    advice = indonesian.index(next(line for line in indonesian if "sudo chmod 600" in line))
    assert indonesian[advice].startswith(" " * 13 + "→ ")


def test_the_json_report_carries_both_languages_and_the_exit_code(tmp_path: Path) -> None:
    config = make_station(tmp_path / "station")
    out = io.StringIO()

    status = run_doctor(config, language="id", json_output=True, out=out)

    document = json.loads(out.getvalue())
    assert set(document) == {"station", "level", "exit_code", "findings"}
    assert document["station"] == STATION
    assert document["exit_code"] == status == 0
    assert document["level"] == "warning"  # no daemon, no uplink
    checks = [entry["check"] for entry in document["findings"]]
    assert checks[:2] == ["config", "daemon"]
    assert {"broker", "register", "keys", "disk", "clock"} <= set(checks)
    for entry in document["findings"]:
        assert set(entry) == {"check", "level", "text", "advice", "details"}
        assert entry["level"] in {"ok", "warning", "problem"}
        assert set(entry["text"]) == {"id", "en"}
        assert entry["advice"] is None or set(entry["advice"]) == {"id", "en"}
    daemon = document["findings"][1]
    assert daemon["level"] == "warning"
    assert daemon["details"] == {"running": False}


def test_warnings_alone_exit_0_and_a_problem_exits_1() -> None:
    def report(*levels: Level) -> Report:
        return Report(
            station=STATION,
            findings=tuple(
                Finding(check=f"c{n}", level=level, text=Text("x", "x"))
                for n, level in enumerate(levels)
            ),
        )

    assert report(Level.OK, Level.OK).exit_code == 0
    assert report(Level.OK, Level.WARNING).exit_code == 0
    assert report(Level.WARNING, Level.PROBLEM, Level.OK).exit_code == 1
    assert "Hasil: 1 masalah, 1 peringatan, 1 baik." in render(
        report(Level.WARNING, Level.PROBLEM, Level.OK), "id"
    )
