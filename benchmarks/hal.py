"""HAL figures: round trips per second per transport, capture overhead over the
simulator's own delay, time to notice an unplug and to be READY after a replug.

Prints one JSON object. Targets (issue 3): capture overhead <= 5 ms, unplug noticed
<= 1 s, READY again <= 2 s after replug, with the supervisor's default settings.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from appliance.hal import (
    CardPrinter,
    CardPrinterConfig,
    Device,
    DeviceState,
    SbiFaceCamera,
    SbiFaceCameraConfig,
)
from appliance.hal._card_printer_protocol import bitmap_command, front_panel
from appliance.hal._keypad import SatisfactionKeypad
from appliance.hal._signature_pad import SignaturePad
from appliance.hal._supervisor import DeviceSupervisor
from appliance.hal._ticket_printer import TicketPrinter, TicketPrinterConfig
from appliance.logs import configure_logging
from sim._base import Fault, Timing
from sim.card_printer import CardPrinterSim
from sim.control import Controllable
from sim.escpos_printer import EscposPrinterSim
from sim.sbi import SbiKind, SbiSimulator
from sim.serial_devices import SatisfactionKeypadSim, SignaturePadSim
from sim.usb import UsbBus


async def _serial_round_trips(directory: Path, count: int) -> dict[str, Any]:
    sim = SatisfactionKeypadSim(name="skm", link=directory / "skm-rt", timing=Timing(scale=0))
    await sim.start()
    keypad = SatisfactionKeypad(name="skm", path=str(sim.port.link))
    await keypad.connect()
    try:
        started = time.perf_counter()
        for _ in range(count):
            await keypad.check()  # STAT and its answer through the pty
        elapsed = time.perf_counter() - started
    finally:
        await keypad.disconnect()
        await sim.stop()
    return {"transport": "serial (pty)", "round_trips_per_s": round(count / elapsed)}


async def _serial_capture_overhead(directory: Path, rounds: int, delay_s: float) -> dict[str, Any]:
    """A key press the simulator sends `delay_s` after ARM, against the driver's total."""
    sim = SatisfactionKeypadSim(
        name="skm", link=directory / "skm-cap", auto_press=False, timing=Timing(scale=0)
    )
    await sim.start()
    keypad = SatisfactionKeypad(name="skm", path=str(sim.port.link))
    await keypad.connect()
    overheads = []
    try:
        for _ in range(rounds):
            sim.received.clear()
            started = time.perf_counter()
            rating = asyncio.create_task(keypad.rating(timeout_s=10))
            await sim.wait_received("ARM")
            await asyncio.sleep(delay_s)  # the visitor's own time to press
            sim.press(2)
            await rating
            overheads.append(time.perf_counter() - started - delay_s)
    finally:
        await keypad.disconnect()
        await sim.stop()
    return _overhead_figures("satisfaction_keypad", delay_s, overheads)


async def _plug_cycles(
    device: Device, sim: Controllable, rounds: int, label: str, *, polled: bool = True
) -> dict[str, Any]:
    """Pull and replug `sim` `rounds` times under a default supervisor, timing both ends.

    A polled device (USB, SBI) is not told of an unplug while idle: the supervisor's next
    status poll finds it, so the target for noticing is one poll interval (the station's
    default, `[hal] poll_interval_s`); a serial port's read fails at once."""
    supervisor = DeviceSupervisor(devices=[device])
    task = asyncio.create_task(supervisor.run(), name="supervisor")
    detect, ready = [], []
    try:
        await supervisor.wait_for(device.name, DeviceState.READY)
        for _ in range(rounds):
            started = time.perf_counter()
            sim.inject(Fault.UNPLUG)
            await supervisor.wait_for(device.name, DeviceState.DISCONNECTED)
            detect.append(time.perf_counter() - started)
            started = time.perf_counter()
            sim.clear(Fault.UNPLUG)
            await supervisor.wait_for(device.name, DeviceState.READY)
            ready.append(time.perf_counter() - started)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return {
        "device": label,
        "unplug_detected_s_max": round(max(detect), 3),
        "unplug_detected_s_median": round(statistics.median(detect), 3),
        "ready_after_replug_s_max": round(max(ready), 3),
        "ready_after_replug_s_median": round(statistics.median(ready), 3),
        "poll_interval_s": supervisor.poll_interval_s if polled else None,
        "targets_s": {"detect": supervisor.poll_interval_s + 0.5 if polled else 1.0, "ready": 2.0},
    }


