"""A call as sound: a two-tone chime, then the sentence in espeak-ng's Indonesian voice,
as one WAV, synthesised offline on the station.

espeak-ng writes 16-bit mono PCM at its own rate (22 050 Hz for `id`); the chime is made
here at whatever rate espeak reports, so the two join without resampling. A rendered
call is kept (by sentence) for the board that fetches the same audio, and for a recall,
which says the same sentence again."""

from __future__ import annotations

import array
import asyncio
import io
import math
import shutil
import sys
import wave
from collections import OrderedDict
from functools import cache
from typing import Final

from appliance.errors import ApplianceError

ESPEAK: Final = "espeak-ng"
_SAMPLE_WIDTH: Final = 2  # bytes: 16-bit PCM, what espeak-ng writes
_CHIME_TONES: Final = ((784.0, 0.42), (622.3, 0.62))
"""(Hz, seconds): G5 then E flat 5, the falling "ding-dong" of a public announcement."""
_PAUSE_S: Final = 0.3
"""Between the chime and the voice: heads turn to the TV before the number is said."""
_CHIME_LEVEL: Final = 0.45
_RENDER_TIMEOUT_S: Final = 15.0


class SpeechError(ApplianceError):
    """A call could not be synthesised or played."""


def wav_duration_s(wav: bytes) -> float:
    with wave.open(io.BytesIO(wav), "rb") as reader:
        frames: int = reader.getnframes()
        rate: int = reader.getframerate()
    return frames / rate


@cache
def chime(rate: int) -> bytes:
    """The chime and the pause after it, as 16-bit mono frames at `rate` (little-endian,
    as WAV stores them)."""
    samples = array.array("h")
    for frequency, seconds in _CHIME_TONES:
        count = int(rate * seconds)
        for n in range(count):
            t = n / rate
            # A struck bell: a 5 ms attack, then an exponential fade; the octave above
            # gives it a little shine.
            envelope = min(1.0, t / 0.005) * math.exp(-4.0 * t / seconds)
            wave_value = math.sin(2 * math.pi * frequency * t) + 0.3 * math.sin(
                4 * math.pi * frequency * t
            )
            samples.append(int(32767 * _CHIME_LEVEL / 1.3 * envelope * wave_value))
    samples.extend([0] * int(rate * _PAUSE_S))
    if sys.byteorder == "big":
        samples.byteswap()
    return samples.tobytes()


class Synthesizer:
    """Sentences to WAV bytes with espeak-ng, the latest `keep` kept."""

    def __init__(self, *, voice: str = "id", speed: int = 140, keep: int = 8) -> None:
        self._voice = voice
        self._speed = speed
        self._keep = keep
        self._done: OrderedDict[str, bytes] = OrderedDict()
        self._rendering: dict[str, asyncio.Future[bytes]] = {}

    async def wav(self, sentence: str) -> bytes:
        """The chime and `sentence`, one WAV; the same bytes again for the same sentence."""
        if (kept := self._done.get(sentence)) is not None:
            self._done.move_to_end(sentence)
            return kept
        pending = self._rendering.get(sentence)
        if pending is None:
            # The station's speaker and a board asking at once render it once.
            pending = asyncio.ensure_future(self._render(sentence))
            self._rendering[sentence] = pending
            pending.add_done_callback(lambda _: self._rendering.pop(sentence, None))
        return await asyncio.shield(pending)

    async def _render(self, sentence: str) -> bytes:
        speech = await self._speak(sentence)
        with wave.open(io.BytesIO(speech), "rb") as reader:
            channels, width, rate = (
                reader.getnchannels(),
                reader.getsampwidth(),
                reader.getframerate(),
            )
            # espeak-ng's --stdout header claims a length it cannot know: read to the end.
            frames = reader.readframes(reader.getnframes())
        if channels != 1 or width != _SAMPLE_WIDTH:
            raise SpeechError(f"{ESPEAK} wrote {channels} channel(s) of {width} bytes")
        out = io.BytesIO()
        with wave.open(out, "wb") as writer:
            writer.setnchannels(1)
            writer.setsampwidth(_SAMPLE_WIDTH)
            writer.setframerate(rate)
            writer.writeframes(chime(rate) + frames)
        wav = out.getvalue()
        self._done[sentence] = wav
        while len(self._done) > self._keep:
            self._done.popitem(last=False)
        return wav

    async def _speak(self, sentence: str) -> bytes:
        binary = shutil.which(ESPEAK)
        if binary is None:
            raise SpeechError(f"{ESPEAK} is not installed (Debian package espeak-ng)")
        process = await asyncio.create_subprocess_exec(
            binary,
            "-v",
            self._voice,
            "-s",
            str(self._speed),
            "--stdout",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            async with asyncio.timeout(_RENDER_TIMEOUT_S):
                # On stdin, not argv: a sentence is never read as an option.
                out, err = await process.communicate(sentence.encode() + b"\n")
        except BaseException:
            if process.returncode is None:
                process.kill()
                await process.wait()
            raise
        if process.returncode != 0 or not out:
            detail = err.decode(errors="replace").strip()[-200:]
            raise SpeechError(f"{ESPEAK} failed ({process.returncode}): {detail}")
        return out
