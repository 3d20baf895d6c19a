"""The card printer driver against the simulated printer, through the real stack:
pyusb -> SocketUsbBackend -> UNIX socket -> UsbBus -> CardPrinterSim."""

from __future__ import annotations

import asyncio
import contextlib
import io
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

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
from appliance.hal._card_printer import (
    _CHUNK,
    PANEL_HEIGHT,
    PANEL_WIDTH,
    CardPosition,
    CardPrinter,
    CardPrinterConfig,
    bitmap_command,
    front_panel,
)
from appliance.hal._status import DeviceStatus
from sim._base import Fault, Timing
from sim.card_printer import RIBBON_NEAR_END, CardPrinterSim
from sim.usb import UsbBus

from .fault_matrix import RESULTS

if TYPE_CHECKING:
    from sim.smartcard import VirtualCard

OPERATION_TIMEOUT_S = 0.4
UNWIND_S = 1.0  # how long past its deadline an operation may take to unwind
RECOVERY_S = 5.0
BLANKS = 100


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
    """Stands in for the simulated contactless reader's slot: records what goes in and
    out, and can act the moment a card leaves it."""

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


def _printer(bus: UsbBus, **overrides: object) -> CardPrinter:
    settings: dict[str, object] = {
        "name": "card_printer",
        "vendor_id": 0x0F49,
        "product_id": 0x5A01,
        "backend": SocketUsbBackend(bus.socket_path),
        "reply_timeout_s": 0.2,
        "probe_timeout_s": 0.5,
        "connect_timeout_s": 1.0,
    }
    settings.update(overrides)
    return CardPrinter(**settings)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def _rig(short_dir: Path, **sim_options: object) -> AsyncIterator[Rig]:
    slot = RecordingSlot()
    faces = short_dir / "faces"
    async with UsbBus(socket_path=short_dir / "usb.sock") as bus:
        sim = CardPrinterSim(
            name="cp",
            bus=bus,
            slot=slot,
            faces_dir=faces,
            seed=7,
            timing=Timing(scale=0),
            **sim_options,  # type: ignore[arg-type]
        )
        await sim.start()
        printer = _printer(bus)
        try:
            yield Rig(bus, sim, printer, slot, faces)
        finally:
            await printer.disconnect()
        assert bus.open_handles == 0  # every open released, whatever happened


@pytest.fixture
async def rig(short_dir: Path) -> AsyncIterator[Rig]:
    async with _rig(short_dir) as rig_:
        await rig_.printer.connect()
        yield rig_


def _accounted_for(sim: CardPrinterSim) -> int:
    """Every blank is somewhere: in the hopper, inside, given out or in the reject box."""
    inside = 0 if sim.card is None else 1
    return sim.hopper + inside + len(sim.ejected) + len(sim.reject_box)


async def _issue(printer: CardPrinter) -> None:
    await printer.feed()
    await printer.print_front(FRONT)
    await printer.eject()


async def test_identity_and_the_settings_sent_on_open(rig: Rig) -> None:
    identity = rig.printer.identity
    assert identity is not None
    assert (identity.make, identity.model) == ("KTPEL-SIM", "Evolis-style card printer")
    assert identity.serial == "SIM-CP-0007"
    assert identity.firmware == "1.0.0-sim"  # from Rfv, not the USB descriptor
    assert rig.sim.parameters == {
        "Pem": ("2",),
        "Pcim": ("F",),
        "Pcrm": ("D",),
        "Pneab": ("E",),
    }
    assert rig.printer.status.state is DeviceState.READY


async def test_a_card_is_fed_encoded_printed_and_given_out(rig: Rig) -> None:
    printer, sim, slot = rig.printer, rig.sim, rig.slot
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

    await printer.print_front(FRONT)
    assert await printer.card_position() is CardPosition.AT_PRINT_POSITION
    assert [call for call, _ in slot.calls] == ["insert", "remove"]
    assert slot.calls[1][1] is slot.calls[0][1]  # the card that went in came out

    await printer.eject()
    assert await printer.card_position() is CardPosition.EJECTED
    assert sim.ejected == [serial]
    assert _accounted_for(sim) == BLANKS

    report = await printer.report()
    assert (report.cards_printed, report.ribbon_remaining) == (1, 399)
    assert printer.status.state is DeviceState.READY


