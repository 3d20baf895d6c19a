"""Jittered exponential backoff, for everything that reconnects: devices after an unplug,
the uplink after its broker went away."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delays between reconnection attempts: doubling, capped, with jitter so that
    devices on one hub do not all retry in the same instant."""

    initial_s: float = 0.1
    maximum_s: float = 1.0
    jitter: float = 0.2

    def delays(
        self,
        rng: random.Random,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> AsyncIterator[None]:
        """Yield at once, then after each pause; `sleep` pauses (a loop watched for
        liveness passes one that beats while it sleeps)."""
        return self._delays(rng, sleep)

    def pauses(self, rng: random.Random) -> Iterator[float]:
        """The pauses themselves, endlessly, for a caller that waits on more than a
        clock (a device's own status change, say)."""
        delay = self.initial_s
        while True:
            yield delay * (1 + rng.uniform(-self.jitter, self.jitter))
            delay = min(delay * 2, self.maximum_s)

    async def _delays(
        self, rng: random.Random, sleep: Callable[[float], Awaitable[None]]
    ) -> AsyncIterator[None]:
        for pause in self.pauses(rng):
            yield None
            await sleep(pause)
