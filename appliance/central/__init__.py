"""The central office: the collector of every station's register and health, and the
regency's dashboard over it (docs/central.md)."""

from ._commands import CommandError, CommandLog, CommandNotSent, CommandRecord, CommandSender
from ._config import CentralConfig, load_central_config
from ._overview_text import overview_json, overview_rows, render_table
from ._run import init_central_key, overview, run_collector

__all__ = [
    "CentralConfig",
    "CommandError",
    "CommandLog",
    "CommandNotSent",
    "CommandRecord",
    "CommandSender",
    "init_central_key",
    "load_central_config",
    "overview",
    "overview_json",
    "overview_rows",
    "render_table",
    "run_collector",
]
