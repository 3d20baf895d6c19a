"""The scaled clock's timeouts (issue 16, defect 3): a device step's budget at simulation
speed must leave its computing the real time computing takes."""

from __future__ import annotations

import asyncio
import hashlib
import time

import pytest

from appliance.clock import COMPUTE_ALLOWANCE_S, ScaledClock


def _clock(speed: float, *, compute_allowance_s: float = COMPUTE_ALLOWANCE_S) -> ScaledClock:
    return ScaledClock(speed=speed, start_wall_ns=0, compute_allowance_s=compute_allowance_s)


def _compute_for(seconds: float) -> int:
    """CPU work that lasts `seconds` of real time, as image processing would."""
    digest, rounds = b"", 0
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        digest = hashlib.sha256(digest).digest()
        rounds += 1
    return rounds


async def test_computing_longer_than_the_scaled_budget_is_not_cut_off() -> None:
    clock = _clock(600)
    budget_s = 60.0  # 0.1 s of real time at 600x: less than the work below takes
    async with clock.timeout(budget_s) as scope:
        rounds = await asyncio.to_thread(_compute_for, 3 * budget_s / clock.speed)
    assert rounds > 0
    assert not scope.expired()


async def test_a_hung_block_is_still_cancelled_once_the_allowance_is_spent() -> None:
    clock = _clock(1000, compute_allowance_s=0.05)
    with pytest.raises(TimeoutError):
        async with clock.timeout(60) as scope:
            await asyncio.Event().wait()  # a device that never answers
    assert scope.expired()


async def test_the_scope_deadline_is_the_granted_real_time() -> None:
    clock = _clock(60)
    loop = asyncio.get_running_loop()
    before = loop.time()
    async with clock.timeout(360) as scope:
        deadline = scope.when()
    assert deadline is not None
    assert COMPUTE_ALLOWANCE_S <= deadline - before < COMPUTE_ALLOWANCE_S + 1
    async with clock.timeout(None) as unbounded:
        assert unbounded.when() is None


@pytest.mark.parametrize(
    ("speed", "allowance", "budget", "real"),
    [
        (60, 30, 360, 30),  # the SOP's 6 minutes at 60x: the allowance
        (60, 30, 3600, 60),  # a budget whose scaled time is longer keeps it
        (60, 30, 10, 10),  # never more than the budget itself
        (1, 30, 360, 360),  # production speed: unchanged
        (1, 30, 5, 5),
        (60, 0, 360, 6),  # no allowance: plain scaling
        (60, 30, -5, 0),
    ],
)
def test_granted_real_seconds(speed: float, allowance: float, budget: float, real: float) -> None:
    clock = _clock(speed, compute_allowance_s=allowance)
    assert clock.timeout_real_s(budget) == pytest.approx(real)


def test_a_negative_allowance_is_refused() -> None:
    with pytest.raises(ValueError, match="allowance"):
        _clock(60, compute_allowance_s=-1)
