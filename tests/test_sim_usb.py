"""The simulated USB bus seen through plain pyusb: what libusb would do, faults included."""

from __future__ import annotations

import asyncio
import errno
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import usb.core
import usb.util

from appliance.hal import SocketUsbBackend
from appliance.hal._ticket_printer import Ticket, TicketPrinter
from sim._base import Fault, Timing
from sim.escpos_printer import EscposPrinterSim
from sim.usb import UsbBus

from .support import REPO

VENDOR, PRODUCT = 0x0416, 0x5011


@pytest.fixture
def short_dir() -> Iterator[Path]:
    # pytest's tmp_path can exceed the 108-byte limit of a UNIX socket path.
    path = Path(tempfile.mkdtemp(prefix="usb-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
async def bus(short_dir: Path) -> AsyncIterator[UsbBus]:
    async with UsbBus(socket_path=short_dir / "usb.sock") as bus_:
        yield bus_


@pytest.fixture
async def printer(bus: UsbBus) -> EscposPrinterSim:
    sim = EscposPrinterSim(name="tp", bus=bus, seed=3, timing=Timing(scale=0))
    await sim.start()
    return sim


def _find(bus: UsbBus) -> Any:
    return usb.core.find(
        backend=SocketUsbBackend(bus.socket_path), idVendor=VENDOR, idProduct=PRODUCT
    )


async def _blocking(function: Any, *args: Any) -> Any:
    """A pyusb call from a thread, as the driver makes it (the bus runs on this loop)."""
    return await asyncio.to_thread(function, *args)


async def test_pyusb_enumerates_and_reads_the_descriptors(
    bus: UsbBus, printer: EscposPrinterSim
) -> None:
    device = await _blocking(_find, bus)
    assert device is not None
    assert (device.idVendor, device.idProduct, device.bcdDevice) == (VENDOR, PRODUCT, 0x0102)
    assert await _blocking(lambda: device.manufacturer) == "KTPEL-SIM"
    assert await _blocking(lambda: device.serial_number) == "SIM-TP-0003"
    assert await _blocking(lambda: device.langids) == (0x0409,)
    interface = (await _blocking(device.get_active_configuration))[(0, 0)]
    assert interface.bInterfaceClass == 7  # printer
    assert sorted(e.bEndpointAddress for e in interface) == [0x01, 0x82]
    await _blocking(usb.util.dispose_resources, device)
    assert bus.open_handles == 0


async def test_a_status_request_is_answered_on_the_in_endpoint(
    bus: UsbBus, printer: EscposPrinterSim
) -> None:
    device = await _blocking(_find, bus)
    assert await _blocking(device.write, 0x01, b"\x10\x04\x04", 500) == 3
    assert bytes(await _blocking(device.read, 0x82, 64, 500)) == b"\x12"
    printer.inject(Fault.PAPER_OUT)
    await _blocking(device.write, 0x01, b"\x10\x04\x04", 500)
    assert bytes(await _blocking(device.read, 0x82, 64, 500)) == b"\x72"
    await _blocking(usb.util.dispose_resources, device)


async def test_a_read_with_nothing_to_read_times_out_like_libusb(
    bus: UsbBus, printer: EscposPrinterSim
) -> None:
    device = await _blocking(_find, bus)
    with pytest.raises(usb.core.USBTimeoutError) as caught:
        await _blocking(device.read, 0x82, 64, 20)
    assert caught.value.errno == errno.ETIMEDOUT
    await _blocking(usb.util.dispose_resources, device)


async def test_unplug_gives_enodev_and_replug_a_new_address(
    bus: UsbBus, printer: EscposPrinterSim
) -> None:
    device = await _blocking(_find, bus)
    await _blocking(device.write, 0x01, b"\x1b@", 500)
    old_address = device.address

    printer.inject(Fault.UNPLUG)
    with pytest.raises(usb.core.USBError) as caught:
        await _blocking(device.write, 0x01, b"\x1b@", 500)
    assert caught.value.errno == errno.ENODEV
    assert await _blocking(_find, bus) is None

    printer.clear(Fault.UNPLUG)
    again = await _blocking(_find, bus)
    assert again is not None
    assert again.address != old_address
    with pytest.raises(usb.core.USBError) as stale:  # the old handle stays dead
        await _blocking(device.write, 0x01, b"\x1b@", 500)
    assert stale.value.errno == errno.ENODEV
    await _blocking(again.write, 0x01, b"\x1b@", 500)
    for each in (device, again):
        await _blocking(usb.util.dispose_resources, each)
    assert bus.open_handles == 0


async def test_a_hung_transfer_never_returns_until_the_hang_ends(
    bus: UsbBus, printer: EscposPrinterSim
) -> None:
    device = await _blocking(_find, bus)
    printer.inject(Fault.HANG)
    # Its own 50 ms timeout does not help: the call is stuck below it.
    hung = asyncio.ensure_future(_blocking(device.read, 0x82, 64, 50))
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.3):
            await asyncio.shield(hung)
    printer.clear(Fault.HANG)
    with pytest.raises(usb.core.USBError) as caught:
        async with asyncio.timeout(1):
            await hung
    assert caught.value.errno == errno.EIO  # abandoned, not fed a later answer
    await _blocking(usb.util.dispose_resources, device)


async def test_a_slow_device_misses_a_short_timeout_and_answers_late(
    bus: UsbBus, printer: EscposPrinterSim
) -> None:
    device = await _blocking(_find, bus)
    await _blocking(device.write, 0x01, b"\x10\x04\x01", 500)
    printer.inject(Fault.SLOW, {"delay_s": 0.3})
    with pytest.raises(usb.core.USBTimeoutError):
        await _blocking(device.read, 0x82, 64, 50)
    assert bytes(await _blocking(device.read, 0x82, 64, 1000)) == b"\x12"
    await _blocking(usb.util.dispose_resources, device)


def _raw_request(path: Path, payload: bytes) -> bytes:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.connect(str(path))
        connection.sendall(payload)
        connection.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"\x00\x00",
        struct.pack(">I", 5) + b"nope!",
        struct.pack(">I", 0xFFFFFFFF),
        struct.pack(">I", 2) + b"[]",
    ],
)
async def test_nonsense_on_the_socket_is_dropped_and_the_bus_keeps_serving(
    bus: UsbBus, printer: EscposPrinterSim, payload: bytes
) -> None:
    assert await _blocking(_raw_request, bus.socket_path, payload) == b""
    assert await _blocking(_find, bus) is not None


