"""The queue-ticket printer: an ESC/POS thermal printer on USB.

python-escpos composes the ticket (its `Dummy` printer collects the bytes: text in the
printer profile's code page, sizes, native QR, cut); the bytes go out on the printer's
bulk OUT endpoint through `UsbBulkDevice`. python-escpos's own `Usb` printer is not used
for the transport: it turns every USB error into "not found" (an unplug could not be
told from a wrong vendor id), resets the device on every open and reads with a fixed
timeout; `UsbBulkDevice` keeps errno and deadlines.

Status comes from the real-time requests `DLE EOT n`, which printers answer even while
offline: n=1 (printer: offline), n=2 (offline cause: cover open, stopped at paper end,
error) and n=4 (paper sensors: near-end, end). Each answer is one byte whose bits 0 and
7 are 0 and bits 1 and 4 are 1; anything else is garbage.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any, Final, Literal, Self

from pydantic import PositiveFloat, model_validator

from appliance._text import Text
from appliance.logs import get_logger

from ._device import Device
from ._errors import DeviceFault, DeviceTimeout, status_for
from ._registry import DeviceKind, DeviceType, register
from ._status import READY, DeviceIdentity, DeviceStatus
from ._usb import USB_CHECKLIST, UsbBulkDevice, UsbDeviceConfig

log = get_logger(__name__)

STATUS_REQUESTS: Final = (1, 2, 4)
_FIXED_MASK: Final = 0x93
_FIXED_BITS: Final = 0x12
# DLE EOT 4 reports each paper sensor twice, as a bit pair that Epson defines only as 00 or
# 11 (TM printers' ESC/POS command reference, "DLE EOT", n=4). A half-set pair is no
# documented reading: like python-escpos (`paper_status`), a sensor counts only when both
# of its bits are set.
_PAPER_NEAR_END_PAIR: Final = 0x0C
_PAPER_END_PAIR: Final = 0x60
_REPLY_SIZE: Final = 64  # one full-speed packet: room to see noise for what it is
# Emptying the IN pipe of answers that came too late: each read waits this long for more.
_DRAIN_WAIT_S: Final = 0.02
_DRAIN_READS: Final = 8
_MAX_NUMBER_CHARS: Final = 8  # 4x size on a 58 mm roll: 32 columns / 4
_MAX_QR_CHARS: Final = 500


@dataclass(frozen=True, slots=True)
class Ticket:
    """What a queue ticket shows."""

    office: str
    number: str  # "A-017": printed big
    service: str
    issued_at: datetime
    qr_payload: str

    def __post_init__(self) -> None:
        if not 0 < len(self.number) <= _MAX_NUMBER_CHARS:
            raise ValueError(f"queue number must be 1 to {_MAX_NUMBER_CHARS} characters")
        if not 0 < len(self.qr_payload) <= _MAX_QR_CHARS:
            raise ValueError(f"QR payload must be 1 to {_MAX_QR_CHARS} characters")


# python-escpos, with qrcode, python-barcode, PyYAML and Pillow, is about 10 MB once
# imported (its printer database alone 3.5): it loads with the first job, so that a
# station idles without it (docs/footprint.md).
def _job(profile: str) -> Any:
    """An empty python-escpos job that collects the bytes for `profile`."""
    from escpos.printer import Dummy  # noqa: PLC0415

    return Dummy(profile=profile)


def _qr_error_correction() -> int:
    from escpos.constants import QR_ECLEVEL_M  # noqa: PLC0415

    level: int = QR_ECLEVEL_M
    return level


@functools.cache
def escpos_profiles() -> frozenset[str]:
    """The printer profiles python-escpos knows, read from its printer database without
    importing it (the config names one, checked when the config is read)."""
    database = resources.files("escpos").joinpath("capabilities.json").read_bytes()
    return frozenset(json.loads(database)["profiles"])


def ticket_bytes(ticket: Ticket, *, profile: str = "default") -> bytes:
    """The ESC/POS job for one ticket, composed by python-escpos."""
    job = _job(profile)
    job.hw("INIT")
    job.set(align="center", bold=True)
    job.textln(ticket.office)
    job.set(bold=False)
    job.textln("Nomor Antrean / Queue number")
    job.set(custom_size=True, width=4, height=4)
    job.textln(ticket.number)
    job.set(custom_size=True, width=1, height=1)
    job.textln(ticket.service)
    job.textln(ticket.issued_at.strftime("%d-%m-%Y %H:%M"))
    job.qr(ticket.qr_payload, native=True, size=6, ec=_qr_error_correction())
    job.ln()
    job.textln("Mohon menunggu panggilan")
    job.cut()
    output: bytes = job.output
    return output


@dataclass(frozen=True, slots=True)
class Slip:
    """A printed document on the ticket roll: a title, label/value rows, closing lines
    and a QR code to check it by (the Surat Keterangan when no blank card is left)."""

    title: tuple[str, ...]
    rows: tuple[tuple[str, str], ...]
    closing: tuple[str, ...]
    qr_payload: str

    def __post_init__(self) -> None:
        if not 0 < len(self.qr_payload) <= _MAX_QR_CHARS:
            raise ValueError(f"QR payload must be 1 to {_MAX_QR_CHARS} characters")


def slip_bytes(slip: Slip, *, profile: str = "default") -> bytes:
    """The ESC/POS job for one slip, composed by python-escpos."""
    job = _job(profile)
    job.hw("INIT")
    job.set(align="center", bold=True)
    for line in slip.title:
        job.textln(line)
    job.set(align="left", bold=False)
    job.ln()
    for label, value in slip.rows:
        job.textln(f"{label}: {value}")
    job.ln()
    for line in slip.closing:
        job.textln(line)
    job.set(align="center")
    job.qr(slip.qr_payload, native=True, size=5, ec=_qr_error_correction())
    job.cut()
    output: bytes = job.output
    return output


def status_byte(reply: bytes) -> int | None:
    """The status byte in a DLE EOT answer, or None if the answer is not one."""
    if len(reply) != 1 or reply[0] & _FIXED_MASK != _FIXED_BITS:
        return None
    return reply[0]


def _pair_set(value: int, pair: int) -> bool:
    return value & pair == pair


@dataclass(frozen=True, slots=True)
class PrinterReport:
    """What the printer says about itself in its three status bytes."""

    offline: bool
    cover_open: bool
    paper_out: bool
    paper_low: bool
    error: bool

    @classmethod
    def from_bytes(cls, *, printer: int, offline_cause: int, paper: int) -> Self:
        return cls(
            offline=bool(printer & 0x08),
            cover_open=bool(offline_cause & 0x04),
            paper_out=bool(offline_cause & 0x20) or _pair_set(paper, _PAPER_END_PAIR),
            paper_low=_pair_set(paper, _PAPER_NEAR_END_PAIR),
            error=bool(offline_cause & 0x40),
        )

    def device_status(self) -> DeviceStatus:
        # The cover first: with the cover open the paper sensor reads "out" on most models.
        if self.cover_open:
            return status_for("cover_open")
        if self.paper_out:
            return status_for("paper_out")
        if self.error:
            return status_for("device_error", "the printer reports an error (cutter, head)")
        if self.offline:
            return status_for("device_error", "the printer is offline")
        if self.paper_low:
            return status_for("paper_low")
        return READY


class TicketPrinterConfig(UsbDeviceConfig):
    """`[devices.<name>]` for an ESC/POS ticket printer on USB."""

    kind: Literal["escpos_usb"]
    profile: str = "default"  # a python-escpos printer profile (code pages, cutter)
    connect_timeout_s: PositiveFloat = 5.0
    probe_timeout_s: PositiveFloat = 2.0
    reply_timeout_s: PositiveFloat = 0.5
    print_timeout_s: PositiveFloat = 10.0

    @model_validator(mode="after")
    def _known_profile(self) -> Self:
        if (self.profile or "default") not in escpos_profiles():
            raise ValueError(f"unknown python-escpos printer profile {self.profile!r}")
        return self


class TicketPrinter(Device):
    kind = DeviceKind("ticket_printer", Text("printer tiket antrean", "queue ticket printer"))

    def __init__(
        self,
        *,
        name: str,
        vendor_id: int,
        product_id: int,
        serial: str | None = None,
        backend: Any = None,
        profile: str = "default",
        reply_timeout_s: float = 0.5,
        print_timeout_s: float = 10.0,
        connect_timeout_s: float = 5.0,
        probe_timeout_s: float = 2.0,
    ) -> None:
        """`backend` is a pyusb backend object; None lets pyusb find libusb."""
        super().__init__(
            name=name, connect_timeout_s=connect_timeout_s, probe_timeout_s=probe_timeout_s
        )
        self.profile = profile
        self.reply_timeout_s = reply_timeout_s
        self.print_timeout_s = print_timeout_s
        self._usb = UsbBulkDevice(
            name=name, vendor_id=vendor_id, product_id=product_id, serial=serial, backend=backend
        )
        # Set while an answer may still be on its way (a status request cut short): the
        # next request first empties the pipe so as not to read the old answer as its own.
        self._stale_answers = True

    @classmethod
    def from_config(cls, *, name: str, config: TicketPrinterConfig) -> Self:
        return cls(
            name=name,
            vendor_id=config.vendor_id,
            product_id=config.product_id,
            serial=config.serial,
            backend=config.pyusb_backend(),
            profile=config.profile,
            reply_timeout_s=config.reply_timeout_s,
            print_timeout_s=config.print_timeout_s,
            connect_timeout_s=config.connect_timeout_s,
            probe_timeout_s=config.probe_timeout_s,
        )

    async def print_ticket(self, ticket: Ticket, *, timeout_s: float | None = None) -> None:
        """Print one ticket, after checking there is paper and the cover is closed."""
        await self._print(ticket_bytes(ticket, profile=self.profile), "print_ticket", timeout_s)
        log.info("ticket_printed", device=self.name, number=ticket.number)

    async def print_slip(self, slip: Slip, *, timeout_s: float | None = None) -> None:
        """Print one slip, with the same checks as a ticket."""
        await self._print(slip_bytes(slip, profile=self.profile), "print_slip", timeout_s)
        log.info("slip_printed", device=self.name, title=slip.title[0] if slip.title else "")

    async def _print(self, job: bytes, what: str, timeout_s: float | None) -> None:
        deadline = self.print_timeout_s if timeout_s is None else timeout_s
        async with self.operation(what, timeout_s=deadline):
            status = await self._probe()
            if not status.usable:
                raise DeviceFault(self.name, status.code or "device_error", "refused to print")
            await self._usb.write(job, timeout_s=deadline)
        # The roll may have reached its near-end (or its end) with this job: say so now.
        await self.check()

    async def _connect(self) -> DeviceIdentity:
        identity = await self._usb.open()
        self._stale_answers = True
        log.info("ticket_printer_opened", device=self.name, **identity.to_json())
        return identity

    async def _disconnect(self) -> None:
        await self._usb.close()

    async def _probe(self) -> DeviceStatus:
        printer, offline_cause, paper = [await self._ask(n) for n in STATUS_REQUESTS]
        report = PrinterReport.from_bytes(printer=printer, offline_cause=offline_cause, paper=paper)
        return report.device_status()

    async def _ask(self, request: int) -> int:
        if self._stale_answers:
            await self._drain()
        self._stale_answers = True
        await self._usb.write(bytes([0x10, 0x04, request]), timeout_s=self.reply_timeout_s)
        reply = await self._usb.read(size=_REPLY_SIZE, timeout_s=self.reply_timeout_s)
        value = status_byte(reply)
        if value is None:
            raise DeviceFault(self.name, "garbage", f"DLE EOT {request} answered {reply.hex()}")
        self._stale_answers = False
        return value

    async def _drain(self) -> None:
        for _ in range(_DRAIN_READS):
            try:
                await self._usb.read(size=_REPLY_SIZE, timeout_s=_DRAIN_WAIT_S)
            except DeviceTimeout:
                return  # nothing more: the pipe is empty
        raise DeviceFault(self.name, "garbage", "the printer keeps sending unasked data")


register(
    DeviceType(
        device=TicketPrinter,
        config=TicketPrinterConfig,
        build=TicketPrinter.from_config,
        checklist=USB_CHECKLIST,
    )
)
