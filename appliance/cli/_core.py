"""What every command shares: the exit codes, the error a command fails with, how a
message reaches the terminal, how a new secret is read from it, and the config file each
command is pointed at.

Exit codes are a contract: 0 ok, 1 a runtime failure (a damaged register, a key that
exists already), 2 bad usage or a bad config file, with a message that names the file,
the key and the problem.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

from appliance._text import Language, Text
from appliance.config import DEFAULT_CONFIG_PATH, Config, load_config
from appliance.errors import ApplianceError
from appliance.logs import configure_logging, mask_identity_numbers

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


class CommandFailed(ApplianceError):
    """A command could not do its work; the message is for the person at the terminal."""

    def __init__(self, text: Text) -> None:
        super().__init__(text.en)
        self.text = text


def print_error(message: str) -> None:
    print(mask_identity_numbers(message), file=sys.stderr)  # noqa: T201 - the CLI's voice


def read_new_secret(prompt: Text, language: Language) -> str | None:
    """A new PIN or password: asked twice at a terminal (`prompt`), else the first line
    of stdin, never an argument. None, with the reason told, when the two entries at a
    terminal differ."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass(prompt.in_language(language))
    again = getpass.getpass(Text("Ulangi: ", "Repeat it: ").in_language(language))
    if first != again:
        print_error(
            Text(
                "kedua isian tidak sama; tidak ada yang diubah",
                "the two entries differ; nothing was changed",
            ).in_language(language)
        )
        return None
    return first


def with_config(sub: argparse.ArgumentParser) -> None:
    """Give a command the `--config` option: the station's config file."""
    sub.add_argument(
        "--config",
        default=os.environ.get("KTPEL_CONFIG", str(DEFAULT_CONFIG_PATH)),
        help=f"config file (default: $KTPEL_CONFIG or {DEFAULT_CONFIG_PATH})",
    )


def load_configured(args: argparse.Namespace) -> Config:
    """The config file `--config` names, with logging set up as it says."""
    config = load_config(Path(args.config))
    configure_logging(level=config.logging.level, format=config.logging.format)
    return config
