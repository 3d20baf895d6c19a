"""The station's register: an append-only, hash-chained, Ed25519-signed event log in
SQLite, with the state derived from it kept in the same transactions."""

from ._canonical import NotCanonicalError, canonical_json, event_body
from ._errors import (
    InvalidEvent,
    KeyFileError,
    RegisterCorrupt,
    RegisterError,
    RegisterFull,
    RegisterLocked,
    RegisterMismatch,
    RegisterReadOnly,
)
from ._events import (
    CATALOGUE,
    GENESIS_HASH,
    Actor,
    ApplicationAdvanced,
    ApplicationCompleted,
    ApplicationReturned,
    ApplicationSubmitted,
    BlankIssued,
    BlankReceived,
    BlankSpoiled,
    Event,
    EventType,
    QueueCalled,
    QueueTicketIssued,
    RegisterCreated,
    SpoilReason,
)
from ._export import ExportFormat, export_csv, export_jsonl
from ._register import BlankStock, Register, Transaction, format_ts, read_events
from ._signing import PublicKey, StationKey
from ._sqlite import SCHEMA_VERSION
from ._verify import Defect, DefectKind, VerifyReport, verify_register

__all__ = [
    "CATALOGUE",
    "GENESIS_HASH",
    "SCHEMA_VERSION",
    "Actor",
    "ApplicationAdvanced",
    "ApplicationCompleted",
    "ApplicationReturned",
    "ApplicationSubmitted",
    "BlankIssued",
    "BlankReceived",
    "BlankSpoiled",
    "BlankStock",
    "Defect",
    "DefectKind",
    "Event",
    "EventType",
    "ExportFormat",
    "InvalidEvent",
    "KeyFileError",
    "NotCanonicalError",
    "PublicKey",
    "QueueCalled",
    "QueueTicketIssued",
    "Register",
    "RegisterCorrupt",
    "RegisterCreated",
    "RegisterError",
    "RegisterFull",
    "RegisterLocked",
    "RegisterMismatch",
    "RegisterReadOnly",
    "SpoilReason",
    "StationKey",
    "Transaction",
    "VerifyReport",
    "canonical_json",
    "event_body",
    "export_csv",
    "export_jsonl",
    "format_ts",
    "read_events",
    "verify_register",
]
