"""`central`: the central office (collector, status and alert keepers, dashboard, command
sender), its overview of the stations, its signing key, and the dashboard's users
(`central user add|list|disable|enable|passwd`; a password is read from the terminal
twice, or from standard input once, never from the command line)."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from appliance._text import Text
from appliance.clock import SystemClock
from appliance.logs import configure_logging
from appliance.sync import StoreError

from ._core import EXIT_OK, EXIT_USAGE, CommandFailed, print_error, read_new_secret, with_config

if TYPE_CHECKING:
    from appliance.central import CentralConfig, User, Users

_ROLES = ("pengamat", "petugas", "teknisi")
_NEW_PASSWORD = Text("Kata sandi baru: ", "New password: ")


def add_central_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    central = commands.add_parser(
        "central",
        help="the central office: collector, alerts and the regency's dashboard",
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
    parts = central.add_subparsers(dest="central_command", required=False, metavar="COMMAND")
    user = parts.add_parser(
        "user", help="the dashboard's users: add, list, disable, enable, passwd"
    )
    user_commands = user.add_subparsers(dest="user_command", required=True)

    add = user_commands.add_parser(
        "add", help="add a user; the password is read from the terminal or standard input"
    )
    _config_here(add)
    add.add_argument("--name", required=True, help="user name, to sign in with")
    add.add_argument("--display-name", required=True, help="full name, as colleagues read it")
    add.add_argument(
        "--role",
        required=True,
        choices=_ROLES,
        help="pengamat (views), petugas (+ acknowledges alerts), teknisi (+ remote diagnosis)",
    )
    add.add_argument(
        "--scope",
        required=True,
        help="'nasional', a province (35) or a regency (35.08): the stations they see",
    )
    add.set_defaults(handler=_user, user_action=_user_add)
    listing = user_commands.add_parser("list", help="every user, role, scope and state")
    _config_here(listing)
    listing.set_defaults(handler=_user, user_action=_user_list)
    for name, disabled, text in (
        ("disable", True, "disable a user (their sessions close)"),
        ("enable", False, "enable a disabled user again"),
    ):
        toggle = user_commands.add_parser(name, help=text)
        _config_here(toggle)
        toggle.add_argument("--name", required=True)
        toggle.set_defaults(handler=_user, user_action=_user_toggle, disabled=disabled)
    passwd = user_commands.add_parser("passwd", help="set a user's password (their sessions close)")
    _config_here(passwd)
    passwd.add_argument("--name", required=True)
    passwd.set_defaults(handler=_user, user_action=_user_passwd)


def _config_here(sub: argparse.ArgumentParser) -> None:
    # Also after the subcommand; SUPPRESS keeps it from overriding one given before it.
    sub.add_argument("--config", default=argparse.SUPPRESS, help="the central config file")


def _load(args: argparse.Namespace) -> CentralConfig:
    from appliance import central  # noqa: PLC0415 - only the central office needs it

    config = central.load_central_config(Path(args.config))
    configure_logging(level=config.logging.level, format=config.logging.format)
    return config


def _central(args: argparse.Namespace, out: TextIO) -> int:
    from appliance import central  # noqa: PLC0415 - only the central office needs it

    config = _load(args)
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
            asyncio.run(central.run_central(config))
        except StoreError as exc:
            raise CommandFailed(Text(f"penyimpanan: {exc}", f"store: {exc}")) from None
    return EXIT_OK


def _user(args: argparse.Namespace, out: TextIO) -> int:
    """Run a `central user` command: a refusal (a weak password, a taken name, a bad
    scope) is bad usage, exit 2; a store that cannot be used, exit 1."""
    from appliance import central  # noqa: PLC0415 - only the central office needs it

    config = _load(args)
    action: Callable[[argparse.Namespace, Users, TextIO], int] = args.user_action
    try:
        database = central.Database.open(config.database_url)
        users = central.Users(
            database=database,
            clock=SystemClock(),
            max_failures=config.dashboard.max_failures,
            lockout=config.dashboard.lockout,
        )
    except StoreError as exc:
        raise CommandFailed(Text(f"penyimpanan: {exc}", f"store: {exc}")) from None
    try:
        return action(args, users, out)
    except central.UserError as exc:
        print_error(exc.text.in_language(args.lang))
        return EXIT_USAGE
    except StoreError as exc:
        raise CommandFailed(Text(f"penyimpanan: {exc}", f"store: {exc}")) from None
    finally:
        users.close()
        database.close()


def _user_add(args: argparse.Namespace, users: Users, out: TextIO) -> int:
    from appliance.central import DashboardRole, DuplicateUser  # noqa: PLC0415

    # Checked before asking for the password, so nobody types it twice for nothing.
    if users.get(args.name) is not None:
        raise DuplicateUser(args.name)
    password = read_new_secret(_NEW_PASSWORD, args.lang)
    if password is None:
        return EXIT_USAGE
    user = users.add(
        name=args.name,
        display_name=args.display_name,
        role=DashboardRole(args.role),
        scope=args.scope,
        password=password,
    )
    text = Text(
        "pengguna ditambahkan: {name} ({display}), peran {role}, wilayah {scope}",
        "user added: {name} ({display}), role {role}, area {scope}",
    ).format(name=user.name, display=user.display_name, role=user.role.label, scope=_scope(user))
    print(text.in_language(args.lang), file=out)
    return EXIT_OK


def _user_list(args: argparse.Namespace, users: Users, out: TextIO) -> int:
    listed = users.list()
    if not listed:
        print_error(Text("belum ada pengguna", "no users yet").in_language(args.lang))
    for user in listed:
        state = Text("nonaktif", "disabled") if user.disabled else Text("aktif", "active")
        print(
            "\t".join(
                (
                    user.name,
                    user.display_name,
                    user.role.label.in_language(args.lang),
                    _scope(user).in_language(args.lang),
                    state.in_language(args.lang),
                )
            ),
            file=out,
        )
    return EXIT_OK


def _user_toggle(args: argparse.Namespace, users: Users, out: TextIO) -> int:
    users.set_disabled(args.name, disabled=args.disabled)
    text = (
        Text("pengguna {name} dinonaktifkan", "user {name} disabled")
        if args.disabled
        else Text("pengguna {name} diaktifkan lagi", "user {name} enabled again")
    )
    print(text.format(name=args.name).in_language(args.lang), file=out)
    return EXIT_OK


def _user_passwd(args: argparse.Namespace, users: Users, out: TextIO) -> int:
    from appliance.central import UnknownUser  # noqa: PLC0415

    if users.get(args.name) is None:
        raise UnknownUser(args.name)
    password = read_new_secret(_NEW_PASSWORD, args.lang)
    if password is None:
        return EXIT_USAGE
    users.set_password(args.name, password)
    text = Text("kata sandi {name} diganti", "password of {name} changed").format(name=args.name)
    print(text.in_language(args.lang), file=out)
    return EXIT_OK


def _scope(user: User) -> Text:
    from appliance.central import scope_label  # noqa: PLC0415

    return scope_label(user.scope)
