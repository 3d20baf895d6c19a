"""Spoken calls in Indonesian: the sentence for a call (`_speller`, numbers as words from
num2words), its sound (`_synth`, a chime and espeak-ng's `id` voice, offline) and the
announcer that plays each call on the station's audio output in order (`_player`).

Foundation-level: it knows tickets and counters as strings, not the register or the
pipeline; the station hands it the calls."""

from ._player import Announcer, Call, Play, Started, aplay
from ._settings import SpeechSection
from ._speller import call_sentence, spell_counter, spell_number, spell_ticket
from ._synth import SpeechError, Synthesizer, chime, wav_duration_s

__all__ = [
    "Announcer",
    "Call",
    "Play",
    "SpeechError",
    "SpeechSection",
    "Started",
    "Synthesizer",
    "aplay",
    "call_sentence",
    "chime",
    "spell_counter",
    "spell_number",
    "spell_ticket",
    "wav_duration_s",
]
