"""`appliance sim` as a technician uses it: a separate process whose devices the
station's own config reaches through the overlay it writes, with faults on demand."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.config import load_config
from appliance.hal import CardPrinter, DeviceState, DeviceTimeout, SbiFaceCamera
from appliance.hal._config import build_devices
from appliance.hal._signature_pad import SignaturePad
from sim.office import SimulatedOffice
from sim.pcscd import SOCKET_VARIABLE
from sim.scenario import Scenario

APPLIANCE = [sys.executable, "-m", "appliance"]


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[Path]:
    directory = tmp_path / "sim"
    # The simulator runs its own pcscd: not the one this test process is pointed at.
    env = {k: v for k, v in os.environ.items() if k != SOCKET_VARIABLE}
    process = subprocess.Popen(
        [*APPLIANCE, "sim", "--dir", str(directory), "--timing", "instant", "--seed", "4"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    first = process.stdout.readline()  # blocks until the devices are up
    assert "config overlay" in first, first
    yield directory
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0
    process.stdout.close()
    assert not (directory / "control.sock").exists()


def _sim(directory: Path, *args: str) -> tuple[int, dict[str, object]]:
    done = subprocess.run(
        [*APPLIANCE, "sim", "--dir", str(directory), *args],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.returncode, json.loads(done.stdout)


async def test_station_config_reaches_the_simulated_devices(
    simulator: Path, tmp_path: Path
) -> None:
    base = tmp_path / "station.toml"
    base.write_text('[station]\nid = "lumajang-01"\n', encoding="utf-8")
    config = load_config(base, overlays=[simulator / "devices.toml"])
    assert set(config.devices) == {
        "signature_pad",
        "satisfaction_keypad",
        "camera",
        "fingerprint_scanner",
        "single_finger_scanner",
        "iris_scanner",
        "ticket_printer",
        "card_printer",
        "card_encoder",
        "activation_reader",
    }
    devices = {device.name: device for device in build_devices(config.devices)}
    camera = devices["camera"]
    assert isinstance(camera, SbiFaceCamera)
    await camera.connect()
    try:
        face = await camera.capture_face()
        assert face.captures
    finally:
        await camera.disconnect()
    pad = devices["signature_pad"]
    assert isinstance(pad, SignaturePad)
    await pad.connect()
    try:
        assert pad.status.state is DeviceState.READY
        signature = await pad.capture(timeout_s=5)
        assert len(signature.samples) > 10

        code, reply = _sim(simulator, "inject", "signature_pad", "hang")
        assert (code, reply) == (0, {"ok": True})
        with pytest.raises(DeviceTimeout):
            await pad.capture(timeout_s=0.5)
        code, listing = _sim(simulator, "list")
        assert listing["devices"]["signature_pad"]["active"] == {"hang": {}}  # type: ignore[index]

        assert _sim(simulator, "clear", "signature_pad")[0] == 0
        assert (await pad.check()).state is DeviceState.READY
    finally:
        await pad.disconnect()


async def test_a_card_from_the_simulated_printer_can_be_carried_to_the_desk_reader(
    simulator: Path, tmp_path: Path
) -> None:
    base = tmp_path / "station.toml"
    base.write_text('[station]\nid = "lumajang-01"\n', encoding="utf-8")
    config = load_config(base, overlays=[simulator / "devices.toml"])
    assert getattr(config.devices["card_encoder"], "kind", None) == "pcsc_encoder"
    assert getattr(config.devices["activation_reader"], "kind", None) == "pcsc_encoder"
    (printer,) = [d for d in build_devices(config.devices) if isinstance(d, CardPrinter)]
    await printer.connect()
    try:
        await printer.feed()
        await printer.eject()
    finally:
        await printer.disconnect()

    code, reply = _sim(simulator, "take-card")
    assert code == 0
    assert str(reply["result"]).startswith("KTP")
    code, reply = _sim(simulator, "take-card")
    assert (code, reply) == (2, {"ok": False, "error": "the card printer's output tray is empty"})
    assert _sim(simulator, "present", "single_finger_scanner", "1001")[0] == 0
    code, reply = _sim(simulator, "present", "signature_pad", "1001")
    assert (code, reply["error"]) == (2, "signature_pad takes no person's fingers")


def test_bad_control_requests_are_refused_with_a_reason(simulator: Path) -> None:
    code, reply = _sim(simulator, "inject", "signature_pad", "paper_out")
    assert code == 2
    assert reply == {"ok": False, "error": "signature_pad cannot have fault paper_out"}
    code, reply = _sim(simulator, "inject", "toaster", "hang")
    assert code == 2
    assert "unknown device 'toaster'" in str(reply["error"])


def test_a_scenario_naming_an_unknown_device_is_refused(tmp_path: Path) -> None:
    scenario = tmp_path / "s.toml"
    scenario.write_text(
        '[[fault]]\nat_s = 1\ndevice = "toaster"\nfault = "hang"\n', encoding="utf-8"
    )
    done = subprocess.run(
        [*APPLIANCE, "sim", "--dir", str(tmp_path / "sim"), "--scenario", str(scenario)],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert done.returncode == 2
    assert "unknown device 'toaster'" in done.stdout


def test_the_example_scenario_is_valid() -> None:
    scenario = Scenario.load(Path(__file__).parent.parent / "examples" / "sim-scenario.toml")
    scenario.check_against(SimulatedOffice(directory=Path("/nonexistent")).devices)
    assert [f.device for f in scenario.fault] == [
        "signature_pad",
        "satisfaction_keypad",
        "signature_pad",
    ]
