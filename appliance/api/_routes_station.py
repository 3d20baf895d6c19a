"""The station itself: whether it answers, its report for monitoring, its devices."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from appliance._version import __version__

from ._deps import Context, Me
from ._models import Health

router = APIRouter(tags=["station"])


@router.get("/health")
async def health(context: Context) -> Health:
    return Health(status="ok", version=__version__, station=context.station_id)


@router.get("/status")
async def station_status(context: Context) -> dict[str, Any]:
    """The station's state for `appliance status` and monitoring: devices, today's queue
    and steps, blank stock, uplink, disk, clock. Counts and states only, nothing about a
    person, so no login is asked."""
    return context.status()


@router.get("/devices")
async def device_status(_me: Me, context: Context) -> dict[str, dict[str, Any]]:
    return context.devices()
