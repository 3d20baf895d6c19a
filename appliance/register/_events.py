"""Register events: the sealed row, and the catalogue of event types with their payloads.

The catalogue is a contract with the central office: a type that is not in it cannot be
appended, and every payload is validated by its model before it is sealed, so a bad
value is refused before anything reaches the disk.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from types import MappingProxyType
from typing import Annotated, Any, Final, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    model_serializer,
    model_validator,
)

from appliance._text import Text
from appliance.domain import (
    Document,
    EventType,
    MaritalStatus,
    Role,
    ServiceType,
    Sex,
    Step,
)

from ._canonical import CANONICAL_ENCODER, event_body
from ._errors import InvalidEvent

GENESIS_HASH: Final = "0" * 64


@dataclass(frozen=True, slots=True)
class Event:
    """One sealed register event, exactly as stored and as shipped to the centre."""

    station: str
    seq: int
    ts: str
    mono_ns: int
    boot_id: str
    clock_synced: bool
    type: str
    app: str | None
    data_json: str
    prev_hash: str
    hash: str
    sig: str

    def body(self) -> bytes:
        return event_body(
            station=self.station,
            seq=self.seq,
            ts=self.ts,
            mono_ns=self.mono_ns,
            boot_id=self.boot_id,
            clock_synced=self.clock_synced,
            type=self.type,
            app=self.app,
            data_json=self.data_json,
            prev_hash=self.prev_hash,
        )

    @property
    def data(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.data_json)
        return value

    def to_wire(self) -> dict[str, Any]:
        """The event as one JSON object: the `register` topic's and the export's form."""
        return {
            "station": self.station,
            "seq": self.seq,
            "ts": self.ts,
            "mono_ns": self.mono_ns,
            "boot_id": self.boot_id,
            "clock_synced": self.clock_synced,
            "type": self.type,
            "app": self.app,
            "data": self.data,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
            "sig": self.sig,
        }


# The register records what was accepted under the rules of its day, and re-reads it under
# every later version of them (verify, a migration's replay): so it checks the numbers'
# form only. Whether a NIK or KK is acceptable (its region, date, serial) is decided at
# intake, where the form's NikField and KkField refuse it with the part that is wrong.
Nik = Annotated[str, Field(pattern=r"^[0-9]{16}$")]
Kk = Annotated[str, Field(pattern=r"^[0-9]{16}$")]
ShortText = Annotated[str, Field(min_length=1, max_length=200)]


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class Actor(_Payload):
    """Who did it: every officer's action carries this."""

    role: Role
    person: ShortText


class RegisterCreated(_Payload):
    station_id: ShortText
    public_key: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    software_version: ShortText


class Biodata(_Payload):
    """What the card says beyond the form's identity fields, as the Family Card (KK) has it."""

    birth_place: ShortText
    address: ShortText
    rt_rw: Annotated[str, Field(pattern=r"^[0-9]{3}/[0-9]{3}$")]
    village: ShortText
    religion: ShortText
    occupation: ShortText
    blood_type: Annotated[str, Field(pattern=r"^(A|B|AB|O|-)$")] = "-"


class ApplicationSubmitted(_Payload):
    service: ServiceType
    nik: Nik
    kk: Kk
    name: ShortText
    birth_date: date
    sex: Sex
    marital_status: MaritalStatus
    documents: tuple[Document, ...] = ()
    ticket: ShortText | None = None
    ticket_day: date | None = None
    """With `ticket`: the queue day of the ticket, which the submission serves."""
    biodata: Biodata | None = None
    by: Actor | None = None


class ApplicationAdvanced(_Payload):
    """The application enters `step` and waits there for its people and devices."""

    step: Step
    by: Actor | None = None


