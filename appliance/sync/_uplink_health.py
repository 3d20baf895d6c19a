"""What the uplink says of the station's health besides the register: its telemetry and
each device's status, as the messages to publish."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncGenerator, Mapping
from typing import Any, Protocol

from appliance.clock import Clock

from ._topics import StationTopics
from ._uplink_status import UplinkStatus


class DeviceFeed(Protocol):
    """What the uplink needs of the device supervisor."""

    def snapshot(self) -> dict[str, dict[str, Any]]: ...

    def subscribe(self) -> AsyncGenerator[Any, None]: ...


def telemetry_payload(figures: Mapping[str, Any], uplink: UplinkStatus, clock: Clock) -> bytes:
    """The station's figures with the uplink's own and the clock's."""
    document = dict(figures)
    document["uplink"] = uplink.to_json()
    document["clock_synced"] = clock.synchronised()
    document["wall_ns"] = clock.wall_ns()
    return json.dumps(document).encode()


async def device_messages(
    devices: DeviceFeed, topics: StationTopics
) -> AsyncGenerator[tuple[str, bytes], None]:
    """Every device's status now, then each change: (topic, payload), to retain."""
    # Subscribed before the snapshot, so no change falls between the two.
    async with contextlib.aclosing(devices.subscribe()) as changes:
        for name, status in devices.snapshot().items():
            yield topics.device(name), _json(status)
        async for change in changes:
            yield topics.device(change.device), _json(change.to_json())


def _json(value: Mapping[str, Any]) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()
