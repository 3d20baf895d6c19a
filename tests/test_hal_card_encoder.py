"""The card encoder driver against the simulated card, through the real stack:
CardEncoder -> pyscard -> libpcsclite -> a private pcscd -> vpcd -> VpcdSlot -> VirtualCard.

The pcscd is this module's own (`PrivatePcscd`: its own namespaces, its own socket), never
the machine's, and is killed and restarted here.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
import pytest_asyncio

from appliance.hal import (
    Backoff,
    DeviceBusy,
    DeviceError,
    DeviceFault,
    DeviceGone,
    DeviceState,
    DeviceSupervisor,
    DeviceTimeout,
)
from appliance.hal._apdu import Command, Response
from appliance.hal._card_access import AccessKeys, PersonalisationKeys
from appliance.hal._card_encoder import (
    CardEncoder,
    CardEncoderConfig,
    CardInfo,
)
from appliance.hal._card_session import CardApplication
from appliance.hal._pcsc import PcscContext
from sim._base import Fault, Timing
from sim.pcscd import SOCKET_VARIABLE, PrivatePcscd
from sim.smartcard import VirtualCard
from sim.vpcd import VpcdSlot

# libpcsclite reads PCSCLITE_CSOCK_NAME once per process, at its first
# SCardEstablishContext (importing pyscard does not read it): set here, at import, it is
# in place before any test can make a context. PrivatePcscd.start sets it as well.
os.environ.setdefault(SOCKET_VARIABLE, str(PrivatePcscd().socket_path))

pytestmark = pytest.mark.asyncio(loop_scope="module")

AID = bytes.fromhex("A000000247100101")
PRESENCE_S = 3.0  # pcscd looks for vpcd's card every 0.4 s
OPERATION_S = 10.0
UNWIND_S = 0.5  # how long past its deadline an operation may take to unwind


TRANSPORT_KEY = bytes(range(16))  # this module's blanks' transport key
KEYS = PersonalisationKeys(transport_key=TRANSPORT_KEY, can="246810", reader_key=bytes(16))
ACCESS = AccessKeys(can="246810", reader_key=bytes(16))


def _blank(**options: object) -> VirtualCard:
    """A blank as its maker ships it: with the transport key this module personalises with."""
    return VirtualCard(transport_key=TRANSPORT_KEY, **options)  # type: ignore[arg-type]


def _application(seed: int = 0, *, face: int = 18_500) -> CardApplication:
    """A KTP-el chip's files at realistic sizes (random bytes: the encoder does not care
    what they mean, only that they read back the same)."""
    rng = random.Random(seed)
    return CardApplication(
        AID,
        {
            0x01: rng.randbytes(96),  # DG1, by short EF identifier: EF 0101
            0x0102: rng.randbytes(face),  # DG2: the face (JPEG)
            0x0103: rng.randbytes(2_400),  # DG3: two fingerprint templates
            0x0107: rng.randbytes(1_900),  # DG7: the signature
            0x011D: rng.randbytes(2_300),  # EF.SOD: the security object
        },
    )


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def pcscd() -> AsyncIterator[PrivatePcscd]:
    async with PrivatePcscd() as daemon:
        yield daemon


@dataclass
class Station:
    """The contactless station (the slot) and the encoder that reads it."""

    pcscd: PrivatePcscd
    slot: VpcdSlot
    encoder: CardEncoder
    changed: asyncio.Event

    async def insert(self, card: VirtualCard) -> CardInfo:
        await self.slot.insert(card)
        return await self.encoder.wait_for_card(timeout_s=PRESENCE_S)

    async def until_present(self, present: bool) -> None:
        async with asyncio.timeout(PRESENCE_S):
            while self.encoder.card_present is not present:
                self.changed.clear()
                await self.changed.wait()

    async def remove(self) -> None:
        await self.slot.remove()
        await self.until_present(False)


def _encoder(pcscd: PrivatePcscd, **options: object) -> CardEncoder:
    settings: dict[str, object] = {
        "name": "card_encoder",
        "reader": pcscd.friendly_name,  # a prefix: the first slot, "00 00"
        "pcsc_socket": str(pcscd.socket_path),
    }
    settings.update(options)
    return CardEncoder(**settings)  # type: ignore[arg-type]


@pytest_asyncio.fixture(loop_scope="module")
async def station(pcscd: PrivatePcscd) -> AsyncIterator[Station]:
    slot = pcscd.slot(timing=Timing(scale=0))
    await slot.start()
    encoder = _encoder(pcscd)
    changed = asyncio.Event()
    encoder.add_card_listener(lambda _encoder, _present: changed.set())
    await encoder.connect()
    rig = Station(pcscd, slot, encoder, changed)
    try:
        yield rig
    finally:
        if rig.slot.card is not None:  # the next test's encoder must not see this card
            if encoder.status.state is DeviceState.DISCONNECTED:
                await encoder.connect()
            await rig.remove()
        await rig.slot.stop()
        await encoder.disconnect()


# ---------------------------------------------------------------- cards come and go


async def test_an_empty_reader_is_ready_and_a_card_is_read_when_it_comes(
    station: Station,
) -> None:
    encoder = station.encoder
    assert encoder.status.state is DeviceState.READY  # nothing to do is not a fault
    assert encoder.reader_name == station.pcscd.reader_name
    assert not encoder.card_present
    assert encoder.identity is not None
    assert encoder.identity.model == "KTPEL vpcd"

    card = _blank(serial="KTP-2025-000001", seed=3)
    waiting = asyncio.create_task(encoder.wait_for_card(timeout_s=PRESENCE_S))
    await station.slot.insert(card)
    info = await waiting

    assert info.serial == "KTP-2025-000001"
    assert info.serial_source == "gdo"
    assert info.uid == card.uid
    assert info.atr == card.atr
    assert info.extended_length
    assert encoder.card_present
    assert encoder.status.state is DeviceState.READY


async def test_no_card_in_time_is_the_applicants_not_the_encoders(station: Station) -> None:
    started = time.monotonic()
    with pytest.raises(DeviceFault) as waited:
        await station.encoder.wait_for_card(timeout_s=0.3)
    assert waited.value.code == "no_card_in_reader"
    assert time.monotonic() - started < 0.3 + UNWIND_S
    assert station.encoder.status.state is DeviceState.READY
    with pytest.raises(DeviceFault) as refused:
        await station.encoder.personalise(_application(), keys=KEYS, timeout_s=OPERATION_S)
    assert refused.value.code == "no_card_in_reader"


async def test_insertions_and_removals_reach_the_listeners(station: Station) -> None:
    seen: list[bool] = []
    station.encoder.add_card_listener(lambda _encoder, present: seen.append(present))
    await station.insert(_blank(serial="KTP-A"))
    await station.remove()
    info = await station.insert(_blank(serial="KTP-B"))
    assert info.serial == "KTP-B"
    assert seen == [True, False, True]


# ---------------------------------------------------------------- personalisation


async def test_personalise_writes_every_file_and_reads_it_back(station: Station) -> None:
    card = _blank(serial="KTP-2025-000002")
    await station.insert(card)
    application = _application(1)

    await station.encoder.personalise(application, keys=KEYS, timeout_s=OPERATION_S)

    on_card = card.application(AID)
    assert on_card == {0x0101: application.files[0x01]} | {
        key: content for key, content in application.files.items() if key != 0x01
    }
    assert card.files["3F00/A000000247100101/0102"] == application.files[0x0102]
    assert card.extended_commands > 0
    # chunk_bytes in one extended APDU, protected: 87 82 0411 01 ‖ 1040 bytes of
    # cryptogram (1024 padded) ‖ 8E 08 ‖ the MAC.
    assert card.largest_command == 1055
    assert card.chained_commands == 0
    back = await station.encoder.read_application(
        AID, application.files.keys(), keys=ACCESS, timeout_s=OPERATION_S
    )
    assert back == dict(application.files)
    assert station.encoder.status.state is DeviceState.READY


async def test_a_reader_without_extended_length_gets_short_protected_apdus(
    pcscd: PrivatePcscd, station: Station
) -> None:
    await station.slot.stop()
    slot = pcscd.slot(timing=Timing(scale=0), extended_length=False)
    await slot.start()
    station.slot = slot
    station.encoder.extended_length = False  # as `extended_length = false` in the config
    card = _blank(serial="KTP-SHORT-1")
    info = await station.insert(card)
    assert not info.extended_length

    application = _application(2)
    await station.encoder.personalise(application, keys=KEYS, timeout_s=OPERATION_S)

    assert card.extended_commands == 0
    # Each protected APDU is sized to fit alone: secure messaging protects each command
    # of a chain on its own, which this driver does not need.
    assert card.chained_commands == 0
    assert card.largest_command <= 255
    assert card.application(AID)[0x0102] == application.files[0x0102]


@pytest.mark.parametrize(
    ("options", "extended"),
    [
        ({"extended_length": False, "chaining": False}, False),  # short protected APDUs
        ({"extended_length": False}, False),
        ({"io_buffer": 200}, True),  # long answers come by GET RESPONSE
    ],
)
async def test_the_card_s_own_capabilities_choose_the_apdus(
    station: Station, options: dict[str, object], extended: bool
) -> None:
    card = _blank(serial="KTP-CAPS", **options)
    info = await station.insert(card)
    assert info.extended_length is extended
    application = _application(3)

    await station.encoder.personalise(application, keys=KEYS, timeout_s=OPERATION_S)

    assert (card.extended_commands > 0) is extended
    assert card.chained_commands == 0
    assert card.application(AID)[0x0107] == application.files[0x0107]


async def test_files_beyond_32k_are_written_at_odd_ins_offsets(station: Station) -> None:
    card = _blank(serial="KTP-BIG")
    await station.insert(card)
    application = _application(4, face=40_000)  # offsets past 0x7FFF: UPDATE BINARY D7

    await station.encoder.personalise(application, keys=KEYS, timeout_s=OPERATION_S)

    assert card.application(AID)[0x0102] == application.files[0x0102]


# ---------------------------------------------------------------- what goes wrong on the card


async def test_a_chip_that_fails_mid_file_is_write_failed(station: Station) -> None:
    card = _blank(serial="KTP-WEAK")
    await station.insert(card)
    station.slot.inject(Fault.WRITE_FAILURE, {"after_bytes": 6_000})
    application = _application(5)

    with pytest.raises(DeviceFault) as failed:
        await station.encoder.personalise(application, keys=KEYS, timeout_s=OPERATION_S)

    assert failed.value.code == "write_failed"
    assert "6581" in str(failed.value)
    assert card.application(AID)[0x0102] != application.files[0x0102]
    assert station.encoder.status.state is DeviceState.READY  # the card's fault, not ours


class _ForgetfulCard(VirtualCard):
    """Says 9000 to every write, but reads one bit back wrong (byte 100 of any READ
    BINARY long enough): only reading back catches it."""

    def _read(self, command: Command) -> Response:  # the chip's own read, inside SM
        answer = super()._read(command)
        data = answer.data
        if len(data) > 100:
            data = data[:100] + bytes((data[100] ^ 0x01,)) + data[101:]
        return Response(data, answer.sw)


async def test_a_card_that_reads_back_different_is_write_failed(station: Station) -> None:
    card = _ForgetfulCard(serial="KTP-FORGETFUL", transport_key=TRANSPORT_KEY)
    application = _application(6)
    await station.insert(card)

    with pytest.raises(DeviceFault) as failed:
        await station.encoder.personalise(application, keys=KEYS, timeout_s=OPERATION_S)

    assert failed.value.code == "write_failed"
    assert "EF 0102 reads back different from byte 100" in str(failed.value)


async def test_a_card_taken_away_mid_write_is_card_removed(station: Station) -> None:
    card = _blank(serial="KTP-TAKEN")
    await station.insert(card)
    station.slot.inject(Fault.CARD_REMOVED, {"after_writes": 4})

    with pytest.raises(DeviceFault) as removed:
        await station.encoder.personalise(_application(7), keys=KEYS, timeout_s=OPERATION_S)

    assert removed.value.code == "card_removed"
    assert station.slot.card is None
    assert station.encoder.status.state is DeviceState.READY
    await station.until_present(False)
    station.slot.clear()
    info = await station.insert(_blank(serial="KTP-NEXT"))  # the next card is fine
    assert info.serial == "KTP-NEXT"
    await station.encoder.personalise(_application(7), keys=KEYS, timeout_s=OPERATION_S)


@pytest.mark.parametrize(
    ("card", "sw"),
    [
        (_blank(serial="KTP-LOCKED", locked=True), "6982"),  # security not satisfied
        (_blank(serial="KTP-SMALL", capacity=8_000), "6A84"),  # not enough memory
    ],
)
async def test_a_card_that_refuses_is_rejected(
    station: Station, card: VirtualCard, sw: str
) -> None:
    await station.insert(card)
    with pytest.raises(DeviceFault) as refused:
        await station.encoder.personalise(_application(8), keys=KEYS, timeout_s=OPERATION_S)
    assert refused.value.code == "card_rejected"
    assert sw in str(refused.value)
    assert station.encoder.status.state is DeviceState.READY


async def test_a_card_personalised_before_is_rejected(station: Station) -> None:
    await station.insert(_blank(serial="KTP-TWICE"))
    await station.encoder.personalise(_application(9), keys=KEYS, timeout_s=OPERATION_S)
    with pytest.raises(DeviceFault) as refused:
        await station.encoder.personalise(_application(9), keys=KEYS, timeout_s=OPERATION_S)
    assert refused.value.code == "card_rejected"
    assert "6984" in str(refused.value)  # an issued card's transport key is spent


async def test_garbage_from_the_card_is_a_fault_never_a_crash(station: Station) -> None:
    await station.insert(_blank(serial="KTP-NOISY"))
    encoder = station.encoder
    station.slot.inject(Fault.GARBAGE)
    operations: list[Callable[[], Awaitable[object]]] = [
        lambda: encoder.wait_for_card(timeout_s=1),
        lambda: encoder.personalise(_application(10), keys=KEYS, timeout_s=OPERATION_S),
        lambda: encoder.read_application(AID, [0x0102], keys=ACCESS, timeout_s=OPERATION_S),
    ] * 3  # the noise is random: short, no status word, or longer than asked for
    for operation in operations:
        with pytest.raises(DeviceFault) as garbled:
            await operation()
        assert garbled.value.code == "garbage"
        assert encoder.status.code == "garbage"
        assert (await encoder.check()).state is DeviceState.READY  # the reader itself is fine
    station.slot.clear()
    await encoder.personalise(_application(10), keys=KEYS, timeout_s=OPERATION_S)


# ---------------------------------------------------------------- time, cancellation, sharing


async def test_a_second_caller_is_told_busy_at_once(station: Station) -> None:
    await station.insert(_blank(serial="KTP-BUSY"))
    station.slot.inject(Fault.SLOW, {"delay_s": 0.05})
    busy = asyncio.Event()
    station.encoder.add_listener(
        lambda _device, status: busy.set() if status.state is DeviceState.BUSY else None
    )
    first = asyncio.create_task(
        station.encoder.personalise(_application(11), keys=KEYS, timeout_s=OPERATION_S)
    )
    async with asyncio.timeout(1):
        await busy.wait()
    started = time.monotonic()
    with pytest.raises(DeviceBusy):
        await station.encoder.read_application(AID, [0x0102], keys=ACCESS, timeout_s=OPERATION_S)
    assert time.monotonic() - started < 0.05
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first


class _WatchedCard(VirtualCard):
    """Tells the test when the encoder has begun writing."""

    def __init__(self, *, serial: str) -> None:
        super().__init__(serial=serial, transport_key=TRANSPORT_KEY)
        self.writing = asyncio.Event()

    def process(self, raw: bytes) -> bytes:
        if raw[1] in (0xD6, 0xD7):
            self.writing.set()
        return super().process(raw)


async def test_a_cancelled_write_lets_the_card_go_and_leaves_it_in_place(
    station: Station,
) -> None:
    card = _WatchedCard(serial="KTP-CANCEL")
    await station.insert(card)
    station.slot.inject(Fault.SLOW, {"delay_s": 0.02})
    writing = asyncio.create_task(
        station.encoder.personalise(_application(12), keys=KEYS, timeout_s=OPERATION_S)
    )
    async with asyncio.timeout(2):
        await card.writing.wait()
    writing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await writing
    commands = card.commands

    assert station.slot.card is card  # the encoder never moves cards
    assert station.encoder.status.state is DeviceState.READY
    station.slot.clear()
    # Not half-claimed: the reader takes the next exchange at once.
    info = await station.encoder.wait_for_card(timeout_s=1)
    assert info.serial == "KTP-CANCEL"
    assert card.commands <= commands + 8  # at most the APDU on the wire, then identify


async def test_a_hung_card_times_out_and_the_encoder_recovers(station: Station) -> None:
    await station.insert(_blank(serial="KTP-HUNG"))
    station.slot.inject(Fault.HANG)
    started = time.monotonic()
    with pytest.raises(DeviceTimeout):
        await station.encoder.personalise(_application(13), keys=KEYS, timeout_s=0.5)
    assert time.monotonic() - started < 0.5 + UNWIND_S
    assert station.encoder.status.code == "not_responding"

    station.slot.clear(Fault.HANG)  # the held APDU is answered, the stuck call ends
    async with asyncio.timeout(PRESENCE_S):
        while True:  # the card is free again once that late answer has come back
            assert (await station.encoder.check()).state is DeviceState.READY
            try:
                info = await station.encoder.wait_for_card(timeout_s=1)
            except DeviceBusy:  # still held by the abandoned exchange
                continue
            break
    assert info.serial == "KTP-HUNG"


# ---------------------------------------------------------------- pcscd and the reader


async def test_pcscd_killed_and_restarted_is_survived_without_a_restart(
    pcscd: PrivatePcscd, station: Station
) -> None:
    encoder = station.encoder
    supervisor = DeviceSupervisor(
        devices=[encoder], poll_interval_s=0.1, backoff=Backoff(initial_s=0.05, maximum_s=0.2)
    )
    supervising = asyncio.create_task(supervisor.run())
    try:
        await station.insert(_blank(serial="KTP-BEFORE"))
        await pcscd.kill()
        async with asyncio.timeout(2):
            gone = await supervisor.wait_for("card_encoder", DeviceState.DISCONNECTED)
        assert gone.code == "pcsc_unavailable"
        with pytest.raises(DeviceGone):
            await encoder.personalise(_application(14), keys=KEYS, timeout_s=OPERATION_S)

        await pcscd.restart()
        async with asyncio.timeout(5):
            await supervisor.wait_for("card_encoder", DeviceState.READY)
        info = await encoder.wait_for_card(timeout_s=PRESENCE_S)  # the same card, back
        assert info.serial == "KTP-BEFORE"
        await encoder.personalise(_application(14), keys=KEYS, timeout_s=OPERATION_S)
        assert [c.status.code for c in supervisor.history][-1] is None
    finally:
        supervising.cancel()
        with pytest.raises(asyncio.CancelledError):
            await supervising
        if pcscd.pid is None:
            await pcscd.restart()


async def test_a_reader_that_is_gone_is_not_found_until_it_is_back(
    pcscd: PrivatePcscd, station: Station
) -> None:
    encoder = station.encoder
    await pcscd.restart(reader=False)  # as if the reader had been unplugged
    try:
        with pytest.raises(DeviceGone) as unplugged:
            await encoder.connect()
        assert unplugged.value.code == "not_found"
        assert encoder.status.state is DeviceState.DISCONNECTED
    finally:
        await pcscd.restart(reader=True)
    await encoder.connect()
    assert encoder.status.usable


async def test_a_wait_given_up_and_closed_does_not_stop_every_pcsc_call(
    pcscd: PrivatePcscd,
) -> None:
    """A watcher stops while its wait is just starting: the cancel may come before the
    wait has begun, and libpcsclite would then hold its global lock through a release
    queued behind the wait, stopping every PC/SC call in the process for the wait's
    length. Closing must end the wait first, and promptly."""
    for attempt in range(40):  # the race is in the wait's first moments: meet it often
        watching = PcscContext(device="card_encoder", name=f"watch-{attempt}")
        state = await watching.reader_state(pcscd.reader_name)  # unaware: at once
        assert state is not None
        waiting = asyncio.create_task(
            watching.reader_state(pcscd.reader_name, state.known, wait_s=60)
        )
        # Give up on it at slightly different moments of its start: a few turns of the
        # loop, then a spin of up to 0.8 ms (a moment, not a wait for anything).
        for _ in range(attempt % 4):
            await asyncio.sleep(0)
        spin_until = time.perf_counter() + (attempt // 4) % 5 * 0.0002
        while time.perf_counter() < spin_until:
            pass
        waiting.cancel()
        async with asyncio.timeout(10):  # the wait would hold everything for 60 s
            await watching.close(timeout_s=30)
            other = PcscContext(device="card_encoder", name=f"other-{attempt}")
            assert pcscd.reader_name in await other.readers()
            await other.close()
        with pytest.raises(asyncio.CancelledError):
            await waiting


async def test_a_context_given_up_under_a_stuck_call_closes_at_once(
    pcscd: PrivatePcscd,
) -> None:
    """A card that hangs mid-command leaves its call stuck, and the context is given up
    (`forget`) so that the next call makes a new one. Closing then must not wait for
    the stuck call: nothing can cancel it, and the device's disconnect would wait out
    its whole time every time."""
    context = PcscContext(device="card_encoder", name="stuck")
    state = await context.reader_state(pcscd.reader_name)
    assert state is not None
    stuck_s = 10.0  # as a hung SCardTransmit would, for this long
    stuck = asyncio.create_task(
        context.reader_state(pcscd.reader_name, state.known, wait_s=stuck_s)
    )
    await asyncio.sleep(0)  # handed to its thread
    stuck.cancel()
    context.forget()
    async with asyncio.timeout(stuck_s / 2):
        assert pcscd.reader_name in await context.readers()  # on a new context
        await context.close(timeout_s=stuck_s * 3)
    with pytest.raises(asyncio.CancelledError):
        await stuck


async def test_another_reader_name_is_not_found(pcscd: PrivatePcscd) -> None:
    encoder = _encoder(pcscd, reader="ACS ACR1252")
    with pytest.raises(DeviceGone) as missing:
        await encoder.connect()
    assert missing.value.code == "not_found"
    assert "KTPEL vpcd 00 00" in str(missing.value)  # it says what there is
    await encoder.disconnect()


async def test_the_config_builds_the_driver(pcscd: PrivatePcscd) -> None:
    slot = pcscd.slot()
    config = CardEncoderConfig.model_validate(slot.config_overlay())
    assert config.reader == pcscd.reader_name
    assert config.pcsc_socket == str(pcscd.socket_path)
    encoder = CardEncoder.from_config(name="card_encoder", config=config)
    await encoder.connect()
    try:
        assert encoder.status.state is DeviceState.READY
    finally:
        await encoder.disconnect()
    with pytest.raises(ValueError, match="chunk_bytes"):
        CardEncoderConfig.model_validate({"kind": "pcsc_encoder", "reader": "x", "chunk_bytes": 10})


async def test_one_process_talks_to_one_pcscd(pcscd: PrivatePcscd) -> None:
    encoder = _encoder(pcscd, pcsc_socket="/run/elsewhere/pcscd.comm")
    with pytest.raises(DeviceError) as refused:
        await encoder.connect()
    assert "one pcscd" in str(refused.value)


@pytest.mark.parametrize(
    "bad",
    [
        {"aid": b"\xa0\x00", "files": {0x0101: b"x"}},  # AID too short
        {"aid": AID, "files": {}},
        {"aid": AID, "files": {0x01: b"x", 0x0101: b"y"}},  # both are EF 0101
        {"aid": AID, "files": {0x3F00: b"x"}},
        {"aid": AID, "files": {0x0101: b""}},
    ],
)
async def test_an_impossible_application_is_refused_before_the_card(
    bad: dict[str, object],
) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each says why in its own words
        CardApplication(**bad)  # type: ignore[arg-type]