async def _serial_unplug_replug(directory: Path, rounds: int) -> dict[str, Any]:
    sim = SignaturePadSim(name="pad", link=directory / "pad-plug", timing=Timing(scale=0))
    await sim.start()
    try:
        pad = SignaturePad(name="pad", path=str(sim.port.link))
        return await _plug_cycles(pad, sim, rounds, "signature_pad (serial)", polled=False)
    finally:
        await sim.stop()


def _overhead_figures(label: str, delay_s: float, overheads: list[float]) -> dict[str, Any]:
    return {
        "device": label,
        "simulated_delay_ms": delay_s * 1000,
        "overhead_ms_median": round(statistics.median(overheads) * 1000, 2),
        "overhead_ms_max": round(max(overheads) * 1000, 2),
        "target_ms": 5,
    }


def _camera(sim: SbiSimulator) -> SbiFaceCamera:
    return SbiFaceCamera(
        name="camera", config=SbiFaceCameraConfig.model_validate(sim.config_overlay())
    )


async def _sbi_round_trips(count: int) -> dict[str, Any]:
    sim = SbiSimulator(name="camera", kind=SbiKind.FACE, timing=Timing(scale=0))
    await sim.start()
    camera = _camera(sim)
    await camera.connect()
    try:
        started = time.perf_counter()
        for _ in range(count):
            await camera.check()  # MOSIPDINFO over HTTP on loopback
        elapsed = time.perf_counter() - started
    finally:
        await camera.disconnect()
        await sim.stop()
    return {"transport": "http (SBI)", "round_trips_per_s": round(count / elapsed)}


async def _sbi_capture_overhead(rounds: int, delay_s: float) -> dict[str, Any]:
    sim = SbiSimulator(
        name="camera", kind=SbiKind.FACE, timing=Timing(scale=1.0), capture_delay_s=delay_s
    )
    await sim.start()
    camera = _camera(sim)
    await camera.connect()
    overheads = []
    try:
        for _ in range(rounds):
            served_before = sim.service_s_total
            started = time.perf_counter()
            await camera.capture_face()
            total = time.perf_counter() - started
            # The device's own time (its capture delay, rendering and signing the image)
            # is not the driver's: subtract what the simulator says it spent answering.
            overheads.append(total - (sim.service_s_total - served_before))
    finally:
        await camera.disconnect()
        await sim.stop()
    return _overhead_figures("camera (SBI RCAPTURE, one face image)", delay_s, overheads)


async def _sbi_unplug_replug(rounds: int) -> dict[str, Any]:
    sim = SbiSimulator(name="camera", kind=SbiKind.FACE, timing=Timing(scale=0))
    await sim.start()
    try:
        label = "camera (SBI, polled)"
        return await _plug_cycles(_camera(sim), sim, rounds, label)
    finally:
        await sim.stop()


@contextlib.asynccontextmanager
async def _usb_printer(directory: Path) -> AsyncIterator[tuple[EscposPrinterSim, TicketPrinter]]:
    async with UsbBus(socket_path=directory / "usb.sock") as bus:
        sim = EscposPrinterSim(name="printer", bus=bus, timing=Timing(scale=0))
        await sim.start()
        config = TicketPrinterConfig.model_validate(sim.config_overlay())
        try:
            yield sim, TicketPrinter.from_config(name="printer", config=config)
        finally:
            await sim.stop()


