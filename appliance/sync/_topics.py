"""The MQTT topics of the contract with the central office (ARCHITECTURE.md, "MQTT").

Every station's traffic lives under `ktpel/v1/{station_id}/`; the broker's ACL gives each
station that subtree and nothing else, so a topic names its sender. What the central office
publishes for other systems (its alerts) lives under `ktpel/central/`, which no station
may touch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

TOPIC_ROOT: Final = "ktpel/v1"
CENTRAL_TOPIC_ROOT: Final = "ktpel/central"
"""The central office's own topics (alerts for other systems); stations have no access."""


@dataclass(frozen=True, slots=True)
class StationTopics:
    """The topics of one station."""

    station: str

    @property
    def root(self) -> str:
        return f"{TOPIC_ROOT}/{self.station}"

    @property
    def state(self) -> str:
        return f"{self.root}/state"

    @property
    def register(self) -> str:
        return f"{self.root}/register"

    @property
    def telemetry(self) -> str:
        return f"{self.root}/telemetry"

    @property
    def ack(self) -> str:
        return f"{self.root}/ack"

    @property
    def doctor(self) -> str:
        """The station's answer to `cmd/doctor`: its check-up, with nothing personal."""
        return f"{self.root}/doctor"

    def device(self, name: str) -> str:
        return f"{self.root}/device/{name}"

    def command(self, name: str) -> str:
        return f"{self.root}/cmd/{name}"

    @property
    def commands(self) -> str:
        return f"{self.root}/cmd/+"


@dataclass(frozen=True, slots=True)
class ParsedTopic:
    station: str
    kind: str
    """state, register, telemetry, doctor, ack, device or cmd."""
    name: str | None = None
    """The device's or the command's name."""


def parse_topic(topic: str) -> ParsedTopic | None:
    """Split a contract topic; None for anything that is not one."""
    parts = topic.split("/")
    if len(parts) < 4 or "/".join(parts[:2]) != TOPIC_ROOT or not parts[2]:
        return None
    station, kind, rest = parts[2], parts[3], parts[4:]
    if kind in {"state", "register", "telemetry", "doctor", "ack"} and not rest:
        return ParsedTopic(station, kind)
    if kind in {"device", "cmd"} and len(rest) == 1 and rest[0]:
        return ParsedTopic(station, kind, rest[0])
    return None
