"""The device steps' work: recording biometrics, issuing the card, activating it, the
signed receipt at handover, and the slips the ticket printer gives applicants (the queue
ticket, the list of what an incomplete file lacks). The state machine around them is the
pipeline's; this module only talks to devices, the biometric store and the card issuance.
"""

from __future__ import annotations

import asyncio
import functools
import textwrap
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Final, Literal, TypeVar

from appliance._text import Text
from appliance.biostore import BiometricStore, Modality
from appliance.card import CardHolder, FingerTemplateRecord
from appliance.domain import Document, ServiceType, mask_nik
from appliance.fingerprint import (
    Fingerprints,
    FingerprintWorkerError,
    InProcessFingerprints,
    encode_iso19794_2,
)
from appliance.hal import (
    BiometricCapture,
    CaptureResult,
    Device,
    DeviceBusy,
    DeviceError,
    DeviceState,
    Finger,
    SbiFaceCamera,
    SbiFingerprintScanner,
    SbiIrisScanner,
    SignaturePad,
    Slap,
    Slip,
    Ticket,
    TicketPrinter,
)
from appliance.issuance import (
    CardActivator,
    CardIssuer,
    CardRequest,
    NoBlankCard,
    issue_surat_keterangan,
)
from appliance.logs import get_logger
from appliance.register import ApplicationSubmitted, EventType, Register, StationKey

from ._biometrics import SLAP_STAGES, BiometricPlan, BiometricSessions, MissingPart, Stage
from ._errors import PipelineError
from ._records import PersonRecords
from ._settings import PipelineSection

log = get_logger(__name__)

_D = TypeVar("_D", bound=Device)
_T = TypeVar("_T")
_CHIP_LABEL = "chip-{position}"
_TICKET_TIMEOUT_S = 10.0
_BUSY_RETRY_S = 0.2
SLIP_COLUMNS: Final = 32
"""Characters on a line of the 58 mm roll (font A): the slip's list is wrapped to it."""


