"""`staff`: who may log in to the station, in which roles (`add`, `passwd`, `list`); a
PIN or password is read from the terminal twice, or from standard input once."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TextIO

from appliance._text import Language, Text
from appliance.domain import Role
from appliance.staff import (
    STAFF_ROLES,
    DuplicatePerson,
    StaffDirectory,
    StaffError,
    StaffMember,
    UnknownPerson,
    add_member,
    set_secret,
)

from ._core import EXIT_OK, EXIT_USAGE, load_configured, print_error, read_new_secret, with_config

_NEW_SECRET = Text("PIN atau kata sandi baru: ", "New PIN or password: ")


def add_staff_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    staff = commands.add_parser("staff", help="who may log in to the station, in which roles")
    staff_commands = staff.add_subparsers(dest="staff_command", required=True)
    staff_add = staff_commands.add_parser(
        "add", help="add a person; the PIN or password is read from standard input"
    )
    with_config(staff_add)
    staff_add.add_argument("--id", required=True, dest="person_id", metavar="ID", help="login name")
    staff_add.add_argument("--name", required=True, help="full name, as colleagues read it")
    staff_add.add_argument(
        "--role",
        required=True,
        action="append",
        dest="roles",
        choices=sorted(role.value for role in STAFF_ROLES),
        help="an SOP role; repeat for a person with several",
    )
    staff_add.set_defaults(handler=_staff, staff_action=_staff_add)
    staff_passwd = staff_commands.add_parser(
        "passwd", help="change a person's PIN or password, read from standard input"
    )
    with_config(staff_passwd)
    staff_passwd.add_argument(
        "--id", required=True, dest="person_id", metavar="ID", help="login name"
    )
    staff_passwd.set_defaults(handler=_staff, staff_action=_staff_passwd)
    staff_list = staff_commands.add_parser("list", help="everyone who may log in, and their roles")
    with_config(staff_list)
    staff_list.set_defaults(handler=_staff, staff_action=_staff_list)


def _staff(args: argparse.Namespace, out: TextIO) -> int:
    """Run a `staff` command: a refusal (weak PIN, taken id, bad staff file) is bad usage."""
    action: Callable[[argparse.Namespace, TextIO], int] = args.staff_action
    try:
        return action(args, out)
    except StaffError as exc:
        print_error(exc.text.in_language(args.lang))
        return EXIT_USAGE


def _staff_add(args: argparse.Namespace, out: TextIO) -> int:
    config = load_configured(args)
    # Checked before asking for the PIN, so nobody types it twice for nothing.
    if StaffDirectory.load(config.staff_path).get(args.person_id) is not None:
        raise DuplicatePerson(args.person_id)
    secret = read_new_secret(_NEW_SECRET, args.lang)
    if secret is None:
        return EXIT_USAGE
    member = add_member(
        config.staff_path,
        person_id=args.person_id,
        name=args.name,
        roles=[Role(role) for role in args.roles],
        secret=secret,
    )
    text = Text(
        "petugas ditambahkan: {id} ({name}), peran: {roles}",
        "staff member added: {id} ({name}), roles: {roles}",
    ).format(id=member.id, name=member.name, roles=_role_labels(member, args.lang))
    print(text.in_language(args.lang), file=out)
    return EXIT_OK


def _staff_passwd(args: argparse.Namespace, out: TextIO) -> int:
    config = load_configured(args)
    if StaffDirectory.load(config.staff_path).get(args.person_id) is None:
        raise UnknownPerson(args.person_id)
    secret = read_new_secret(_NEW_SECRET, args.lang)
    if secret is None:
        return EXIT_USAGE
    set_secret(config.staff_path, args.person_id, secret)
    text = Text("PIN/kata sandi {id} diganti", "PIN/password of {id} changed").format(
        id=args.person_id
    )
    print(text.in_language(args.lang), file=out)
    return EXIT_OK


def _staff_list(args: argparse.Namespace, out: TextIO) -> int:
    config = load_configured(args)
    members = StaffDirectory.load(config.staff_path).members()
    if not members:
        text = Text("belum ada petugas di {file}", "no staff in {file} yet").format(
            file=config.staff_path
        )
        print_error(text.in_language(args.lang))
    for member in members:
        print(f"{member.id}\t{member.name}\t{_role_labels(member, args.lang)}", file=out)
    return EXIT_OK


def _role_labels(member: StaffMember, language: Language) -> str:
    return ", ".join(role.label.in_language(language) for role in Role if member.has_role(role))
