"""The device supervisor: reconnects by itself, keeps a health history, and tells
subscribers about every status change."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from appliance._text import Text
from appliance.hal import (
    READY,
    Backoff,
    Device,
    DeviceError,
    DeviceFault,
    DeviceIdentity,
    DeviceKind,
    DeviceState,
    DeviceStatus,
    DeviceSupervisor,
    status_for,
)
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


async def test_a_device_that_is_there_but_not_ready_is_seen_ready_again_soon(
    tmp_path: Path,
) -> None:
    """The idle poll is slow (it wakes the station); a device an officer is fixing is
    asked again on the backoff, so the station sees it ready without waiting a poll."""
    pad_sim = SignaturePadSim(name="pad", link=tmp_path / "by-id" / "pad", timing=Timing(scale=0))
    await pad_sim.start()
    pad = SignaturePad(name="pad", path=str(pad_sim.port.link), reply_timeout_s=0.2)
    try:
        async with (
            _supervising(pad, Backoff(initial_s=0.02, maximum_s=0.2)) as supervisor,
            asyncio.timeout(5),
        ):
            await supervisor.wait_for("pad", DeviceState.READY)
            pad_sim.inject(Fault.GARBAGE)
            with pytest.raises(DeviceFault):
                await pad.capture(timeout_s=2)
            assert pad.status.state is DeviceState.ERROR
            pad_sim.clear(Fault.GARBAGE)
            await supervisor.wait_for("pad", DeviceState.READY)
    finally:
        await pad_sim.stop()


class _Scripted(Device):
    """A device whose status answers the test writes: here the supervisor's rhythm is
    under test, not a protocol. Each probe takes the next answer; the last one stays.
    Opening and asking yield, as real I/O does, so a supervisor that never pauses
    fails its test rather than hanging it."""

    kind = DeviceKind("ticket_printer", Text("printer tiket antrean", "queue ticket printer"))

    def __init__(self, *answers: DeviceStatus) -> None:
        super().__init__(name="scripted")
        self.answers = list(answers)
        self.connects = 0
        self.probe_times: list[float] = []
        self.probed = asyncio.Event()

    async def _connect(self) -> DeviceIdentity:
        await asyncio.sleep(0)
        self.connects += 1
        return DeviceIdentity(make="Test", model="Scripted", serial="1", firmware="1")

    async def _disconnect(self) -> None:
        pass

    async def _probe(self) -> DeviceStatus:
        await asyncio.sleep(0)
        self.probe_times.append(asyncio.get_running_loop().time())
        self.probed.set()
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]

    async def probes(self, count: int) -> None:
        """Until the device has been asked `count` times in all."""
        while len(self.probe_times) < count:
            self.probed.clear()
            await self.probed.wait()

    async def print_and_fail(self, error: DeviceError) -> None:
        """An operation that meets `error` (a printer that finds its paper gone)."""
        async with self.operation("print", timeout_s=1):
            raise error


@contextlib.asynccontextmanager
async def _supervising(
    device: Device, backoff: Backoff, *, poll_interval_s: float = 60, attention_s: float = 600
) -> AsyncIterator[DeviceSupervisor]:
    supervisor = DeviceSupervisor(
        devices=[device],
        poll_interval_s=poll_interval_s,
        attention_s=attention_s,
        backoff=backoff,
        seed=1,
    )
    task = asyncio.create_task(supervisor.run(), name="supervisor")
    try:
        yield supervisor
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_device_that_stays_in_trouble_is_asked_again_until_it_is_ready() -> None:
    paper_out = status_for("paper_out")
    printer = _Scripted(paper_out, paper_out, paper_out, paper_out, READY)
    async with _supervising(printer, Backoff(initial_s=0.02, maximum_s=0.2)) as supervisor:
        async with asyncio.timeout(5):  # the idle poll would take a minute
            await supervisor.wait_for("scripted", DeviceState.READY)
    assert printer.connects == 1, "asked again, not reopened"
    assert len(printer.probe_times) == 5


async def test_trouble_nobody_sees_to_goes_back_to_the_idle_poll() -> None:
    """Quick rechecks while an officer may be at the device; after the attention span,
    the idle poll, so that a printer out of cards all night is not asked every second."""
    printer = _Scripted(status_for("feeder_empty"))
    poll_s, attention_s = 0.3, 0.2
    backoff = Backoff(initial_s=0.01, maximum_s=0.01, jitter=0)
    async with _supervising(printer, backoff, poll_interval_s=poll_s, attention_s=attention_s):
        async with asyncio.timeout(10):
            await printer.probes(2)
            first = printer.probe_times[0]
            while printer.probe_times[-1] - first < attention_s:
                await printer.probes(len(printer.probe_times) + 1)
            quick = len(printer.probe_times)
            await printer.probes(quick + 2)
    assert quick >= 5, "asked again quickly at first"
    later = printer.probe_times[quick:]
    assert later[1] - later[0] >= poll_s * 0.95, "then at the idle poll"


async def test_an_operation_that_finds_trouble_brings_a_quick_recheck_after_a_pause() -> None:
    """The supervisor hears of the trouble at once, but asks only after the first pause:
    a device finishing what it was doing is not disturbed at the moment of failure."""
    printer = _Scripted(READY, status_for("paper_out"), READY)
    pause_s = 0.1
    backoff = Backoff(initial_s=pause_s, maximum_s=pause_s, jitter=0)
    async with _supervising(printer, backoff) as supervisor:
        async with asyncio.timeout(5):
            await supervisor.wait_for("scripted", DeviceState.READY)
            with pytest.raises(DeviceFault):
                await printer.print_and_fail(DeviceFault("scripted", "paper_out"))
            failed_at = asyncio.get_running_loop().time()
            assert printer.status.state is DeviceState.NOT_READY
            await printer.probes(2)
            await supervisor.wait_for("scripted", DeviceState.READY)  # within the minute
    assert printer.probe_times[1] - failed_at >= pause_s * 0.95


async def test_a_device_that_opens_but_says_it_is_unplugged_is_retried_with_backoff() -> None:
    """An SBI service answers while its scanner is unplugged: the open succeeds, the
    status says disconnected. That is a failed attempt, paced by the backoff."""
    scanner = _Scripted(status_for("disconnected"))
    pause_s = 0.05
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with _supervising(scanner, Backoff(initial_s=pause_s, maximum_s=pause_s, jitter=0)):
        async with asyncio.timeout(5):
            while scanner.connects < 5:
                await scanner.probes(len(scanner.probe_times) + 1)
        assert loop.time() - started >= 4 * pause_s, "no pause between attempts"
        scanner.answers = [READY]
        async with asyncio.timeout(5):
            while scanner.status.state is not DeviceState.READY:
                await scanner.probes(len(scanner.probe_times) + 1)
