"""Performance reports (seed 001 §12-13): the office's targets against what it achieved,
with trends, as JSON, as an HTML page for the console and as a PDF to print and sign.

The report is a pure function of register events (`report`), importable by the central
collector without the devices or the web stack: `_targets` (`[targets]`), `_report` (the
measures, the trend), `_document` (JSON). The renderings load their libraries when first
used, never with the daemon: `_charts` (matplotlib, Agg), `_html` (Jinja2), `_pdf`
(fpdf2), with the words both share in `_words`.
"""

from ._document import measure_document, report_document
from ._html import render_html
from ._pdf import Letterhead, render_pdf
from ._report import HISTORY, REPORT_EVENTS, Activity, Measure, Report, Slice, report
from ._targets import DEFAULT_RETURNS_PERCENT, RETURN_STEPS, ReturnStep, TargetsSection, share_of

__all__ = [
    "DEFAULT_RETURNS_PERCENT",
    "HISTORY",
    "REPORT_EVENTS",
    "RETURN_STEPS",
    "Activity",
    "Letterhead",
    "Measure",
    "Report",
    "ReturnStep",
    "Slice",
    "TargetsSection",
    "measure_document",
    "render_html",
    "render_pdf",
    "report",
    "report_document",
    "share_of",
]
