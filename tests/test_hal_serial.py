"""The serial drivers (signature pad, satisfaction keypad) against their simulators,
through real ptys: the driver opens the stable link exactly as it would /dev/serial/by-id."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from PIL import Image

from appliance.hal import DeviceBusy, DeviceFault, DeviceGone, DeviceState, DeviceTimeout
from appliance.hal._keypad import Rating, SatisfactionKeypad
from appliance.hal._signature_pad import SignaturePad
from sim._base import Fault, Timing
from sim.serial_devices import SatisfactionKeypadSim, SignaturePadSim


@pytest.fixture
async def pad_sim(tmp_path: Path) -> AsyncIterator[SignaturePadSim]:
    sim = SignaturePadSim(
        name="pad",
        link=tmp_path / "by-id" / "usb-KTPEL_SignPad-if00",
        seed=7,
        timing=Timing(scale=0),
    )
    await sim.start()
    yield sim
    await sim.stop()


@pytest.fixture
async def pad(pad_sim: SignaturePadSim) -> AsyncIterator[SignaturePad]:
    device = SignaturePad(name="pad", path=str(pad_sim.port.link), reply_timeout_s=0.5)
    await device.connect()
    yield device
    await device.disconnect()


@pytest.fixture
async def keypad_sim(tmp_path: Path) -> AsyncIterator[SatisfactionKeypadSim]:
    sim = SatisfactionKeypadSim(
        name="skm", link=tmp_path / "by-id" / "usb-KTPEL_SKM-if00", seed=3, timing=Timing(scale=0)
    )
    await sim.start()
    yield sim
    await sim.stop()


@pytest.fixture
async def keypad(keypad_sim: SatisfactionKeypadSim) -> AsyncIterator[SatisfactionKeypad]:
    device = SatisfactionKeypad(name="skm", path=str(keypad_sim.port.link), reply_timeout_s=0.5)
    await device.connect()
    yield device
    await device.disconnect()


async def test_pad_identity_and_status(pad: SignaturePad) -> None:
    assert pad.status.state is DeviceState.READY
    assert pad.identity is not None
    assert (pad.identity.make, pad.identity.model) == ("KTPEL-SIM", "SignPad-500")
    assert (pad.width, pad.height, pad.max_pressure) == (640, 200, 1023)


async def test_signature_is_decoded_and_rendered(
    pad: SignaturePad, pad_sim: SignaturePadSim
) -> None:
    signature = await pad.capture(timeout_s=5)
    assert len(signature.samples) == 120
    assert [s.t_ms for s in signature.samples] == sorted(s.t_ms for s in signature.samples)
    assert signature.device == pad.identity
    image = Image.open(io.BytesIO(signature.png))
    assert image.size == (640, 200)
    histogram = image.histogram()
    inked = sum(histogram[:128])
    assert inked > 200, "the strokes must leave ink"
    assert [f.kind for f in pad_sim.received] == ["ID", "STAT", "START", "STOP"]
    assert pad.status.state is DeviceState.READY


async def test_cancel_on_the_pad(tmp_path: Path) -> None:
    sim = SignaturePadSim(
        name="pad", link=tmp_path / "pad", final_button="CANCEL", timing=Timing(scale=0)
    )
    await sim.start()
    pad = SignaturePad(name="pad", path=str(sim.port.link))
    try:
        await pad.connect()
        with pytest.raises(DeviceFault) as caught:
            await pad.capture(timeout_s=5)
        assert caught.value.code == "cancelled"
        assert pad.status.state is DeviceState.READY
    finally:
        await pad.disconnect()
        await sim.stop()


async def test_second_caller_is_told_busy_at_once(
    pad: SignaturePad, pad_sim: SignaturePadSim
) -> None:
    pad_sim.timing.scale = 1.0  # a real-time signature: the first capture is still running
    first = asyncio.create_task(pad.capture(timeout_s=10))
    async with asyncio.timeout(2):
        await pad_sim.wait_received("START")
    with pytest.raises(DeviceBusy):
        await pad.clear()
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    assert pad.status.state is DeviceState.READY


async def test_rating_from_the_keypad(
    keypad: SatisfactionKeypad, keypad_sim: SatisfactionKeypadSim
) -> None:
    rating = await keypad.rating(timeout_s=5)
    assert rating in set(Rating)
    assert rating.label.id in {"Sangat puas", "Puas", "Kurang puas", "Tidak puas"}
    assert not keypad_sim.armed, "the buttons go dark after the press"


async def test_a_press_out_of_range_is_garbage(
    keypad: SatisfactionKeypad, keypad_sim: SatisfactionKeypadSim
) -> None:
    keypad_sim.auto_press = False
    task = asyncio.create_task(keypad.rating(timeout_s=5))
    async with asyncio.timeout(2):
        await keypad_sim.wait_received("ARM")
    keypad_sim.press(7)
    with pytest.raises(DeviceFault) as caught:
        await task
    assert caught.value.code == "garbage"
    assert keypad.status.state is DeviceState.ERROR


async def test_unplug_mid_capture_ends_it_at_once(
    pad: SignaturePad, pad_sim: SignaturePadSim
) -> None:
    pad_sim.timing.scale = 1.0
    task = asyncio.create_task(pad.capture(timeout_s=30))
    async with asyncio.timeout(2):
        await pad_sim.wait_received("START")
    pad_sim.inject(Fault.UNPLUG)
    async with asyncio.timeout(2):
        with pytest.raises(DeviceGone):
            await task
    assert pad.status.state is DeviceState.DISCONNECTED
    with pytest.raises(DeviceGone):
        await pad.capture(timeout_s=1)


async def test_missing_port_is_not_found(tmp_path: Path) -> None:
    pad = SignaturePad(name="pad", path=str(tmp_path / "nothing-here"))
    with pytest.raises(DeviceGone) as caught:
        await pad.connect()
    assert "does not exist" in str(caught.value)
    assert pad.status.state is DeviceState.DISCONNECTED


async def test_hung_pad_times_out_and_says_so(pad: SignaturePad, pad_sim: SignaturePadSim) -> None:
    pad_sim.inject(Fault.HANG)
    with pytest.raises(DeviceTimeout):
        await pad.capture(timeout_s=0.3)
    assert pad.status.state is DeviceState.ERROR
    assert pad.status.code == "not_responding"
    pad_sim.clear()
    assert (await pad.check()).state is DeviceState.READY
