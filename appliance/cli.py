"""`appliance`: the station's command line.

Exit codes are a contract: 0 ok, 1 a runtime failure (a damaged register, a key that
exists already), 2 bad usage or a bad config file, with a message that names the file,
the key and the problem.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import signal
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Literal, NoReturn, TextIO

import httpx

from appliance._text import Language, Text
from appliance._version import __version__
from appliance.config import DEFAULT_CONFIG_PATH, Config, ConfigError, load_config
from appliance.domain import Role
from appliance.errors import ApplianceError
from appliance.keys import init_keys
from appliance.logs import configure_logging, mask_identity_numbers
from appliance.register import (
    Event,
    PublicKey,
    export_csv,
    export_jsonl,
    read_events,
    verify_register,
)
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
from appliance.sync import StoreError
from sim.cli import add_arguments as add_sim_arguments
from sim.cli import run as run_sim

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2

_STATUS_TIMEOUT_S = 10.0


class CommandFailed(ApplianceError):
    """A command could not do its work; the message is for the person at the terminal."""

    def __init__(self, text: Text) -> None:
        super().__init__(text.en)
        self.text = text


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
        _error(exc.render(language))
        return EXIT_USAGE
    except ApplianceError as exc:
        _error(_said(exc, language))
        return EXIT_FAILURE
    except BaseExceptionGroup as group:
        # The daemon's parts run in TaskGroups: a part that fails with the station's own
        # error (the API's port taken, the register full) ends the run with it, said
        # plainly; anything else is a bug and keeps its traceback.
        failures, others = group.split(ApplianceError)
        if failures is None or others is not None:
            raise
        for failure in _leaves(failures):
            _error(_said(failure, language))
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


def _error(message: str) -> None:
    print(mask_identity_numbers(message), file=sys.stderr)  # noqa: T201 - the CLI's voice


def _load(args: argparse.Namespace) -> Config:
    config = load_config(Path(args.config))
    configure_logging(level=config.logging.level, format=config.logging.format)
    return config


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

    def with_config(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--config",
            default=os.environ.get("KTPEL_CONFIG", str(DEFAULT_CONFIG_PATH)),
            help=f"config file (default: $KTPEL_CONFIG or {DEFAULT_CONFIG_PATH})",
        )

    config = commands.add_parser("config", help="the configuration file")
    config_commands = config.add_subparsers(dest="config_command", required=True)
    check = config_commands.add_parser("check", help="validate a config file")
    check.add_argument("file")
    check.set_defaults(handler=_config_check)

    keys = commands.add_parser("keys", help="the station's keys")
    keys_commands = keys.add_subparsers(dest="keys_command", required=True)
    init = keys_commands.add_parser(
        "init", help="create the station signing key and the biometric master key"
    )
    with_config(init)
    init.set_defaults(handler=_keys_init)

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

    run = commands.add_parser(
        "run", help="the station daemon: devices, SOP pipeline and local API, until SIGTERM"
    )
    with_config(run)
    run.add_argument(
        "--config-overlay",
        action="append",
        default=[],
        metavar="FILE",
        help="a file merged over the config, table by table (such as the one `appliance sim` "
        "writes); repeatable",
    )
    run.set_defaults(handler=_run)

    _add_staff_commands(commands, with_config)

    sim = commands.add_parser(
        "sim", help="simulated devices on their real transports, with faults on demand"
    )
    add_sim_arguments(sim)
    sim.set_defaults(handler=_sim)

    _add_central_command(commands, with_config)
    _add_field_commands(commands, with_config)

    demo = commands.add_parser(
        "demo", help="a station's day on simulated devices, with a summary at the end"
    )
    demo.add_argument("--dir", help="state directory to keep (default: a temporary one)")
    demo.add_argument("--applicants", type=int, default=20, help="applicants in the day")
    demo.add_argument("--seed", type=int, default=2026, help="scenario random seed")
    demo.add_argument(
        "--speed",
        type=float,
        default=60.0,
        help="times faster than real time (default: 60, an hour a minute)",
    )
    demo.add_argument(
        "--arrivals-hours", type=float, default=3.0, help="applicants arrive over this long"
    )
    demo.add_argument(
        "--instant",
        action="store_true",
        help="instant devices and officers: the machinery alone, as fast as it goes",
    )
    demo.add_argument(
        "--serve",
        action="store_true",
        help="after the summary, keep the station running and print the URLs of the "
        "console, the board and the kiosk, with demo PINs (Ctrl-C stops it)",
    )
    demo.set_defaults(handler=_demo)
    return parser


def _add_central_command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    with_config: Callable[[argparse.ArgumentParser], None],
) -> None:
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


def _add_field_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    with_config: Callable[[argparse.ArgumentParser], None],
) -> None:
    status = commands.add_parser(
        "status",
        help="ask the running daemon how the station is: devices, queue, steps, uplink, disk",
    )
    with_config(status)
    status.add_argument("--json", action="store_true", help="the daemon's report as JSON")
    status.set_defaults(handler=_status)
    doctor = commands.add_parser(
        "doctor",
        help="check the devices, broker, register, keys, disk and clock, and say what to fix",
    )
    with_config(doctor)
    doctor.add_argument("--json", action="store_true", help="the findings as JSON, both languages")
    doctor.set_defaults(handler=_doctor)


def _add_staff_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    with_config: Callable[[argparse.ArgumentParser], None],
) -> None:
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


def _run(args: argparse.Namespace, _out: TextIO) -> int:
    # A reload asked for while the daemon is still importing must not kill it (SIGHUP's
    # default); the daemon handles it once it runs.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    from appliance.daemon import serve  # noqa: PLC0415 - the daemon's imports are heavy

    def load() -> Config:
        return load_config(Path(args.config), overlays=[Path(f) for f in args.config_overlay])

    config = load()
    configure_logging(level=config.logging.level, format=config.logging.format)
    asyncio.run(serve(config, reload=load))
    return EXIT_OK


def _status(args: argparse.Namespace, out: TextIO) -> int:
    from appliance.status import render_status  # noqa: PLC0415 - the daemon's parts are heavy

    config = load_config(Path(args.config))
    url = f"{config.api.local_url}/api/v1/status"
    try:
        # Loopback, never through an office proxy from the environment.
        response = httpx.get(
            url, timeout=_STATUS_TIMEOUT_S, trust_env=False, verify=config.api_verify()
        )
        response.raise_for_status()
        report = response.json()
    except (httpx.HTTPError, ValueError, OSError) as error:
        raise CommandFailed(
            Text(
                f"Daemon stasiun tidak menjawab di {url} ({error}). Periksa "
                "`systemctl status ktpel-station` dan `journalctl -u ktpel-station`, "
                "atau jalankan `appliance doctor`.",
                f"The station daemon does not answer at {url} ({error}). Check "
                "`systemctl status ktpel-station` and `journalctl -u ktpel-station`, "
                "or run `appliance doctor`.",
            )
        ) from None
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2), file=out)
    else:
        print(render_status(report, args.lang), file=out)
    return EXIT_OK


def _doctor(args: argparse.Namespace, out: TextIO) -> int:
    from appliance.doctor import run_doctor  # noqa: PLC0415 - the drivers' imports are heavy

    config = load_config(Path(args.config))
    # The report is the doctor's voice: the drivers' own info lines would drown it.
    configure_logging(level="warning", format=config.logging.format)
    return run_doctor(config, language=args.lang, json_output=args.json, out=out)


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
    config = _load(args)
    created = init_keys(config)
    for line in created:
        print(line.in_language(args.lang), file=out)
    return EXIT_OK


def _register_verify(args: argparse.Namespace, out: TextIO) -> int:
    config = _load(args)
    key_file = Path(args.public_key) if args.public_key else config.station_key_path
    report = verify_register(config.register_path, PublicKey.load(key_file))
    if report.defect is not None:
        text = Text("register TIDAK utuh: {defect}", "register is NOT intact: {defect}").format(
            defect=report.defect
        )
        _error(text.in_language(args.lang))
        return EXIT_FAILURE
    text = Text(
        "register utuh: {events} kejadian, seq terakhir {head}, semua tanda tangan sah",
        "register intact: {events} events, last seq {head}, every signature valid",
    ).format(events=report.events, head=report.head_seq)
    print(text.in_language(args.lang), file=out)
    return EXIT_OK


def _register_export(args: argparse.Namespace, out: TextIO) -> int:
    config = _load(args)
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


def _staff(args: argparse.Namespace, out: TextIO) -> int:
    """Run a `staff` command: a refusal (weak PIN, taken id, bad staff file) is bad usage."""
    action: Callable[[argparse.Namespace, TextIO], int] = args.staff_action
    try:
        return action(args, out)
    except StaffError as exc:
        _error(exc.text.in_language(args.lang))
        return EXIT_USAGE


def _staff_add(args: argparse.Namespace, out: TextIO) -> int:
    config = _load(args)
    # Checked before asking for the PIN, so nobody types it twice for nothing.
    if StaffDirectory.load(config.staff_path).get(args.person_id) is not None:
        raise DuplicatePerson(args.person_id)
    secret = _read_new_secret(args.lang)
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
    config = _load(args)
    if StaffDirectory.load(config.staff_path).get(args.person_id) is None:
        raise UnknownPerson(args.person_id)
    secret = _read_new_secret(args.lang)
    if secret is None:
        return EXIT_USAGE
    set_secret(config.staff_path, args.person_id, secret)
    text = Text("PIN/kata sandi {id} diganti", "PIN/password of {id} changed").format(
        id=args.person_id
    )
    print(text.in_language(args.lang), file=out)
    return EXIT_OK


def _staff_list(args: argparse.Namespace, out: TextIO) -> int:
    config = _load(args)
    members = StaffDirectory.load(config.staff_path).members()
    if not members:
        text = Text("belum ada petugas di {file}", "no staff in {file} yet").format(
            file=config.staff_path
        )
        _error(text.in_language(args.lang))
    for member in members:
        print(f"{member.id}\t{member.name}\t{_role_labels(member, args.lang)}", file=out)
    return EXIT_OK


def _role_labels(member: StaffMember, language: Language) -> str:
    return ", ".join(role.label.in_language(language) for role in Role if member.has_role(role))


def _read_new_secret(language: Language) -> str | None:
    """The new PIN or password: asked twice at a terminal, else the first line of stdin.

    None, with the reason told, when the two entries at a terminal differ.
    """
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass(
        Text("PIN atau kata sandi baru: ", "New PIN or password: ").in_language(language)
    )
    again = getpass.getpass(Text("Ulangi: ", "Repeat it: ").in_language(language))
    if first != again:
        _error(
            Text(
                "kedua isian tidak sama; tidak ada yang diubah",
                "the two entries differ; nothing was changed",
            ).in_language(language)
        )
        return None
    return first


def _sim(args: argparse.Namespace, out: TextIO) -> int:
    return run_sim(args, out)


def _demo(args: argparse.Namespace, out: TextIO) -> int:
    from appliance.demo import DemoOptions, run_demo  # noqa: PLC0415 - the simulator is heavy

    if args.applicants < 1 or args.speed <= 0 or args.arrivals_hours < 0:
        _error(
            Text(
                "--applicants minimal 1, --speed dan --arrivals-hours harus positif",
                "--applicants must be at least 1, --speed and --arrivals-hours positive",
            ).in_language(args.lang)
        )
        return EXIT_USAGE
    options = DemoOptions(
        state_dir=Path(args.dir) if args.dir else None,
        applicants=args.applicants,
        seed=args.seed,
        speed=None if args.instant else args.speed,
        arrivals_hours=0.0 if args.instant else args.arrivals_hours,
        serve=args.serve,
    )
    return run_demo(options, language=args.lang, out=out)
