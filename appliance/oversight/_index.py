"""The satisfaction index (IKM) of PermenPANRB 14/2017, in exact arithmetic.

Per element, NRR = the sum of its scores / the number of respondents. Each element weighs
1/9: the unit index is Σ NRR x 1/9 (1-4), and IKM = unit index x 25 (25-100).

Everything is a `fractions.Fraction` until it is shown: 1/9 has no finite decimal, so a
`Decimal` sum would round at the weighting and again at x 25, and an IKM a hair from a
grade's edge could be graded by the rounding rather than by the answers. With fractions
the index is exact, the station and the central office get the identical number from the
same answers, and it is rounded once, half up, to two places, when it is displayed.

The grade is read from that displayed number (`grade_of`): the grade table's edges are
two-place numbers with gaps between them (88.30 | 88.31), so the only grading with no
hole and no disagreement with the printed figure is the printed figure's.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from types import MappingProxyType
from typing import Final

from appliance._text import Text

from ._elements import Element

ELEMENT_WEIGHT: Final = Fraction(1, len(Element))
IKM_FACTOR: Final = 25


class Grade(StrEnum):
    """The service's quality (*mutu pelayanan*) by its converted IKM."""

    A = "A"
    B = "B"
    C = "C"
    D = "D"

    @property
    def label(self) -> Text:
        return _GRADE_LABELS[self]

    @property
    def lowest(self) -> Decimal:
        """The lowest displayed IKM of the grade."""
        return _LOWEST[self]


_GRADE_LABELS: Final = MappingProxyType(
    {
        Grade.A: Text("Sangat Baik", "Very good"),
        Grade.B: Text("Baik", "Good"),
        Grade.C: Text("Kurang Baik", "Not quite good"),
        Grade.D: Text("Tidak Baik", "Not good"),
    }
)
_LOWEST: Final = MappingProxyType(
    {
        Grade.A: Decimal("88.31"),
        Grade.B: Decimal("76.61"),
        Grade.C: Decimal("65.00"),
        Grade.D: Decimal("25.00"),
    }
)


def shown(value: Fraction, places: int = 2) -> Decimal:
    """`value` rounded half up to `places` decimals: the one rounding, for display."""
    scale = 10**places
    return Decimal(math.floor(value * scale + Fraction(1, 2))).scaleb(-places)


def grade_of(ikm: Fraction) -> Grade:
    """The grade of a converted IKM, read from its displayed (two-place) value."""
    displayed = shown(ikm)
    for grade in (Grade.A, Grade.B, Grade.C):
        if displayed >= grade.lowest:
            return grade
    return Grade.D


@dataclass(frozen=True, slots=True)
class SurveyIndex:
    """The index of `respondents` complete answer sets, from their totals per element."""

    respondents: int
    totals: Mapping[Element, int]

    @classmethod
    def of(cls, answer_sets: Iterable[Mapping[Element, int]]) -> SurveyIndex | None:
        """The index of these answer sets (each scores all nine elements); None for none."""
        totals = dict.fromkeys(Element, 0)
        respondents = 0
        for answers in answer_sets:
            respondents += 1
            for element in Element:
                totals[element] += answers[element]
        if respondents == 0:
            return None
        return cls(respondents=respondents, totals=MappingProxyType(totals))

    def nrr(self, element: Element) -> Fraction:
        """The element's average score (*nilai rata-rata unsur*), 1-4."""
        return Fraction(self.totals[element], self.respondents)

    @property
    def unit_index(self) -> Fraction:
        """Σ NRR x 1/9, 1-4."""
        return sum((self.nrr(element) * ELEMENT_WEIGHT for element in Element), Fraction(0))

    @property
    def ikm(self) -> Fraction:
        """The converted index, 25-100."""
        return self.unit_index * IKM_FACTOR

    @property
    def grade(self) -> Grade:
        return grade_of(self.ikm)


__all__ = ["ELEMENT_WEIGHT", "IKM_FACTOR", "Grade", "SurveyIndex", "grade_of", "shown"]
