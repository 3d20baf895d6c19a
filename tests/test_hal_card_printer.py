"""The card printer driver against the simulated Evolis printer, through the real stack:
pyusb -> SocketUsbBackend -> UNIX socket -> UsbBus -> CardPrinterSim.

The printer's language is the Evolis Programming Guide A5013's; the print job is checked
here by a decoder of its own, written from the guide's definition of the `Dbc` download
and its compression, and sharing nothing with the driver or the simulator.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import random
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import usb.core
import usb.util
from PIL import Image, ImageDraw

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
from appliance.hal._card_printer import _CHUNK, CardPrinter, CardPrinterConfig
from appliance.hal._card_printer_protocol import (
    PANEL_HEIGHT,
    PANEL_WIDTH,
    DbcParameters,
    bitmap_command,
    front_panel,
)
from appliance.hal._card_printer_status import CardPosition
from appliance.hal._status import DeviceStatus
from sim._base import Fault, Timing
from sim.card_printer import CardPrinterSim
from sim.usb import UsbBus

from .fault_matrix import RESULTS

if TYPE_CHECKING:
    from sim.smartcard import VirtualCard

OPERATION_TIMEOUT_S = 0.4
UNWIND_S = 1.0  # how long past its deadline an operation may take to unwind
RECOVERY_S = 5.0
BLANKS = 100
RIBBON_LOW = 50  # the driver's default ribbon_low_cards


@dataclass(frozen=True)
class Dialect:
    """What differs between firmware, as the guide's revisions and integrators show it,
    and the driver settings that go with it."""

    name: str
    sim: dict[str, Any]
    driver: dict[str, Any]


# The driver's defaults against a printer that says what the guide says.
GUIDE = Dialect("guide", {}, {})
# The other side of each choice: answers ended by NUL, "OK" for an empty printer, the
# four-parameter Dbc; and the guide's ACK/NACK protocol.
INTEGRATORS = Dialect(
    "nul-ok-dbc4",
    {"answer_end": "nul", "no_card_answer": "OK", "dbc_parameters": 4},
    {"dbc_parameters": 4},
)
ACK_NACK = Dialect("ack-nack", {"no_card_answer": "OK"}, {"answer_protocol": "ack_nack"})
DIALECTS = [pytest.param(d, id=d.name) for d in (GUIDE, INTEGRATORS, ACK_NACK)]


def _front() -> Image.Image:
    """A card front: white, with a black block in its top left corner."""
    image = Image.new("RGB", (PANEL_WIDTH, PANEL_HEIGHT), "white")
    ImageDraw.Draw(image).rectangle((40, 30, 299, 199), fill="black")
    return image


FRONT = _front()


@pytest.fixture
def short_dir() -> Iterator[Path]:
    # pytest's tmp_path can exceed the 108-byte limit of a UNIX socket path.
    path = Path(tempfile.mkdtemp(prefix="cp-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@dataclass
class RecordingSlot:
    """Stands in for the simulated chip reader's slot: records what goes in and out, and
    can act the moment a card leaves it."""

    calls: list[tuple[str, VirtualCard | None]] = field(default_factory=list)
    card: VirtualCard | None = None
    on_remove: Callable[[], None] | None = None

    async def insert(self, card: VirtualCard) -> None:
        self.calls.append(("insert", card))
        self.card = card

    async def remove(self) -> VirtualCard | None:
        card, self.card = self.card, None
        self.calls.append(("remove", card))
        if self.on_remove is not None:
            self.on_remove()
        return card


@dataclass
class Rig:
    bus: UsbBus
    sim: CardPrinterSim
    printer: CardPrinter
    slot: RecordingSlot
    faces: Path
    dialect: Dialect


def _printer(bus: UsbBus, dialect: Dialect = GUIDE, **overrides: object) -> CardPrinter:
    settings: dict[str, object] = {
        "name": "card_printer",
        "vendor_id": 0x0F49,
        "product_id": 0x5A01,
        "backend": SocketUsbBackend(bus.socket_path),
        "reply_timeout_s": 0.2,
        "probe_timeout_s": 0.5,
        "connect_timeout_s": 1.0,
    }
    settings.update(dialect.driver)
    settings.update(overrides)
    return CardPrinter(**settings)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def _rig(
    short_dir: Path, dialect: Dialect = GUIDE, *, driver: dict[str, Any] | None = None, **sim: Any
) -> AsyncIterator[Rig]:
    slot = RecordingSlot()
    faces = short_dir / "faces"
    async with UsbBus(socket_path=short_dir / "usb.sock") as bus:
        printer_sim = CardPrinterSim(
            name="cp",
            bus=bus,
            slot=slot,
            faces_dir=faces,
            seed=7,
            timing=Timing(scale=0),
            **(dialect.sim | sim),
        )
        await printer_sim.start()
        printer = _printer(bus, dialect, **(driver or {}))
        try:
            yield Rig(bus, printer_sim, printer, slot, faces, dialect)
        finally:
            await printer.disconnect()
        assert bus.open_handles == 0  # every open released, whatever happened


@pytest.fixture
async def rig(short_dir: Path) -> AsyncIterator[Rig]:
    async with _rig(short_dir) as rig_:
        await rig_.printer.connect()
        yield rig_


@pytest.fixture(params=DIALECTS)
async def any_rig(short_dir: Path, request: pytest.FixtureRequest) -> AsyncIterator[Rig]:
    async with _rig(short_dir, request.param) as rig_:
        await rig_.printer.connect()
        yield rig_


def _accounted_for(sim: CardPrinterSim) -> int:
    """Every blank is somewhere: in the feeder, inside, given out or in the reject box."""
    inside = 0 if sim.card is None else 1
    return sim.hopper + inside + len(sim.ejected) + len(sim.reject_box)


async def _issue(printer: CardPrinter) -> None:
    await printer.feed()
    await printer.print_front(FRONT)


def _record_what_the_host_sends(sim: CardPrinterSim, monkeypatch: pytest.MonkeyPatch) -> bytearray:
    sent = bytearray()
    receive = sim.bulk_out

    async def bulk_out(endpoint: int, data: bytes) -> None:
        sent.extend(data)
        await receive(endpoint, data)

    monkeypatch.setattr(sim, "bulk_out", bulk_out)
    return sent


async def test_identity_and_the_settings_sent_on_open(any_rig: Rig) -> None:
    identity = any_rig.printer.identity
    assert identity is not None
    assert (identity.make, identity.model) == ("KTPEL-SIM", "Evolis card printer")
    assert identity.serial == "SIM-CP-0007"
    assert identity.firmware == "1.4.2-sim"  # from Rfv, not the USB descriptor
    # The host manages errors, cards come from the feeder only; ACK/NACK when asked for.
    assert any_rig.sim.parameters == {"Pem": ("2",), "Pmi": ("F",)}
    assert any_rig.sim.ack_nack is (any_rig.dialect is ACK_NACK)
    assert any_rig.printer.status.state is DeviceState.READY


async def test_a_card_is_fed_encoded_printed_and_given_out(any_rig: Rig) -> None:
    printer, sim, slot = any_rig.printer, any_rig.sim, any_rig.slot
    assert await printer.card_position() is CardPosition.NONE

    await printer.feed()
    assert await printer.card_position() is CardPosition.AT_CONTACTLESS_STATION
    assert sim.card is not None
    serial = sim.card.serial
    assert serial.startswith("KTP")
    assert len(serial) == 13
    assert serial[3:].isdigit()
    assert [call for call, _ in slot.calls] == ["insert"]
    assert sim.hopper == BLANKS - 1

    await printer.print_front(FRONT)  # Ss, Sr, Dbc, Se: printed and given out
    assert await printer.card_position() is CardPosition.EJECTED
    assert [call for call, _ in slot.calls] == ["insert", "remove"]
    assert slot.calls[1][1] is slot.calls[0][1]  # the card that went in came out
    assert sim.ejected == [serial]
    assert [face.serial for face in sim.printed] == [serial]
    assert _accounted_for(sim) == BLANKS

    report = await printer.report()
    assert (report.panels_printed, report.ribbon_remaining) == (1, 399)
    assert (report.cover_open, report.feeder_empty, report.ribbon_at_end) == (False,) * 3
    assert printer.status.state is DeviceState.READY


async def test_the_chip_can_be_written_at_the_smart_card_contacts(short_dir: Path) -> None:
    """Sis and the smart card station (Rev. D2 p. 39, Rev. E p. 59), with its offset set
    by Pos (p. 37, p. 57)."""
    driver = {"chip_station": "contact", "chip_station_offset_dots": 1200}
    async with _rig(short_dir, driver=driver, slot_station="contact") as rig_:
        printer, sim = rig_.printer, rig_.sim
        await printer.connect()
        assert sim.parameters["Pos"] == ("=", "1200")
        assert printer.chip_station is CardPosition.AT_SMART_STATION
        await printer.feed()
        assert await printer.card_position() is CardPosition.AT_SMART_STATION
        assert rig_.slot.card is not None
        await printer.print_front(FRONT)
        assert [call for call, _ in rig_.slot.calls] == ["insert", "remove"]
        assert len(sim.printed) == 1


# -- the print job, decoded from the guide's definition alone

_GUIDE_LINES = 1016  # "1016 lines" of "648" dots (Rev. E p. 4)
_GUIDE_DOTS = 648
_GUIDE_LINE_BYTES = 81  # "Byte with value between 1 & 81" (p. 6)


def _guide_commands(stream: bytes) -> list[tuple[str, list[str], bytes]]:
    """The commands in `stream` (Rev. E p. 4: ESC, name, ';' parameters, CR), with Dbc's
    binary data read by the count its last parameter gives (p. 6, p. 15)."""
    commands = []
    at = 0
    while at < len(stream):
        if stream[at] in (0x00, 0x0D):  # padding between commands
            at += 1
            continue
        assert stream[at] == 0x1B, f"no ESC at {at}"
        if stream.startswith(b"Dbc;", at + 1):
            fields = stream[at + 1 :].split(b";", 5)
            names = fields[1:5] if fields[4].isdigit() else fields[1:4]  # four parameters?
            count = int(names[-1])
            start = at + 1 + sum(len(f) + 1 for f in [b"Dbc", *names])
            assert stream[start + count] == 0x0D, "Dbc's data must end where its count says"
            commands.append(("Dbc", [n.decode() for n in names], stream[start : start + count]))
            at = start + count + 1
            continue
        end = stream.index(b"\r", at)
        name, *parameters = stream[at + 1 : end].decode("ascii").split(";")
        commands.append((name, parameters, b""))
        at = end + 1
    return commands


def _guide_decode_black_panel(data: bytes) -> list[bytes]:
    """The K panel compression of Rev. E p. 5-6, one line after another: 0 a white line,
    255 a black line, N (1..81) the number of useful bytes, which follow."""
    lines = []
    at = 0
    while at < len(data):
        first = data[at]
        at += 1
        if first == 0:
            lines.append(bytes(_GUIDE_LINE_BYTES))
        elif first == 255:
            lines.append(bytes([255]) * _GUIDE_LINE_BYTES)
        else:
            assert 1 <= first <= _GUIDE_LINE_BYTES
            useful = data[at : at + first]
            assert len(useful) == first
            lines.append(useful + bytes(_GUIDE_LINE_BYTES - first))
            at += first
    return lines


def _pattern(seed: int) -> Image.Image:
    """A one-bit face that uses every kind of line: white, black (a bar across the card's
    short edge), and lines ending anywhere (noise, boxes, a diagonal)."""
    rng = random.Random(seed)
    image = Image.new("1", (PANEL_WIDTH, PANEL_HEIGHT), 1)
    draw = ImageDraw.Draw(image)
    draw.rectangle((500, 0, 519, PANEL_HEIGHT - 1), fill=0)
    draw.line((0, 0, PANEL_WIDTH - 1, PANEL_HEIGHT - 1), fill=0, width=3)
    for _ in range(12):
        left, top = rng.randrange(PANEL_WIDTH - 60), rng.randrange(PANEL_HEIGHT - 60)
        draw.rectangle((left, top, left + rng.randrange(60), top + rng.randrange(60)), fill=0)
    for _ in range(4000):
        image.putpixel((rng.randrange(700, 900), rng.randrange(PANEL_HEIGHT)), 0)
    return image


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_the_print_job_decodes_pixel_for_pixel_to_the_image_given(
    short_dir: Path, dialect: Dialect, monkeypatch: pytest.MonkeyPatch
) -> None:
    image = _pattern(seed=18)
    async with _rig(short_dir, dialect) as rig_:
        await rig_.printer.connect()
        await rig_.printer.feed()
        sent = _record_what_the_host_sends(rig_.sim, monkeypatch)
        await rig_.printer.print_front(image)
    job = [(name, parameters) for name, parameters, _ in _guide_commands(bytes(sent))]
    downloads = [(p, data) for name, p, data in _guide_commands(bytes(sent)) if name == "Dbc"]
    # The guide's sequence (Rev. D2 p. 40, Rev. E p. 69), between the driver's own reads.
    assert [name for name, _ in job if name in {"Ss", "Sr", "Dbc", "Se"}] == [
        "Ss",
        "Sr",
        "Dbc",
        "Se",
    ]
    ((parameters, data),) = downloads
    expected = ["k", "2", str(len(data))]  # the black panel, 2 levels, the byte count
    if dialect.driver.get("dbc_parameters") == DbcParameters.FOUR:
        expected.insert(2, "0")  # from the first line
    assert parameters == expected
    lines = _guide_decode_black_panel(data)
    assert len(lines) == _GUIDE_LINES
    # Line n is column n of the landscape face; its first dot (the high bit of its
    # first byte) is the face's bottom pixel, as dpavlin/Printer-EVOLIS turns a face
    # (pnmflip -rotate270) before downloading it; 1 is ink.
    for x, line in enumerate(lines):
        for dot in range(_GUIDE_DOTS):
            ink = line[dot // 8] >> (7 - dot % 8) & 1
            assert ink == (image.getpixel((x, _GUIDE_DOTS - 1 - dot)) == 0), (x, dot)
    assert rig_.sim.printed[0].image.tobytes() == image.tobytes()  # what the printer kept


async def test_the_printed_face_is_kept_as_a_png_pixel_for_pixel(rig: Rig) -> None:
    await _issue(rig.printer)

    (face,) = rig.sim.printed
    assert face.path == rig.faces / f"00001-{rig.sim.ejected[0]}.png"
    with Image.open(face.path) as png:
        assert png.format == "PNG"
        assert png.size == (PANEL_WIDTH, PANEL_HEIGHT)
        picture = png.convert("L")
    inverted = Image.eval(picture, lambda value: 255 - value)
    assert inverted.getbbox() == (40, 30, 300, 200)  # the block, and nothing else inked


async def test_png_bytes_are_printed_too_and_bad_images_refused_before_anything(rig: Rig) -> None:
    printer = rig.printer
    jpeg = io.BytesIO()
    FRONT.save(jpeg, format="JPEG")
    await printer.feed()
    for bad in (Image.new("L", (648, 1016)), jpeg.getvalue(), b"not an image"):
        with pytest.raises(ValueError, match=r"front panel|not an image"):
            await printer.print_front(bad)
    assert rig.sim.printed == []
    assert await printer.card_position() is CardPosition.AT_CONTACTLESS_STATION

    png = io.BytesIO()
    FRONT.save(png, format="PNG")
    await printer.print_front(png.getvalue())
    assert len(rig.sim.printed) == 1
    assert printer.status.state is DeviceState.READY


async def test_reject_puts_whatever_card_is_inside_into_the_reject_box(rig: Rig) -> None:
    printer, sim = rig.printer, rig.sim
    await printer.feed()
    assert sim.card is not None
    serial = sim.card.serial

    await printer.reject()
    assert await printer.card_position() is CardPosition.REJECTED
    assert sim.reject_box == [serial]
    assert [call for call, _ in rig.slot.calls] == ["insert", "remove"]

    await printer.reject()  # nothing inside: nothing to do
    assert sim.reject_box == [serial]
    with pytest.raises(DeviceFault) as no_eject:
        await printer.eject()
    with pytest.raises(DeviceFault) as no_print:
        await printer.print_front(FRONT)
    assert (no_eject.value.code, no_print.value.code) == ("no_card", "no_card")
    assert printer.status.state is DeviceState.READY  # the caller's mistake, not the printer's
    assert sim.empty_reject_box() == [serial]
    assert _accounted_for(sim) == BLANKS - 1  # the one taken out of the reject box


async def test_an_unprinted_card_can_be_given_out(rig: Rig) -> None:
    await rig.printer.feed()
    await rig.printer.eject()  # Se with no job: the card goes out as it is
    assert await rig.printer.card_position() is CardPosition.EJECTED
    assert (len(rig.sim.ejected), rig.sim.printed) == (1, [])


async def test_no_second_blank_is_fed_while_a_card_is_inside(rig: Rig) -> None:
    printer, sim = rig.printer, rig.sim
    await printer.feed()
    with pytest.raises(DeviceFault) as refused:
        await printer.feed()
    assert refused.value.code == "card_in_printer"
    assert sim.hopper == BLANKS - 1
    assert printer.status.state is DeviceState.READY

    await printer.reject()
    await printer.feed()
    assert sim.hopper == BLANKS - 2


async def test_the_feeder_counts_down_to_empty_and_refills(short_dir: Path) -> None:
    async with _rig(short_dir, hopper=2) as rig_:
        printer, sim = rig_.printer, rig_.sim
        await printer.connect()
        await _issue(printer)
        assert sim.hopper == 1
        await _issue(printer)
        assert sim.hopper == 0
        status = printer.status
        assert (status.state, status.code) == (DeviceState.NOT_READY, "feeder_empty")

        with pytest.raises(DeviceFault) as empty:
            await printer.feed()
        assert empty.value.code == "feeder_empty"
        assert await printer.card_position() is CardPosition.EJECTED

        sim.load_hopper(1)
        assert printer.status.code == "feeder_empty"  # nobody has asked since
        await _issue(printer)  # the printer is asked afresh: the card just loaded is there
        assert len(sim.ejected) == 3


async def test_the_last_blank_is_printed_although_the_feeder_is_now_empty(
    short_dir: Path,
) -> None:
    async with _rig(short_dir, hopper=1) as rig_:
        printer = rig_.printer
        await printer.connect()
        await printer.feed()
        assert printer.status.code == "feeder_empty"
        await printer.print_front(FRONT)
        assert len(rig_.sim.printed) == 1


async def test_the_ribbon_counts_down_goes_low_then_out(short_dir: Path) -> None:
    async with _rig(short_dir, ribbon=RIBBON_LOW + 1) as rig_:
        printer, sim = rig_.printer, rig_.sim
        await printer.connect()
        assert printer.status.code is None
        await _issue(printer)
        report = await printer.report()
        assert (report.ribbon_remaining, report.ribbon_low) == (RIBBON_LOW, True)
        status = printer.status
        assert (status.state, status.code) == (DeviceState.READY, "ribbon_low")

        sim.replace_ribbon(1)  # a nearly spent ribbon
        await _issue(printer)
        report = await printer.report()
        assert (report.ribbon_remaining, report.ribbon_at_end, report.ribbon_out) == (0, True, True)
        status = printer.status
        assert (status.state, status.code) == (DeviceState.NOT_READY, "ribbon_out")
        with pytest.raises(DeviceFault) as out:
            await printer.feed()  # no blank is started that could not be printed
        assert out.value.code == "ribbon_out"
        assert sim.hopper == BLANKS - 2

        sim.replace_ribbon()
        assert (await printer.check()).state is DeviceState.READY
        await _issue(printer)
        assert len(sim.printed) == 3


async def test_a_torn_ribbon_stops_the_print_but_not_the_eject(any_rig: Rig) -> None:
    printer, sim = any_rig.printer, any_rig.sim
    await printer.feed()
    sim.inject(Fault.RIBBON_OUT)
    with pytest.raises(DeviceFault) as torn:
        await printer.print_front(FRONT)
    assert torn.value.code == "ribbon_out"
    assert await printer.card_position() is CardPosition.AT_CONTACTLESS_STATION  # not moved
    await printer.eject()
    assert sim.printed == []
    assert len(sim.ejected) == 1


async def test_a_ribbon_torn_mid_print_leaves_the_card_unprinted_at_the_head(
    any_rig: Rig,
) -> None:
    printer, sim = any_rig.printer, any_rig.sim
    await printer.feed()
    any_rig.slot.on_remove = lambda: sim.inject(Fault.RIBBON_OUT)  # as it leaves for the head
    with pytest.raises(DeviceFault) as torn:
        await printer.print_front(FRONT)
    assert torn.value.code == "ribbon_out"
    assert await printer.card_position() is CardPosition.AT_PRINT_POSITION
    assert sim.printed == []

    any_rig.slot.on_remove = None
    sim.clear()
    await printer.reject()  # the host manages errors: the card is put away, unprinted
    assert len(sim.reject_box) == 1
    assert _accounted_for(sim) == BLANKS


def _fill_reject_box(sim: CardPrinterSim) -> None:
    sim.reject_box.extend(f"KTP{n:010d}" for n in range(sim.reject_box_capacity))


STATUSES = [
    (
        "cover_open",
        lambda s: s.inject(Fault.COVER_OPEN),
        lambda s: s.clear(),
        DeviceState.NOT_READY,
    ),
    (
        "feeder_empty",
        lambda s: s.inject(Fault.FEEDER_EMPTY),
        lambda s: s.clear(),
        DeviceState.NOT_READY,
    ),
    (
        "ribbon_out",
        lambda s: s.inject(Fault.RIBBON_OUT),
        lambda s: s.clear(),
        DeviceState.NOT_READY,
    ),
    (
        "ribbon_out",
        lambda s: s.replace_ribbon(0),
        lambda s: s.replace_ribbon(),
        DeviceState.NOT_READY,
    ),
    (
        "ribbon_low",
        lambda s: s.replace_ribbon(RIBBON_LOW),
        lambda s: s.replace_ribbon(),
        DeviceState.READY,
    ),
    ("reject_box_full", _fill_reject_box, lambda s: s.empty_reject_box(), DeviceState.NOT_READY),
    ("garbage", lambda s: s.inject(Fault.GARBAGE), lambda s: s.clear(), DeviceState.ERROR),
]


@pytest.mark.parametrize(
    ("code", "make", "undo", "state"),
    STATUSES,
    ids=["cover", "feeder", "ribbon_torn", "ribbon_spent", "ribbon_low", "reject_box", "garbage"],
)
async def test_the_printer_status_maps_to_the_device_status(
    any_rig: Rig,
    code: str,
    make: Callable[[CardPrinterSim], object],
    undo: Callable[[CardPrinterSim], object],
    state: DeviceState,
) -> None:
    make(any_rig.sim)
    status = await any_rig.printer.check()
    assert (status.state, status.code) == (state, code)
    assert status.reason is not None
    assert status.reason.id != status.reason.en  # Indonesian first, English beside it

    undo(any_rig.sim)
    assert (await any_rig.printer.check()).state is DeviceState.READY


@pytest.mark.parametrize(
    "read",
    [("Rse", "f"), ("Rcr",), ("Rco", "l"), ("Rlr", "h"), ("Rco", "p")],
    ids=["feeder", "ribbon_end", "ribbon_left", "reject_box", "printed"],
)
async def test_a_status_read_the_firmware_lacks_is_not_reported_rather_than_garbage(
    rig: Rig, read: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A printer answers "ERROR CDE" or "ERROR PARAMETRES" to what it does not know: the
    condition goes unreported, and the printer stays usable."""
    monkeypatch.delitem(rig.sim._reads, read)
    report = await rig.printer.report()
    assert rig.printer.status.state is DeviceState.READY
    unreported = {
        ("Rse", "f"): report.feeder_empty,
        ("Rcr",): report.ribbon_at_end,
        ("Rco", "l"): report.ribbon_remaining,
        ("Rlr", "h"): report.reject_box_full,
        ("Rco", "p"): report.panels_printed,
    }
    assert unreported.pop(read) is None
    assert None not in unreported.values()
    await _issue(rig.printer)
    assert len(rig.sim.printed) == 1


