"""The simulated scanners' first use of a person (issue 16, defect 6): the person's
fingers are grown when they are presented, so a capture never waits for them past the
scanner's answer deadline."""

from __future__ import annotations

import asyncio

from sim.fingerprints import SyntheticFinger, _master
from sim.sbi import SbiKind, SbiSimulator

_PERSON = 7_100_016  # not one of the day's pool, so its fingers are new to this process


async def test_presenting_a_person_grows_their_ten_fingers_before_any_capture() -> None:
    scanner = SbiSimulator(name="single_finger_scanner", kind=SbiKind.FINGER_SINGLE)
    scanner.present(_PERSON)
    async with asyncio.timeout(120):  # ten fingers, about a second each on two cores
        await scanner.fingers_ready()
    grown = _master.cache_info().misses
    periods = [SyntheticFinger(person_seed=_PERSON, finger=f).ridge_period for f in range(1, 11)]
    assert _master.cache_info().misses == grown, "a capture would still have grown a finger"
    assert all(7.5 <= period <= 10.5 for period in periods)


async def test_the_toy_print_and_other_devices_grow_nothing() -> None:
    camera = SbiSimulator(name="camera", kind=SbiKind.FACE)
    before = _master.cache_info().misses
    camera.present(_PERSON + 1)
    await camera.fingers_ready()
    scanner = SbiSimulator(name="single_finger_scanner", kind=SbiKind.FINGER_SINGLE)
    scanner.present(None)
    await scanner.fingers_ready()
    assert _master.cache_info().misses == before
