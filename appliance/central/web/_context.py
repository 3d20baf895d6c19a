"""What the dashboard's routes read and act on, set once on the app by `create_dashboard`
(`app.state.dashboard`); a route takes it with the `Context` dependency."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Protocol

from fastapi import Depends, Request

from appliance.clock import Clock

if TYPE_CHECKING:
    from appliance.reports import TargetsSection
    from appliance.sync import CollectorStore

    from .._alert_store import AlertStore
    from .._config import DashboardSection
    from .._fleet import Fleet
    from .._sessions import Sessions
    from .._users import Users
    from ._live import LiveFeed
    from ._overview_view import StatusRow
    from ._render import Renderer


class StatusReader(Protocol):
    """What the dashboard reads of the status table (`_status.StatusTable`)."""

    def rows(self, scope: str = "") -> Sequence[StatusRow]: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class DashboardContext:
    settings: DashboardSection
    clock: Clock
    users: Users
    sessions: Sessions
    status: StatusReader
    """The stations' status rows (the overview reads only these)."""
    alerts: AlertStore
    fleet: Fleet
    render: Renderer
    live: LiveFeed
    store: CollectorStore | None = None
    """The collector's store, for a station's page (its history, its reports)."""
    targets: TargetsSection | None = None
    commands: Any = None
    """The command sender (`_commands.CommandSender`), None when not composed."""


def dashboard_context(request: Request) -> DashboardContext:
    context: DashboardContext = request.app.state.dashboard
    return context


Context = Annotated[DashboardContext, Depends(dashboard_context)]