@pytest.mark.parametrize(
    ("seed", "detail"), [(0, "not an answer"), (2, "without end")], ids=["bad_byte", "no_end"]
)
async def test_garbage_of_either_kind_is_garbage(short_dir: Path, seed: int, detail: str) -> None:
    async with UsbBus(socket_path=short_dir / "usb.sock") as bus:
        sim = CardPrinterSim(name="cp", bus=bus, seed=seed, timing=Timing(scale=0))
        await sim.start()
        printer = _printer(bus)
        try:
            await printer.connect()
            sim.inject(Fault.GARBAGE)  # noise with a byte no answer holds, or with no end
            with pytest.raises(DeviceFault) as caught:
                await printer.feed()
            assert caught.value.code == "garbage"
            assert detail in str(caught.value.detail)
            sim.clear()
            assert (await printer.check()).state is DeviceState.READY  # the babble drained
        finally:
            await printer.disconnect()
        assert sim.hopper == BLANKS


async def test_a_jam_mid_feed_leaves_the_card_in_the_path_until_freed_then_rejected(
    any_rig: Rig,
) -> None:
    printer, sim = any_rig.printer, any_rig.sim
    sim.inject(Fault.JAM)
    with pytest.raises(DeviceFault) as jam:
        await printer.feed()
    assert jam.value.code == "card_jam"
    status = printer.status
    assert (status.state, status.code) == (DeviceState.NOT_READY, "card_jam")
    assert await printer.card_position() is CardPosition.IN_CARD_PATH  # "ERR CARD"
    assert any_rig.slot.calls == []  # it never reached the contactless station
    assert sim.hopper == BLANKS - 1
    with pytest.raises(DeviceFault) as still:
        await printer.reject()  # not until someone frees it
    assert still.value.code == "card_jam"

    sim.clear(Fault.JAM)  # the operator opened the cover and freed the card
    assert (await printer.check()).state is DeviceState.READY
    with pytest.raises(DeviceFault) as inside:
        await printer.feed()
    assert inside.value.code == "card_in_printer"
    assert sim.card is not None
    serial = sim.card.serial
    await printer.reject()
    assert sim.reject_box == [serial]
    assert _accounted_for(sim) == BLANKS


