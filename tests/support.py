"""Helpers shared by the tests."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

from sim.day import DayPlan, DurationModel, plan_day

REPO = Path(__file__).resolve().parent.parent

VALID_NIK = "3508014101900001"  # a woman born 1 January 1990, Lumajang
VALID_KK = "3508011502150003"

# An `application.submitted` payload that every rule accepts.
SUBMITTED: dict[str, Any] = {
    "service": "baru",
    "nik": VALID_NIK,
    "kk": VALID_KK,
    "name": "Siti Aminah",
    "birth_date": "1990-01-01",
    "sex": "P",
    "marital_status": "kawin",
    "documents": ["fc_kk"],
}


def run_on_small_filesystem(
    script: Path, *args: str, mount: Path, size: str = "256k", remount_ro: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run `python script MOUNT ARGS...` in a private mount namespace over a tiny tmpfs.

    A real filesystem that runs out of space (or is read-only), without root and without
    touching the machine's mounts: the namespace and its tmpfs vanish with the child.
    With `remount_ro`, the script runs once to prepare (argument `prepare`), the tmpfs is
    remounted read-only, and the script runs again (argument `check`).
    """
    mount.mkdir(exist_ok=True)
    py = f'"{sys.executable}" "{script}" "$1"'
    rest = " ".join(f'"{a}"' for a in args)
    if remount_ro:
        body = (
            f'mount -t tmpfs -o size={size} tmpfs "$1" && {py} prepare {rest} && '
            f'mount -o remount,ro "$1" && {py} check {rest}'
        )
    else:
        body = f'mount -t tmpfs -o size={size} tmpfs "$1" && exec {py} {rest}'
    command = ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", body, "sh"]
    return subprocess.run(
        [*command, str(mount)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def quiet_day(*, applicants: int = 1, seed: int = 1, arrivals_over_s: float = 60) -> DayPlan:
    """A plan for a test that needs a running station more than a day's work: officers
    who act at once, applicants over a minute."""
    return plan_day(
        applicants=applicants,
        seed=seed,
        today=date.today(),  # noqa: DTZ011 - any calendar day
        arrivals_over_s=arrivals_over_s,
        model=DurationModel.without_people(),
    )
