"""The command line's front: the parser with every command group in `appliance --help`'s
order, and `run`, which turns what a command raises into a message and an exit code."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn, TextIO

from appliance._text import Language, Text
from appliance._version import __version__
from appliance.config import ConfigError
from appliance.errors import ApplianceError

from ._central import add_central_command
from ._core import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, print_error
from ._register import add_register_command
from ._report import add_report_command
from ._setup import add_config_command, add_keys_command
from ._simulator import add_demo_command, add_sim_command
from ._staff import add_staff_command
from ._station import add_doctor_command, add_run_command, add_status_command


def main(argv: Sequence[str] | None = None) -> NoReturn:
    sys.exit(run(argv))


def run(argv: Sequence[str] | None = None, *, stdout: TextIO | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    out = stdout or sys.stdout
    language: Language = args.lang
    handler: Callable[[argparse.Namespace, TextIO], int] = args.handler
    try:
        return handler(args, out)
    except ConfigError as exc:
        print_error(exc.render(language))
        return EXIT_USAGE
    except ApplianceError as exc:
        print_error(_said(exc, language))
        return EXIT_FAILURE
    except BaseExceptionGroup as group:
        # The daemon's parts run in TaskGroups: a part that fails with the station's own
        # error (the API's port taken, the register full) ends the run with it, said
        # plainly; anything else is a bug and keeps its traceback.
        failures, others = group.split(ApplianceError)
        if failures is None or others is not None:
            raise
        for failure in _leaves(failures):
            print_error(_said(failure, language))
        return EXIT_FAILURE
    except BrokenPipeError:
        # The reader went away (`| head`): not an error; keep Python from
        # complaining again when it flushes stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        return 130


def _said(error: BaseException, language: Language) -> str:
    text = getattr(error, "text", None)
    return text.in_language(language) if isinstance(text, Text) else str(error)


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    return [
        leaf
        for error in group.exceptions
        for leaf in (_leaves(error) if isinstance(error, BaseExceptionGroup) else [error])
    ]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="appliance", description="KTP-el station: devices, SOP pipeline, signed register."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--lang",
        choices=("id", "en"),
        default="en" if os.environ.get("KTPEL_LANG") == "en" else "id",
        help="language of messages for people (default: id, or $KTPEL_LANG)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_config_command(commands)
    add_keys_command(commands)
    add_register_command(commands)
    add_report_command(commands)
    add_run_command(commands)
    add_staff_command(commands)
    add_sim_command(commands)
    add_central_command(commands)
    add_status_command(commands)
    add_doctor_command(commands)
    add_demo_command(commands)
    return parser
