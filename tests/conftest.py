from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.clock import ManualClock
from appliance.register import Register, StationKey

from .fault_matrix import RESULTS, render_table


@pytest.fixture(scope="session")
def station_key() -> StationKey:
    return StationKey.generate()


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
