"""Spoken calls: the sentence (numbers checked against num2words), the WAV espeak-ng and
the chime make, and the announcer that plays every call in order and survives failures."""

from __future__ import annotations

import array
import asyncio
import io
import math
import subprocess
import sys
import wave
from pathlib import Path

import pytest
import structlog
from num2words import num2words
from pydantic import ValidationError

from appliance.config import load_config
from appliance.speech import (
    Announcer,
    Call,
    SpeechError,
    SpeechSection,
    Synthesizer,
    aplay,
    call_sentence,
    spell_counter,
    spell_number,
    spell_ticket,
)

from .test_architecture import FOUNDATION, _imports_of

SENTENCE = "Nomor antrian A nol dua belas, silakan menuju loket satu"


@pytest.mark.parametrize("number", range(1000))
def test_a_number_is_spoken_as_num2words_says_with_its_leading_zeros_as_nol(number: int) -> None:
    words = num2words(number, lang="id")
    assert spell_number(str(number)) == words
    padded = f"{number:03d}"
    zeros = len(padded) - len(str(number))
    assert spell_number(padded) == " ".join(["nol"] * zeros + [words])


@pytest.mark.parametrize(
    ("ticket", "counter", "sentence"),
    [
        ("A-012", "loket-1", SENTENCE),
        ("A-001", "loket-2", "Nomor antrian A nol nol satu, silakan menuju loket dua"),
        ("B-100", "loket-10", "Nomor antrian B seratus, silakan menuju loket sepuluh"),
        ("C-000", "3", "Nomor antrian C nol nol nol, silakan menuju loket tiga"),
        ("D-019", "meja-b", "Nomor antrian D nol sembilan belas, silakan menuju meja B"),
        (
            "E-1234",
            "loket-11",
            "Nomor antrian E seribu dua ratus tiga puluh empat, silakan menuju loket sebelas",
        ),
    ],
)
def test_a_call_is_one_indonesian_sentence(ticket: str, counter: str, sentence: str) -> None:
    assert call_sentence(ticket, counter) == sentence


@pytest.mark.parametrize("bad", ["", "-", "12a", "٣", "¹"])
def test_what_is_not_a_number_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="not a number"):
        spell_number(bad)


def test_a_ticket_or_counter_without_letters_or_digits_is_refused() -> None:
    with pytest.raises(ValueError, match="ticket"):
        spell_ticket("--")
    with pytest.raises(ValueError, match="counter"):
        spell_counter("")


def _frames(wav: bytes) -> tuple[wave._wave_params, array.array[int]]:
    with wave.open(io.BytesIO(wav), "rb") as reader:
        params = reader.getparams()
        samples = array.array("h", reader.readframes(params.nframes))
    if sys.byteorder == "big":
        samples.byteswap()
    return params, samples


def _rms(samples: array.array[int]) -> float:
    return math.sqrt(sum(s * s for s in samples) / len(samples)) if samples else 0.0


async def test_a_call_renders_to_a_wav_of_a_chime_a_pause_and_the_voice(tmp_path: Path) -> None:
    synthesizer = Synthesizer()
    wav = await synthesizer.wav(SENTENCE)
    (tmp_path / "call.wav").write_bytes(wav)
    params, samples = _frames(wav)
    assert (params.nchannels, params.sampwidth, params.framerate) == (1, 2, 22050)
    rate = params.framerate
    seconds = len(samples) / rate
    # The chime (about 1 s) and twelve words at 140 a minute: about 6 s in all.
    assert 4.0 < seconds < 10.0
    chime, pause = samples[: int(0.9 * rate)], samples[int(1.06 * rate) : int(1.32 * rate)]
    voice = samples[int(1.4 * rate) :]
    assert _rms(chime) > 2000
    assert _rms(pause) < 50
    assert _rms(voice) > 1000
    # A recall says the same sentence: the very same bytes, not a second espeak-ng run.
    assert await synthesizer.wav(SENTENCE) is wav
    # The WAV is one any player takes: aplay plays it to the null device.
    await aplay("null")(wav)


async def test_rendering_the_same_sentence_at_once_runs_espeak_once() -> None:
    synthesizer = Synthesizer()
    first, second = await asyncio.gather(synthesizer.wav(SENTENCE), synthesizer.wav(SENTENCE))
    assert first is second


