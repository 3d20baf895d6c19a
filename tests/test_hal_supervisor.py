"""The device supervisor: reconnects by itself, keeps a health history, and tells
subscribers about every status change."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from appliance.hal import Backoff, DeviceState, DeviceSupervisor
from appliance.hal._keypad import SatisfactionKeypad
from appliance.hal._signature_pad import SignaturePad
from sim._base import Fault, Timing
from sim.serial_devices import SatisfactionKeypadSim, SignaturePadSim


@pytest.fixture
async def office(
    tmp_path: Path,
) -> AsyncIterator[tuple[SignaturePadSim, SatisfactionKeypadSim, DeviceSupervisor]]:
    pad_sim = SignaturePadSim(name="pad", link=tmp_path / "by-id" / "pad", timing=Timing(scale=0))
    skm_sim = SatisfactionKeypadSim(
        name="skm", link=tmp_path / "by-id" / "skm", timing=Timing(scale=0)
    )
    supervisor = DeviceSupervisor(
        devices=[
            SignaturePad(name="pad", path=str(pad_sim.port.link), reply_timeout_s=0.2),
            SatisfactionKeypad(name="skm", path=str(skm_sim.port.link), reply_timeout_s=0.2),
        ],
        poll_interval_s=0.05,
        backoff=Backoff(initial_s=0.02, maximum_s=0.2),
        seed=1,
    )
    # The supervisor starts before the devices exist: it must keep trying, not give up.
    task = asyncio.create_task(supervisor.run(), name="supervisor")
    await pad_sim.start()
    await skm_sim.start()
    try:
        yield pad_sim, skm_sim, supervisor
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await pad_sim.stop()
        await skm_sim.stop()


async def test_devices_come_up_and_history_records_it(
    office: tuple[SignaturePadSim, SatisfactionKeypadSim, DeviceSupervisor],
) -> None:
    _, _, supervisor = office
    async with asyncio.timeout(5):
        await supervisor.wait_for("pad", DeviceState.READY)
        await supervisor.wait_for("skm", DeviceState.READY)
    snapshot = supervisor.snapshot()
    assert snapshot["pad"]["state"] == "READY"
    assert snapshot["pad"]["identity"]["model"] == "SignPad-500"
    assert snapshot["skm"]["kind"] == "satisfaction_keypad"
    ready = [
        c for c in supervisor.history if c.device == "pad" and c.status.state is DeviceState.READY
    ]
    assert ready
    assert ready[0].identity is not None


async def test_unplug_and_replug_without_restart(
    office: tuple[SignaturePadSim, SatisfactionKeypadSim, DeviceSupervisor],
) -> None:
    pad_sim, _, supervisor = office
    async with asyncio.timeout(5):
        await supervisor.wait_for("pad", DeviceState.READY)
    changes = supervisor.subscribe()
    pad_sim.inject(Fault.UNPLUG)
    seen: list[str] = []
    async with asyncio.timeout(5):
        async for change in changes:
            if change.device != "pad":
                continue
            seen.append(change.status.state.value)
            if change.status.state is DeviceState.DISCONNECTED and len(seen) == 1:
                pad_sim.clear(Fault.UNPLUG)
            if change.status.state is DeviceState.READY:
                break
    assert seen[0] == "DISCONNECTED"
    assert seen[-1] == "READY"
    assert supervisor["skm"].status.state is DeviceState.READY, "one device's trouble is its own"
    # The driver reopened the port by its stable link, now on a different pty.
    signature = await supervisor["pad"].capture(timeout_s=5)  # type: ignore[attr-defined]
    assert signature.samples


def test_device_names_must_be_unique(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unique"):
        DeviceSupervisor(
            devices=[
                SignaturePad(name="x", path=str(tmp_path / "a")),
                SignaturePad(name="x", path=str(tmp_path / "b")),
            ]
        )
