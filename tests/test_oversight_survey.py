"""The survey's arithmetic (PermenPANRB 14/2017): NRR, the unit index, IKM and its grade
boundaries, a worked example checked by hand, Krejcie-Morgan's minimum sample, and the
reporting periods."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest
from pydantic import BaseModel, ValidationError

from appliance.oversight import (
    ELEMENTS,
    Answers,
    Element,
    Grade,
    OversightError,
    Period,
    PeriodField,
    PeriodKind,
    SurveyIndex,
    grade_of,
    minimum_sample,
    shown,
)


def _all(score: int) -> dict[Element, int]:
    return dict.fromkeys(Element, score)


def test_nrr_is_the_elements_sum_over_the_respondents_and_ikm_its_weighted_sum_times_25() -> None:
    index = SurveyIndex.of([_all(4), _all(3), {**_all(2), Element.U4: 4}])
    assert index is not None
    assert index.respondents == 3
    assert index.nrr(Element.U1) == Fraction(9, 3)
    assert index.nrr(Element.U4) == Fraction(11, 3)
    # 8 elements at 3 and U4 at 11/3: (8 x 3 + 11/3) / 9 = 83/27; x 25 = 2075/27 = 76.85...
    assert index.unit_index == Fraction(83, 27)
    assert index.ikm == Fraction(2075, 27)
    assert shown(index.ikm) == Decimal("76.85")
    assert index.grade is Grade.B


def test_nobody_answering_has_no_index() -> None:
    assert SurveyIndex.of([]) is None


def test_all_fours_is_100_and_all_ones_is_25() -> None:
    best, worst = SurveyIndex.of([_all(4)]), SurveyIndex.of([_all(1)])
    assert best is not None
    assert worst is not None
    assert (best.ikm, best.grade) == (Fraction(100), Grade.A)
    assert (worst.ikm, worst.grade) == (Fraction(25), Grade.D)


@pytest.mark.parametrize(
    ("ikm", "grade"),
    [
        ("88.31", Grade.A),
        ("88.30", Grade.B),
        ("76.61", Grade.B),
        ("76.60", Grade.C),
        ("65.00", Grade.C),
        ("64.99", Grade.D),
        ("100", Grade.A),
        ("25", Grade.D),
        # Between the table's two-place edges the displayed value decides: 88.305 shows
        # as 88.31 (half up), 88.3049 as 88.30.
        ("88.305", Grade.A),
        ("88.3049", Grade.B),
        ("76.605", Grade.B),
        ("64.995", Grade.C),
        ("64.9949", Grade.D),
    ],
)
def test_grade_boundaries(ikm: str, grade: Grade) -> None:
    assert grade_of(Fraction(ikm)) is grade


def test_an_index_a_hair_from_the_edge_is_graded_by_its_exact_value() -> None:
    """2650/30 = 88.333...: in fractions exactly; with a float or Decimal weighting 1/9
    would be rounded before the x 25."""
    sets = [_all(4)] * 16 + [_all(3)] * 14  # 16 x 4 + 14 x 3 = 106 per element, / 30
    index = SurveyIndex.of(sets)
    assert index is not None
    assert index.ikm == Fraction(106 * 25, 30)
    assert shown(index.ikm) == Decimal("88.33")
    assert index.grade is Grade.A


# The worked example: 32 respondents, hand-written, each scoring all nine elements.
WORKED = """
4 4 3 4 4 3 4 3 3
3 3 3 4 3 3 4 3 3
4 3 2 4 3 4 4 3 3
3 3 3 4 3 3 3 2 3
4 4 4 4 4 4 4 3 4
3 2 2 4 3 3 3 2 3
3 3 3 4 3 3 4 3 3
4 4 3 4 4 4 4 3 3
2 3 2 4 3 3 3 2 2
3 3 3 4 3 3 3 3 3
4 3 3 4 4 3 4 3 3
3 3 2 4 3 3 3 3 3
3 4 3 4 3 4 4 3 4
3 3 3 4 3 3 3 3 3
4 4 4 4 4 4 4 4 4
3 3 3 4 3 3 4 3 3
2 2 2 4 3 3 3 2 2
3 3 3 4 3 3 3 3 3
4 3 3 4 4 4 4 3 3
3 3 3 4 3 3 3 3 3
3 3 2 4 3 3 4 3 3
4 4 3 4 4 3 4 4 3
3 3 3 4 3 3 3 3 3
3 3 3 4 3 4 4 3 3
4 3 3 4 3 3 4 3 4
3 3 3 4 3 3 3 3 3
3 2 3 4 3 3 3 2 3
4 4 3 4 4 4 4 3 3
3 3 3 4 3 3 3 3 3
3 3 3 4 3 3 4 3 3
4 3 3 4 3 3 3 3 3
3 3 3 4 3 3 4 3 3
"""
# Checked by hand, column by column (how many 4s, 3s and 2s; no 1s):
#   U1: 11 x 4 + 19 x 3 + 2 x 2 = 44 + 57 + 4  = 105   NRR 105/32 = 3.28125
#   U2:  7 x 4 + 22 x 3 + 3 x 2 = 28 + 66 + 6  = 100   NRR 100/32 = 3.125
#   U3:  2 x 4 + 24 x 3 + 6 x 2 =  8 + 72 + 12 =  92   NRR  92/32 = 2.875
#   U4: 32 x 4                  = 128              NRR 128/32 = 4 (the service is free)
#   U5:  8 x 4 + 24 x 3         = 32 + 72      = 104   NRR 104/32 = 3.25
#   U6:  8 x 4 + 24 x 3         = 32 + 72      = 104   NRR 104/32 = 3.25
#   U7: 18 x 4 + 14 x 3         = 72 + 42      = 114   NRR 114/32 = 3.5625
#   U8:  2 x 4 + 25 x 3 + 5 x 2 =  8 + 75 + 10 =  93   NRR  93/32 = 2.90625
#   U9:  4 x 4 + 26 x 3 + 2 x 2 = 16 + 78 + 4  =  98   NRR  98/32 = 3.0625
# Σ of the totals = 105+100+92+128+104+104+114+93+98 = 938; unit index = Σ NRR / 9
#   = 938 / (32 x 9) = 938/288 = 469/144 = 3.2569...
# IKM = 469/144 x 25 = 11725/144 = 81.4236... -> shown 81.42 -> grade B (76.61-88.30).
WORKED_TOTALS = dict(zip(Element, (105, 100, 92, 128, 104, 104, 114, 93, 98), strict=True))


def test_the_worked_example_gives_the_hand_checked_index() -> None:
    rows = [line.split() for line in WORKED.strip().splitlines()]
    answer_sets = [
        Answers.model_validate({f"U{i}": int(v) for i, v in enumerate(row, 1)}).by_element()
        for row in rows
    ]
    assert len(answer_sets) == 32
    index = SurveyIndex.of(answer_sets)
    assert index is not None
    assert dict(index.totals) == WORKED_TOTALS
    assert index.nrr(Element.U1) == Fraction("3.28125")
    assert index.nrr(Element.U8) == Fraction("2.90625")
    assert index.unit_index == Fraction(469, 144)
    assert index.ikm == Fraction(11725, 144)
    assert shown(index.ikm) == Decimal("81.42")
    assert index.grade is Grade.B


@pytest.mark.parametrize(
    ("population", "sample"),
    [(10, 10), (50, 44), (100, 80), (1000, 278), (10_000, 370), (1_000_000, 384), (0, 0)],
)
def test_krejcie_morgan_minimum_sample(population: int, sample: int) -> None:
    assert minimum_sample(population) == sample


def test_answers_are_stored_by_element_code_and_out_of_range_is_refused() -> None:
    answers = Answers.model_validate({f"U{i}": 4 for i in range(1, 10)} | {"U8": 1})
    assert answers.by_element()[Element.U8] == 1
    for bad in (0, 5):
        with pytest.raises(ValidationError) as refused:
            Answers.model_validate({f"U{i}": 3 for i in range(1, 10)} | {"U3": bad})
        assert refused.value.errors()[0]["loc"] == ("U3",)
    with pytest.raises(ValidationError):  # all nine, always
        Answers.model_validate({f"U{i}": 3 for i in range(1, 9)})


def test_every_element_has_its_indonesian_name_question_and_four_answers() -> None:
    assert [e.value for e in ELEMENTS] == [f"U{i}" for i in range(1, 10)]
    assert ELEMENTS[Element.U8].name.id == "Penanganan Pengaduan, Saran dan Masukan"
    assert ELEMENTS[Element.U9].name.id == "Sarana dan Prasarana"
    assert ELEMENTS[Element.U4].answers[3].id == "Gratis"
    for spec in ELEMENTS.values():
        assert spec.question.id.endswith("?")
        assert all(answer.id and answer.en for answer in spec.answers)


@pytest.mark.parametrize(
    ("text", "kind", "first", "last", "label"),
    [
        ("2026-11-30", PeriodKind.DAY, date(2026, 11, 30), date(2026, 11, 30), "30 November 2026"),
        ("2026-11", PeriodKind.MONTH, date(2026, 11, 1), date(2026, 11, 30), "November 2026"),
        ("2026-02", PeriodKind.MONTH, date(2026, 2, 1), date(2026, 2, 28), "Februari 2026"),
        ("2026-Q4", PeriodKind.QUARTER, date(2026, 10, 1), date(2026, 12, 31), "Triwulan IV 2026"),
        ("2026-Q1", PeriodKind.QUARTER, date(2026, 1, 1), date(2026, 3, 31), "Triwulan I 2026"),
        ("2026-S2", PeriodKind.SEMESTER, date(2026, 7, 1), date(2026, 12, 31), "Semester II 2026"),
        ("2026", PeriodKind.YEAR, date(2026, 1, 1), date(2026, 12, 31), "Tahun 2026"),
    ],
)
def test_periods_parse_print_and_label(
    text: str, kind: PeriodKind, first: date, last: date, label: str
) -> None:
    period = Period.parse(text)
    assert (period.kind, period.first, period.last) == (kind, first, last)
    assert str(period) == text
    assert period.label.id == label
    assert Period.parse(str(period.previous())).kind is kind
    assert period.previous().last == first.fromordinal(first.toordinal() - 1)


def test_the_previous_period_of_each_kind() -> None:
    assert str(Period.parse("2026-Q1").previous()) == "2025-Q4"
    assert str(Period.parse("2026-S1").previous()) == "2025-S2"
    assert str(Period.parse("2026-03").previous()) == "2026-02"
    assert str(Period.parse("2026-03-01").previous()) == "2026-02-28"
    assert str(Period.parse("2026").previous()) == "2025"


@pytest.mark.parametrize(
    "text",
    [
        "2026-Q5",
        "2026-Q0",
        "2026-S3",
        "2026-13",
        "2026-02-30",
        "26-Q4",
        "2026Q4",
        "",
        "Q4",
        "1999",
        "3000-Q1",
        "2026-q4",
        "2026-11-30T00:00",
        " 2026",
    ],
)
def test_a_period_that_does_not_parse_says_the_forms_with_a_stable_code(text: str) -> None:
    with pytest.raises(OversightError) as refused:
        Period.parse(text)
    assert refused.value.code == "period_unparsable"
    assert "2026-Q4" in refused.value.text.id
    assert "triwulan" in refused.value.text.id


def test_a_period_field_refuses_at_the_field_with_the_domain_code() -> None:
    class Form(BaseModel):
        period: PeriodField

    assert Form.model_validate({"period": "2026-Q4"}).model_dump(mode="json") == {
        "period": "2026-Q4"
    }
    with pytest.raises(ValidationError) as refused:
        Form.model_validate({"period": "2026-Q9"})
    (error,) = refused.value.errors()
    assert (error["loc"], error["type"]) == (("period",), "period_unparsable")
