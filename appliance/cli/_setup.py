"""Setting a station up: `config check` (is this config file valid?) and `keys init` (the
station's signing key and the biometric master key)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from appliance._text import Text
from appliance.config import load_config
from appliance.keys import init_keys

from ._core import EXIT_OK, load_configured, with_config


def add_config_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    config = commands.add_parser("config", help="the configuration file")
    config_commands = config.add_subparsers(dest="config_command", required=True)
    check = config_commands.add_parser("check", help="validate a config file")
    check.add_argument("file")
    check.set_defaults(handler=_config_check)


def add_keys_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = commands.add_parser("keys", help="the station's keys")
    keys_commands = keys.add_subparsers(dest="keys_command", required=True)
    init = keys_commands.add_parser(
        "init", help="create the station signing key and the biometric master key"
    )
    with_config(init)
    init.set_defaults(handler=_keys_init)


def _config_check(args: argparse.Namespace, out: TextIO) -> int:
    file = Path(args.file)
    config = load_config(file)
    text = Text(
        "{file}: konfigurasi sah (stasiun {station}, direktori data {state})",
        "{file}: configuration is valid (station {station}, state directory {state})",
    ).format(file=file, station=config.station.id, state=config.state_dir)
    print(text.in_language(args.lang), file=out)
    return EXIT_OK


def _keys_init(args: argparse.Namespace, out: TextIO) -> int:
    config = load_configured(args)
    created = init_keys(config)
    for line in created:
        print(line.in_language(args.lang), file=out)
    return EXIT_OK
