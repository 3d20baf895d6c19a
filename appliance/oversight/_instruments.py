"""The survey's two instruments, as the register records them.

- The keypad (the seeds' *koin kepuasan*): one press of four buttons after the handover,
  anonymous, linked to the service type only. It is the quick instrument: one overall
  feeling, not the nine elements, so it is reported as its own satisfaction share and
  counts, never folded into the IKM (whose every respondent scores all nine elements;
  a press scored as nine equal answers would count people who answered one question
  as if they had answered nine).
- The questionnaire on the kiosk: the nine elements on the 1-4 scale, stored by code,
  with an optional respondent profile (sex, age band, education, occupation).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Annotated, Final

from pydantic import BaseModel, ConfigDict, Field

from appliance._text import Text
from appliance.domain import Sex

from ._elements import HIGHEST_SCORE, LOWEST_SCORE, Element


class Satisfaction(StrEnum):
    """A keypad press, by what the button says (the buttons' own order is the device's)."""

    SANGAT_PUAS = "sangat_puas"
    PUAS = "puas"
    KURANG_PUAS = "kurang_puas"
    TIDAK_PUAS = "tidak_puas"

    @property
    def label(self) -> Text:
        return _SATISFACTION_LABELS[self]

    @property
    def satisfied(self) -> bool:
        """Counted in the satisfaction share: very satisfied or satisfied."""
        return self in {Satisfaction.SANGAT_PUAS, Satisfaction.PUAS}


_SATISFACTION_LABELS: Final = MappingProxyType(
    {
        Satisfaction.SANGAT_PUAS: Text("Sangat puas", "Very satisfied"),
        Satisfaction.PUAS: Text("Puas", "Satisfied"),
        Satisfaction.KURANG_PUAS: Text("Kurang puas", "Not quite satisfied"),
        Satisfaction.TIDAK_PUAS: Text("Tidak puas", "Dissatisfied"),
    }
)


class AgeBand(StrEnum):
    UNDER_20 = "17-19"
    TWENTIES = "20-29"
    THIRTIES = "30-39"
    FORTIES = "40-49"
    FIFTIES = "50-59"
    SIXTY_PLUS = "60+"


class Education(StrEnum):
    SD = "sd"
    """SD ke bawah: primary school or less."""
    SMP = "smp"
    SMA = "sma"
    DIPLOMA = "diploma"
    """D1-D4."""
    S1 = "s1"
    S2_PLUS = "s2+"


class Occupation(StrEnum):
    PNS = "pns"
    TNI_POLRI = "tni_polri"
    SWASTA = "swasta"
    WIRAUSAHA = "wirausaha"
    PELAJAR = "pelajar"
    """Pelajar/Mahasiswa: a pupil or student."""
    LAINNYA = "lainnya"


PROFILE_LABELS: Final[Mapping[str, Text]] = MappingProxyType(
    {
        "sex": Text("Jenis kelamin", "Sex"),
        "age_band": Text("Umur", "Age"),
        "education": Text("Pendidikan", "Education"),
        "occupation": Text("Pekerjaan", "Occupation"),
    }
)

Score = Annotated[int, Field(ge=LOWEST_SCORE, le=HIGHEST_SCORE)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Answers(_Strict):
    """One respondent's score of each of the nine elements, by code."""

    U1: Score
    U2: Score
    U3: Score
    U4: Score
    U5: Score
    U6: Score
    U7: Score
    U8: Score
    U9: Score

    def by_element(self) -> dict[Element, int]:
        return {element: getattr(self, element.value) for element in Element}


class Profile(_Strict):
    """What a respondent chose to say about themselves; every part may be left out."""

    sex: Sex | None = None
    age_band: AgeBand | None = None
    education: Education | None = None
    occupation: Occupation | None = None


__all__ = [
    "PROFILE_LABELS",
    "AgeBand",
    "Answers",
    "Education",
    "Occupation",
    "Profile",
    "Satisfaction",
    "Score",
]
