"""The MQTT uplink of the register and telemetry, and the central collector."""

from ._check import CheckedMessage, Rejection, check_message
from ._collector import Collector
from ._collector_stats import CollectorStats, LatencyHistogram
from ._errors import LinkDown, MalformedMessage, RejectedMessage, StoreError, SyncError
from ._keys import StationKeys
from ._progress import UplinkProgress, load_progress
from ._settings import BrokerSection, CollectorSection, UplinkSection
from ._signed import (
    CentralMessage,
    StationState,
    open_message,
    open_state,
    sign_message,
    sign_state,
)
from ._store import (
    FORGERY_FLAG_KINDS,
    ChainBreak,
    CollectorStore,
    Conflict,
    DeviceChange,
    DoctorReport,
    Flag,
    IngestOutcome,
    StateChange,
    StationOverview,
    open_store,
)
from ._topics import CENTRAL_TOPIC_ROOT, TOPIC_ROOT, StationTopics, parse_topic
from ._uplink import Uplink
from ._uplink_status import UplinkStatus
from ._wire import decode_events, encode_event, encode_events

__all__ = [
    "CENTRAL_TOPIC_ROOT",
    "FORGERY_FLAG_KINDS",
    "TOPIC_ROOT",
    "BrokerSection",
    "CentralMessage",
    "ChainBreak",
    "CheckedMessage",
    "Collector",
    "CollectorSection",
    "CollectorStats",
    "CollectorStore",
    "Conflict",
    "DeviceChange",
    "DoctorReport",
    "Flag",
    "IngestOutcome",
    "LatencyHistogram",
    "LinkDown",
    "MalformedMessage",
    "RejectedMessage",
    "Rejection",
    "StateChange",
    "StationKeys",
    "StationOverview",
    "StationState",
    "StationTopics",
    "StoreError",
    "SyncError",
    "Uplink",
    "UplinkProgress",
    "UplinkSection",
    "UplinkStatus",
    "check_message",
    "decode_events",
    "encode_event",
    "encode_events",
    "load_progress",
    "open_message",
    "open_state",
    "open_store",
    "parse_topic",
    "sign_message",
    "sign_state",
]
