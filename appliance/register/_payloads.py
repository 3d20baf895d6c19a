"""The payloads of the register's events: one pydantic model per event type, each field's
form checked before an event is sealed (the catalogue in `_events` names which model goes
with which type)."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from appliance.domain import (
    Document,
    MaritalStatus,
    Role,
    ServiceType,
    Sex,
    Step,
)

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
