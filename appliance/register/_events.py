"""Register events: the sealed row, and the catalogue of event types with their payload
models (`_payloads`).

The catalogue is a contract with the central office: a type that is not in it cannot be
appended, and every payload is validated by its model before it is sealed, so a bad
value is refused before anything reaches the disk.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from pydantic import BaseModel, ValidationError

from appliance._text import Text
from appliance.domain import EventType

from ._canonical import CANONICAL_ENCODER, event_body
from ._errors import InvalidEvent
from ._payloads import (
    ActivationDecided,
    ApplicationAdvanced,
    ApplicationCompleted,
    ApplicationOverdue,
    ApplicationReturned,
    ApplicationSubmitted,
    BiometricsPurged,
    BiometricsRecorded,
    BlankFed,
    BlankFeedFailed,
    BlankIssued,
    BlankReceived,
    BlankSpoiled,
    CardActivationAttempt,
    CardPersonalised,
    CardPrinted,
    QueueCalled,
    QueueNoShow,
    QueueRecalled,
    QueueTicketIssued,
    RegionConfirmed,
    RegisterCreated,
    StepBreached,
    StepFailed,
    StepFinished,
    StepSkipped,
    StepStarted,
    SuratKeteranganIssued,
    _Payload,
)
from ._payloads_oversight import (
    ComplaintClosed,
    ComplaintEscalated,
    ComplaintFollowedUp,
    ComplaintReceived,
    ComplaintVerified,
    RecapApproved,
    RecapDrafted,
    RecapPublished,
    SurveyKeypadPressed,
    SurveyQuestionnaireAnswered,
)

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
        EventType.SURVEY_KEYPAD_PRESSED: EventSpec(
            SurveyKeypadPressed,
            needs_application=False,
            description=Text("Tombol kepuasan ditekan", "Satisfaction keypad pressed"),
        ),
        EventType.SURVEY_QUESTIONNAIRE_ANSWERED: EventSpec(
            SurveyQuestionnaireAnswered,
            needs_application=False,
            description=Text("Kuesioner SKM diisi", "Satisfaction questionnaire answered"),
        ),
        EventType.COMPLAINT_RECEIVED: EventSpec(
            ComplaintReceived,
            needs_application=False,
            description=Text("Pengaduan dicatat", "Complaint recorded"),
        ),
        EventType.COMPLAINT_VERIFIED: EventSpec(
            ComplaintVerified,
            needs_application=False,
            description=Text("Pengaduan diverifikasi", "Complaint verified"),
        ),
        EventType.COMPLAINT_FOLLOWED_UP: EventSpec(
            ComplaintFollowedUp,
            needs_application=False,
            description=Text("Pengaduan ditindaklanjuti", "Complaint followed up"),
        ),
        EventType.COMPLAINT_CLOSED: EventSpec(
            ComplaintClosed,
            needs_application=False,
            description=Text("Pengaduan selesai", "Complaint closed"),
        ),
        EventType.COMPLAINT_ESCALATED: EventSpec(
            ComplaintEscalated,
            needs_application=False,
            description=Text(
                "Pengaduan melewati batas waktu (eskalasi ke Kasi)",
                "Complaint past its deadline (escalated to the section head)",
            ),
        ),
        EventType.RECAP_DRAFTED: EventSpec(
            RecapDrafted,
            needs_application=False,
            description=Text(
                "Rekap pengaduan triwulan disusun", "Quarterly complaint recap drafted"
            ),
        ),
        EventType.RECAP_APPROVED: EventSpec(
            RecapApproved,
            needs_application=False,
            description=Text("Rekap pengaduan disetujui Camat", "Complaint recap approved"),
        ),
        EventType.RECAP_PUBLISHED: EventSpec(
            RecapPublished,
            needs_application=False,
            description=Text(
                "Rekap pengaduan diumumkan di papan pengumuman",
                "Complaint recap published on the board",
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
