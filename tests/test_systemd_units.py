"""The files in systemd/ as systemd itself reads them: the unit verifies, its security
exposure is rated no worse than "OK", the sysusers snippet makes the station's user in
the device groups, and the tmpfiles snippet its config directory."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support import REPO

SYSTEMD = REPO / "systemd"
UNIT = "ktpel-station.service"
INSTALLED_APPLIANCE = "/opt/ktpel-station/.venv/bin/appliance"


@pytest.fixture
def unit(tmp_path: Path) -> Path:
    """The unit as installed, its ExecStart pointed at this checkout's appliance (systemd
    refuses to verify a unit whose program is not there)."""
    text = (SYSTEMD / UNIT).read_text(encoding="utf-8")
    assert INSTALLED_APPLIANCE in text
    here = Path(os.environ.get("VIRTUAL_ENV", REPO / ".venv")) / "bin" / "appliance"
    path = tmp_path / UNIT
    path.write_text(text.replace(INSTALLED_APPLIANCE, str(here)), encoding="utf-8")
    return path


def test_the_unit_verifies(unit: Path) -> None:
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout + result.stderr == ""


def test_the_unit_is_rated_ok_or_better(unit: Path) -> None:
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", str(unit)],
        capture_output=True,
        text=True,
        check=False,
    )
    found = re.search(r"Overall exposure level for \S+: ([\d.]+) (\w+)", result.stdout)
    assert found is not None, result.stdout + result.stderr
    level, rating = float(found[1]), found[2]
    assert rating in {"SAFE", "OK"}, result.stdout
    assert level < 4.0


def test_the_unit_is_what_the_daemon_expects() -> None:
    text = (SYSTEMD / UNIT).read_text(encoding="utf-8")
    settings = dict(
        line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#")
    )
    assert settings["Type"] == "notify"  # appliance run says READY=1 (appliance/notify.py)
    assert settings["WatchdogSec"] == "30s"  # fed at half, while the loops go round
    assert settings["Restart"] == "on-failure"
    assert settings["NoNewPrivileges"] == "yes"
    assert settings["ProtectSystem"] == "strict"
    assert settings["DevicePolicy"] == "closed"
    assert "PrivateDevices" not in settings
    assert settings["IPAddressDeny"] == "any"


def test_sysusers_and_tmpfiles_make_the_user_and_its_config_directory(tmp_path: Path) -> None:
    root = tmp_path / "root"
    for directory, name in (
        ("sysusers.d", "ktpel-station.sysusers"),
        ("tmpfiles.d", "ktpel-station.tmpfiles"),
    ):
        target = root / "usr" / "lib" / directory
        target.mkdir(parents=True)
        shutil.copy(SYSTEMD / name, target / "ktpel-station.conf")
    (root / "etc").mkdir()
    subprocess.run(["systemd-sysusers", f"--root={root}"], check=True, capture_output=True)
    passwd = (root / "etc" / "passwd").read_text(encoding="utf-8")
    user = next(line.split(":") for line in passwd.splitlines() if line.startswith("ktpel:"))
    assert user[5:] == ["/var/lib/ktpel-station", "/usr/sbin/nologin"]
    groups = {
        line.split(":")[0]: line.split(":")[3]
        for line in (root / "etc" / "group").read_text(encoding="utf-8").splitlines()
    }
    assert all(groups[name] == "ktpel" for name in ("dialout", "plugdev", "video"))
    subprocess.run(
        ["systemd-tmpfiles", f"--root={root}", "--create"], check=True, capture_output=True
    )
    config = (root / "etc" / "ktpel-station").stat()
    assert (oct(config.st_mode & 0o777), config.st_uid) == ("0o750", 0)
    assert config.st_gid == int(
        next(
            line.split(":")[2]
            for line in (root / "etc" / "group").read_text().splitlines()
            if line.startswith("ktpel:")
        )
    )


def test_every_udev_rule_gives_the_station_group_and_a_stable_name() -> None:
    rules = [
        line
        for line in (SYSTEMD / "70-ktpel-station.rules").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ]
    assert rules
    for rule in rules:
        assert 'GROUP="ktpel"' in rule
        assert 'MODE="0660"' in rule
        assert re.search(r'SYMLINK\+="ktpel/[a-z-]+"', rule), rule
