"""The station sets its own file modes (issue 16, defect 8b): started by hand or by
`appliance demo` under umask 022, the register with its -wal and -shm, the biometric
index and the collector's database are 0600, and the state and key directories 0700."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.biostore import BiometricStore, Modality
from appliance.config import Config, load_config
from appliance.keys import init_keys, secure_state_directories
from appliance.register import EventType, Register, StationKey
from appliance.sync._store_sqlite import SqliteStore


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def umask_022() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    file = tmp_path / "station.toml"
    file.write_text(
        '[station]\nid = "lumajang-01"\noffice = "Kecamatan Lumajang"\n'
        '[paths]\nstate_dir = "state"\n',
        encoding="utf-8",
    )
    return load_config(file)


def open_everything(config: Config) -> None:
    secure_state_directories(config)
    key = StationKey.load(config.station_key_path)
    with (
        Register.open(config.register_path, station_id="lumajang-01", key=key) as register,
        BiometricStore.open(
            config.biometrics_dir, master_key_path=config.biometric_key_path
        ) as biostore,
    ):
        register.append(EventType.BLANK_RECEIVED, {"count": 1, "reference": "B-1"})
        biostore.put("APP-1", Modality.FACE, b"face")
        wal = config.register_path.with_name(f"{config.register_path.name}-wal")
        shm = config.register_path.with_name(f"{config.register_path.name}-shm")
        # While the register is open: the files a running daemon has.
        assert {p.name: mode(p) for p in (config.register_path, wal, shm)} == {
            p.name: 0o600 for p in (config.register_path, wal, shm)
        }
        assert mode(config.biometrics_dir / "index.sqlite3") == 0o600


def test_a_station_set_up_under_umask_022_is_private(config: Config) -> None:
    init_keys(config)
    open_everything(config)
    state = config.state_dir
    assert mode(state) == 0o700
    assert mode(config.station_key_path.parent) == 0o700
    assert mode(config.biometrics_dir) == 0o700
    for key in (config.station_key_path, config.biometric_key_path):
        assert mode(key) == 0o600


def test_modes_an_older_version_left_wide_are_made_private(config: Config) -> None:
    init_keys(config)
    open_everything(config)
    register = config.register_path
    for path in (register, config.biometrics_dir / "index.sqlite3"):
        path.chmod(0o644)
    wal = register.with_name(f"{register.name}-wal")
    wal.touch()
    wal.chmod(0o644)
    for directory in (config.state_dir, config.station_key_path.parent):
        directory.chmod(0o755)
    open_everything(config)
    assert mode(register) == 0o600
    assert mode(config.biometrics_dir / "index.sqlite3") == 0o600
    assert mode(config.state_dir) == 0o700
    assert mode(config.station_key_path.parent) == 0o700


def test_a_directory_outside_the_state_is_created_private_but_never_changed(
    tmp_path: Path,
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)
    file = tmp_path / "station.toml"
    file.write_text(
        '[station]\nid = "lumajang-01"\noffice = "Kecamatan Lumajang"\n'
        f'[paths]\nstate_dir = "state"\n[keys]\nstation_key = "{shared}/new/station.key"\n',
        encoding="utf-8",
    )
    config = load_config(file)
    secure_state_directories(config)
    assert mode(shared) == 0o755
    assert mode(shared / "new") == 0o700


def test_the_collector_database_is_private(tmp_path: Path) -> None:
    store = SqliteStore.open(str(tmp_path / "central" / "collector.sqlite3"))
    try:
        assert mode(tmp_path / "central" / "collector.sqlite3") == 0o600
    finally:
        store.close()