class StepFailure(PipelineError):
    """A device step ended without its output; `code` says why, for the register, and
    `detail` how, in the register's English."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(
            code, Text(f"Langkah perangkat gagal: {detail}", f"The device step failed: {detail}")
        )
        self.detail = detail


@dataclass(frozen=True, slots=True)
class RecordedBiometrics:
    modalities: tuple[str, ...]
    chip_fingers: tuple[int, int]
    missing: tuple[MissingPart, ...] = ()


class StepWork:
    def __init__(
        self,
        *,
        register: Register,
        biostore: BiometricStore,
        devices: Mapping[str, Device],
        settings: PipelineSection,
        issuer: CardIssuer | None,
        activator: CardActivator | None,
        records: PersonRecords,
        ticket_printer: str,
        station_key: StationKey,
        office: str,
        fingerprints: Fingerprints | None = None,
    ) -> None:
        self._register = register
        self._biostore = biostore
        self._devices = devices
        self._settings = settings
        self._issuer = issuer
        self._activator = activator
        self._records = records
        self._ticket_printer = ticket_printer
        self._key = station_key
        self._office = office
        # The daemon's fingerprint worker process; in a thread when none is given.
        self._fingerprints = fingerprints or InProcessFingerprints()
        self.biometrics = BiometricSessions()
        """The recordings in progress, as the operator follows and steers them."""

    async def recover(self) -> None:
        """Close the cards a crash left in the printer (spoiled, counted)."""
        if self._issuer is not None:
            await self._issuer.recover()

    async def print_ticket(self, *, number: str, service: ServiceType, issued_at: datetime) -> bool:
        """Print a queue ticket; False (logged) when the printer cannot."""
        try:
            printer = self._device(self._ticket_printer, TicketPrinter)
            await printer.print_ticket(
                Ticket(
                    office=self._office,
                    number=number,
                    service=service.label.id,
                    issued_at=issued_at,
                    qr_payload=f"{self._register.station_id}/{issued_at:%Y-%m-%d}/{number}",
                ),
                timeout_s=_TICKET_TIMEOUT_S,
            )
        except (DeviceError, StepFailure) as error:
            log.warning("ticket_not_printed", ticket=number, error=str(error))
            return False
        return True

    async def print_return_slip(
        self,
        app: str,
        *,
        ticket: str | None,
        service: ServiceType,
        missing: tuple[Document, ...],
        returned_at: datetime,
    ) -> bool:
        """Print what an incomplete file lacks for the applicant to take home; False
        (logged) when the printer cannot: the return stands, and the counter says so."""
        slip = return_slip(
            office=self._office,
            station_id=self._register.station_id,
            app=app,
            ticket=ticket,
            service=service,
            missing=missing,
            returned_at=returned_at,
        )
        try:
            printer = self._device(self._ticket_printer, TicketPrinter)
            async with asyncio.timeout(_TICKET_TIMEOUT_S):
                while True:
                    try:
                        await printer.print_slip(slip, timeout_s=_TICKET_TIMEOUT_S)
                        break
                    except DeviceBusy:
                        # The kiosk's ticket on its way out: the slip follows it.
                        await asyncio.sleep(_BUSY_RETRY_S)
        except (DeviceError, StepFailure, TimeoutError) as error:
            log.warning("return_slip_not_printed", application=app, error=str(error))
            return False
        return True

    def ticket_printer_ready(self) -> bool:
        """Whether the ticket printer is there and not in trouble, as last seen (busy
        printing another ticket is not trouble)."""
        printer = self._devices.get(self._ticket_printer)
        if not isinstance(printer, TicketPrinter):
            return False
        status = printer.status
        return status.usable or (status.state is DeviceState.BUSY and status.code is None)

    # ------------------------------------------------------------------ step 4

    async def record_biometrics(
        self, app: str, plan: BiometricPlan | None = None
    ) -> RecordedBiometrics:
        """Face, ten prints, both irises and the signature, one at a time, stored
        encrypted; the two chip fingers' templates beside them. What `plan` declares
        missing is not asked of the devices (the face camera takes an exception photo)."""
        plan = plan or BiometricPlan()
        camera = self._device(self._settings.camera, SbiFaceCamera)
        scanner = self._device(self._settings.fingerprint_scanner, SbiFingerprintScanner)
        irises = self._device(self._settings.iris_scanner, SbiIrisScanner)
        pad = self._device(self._settings.signature_pad, SignaturePad)
        # The worker's imports (about a second) run while the devices capture.
        await self._fingerprint_work(self._fingerprints.start())
        # The recording ends with the captures; the templates and the store follow, and
        # the step's end says when they are done.
        with self.biometrics.recording(app, plan) as recording:
            exceptions = tuple(missing.part for missing in plan.missing)
            face_result = await recording.capture(
                Stage.FACE,
                functools.partial(camera.capture_face, exceptions=exceptions),
                threshold=camera.config.quality_threshold,
            )
            face = _best(face_result)
            fingers: list[BiometricCapture] = []
            for slap in Slap:  # each placement on its own, so one poor slap keeps the others
                placed = await recording.capture(
                    SLAP_STAGES[slap],
                    functools.partial(scanner.capture_slap, slap, missing=plan.fingers),
                    threshold=scanner.config.quality_threshold,
                )
                fingers.extend(placed.captures)
            eyes = (
                await recording.capture(
                    Stage.IRISES,
                    functools.partial(irises.capture_irises, missing=plan.eyes),
                    threshold=irises.config.quality_threshold,
                )
            ).captures
            signature = await recording.sign(
                functools.partial(pad.capture, timeout_s=self._settings.signature_timeout_s)
            )
        chip = scanner.chip_fingers(fingers)
        if face is None or len(chip) < 2:
            raise StepFailure("capture_incomplete", "no face, or fewer than two fingers")
        by_finger = {capture.bio_subtype: capture for capture in fingers}
        templates = [
            (finger, await self._template(by_finger[finger.value].bio_value, finger))
            for finger in chip
        ]

        def store() -> None:
            put = self._biostore.put
            put(app, Modality.FACE, face.bio_value, label="face")
            for capture in fingers:
                put(app, Modality.FINGERPRINT_IMAGE, capture.bio_value, label=_label(capture))
            for capture in eyes:
                put(app, Modality.IRIS, capture.bio_value, label=_label(capture))
            put(app, Modality.SIGNATURE, signature.png, label="signature")
            for finger, template in templates:
                label = _CHIP_LABEL.format(position=finger.iso_position)
                put(app, Modality.FINGERPRINT_TEMPLATE, template, label=label)

        await asyncio.to_thread(store)
        modalities = ["face", "fingerprints", "signature"] + (["irises"] if eyes else [])
        return RecordedBiometrics(
            tuple(modalities), (chip[0].iso_position, chip[1].iso_position), plan.missing
        )

    # ------------------------------------------------------------------ step 5

    async def encode_and_print(self, app: str, *, now: datetime) -> Literal["printed", "suket"]:
        """Issue the card; with no blank left, print a Surat Keterangan instead."""
        submitted = self.submitted(app)
        holder = self.holder(submitted, today=now.date())
        face, signature, fingers = await self._card_material(app, submitted.nik)
        request = CardRequest(
            application_id=app,
            holder=holder,
            face_image=face,
            signature_image=signature,
            fingers=fingers,
        )
        if self._issuer is None:
            raise StepFailure("device_missing", "no card printer and encoder are configured")
        try:
            await self._issuer.issue(request)
        except NoBlankCard:
            await self._surat_keterangan(app, holder, now)
            return "suket"
        return "printed"

    async def _surat_keterangan(self, app: str, holder: CardHolder, now: datetime) -> None:
        printer = self._device(self._ticket_printer, TicketPrinter)
        try:
            await issue_surat_keterangan(
                register=self._register,
                printer=printer,
                key=self._key,
                application_id=app,
                holder=holder,
                office=self._office,
                issued_at=now,
            )
        except DeviceError as error:
            # Recorded, so it can be printed again from the register; the applicant waits.
            log.warning("surat_keterangan_not_printed", application=app, error=str(error))

    async def _card_material(
        self, app: str, nik: str
    ) -> tuple[bytes, bytes, tuple[FingerTemplateRecord, FingerTemplateRecord]]:
        refs = {(ref.modality, ref.label): ref for ref in self._biostore.list(app)}
        chips = sorted(
            (ref for ref in refs.values() if ref.modality is Modality.FINGERPRINT_TEMPLATE),
            key=lambda ref: ref.created_at,
        )
        face = refs.get((Modality.FACE, "face"))
        signature = refs.get((Modality.SIGNATURE, "signature"))
        if face is not None and signature is not None and len(chips) >= 2:
            get = self._biostore.get
            first, second = (
                FingerTemplateRecord(int(ref.label.rsplit("-", 1)[1]), get(ref.blob_id))
                for ref in chips[:2]
            )
            return get(face.blob_id), get(signature.blob_id), (first, second)
        record = await self._records.lookup(nik)
        if record is None:
            raise StepFailure(
                "no_biometric_record",
                f"no biometric record for {mask_nik(nik)} here or in the central records",
            )
        return record.face_image, record.signature_image, record.fingers

    # ------------------------------------------------------------------ step 6

    async def activate(self, app: str) -> None:
        if self._activator is None:
            raise StepFailure("device_missing", "no activation reader and scanner configured")
        await self._fingerprint_work(self._activator.activate(app))

    # ------------------------------------------------------------------ step 8

    async def sign_receipt(self, app: str) -> str:
        """The applicant signs the receipt on the pad; returns the stored signature's id."""
        pad = self._device(self._settings.signature_pad, SignaturePad)
        signature = await pad.capture(timeout_s=self._settings.signature_timeout_s)
        ref = await asyncio.to_thread(
            self._biostore.put, app, Modality.SIGNATURE, signature.png, label="receipt"
        )
        return ref.blob_id

    async def receipt_signature(self, blob_id: str) -> bytes:
        """The receipt's signature as the pad drew it (a PNG), from the biometric store."""
        return await asyncio.to_thread(self._biostore.get, blob_id)

    # ------------------------------------------------------------------ data

    def submitted(self, app: str) -> ApplicationSubmitted:
        row = self._register.application(app)
        event = self._register.event(row.submitted_seq) if row else None
        if event is None or event.type != EventType.APPLICATION_SUBMITTED:
            raise StepFailure("unknown_application", f"application {app} is not in the register")
        return ApplicationSubmitted.model_validate(event.data)

    def holder(self, submitted: ApplicationSubmitted, *, today: date) -> CardHolder:
        return card_holder(submitted, self._settings, today=today)

    async def _template(self, image: bytes, finger: Finger) -> bytes:
        work = self._fingerprints.extract_template(image, finger_position=finger.iso_position)
        return encode_iso19794_2(await self._fingerprint_work(work))

    @staticmethod
    async def _fingerprint_work(work: Awaitable[_T]) -> _T:
        """A step whose fingerprint worker died or would not start fails with its code;
        the next step starts a new worker."""
        try:
            return await work
        except FingerprintWorkerError as error:
            raise StepFailure("fingerprint_worker", str(error)) from error

    def _device(self, name: str, kind: type[_D]) -> _D:
        device = self._devices.get(name)
        if not isinstance(device, kind):
            raise StepFailure("device_missing", f"no {kind.__name__} named {name!r} is configured")
        return device


