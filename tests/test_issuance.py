"""Card issuance end to end through the real drivers and the simulators: a blank fed,
personalised, read back, printed, ejected, carried to the desk reader and activated by
its holder's finger, or refused for anyone else's; every fault ends with the card issued
or counted as spoiled with its reason."""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_asyncio
from PIL import Image

from appliance.card import CARD_AID, FILE_IDS, CardKeys, DocumentSigner
from appliance.clock import ManualClock
from appliance.fingerprint import FingerMatcher
from appliance.hal import DeviceFault, DeviceGone, TicketPrinter, TicketPrinterConfig
from appliance.issuance import (
    ActivationRefused,
    CardActivator,
    CardIssuer,
    CardSpoiled,
    NoBlankCard,
    WrongCard,
    check_suket_qr,
    issue_surat_keterangan,
)
from appliance.register import EventType, Register, StationKey, verify_register
from sim._base import Fault, Timing
from sim.escpos_printer import EscposPrinterSim
from sim.pcscd import PrivatePcscd
from sim.usb import UsbBus

from .card_rig import CardStation, card_station, holder, request
from .issuance_child import card_key_paths
from .support import REPO, SUBMITTED

pytestmark = pytest.mark.asyncio(loop_scope="module")

APP = "APP-0001"


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def pcscd() -> AsyncIterator[PrivatePcscd]:
    async with PrivatePcscd() as daemon:
        yield daemon


