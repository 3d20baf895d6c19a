"""What the dashboard's routes read and act on, set once on the app by `create_dashboard`
(`app.state.dashboard`); a route takes it with the `Context` dependency."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from appliance.clock import Clock

if TYPE_CHECKING:
    from appliance.reports import TargetsSection
    from appliance.sync import CollectorStore

    from .._alert_store import AlertStore
    from .._commands import CommandSender
    from .._config import DashboardSection
    from .._fleet import Fleet
    from .._sessions import Sessions
    from .._status import StatusTable
    from .._users import Users
    from ._live import LiveFeed
    from ._render import Renderer


@dataclass(frozen=True, slots=True, kw_only=True)
class DashboardContext:
    settings: DashboardSection
    clock: Clock
    users: Users
    sessions: Sessions
    status: StatusTable
    """The stations' status rows (the overview reads only these)."""
    alerts: AlertStore
    fleet: Fleet
    render: Renderer
    live: LiveFeed
    store: CollectorStore | None = None
    """The collector's store, for a station's page (its history, its reports)."""
    targets: TargetsSection | None = None
    commands: CommandSender | None = None
    """The command sender, None when not composed (nothing can be sent)."""


def dashboard_context(request: Request) -> DashboardContext:
    context: DashboardContext = request.app.state.dashboard
    return context


Context = Annotated[DashboardContext, Depends(dashboard_context)]
