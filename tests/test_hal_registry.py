"""The device registry is the one home of the drivers: a driver that registers itself in
its own module (here, this test module) is accepted by the station's config, built by
`build_devices` and checked by the doctor, with no other module touched."""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest
from pydantic import BaseModel, ConfigDict

from appliance._text import Text
from appliance.config import Config, ConfigError, parse_config
from appliance.doctor import DoctorLimits, Level
from appliance.doctor._devices import _probe_devices
from appliance.hal import (
    Checklist,
    ConfiguredDevice,
    Device,
    DeviceGone,
    DeviceIdentity,
    DeviceKind,
    DeviceStatus,
    DeviceType,
    TicketPrinter,
    build_devices,
    device_kind,
    device_types,
    register,
    unregister,
)
from appliance.hal._status import READY

from .support import REPO

# ------------------------------------------------------------- a driver of the test's own


class QueueLampConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["test_queue_lamp"]
    channel: int = 1
    present: bool = True  # whether the lamp is plugged in


class QueueLamp(Device):
    kind = DeviceKind("queue_lamp", Text("lampu antrean", "queue lamp"))

    def __init__(self, *, name: str, config: QueueLampConfig) -> None:
        super().__init__(name=name, connect_timeout_s=0.5, probe_timeout_s=0.5)
        self.config = config

    async def _connect(self) -> DeviceIdentity:
        if not self.config.present:
            raise DeviceGone(self.name, f"no lamp on channel {self.config.channel}")
        return DeviceIdentity(make="Test", model="Lamp", serial="L1", firmware="1.0")

    async def _disconnect(self) -> None:
        pass  # nothing held open

    async def _probe(self) -> DeviceStatus:
        return READY


class QueueLampChecklist(Checklist[QueueLampConfig]):
    def not_found(self, device: ConfiguredDevice[QueueLampConfig]) -> Text | None:
        return Text(
            " Periksa kanal {channel} di [devices.{name}].",
            " Check channel {channel} in [devices.{name}].",
        ).format(channel=device.config.channel, name=device.name)


LAMP = DeviceType(
    device=QueueLamp, config=QueueLampConfig, build=QueueLamp, checklist=QueueLampChecklist()
)


@pytest.fixture
def lamp_registered() -> Iterator[None]:
    register(LAMP)
    try:
        yield
    finally:
        unregister("test_queue_lamp")


def _station(devices: str) -> Config:
    """A station config with these `[devices.<name>]` tables."""
    document = tomllib.loads(f'[station]\nid = "s1"\n{devices}')
    return parse_config(document, file=Path("/etc/ktpel-station/station.toml"))


# ------------------------------------------------------------- the registry as the one home


def test_an_unregistered_kind_is_refused_by_the_config() -> None:
    with pytest.raises(ConfigError) as caught:
        _station('[devices.lamp]\nkind = "test_queue_lamp"\n')
    (problem,) = caught.value.problems
    assert problem.key == "devices.lamp"
    assert "'test_queue_lamp'" in problem.text.en
    assert "jenis perangkat (kind) tidak dikenal" in problem.text.id


@pytest.mark.usefixtures("lamp_registered")
def test_a_registered_driver_is_accepted_built_and_named() -> None:
    config = _station('[devices.lamp]\nkind = "test_queue_lamp"\nchannel = 3\n')
    assert config.devices["lamp"] == QueueLampConfig(kind="test_queue_lamp", channel=3)
    (device,) = build_devices(config.devices)
    assert isinstance(device, QueueLamp)
    assert device.name == "lamp"
    assert device.config.channel == 3
    assert device_kind("queue_lamp") is QueueLamp.kind


@pytest.mark.usefixtures("lamp_registered")
def test_a_registered_drivers_own_settings_are_checked_by_its_model() -> None:
    with pytest.raises(ConfigError) as caught:
        _station('[devices.lamp]\nkind = "test_queue_lamp"\ncolour = "red"\n')
    assert [p.key for p in caught.value.problems] == ["devices.lamp.colour"]


@pytest.mark.usefixtures("lamp_registered")
async def test_the_doctor_probes_a_registered_driver_and_gives_its_checklist() -> None:
    config = _station(
        '[devices.lamp]\nkind = "test_queue_lamp"\n'
        '[devices.gone_lamp]\nkind = "test_queue_lamp"\nchannel = 7\npresent = false\n'
    )
    findings = {f.check: f for f in await _probe_devices(config, DoctorLimits())}
    ready = findings["device:lamp"]
    assert ready.level is Level.OK
    assert ready.text.en.startswith("Queue lamp (lamp): ready")
    assert ready.text.id.startswith("Lampu antrean (lamp): siap")
    gone = findings["device:gone_lamp"]
    assert gone.level is Level.PROBLEM
    assert gone.details["kind"] == "queue_lamp"
    assert gone.advice is not None
    assert gone.advice.en.endswith("power light. Check channel 7 in [devices.gone_lamp].")
    assert gone.advice.id.endswith("Periksa kanal 7 di [devices.gone_lamp].")


def test_two_drivers_cannot_claim_one_tag(lamp_registered: None) -> None:
    other = DeviceType(device=QueueLamp, config=QueueLampConfig, build=QueueLamp)
    with pytest.raises(ValueError, match="test_queue_lamp"):
        register(other)


def test_one_kind_has_one_label() -> None:
    class OtherLampConfig(QueueLampConfig):
        kind: Literal["test_other_lamp"]  # type: ignore[assignment]

    class OtherLamp(QueueLamp):
        kind = DeviceKind("queue_lamp", Text("lampu", "lamp"))

    register(LAMP)
    try:
        with pytest.raises(ValueError, match="queue_lamp"):
            register(DeviceType(device=OtherLamp, config=OtherLampConfig, build=OtherLamp))
    finally:
        unregister("test_queue_lamp")


def test_every_shipped_driver_is_registered_with_a_label_in_both_languages() -> None:
    types = device_types()
    assert set(types) >= {
        "escpos_usb",
        "evolis_usb",
        "pcsc_encoder",
        "signature_pad",
        "satisfaction_keypad",
        "sbi_face",
        "sbi_finger_slap",
        "sbi_finger_single",
        "sbi_iris",
    }
    assert types["escpos_usb"].device is TicketPrinter
    for tag, device_type in types.items():
        assert device_type.tag == tag
        assert device_type.kind.label.id
        assert device_type.kind.label.en


# ------------------------------------------------------------- no driver imports the simulator


def _imports_sim(path: Path) -> bool:
    modules: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module is not None:
            modules.append(node.module)
    return any(module == "sim" or module.startswith("sim.") for module in modules)


def test_only_the_simulator_and_demo_commands_import_sim() -> None:
    appliance = REPO / "appliance"
    importers = {
        str(path.relative_to(REPO)) for path in appliance.rglob("*.py") if _imports_sim(path)
    }
    assert importers <= {"appliance/cli/_simulator.py", "appliance/demo.py"}
    assert not any(p.startswith("appliance/hal/") for p in importers)