async def test_the_printed_face_is_kept_as_a_png_pixel_for_pixel(rig: Rig) -> None:
    await _issue(rig.printer)

    (face,) = rig.sim.printed
    assert face.path == rig.faces / f"00001-{rig.sim.ejected[0]}.png"
    with Image.open(face.path) as png:
        assert png.format == "PNG"
        assert png.size == (PANEL_WIDTH, PANEL_HEIGHT)
        picture = png.convert("L")
    assert picture.getpixel((40, 30)) == 0  # the block, where it was drawn
    assert picture.getpixel((299, 199)) == 0
    assert picture.getpixel((300, 199)) == 255
    assert picture.getpixel((PANEL_WIDTH - 1, PANEL_HEIGHT - 1)) == 255
    assert picture.getbbox() is not None
    inverted = Image.eval(picture, lambda value: 255 - value)
    assert inverted.getbbox() == (40, 30, 300, 200)  # nothing else was inked


async def test_png_bytes_are_printed_too_and_bad_images_refused_before_anything(rig: Rig) -> None:
    printer = rig.printer
    await printer.feed()
    png = io.BytesIO()
    FRONT.save(png, format="PNG")
    await printer.print_front(png.getvalue())
    assert len(rig.sim.printed) == 1

    jpeg = io.BytesIO()
    FRONT.save(jpeg, format="JPEG")
    for bad in (Image.new("L", (648, 1016)), jpeg.getvalue(), b"not an image"):
        with pytest.raises(ValueError, match=r"front panel|not an image"):
            await printer.print_front(bad)
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
    with pytest.raises(DeviceFault) as nothing:
        await printer.eject()
    assert nothing.value.code == "no_card"
    assert printer.status.state is DeviceState.READY  # the caller's mistake, not the printer's
    assert sim.empty_reject_box() == [serial]
    assert _accounted_for(sim) == BLANKS - 1  # the one taken out of the reject box


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


async def test_a_printed_card_goes_back_to_the_contactless_station(rig: Rig) -> None:
    printer = rig.printer
    await printer.feed()
    await printer.print_front(FRONT)
    await printer.to_contactless()
    assert await printer.card_position() is CardPosition.AT_CONTACTLESS_STATION
    await printer.to_contactless()  # already there
    assert [call for call, _ in rig.slot.calls] == ["insert", "remove", "insert"]
    await printer.eject()
    assert rig.slot.card is None


async def test_the_hopper_counts_down_to_empty_and_refills(short_dir: Path) -> None:
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
        await printer.eject()
        assert len(rig_.sim.printed) == 1


async def test_the_ribbon_counts_down_goes_low_then_out(short_dir: Path) -> None:
    async with _rig(short_dir, ribbon=RIBBON_NEAR_END + 1) as rig_:
        printer, sim = rig_.printer, rig_.sim
        await printer.connect()
        assert printer.status.code is None
        await _issue(printer)
        report = await printer.report()
        assert (report.ribbon_remaining, report.ribbon_low) == (RIBBON_NEAR_END, True)
        status = printer.status
        assert (status.state, status.code) == (DeviceState.READY, "ribbon_low")

        sim.replace_ribbon(1)  # a nearly spent ribbon
        await _issue(printer)
        report = await printer.report()
        assert (report.ribbon_remaining, report.ribbon_out) == (0, True)
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


async def test_a_torn_ribbon_stops_the_print_but_not_the_eject(rig: Rig) -> None:
    printer, sim = rig.printer, rig.sim
    await printer.feed()
    sim.inject(Fault.RIBBON_OUT)
    with pytest.raises(DeviceFault) as torn:
        await printer.print_front(FRONT)
    assert torn.value.code == "ribbon_out"
    assert await printer.card_position() is CardPosition.AT_CONTACTLESS_STATION  # not moved
    await printer.eject()
    assert sim.printed == []
    assert len(sim.ejected) == 1


async def test_a_ribbon_torn_mid_print_leaves_the_card_unprinted_at_the_head(rig: Rig) -> None:
    printer, sim = rig.printer, rig.sim
    await printer.feed()
    rig.slot.on_remove = lambda: sim.inject(Fault.RIBBON_OUT)  # as the card leaves for the head
    with pytest.raises(DeviceFault) as torn:
        await printer.print_front(FRONT)
    assert torn.value.code == "ribbon_out"
    assert await printer.card_position() is CardPosition.AT_PRINT_POSITION
    assert sim.printed == []

    rig.slot.on_remove = None
    sim.clear()
    await printer.print_front(FRONT)  # the same card, printed after all
    await printer.eject()
    assert [face.serial for face in sim.printed] == sim.ejected