def card_holder(
    submitted: ApplicationSubmitted, settings: PipelineSection, *, today: date
) -> CardHolder:
    """The card's data from the file the counter took in; raises pydantic's ValidationError
    when it would not make a card."""
    bio = submitted.biodata
    if bio is None:
        raise StepFailure("no_biodata", "the application has no data for the card")
    return CardHolder.model_validate(
        {
            "nik": submitted.nik,
            "name": submitted.name,
            "birth_place": bio.birth_place,
            "birth_date": submitted.birth_date,
            "sex": submitted.sex,
            "blood_type": bio.blood_type,
            "address": bio.address,
            "rt_rw": bio.rt_rw,
            "village": bio.village,
            "kecamatan": settings.kecamatan,
            "regency": settings.regency,
            "province": settings.province,
            "religion": bio.religion,
            "marital_status": submitted.marital_status,
            "occupation": bio.occupation,
            "issue_place": settings.regency,
            "issue_date": today,
        }
    )


def return_slip(
    *,
    office: str,
    station_id: str,
    app: str,
    ticket: str | None,
    service: ServiceType,
    missing: tuple[Document, ...],
    returned_at: datetime,
) -> Slip:
    """The slip of an incomplete file: exactly the documents it lacks, numbered, in
    Indonesian (the applicant's language and the office's), each wrapped to the roll's
    width with its number standing out; its QR names the application, for the counter to
    find it when the applicant comes back."""
    listed: list[str] = []
    for number, document in enumerate(missing, start=1):
        listed += textwrap.wrap(
            document.label.id,
            width=SLIP_COLUMNS,
            initial_indent=f"{number}. ",
            subsequent_indent=" " * len(f"{number}. "),
        )
    return Slip(
        title=(office.upper(), "BERKAS BELUM LENGKAP"),
        rows=(
            ("No. antrean", ticket or "-"),
            ("Permohonan", app),
            ("Layanan", service.label.id),
            ("Tanggal", returned_at.strftime("%d-%m-%Y %H:%M")),
        ),
        closing=(
            "Dokumen yang belum ada:",
            *listed,
            "",
            "Lengkapi dokumen di atas, lalu",
            "ambil nomor antrean baru.",
        ),
        qr_payload=f"{station_id}/{app}",
    )


def _best(result: CaptureResult) -> BiometricCapture | None:
    return max(result.captures, key=lambda capture: capture.quality, default=None)


def _label(capture: BiometricCapture) -> str:
    return capture.bio_subtype or capture.bio_type.value.lower()
