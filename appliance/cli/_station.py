"""The station itself: `run` (the daemon, until SIGTERM), `status` (ask the running daemon
how the station is) and `doctor` (check everything and say what to fix)."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from pathlib import Path
from typing import TextIO

import httpx

from appliance._text import Text
from appliance.config import Config, load_config
from appliance.logs import configure_logging

from ._core import EXIT_OK, CommandFailed, with_config

_STATUS_TIMEOUT_S = 10.0


def add_run_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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


def add_status_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    status = commands.add_parser(
        "status",
        help="ask the running daemon how the station is: devices, queue, steps, uplink, disk",
    )
    with_config(status)
    status.add_argument("--json", action="store_true", help="the daemon's report as JSON")
    status.set_defaults(handler=_status)


def add_doctor_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    doctor = commands.add_parser(
        "doctor",
        help="check the devices, broker, register, keys, disk and clock, and say what to fix",
    )
    with_config(doctor)
    doctor.add_argument("--json", action="store_true", help="the findings as JSON, both languages")
    doctor.set_defaults(handler=_doctor)


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
