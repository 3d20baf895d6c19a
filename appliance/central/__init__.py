"""The central office: the collector of every station's register and health, and the
regency's dashboard over it (docs/central.md)."""

from ._commands import CommandError, CommandLog, CommandNotSent, CommandRecord, CommandSender
from ._config import CentralConfig, DashboardSection, load_central_config
from ._database import Database
from ._fleet import Fleet, FleetSection, FleetStation, load_fleet
from ._overview_text import overview_json, overview_rows, render_table
from ._run import CentralOffice, init_central_key, overview, run_central
from ._scope import DashboardRole, parse_scope, scope_label, within
from ._sessions import Session, Sessions
from ._status import StationStatus, StatusSummary, StatusTable
from ._status_keeper import StatusKeeper
from ._users import (
    DuplicateUser,
    InvalidUser,
    UnknownUser,
    User,
    UserError,
    Users,
    WeakPassword,
)

__all__ = [
    "CentralConfig",
    "CentralOffice",
    "CommandError",
    "CommandLog",
    "CommandNotSent",
    "CommandRecord",
    "CommandSender",
    "DashboardRole",
    "DashboardSection",
    "Database",
    "DuplicateUser",
    "Fleet",
    "FleetSection",
    "FleetStation",
    "InvalidUser",
    "Session",
    "Sessions",
    "StationStatus",
    "StatusKeeper",
    "StatusSummary",
    "StatusTable",
    "UnknownUser",
    "User",
    "UserError",
    "Users",
    "WeakPassword",
    "init_central_key",
    "load_central_config",
    "load_fleet",
    "overview",
    "overview_json",
    "overview_rows",
    "parse_scope",
    "render_table",
    "run_central",
    "scope_label",
    "within",
]