async def _usb_round_trips(directory: Path, count: int) -> dict[str, Any]:
    async with _usb_printer(directory) as (_, printer):
        await printer.connect()
        try:
            started = time.perf_counter()
            for _ in range(count):
                await printer.check()  # three DLE EOT requests, each a bulk OUT and a bulk IN
            elapsed = time.perf_counter() - started
        finally:
            await printer.disconnect()
    return {"transport": "usb (pyusb, forwarded)", "round_trips_per_s": round(3 * count / elapsed)}


async def _usb_unplug_replug(directory: Path, rounds: int) -> dict[str, Any]:
    async with _usb_printer(directory) as (sim, printer):
        label = "ticket_printer (USB, polled)"
        return await _plug_cycles(printer, sim, rounds, label)


@contextlib.asynccontextmanager
async def _card_printer(directory: Path) -> AsyncIterator[tuple[CardPrinterSim, CardPrinter]]:
    async with UsbBus(socket_path=directory / "cp.sock") as bus:
        sim = CardPrinterSim(name="card_printer", bus=bus, timing=Timing(scale=0))
        await sim.start()
        config = CardPrinterConfig.model_validate(sim.config_overlay())
        try:
            yield sim, CardPrinter.from_config(name="card_printer", config=config)
        finally:
            await sim.stop()


def _card_face() -> Any:
    from PIL import Image, ImageDraw  # noqa: PLC0415 - only this figure needs Pillow

    face = Image.new("L", (1016, 648), 255)
    ImageDraw.Draw(face).rectangle((40, 30, 300, 400), fill=0)
    ImageDraw.Draw(face).text((340, 60), "NIK 3508xxxxxxxxxxxx", fill=0)
    return face


async def _card_printer_figures(
    directory: Path, probes: int, cards: int, plugs: int
) -> dict[str, Any]:
    """A status probe (seven A5013 reads), a card fed and printed (the whole Ss, Sr, Dbc,
    Se job and every check around it) with the simulator's own motions instant, and the
    unplug/replug cycle."""
    face = _card_face()
    async with _card_printer(directory) as (sim, printer):
        await printer.connect()
        try:
            started = time.perf_counter()
            for _ in range(probes):
                await printer.check()
            probe_s = (time.perf_counter() - started) / probes
            issue = []
            for _ in range(cards):
                started = time.perf_counter()
                await printer.feed()
                await printer.print_front(face)
                issue.append(time.perf_counter() - started)
                sim.load_hopper(1)
        finally:
            await printer.disconnect()
        plug = await _plug_cycles(printer, sim, plugs, "card_printer (USB, polled)")
    return {
        "status_probe_ms": round(probe_s * 1000, 2),
        "status_reads_per_s": round(7 / probe_s),
        "card_fed_and_printed_ms_median": round(statistics.median(issue) * 1000, 1),
        "card_fed_and_printed_ms_max": round(max(issue) * 1000, 1),
        "print_job_bytes": len(bitmap_command(front_panel(face))),
        "unplug_replug": plug,
    }


async def _main(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="ktpel-hal-") as tmp:
        directory = Path(tmp)
        return {
            "benchmark": "hal",
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
            "round_trips": [
                await _serial_round_trips(directory, args.round_trips),
                await _sbi_round_trips(args.round_trips // 4),
                await _usb_round_trips(directory, args.round_trips // 6),
            ],
            "capture_overhead": [
                await _serial_capture_overhead(directory, args.captures, 0.2),
                await _sbi_capture_overhead(args.captures, 0.2),
            ],
            "unplug_replug": [
                await _serial_unplug_replug(directory, args.plugs),
                await _sbi_unplug_replug(args.plugs),
                await _usb_unplug_replug(directory, args.plugs),
            ],
            "card_printer": await _card_printer_figures(
                directory, args.round_trips // 20, args.captures, args.plugs
            ),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--round-trips", type=int, default=2000)
    parser.add_argument("--captures", type=int, default=20)
    parser.add_argument("--plugs", type=int, default=5)
    configure_logging(level="warning")  # stdout is for the JSON
    print(json.dumps(asyncio.run(_main(parser.parse_args())), indent=2))


if __name__ == "__main__":
    main()
