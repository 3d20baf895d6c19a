"""The figures as a JSON document: each number shown as the report prints it (rounded
once, half up) beside its exact value (`"num/den"`), so a reader can check the rounding
and a machine can compare exactly. The API answers with it; the reports read it."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from ._elements import Element
from ._figures import ComplaintFigures, Figures, KeypadFigures, SurveyFigures
from ._index import shown


def number(value: Fraction | None, places: int = 2) -> dict[str, str] | None:
    """`{"shown": "88.31", "exact": "265/3"}`; None for a figure with nothing to count."""
    if value is None:
        return None
    return {"shown": str(shown(value, places)), "exact": str(value)}


def percent(value: Fraction | None) -> dict[str, str] | None:
    return number(value * 100 if value is not None else None)


def _keypad(keypad: KeypadFigures) -> dict[str, Any]:
    return {
        "presses": keypad.presses,
        "counts": {rating.value: n for rating, n in keypad.counts.items()},
        "satisfied_percent": percent(keypad.satisfied_share),
    }


def _survey(survey: SurveyFigures) -> dict[str, Any]:
    index = survey.index
    return {
        "service": survey.service.value if survey.service else None,
        "respondents": survey.respondents,
        "served": survey.served,
        "population": survey.population,
        "population_basis": survey.population_basis,
        "minimum_sample": survey.minimum_sample,
        "sample_short": survey.sample_short,
        "nrr": {e.value: number(index.nrr(e)) for e in Element} if index else None,
        "unit_index": number(index.unit_index, 3) if index else None,
        "ikm": number(index.ikm) if index else None,
        "grade": index.grade.value if index else None,
        "keypad": _keypad(survey.keypad),
        "profile": {question: dict(counts) for question, counts in survey.profile.items()},
    }


def complaints_document(complaints: ComplaintFigures) -> dict[str, Any]:
    return {
        "received": complaints.received,
        "by_channel": {k.value: n for k, n in complaints.by_channel.items()},
        "by_category": {k.value: n for k, n in complaints.by_category.items()},
        "by_status": {k.value: n for k, n in complaints.by_status.items()},
        "by_element": {k.value: n for k, n in complaints.by_element.items()},
        "escalated": complaints.escalated,
        "closed": complaints.closed,
        "closed_on_time": complaints.closed_on_time,
        "due": complaints.due,
        "on_time_percent": percent(complaints.on_time_share),
        "mean_days_to_close": number(complaints.mean_days_to_close),
        "max_days_to_close": number(Fraction(complaints.close_seconds_max, 86_400))
        if complaints.closed
        else None,
    }


def figures_document(figures: Figures) -> dict[str, Any]:
    period = figures.period
    return {
        "period": str(period),
        "label": {"id": period.label.id, "en": period.label.en},
        "first_day": period.first.isoformat(),
        "last_day": period.last.isoformat(),
        "survey": _survey(figures.survey),
        "by_service": {s.value: _survey(f) for s, f in figures.by_service.items()},
        "complaints": complaints_document(figures.complaints),
    }


__all__ = ["complaints_document", "figures_document", "number", "percent"]
