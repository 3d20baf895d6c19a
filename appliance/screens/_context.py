"""The parts of the station the screens use, set once on the app by `mount_screens`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import Request

from appliance._text import Language
from appliance.api import ApiContext
from appliance.oversight import Period
from appliance.staff import Sessions

from ._settings import ScreensSection

if TYPE_CHECKING:
    from ._render import Renderer


@dataclass(frozen=True, slots=True, kw_only=True)
class ScreenContext:
    station: ApiContext
    """The pipeline, staff, live events, devices and status, as the JSON API has them."""
    sessions: Sessions
    """The consoles' sessions: their own idle limit, separate from the API's tokens."""
    settings: ScreensSection
    office: str
    """The office's name, as the board and the tickets show it."""
    render: Renderer
    performance: Callable[[Period, Language], str] | None = None
    """A period's performance report as one HTML page (`appliance.reports`), from the
    station's register and targets; None when the station was composed without it."""


def screen_context(request: Request) -> ScreenContext:
    context: ScreenContext = request.app.state.screens
    return context
