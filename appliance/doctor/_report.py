"""The doctor's report: what each check found (a `Finding`, at a `Level`), the whole
`Report` with its exit status, and how it reads, for a person (`render`) or for a script
(`to_json`). Every check builds its findings from this model and nothing else of the
doctor's, so the model sits at the bottom of the package; the few wordings the checks
share (`_capitalised`, `_REPORT_TO_SUPPORT`, `_check_failed`) live here with it.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from appliance._text import Language, Text
from appliance.logs import get_logger

log = get_logger(__name__)


_WRAP_WIDTH: Final = 100


class Level(StrEnum):
    """How a finding bears on the station, from fine to needing someone."""

    OK = "ok"
    WARNING = "warning"
    PROBLEM = "problem"

    @property
    def severity(self) -> int:
        return _SEVERITY[self]


_SEVERITY: Final = {Level.OK: 0, Level.WARNING: 1, Level.PROBLEM: 2}


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """What one check found, and what to check or do about it (None when all is well)."""

    check: str
    """Stable and in English, for scripts: `config`, `daemon`, `device:<name>`, `broker`..."""
    level: Level
    text: Text
    advice: Text | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    """Machine-readable facts behind the text (a device's identity, free bytes...)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "level": self.level.value,
            "text": _text_json(self.text),
            "advice": None if self.advice is None else _text_json(self.advice),
            "details": dict(self.details),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    station: str
    findings: tuple[Finding, ...]

    @property
    def level(self) -> Level:
        """The worst level found."""
        return max((f.level for f in self.findings), key=lambda level: level.severity)

    @property
    def exit_code(self) -> int:
        return 1 if self.level is Level.PROBLEM else 0

    def to_json(self) -> dict[str, Any]:
        return {
            "station": self.station,
            "level": self.level.value,
            "exit_code": self.exit_code,
            "findings": [finding.to_json() for finding in self.findings],
        }


def render(report: Report, language: Language) -> str:
    """The report for a person: one line per finding with its mark, advice beneath."""
    marks = _MARKS_EN if language == "en" else _MARKS_ID
    width = max(len(mark) for mark in marks.values()) + 1
    indent = " " * width
    lines = [
        Text("Pemeriksaan stasiun {station}", "Check-up of station {station}")
        .format(station=report.station)
        .in_language(language)
    ]
    for finding in report.findings:
        lines.append(
            _wrap(finding.text.in_language(language), marks[finding.level].ljust(width), indent)
        )
        if finding.advice is not None:
            lines.append(_wrap(finding.advice.in_language(language), f"{indent}→ ", f"{indent}  "))
    counts = {level: sum(f.level is level for f in report.findings) for level in Level}
    lines.append(
        Text(
            "Hasil: {problem} masalah, {warning} peringatan, {ok} baik.",
            "Result: problems {problem}, warnings {warning}, ok {ok}.",
        )
        .format(problem=counts[Level.PROBLEM], warning=counts[Level.WARNING], ok=counts[Level.OK])
        .in_language(language)
    )
    return "\n".join(lines)


_MARKS_ID: Final = {Level.OK: "[ OK ]", Level.WARNING: "[PERINGATAN]", Level.PROBLEM: "[MASALAH]"}
_MARKS_EN: Final = {Level.OK: "[ OK ]", Level.WARNING: "[WARN]", Level.PROBLEM: "[FAIL]"}


def _wrap(text: str, first: str, rest: str) -> str:
    # Commands and paths stay whole on their line: a technician copies them.
    return textwrap.fill(
        text,
        width=_WRAP_WIDTH,
        initial_indent=first,
        subsequent_indent=rest,
        break_long_words=False,
        break_on_hyphens=False,
    )


def _text_json(text: Text) -> dict[str, str]:
    return {"id": text.id, "en": text.en}


def _capitalised(text: Text) -> Text:
    return Text(text.id[:1].upper() + text.id[1:], text.en[:1].upper() + text.en[1:])


_REPORT_TO_SUPPORT: Final = Text(
    "Kirim keluaran `appliance doctor --json` ke tim teknis pusat.",
    "Send the output of `appliance doctor --json` to the central technical team.",
)


def _check_failed(check: str, exc: Exception, *, quote: bool = True) -> Finding:
    """`quote`: the error's message in the text; without it, only its type (the message
    stays in the station's log), for a report that leaves the station."""
    log.error("doctor_check_failed", check=check, exc_info=exc)
    return Finding(
        check=check,
        level=Level.PROBLEM,
        text=Text(
            "Pemeriksaan {check} sendiri gagal: {error}",
            "The {check} check itself failed: {error}",
        ).format(
            check=check, error=f"{type(exc).__name__}: {exc}" if quote else type(exc).__name__
        ),
        advice=_REPORT_TO_SUPPORT,
    )
