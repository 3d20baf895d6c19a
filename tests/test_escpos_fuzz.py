"""Garbage and oversized input never crash the ESC/POS parser or the status parsing."""

from __future__ import annotations

import asyncio
import itertools
from datetime import datetime
from pathlib import Path

from escpos.constants import RT_STATUS_PAPER
from escpos.printer import Dummy
from hypothesis import given, settings
from hypothesis import strategies as st

from appliance.hal import DeviceState
from appliance.hal._ticket_printer import PrinterReport, Ticket, status_byte, ticket_bytes
from sim._base import Fault, Timing
from sim.escpos_printer import MAX_LINE_CHARS, EscposPrinterSim, EscposStream, Token
from sim.usb import UsbBus

STATUS_BYTES = st.integers(0, 255).map(lambda b: (b & ~0x93) | 0x12)  # fixed bits right
ESCPOS_BITS = st.sampled_from([b"\x1b", b"\x1d", b"\x10", b"\x1c", b"(k", b"\n", b"V", b"!"])
STREAMS = st.lists(st.one_of(st.binary(max_size=64), ESCPOS_BITS), max_size=40).map(b"".join)


def _merged(tokens: list[Token]) -> list[Token]:
    """Adjacent text runs joined: where a transfer ended must not change what is read."""
    merged: list[Token] = []
    for token in tokens:
        if merged and token.command == b"" and merged[-1].command == b"":
            merged[-1] = Token(b"", merged[-1].argument + token.argument)
        else:
            merged.append(token)
    return merged


@settings(max_examples=300)
@given(data=STREAMS, cuts=st.lists(st.integers(0, 4000), max_size=8))
def test_any_stream_parses_the_same_however_it_is_split(data: bytes, cuts: list[int]) -> None:
    whole = EscposStream()
    at_once = whole.feed(data)
    pieces = EscposStream()
    in_pieces: list[Token] = []
    edges = sorted({0, len(data), *(c for c in cuts if c < len(data))})
    for start, end in itertools.pairwise(edges):
        in_pieces += pieces.feed(data[start:end])
    assert _merged(in_pieces) == _merged(at_once)
    assert len(whole._pending) <= EscposStream.MAX_PENDING


def _printer() -> EscposPrinterSim:
    return EscposPrinterSim(
        name="tp", bus=UsbBus(socket_path=Path("/nonexistent/usb.sock")), timing=Timing(scale=0)
    )


@settings(max_examples=200)
@given(data=STREAMS, garbage=st.booleans())
def test_the_simulated_printer_survives_any_stream(data: bytes, garbage: bool) -> None:
    printer = _printer()
    if garbage:
        printer.inject(Fault.GARBAGE)

    async def feed() -> None:
        await printer.bulk_out(0x01, data)
        printer.usb_reset()  # the stream may end inside a command that waits for 64 KiB
        await printer.bulk_out(0x01, b"\x10\x04\x01")  # still answering afterwards
        answer = await printer.bulk_in(0x82, 64)
        # Garbage must never pass for a status byte; a clean answer always must.
        assert status_byte(answer) is None if garbage else answer == b"\x12"

    asyncio.run(feed())
    assert all(len(line.text) <= MAX_LINE_CHARS for t in printer.printed for line in t.lines)


def test_an_oversized_line_is_cut_not_kept_whole() -> None:
    printer = _printer()
    asyncio.run(printer.bulk_out(0x01, b"x" * 1_000_000 + b"\n\x1dV\x00"))
    assert [len(line.text) for line in printer.printed[0].lines] == [MAX_LINE_CHARS]


@given(reply=st.binary(max_size=70))
def test_a_status_reply_is_one_byte_with_its_fixed_bits_or_garbage(reply: bytes) -> None:
    value = status_byte(reply)
    if value is None:
        assert len(reply) != 1 or reply[0] & 0x93 != 0x12
    else:
        assert reply == bytes([value])


def _library_reading(answer: int) -> int:
    """python-escpos reading a DLE EOT answer we give it: an oracle that is not ours."""

    def query_status(mode: bytes) -> list[int]:
        assert mode == RT_STATUS_PAPER  # the library asks DLE EOT 4, as the driver does
        return [answer]

    printer = Dummy()
    printer.query_status = query_status
    reading: int = printer.paper_status()
    return reading


@given(paper=STATUS_BYTES)
def test_the_paper_sensor_pairs_read_as_python_escpos_reads_them(paper: int) -> None:
    # paper_status: 0 no paper, 1 near-end, 2 adequate. Epson defines each sensor's bit pair
    # as 00 or 11 only; a half-set pair asserts nothing, in the library as in the driver.
    report = PrinterReport.from_bytes(printer=0x12, offline_cause=0x12, paper=paper)
    expected = {0: (True, None), 1: (False, True), 2: (False, False)}
    paper_out, paper_low = expected[_library_reading(paper)]
    assert report.paper_out is paper_out
    if paper_low is not None:
        assert report.paper_low is paper_low


@given(printer=STATUS_BYTES, offline_cause=STATUS_BYTES, paper=STATUS_BYTES)
def test_every_valid_status_maps_to_one_reason(
    printer: int, offline_cause: int, paper: int
) -> None:
    report = PrinterReport.from_bytes(printer=printer, offline_cause=offline_cause, paper=paper)
    status = report.device_status()
    if offline_cause & 0x04:
        assert (status.state, status.code) == (DeviceState.NOT_READY, "cover_open")
    elif offline_cause & 0x20 or paper & 0x60 == 0x60:
        assert (status.state, status.code) == (DeviceState.NOT_READY, "paper_out")
    elif offline_cause & 0x40 or printer & 0x08:
        assert (status.state, status.code) == (DeviceState.ERROR, "device_error")
    else:
        assert status.state is DeviceState.READY
        assert status.code == ("paper_low" if paper & 0x0C == 0x0C else None)


TEXT = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=30
).filter(str.strip)


@settings(max_examples=100)
@given(office=TEXT, service=TEXT, qr=st.text(min_size=1, max_size=300))
def test_what_the_driver_composes_the_simulator_reads_back(
    office: str, service: str, qr: str
) -> None:
    ticket = Ticket(
        office=office,
        number="A-001",
        service=service,
        issued_at=datetime(2025, 1, 2, 3, 4),  # noqa: DTZ001
        qr_payload=qr,
    )
    printer = _printer()
    asyncio.run(printer.bulk_out(0x01, ticket_bytes(ticket)))
    (printed,) = printer.printed
    texts = [line.text for line in printed.lines]
    assert texts[0] == office.strip()
    assert service.strip() in texts
    assert printed.qr_payloads == [qr]
