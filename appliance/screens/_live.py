"""The topics a screen listens to: which part of a page a register event changes.

A console's parts refresh on their topic (`hx-trigger="sse:queue"`); the board and the
kiosk have their own, public, feed (`_board`)."""

from __future__ import annotations

from typing import Final

from appliance.domain import EventType

QUEUE: Final = "queue"
APPLICATIONS: Final = "applications"
STOCK: Final = "stock"
DEVICES: Final = "devices"
"""Signalled by the station when a device's state changes (not a register event)."""
RECAP: Final = "recap"
"""The public feed's: a complaint recap was published (the board shows it)."""
BIOMETRICS: Final = "biometrics"
"""Signalled by the station when a biometric recording's progress changes."""

_TOPIC_OF: Final[dict[str, str]] = {
    **dict.fromkeys(
        (
            EventType.QUEUE_TICKET_ISSUED,
            EventType.QUEUE_CALLED,
            EventType.QUEUE_RECALLED,
            EventType.QUEUE_NO_SHOW,
        ),
        QUEUE,
    ),
    **dict.fromkeys(
        (EventType.BLANK_RECEIVED, EventType.BLANK_SPOILED, EventType.BLANK_ISSUED), STOCK
    ),
}


def officer_topic(event_type: str) -> str | None:
    """Every event about an application changes the consoles' lists."""
    return _TOPIC_OF.get(event_type, APPLICATIONS)
