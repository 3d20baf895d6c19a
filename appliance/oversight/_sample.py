"""The survey's minimum sample (Krejcie and Morgan, 1970), as PermenPANRB 14/2017 uses it:

    S = χ² N P(1-P) / (d² (N-1) + χ² P(1-P)),  χ² = 3.841, P = 0.5, d = 0.05,

with N the people served in the previous period. Computed in fractions and rounded to the
nearest whole respondent, half up, which gives the published table: N = 10, 50, 100,
1,000, 10,000, 1,000,000 need 10, 44, 80, 278, 370, 384.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Final

CHI_SQUARE: Final = Fraction("3.841")
"""χ² for one degree of freedom at 95% confidence."""
PROPORTION: Final = Fraction(1, 2)
MARGIN: Final = Fraction(1, 20)


def minimum_sample(population: int) -> int:
    """The respondents a survey of `population` people served needs (0 for none)."""
    if population < 0:
        raise ValueError("a population is never negative")
    if population == 0:
        return 0
    spread = CHI_SQUARE * PROPORTION * (1 - PROPORTION)
    exact = spread * population / (MARGIN**2 * (population - 1) + spread)
    return math.floor(exact + Fraction(1, 2))


__all__ = ["CHI_SQUARE", "MARGIN", "PROPORTION", "minimum_sample"]