def _fill_reject_box(sim: CardPrinterSim) -> None:
    sim.reject_box.extend(f"KTP{n:010d}" for n in range(sim.reject_box_capacity))


@pytest.mark.parametrize(
    ("make", "undo", "code", "state"),
    [
        (
            lambda s: s.inject(Fault.COVER_OPEN),
            lambda s: s.clear(),
            "cover_open",
            DeviceState.NOT_READY,
        ),
        (
            lambda s: s.inject(Fault.FEEDER_EMPTY),
            lambda s: s.clear(),
            "feeder_empty",
            DeviceState.NOT_READY,
        ),
        (
            lambda s: s.inject(Fault.RIBBON_OUT),
            lambda s: s.clear(),
            "ribbon_out",
            DeviceState.NOT_READY,
        ),
        (
            lambda s: s.replace_ribbon(0),
            lambda s: s.replace_ribbon(),
            "ribbon_out",
            DeviceState.NOT_READY,
        ),
        (
            lambda s: s.replace_ribbon(RIBBON_NEAR_END),
            lambda s: s.replace_ribbon(),
            "ribbon_low",
            DeviceState.READY,
        ),
        (
            _fill_reject_box,
            lambda s: s.empty_reject_box(),
            "reject_box_full",
            DeviceState.NOT_READY,
        ),
        (lambda s: s.inject(Fault.GARBAGE), lambda s: s.clear(), "garbage", DeviceState.ERROR),
    ],
    ids=[
        "cover_open",
        "feeder_fault",
        "ribbon_torn",
        "ribbon_spent",
        "ribbon_low",
        "reject_box_full",
        "garbage",
    ],
)
async def test_the_printer_status_maps_to_the_device_status(
    rig: Rig,
    make: Callable[[CardPrinterSim], object],
    undo: Callable[[CardPrinterSim], object],
    code: str,
    state: DeviceState,
) -> None:
    make(rig.sim)
    status = await rig.printer.check()
    assert (status.state, status.code) == (state, code)
    assert status.reason is not None
    assert status.reason.id != status.reason.en  # Indonesian first, English beside it

    undo(rig.sim)
    assert (await rig.printer.check()).state is DeviceState.READY


