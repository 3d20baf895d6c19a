"""The announcer: every call spoken on the station's own audio output, one after the
other, so no browser's autoplay rule can silence the waiting room.

Calls arrive from the register's appending thread (`announce`, handed over to the loop)
and wait in an unbounded queue: a call made while another is playing is said after it,
never dropped (the queue grows at the pace of counter officers' clicks). One task
(`run`) renders and plays them in order. A failure (no sound card, espeak-ng missing) is
logged and the next call is tried: speech is a courtesy, never a reason for the station
to stop. The play function is injected; the station's plays through ALSA's `aplay`."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

from appliance.logs import get_logger

from ._speller import call_sentence
from ._synth import SpeechError, Synthesizer, wav_duration_s

log = get_logger(__name__)

APLAY: Final = "aplay"
_PLAY_GRACE_S: Final = 10.0
"""How much longer than the sound itself `aplay` may take before it is stopped (a device
that blocks would otherwise hold every later call)."""
_HISTORY: Final = 64

Play = Callable[[bytes], Awaitable[None]]
"""Plays one WAV to its end."""


@dataclass(frozen=True, slots=True)
class Call:
    """A ticket called (or called again) to a counter: all that is ever said aloud."""

    seq: int
    """The register event that made the call."""
    ticket: str
    counter: str
    heard_ns: int
    """`time.monotonic_ns()` when the station learnt of it (the register's listener)."""


@dataclass(frozen=True, slots=True)
class Started:
    """A call whose audio began: the WAV ready and handed to the play function."""

    call: Call
    started_ns: int

    @property
    def latency_s(self) -> float:
        """From the register event to the start of its audio."""
        return (self.started_ns - self.call.heard_ns) / 1e9


class Announcer:
    def __init__(self, *, synthesizer: Synthesizer, play: Play) -> None:
        self._synthesizer = synthesizer
        self._play = play
        self._calls: asyncio.Queue[Call] = asyncio.Queue()
        self._started = asyncio.Condition()
        self.started: deque[Started] = deque(maxlen=_HISTORY)
        """The latest calls whose audio began, the oldest first (for the benchmark)."""

    def announce(self, call: Call) -> None:
        """Queue `call`; in the loop's thread (the station hands it over)."""
        self._calls.put_nowait(call)

    @property
    def waiting(self) -> int:
        return self._calls.qsize()

    async def run(self) -> None:
        """Say the calls in the order they came, until cancelled."""
        while True:
            call = await self._calls.get()
            try:
                await self._say(call)
            except Exception as error:  # noqa: BLE001 - logged; the next call is tried
                log.warning(
                    "speech_call_failed",
                    ticket=call.ticket,
                    counter=call.counter,
                    error=str(error) or type(error).__name__,
                )

    async def _say(self, call: Call) -> None:
        wav = await self._synthesizer.wav(call_sentence(call.ticket, call.counter))
        started = Started(call=call, started_ns=time.monotonic_ns())
        self.started.append(started)
        async with self._started:
            self._started.notify_all()
        log.info(
            "speech_call_playing",
            ticket=call.ticket,
            counter=call.counter,
            latency_ms=round(started.latency_s * 1000, 1),
        )
        await self._play(wav)

    async def wait_started(self, seq: int) -> Started:
        """Until the call made by register event `seq` begins to play."""
        async with self._started:
            await self._started.wait_for(lambda: self._find(seq) is not None)
        found = self._find(seq)
        assert found is not None
        return found

    def _find(self, seq: int) -> Started | None:
        return next((s for s in reversed(self.started) if s.call.seq == seq), None)


def aplay(device: str) -> Play:
    """Play a WAV on ALSA `device` with `aplay` (Debian's alsa-utils), to its end."""

    async def play(wav: bytes) -> None:
        binary = shutil.which(APLAY)
        if binary is None:
            raise SpeechError(f"{APLAY} is not installed (Debian package alsa-utils)")
        process = await asyncio.create_subprocess_exec(
            binary,
            "-q",
            "-D",
            device,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            async with asyncio.timeout(wav_duration_s(wav) + _PLAY_GRACE_S):
                _, err = await process.communicate(wav)
        except BaseException:
            # Stopped (the station stopping) or stuck: the speaker goes quiet with us.
            if process.returncode is None:
                process.kill()
                await process.wait()
            raise
        if process.returncode != 0:
            lines = err.decode(errors="replace").strip().splitlines()
            raise SpeechError(
                f"{APLAY} -D {device} failed ({process.returncode}): {lines[-1] if lines else ''}"
            )

    return play
