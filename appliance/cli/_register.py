"""`register verify` (the register complete, in order, unaltered and signed) and
`register export` (as CSV or JSON lines)."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from pathlib import Path
from typing import Literal, TextIO

from appliance._text import Text
from appliance.config import Config
from appliance.register import (
    Event,
    PublicKey,
    export_csv,
    export_jsonl,
    read_events,
    verify_register,
)

from ._core import EXIT_FAILURE, EXIT_OK, load_configured, print_error, with_config


def add_register_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    register = commands.add_parser("register", help="the signed event register")
    register_commands = register.add_subparsers(dest="register_command", required=True)
    verify = register_commands.add_parser(
        "verify", help="prove the register complete, in order, unaltered and signed"
    )
    with_config(verify)
    verify.add_argument(
        "--public-key",
        help="verify against this PEM public key instead of the station key file",
    )
    verify.set_defaults(handler=_register_verify)
    export = register_commands.add_parser("export", help="write the register as CSV or JSON lines")
    with_config(export)
    export.add_argument("--format", choices=("csv", "jsonl"), default="csv")
    export.add_argument("--output", help="file to write (default: standard output)")
    export.add_argument("--full-nik", action="store_true", help="do not mask NIKs in the CSV")
    export.set_defaults(handler=_register_export)


def _register_verify(args: argparse.Namespace, out: TextIO) -> int:
    config = load_configured(args)
    key_file = Path(args.public_key) if args.public_key else config.station_key_path
    report = verify_register(config.register_path, PublicKey.load(key_file))
    if report.defect is not None:
        text = Text("register TIDAK utuh: {defect}", "register is NOT intact: {defect}").format(
            defect=report.defect
        )
        print_error(text.in_language(args.lang))
        return EXIT_FAILURE
    text = Text(
        "register utuh: {events} kejadian, seq terakhir {head}, semua tanda tangan sah",
        "register intact: {events} events, last seq {head}, every signature valid",
    ).format(events=report.events, head=report.head_seq)
    print(text.in_language(args.lang), file=out)
    return EXIT_OK


def _register_export(args: argparse.Namespace, out: TextIO) -> int:
    config = load_configured(args)
    fmt: Literal["csv", "jsonl"] = args.format
    events = read_events(config.register_path)
    if args.output:
        with Path(args.output).open("w", encoding="utf-8", newline="") as stream:
            _write_export(fmt, events, stream, config, args)
    else:
        _write_export(fmt, events, out, config, args)
    return EXIT_OK


def _write_export(
    fmt: Literal["csv", "jsonl"],
    events: Iterable[Event],
    stream: TextIO,
    config: Config,
    args: argparse.Namespace,
) -> None:
    if fmt == "jsonl":
        export_jsonl(events, stream)
    else:
        export_csv(events, stream, timezone=config.zone, language=args.lang, full_nik=args.full_nik)