async def test_unplugged_mid_print_the_printer_finishes_the_job_it_had(rig: Rig) -> None:
    printer, sim = rig.printer, rig.sim
    await printer.feed()
    # The moment the card leaves the contactless station for the head, the cable is
    # pulled: the whole job is in the printer, which prints it and gives the card out.
    rig.slot.on_remove = lambda: sim.inject(Fault.UNPLUG)
    with pytest.raises(DeviceGone):
        await printer.print_front(FRONT)
    assert printer.status.state is DeviceState.DISCONNECTED

    rig.slot.on_remove = None
    sim.clear(Fault.UNPLUG)
    async with asyncio.timeout(RECOVERY_S):
        await printer.connect()
        await sim.idle()
    assert await printer.card_position() is CardPosition.NONE
    assert [face.serial for face in sim.printed] == sim.ejected
    assert _accounted_for(sim) == BLANKS


async def test_after_a_crash_a_new_driver_finds_the_card_and_rejects_it(rig: Rig) -> None:
    await rig.printer.feed()
    await rig.printer.disconnect()  # the daemon died here, the chip half written

    restarted = _printer(rig.bus)
    try:
        await restarted.connect()
        assert await restarted.card_position() is CardPosition.AT_CONTACTLESS_STATION
        await restarted.reject()
        assert await restarted.card_position() is CardPosition.REJECTED
    finally:
        await restarted.disconnect()
    assert len(rig.sim.reject_box) == 1
    assert _accounted_for(rig.sim) == BLANKS