async def test_an_unknown_voice_or_device_is_a_speech_error() -> None:
    with pytest.raises(SpeechError, match="espeak-ng failed"):
        await Synthesizer(voice="xx-nothing").wav(SENTENCE)
    wav = await Synthesizer().wav(SENTENCE)
    with pytest.raises(SpeechError, match="aplay -D no-such-card failed"):
        await aplay("no-such-card")(wav)


class _QuickSynthesizer(Synthesizer):
    """The sentence's text in place of its sound: the queue's order is the point here."""

    async def wav(self, sentence: str) -> bytes:
        return sentence.encode()


def _call(seq: int, ticket: str, counter: str = "loket-1") -> Call:
    return Call(seq=seq, ticket=ticket, counter=counter, heard_ns=0)


async def test_calls_made_while_one_plays_are_queued_and_all_play_in_order() -> None:
    played: list[str] = []
    first_playing = asyncio.Event()
    release = asyncio.Event()
    all_played = asyncio.Event()

    async def play(wav: bytes) -> None:
        played.append(wav.decode())
        if len(played) == 1:
            first_playing.set()
            await release.wait()  # still playing while the others are called
        if len(played) == 4:
            all_played.set()

    announcer = Announcer(synthesizer=_QuickSynthesizer(), play=play)
    task = asyncio.create_task(announcer.run(), name="speech")
    announcer.announce(_call(10, "A-001"))
    await first_playing.wait()
    announcer.announce(_call(11, "A-002", "loket-2"))
    announcer.announce(_call(12, "B-001"))
    announcer.announce(_call(13, "A-001"))  # a recall
    assert announcer.waiting == 3
    release.set()
    async with asyncio.timeout(5):
        await all_played.wait()
        started = await announcer.wait_started(13)
    assert played == [
        call_sentence("A-001", "loket-1"),
        call_sentence("A-002", "loket-2"),
        call_sentence("B-001", "loket-1"),
        call_sentence("A-001", "loket-1"),
    ]
    assert [s.call.seq for s in announcer.started] == [10, 11, 12, 13]
    assert started.latency_s > 0
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_failed_call_is_logged_and_the_next_one_still_plays() -> None:
    played: list[str] = []
    done = asyncio.Event()

    async def play(wav: bytes) -> None:
        if not played:
            played.append("failed")
            raise SpeechError("aplay -D default failed (1): audio open error")
        played.append(wav.decode())
        done.set()

    announcer = Announcer(synthesizer=_QuickSynthesizer(), play=play)
    with structlog.testing.capture_logs() as logs:
        task = asyncio.create_task(announcer.run(), name="speech")
        announcer.announce(_call(1, "A-001"))
        announcer.announce(_call(2, "A-002"))
        async with asyncio.timeout(5):
            await done.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert played == ["failed", call_sentence("A-002", "loket-1")]
    failures = [entry for entry in logs if entry["event"] == "speech_call_failed"]
    assert failures == [
        {
            "event": "speech_call_failed",
            "log_level": "warning",
            "ticket": "A-001",
            "counter": "loket-1",
            "error": "aplay -D default failed (1): audio open error",
        }
    ]


def test_the_speech_section_is_strict_and_off_means_the_station_stays_quiet(
    tmp_path: Path,
) -> None:
    assert SpeechSection().plays_on_station
    assert not SpeechSection(device="off").plays_on_station
    assert not SpeechSection(enabled=False).plays_on_station
    for bad in ({"volume": 3}, {"device": "hw:0; rm -rf /"}, {"speed": 20}, {"voice": "../id"}):
        with pytest.raises(ValidationError):
            SpeechSection.model_validate(bad)
    path = tmp_path / "station.toml"
    path.write_text(
        '[station]\nid = "s1"\n[speech]\ndevice = "plughw:CARD=Device,DEV=0"\nvoice = "id+f3"\n',
        encoding="utf-8",
    )
    speech = load_config(path).speech
    assert (speech.device, speech.voice, speech.speed) == ("plughw:CARD=Device,DEV=0", "id+f3", 140)


def test_speech_imports_only_the_foundation() -> None:
    wrong = sorted(
        (where, what)
        for where, what in _imports_of("speech")
        if what not in FOUNDATION | {"speech"}
    )
    assert not wrong


def test_the_daemon_loads_num2words_with_the_first_call_not_before() -> None:
    probe = (
        "import sys, appliance.station, appliance.daemon; "
        "print('num2words' in sys.modules); "
        "from appliance.speech import call_sentence; call_sentence('A-001', 'loket-1'); "
        "print('num2words' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True
    ).stdout
    assert out.split() == ["False", "True"]
