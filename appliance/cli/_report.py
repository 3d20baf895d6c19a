"""`report`: the performance report of a period, from the station's register (read
only), as PDF, HTML or JSON (docs/oversight.md, "Reports")."""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path
from typing import TextIO

from appliance._text import Text
from appliance.oversight import OversightError, Period
from appliance.register import RegisterError, read_events
from appliance.reports import (
    REPORT_EVENTS,
    Letterhead,
    render_html,
    render_pdf,
    report,
    report_document,
)

from ._core import EXIT_OK, EXIT_USAGE, CommandFailed, load_configured, print_error, with_config


def add_report_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sub = commands.add_parser(
        "report", help="the performance report of a period: targets against achievement"
    )
    with_config(sub)
    sub.add_argument(
        "--period",
        required=True,
        help="2026-11-30 (a day), 2026-11 (a month), 2026-Q4, 2026-S2 or 2026",
    )
    sub.add_argument("--format", choices=("pdf", "html", "json"), default="pdf")
    sub.add_argument(
        "--output",
        help="file to write (default: standard output; a PDF needs a file)",
    )
    sub.add_argument(
        "--place", help="where the report is signed, printed in the PDF's signature block"
    )
    sub.set_defaults(handler=_report)


def _report(args: argparse.Namespace, out: TextIO) -> int:
    try:
        period = Period.parse(args.period)
    except OversightError as error:
        print_error(error.text.in_language(args.lang))
        return EXIT_USAGE
    if args.format == "pdf" and not args.output:
        print_error(
            Text(
                "PDF perlu --output FILE: tidak ditulis ke terminal.",
                "A PDF needs --output FILE: it is not written to the terminal.",
            ).in_language(args.lang)
        )
        return EXIT_USAGE
    config = load_configured(args)
    try:
        events = read_events(config.register_path, types=REPORT_EVENTS)
        built = report(events, period, config.zone, config.targets)
    except RegisterError as error:
        raise CommandFailed(
            Text(f"register tidak dapat dibaca: {error}", f"the register cannot be read: {error}")
        ) from error
    letterhead = Letterhead(
        office=config.station.office, station=config.station.id, place=args.place
    )
    if args.format == "json":
        text = json.dumps(report_document(built), ensure_ascii=False, indent=2) + "\n"
        data = text.encode("utf-8")
    elif args.format == "html":
        data = render_html(
            built, office=letterhead.office, station=letterhead.station, lang=args.lang
        ).encode("utf-8")
    else:
        data = render_pdf(built, letterhead=letterhead, lang=args.lang)
    if args.output:
        _write(Path(args.output), data)
    else:
        out.write(data.decode("utf-8"))
    return EXIT_OK


def _write(path: Path, data: bytes) -> None:
    """Whole or not at all: a half-written report is never left under its name."""
    directory = path.parent
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


__all__ = ["add_report_command"]