@pytest.fixture
def short_dir() -> Iterator[Path]:
    # pytest's tmp_path can exceed the 108-byte limit of a UNIX socket path.
    path = Path(tempfile.mkdtemp(prefix="iss-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest_asyncio.fixture(loop_scope="module")
async def station(pcscd: PrivatePcscd, short_dir: Path) -> AsyncIterator[CardStation]:
    async with card_station(pcscd, short_dir) as rig:
        yield rig


@pytest.fixture
def office(register: Register) -> Register:
    register.append(EventType.APPLICATION_SUBMITTED, SUBMITTED, application_id=APP)
    register.append(EventType.BLANK_RECEIVED, {"count": 5, "reference": "BA-2026-11"})
    return register


def _issuer(station: CardStation, register: Register) -> CardIssuer:
    return CardIssuer(
        register=register,
        printer=station.printer,
        encoder=station.encoder,
        signer=station.signer,
        card_keys=station.card_keys,
    )


def _activator(station: CardStation, register: Register, **options: int) -> CardActivator:
    return CardActivator(
        register=register,
        reader=station.desk_reader,
        scanner=station.scanner,
        matcher=FingerMatcher(),
        trust=[station.signer.certificate],
        card_keys=station.card_keys,
        **options,
    )


def _card_states(register: Register) -> list[tuple[str, str | None]]:
    rows = register._conn.execute(  # the derived table, read as verify would
        "SELECT state, spoil_reason FROM cards ORDER BY fed_seq"
    ).fetchall()
    return [(state, reason) for state, reason in rows]


async def test_a_card_is_issued_and_activated_by_its_holder(
    station: CardStation, office: Register
) -> None:
    printed = await _issuer(station, office).issue(request(APP))

    (face,) = station.printer_sim.printed
    assert face.serial == printed.card_serial
    assert face.path is not None
    with Image.open(face.path) as picture:
        assert picture.size == (1016, 648)
    chip = station.printer_sim.output_tray[-1]
    assert set(chip.application(CARD_AID)) == set(FILE_IDS.values())
    assert _card_states(office) == [("printed", None)]

    await station.hand_card_to_desk()
    activated = await _activator(station, office).activate(APP)

    assert activated.card_serial == printed.card_serial
    assert activated.attempts == 1
    assert _card_states(office) == [("issued", None)]
    stock = office.blank_stock()
    assert (stock.received, stock.issued, stock.spoiled, stock.available) == (5, 1, 0, 4)
    attempts = [e.data for e in office.events() if e.type == EventType.CARD_ACTIVATION_ATTEMPT]
    assert [a["matched"] for a in attempts] == [True]


async def test_another_persons_finger_is_refused_after_every_attempt(
    station: CardStation, office: Register
) -> None:
    await _issuer(station, office).issue(request(APP))
    await station.hand_card_to_desk()
    station.scanner_sim.present(person_seed=7777)  # somebody else puts a finger down

    with pytest.raises(ActivationRefused) as refused:
        await _activator(station, office, attempts_per_finger=2).activate(APP)

    assert refused.value.attempts == 4  # two attempts on each of the chip's two fingers
    attempts = [e.data for e in office.events() if e.type == EventType.CARD_ACTIVATION_ATTEMPT]
    assert [(a["finger"], a["attempt"], a["matched"]) for a in attempts] == [
        (2, 1, False),
        (2, 2, False),
        (7, 1, False),
        (7, 2, False),
    ]
    assert _card_states(office) == [("printed", None)]  # not issued, not spoiled: kept


async def test_a_card_that_is_not_the_applicants_is_not_read(
    station: CardStation, office: Register
) -> None:
    await _issuer(station, office).issue(request(APP))
    from sim.smartcard import VirtualCard  # noqa: PLC0415

    await station.desk.insert(VirtualCard(serial="KTP0000000000"))
    with pytest.raises(WrongCard):
        await _activator(station, office).activate(APP)
    assert _card_states(office) == [("printed", None)]


@pytest.mark.parametrize("where", sorted(FILE_IDS))
async def test_a_tampered_card_fails_activation_and_is_spoiled(
    station: CardStation, office: Register, where: str
) -> None:
    await _issuer(station, office).issue(request(APP))
    card = station.printer_sim.output_tray[-1]
    fid = FILE_IDS[where]
    content = bytearray(card.application(CARD_AID)[fid])
    content[len(content) // 2] ^= 0x01
    card.overwrite(CARD_AID, fid, bytes(content))
    await station.hand_card_to_desk()

    with pytest.raises(CardSpoiled) as spoiled:
        await _activator(station, office).activate(APP)

    assert spoiled.value.reason == "verification_failure"
    assert _card_states(office) == [("spoiled", "verification_failure")]


async def test_a_security_object_signed_by_another_key_fails_activation(
    station: CardStation, office: Register
) -> None:
    forger = DocumentSigner.generate(station_id="lumajang-01")  # same name, another key
    forged = CardIssuer(
        register=office,
        printer=station.printer,
        encoder=station.encoder,
        signer=forger,
        card_keys=station.card_keys,
    )
    await forged.issue(request(APP))
    await station.hand_card_to_desk()

    with pytest.raises(CardSpoiled) as spoiled:
        await _activator(station, office).activate(APP)

    assert spoiled.value.detail == "untrusted_signer"
    assert _card_states(office) == [("spoiled", "verification_failure")]


async def test_a_chip_write_failure_spoils_the_card_into_the_reject_box(
    station: CardStation, office: Register
) -> None:
    station.contactless.inject(Fault.WRITE_FAILURE, {"after_bytes": 4000})

    with pytest.raises(CardSpoiled) as spoiled:
        await _issuer(station, office).issue(request(APP))

    assert spoiled.value.reason == "encode_failure"
    assert len(station.printer_sim.reject_box) == 1
    assert _card_states(office) == [("spoiled", "encode_failure")]
    assert office.blank_stock().available == 4


async def test_a_card_removed_mid_write_is_spoiled(station: CardStation, office: Register) -> None:
    station.contactless.inject(Fault.CARD_REMOVED, {"after_writes": 3})

    with pytest.raises(CardSpoiled) as spoiled:
        await _issuer(station, office).issue(request(APP))

    assert spoiled.value.reason == "encode_failure"
    assert _card_states(office) == [("spoiled", "encode_failure")]


async def test_a_jam_spoils_the_card_as_jammed(station: CardStation, office: Register) -> None:
    station.printer_sim.inject(Fault.JAM)

    with pytest.raises(CardSpoiled) as spoiled:
        await _issuer(station, office).issue(request(APP))

    assert spoiled.value.reason == "jam"
    assert _card_states(office) == [("spoiled", "jam")]
    assert office.blank_stock().stock == 4


async def test_ribbon_out_refuses_before_a_card_moves_and_keeps_the_blank(
    station: CardStation, office: Register
) -> None:
    station.printer_sim.inject(Fault.RIBBON_OUT)
    await station.printer.check()

    with pytest.raises(DeviceFault) as refused:
        await _issuer(station, office).issue(request(APP))

    assert refused.value.code == "ribbon_out"
    assert _card_states(office) == [("not_fed", None)]
    assert office.blank_stock().available == 5


async def test_an_empty_hopper_keeps_the_blank_in_stock(
    station: CardStation, office: Register
) -> None:
    station.printer_sim.hopper = 0
    await station.printer.check()

    with pytest.raises(DeviceFault) as refused:
        await _issuer(station, office).issue(request(APP))

    assert refused.value.code == "feeder_empty"
    assert office.blank_stock().available == 5
    assert office.open_cards() == []


async def test_no_blank_in_stock_touches_nothing(station: CardStation, register: Register) -> None:
    register.append(EventType.APPLICATION_SUBMITTED, SUBMITTED, application_id=APP)

    with pytest.raises(NoBlankCard):
        await _issuer(station, register).issue(request(APP))

    assert station.printer_sim.hopper == 10
    assert _card_states(register) == []


async def test_a_step_cancelled_at_its_budget_rejects_the_card_as_interrupted(
    station: CardStation, office: Register
) -> None:
    station.contactless.inject(Fault.HANG)

    with pytest.raises(TimeoutError):
        async with asyncio.timeout(2.0):  # the step's budget, as the pipeline sets it
            await _issuer(station, office).issue(request(APP))

    station.contactless.clear(Fault.HANG)
    assert _card_states(office) == [("spoiled", "interrupted")]
    assert len(station.printer_sim.reject_box) == 1


async def test_a_station_killed_mid_encoding_rejects_and_counts_the_card_after_restart(
    pcscd: PrivatePcscd, short_dir: Path, station_key: StationKey, clock: ManualClock
) -> None:
    state = short_dir / "state"
    state.mkdir()
    station_key.save(state / "station.key")
    signer = DocumentSigner.create(state / "ds.key", state / "ds.crt", station_id="lumajang-01")
    CardKeys.create(card_key_paths(state))
    card_keys = CardKeys.load(card_key_paths(state))
    path = state / "register.sqlite3"
    with Register.open(path, station_id="lumajang-01", key=station_key, clock=clock) as register:
        register.append(EventType.APPLICATION_SUBMITTED, SUBMITTED, application_id=APP)
        register.append(EventType.BLANK_RECEIVED, {"count": 5, "reference": "BA-2026-11"})
        register.append(
            EventType.APPLICATION_ADVANCED, {"step": "encode_print"}, application_id=APP
        )

    async with card_station(pcscd, short_dir, card_keys=card_keys) as station:
        await station.printer.disconnect()  # the station process owns the printer
        station.contactless.inject(Fault.HANG, {"after_writes": 3})
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.issuance_child",
            str(state),
            str(station.printer_sim.config_overlay()["usb_backend"]).removeprefix("socket:"),
            str(pcscd.socket_path),
            f"{pcscd.friendly_name} 00 00",
            cwd=REPO,
        )
        try:
            async with asyncio.timeout(60):
                await station.contactless.holding.wait()  # the chip is part-written
        finally:
            child.kill()
            await child.wait()
        station.contactless.clear(Fault.HANG)
        assert station.printer_sim.card is not None  # the half-encoded card is inside

        await station.printer.connect()  # the restarted station
        with Register.open(path, station_id="lumajang-01", key=station_key, clock=clock) as reg:
            assert [card.state for card in reg.open_cards()] == ["fed"]
            issuer = CardIssuer(
                register=reg,
                printer=station.printer,
                encoder=station.encoder,
                signer=signer,
                card_keys=card_keys,
            )

            (recovered,) = await issuer.recover()

            assert recovered.found_in_printer
            assert station.printer_sim.card is None
            assert len(station.printer_sim.reject_box) == 1
            assert _card_states(reg) == [("spoiled", "interrupted")]
            application = reg.application(APP)
            assert application is not None
            assert (application.step, application.state) == ("encode_print", "in_progress")
            # The step runs again from its start, with a new blank.
            printed = await issuer.issue(request(APP))
            assert _card_states(reg) == [("spoiled", "interrupted"), ("printed", None)]
            assert printed.card_serial in station.printer_sim.ejected
            stock = reg.blank_stock()
            assert (stock.stock, stock.in_process, stock.spoiled) == (4, 1, 1)
            assert verify_register(path, station_key.public_key).ok


async def test_without_a_blank_the_applicant_gets_a_checkable_surat_keterangan(
    register: Register, station_key: StationKey, short_dir: Path
) -> None:
    register.append(EventType.APPLICATION_SUBMITTED, SUBMITTED, application_id=APP)
    async with UsbBus(socket_path=short_dir / "tp.sock") as bus:
        sim = EscposPrinterSim(name="ticket_printer", bus=bus, timing=Timing(scale=0))
        await sim.start()
        printer = TicketPrinter.from_config(
            name="ticket_printer", config=TicketPrinterConfig.model_validate(sim.config_overlay())
        )
        await printer.connect()
        try:
            suket = await issue_surat_keterangan(
                register=register,
                printer=printer,
                key=station_key,
                application_id=APP,
                holder=holder(),
                office="Kecamatan Sukodono",
                issued_at=datetime(2026, 11, 21, 9, 30, tzinfo=UTC),
            )
        finally:
            await printer.disconnect()

    (slip,) = sim.printed
    texts = [line.text for line in slip.lines]
    assert "SURAT KETERANGAN" in texts
    assert f"Nomor: {suket.number}" in texts
    assert f"NIK: {holder().nik}" in texts
    (qr,) = slip.qr_payloads
    facts = check_suket_qr(qr, station_key.public_key)
    assert facts is not None
    assert (facts.number, facts.nik) == (suket.number, holder().nik)
    assert (
        check_suket_qr(qr.replace(holder().nik, "3508014101900002"), station_key.public_key) is None
    )
    application = register.application(APP)
    assert application is not None
    assert application.state == "waiting_blank"  # recorded, not printed


async def test_pcscd_restarting_mid_encoding_spoils_that_card_and_the_next_one_is_issued(
    station: CardStation, office: Register
) -> None:
    station.contactless.inject(Fault.HANG, {"after_writes": 2})
    issuing = asyncio.create_task(_issuer(station, office).issue(request(APP)))
    async with asyncio.timeout(30):
        await station.contactless.holding.wait()
    await station.pcscd.restart()
    station.contactless.clear(Fault.HANG)

    with pytest.raises(CardSpoiled) as spoiled:
        await issuing

    assert spoiled.value.reason == "encode_failure"
    assert len(station.printer_sim.reject_box) == 1
    with pytest.raises(DeviceGone):  # no blank is fed while the reader is gone
        await _issuer(station, office).issue(request(APP))
    await station.encoder.connect()  # as the supervisor does: a new PC/SC context
    printed = await _issuer(station, office).issue(request(APP))
    assert _card_states(office) == [("spoiled", "encode_failure"), ("printed", None)]
    assert printed.card_serial in station.printer_sim.ejected
