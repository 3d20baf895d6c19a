"""What the rest of the station sees of the uplink (`Uplink.status()`): whether it is
connected, how far the register has gone (handed to the broker, confirmed by it,
acknowledged by the centre), the backlog and the last error. It is the `uplink` part of
the telemetry and of `appliance status`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class UplinkStatus:
    connected: bool
    acked: int
    head: int
    sent: int
    """The last seq handed to the broker connection."""
    published: int
    """The last seq the broker confirmed (PUBACK)."""
    oldest_unacked_ts: str | None
    reconnects: int
    last_error: str | None
    last_ack_at: str | None = None
    """When the centre last acknowledged new events (since this process started)."""

    @property
    def backlog(self) -> int:
        return max(0, self.head - self.acked)

    def to_json(self) -> dict[str, Any]:
        return {
            "connected": self.connected,
            "acked": self.acked,
            "sent": self.sent,
            "published": self.published,
            "head": self.head,
            "backlog": self.backlog,
            "oldest_unacked_ts": self.oldest_unacked_ts,
            "reconnects": self.reconnects,
            "last_error": self.last_error,
            "last_ack_at": self.last_ack_at,
        }