Milliseconds = Annotated[int, Field(ge=0)]
DeviceList = tuple[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")], ...]


class StepStarted(_Payload):
    """The step's person and devices are given to the application until it ends."""

    step: Step
    by: Actor | None = None
    devices: DeviceList = ()


class StepFinished(_Payload):
    step: Step
    duration_ms: Milliseconds
    by: Actor | None = None


class StepFailed(_Payload):
    """A device step that did not finish (its budget ran out, a device failed, the
    station restarted under it): its devices are left safe and it can start again."""

    step: Step
    code: ShortText
    detail: Annotated[str, Field(max_length=500)] = ""
    duration_ms: Milliseconds = 0
    by: Actor | None = None


class StepSkipped(_Payload):
    step: Step
    reason: ShortText


class StepBreached(_Payload):
    """A person's step ran past its budget: escalated to the section head, not aborted."""

    step: Step
    budget_ms: Milliseconds
    by: Actor | None = None


class MissingReason(StrEnum):
    """Why a finger or an eye could not be recorded, as the operator declared it."""

    AMPUTASI = "amputasi"
    """Amputated, or never there."""
    CACAT_PERMANEN = "cacat_permanen"
    """A permanent disability: a scarred finger, a blind or artificial eye."""
    PERBAN = "perban"
    """Bandaged or injured today."""


class MissingBiometric(_Payload):
    """A finger (its ISO/IEC 19794-2 position) or an eye not recorded, and why: an
    exception the operator declared when the recording began."""

    finger: Annotated[int, Field(ge=1, le=10)] | None = None
    eye: Literal["left", "right"] | None = None
    reason: MissingReason

    @model_validator(mode="after")
    def _one_part(self) -> MissingBiometric:
        if (self.finger is None) == (self.eye is None):
            raise ValueError("name one finger or one eye")
        return self


class BiometricsRecorded(_Payload):
    """Captured and stored encrypted on the station; the images never enter the register."""

    modalities: tuple[ShortText, ...]
    chip_fingers: tuple[Annotated[int, Field(ge=1, le=10)], Annotated[int, Field(ge=1, le=10)]]
    exceptions: tuple[MissingBiometric, ...] = Field(default=(), max_length=12)
    """What was declared missing, with the reason."""

    @model_serializer(mode="wrap")
    def _exceptions_only_if_any(self, dump: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Stored without the field when nothing was missing: most recordings read exactly
        # as those from before it did, for the central office as for an export.
        data: dict[str, Any] = dump(self)
        if not self.exceptions:
            data.pop("exceptions", None)
        return data


class BiometricsPurged(_Payload):
    """The retention policy destroyed captures whose cards were activated long enough
    ago: counts only, never whose."""

    applications: Annotated[int, Field(ge=0, le=1_000_000)]
    blobs: Annotated[int, Field(ge=0, le=100_000_000)]
    retention_days: Annotated[int, Field(ge=0, le=3650)]


class RegionConfirmed(_Payload):
    """The section head confirmed a NIK's region code that the official list does not have
    (a region newly split, say): the applicant is not refused for the list's gap."""

    code: Annotated[str, Field(pattern=r"^[0-9]{6}$")]
    by: Actor | None = None


class ActivationDecision(StrEnum):
    """What the section head decides when a card's activation was refused."""

    RETRY = "retry"
    """Activate the same card again."""
    REPRINT = "reprint"
    """Spoil the card and print a new one."""
    RETURN = "return"
    """Spoil the card and return the file to the applicant, with the reason."""


class ActivationDecided(_Payload):
    """The section head's decision on a refused activation (`refusal`: the failure's code,
    a finger that did not match or a card that was not the applicant's)."""

    decision: ActivationDecision
    refusal: ShortText
    reason: Annotated[str, Field(max_length=200)] = ""
    card_serial: ShortText | None = None
    by: Actor | None = None


class ApplicationOverdue(_Payload):
    """The service promise (one working day) has passed without the card handed over."""

    due: ShortText


class ApplicationReturned(_Payload):
    step: Step
    reason: ShortText
    missing_documents: tuple[Document, ...] = ()
    by: Actor | None = None


class ApplicationCompleted(_Payload):
    by: Actor | None = None
    receipt: ShortText | None = None
    """The biometric store's id of the receipt the applicant signed on the pad."""


class QueueTicketIssued(_Payload):
    day: date
    ticket: ShortText
    service: ServiceType
    number: Annotated[int, Field(ge=1, le=9999)]
    by: Actor | None = None
    """The officer who handed the ticket out; None for the kiosk's (and in tickets
    recorded before the issuer was)."""
    kiosk: bool = False
    """Taken by a citizen at the station's ticket kiosk (the workflow's `Agent.KIOSK`):
    no officer was involved, and it was printed before it was recorded."""

    @model_validator(mode="after")
    def _one_issuer(self) -> QueueTicketIssued:
        if self.kiosk and self.by is not None:
            raise ValueError("a ticket from the kiosk has no officer")
        return self


class QueueCalled(_Payload):
    day: date
    ticket: ShortText
    counter: ShortText
    waited_ms: Milliseconds | None = None
    """From the ticket's issue to this call."""
    by: Actor | None = None


class QueueRecalled(_Payload):
    day: date
    ticket: ShortText
    counter: ShortText
    by: Actor | None = None


class QueueNoShow(_Payload):
    """Called, and nobody came to the counter within the configured time."""

    day: date
    ticket: ShortText
    by: Actor | None = None


class BlankReceived(_Payload):
    count: Annotated[int, Field(ge=1, le=2_000)]  # one delivery: a busy office's 2 months
    reference: ShortText
    by: Actor | None = None


FingerPosition = Annotated[int, Field(ge=1, le=10)]  # ISO/IEC 19794-2 finger codes
Sha256Hex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class BlankFed(_Payload):
    """Recorded before the printer is told to feed: a crash after it leaves a card the
    station knows to look for, never a card nobody counted."""

    printer: ShortText


class BlankFeedFailed(_Payload):
    """The printer took no card after all (its hopper was empty): the blank stays in stock."""

    detail: Annotated[str, Field(max_length=500)] = ""


class CardPersonalised(_Payload):
    card_serial: ShortText
    security_object_sha256: Sha256Hex
    chip_fingers: tuple[FingerPosition, FingerPosition]


class CardPrinted(_Payload):
    card_serial: ShortText


class CardActivationAttempt(_Payload):
    card_serial: ShortText
    finger: FingerPosition
    attempt: Annotated[int, Field(ge=1, le=100)]
    score: Annotated[int, Field(ge=0)]  # the matcher's score x 1000
    threshold: Annotated[int, Field(ge=0)]  # likewise
    matched: bool


class BlankIssued(_Payload):
    """The card is active in its holder's hands: the blank is used for good."""

    card_serial: ShortText


class SuratKeteranganIssued(_Payload):
    """No blank card: the applicant leaves with a printed certificate and the application
    waits, recorded but not printed, until a blank arrives."""

    number: ShortText
    by: Actor | None = None


class SpoilReason(StrEnum):
    ENCODE_FAILURE = "encode_failure"
    PRINT_FAILURE = "print_failure"
    JAM = "jam"
    VERIFICATION_FAILURE = "verification_failure"
    INTERRUPTED = "interrupted"
    ACTIVATION_REFUSED = "activation_refused"
    """Put aside by the section head's decision after its activation was refused."""


class BlankSpoiled(_Payload):
    reason: SpoilReason
    detail: Annotated[str, Field(max_length=500)] = ""
    card_serial: ShortText | None = None
    by: Actor | None = None
    """The officer who spoiled it; none when the station's own work did."""


@dataclass(frozen=True, slots=True)
class EventSpec:
    payload: type[_Payload]
    needs_application: bool
    description: Text


CATALOGUE: Final = MappingProxyType(
    {
        EventType.REGISTER_CREATED: EventSpec(
            RegisterCreated,
            needs_application=False,
            description=Text("Register dibuat", "Register created"),
        ),
        EventType.APPLICATION_SUBMITTED: EventSpec(
            ApplicationSubmitted,
            needs_application=True,
            description=Text("Berkas permohonan diserahkan", "Application file handed in"),
        ),
        EventType.APPLICATION_ADVANCED: EventSpec(
            ApplicationAdvanced,
            needs_application=True,
            description=Text(
                "Permohonan masuk tahap berikutnya", "Application moved to the next step"
            ),
        ),
        EventType.APPLICATION_RETURNED: EventSpec(
            ApplicationReturned,
            needs_application=True,
            description=Text(
                "Berkas dikembalikan kepada pemohon", "File returned to the applicant"
            ),
        ),
        EventType.APPLICATION_COMPLETED: EventSpec(
            ApplicationCompleted,
            needs_application=True,
            description=Text("KTP-el diserahkan kepada pemohon", "KTP-el handed to the applicant"),
        ),
        EventType.QUEUE_TICKET_ISSUED: EventSpec(
            QueueTicketIssued,
            needs_application=False,
            description=Text("Nomor antrian diambil", "Queue ticket taken"),
        ),
        EventType.QUEUE_CALLED: EventSpec(
            QueueCalled,
            needs_application=False,
            description=Text("Nomor antrian dipanggil", "Queue ticket called"),
        ),
        EventType.QUEUE_RECALLED: EventSpec(
            QueueRecalled,
            needs_application=False,
            description=Text("Nomor antrian dipanggil ulang", "Queue ticket called again"),
        ),
        EventType.QUEUE_NO_SHOW: EventSpec(
            QueueNoShow,
            needs_application=False,
            description=Text(
                "Nomor antrian tidak hadir saat dipanggil", "Queue ticket called, nobody came"
            ),
        ),
        EventType.STEP_STARTED: EventSpec(
            StepStarted,
            needs_application=True,
            description=Text("Langkah SOP dimulai", "SOP step started"),
        ),
        EventType.STEP_FINISHED: EventSpec(
            StepFinished,
            needs_application=True,
            description=Text("Langkah SOP selesai", "SOP step finished"),
        ),
        EventType.STEP_FAILED: EventSpec(
            StepFailed,
            needs_application=True,
            description=Text(
                "Langkah SOP gagal, dapat diulang", "SOP step failed, can be started again"
            ),
        ),
        EventType.STEP_SKIPPED: EventSpec(
            StepSkipped,
            needs_application=True,
            description=Text("Langkah SOP dilewati", "SOP step skipped"),
        ),
        EventType.STEP_BREACHED: EventSpec(
            StepBreached,
            needs_application=True,
            description=Text(
                "Langkah SOP melewati batas waktu (eskalasi)",
                "SOP step over its time budget (escalated)",
            ),
        ),
        EventType.BIOMETRICS_RECORDED: EventSpec(
            BiometricsRecorded,
            needs_application=True,
            description=Text("Perekaman biometrik selesai", "Biometrics recorded"),
        ),
        EventType.BIOMETRICS_PURGED: EventSpec(
            BiometricsPurged,
            needs_application=False,
            description=Text(
                "Data biometrik dimusnahkan sesuai masa simpan",
                "Biometric data destroyed by the retention policy",
            ),
        ),
        EventType.REGION_CONFIRMED: EventSpec(
            RegionConfirmed,
            needs_application=True,
            description=Text(
                "Kode wilayah yang belum terdaftar dikonfirmasi Kasi Yanmum",
                "A region code missing from the list confirmed by the section head",
            ),
        ),
        EventType.ACTIVATION_DECIDED: EventSpec(
            ActivationDecided,
            needs_application=True,
            description=Text(
                "Keputusan Kasi Yanmum atas aktivasi KTP-el yang ditolak",
                "The section head's decision on a refused card activation",
            ),
        ),
        EventType.APPLICATION_OVERDUE: EventSpec(
            ApplicationOverdue,
            needs_application=True,
            description=Text(
                "Janji layanan satu hari kerja terlewati",
                "The one-working-day service promise has passed",
            ),
        ),
        EventType.BLANK_RECEIVED: EventSpec(
            BlankReceived,
            needs_application=False,
            description=Text("Blangko KTP-el diterima", "Blank cards received"),
        ),
        EventType.BLANK_FED: EventSpec(
            BlankFed,
            needs_application=True,
            description=Text(
                "Blangko KTP-el diambil printer kartu", "Blank card fed into the card printer"
            ),
        ),
        EventType.BLANK_FEED_FAILED: EventSpec(
            BlankFeedFailed,
            needs_application=True,
            description=Text(
                "Printer kartu tidak mengambil blangko", "The card printer took no blank"
            ),
        ),
        EventType.BLANK_ISSUED: EventSpec(
            BlankIssued,
            needs_application=True,
            description=Text(
                "Blangko KTP-el terpakai (kartu aktif diserahkan)",
                "Blank card issued (active card handed over)",
            ),
        ),
        EventType.BLANK_SPOILED: EventSpec(
            BlankSpoiled,
            needs_application=False,
            description=Text("Blangko KTP-el rusak", "Blank card spoiled"),
        ),
        EventType.CARD_PERSONALISED: EventSpec(
            CardPersonalised,
            needs_application=True,
            description=Text(
                "Chip KTP-el diisi dan diperiksa ulang", "Card chip written and read back"
            ),
        ),
        EventType.CARD_PRINTED: EventSpec(
            CardPrinted,
            needs_application=True,
            description=Text("KTP-el dicetak", "Card printed"),
        ),
        EventType.CARD_ACTIVATION_ATTEMPT: EventSpec(
            CardActivationAttempt,
            needs_application=True,
            description=Text(
                "Percobaan aktivasi dengan sidik jari", "Fingerprint activation attempt"
            ),
        ),
        EventType.SURAT_KETERANGAN_ISSUED: EventSpec(
            SuratKeteranganIssued,
            needs_application=True,
            description=Text(
                "Surat Keterangan diterbitkan (sudah direkam, belum dicetak)",
                "Surat Keterangan issued (recorded, not printed)",
            ),
        ),
    }
)


@dataclass(frozen=True, slots=True)
class ValidatedPayload:
    type: EventType
    model: _Payload


def validate_payload(
    event_type: str, data: BaseModel | dict[str, Any], application_id: str | None
) -> ValidatedPayload:
    """Check an event before it is sealed; raises InvalidEvent with the reason."""
    try:
        kind = EventType(event_type)
    except ValueError:
        raise InvalidEvent(f"unknown event type {event_type!r}") from None
    spec = CATALOGUE[kind]
    if spec.needs_application and not application_id:
        raise InvalidEvent(f"{kind}: an application id is required")
    if isinstance(data, spec.payload):
        model = data
    elif isinstance(data, BaseModel):
        raise InvalidEvent(f"{kind}: payload must be {spec.payload.__name__}")
    else:
        try:
            model = spec.payload.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, err['loc'])) or 'data'}: {err['msg']}" for err in exc.errors()
            )
            raise InvalidEvent(f"{kind}: {problems}") from None
    return ValidatedPayload(kind, model)


def canonical_data(payload: ValidatedPayload) -> str:
    """The payload as the register stores and hashes it.

    The catalogue's models have no float fields (a test walks them), so the model's
    JSON dump needs only the canonical encoder, not canonical_json's float check.
    """
    return CANONICAL_ENCODER.encode(payload.model.model_dump(mode="json"))
