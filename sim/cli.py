"""`appliance sim`: run the simulated devices, or talk to the ones running.

appliance sim [--dir D] [--seed N] [--timing realistic|instant] [--scenario F]
appliance sim list | inject DEVICE FAULT [--param k=v ...] | clear DEVICE [FAULT]
              | press DEVICE KEY | present DEVICE PERSON | take-card  [--dir D]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
from pathlib import Path
from typing import Any, TextIO

from ._base import Timing
from .control import send_control
from .scenario import Scenario, ScenarioError

DEFAULT_DIR = Path("/run/ktpel-sim")
DEFAULT_TRANSPORT_KEY = Path("/var/lib/ktpel-station/keys/card-transport.key")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dir", default=str(DEFAULT_DIR), help=f"where the devices appear (default {DEFAULT_DIR})"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the devices' behaviour")
    parser.add_argument("--timing", choices=("realistic", "instant"), default="realistic")
    parser.add_argument("--scenario", help="TOML file of faults to inject on schedule")
    parser.add_argument(
        "--card-transport-key",
        default=str(DEFAULT_TRANSPORT_KEY),
        help="the station's blank-card transport master, which the simulated card maker "
        f"shares (default {DEFAULT_TRANSPORT_KEY}: the station's own, after `keys init`)",
    )
    actions = parser.add_subparsers(dest="sim_action", metavar="ACTION")
    actions.add_parser("list", help="the devices, their possible and active faults")
    inject = actions.add_parser("inject", help="inject a fault into a running device")
    inject.add_argument("device")
    inject.add_argument("fault")
    inject.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    clear = actions.add_parser("clear", help="clear one fault, or all of a device's")
    clear.add_argument("device")
    clear.add_argument("fault", nargs="?")
    press = actions.add_parser("press", help="press a button (satisfaction keypad)")
    press.add_argument("device")
    press.add_argument("key")
    present = actions.add_parser("present", help="put a synthetic person's finger on a scanner")
    present.add_argument("device")
    present.add_argument("person", type=int, help="the person's seed")
    actions.add_parser("take-card", help="carry the newest ejected card to the desk reader")


def run(args: argparse.Namespace, out: TextIO) -> int:
    directory = Path(args.dir)
    if args.sim_action is None:
        return asyncio.run(_serve(args, directory, out))
    request: dict[str, Any] = {"cmd": args.sim_action.replace("-", "_")}
    if args.sim_action not in {"list", "take-card"}:
        request["device"] = args.device
    if args.sim_action in {"inject", "clear"} and args.fault is not None:
        request["fault"] = args.fault
    if args.sim_action == "inject":
        request["params"] = dict(_param(item) for item in args.param)
    if args.sim_action == "press":
        request["key"] = args.key
    if args.sim_action == "present":
        request["person"] = args.person
    try:
        reply = asyncio.run(send_control(directory / "control.sock", request))
    except OSError as exc:
        print(f"no simulator answers at {directory / 'control.sock'}: {exc.strerror}", file=out)
        return 1
    print(json.dumps(reply, indent=2), file=out)
    return 0 if reply.get("ok") else 2


def _param(item: str) -> tuple[str, float | str]:
    name, _, value = item.partition("=")
    try:
        return name, float(value)
    except ValueError:
        return name, value


async def _serve(args: argparse.Namespace, directory: Path, out: TextIO) -> int:
    from .office import SimulatedOffice  # noqa: PLC0415 - `appliance run` reads this module

    scenario = None
    if args.scenario:
        try:
            scenario = Scenario.load(Path(args.scenario))
        except ScenarioError as exc:
            print(exc, file=out)
            return 2
    seed = scenario.seed if scenario and scenario.seed is not None else args.seed
    timing = scenario.timing if scenario and scenario.timing else args.timing
    office = SimulatedOffice(
        directory=directory,
        seed=seed,
        timing=Timing(scale=0.0 if timing == "instant" else 1.0),
        card_transport_key=Path(args.card_transport_key),
    )
    if scenario is not None:
        try:
            scenario.check_against(office.devices)
        except ScenarioError as exc:
            print(exc, file=out)
            return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await office.start()
    print(f"simulated devices up; config overlay: {office.overlay_path}", file=out)
    print(
        f"control: appliance sim --dir {directory} list|inject|clear|press|present|take-card",
        file=out,
    )
    out.flush()
    playing = None
    if scenario is not None:
        playing = asyncio.create_task(scenario.play(office.devices), name="scenario")
    try:
        await stop.wait()
    finally:
        if playing is not None:
            playing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await playing
        await office.stop()
    return 0
