"""Garbage and oversized input never crash the card printer's answer parsing or the
simulator's command parser, and what the driver sends the simulator reads back."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

from hypothesis import example, given, settings
from hypothesis import strategies as st
from PIL import Image

from appliance.hal import DeviceState
from appliance.hal._card_printer import (
    LINE_BYTES,
    MAX_REPLY_CHARS,
    PANEL_BYTES,
    PANEL_HEIGHT,
    PANEL_WIDTH,
    CardPrinterReport,
    bitmap_command,
    command_bytes,
    compress_panel,
    front_panel,
    parse_position,
    parse_sensor,
    reply_text,
)
from sim._base import Fault, Timing
from sim.card_printer import (
    MAX_COMMAND_CHARS,
    CardPrinterSim,
    Command,
    EvolisStream,
    expand_panel,
)
from sim.usb import UsbBus

EVOLIS_BITS = st.sampled_from(
    [b"\x1b", b"\r", b"\x00", b";", b"Dbc;", b"Dbc;k;2;", b"12;", b"Rlr;p", b"Sic", b"Se"]
)
STREAMS = st.lists(st.one_of(st.binary(max_size=64), EVOLIS_BITS), max_size=40).map(b"".join)
ANSWERS = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["OK", "CARD", "NO CARD", "5,00 Volts", "0,03 Volts", "400;0;31;0;0", "12"]),
)
# Lines of every kind the compression tells apart (a whole panel of random bytes would
# be more data than hypothesis draws).
LINES = st.sampled_from(
    [
        bytes(LINE_BYTES),
        b"\xff" * LINE_BYTES,
        b"\x01" + bytes(LINE_BYTES - 1),
        bytes(LINE_BYTES - 1) + b"\x80",
        b"\xff" * (LINE_BYTES - 1) + b"\x00",
        bytes(range(LINE_BYTES)),
    ]
)
PANELS = st.lists(LINES, min_size=PANEL_WIDTH, max_size=PANEL_WIDTH).map(b"".join)


@settings(max_examples=300)
@given(data=STREAMS, cuts=st.lists(st.integers(0, 4000), max_size=8))
def test_any_stream_parses_the_same_however_it_is_split(data: bytes, cuts: list[int]) -> None:
    whole = EvolisStream()
    at_once = whole.feed(data)
    pieces = EvolisStream()
    in_pieces: list[Command] = []
    edges = sorted({0, len(data), *(c for c in cuts if c < len(data))})
    for start, end in itertools.pairwise(edges):
        in_pieces += pieces.feed(data[start:end])
    assert in_pieces == at_once
    assert len(whole._pending) <= EvolisStream.MAX_PENDING


def test_an_oversized_line_is_one_bad_command_and_the_next_one_still_reads() -> None:
    stream = EvolisStream()
    commands = stream.feed(b"\x1bR" + b"x" * 1_000_000)
    commands += stream.feed(b"still the same line\r\x1bRlr;p\r")
    assert commands == [Command(""), Command("Rlr", ("p",))]
    assert len(stream._pending) == 0


def test_a_bitmap_reads_whole_even_with_cr_and_semicolons_in_it() -> None:
    data = b"\r;\x1b\x00" * 10
    stream = EvolisStream()
    assert stream.feed(b"\x1bDbc;k;2;40;" + data[:7]) == []
    assert stream.feed(data[7:] + b"\r\x1bSe\r") == [
        Command("Dbc", ("k", "2", "40"), data),
        Command("Se"),
    ]


def _printer() -> CardPrinterSim:
    return CardPrinterSim(
        name="cp", bus=UsbBus(socket_path=Path("/nonexistent/usb.sock")), timing=Timing(scale=0)
    )


@settings(max_examples=200)
@given(data=STREAMS, garbage=st.booleans())
def test_the_simulated_printer_survives_any_stream(data: bytes, garbage: bool) -> None:
    printer = _printer()
    if garbage:
        printer.inject(Fault.GARBAGE)

    async def feed() -> None:
        await printer.bulk_out(0x01, data)
        await printer.idle()  # every command in it worked through
        printer.usb_reset()  # the stream may end inside a bitmap that waits for 83 KB
        await printer.bulk_out(0x01, command_bytes("Rlr", "h"))
        received = b""  # read as the driver reads: to the CR, or past any answer's length
        while b"\r" not in received and len(received) <= MAX_REPLY_CHARS:
            received += await printer.bulk_in(0x82, 64)
        line, end, rest = received.partition(b"\r")
        answer = reply_text(line) if end and not rest else None
        # Garbage must never pass for an answer; a clean answer always must.
        assert answer is None if garbage else answer == "NO CARD"

    asyncio.run(feed())
    hopper_or_inside = printer.hopper + (printer.card is not None)
    assert hopper_or_inside + len(printer.ejected) + len(printer.reject_box) == 100


@given(line=st.binary(max_size=MAX_REPLY_CHARS + 40))
def test_an_answer_is_printable_ascii_of_bounded_length_or_garbage(line: bytes) -> None:
    text = reply_text(line)
    if text is None:
        assert len(line) > MAX_REPLY_CHARS or any(not 0x20 <= b <= 0x7E for b in line)
    else:
        assert text.encode("ascii") == line


@given(feeder=ANSWERS, cover=ANSWERS, reject_box=ANSWERS, state=ANSWERS, printed=ANSWERS)
@example(
    feeder="4,97 Volts", cover="0,03 Volts", reject_box="CARD", state="400;0;31;0;0", printed="12"
)
def test_status_answers_parse_to_a_report_only_when_every_one_is_valid(
    feeder: str, cover: str, reject_box: str, state: str, printed: str
) -> None:
    report = CardPrinterReport.from_replies(
        feeder=feeder, cover=cover, reject_box=reject_box, state=state, printed=printed
    )
    valid = (
        parse_sensor(feeder) is not None
        and parse_sensor(cover) is not None
        and reject_box in {"CARD", "NO CARD"}
        and printed.isascii()
        and printed.isdigit()
        and len(printed) <= 9
        and state.count(";") == 4
    )
    if report is None:
        return
    assert valid
    assert (report.feeder_empty, report.cover_open) == (
        not parse_sensor(feeder),
        not parse_sensor(cover),
    )
    assert report.reject_box_full == (reject_box == "CARD")
    assert report.cards_printed == int(printed)
    assert report.ribbon_remaining == int(state.split(";", maxsplit=1)[0])


@given(text=st.text(max_size=20))
def test_an_unknown_position_answer_is_not_a_position(text: str) -> None:
    position = parse_position(text)
    assert (position is None) == (text not in {"OK", "CARD", "CONTACTLESS CARD", "PATH CARD"})


@given(
    ribbon=st.integers(0, 500),
    low=st.booleans(),
    cover=st.booleans(),
    empty=st.booleans(),
    jam=st.booleans(),
    hot=st.booleans(),
    full=st.booleans(),
)
def test_every_report_maps_to_one_reason(
    ribbon: int, low: bool, cover: bool, empty: bool, jam: bool, hot: bool, full: bool
) -> None:
    report = CardPrinterReport(
        ribbon_remaining=ribbon,
        ribbon_low=low,
        cover_open=cover,
        feeder_empty=empty,
        jam=jam,
        head_temperature_c=75 if hot else 35,
        overheating=hot,
        reject_box_full=full,
        cards_printed=0,
    )
    status = report.device_status()
    expected = next(
        (
            code
            for condition, code in [
                (cover, "cover_open"),
                (jam, "card_jam"),
                (ribbon == 0, "ribbon_out"),
                (hot, "overheating"),
                (full, "reject_box_full"),
                (empty, "feeder_empty"),
                (low, "ribbon_low"),
            ]
            if condition
        ),
        None,
    )
    assert status.code == expected
    usable = expected in {None, "ribbon_low"}
    assert status.state is (DeviceState.READY if usable else DeviceState.NOT_READY)


@settings(max_examples=30)
@given(lines=PANELS)
def test_a_compressed_panel_expands_to_the_same_lines(lines: bytes) -> None:
    packed = compress_panel(lines)
    assert len(packed) <= PANEL_WIDTH * (1 + LINE_BYTES)
    assert expand_panel(packed) == lines


@given(packed=st.binary(max_size=2000))
def test_anything_else_is_not_a_panel(packed: bytes) -> None:
    lines = expand_panel(packed)
    assert lines is None or len(lines) == PANEL_BYTES


@settings(max_examples=10, deadline=None)
@given(
    boxes=st.lists(
        st.tuples(
            st.integers(0, PANEL_WIDTH - 1),
            st.integers(0, PANEL_HEIGHT - 1),
            st.integers(1, 300),
            st.integers(1, 300),
        ),
        max_size=5,
    )
)
def test_the_face_the_simulator_keeps_is_the_image_the_driver_sent(
    boxes: list[tuple[int, int, int, int]],
) -> None:
    image = Image.new("1", (PANEL_WIDTH, PANEL_HEIGHT), 1)
    for left, top, width, height in boxes:
        image.paste(0, (left, top, left + width, top + height))
    printer = _printer()

    async def print_it() -> list[bytes]:
        for command in (b"\x1bPneab;E\r\x1bSic\r\x1bSs\r", bitmap_command(front_panel(image))):
            await printer.bulk_out(0x01, command)
        await printer.bulk_out(0x01, b"\x1bSe\r")
        received = b""  # the printer works on its own: the host waits for the answers
        while received.count(b"\r") < 5:
            received += await printer.bulk_in(0x82, 64)
        return received.split(b"\r")[:5]

    assert asyncio.run(print_it()) == [b"OK"] * 5
    (face,) = printer.printed
    assert face.image.tobytes() == image.tobytes()
    assert printer.ribbon == 399


def test_a_command_line_of_the_longest_length_is_read_and_one_more_is_not() -> None:
    longest = b"R" + b"x" * (MAX_COMMAND_CHARS - 1)
    assert EvolisStream().feed(longest + b"\r") == [Command(longest.decode())]
    assert EvolisStream().feed(longest + b"x\r") == [Command("")]
