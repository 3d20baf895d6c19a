"""The config file: strict validation with messages that name the file, key and problem."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from appliance.cli import run
from appliance.config import ConfigError, load_config
from appliance.domain import RequirementProfile, Step
from appliance.hal import SignaturePadConfig
from tests.support import REPO


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "station.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_minimal_file_works_with_sensible_defaults() -> None:
    config = load_config(REPO / "examples" / "minimal.toml")
    assert config.station.id == "lumajang-01"
    assert config.station.timezone == "Asia/Jakarta"
    assert config.station.requirements is RequirementProfile.LUMAJANG
    assert config.register_path == Path("/var/lib/ktpel-station/register.sqlite3")
    assert config.station_key_path == Path("/var/lib/ktpel-station/keys/station.key")
    assert config.sop.budgets()[Step.BIOMETRIC] == timedelta(minutes=6)


def test_the_example_file_is_valid() -> None:
    config = load_config(REPO / "examples" / "station.toml")
    assert config.sop.budgets()[Step.ENCODE_PRINT] == timedelta(minutes=5)


def test_relative_paths_follow_the_config_file_and_the_state_dir(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        '[station]\nid = "s1"\n[paths]\nstate_dir = "state"\n[register]\npath = "r.db"\n'
        '[keys]\nstation_key = "/etc/ktpel/station.key"\n',
    )
    config = load_config(path)
    assert config.register_path == tmp_path / "state" / "r.db"
    assert config.station_key_path == Path("/etc/ktpel/station.key")


def test_budget_overrides_apply(tmp_path: Path) -> None:
    path = _write(tmp_path, '[station]\nid = "s1"\n[sop.budget_minutes]\nencode_print = 7.5\n')
    assert load_config(path).sop.budgets()[Step.ENCODE_PRINT] == timedelta(minutes=7.5)


@pytest.mark.parametrize(
    ("text", "key", "english"),
    [
        ('[station]\nid = "s1"\ncolour = "red"\n', "station.colour", "unknown key"),
        ('[station]\nid = "s1"\n[uplink]\nx = 1\n', "uplink.x", "unknown key"),
        ('[station]\nid = "s1"\n[uplink]\ncertificate = "c.pem"\n', "uplink", "key go together"),
        ("[station]\noffice = 'x'\n", "station.id", "required key is missing"),
        ('[station]\nid = "Stasiun 1"\n', "station.id", "should match pattern"),
        (
            '[station]\nid = "s1"\ntimezone = "Mars/Olympus"\n',
            "station.timezone",
            "unknown time zone",
        ),
        ('[station]\nid = "s1"\nrequirements = "bali"\n', "station.requirements", "lumajang"),
        (
            '[station]\nid = "s1"\n[biometrics]\nretention_days = -1\n',
            "biometrics.retention_days",
            "greater than or equal",
        ),
        ('[station]\nid = "s1"\n[logging]\nlevel = 3\n', "logging.level", "Input should be"),
        (
            '[station]\nid = "s1"\n[sop.budget_minutes]\nlunch = 60\n',
            "sop.budget_minutes.lunch",
            "Input should be",
        ),
        (
            '[station]\nid = "s1"\n[sop.budget_minutes]\ncheck = 0\n',
            "sop.budget_minutes.check",
            "greater than 0",
        ),
        ('[station]\nid = "s1"\n[register]\npath = 5\n', "register.path", "Input"),
        ("[station\nid = 1\n", "-", "not valid TOML"),
        (
            '[station]\nid = "s1"\n[devices.pad]\nkind = "toaster"\npath = "/dev/x"\n',
            "devices.pad",
            "does not match any of the expected tags",
        ),
        (
            '[station]\nid = "s1"\n[devices.pad]\nkind = "signature_pad"\n',
            "devices.pad.path",
            "required key is missing",
        ),
        (
            '[station]\nid = "s1"\n[devices."Pad 1"]\nkind = "signature_pad"\npath = "/d"\n',
            "devices.Pad 1",
            "should match pattern",
        ),
    ],
)
def test_each_problem_names_the_file_the_key_and_what_is_wrong(
    tmp_path: Path, text: str, key: str, english: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    rendered = caught.value.render("en")
    assert rendered.startswith(f"{path}: {key}: ")
    assert english in rendered


def test_messages_are_indonesian_first(tmp_path: Path) -> None:
    path = _write(tmp_path, '[station]\nid = "s1"\nwarna = "merah"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.render("id") == f"{path}: station.warna: kunci tidak dikenal"


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = _write(tmp_path, '[station]\nid = "BAD ID"\n[logging]\nformat = "xml"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert [p.key for p in caught.value.problems] == ["station.id", "logging.format"]


def test_config_check_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = REPO / "examples" / "station.toml"
    assert run(["config", "check", str(good)]) == 0
    assert "konfigurasi sah" in capsys.readouterr().out
    bad = _write(tmp_path, '[station]\nid = "s1"\nunknown = 1\n')
    assert run(["--lang", "en", "config", "check", str(bad)]) == 2
    assert capsys.readouterr().err.strip() == f"{bad}: station.unknown: unknown key"
    missing = tmp_path / "nope.toml"
    assert run(["config", "check", str(missing)]) == 2
    assert f"{missing}: -: tidak dapat dibaca" in capsys.readouterr().err
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00")
    assert run(["config", "check", str(binary)]) == 2
    assert "UTF-8" in capsys.readouterr().err


def test_bad_usage_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        run(["register", "explode"])
    assert caught.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_an_overlay_adds_devices_to_the_station_file(tmp_path: Path) -> None:
    base = _write(tmp_path, '[station]\nid = "s1"\n[hal]\npoll_interval_s = 2\n')
    overlay = tmp_path / "devices.toml"
    overlay.write_text(
        '[devices.signature_pad]\nkind = "signature_pad"\npath = "/dev/serial/by-id/pad"\n'
        "[hal]\nreconnect_max_s = 3\n",
        encoding="utf-8",
    )
    config = load_config(base, overlays=[overlay])
    pad = config.devices["signature_pad"]
    assert isinstance(pad, SignaturePadConfig)
    assert pad.path == "/dev/serial/by-id/pad"
    assert (config.hal.poll_interval_s, config.hal.reconnect_max_s) == (2, 3)


def test_the_disk_reserve_is_read(tmp_path: Path) -> None:
    file = tmp_path / "station.toml"
    file.write_text('[station]\nid = "s1"\n[paths]\nstate_dir = "state"\nreserve_mb = 6\n')
    config = load_config(file)
    assert (config.paths.reserve_mb, config.state_dir) == (6, (tmp_path / "state").resolve())
    file.write_text('[station]\nid = "s1"\n[paths]\nreserve_mb = -1\n')
    with pytest.raises(ConfigError) as refused:
        load_config(file)
    assert "paths.reserve_mb" in refused.value.render("en")


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "https://127.0.0.1:8470"),
        ("0.0.0.0", "https://127.0.0.1:8470"),  # noqa: S104 - the setting under test
        ("::", "https://[::1]:8470"),  # asyncio listens IPv6-only there
        ("::1", "https://[::1]:8470"),
    ],
)
def test_commands_on_the_station_reach_the_api_on_loopback(
    tmp_path: Path, host: str, url: str
) -> None:
    file = tmp_path / "station.toml"
    file.write_text(
        f'[station]\nid = "s1"\n[api]\nhost = "{host}"\nallow_remote = true\n'
        'allowed_clients = ["192.168.1.0/28"]\ntls_names = ["ktpel.local"]\n'
    )
    assert load_config(file).api.local_url == url
