"""Every device x every fault: a typed error within the deadline, a status that says
why, and READY again without a restart once the fault clears."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from appliance.hal import (
    Backoff,
    CaptureNotAccepted,
    DeviceBusy,
    DeviceFault,
    DeviceGone,
    DeviceState,
    DeviceSupervisor,
    DeviceTimeout,
    status_for,
)
from appliance.hal._keypad import SatisfactionKeypad
from appliance.hal._signature_pad import SignaturePad
from sim._base import Fault, Timing
from sim.sbi import SbiKind, SbiSimulator
from sim.serial_devices import SatisfactionKeypadSim, SerialLineSim, SignaturePadSim

from .fault_matrix import RESULTS, RIGS, Expect, Rig, RigFactory, rig
from .test_hal_sbi import KINDS, driver_for

OPERATION_TIMEOUT_S = 0.4
# How long past its deadline an operation may take to unwind (abandon, status update).
UNWIND_S = 1.0
RECOVERY_S = 5.0

SERIAL_EXPECTATIONS = {
    Fault.UNPLUG: Expect(DeviceGone, "disconnected"),
    Fault.HANG: Expect(DeviceTimeout, "not_responding"),
    Fault.GARBAGE: Expect(DeviceFault, "garbage"),
    Fault.SLOW: Expect(DeviceTimeout, "not_responding"),
    Fault.BUSY: Expect(DeviceBusy, "device_busy"),
}


def _serial_rig(sim: SerialLineSim, device: SignaturePad | SatisfactionKeypad) -> Rig:
    async def operate(timeout_s: float) -> object:
        if isinstance(device, SignaturePad):
            return await device.capture(timeout_s=timeout_s)
        return await device.rating(timeout_s=timeout_s)

    return Rig(
        device=device,
        operate=operate,
        inject=sim.inject,
        clear=sim.clear,
    )


@rig("signature_pad", SERIAL_EXPECTATIONS)
@asynccontextmanager
async def _pad(tmp_path: Path) -> AsyncIterator[Rig]:
    sim = SignaturePadSim(name="pad", link=tmp_path / "pad", timing=Timing(scale=0))
    await sim.start()
    try:
        yield _serial_rig(
            sim, SignaturePad(name="signature_pad", path=str(sim.port.link), reply_timeout_s=0.2)
        )
    finally:
        await sim.stop()


@rig("satisfaction_keypad", SERIAL_EXPECTATIONS)
@asynccontextmanager
async def _keypad(tmp_path: Path) -> AsyncIterator[Rig]:
    sim = SatisfactionKeypadSim(name="skm", link=tmp_path / "skm", timing=Timing(scale=0))
    await sim.start()
    try:
        yield _serial_rig(
            sim,
            SatisfactionKeypad(
                name="satisfaction_keypad", path=str(sim.port.link), reply_timeout_s=0.2
            ),
        )
    finally:
        await sim.stop()


SBI_EXPECTATIONS = {
    Fault.UNPLUG: Expect(DeviceGone, "disconnected"),
    Fault.HANG: Expect(DeviceTimeout, "not_responding"),
    Fault.GARBAGE: Expect(DeviceFault, "garbage"),
    Fault.SLOW: Expect(DeviceTimeout, "not_responding"),
    # The applicant's outcomes: the device itself stays READY.
    Fault.LOW_QUALITY: Expect(CaptureNotAccepted, "low_quality"),
    Fault.NO_FINGER: Expect(CaptureNotAccepted, "no_capture"),
    Fault.BUSY: Expect(DeviceBusy, "device_busy"),
}


def _sbi_rig_factory(kind: SbiKind) -> RigFactory:
    @asynccontextmanager
    async def factory(_tmp_path: Path) -> AsyncIterator[Rig]:
        sim = SbiSimulator(
            name=f"sim-{kind}", kind=kind, seed=uuid.uuid4().int, timing=Timing(scale=0)
        )
        await sim.start()
        try:
            device = driver_for(sim)
            yield Rig(
                device=device,
                # The capture's deadline is the driver's configured budget (FAST).
                operate=lambda _timeout_s: KINDS[kind].capture(device),
                inject=sim.inject,
                clear=sim.clear,
            )
        finally:
            await sim.stop()

    return factory


for _kind in SbiKind:
    rig(f"sbi_{_kind}", SBI_EXPECTATIONS)(_sbi_rig_factory(_kind))


CELLS = [(name, fault) for name, (_, expectations) in RIGS.items() for fault in expectations]


@pytest.mark.parametrize(("name", "fault"), CELLS, ids=[f"{n}-{f}" for n, f in CELLS])
async def test_fault(name: str, fault: Fault, tmp_path: Path) -> None:
    factory, expectations = RIGS[name]
    expect = expectations[fault]
    async with factory(tmp_path) as rig_:
        device = rig_.device
        supervisor = DeviceSupervisor(
            devices=[device],
            poll_interval_s=0.05,
            backoff=Backoff(initial_s=0.02, maximum_s=0.2),
            seed=1,
        )
        watching = asyncio.create_task(supervisor.run(), name="supervisor")
        try:
            async with asyncio.timeout(RECOVERY_S):
                await supervisor.wait_for(device.name, DeviceState.READY)
            changes = supervisor.subscribe()
            rig_.inject(fault)
            if fault in {Fault.UNPLUG, Fault.BUSY}:
                # Noticed by the supervisor with nobody using the device.
                async with asyncio.timeout(RECOVERY_S):
                    async for change in changes:
                        if change.status.code == expect.code:
                            break
            with pytest.raises(expect.error) as caught:
                async with asyncio.timeout(OPERATION_TIMEOUT_S + UNWIND_S):
                    await rig_.operate(OPERATION_TIMEOUT_S)
            assert caught.value.code == expect.code
            assert device.status.state is status_for(expect.code).state
            # A device that is not usable says why; the applicant's outcomes (poor
            # quality, nothing presented) leave it READY, with the reason on the error.
            assert (device.status.reason is not None) != device.status.usable
            assert caught.value.text.id
            rig_.clear()
            async with asyncio.timeout(RECOVERY_S):
                await supervisor.wait_for(device.name, DeviceState.READY)
            RESULTS[(name, fault.value)] = (
                f"{type(caught.value).__name__}({expect.code}), READY again"
            )
        finally:
            watching.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watching
