"""A card station for the tests: the real drivers, the simulated devices at the far end of
their real transports, and one applicant.

    CardPrinter -> pyusb -> SocketUsbBackend -> UsbBus -> CardPrinterSim
    CardEncoder -> pyscard -> private pcscd -> vpcd slot 0 (the printer's contactless
                   station, into which CardPrinterSim moves each card)
    CardEncoder -> pyscard -> private pcscd -> vpcd slot 1 (the activation desk reader)
    SbiSingleFingerScanner -> HTTP -> SbiSimulator (the applicant's synthetic fingers)
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from PIL import Image, ImageDraw

from appliance.card import (
    BloodType,
    CardHolder,
    CardKeys,
    DocumentSigner,
    FingerTemplateRecord,
    Religion,
)
from appliance.domain import MaritalStatus, Sex
from appliance.fingerprint import encode_iso19794_2, extract_template
from appliance.hal import (
    CardEncoder,
    CardPrinter,
    CardPrinterConfig,
    SbiSingleFingerScanner,
    SbiSingleFingerScannerConfig,
)
from appliance.issuance import CardRequest
from sim._base import Timing
from sim.blanks import BlankSupplier
from sim.card_printer import CardPrinterSim
from sim.fingerprints import SyntheticFinger
from sim.pcscd import PrivatePcscd
from sim.sbi import SbiKind, SbiSimulator
from sim.usb import UsbBus
from sim.vpcd import VpcdSlot

from .support import VALID_NIK

CHIP_FINGERS = (2, 7)  # right index, left index
HOLDER_SEED = 1001
ISSUE_DATE = date(2026, 11, 21)


def holder(nik: str = VALID_NIK) -> CardHolder:
    return CardHolder(
        nik=nik,
        name="Siti Aminah",
        birth_place="Lumajang",
        birth_date=date(1990, 1, 1),
        sex=Sex.PEREMPUAN,
        blood_type=BloodType.O,
        address="Jl. Raya Sukodono No. 12",
        rt_rw="003/005",
        village="Sukodono",
        kecamatan="Sukodono",
        regency="Lumajang",
        province="Jawa Timur",
        religion=Religion.ISLAM,
        marital_status=MaritalStatus.KAWIN,
        occupation="Wiraswasta",
        issue_place="Lumajang",
        issue_date=ISSUE_DATE,
    )


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def enrolment(person_seed: int, finger: int) -> FingerTemplateRecord:
    """The chip template of a finger, from one impression as the ten-print scanner took it."""
    image = SyntheticFinger(person_seed=person_seed, finger=finger).impression(
        rng=random.Random(f"enrol-{person_seed}-{finger}")
    )
    template = extract_template(image, finger_position=finger)
    return FingerTemplateRecord(position=finger, iso_19794_2=encode_iso19794_2(template))


def request(application_id: str, *, person_seed: int = HOLDER_SEED) -> CardRequest:
    photo = Image.new("RGB", (240, 320), (120, 140, 200))
    ImageDraw.Draw(photo).ellipse((50, 50, 190, 260), fill=(220, 180, 150))
    signature = Image.new("L", (300, 100), 255)
    ImageDraw.Draw(signature).line((10, 80, 100, 20, 200, 70, 290, 30), fill=0, width=4)
    first, second = (enrolment(person_seed, finger) for finger in CHIP_FINGERS)
    return CardRequest(
        application_id=application_id,
        holder=holder(),
        face_image=_png(photo),
        signature_image=_png(signature),
        fingers=(first, second),
    )


@dataclass
class CardStation:
    pcscd: PrivatePcscd
    printer_sim: CardPrinterSim
    printer: CardPrinter
    contactless: VpcdSlot
    encoder: CardEncoder
    desk: VpcdSlot
    desk_reader: CardEncoder
    scanner_sim: SbiSimulator
    scanner: SbiSingleFingerScanner
    signer: DocumentSigner
    card_keys: CardKeys
    """The station's card masters; the rig's blanks are made for them."""

    async def hand_card_to_desk(self) -> None:
        """The operator takes the ejected card from the tray to the desk reader."""
        await self.desk.insert(self.printer_sim.output_tray.pop())


async def _until_empty(reader: CardEncoder) -> None:
    """pcscd polls vpcd every 0.4 s: a card of the previous test may still look present."""
    changed = asyncio.Event()
    reader.add_card_listener(lambda _reader, _present: changed.set())
    async with asyncio.timeout(5):
        while reader.card_present:
            changed.clear()
            await changed.wait()


@contextlib.asynccontextmanager
async def card_station(
    pcscd: PrivatePcscd, directory: Path, *, hopper: int = 10, card_keys: CardKeys | None = None
) -> AsyncIterator[CardStation]:
    """Every device connected and READY, blanks keyed for `card_keys` (new ones by
    default); torn down in reverse."""
    instant = Timing(scale=0)
    card_keys = card_keys or CardKeys.generate()
    async with contextlib.AsyncExitStack() as stack:
        bus = await stack.enter_async_context(UsbBus(socket_path=directory / "usb.sock"))
        contactless = pcscd.slot(index=0, timing=instant, name="card_encoder")
        desk = pcscd.slot(index=1, timing=instant, name="activation_reader")
        for slot in (contactless, desk):
            await slot.start()
            stack.push_async_callback(slot.stop)
        printer_sim = CardPrinterSim(
            name="card_printer",
            bus=bus,
            slot=contactless,
            make_card=BlankSupplier.for_master(card_keys.transport).blank,
            faces_dir=directory / "faces",
            timing=instant,
            hopper=hopper,
        )
        await printer_sim.start()
        stack.push_async_callback(printer_sim.stop)
        scanner_sim = SbiSimulator(
            name="finger_single",
            kind=SbiKind.FINGER_SINGLE,
            timing=instant,
            capture_delay_s=0,
            person_seed=HOLDER_SEED,
        )
        await scanner_sim.start()
        stack.push_async_callback(scanner_sim.stop)

        printer = CardPrinter.from_config(
            name="card_printer",
            config=CardPrinterConfig.model_validate(printer_sim.config_overlay()),
        )
        encoder = CardEncoder(
            name="card_encoder", reader=f"{pcscd.friendly_name} 00 00", connect_timeout_s=5
        )
        desk_reader = CardEncoder(
            name="activation_reader", reader=f"{pcscd.friendly_name} 00 01", connect_timeout_s=5
        )
        scanner = SbiSingleFingerScanner(
            name="finger_single",
            config=SbiSingleFingerScannerConfig.model_validate(scanner_sim.config_overlay()),
        )
        for device in (printer, encoder, desk_reader, scanner):
            await device.connect()
            stack.push_async_callback(device.disconnect)
        for reader in (encoder, desk_reader):
            await _until_empty(reader)
        yield CardStation(
            pcscd=pcscd,
            printer_sim=printer_sim,
            printer=printer,
            contactless=contactless,
            encoder=encoder,
            desk=desk,
            desk_reader=desk_reader,
            scanner_sim=scanner_sim,
            scanner=scanner,
            signer=DocumentSigner.generate(station_id="lumajang-01"),
            card_keys=card_keys,
        )
