"""The MQTT uplink of the register and telemetry, and the central collector."""

from ._check import CheckedMessage, Rejection, check_message
from ._collector import Collector
from ._keys import StationKeys
from ._mqtt import LinkDown
from ._progress import UplinkProgress, load_progress
from ._settings import BrokerSection, CollectorSection, UplinkSection
from ._signed import CentralMessage, RejectedMessage, open_message, sign_message
from ._store import (
    ChainBreak,
    CollectorStore,
    Conflict,
    Flag,
    IngestOutcome,
    StationOverview,
    StoreError,
    open_store,
)
from ._topics import TOPIC_ROOT, StationTopics, parse_topic
from ._uplink import Uplink, UplinkStatus
from ._wire import MalformedMessage, decode_events, encode_event, encode_events

__all__ = [
    "TOPIC_ROOT",
    "BrokerSection",
    "CentralMessage",
    "ChainBreak",
    "CheckedMessage",
    "Collector",
    "CollectorSection",
    "CollectorStore",
    "Conflict",
    "Flag",
    "IngestOutcome",
    "LinkDown",
    "MalformedMessage",
    "RejectedMessage",
    "Rejection",
    "StationKeys",
    "StationOverview",
    "StationTopics",
    "StoreError",
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
    "open_store",
    "parse_topic",
    "sign_message",
]
