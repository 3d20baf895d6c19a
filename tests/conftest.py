from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.clock import ManualClock
from appliance.register import Register, StationKey
from sim.pcscd import SOCKET_VARIABLE, PrivatePcscd
from sim.postgres import PrivatePostgres

from .fault_matrix import RESULTS, render_table

# libpcsclite reads its socket's path once per process, at the first PC/SC context: point
# this process at the private pcscd the tests start, never at the machine's own. Each
# xdist worker is a process of its own, which inherits the controller's setting: it
# takes its own path (the controller itself runs no test).
if "PYTEST_XDIST_WORKER" in os.environ:
    os.environ[SOCKET_VARIABLE] = str(PrivatePcscd().socket_path)
else:
    os.environ.setdefault(SOCKET_VARIABLE, str(PrivatePcscd().socket_path))


@pytest.fixture(scope="session")
def station_key() -> StationKey:
    return StationKey.generate()


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivatePostgres]:
    """A throwaway PostgreSQL server for the collector's tests; a database per test."""
    with PrivatePostgres(directory=tmp_path_factory.mktemp("postgres")) as server:
        yield server


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def register_path(tmp_path: Path) -> Path:
    return tmp_path / "register.sqlite3"


@pytest.fixture
def register(
    register_path: Path, station_key: StationKey, clock: ManualClock
) -> Iterator[Register]:
    with Register.open(
        register_path, station_id="lumajang-01", key=station_key, clock=clock
    ) as reg:
        yield reg


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if RESULTS:
        terminalreporter.section("fault matrix: device x fault -> error, then recovery")
        terminalreporter.write_line(render_table())