@pytest.mark.parametrize(
    ("seed", "detail"), [(0, "answered"), (3, "without end")], ids=["bad_byte", "no_end"]
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


async def test_a_jam_mid_feed_leaves_the_card_in_the_path_where_it_is_rejected(rig: Rig) -> None:
    printer, sim = rig.printer, rig.sim
    sim.inject(Fault.JAM)
    with pytest.raises(DeviceFault) as jam:
        await printer.feed()
    assert jam.value.code == "card_jam"
    status = printer.status
    assert (status.state, status.code) == (DeviceState.NOT_READY, "card_jam")
    assert await printer.card_position() is CardPosition.IN_FEEDER_PATH  # even while jammed
    assert rig.slot.calls == []  # it never reached the contactless station
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


async def test_an_overheated_head_stops_printing_until_it_has_cooled(rig: Rig) -> None:
    printer, sim = rig.printer, rig.sim
    for _ in range(10):  # consecutive prints heat the head a step each
        await printer.feed()
        await printer.print_front(FRONT)
        report = await printer.report()
        if report.overheating:
            break
        await printer.eject()
    assert report.overheating
    assert report.head_temperature_c >= 70
    status = printer.status
    assert (status.state, status.code) == (DeviceState.NOT_READY, "overheating")
    printed = len(sim.printed)

    with pytest.raises(DeviceFault) as hot:
        await printer.print_front(FRONT)  # the card inside waits where it is
    assert hot.value.code == "overheating"
    assert await printer.card_position() is CardPosition.AT_PRINT_POSITION
    await printer.eject()  # moving a card needs no head
    with pytest.raises(DeviceFault) as no_blank:
        await printer.feed()
    assert no_blank.value.code == "overheating"

    sim.cool_down()
    assert (await printer.check()).state is DeviceState.READY
    await _issue(printer)
    assert len(sim.printed) == printed + 1


async def test_unplugged_mid_print_the_card_is_found_at_the_print_position(rig: Rig) -> None:
    printer, sim = rig.printer, rig.sim
    await printer.feed()
    # The moment the card leaves the contactless station for the print position, the
    # cable is pulled.
    rig.slot.on_remove = lambda: sim.inject(Fault.UNPLUG)
    with pytest.raises(DeviceGone):
        await printer.print_front(FRONT)
    assert printer.status.state is DeviceState.DISCONNECTED
    assert sim.printed == []

    rig.slot.on_remove = None
    sim.clear(Fault.UNPLUG)
    async with asyncio.timeout(RECOVERY_S):
        await printer.connect()
    assert await printer.card_position() is CardPosition.AT_PRINT_POSITION
    await printer.eject()  # the print job cut short is no job: Se gives the card out
    assert await printer.card_position() is CardPosition.EJECTED
    assert sim.printed == []
    assert _accounted_for(sim) == BLANKS


async def test_after_a_crash_a_new_driver_finds_the_card_and_rejects_it(rig: Rig) -> None:
    await rig.printer.feed()
    await rig.printer.print_front(FRONT)
    await rig.printer.disconnect()  # the daemon died here

    restarted = _printer(rig.bus)
    try:
        await restarted.connect()
        assert await restarted.card_position() is CardPosition.AT_PRINT_POSITION
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
        died.write(0x01, sent[: len(sent) // 2], 1000)  # and then nothing more, ever
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
        assert await printer.card_position() is CardPosition.AT_PRINT_POSITION
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
    assert "ERR;INTERNAL" in str(failed.value)
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


async def test_config_points_the_driver_at_the_simulator(short_dir: Path) -> None:
    async with _rig(short_dir) as rig_:
        config = CardPrinterConfig.model_validate(rig_.sim.config_overlay())
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


# -- the simulator on its own: what it refuses, whoever asks


async def test_the_simulated_printer_refuses_what_it_cannot_do() -> None:
    # No host: the commands go straight to the device, as the bus would hand them.
    bus = UsbBus(socket_path=Path("/nonexistent/usb.sock"))
    sim = CardPrinterSim(
        name="cp", bus=bus, hopper=1, reject_box_capacity=1, timing=Timing(scale=0)
    )

    async def send(command: bytes) -> str:
        await sim.bulk_out(0x01, command)
        return (await sim.bulk_in(0x82, 64)).decode("ascii").removesuffix("\r")

    blank = bitmap_command(front_panel(Image.new("L", (PANEL_WIDTH, PANEL_HEIGHT), 255)))
    assert await send(b"\x1bSe\r") == "ERR;NO_CARD"
    assert await send(b"\x1bSs\r") == "ERR;NO_CARD"
    assert await send(b"\x1bSer\r") == "ERR;NO_CARD"
    assert await send(b"\x1bRxx\r") == "ERR;UNKNOWN"
    assert await send(b"\x1bDbc;k;2;1;\x07\r") == "ERR;BAD_DATA"
    sim.inject(Fault.COVER_OPEN)
    assert await send(b"\x1bSic\r") == "ERR;COVER_OPEN"
    sim.clear()
    assert await send(b"\x1bSic\r") == "OK"
    assert await send(b"\x1bSic\r") == "OK"  # already there
    sim.inject(Fault.RIBBON_OUT)
    for command in (b"\x1bSs\r", b"\x1bSr\r", blank):
        assert await send(command) == "OK"
    assert await send(b"\x1bSe\r") == "ERR;RIBBON_OUT"
    sim.clear()
    assert await send(b"\x1bPneab;E\r") == "OK"  # keep the card: print it again and again
    for _ in range(10):
        for command in (b"\x1bSs\r", blank):
            assert await send(command) == "OK"
        if await send(b"\x1bSe\r") == "ERR;HEAD_TEMP":
            break
    else:
        pytest.fail("the head never got too hot")
    assert await send(b"\x1bSer\r") == "OK"
    assert await send(b"\x1bSic\r") == "ERR;FEEDER_EMPTY"
    sim.load_hopper(1)
    assert await send(b"\x1bSic\r") == "OK"
    assert await send(b"\x1bSer\r") == "ERR;REJECT_BOX_FULL"
