"""The report as a JSON document: each number as printed beside its exact value (the
figures' `{"shown", "exact"}`), so the central office compares exactly and a reader
checks the rounding. `appliance report --format json` writes it."""

from __future__ import annotations

from typing import Any

from appliance.oversight import figures_document, number, percent

from ._report import Activity, Measure, Report, Slice


def _value(measure: Measure, value: Any) -> dict[str, str] | None:
    return number(value) if measure.unit == "ikm" else percent(value)


def measure_document(measure: Measure) -> dict[str, Any]:
    return {
        "key": measure.key,
        "label": {"id": measure.label.id, "en": measure.label.en},
        "unit": "ikm" if measure.unit == "ikm" else "percent",
        "bound": measure.bound,
        "target": _value(measure, measure.target),
        "achieved": _value(measure, measure.achieved),
        "count": measure.count,
        "of": measure.of,
        "met": measure.met,
    }


def _slice(part: Slice) -> dict[str, Any]:
    return {
        "period": str(part.period),
        "achieved": {m.key: _value(m, m.achieved) for m in part.measures},
        "met": {m.key: m.met for m in part.measures},
    }


def _activity(activity: Activity) -> dict[str, Any]:
    return {
        "submitted": activity.submitted,
        "handed_over": activity.handed_over,
        "handed_over_by_service": {s.value: n for s, n in activity.handed_over_by_service.items()},
        "handed_over_late": activity.handed_over_late,
        "returned": activity.returned,
        "returned_by_step": {s.value: n for s, n in activity.returned_by_step.items()},
        "missing_documents": {d.value: n for d, n in activity.missing_documents.items()},
        "steps_finished": {s.value: n for s, n in activity.steps_finished.items()},
        "steps_within_sop": {s.value: n for s, n in activity.steps_within_sop.items()},
        "cards_issued": activity.cards_issued,
        "cards_spoiled": activity.cards_spoiled,
        "spoiled_by_reason": dict(activity.spoiled_by_reason),
        "surat_keterangan": activity.surat_keterangan,
    }


def report_document(report: Report) -> dict[str, Any]:
    """The report as JSON; a pure function of the report, so of the events."""
    period = report.period
    return {
        "period": str(period),
        "label": {"id": period.label.id, "en": period.label.en},
        "first_day": period.first.isoformat(),
        "last_day": period.last.isoformat(),
        "targets": report.targets.model_dump(mode="json"),
        "measures": [measure_document(m) for m in report.measures],
        "met": report.met,
        "measured": report.measured,
        "activity": _activity(report.activity),
        "figures": figures_document(report.figures),
        "history": [_slice(part) for part in report.history],
        "breakdown": [_slice(part) for part in report.breakdown],
    }


__all__ = ["measure_document", "report_document"]
