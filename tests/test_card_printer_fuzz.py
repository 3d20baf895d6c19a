"""Garbage and oversized input never crash the card printer's answer reading or the
simulator's command parser, and what the driver sends the simulator reads back."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

from hypothesis import example, given, settings
from hypothesis import strategies as st
from PIL import Image

from appliance.hal import DeviceState
from appliance.hal._card_printer_protocol import (
    ERROR_ANSWERS,
    LINE_BYTES,
    MAX_ANSWER_CHARS,
    NACK_CODES,
    PANEL_BYTES,
    PANEL_HEIGHT,
    PANEL_WIDTH,
    Answer,
    bitmap_command,
    command_bytes,
    compress_panel,
    front_panel,
    read_answer,
)
from appliance.hal._card_printer_status import (
    CardPosition,
    CardPrinterReport,
    parse_position,
    parse_sensor,
)
from sim._base import Fault, Timing
from sim.card_printer import CardPrinterSim
from sim.card_printer_language import MAX_COMMAND_CHARS, Command, EvolisStream, expand_panel
from sim.usb import UsbBus

EVOLIS_BITS = st.sampled_from(
    [
        b"\x1b",
        b"\r",
        b"\x00",
        b";",
        b"Dbc;",
        b"Dbc;k;2;",
        b"Db;k;2;",
        b"12;",
        b"Rlr;p",
        b"Sic",
        b"Se",
        b"Pem;4",
    ]
)
STREAMS = st.lists(st.one_of(st.binary(max_size=64), EVOLIS_BITS), max_size=40).map(b"".join)
POSITIONS = {"NO CARD", "OK", "ERR CARD", "CARD", "SMART CARD", "CONTACTLESS CARD"}
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
@given(data=STREAMS, cuts=st.lists(st.integers(0, 4000), max_size=8), four=st.booleans())
def test_any_stream_parses_the_same_however_it_is_split(
    data: bytes, cuts: list[int], four: bool
) -> None:
    whole = EvolisStream(dbc_parameters=4 if four else 3)
    at_once = whole.feed(data)
    pieces = EvolisStream(dbc_parameters=4 if four else 3)
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


def test_a_download_reads_whole_even_with_cr_and_semicolons_in_it() -> None:
    data = b"\r;\x1b\x00" * 10
    for stream, header in (
        (EvolisStream(), b"\x1bDbc;k;2;40;"),
        (EvolisStream(dbc_parameters=4), b"\x1bDbc;k;2;0;40;"),
    ):
        assert stream.feed(header + data[:7]) == []
        parameters = tuple(header[5:-1].decode().split(";"))
        assert stream.feed(data[7:] + b"\r\x1bSe\r") == [
            Command("Dbc", parameters, data),
            Command("Se"),
        ]
    panel = bytes(range(256)) * (PANEL_BYTES // 256) + bytes(PANEL_BYTES % 256)
    assert EvolisStream().feed(b"\x1bDb;k;2;" + panel + b"\r") == [Command("Db", ("k", "2"), panel)]


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
        received = b""  # read as the driver reads: to the answer's end
        while True:
            try:
                answer = read_answer(received)
            except ValueError:
                answer = None
                break
            if answer is not None:
                break
            received += await printer.bulk_in(0x82, 64)
        # Garbage must never pass for an answer; a clean answer always must.
        assert answer is None if garbage else answer == Answer("NO CARD")

    asyncio.run(feed())
    hopper_or_inside = printer.hopper + (printer.card is not None)
    assert hopper_or_inside + len(printer.ejected) + len(printer.reject_box) == 100


@given(received=st.binary(max_size=MAX_ANSWER_CHARS + 40))
@example(received=b"\x15T")
@example(received=b"\x06\r\x00")
@example(received=b"\x00OK\r\x00\x00")
@example(received=b"OK\rOK\r")
def test_an_answer_is_text_ack_or_nack_and_anything_else_is_refused(received: bytes) -> None:
    try:
        answer = read_answer(received)
    except ValueError:
        return
    if answer is None:  # not ended yet: nothing but a beginning that could still be one
        body = received.lstrip(b"\r\x00")
        assert body == b"\x15" or all(0x20 <= b <= 0x7E for b in body)
        assert len(body) <= MAX_ANSWER_CHARS
        return
    padding = b"\r\x00"
    body = received.strip(padding)
    if answer.ack:
        assert body == b"\x06"
    elif answer.nack is not None:
        assert body == b"\x15" + answer.nack.encode()
        assert answer.nack in NACK_CODES
    else:
        assert body.startswith(answer.text.encode("ascii"))
        assert body[len(answer.text) :].strip(padding) == b""
        assert len(answer.text) <= MAX_ANSWER_CHARS
        assert answer.text.isprintable()


@given(text=st.text(max_size=20))
@example(text="ERROR MAG")
def test_every_error_answer_has_one_code_and_other_text_none(text: str) -> None:
    answer = Answer(text)
    if text in ERROR_ANSWERS:
        assert answer.refusal == ERROR_ANSWERS[text]
    elif text.startswith("ERR"):
        assert answer.refusal == "device_error"
    else:
        assert answer.refusal is None
    assert answer.ok is (text == "OK")


@given(text=st.text(max_size=20), ack=st.booleans(), nack=st.sampled_from([None, *NACK_CODES]))
def test_only_the_known_position_answers_are_positions(
    text: str, ack: bool, nack: str | None
) -> None:
    answer = Answer(text, ack=ack, nack=nack)
    position = parse_position(answer)
    if nack is not None:
        assert position is None
    elif ack:
        assert position is CardPosition.NONE
    else:
        assert (position is None) == (text not in POSITIONS)


@given(text=st.text(max_size=16))
@example(text="4,97 Volts")
@example(text="0.03 Volts")
def test_a_sensor_reading_is_volts_or_nothing(text: str) -> None:
    reading = parse_sensor(Answer(text))
    if reading is not None:
        volts = float(text.removesuffix(" Volts").replace(",", "."))
        assert reading is (volts >= 2.5)


@given(
    position=st.sampled_from(CardPosition),
    cover=st.booleans(),
    empty=st.sampled_from([None, True, False]),
    at_end=st.sampled_from([None, True, False]),
    remaining=st.sampled_from([None, 0, 1, 50, 400]),
    full=st.sampled_from([None, True, False]),
)
def test_every_report_maps_to_one_reason(
    position: CardPosition,
    cover: bool,
    empty: bool | None,
    at_end: bool | None,
    remaining: int | None,
    full: bool | None,
) -> None:
    low = remaining is not None and remaining <= 50
    report = CardPrinterReport(
        position=position,
        cover_open=cover,
        feeder_empty=empty,
        ribbon_at_end=at_end,
        ribbon_remaining=remaining,
        ribbon_low=low,
        reject_box_full=full,
        panels_printed=None,
    )
    status = report.device_status()
    expected = next(
        (
            code
            for condition, code in [
                (cover, "cover_open"),
                (position is CardPosition.IN_CARD_PATH, "card_jam"),
                (at_end is True or remaining == 0, "ribbon_out"),
                (full is True, "reject_box_full"),
                (empty is True, "feeder_empty"),
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
        for command in (b"\x1bSic\r\x1bSs\r\x1bSr\r", bitmap_command(front_panel(image))):
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
    assert len(printer.ejected) == 1


def test_a_command_line_of_the_longest_length_is_read_and_one_more_is_not() -> None:
    longest = b"R" + b"x" * (MAX_COMMAND_CHARS - 1)
    assert EvolisStream().feed(longest + b"\r") == [Command(longest.decode())]
    assert EvolisStream().feed(longest + b"x\r") == [Command("")]
