"""`central`: the central office's collector (every station's register, checked and
stored), its overview of the stations, and its signing key."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import TextIO

from appliance._text import Text
from appliance.logs import configure_logging
from appliance.sync import StoreError

from ._core import EXIT_OK, CommandFailed, with_config


def add_central_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    central = commands.add_parser(
        "central",
        help="the central office's collector: every station's register, checked and stored",
    )
    with_config(central)
    mode = central.add_mutually_exclusive_group()
    mode.add_argument(
        "--overview", action="store_true", help="print each station's figures and exit"
    )
    mode.add_argument(
        "--init-key", action="store_true", help="create the central office's signing key"
    )
    central.add_argument("--json", action="store_true", help="the overview as JSON")
    central.set_defaults(handler=_central)


def _central(args: argparse.Namespace, out: TextIO) -> int:
    from appliance import central  # noqa: PLC0415 - only the central office needs it

    config = central.load_central_config(Path(args.config))
    configure_logging(level=config.logging.level, format=config.logging.format)
    if args.init_key:
        for line in central.init_central_key(config):
            print(line.in_language(args.lang), file=out)
    elif args.overview:
        try:
            stations = central.overview(config)
        except StoreError as exc:
            raise CommandFailed(Text(f"penyimpanan: {exc}", f"store: {exc}")) from None
        if args.json:
            print(central.overview_json(stations), file=out)
        else:
            print(central.render_table(central.overview_rows(stations, args.lang)), file=out)
    else:
        try:
            asyncio.run(central.run_collector(config))
        except StoreError as exc:
            raise CommandFailed(Text(f"penyimpanan: {exc}", f"store: {exc}")) from None
    return EXIT_OK
