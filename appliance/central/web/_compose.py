"""The dashboard's parts over one connection to the central database, composed in one
place: `appliance central` (`CentralOffice`), the tests' rigs and the benchmark alike."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._alert_store import AlertStore
from .._sessions import Sessions
from .._status import StatusTable
from .._users import Users
from ._context import DashboardContext
from ._render import Renderer

if TYPE_CHECKING:
    from argon2 import PasswordHasher

    from appliance.clock import Clock
    from appliance.reports import TargetsSection
    from appliance.sync import CollectorStore

    from .._commands import CommandSender
    from .._config import DashboardSection
    from .._database import Database
    from .._fleet import Fleet
    from ._live import LiveFeed


def compose_context(
    *,
    database: Database,
    settings: DashboardSection,
    clock: Clock,
    fleet: Fleet,
    live: LiveFeed,
    hasher: PasswordHasher | None = None,
    store: CollectorStore | None = None,
    targets: TargetsSection | None = None,
    commands: CommandSender | None = None,
) -> DashboardContext:
    """Users (their lockout from `settings`), sessions, the status rows and the alerts
    over `database`; `hasher` None is the dashboard's own (argon2id at its real cost)."""
    users = Users(
        database=database,
        clock=clock,
        max_failures=settings.max_failures,
        lockout=settings.lockout,
        hasher=hasher,
    )
    return DashboardContext(
        settings=settings,
        clock=clock,
        users=users,
        sessions=Sessions(database=database, clock=clock, idle=settings.session_idle),
        status=StatusTable(database),
        alerts=AlertStore(database=database),
        fleet=fleet,
        render=Renderer(),
        live=live,
        store=store,
        targets=targets,
        commands=commands,
    )
