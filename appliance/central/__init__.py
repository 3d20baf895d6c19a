"""The central office: the collector of every station's register and health, and the
regency's dashboard over it (docs/central.md)."""

from ._commands import CommandError, CommandLog, CommandNotSent, CommandRecord, CommandSender
from ._config import CentralConfig, DashboardSection, load_central_config
from ._database import Database
from ._overview_text import overview_json, overview_rows, render_table
from ._run import CentralOffice, init_central_key, overview, run_central
from ._scope import DashboardRole, parse_scope, scope_label, within
from ._sessions import Session, Sessions
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
    "InvalidUser",
    "Session",
    "Sessions",
    "UnknownUser",
    "User",
    "UserError",
    "Users",
    "WeakPassword",
    "init_central_key",
    "load_central_config",
    "overview",
    "overview_json",
    "overview_rows",
    "parse_scope",
    "render_table",
    "run_central",
    "scope_label",
    "within",
]