@pytest.mark.parametrize(
    "request_",
    [
        {"op": "format_disk"},
        {"op": "bulk_write", "handle": 1},
        {"op": "bulk_read", "handle": "x", "endpoint": 130, "size": [], "timeout": 1},
        {"op": "ctrl_transfer", "handle": 999, "value": 0, "request_type": 0, "request": 0},
    ],
)
async def test_bad_requests_get_an_error_reply(
    bus: UsbBus, printer: EscposPrinterSim, request_: dict[str, Any]
) -> None:
    body = json.dumps(request_).encode()
    raw = await _blocking(_raw_request, bus.socket_path, struct.pack(">I", len(body)) + body)
    reply = json.loads(raw[4:])
    assert reply["error"]["errno"] in {errno.EINVAL, errno.ENODEV}


SERVER = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from sim._base import Timing
    from sim.escpos_printer import EscposPrinterSim
    from sim.usb import UsbBus

    async def main():
        async with UsbBus(socket_path=Path(sys.argv[1])) as bus:
            printer = EscposPrinterSim(name="tp", bus=bus, timing=Timing(scale=0))
            await printer.start()
            print("ready", flush=True)
            await printer.wait_for_tickets(1)
            print(printer.printed[0].lines[2].text, flush=True)
            await asyncio.to_thread(sys.stdin.read)  # serve until the test is done

    asyncio.run(main())
    """
)


async def test_the_driver_prints_on_a_bus_in_another_process(short_dir: Path) -> None:
    path = short_dir / "usb.sock"
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        SERVER,
        str(path),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert server.stdin is not None
    assert server.stdout is not None
    try:
        async with asyncio.timeout(20):
            assert await server.stdout.readline() == b"ready\n"
            printer = TicketPrinter(
                name="ticket_printer",
                vendor_id=VENDOR,
                product_id=PRODUCT,
                backend=SocketUsbBackend(path),
            )
            await printer.connect()
            await printer.print_ticket(
                Ticket(
                    office="Kecamatan Sukamaju",
                    number="C-101",
                    service="Perekaman KTP-el",
                    issued_at=datetime(2025, 5, 12, 9, 0),  # noqa: DTZ001
                    qr_payload="ktpel:C-101",
                )
            )
            await printer.disconnect()
            assert await server.stdout.readline() == b"C-101\n"
            server.stdin.close()
            assert await server.wait() == 0
    finally:
        if server.returncode is None:
            server.kill()
            await server.wait()
