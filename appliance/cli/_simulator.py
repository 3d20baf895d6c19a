"""The commands on simulated devices: `sim` (the devices on their real transports, with
faults on demand) and `demo` (a station's day on them, with a summary at the end). The
only part of `appliance/` that imports `sim/` (with `appliance/demo.py`, which `demo`
loads when it runs)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from appliance._text import Text
from sim.cli import add_arguments as add_sim_arguments
from sim.cli import run as run_sim

from ._core import EXIT_USAGE, print_error


def add_sim_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sim = commands.add_parser(
        "sim", help="simulated devices on their real transports, with faults on demand"
    )
    add_sim_arguments(sim)
    sim.set_defaults(handler=_sim)


def add_demo_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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


def _sim(args: argparse.Namespace, out: TextIO) -> int:
    return run_sim(args, out)


def _demo(args: argparse.Namespace, out: TextIO) -> int:
    from appliance.demo import DemoOptions, run_demo  # noqa: PLC0415 - the simulator is heavy

    if args.applicants < 1 or args.speed <= 0 or args.arrivals_hours < 0:
        print_error(
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
