"""The ticket printer driver against the simulated printer, through the real stack:
python-escpos -> pyusb -> SocketUsbBackend -> UNIX socket -> UsbBus -> EscposPrinterSim."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from PIL import Image

from appliance.hal import (
    Backoff,
    DeviceBusy,
    DeviceFault,
    DeviceGone,
    DeviceState,
    DeviceSupervisor,
    DeviceTimeout,
    SocketUsbBackend,
)
from appliance.hal._status import DeviceStatus
from appliance.hal._ticket_printer import Slip, Ticket, TicketPrinter, TicketPrinterConfig
from sim._base import Fault, Timing
from sim.escpos_printer import EscposPrinterSim, PrintedTicket
from sim.usb import UsbBus

from .fault_matrix import RESULTS

OPERATION_TIMEOUT_S = 0.4
UNWIND_S = 1.0  # how long past its deadline an operation may take to unwind
RECOVERY_S = 5.0

TICKET = Ticket(
    office="Kecamatan Sukamaju",
    number="A-017",
    service="Perekaman KTP-el",
    issued_at=datetime(2025, 5, 12, 8, 15),  # noqa: DTZ001 - printed as the wall clock reads
    qr_payload="ktpel:lumajang-01:A-017:20250512",
)


@pytest.fixture
def short_dir() -> Iterator[Path]:
    # pytest's tmp_path can exceed the 108-byte limit of a UNIX socket path.
    path = Path(tempfile.mkdtemp(prefix="tp-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@dataclass
class Rig:
    bus: UsbBus
    sim: EscposPrinterSim
    printer: TicketPrinter


def _printer(bus: UsbBus, **overrides: object) -> TicketPrinter:
    settings: dict[str, object] = {
        "name": "ticket_printer",
        "vendor_id": 0x0416,
        "product_id": 0x5011,
        "backend": SocketUsbBackend(bus.socket_path),
        "reply_timeout_s": 0.2,
        "probe_timeout_s": 0.5,
        "connect_timeout_s": 1.0,
    }
    settings.update(overrides)
    return TicketPrinter(**settings)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def _rig(short_dir: Path, **sim_options: object) -> AsyncIterator[Rig]:
    async with UsbBus(socket_path=short_dir / "usb.sock") as bus:
        sim = EscposPrinterSim(name="tp", bus=bus, seed=7, timing=Timing(scale=0), **sim_options)  # type: ignore[arg-type]
        await sim.start()
        printer = _printer(bus)
        try:
            yield Rig(bus, sim, printer)
        finally:
            await printer.disconnect()
        assert bus.open_handles == 0  # every open released, whatever happened


@pytest.fixture
async def rig(short_dir: Path) -> AsyncIterator[Rig]:
    async with _rig(short_dir) as rig_:
        await rig_.printer.connect()
        yield rig_


def _only_ticket(sim: EscposPrinterSim) -> PrintedTicket:
    assert len(sim.printed) == 1
    return sim.printed[0]


async def test_identity_comes_from_the_string_descriptors(rig: Rig) -> None:
    identity = rig.printer.identity
    assert identity is not None
    assert identity.make == "KTPEL-SIM"
    assert identity.model == "POS-58 thermal printer"
    assert identity.serial == "SIM-TP-0007"
    assert identity.firmware == "1.02"
    assert rig.printer.status.state is DeviceState.READY


async def test_a_printed_ticket_shows_office_number_service_time_and_qr(
    rig: Rig, short_dir: Path
) -> None:
    await rig.printer.print_ticket(TICKET)

    ticket = _only_ticket(rig.sim)
    texts = [line.text for line in ticket.lines]
    assert "Kecamatan Sukamaju" in texts
    assert "Perekaman KTP-el" in texts
    assert "12-05-2025 08:15" in texts
    (number,) = [line for line in ticket.lines if line.text == "A-017"]
    assert (number.width, number.height) == (4, 4)  # the queue number is the big one
    assert max(line.height for line in ticket.lines if line is not number) == 1
    assert ticket.qr_payloads == ["ktpel:lumajang-01:A-017:20250512"]
    assert rig.printer.status.state is DeviceState.READY

    picture = short_dir / "ticket.png"
    rig.sim.render_png(picture)
    with Image.open(picture) as image:
        assert image.format == "PNG"
        assert image.width == 384
        assert image.height > 300  # text lines and a QR code, not an empty strip


async def test_a_slip_prints_its_title_rows_closing_and_qr(rig: Rig) -> None:
    slip = Slip(
        title=("SURAT KETERANGAN", "Nomor: SK-0001"),
        rows=(("NIK", "3508014101900001"), ("Nama", "SITI AMINAH")),
        closing=("Berlaku sebagai pengganti KTP-el sementara.",),
        qr_payload="ktpel-sk:lumajang-01:SK-0001",
    )
    await rig.printer.print_slip(slip)

    printed = _only_ticket(rig.sim)
    texts = [line.text for line in printed.lines]
    assert texts[:2] == ["SURAT KETERANGAN", "Nomor: SK-0001"]
    assert "Nama: SITI AMINAH" in texts
    assert "Berlaku sebagai pengganti KTP-el sementara." in texts
    assert printed.qr_payloads == ["ktpel-sk:lumajang-01:SK-0001"]


async def test_accented_office_names_survive_the_code_page(rig: Rig) -> None:
    ticket = Ticket(
        office="Kantor Camat Ciléungsi",
        number="B-002",
        service="Pindah datang",
        issued_at=TICKET.issued_at,
        qr_payload="ktpel:B-002:Ciléungsi",
    )
    await rig.printer.print_ticket(ticket)

    printed = _only_ticket(rig.sim)
    assert printed.lines[0].text == "Kantor Camat Ciléungsi"
    assert printed.qr_payloads == ["ktpel:B-002:Ciléungsi"]


async def test_paper_near_end_is_noted_then_paper_out_refuses(short_dir: Path) -> None:
    async with _rig(short_dir, paper_tickets=2, near_end_tickets=1) as rig_:
        printer, sim = rig_.printer, rig_.sim
        await printer.connect()
        assert printer.status.code is None

        await printer.print_ticket(TICKET)
        low = printer.status
        assert (low.state, low.code) == (DeviceState.READY, "paper_low")

        await printer.print_ticket(TICKET)  # the roll's last ticket
        out = printer.status
        assert (out.state, out.code) == (DeviceState.NOT_READY, "paper_out")
        with pytest.raises(DeviceFault) as refused:
            await printer.print_ticket(TICKET)
        assert refused.value.code == "paper_out"
        assert len(sim.printed) == 2

        sim.load_paper()
        assert (await printer.check()).state is DeviceState.READY
        await printer.print_ticket(TICKET)
        assert len(sim.printed) == 3


@pytest.mark.parametrize(
    ("fault", "code", "state"),
    [
        (Fault.PAPER_OUT, "paper_out", DeviceState.NOT_READY),
        (Fault.COVER_OPEN, "cover_open", DeviceState.NOT_READY),
        (Fault.GARBAGE, "garbage", DeviceState.ERROR),
    ],
)
async def test_status_requests_map_to_the_device_status(
    rig: Rig, fault: Fault, code: str, state: DeviceState
) -> None:
    rig.sim.inject(fault)
    status = await rig.printer.check()
    assert (status.state, status.code) == (state, code)
    assert status.reason is not None
    assert status.reason.id != status.reason.en  # Indonesian first, English beside it

    rig.sim.clear()
    assert (await rig.printer.check()).state is DeviceState.READY


async def test_serial_number_picks_one_of_two_identical_printers(short_dir: Path) -> None:
    async with UsbBus(socket_path=short_dir / "usb.sock") as bus:
        first = EscposPrinterSim(name="tp", bus=bus, seed=1, timing=Timing(scale=0))
        second = EscposPrinterSim(name="tp", bus=bus, seed=2, timing=Timing(scale=0))
        await first.start()
        await second.start()
        printer = _printer(bus, serial="SIM-TP-0002")
        try:
            await printer.connect()
            await printer.print_ticket(TICKET)
        finally:
            await printer.disconnect()
        assert printer.identity is not None
        assert printer.identity.serial == "SIM-TP-0002"
        assert (len(first.printed), len(second.printed)) == (0, 1)


async def test_a_printer_that_is_not_there_is_not_found(rig: Rig) -> None:
    absent = _printer(rig.bus, product_id=0x9999)
    with pytest.raises(DeviceGone) as caught:
        await absent.connect()
    assert caught.value.code == "not_found"
    assert absent.status.state is DeviceState.DISCONNECTED


async def test_a_simulator_that_is_not_running_is_no_device(short_dir: Path) -> None:
    printer = TicketPrinter(
        name="ticket_printer",
        vendor_id=0x0416,
        product_id=0x5011,
        backend=SocketUsbBackend(short_dir / "nobody-listens.sock"),
    )
    with pytest.raises(DeviceGone):
        await printer.connect()
    assert printer.status.state is DeviceState.DISCONNECTED


async def test_a_second_caller_is_told_busy_at_once(rig: Rig) -> None:
    busy = asyncio.Event()

    def on_status(_: object, status: DeviceStatus) -> None:
        if status.state is DeviceState.BUSY:
            busy.set()

    rig.printer.add_listener(on_status)
    rig.sim.inject(Fault.HANG)
    first = asyncio.create_task(rig.printer.print_ticket(TICKET, timeout_s=OPERATION_TIMEOUT_S))
    async with asyncio.timeout(1):
        await busy.wait()
    with pytest.raises(DeviceBusy):
        await rig.printer.print_ticket(TICKET)
    with pytest.raises(DeviceTimeout):
        await first


async def test_a_hang_that_never_ends_still_lets_the_printer_close(rig: Rig) -> None:
    rig.sim.inject(Fault.HANG)
    with pytest.raises(DeviceTimeout):
        await rig.printer.print_ticket(TICKET, timeout_s=OPERATION_TIMEOUT_S)
    async with asyncio.timeout(1):
        await rig.printer.disconnect()  # not queued behind the transfer that hangs
    assert rig.bus.open_handles == 0


async def test_config_points_the_driver_at_the_simulator(short_dir: Path) -> None:
    async with _rig(short_dir) as rig_:
        config = TicketPrinterConfig.model_validate(rig_.sim.config_overlay())
        printer = TicketPrinter.from_config(name="ticket_printer", config=config)
        try:
            await printer.connect()
            await printer.print_ticket(TICKET)
        finally:
            await printer.disconnect()
        assert len(rig_.sim.printed) == 1


@pytest.mark.parametrize(
    ("overlay", "problem"),
    [
        ({"usb_backend": "sim"}, "usb_backend"),
        ({"usb_backend": "socket:"}, "usb_backend"),
        ({"profile": "no-such-printer"}, "profile"),
        ({"vendor_id": 0x10000}, "vendor_id"),
        ({"baudrate": 9600}, "baudrate"),
    ],
)
def test_config_rejects_what_cannot_work(overlay: dict[str, object], problem: str) -> None:
    base = {"kind": "escpos_usb", "vendor_id": 0x0416, "product_id": 0x5011}
    with pytest.raises(ValueError, match=problem):
        TicketPrinterConfig.model_validate(base | overlay)


# -- the fault matrix: each fault ends the operation in time with the right typed error,
# the status says why, and once the fault clears the supervisor brings the printer back.

FAULTS = [
    (Fault.UNPLUG, DeviceGone, "disconnected"),
    (Fault.HANG, DeviceTimeout, "not_responding"),
    (Fault.GARBAGE, DeviceFault, "garbage"),
    (Fault.SLOW, DeviceTimeout, "not_responding"),
    (Fault.PAPER_OUT, DeviceFault, "paper_out"),
    (Fault.COVER_OPEN, DeviceFault, "cover_open"),
]


@pytest.mark.parametrize(("fault", "error", "code"), FAULTS, ids=[f[0].value for f in FAULTS])
async def test_fault(rig: Rig, fault: Fault, error: type[Exception], code: str) -> None:
    printer, sim = rig.printer, rig.sim
    address = rig.bus.address_of(sim)
    sim.inject(fault)

    started = time.monotonic()
    with pytest.raises(error) as caught:
        await printer.print_ticket(TICKET, timeout_s=OPERATION_TIMEOUT_S)
    assert time.monotonic() - started < OPERATION_TIMEOUT_S + UNWIND_S
    assert getattr(caught.value, "code", None) == code
    assert printer.status.code == code
    assert printer.status.reason is not None
    assert sim.printed == []

    sim.clear()
    supervisor = DeviceSupervisor(
        devices=[printer], poll_interval_s=0.05, backoff=Backoff(initial_s=0.02, maximum_s=0.2)
    )
    watching = asyncio.create_task(supervisor.run())
    try:
        async with asyncio.timeout(RECOVERY_S):
            await supervisor.wait_for(printer.name, DeviceState.READY)
    finally:
        watching.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watching
    if fault is Fault.UNPLUG:
        assert rig.bus.address_of(sim) != address  # re-enumerated, not a cached handle
    await printer.connect()
    await printer.print_ticket(TICKET)
    assert len(sim.printed) == 1
    RESULTS[("ticket_printer", fault.value)] = f"{type(caught.value).__name__}({code}), READY again"


async def test_supervisor_notices_unplug_and_reconnects_after_replug(rig: Rig) -> None:
    printer, sim = rig.printer, rig.sim
    supervisor = DeviceSupervisor(
        devices=[printer], poll_interval_s=0.05, backoff=Backoff(initial_s=0.02, maximum_s=0.1)
    )
    watching = asyncio.create_task(supervisor.run())
    try:
        async with asyncio.timeout(RECOVERY_S):
            await supervisor.wait_for(printer.name, DeviceState.READY)
        sim.inject(Fault.UNPLUG)
        async with asyncio.timeout(RECOVERY_S):
            await supervisor.wait_for(printer.name, DeviceState.DISCONNECTED)
        sim.clear(Fault.UNPLUG)
        async with asyncio.timeout(RECOVERY_S):
            await supervisor.wait_for(printer.name, DeviceState.READY)
        await printer.print_ticket(TICKET)
    finally:
        watching.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watching
    assert len(sim.printed) == 1
    codes = [change.status.code for change in supervisor.history]
    assert "disconnected" in codes