async def test_a_bitmap_cut_off_by_a_crash_does_not_swallow_the_next_drivers_commands(
    rig: Rig,
) -> None:
    """The daemon died between two transfers of a bitmap: the printer still counts the
    bitmap's bytes, and would take every command that follows for more of them."""
    await rig.printer.feed()
    sent = bitmap_command(front_panel(FRONT))

    def die_halfway() -> None:  # pyusb blocks, and the bus answers on this loop
        died = usb.core.find(
            backend=SocketUsbBackend(rig.bus.socket_path), idVendor=0x0F49, idProduct=0x5A01
        )
        died.write(0x01, b"\x1bSs\r\x1bSr\r" + sent[: len(sent) // 2], 1000)  # then nothing
        usb.util.dispose_resources(died)

    await rig.printer.disconnect()
    await asyncio.to_thread(die_halfway)

    restarted = _printer(rig.bus)
    try:
        async with asyncio.timeout(RECOVERY_S):
            await restarted.connect()
        assert restarted.status.state is DeviceState.READY
        assert await restarted.card_position() is CardPosition.AT_CONTACTLESS_STATION
        await restarted.reject()
    finally:
        await restarted.disconnect()
    assert rig.sim.printed == []
    assert len(rig.sim.reject_box) == 1
    assert _accounted_for(rig.sim) == BLANKS


async def test_a_print_cut_short_between_transfers_leaves_no_half_bitmap_behind(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A print cancelled (its step's budget ran out) after part of its bitmap went out:
    the next command still gets its own answer."""
    printer, sim = rig.printer, rig.sim
    assert len(bitmap_command(front_panel(FRONT))) > _CHUNK  # more than one transfer
    await printer.feed()
    part_sent = asyncio.Event()
    receive = sim.bulk_out

    async def bulk_out(endpoint: int, data: bytes) -> None:
        await receive(endpoint, data)
        if data.startswith(b"\x1bDbc;"):
            part_sent.set()
            await asyncio.Event().wait()  # the rest is never taken: the host gives up

    with monkeypatch.context() as patched:
        patched.setattr(sim, "bulk_out", bulk_out)
        printing = asyncio.create_task(printer.print_front(FRONT))
        async with asyncio.timeout(RECOVERY_S):
            await part_sent.wait()
        printing.cancel()
        with pytest.raises(asyncio.CancelledError):
            await printing

    async with asyncio.timeout(RECOVERY_S):
        assert (await printer.check()).state is DeviceState.READY
        assert await printer.card_position() is CardPosition.AT_CONTACTLESS_STATION
        await printer.reject()
    assert sim.printed == []
    assert len(sim.reject_box) == 1
    assert _accounted_for(sim) == BLANKS


async def test_a_printer_that_re_enumerates_on_its_reset_is_found_again(rig: Rig) -> None:
    """libusb cannot always keep the handle across a reset: the printer is then new at
    another address, is not reset again, and no handle is left open."""
    await rig.printer.feed()
    await rig.printer.disconnect()
    rig.bus.reenumerate_on_reset(rig.sim)
    address = rig.bus.address_of(rig.sim)

    with pytest.raises(DeviceGone):
        await rig.printer.connect()
    assert rig.bus.address_of(rig.sim) != address
    assert rig.bus.open_handles == 0
    async with asyncio.timeout(RECOVERY_S):
        await rig.printer.connect()
    assert rig.printer.status.state is DeviceState.READY
    assert await rig.printer.card_position() is CardPosition.AT_CONTACTLESS_STATION


def _hold_the_next_move(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> asyncio.Event:
    """The next card to reach the contactless station stays on its way until the
    returned event is set: a move that takes as long as the test wants."""
    arrive = asyncio.Event()
    insert = rig.slot.insert

    async def insert_when_told(card: VirtualCard) -> None:
        await arrive.wait()
        await insert(card)

    monkeypatch.setattr(rig.slot, "insert", insert_when_told)
    return arrive


async def _ready_with_the_card_at_the_contactless_station(rig: Rig) -> None:
    assert (await rig.printer.check()).state is DeviceState.READY
    assert await rig.printer.card_position() is CardPosition.AT_CONTACTLESS_STATION
    assert _accounted_for(rig.sim) == BLANKS


async def test_a_move_the_host_gave_up_on_still_ends_where_it_was_going(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A printer finishes the motion it started, whoever stopped waiting for it."""
    arrive = _hold_the_next_move(rig, monkeypatch)
    with pytest.raises(DeviceTimeout):
        await rig.printer.feed(timeout_s=1.0)
    # The supervisor asks at once: the printer is still busy with the move.
    assert (await rig.printer.check()).code == "not_responding"

    arrive.set()
    async with asyncio.timeout(RECOVERY_S):
        await rig.sim.idle()
    assert rig.slot.card is not None  # it arrived
    await _ready_with_the_card_at_the_contactless_station(rig)


async def test_a_late_answer_is_never_taken_for_a_later_requests(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The move given up on ends just as the next request goes out: its answer comes
    first, and must not be read as that request's."""
    arrive = _hold_the_next_move(rig, monkeypatch)
    with pytest.raises(DeviceTimeout):
        await rig.printer.feed(timeout_s=1.0)
    receive = rig.sim.bulk_out

    async def bulk_out(endpoint: int, data: bytes) -> None:
        arrive.set()
        await receive(endpoint, data)

    monkeypatch.setattr(rig.sim, "bulk_out", bulk_out)
    await _ready_with_the_card_at_the_contactless_station(rig)


async def test_the_simulator_answers_its_own_failure_and_goes_on(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken_insert(card: VirtualCard) -> None:
        raise RuntimeError(f"the reader's slot is broken ({card.serial})")

    monkeypatch.setattr(rig.slot, "insert", broken_insert)
    with pytest.raises(DeviceFault) as failed:
        await rig.printer.feed()
    assert failed.value.code == "device_error"
    assert "ERROR UNKNOW" in str(failed.value)
    monkeypatch.undo()
    assert (await rig.printer.check()).state is DeviceState.READY
    await rig.printer.reject()
    assert len(rig.sim.reject_box) == 1
    assert _accounted_for(rig.sim) == BLANKS


async def test_a_hang_ends_in_time_and_still_lets_the_printer_close(rig: Rig) -> None:
    rig.sim.inject(Fault.HANG)
    started = time.monotonic()
    with pytest.raises(DeviceTimeout):
        await rig.printer.feed(timeout_s=OPERATION_TIMEOUT_S)
    assert time.monotonic() - started < OPERATION_TIMEOUT_S + UNWIND_S
    assert rig.printer.status.code == "not_responding"
    async with asyncio.timeout(1):
        await rig.printer.disconnect()  # not queued behind the transfer that hangs
    assert rig.bus.open_handles == 0
    assert rig.sim.hopper == BLANKS


async def test_a_second_caller_is_told_busy_at_once(rig: Rig) -> None:
    busy = asyncio.Event()

    def on_status(_: object, status: DeviceStatus) -> None:
        if status.state is DeviceState.BUSY:
            busy.set()

    rig.printer.add_listener(on_status)
    rig.sim.inject(Fault.HANG)
    first = asyncio.create_task(rig.printer.feed(timeout_s=OPERATION_TIMEOUT_S))
    async with asyncio.timeout(1):
        await busy.wait()
    with pytest.raises(DeviceBusy):
        await rig.printer.eject()
    with pytest.raises(DeviceBusy):
        await rig.printer.card_position()
    with pytest.raises(DeviceTimeout):
        await first


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_config_points_the_driver_at_the_simulator(short_dir: Path, dialect: Dialect) -> None:
    async with _rig(short_dir, dialect) as rig_:
        config = CardPrinterConfig.model_validate(rig_.sim.config_overlay())
        assert config.dbc_parameters == dialect.sim.get("dbc_parameters", 3)
        printer = CardPrinter.from_config(name="card_printer", config=config)
        try:
            await printer.connect()
            await _issue(printer)
        finally:
            await printer.disconnect()
        assert len(rig_.sim.printed) == 1


@pytest.mark.parametrize(
    ("overlay", "problem"),
    [
        ({"usb_backend": "sim"}, "usb_backend"),
        ({"usb_backend": "socket:"}, "usb_backend"),
        ({"vendor_id": 0x10000}, "vendor_id"),
        ({"print_timeout_s": 0}, "print_timeout_s"),
        ({"dbc_parameters": 5}, "dbc_parameters"),
        ({"answer_protocol": "xon_xoff"}, "answer_protocol"),
        ({"chip_station": "magnetic"}, "chip_station"),
        ({"chip_station_offset_dots": -1}, "chip_station_offset_dots"),
        ({"profile": "default"}, "profile"),
    ],
)
def test_config_rejects_what_cannot_work(overlay: dict[str, object], problem: str) -> None:
    base = {"kind": "evolis_usb", "vendor_id": 0x0F49, "product_id": 0x5A01}
    with pytest.raises(ValueError, match=problem):
        CardPrinterConfig.model_validate(base | overlay)


# -- the fault matrix: each fault ends the operation in time with the right typed error,
# the status says why, and once the fault clears the supervisor brings the printer back
# and it issues a card again; no blank is lost on the way.

FAULTS = [
    (Fault.UNPLUG, DeviceGone, "disconnected"),
    (Fault.HANG, DeviceTimeout, "not_responding"),
    (Fault.GARBAGE, DeviceFault, "garbage"),
    (Fault.SLOW, DeviceTimeout, "not_responding"),
    (Fault.COVER_OPEN, DeviceFault, "cover_open"),
    (Fault.JAM, DeviceFault, "card_jam"),
    (Fault.RIBBON_OUT, DeviceFault, "ribbon_out"),
    (Fault.FEEDER_EMPTY, DeviceFault, "feeder_empty"),
]


@pytest.mark.parametrize(("fault", "error", "code"), FAULTS, ids=[f[0].value for f in FAULTS])
async def test_fault(rig: Rig, fault: Fault, error: type[Exception], code: str) -> None:
    printer, sim = rig.printer, rig.sim
    address = rig.bus.address_of(sim)
    sim.inject(fault)

    started = time.monotonic()
    with pytest.raises(error) as caught:
        await printer.feed(timeout_s=OPERATION_TIMEOUT_S)
    assert time.monotonic() - started < OPERATION_TIMEOUT_S + UNWIND_S
    assert getattr(caught.value, "code", None) == code
    assert printer.status.code == code
    assert printer.status.reason is not None

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
    await printer.reject()  # whatever the fault left inside (the jammed card)
    await _issue(printer)
    assert len(sim.printed) == 1
    assert _accounted_for(sim) == BLANKS
    RESULTS[("card_printer", fault.value)] = f"{type(caught.value).__name__}({code}), READY again"


# -- the simulator on its own: what it answers, whoever asks


def _lone_printer(**options: Any) -> CardPrinterSim:
    # No host: the commands go straight to the device, as the bus would hand them.
    bus = UsbBus(socket_path=Path("/nonexistent/usb.sock"))
    return CardPrinterSim(name="cp", bus=bus, timing=Timing(scale=0), **options)


async def _send(sim: CardPrinterSim, command: bytes) -> bytes:
    await sim.bulk_out(0x01, command)
    return await sim.bulk_in(0x82, 64)


async def test_the_simulated_printer_answers_as_the_standard_protocol_has_it() -> None:
    sim = _lone_printer(hopper=1, reject_box_capacity=1)
    blank = bitmap_command(front_panel(Image.new("L", (PANEL_WIDTH, PANEL_HEIGHT), 255)))
    expected = [
        (b"\x1bRlr;p\r", b"NO CARD\r"),
        (b"\x1bSe\r", b"NO CARD\r"),
        (b"\x1bSer\r", b"NO CARD\r"),
        (b"\x1bRxx\r", b"ERROR CDE\r"),
        (b"\x1bRlr;x\r", b"ERROR PARAMETRES\r"),
        (b"\x1bPem;9\r", b"ERROR PARAMETRES\r"),
        (b"\x1bDbc;k;2;1;\x07\r", b"ERROR PARAMETRES\r"),
        (b"\x1bDbc;y;32;1;\x00\r", b"ERROR PARAMETRES\r"),  # no colour ribbon
        (b"Rlr;h\r", b"NO CARD\r"),  # the start character is not compulsory after CR
        (b"\x00\x00\x1bRcr\r", b"OK\r"),  # NULs between commands are padding
    ]
    for command, answer in expected:
        assert await _send(sim, command) == answer, command
    sim.inject(Fault.COVER_OPEN)
    assert await _send(sim, b"\x1bSic\r") == b"COVER OPEN\r"
    sim.clear()
    assert await _send(sim, b"\x1bSic\r") == b"OK\r"
    assert await _send(sim, b"\x1bRlr;p\r") == b"CONTACTLESS CARD\r"
    assert await _send(sim, b"\x1bSis\r") == b"ERR CARD\r"  # one card at a time
    sim.inject(Fault.RIBBON_OUT)
    assert await _send(sim, b"\x1bRcr\r") == b"ERROR RIBBON\r"
    for command in (b"\x1bSs\r", b"\x1bSr\r", blank):
        assert await _send(sim, command) == b"OK\r"
    assert await _send(sim, b"\x1bSe\r") == b"ERROR RIBBON\r"
    sim.clear()
    assert await _send(sim, b"\x1bSer\r") == b"OK\r"
    assert await _send(sim, b"\x1bRlr;h\r") == b"CARD\r"  # the reject box is full
    no_card_left = await _send(sim, b"\x1bRse;f\r")
    assert no_card_left.startswith(b"0,")
    assert no_card_left.endswith(b" Volts\r")
    assert await _send(sim, b"\x1bSic\r") == b"FEEDER EMPTY\r"
    sim.load_hopper(1)
    assert await _send(sim, b"\x1bSic\r") == b"OK\r"
    assert await _send(sim, b"\x1bSer\r") == b"ERROR TIME OUT\r"  # it cannot go in
    sim.inject(Fault.JAM)
    assert await _send(sim, b"\x1bSe\r") == b"CARD JAM\r"
    assert await _send(sim, b"\x1bRlr;p\r") == b"ERR CARD\r"


async def test_the_simulated_printer_answers_in_ack_nack_once_asked() -> None:
    sim = _lone_printer(answer_end="nul", no_card_answer="OK")
    assert await _send(sim, b"\x1bRlr;p\r") == b"OK\x00"
    assert await _send(sim, b"\x1bPem;4\r") == b"\x06"  # the guide's ACK (Rev. E p. 7)
    assert await _send(sim, b"\x1bRlr;p\r") == b"\x06"  # its "OK" too
    assert await _send(sim, b"\x1bRco;p\r") == b"0\x00"  # values are still text
    assert await _send(sim, b"\x1bRxx\r") == b"\x151"  # NACK, command error
    assert await _send(sim, b"\x1bRse;x\r") == b"\x152"  # NACK, parameter error
    sim.inject(Fault.COVER_OPEN)
    assert await _send(sim, b"\x1bSic\r") == b"\x15C"
    sim.clear()
    sim.hopper = 0
    assert await _send(sim, b"\x1bSic\r") == b"\x15F"
