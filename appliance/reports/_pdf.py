"""The report as a PDF in Indonesian, to print, sign and file (fpdf2, pure Python).

A4 portrait: the letterhead (office, station, period and its dates), the targets against
what was achieved with the chart, the trend, the service's activity, the survey, the
complaints, and the signature block: prepared by the section head, acknowledged by the
Camat, each with a name and NIP line to fill in by hand, and the place and date. Every
page's footer names the station and the period and says "Halaman n dari N".

The text font is DejaVu Sans as matplotlib ships it (its data directory), so the PDF
needs no system font and shows every character of the texts (an en dash, a ≤).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from appliance._text import Language
from appliance.oversight import ELEMENTS, Element

from ._report import Measure, Report
from ._words import WORDS, decimal, measure_value, short_label, status_text, target_text

if TYPE_CHECKING:
    from fpdf import FPDF

_FONT = "DejaVu"
_MARGIN = 15.0
_WIDTH = 210.0 - 2 * _MARGIN


@dataclass(frozen=True, slots=True, kw_only=True)
class Letterhead:
    """Who the report is of: the office (as `[station] office` names it) and the station."""

    office: str
    station: str
    place: str | None = None
    """Where it is signed (the kecamatan's town); a line to fill in when not given."""


def _fonts() -> tuple[Path, Path]:
    import matplotlib  # noqa: PLC0415 - loaded with the first report, not the daemon

    ttf = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    return ttf / "DejaVuSans.ttf", ttf / "DejaVuSans-Bold.ttf"


def render_pdf(report: Report, *, letterhead: Letterhead, lang: Language = "id") -> bytes:
    """The report as PDF bytes, in `lang` (Indonesian to sign)."""
    from fpdf import FPDF  # noqa: PLC0415 - loaded with the first report, not the daemon

    from ._charts import charts  # noqa: PLC0415

    def t(key: str, **values: Any) -> str:
        text = WORDS[key].format(**values) if values else WORDS[key]
        return text.in_language(lang)

    footer = (
        f"{letterhead.office} · {t('station')} {letterhead.station} · "
        f"{report.period.label.in_language(lang)}"
    )

    class _Document(FPDF):
        def footer(self) -> None:
            self.set_y(-12)
            self.set_font(_FONT, size=7)
            self.set_text_color(96, 125, 139)
            self.cell(_WIDTH * 0.7, 5, footer)
            page = t("page", page=self.page_no(), pages="{nb}")
            self.cell(_WIDTH * 0.3, 5, page, align="R")
            self.set_text_color(0, 0, 0)

    pdf = _Document(orientation="P", unit="mm", format="A4")
    regular, bold = _fonts()
    pdf.add_font(_FONT, "", str(regular))
    pdf.add_font(_FONT, "B", str(bold))
    pdf.set_margins(_MARGIN, _MARGIN, _MARGIN)
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.set_title(f"{t('title')} {report.period}")
    pdf.set_creator("ktpel-station")
    drawn = charts(report, lang, "png")

    pdf.add_page()
    _letterhead(pdf, report, letterhead, lang, t)
    _targets(pdf, report, lang, t)
    _chart(pdf, drawn["targets"])
    pdf.add_page()
    _heading(pdf, t("trend"))
    _chart(pdf, drawn["trend"])
    _trend_table(pdf, report, lang)
    _activity(pdf, report, t)
    _survey(pdf, report, lang, t, drawn.get("elements"))
    _complaints(pdf, report, lang, t)
    _signatures(pdf, letterhead, t)
    return bytes(pdf.output())


def _heading(pdf: FPDF, text: str) -> None:
    if pdf.get_y() > 250:
        pdf.add_page()
    pdf.ln(3)
    pdf.set_font(_FONT, "B", 11)
    pdf.set_text_color(21, 101, 192)
    pdf.cell(_WIDTH, 7, text, new_x="LMARGIN", new_y="NEXT")
    pdf.set_draw_color(21, 101, 192)
    pdf.line(_MARGIN, pdf.get_y(), _MARGIN + _WIDTH, pdf.get_y())
    pdf.set_text_color(0, 0, 0)
    pdf.set_draw_color(0, 0, 0)
    pdf.ln(2)


def _letterhead(pdf: FPDF, report: Report, letterhead: Letterhead, lang: Language, t: Any) -> None:
    pdf.set_font(_FONT, "B", 15)
    pdf.cell(_WIDTH, 8, t("title"), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(_FONT, "", 10)
    pdf.cell(_WIDTH, 6, t("subtitle"), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    period = report.period
    rows = (
        (t("office"), letterhead.office),
        (t("station"), letterhead.station),
        (t("period"), f"{period.label.in_language(lang)} ({period})"),
        (t("dates"), f"{period.first.isoformat()} \N{EN DASH} {period.last.isoformat()}"),
    )
    for name, value in rows:
        pdf.set_font(_FONT, "B", 9)
        pdf.cell(30, 5, name)
        pdf.set_font(_FONT, "", 9)
        pdf.cell(_WIDTH - 30, 5, value, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_fill_color(227, 242, 253)
    pdf.set_font(_FONT, "B", 10)
    pdf.cell(
        _WIDTH,
        8,
        " " + t("summary", met=report.met, measured=report.measured),
        fill=True,
        new_x="LMARGIN",
        new_y="NEXT",
    )


def _table(
    pdf: FPDF,
    widths: tuple[float, ...],
    head: tuple[str, ...],
    rows: Sequence[tuple[str, ...]],
    *,
    colours: Sequence[tuple[int, int, int] | None] | None = None,
    size: float = 8,
) -> None:
    pdf.set_font(_FONT, "B", size)
    pdf.set_fill_color(236, 239, 241)
    for width, text in zip(widths, head, strict=True):
        pdf.cell(width, 6, text, border=1, fill=True, align="L" if width == widths[0] else "R")
    pdf.ln()
    pdf.set_font(_FONT, "", size)
    for number, row in enumerate(rows):
        colour = colours[number] if colours else None
        for column, (width, text) in enumerate(zip(widths, row, strict=True)):
            last = column == len(row) - 1
            if colour and last:
                pdf.set_text_color(*colour)
            pdf.cell(width, 5.5, text, border=1, align="L" if column == 0 else "R")
            pdf.set_text_color(0, 0, 0)
        pdf.ln()


_GREEN = (46, 125, 50)
_RED = (198, 40, 40)
_GREY = (120, 144, 156)


def _targets(pdf: FPDF, report: Report, lang: Language, t: Any) -> None:
    _heading(pdf, t("targets"))
    rows = []
    colours: list[tuple[int, int, int] | None] = []
    for measure in report.measures:
        count = (
            f"{measure.count} / {measure.of}" if measure.of is not None else str(measure.count or 0)
        )
        rows.append(
            (
                measure.label.in_language(lang),
                target_text(measure, lang),
                measure_value(measure, measure.achieved, lang),
                count,
                status_text(measure, lang),
            )
        )
        colours.append(_GREY if measure.met is None else _GREEN if measure.met else _RED)
    _table(
        pdf,
        (84, 24, 20, 26, 26),
        (t("measure"), t("target"), t("achieved"), t("count"), t("status")),
        rows,
        colours=colours,
    )


def _chart(pdf: FPDF, png: bytes, width: float = _WIDTH) -> None:
    pdf.ln(2)
    pdf.image(io.BytesIO(png), x=_MARGIN + (_WIDTH - width) / 2, w=width)
    pdf.ln(2)


def _achieved(measure: Measure, lang: Language) -> str:
    return measure_value(measure, measure.achieved, lang)


def _trend_table(pdf: FPDF, report: Report, lang: Language) -> None:
    history = report.history
    other = (_WIDTH - 80) / len(history)
    rows = [
        (
            measure.label.in_language(lang),
            *(_achieved(part.measure(measure.key), lang) for part in history),
        )
        for measure in report.measures
    ]
    head = ("", *(short_label(part.period, lang) for part in history))
    _table(pdf, (80, *([other] * len(history))), head, rows, size=7)


def _pairs(pdf: FPDF, rows: list[tuple[str, str]], width: float = 110) -> None:
    pdf.set_font(_FONT, "", 9)
    for name, value in rows:
        pdf.cell(width, 5, name, border="B")
        pdf.cell(40, 5, value, border="B", align="R", new_x="LMARGIN", new_y="NEXT")


def _activity(pdf: FPDF, report: Report, t: Any) -> None:
    _heading(pdf, t("activity"))
    a = report.activity
    _pairs(
        pdf,
        [
            (t("submitted"), str(a.submitted)),
            (t("handed_over"), str(a.handed_over)),
            (t("handed_over_late"), str(a.handed_over_late)),
            (t("returned"), str(a.returned)),
            (t("cards_issued"), str(a.cards_issued)),
            (t("cards_spoiled"), str(a.cards_spoiled)),
            (t("surat_keterangan"), str(a.surat_keterangan)),
        ],
    )


def _survey(pdf: FPDF, report: Report, lang: Language, t: Any, chart: bytes | None) -> None:
    _heading(pdf, t("survey"))
    survey = report.figures.survey
    index = survey.index
    keypad = survey.keypad
    share = keypad.satisfied_share
    _pairs(
        pdf,
        [
            (t("respondents"), str(survey.respondents)),
            (t("ikm"), decimal(index.ikm, lang) if index else "-"),
            (
                t("grade"),
                f"{index.grade.value} ({index.grade.label.in_language(lang)})" if index else "-",
            ),
            (t("sample"), f"{survey.minimum_sample} (N = {survey.population})"),
            (
                t("keypad"),
                f"{keypad.presses}"
                + (f" · {decimal(share * 100, lang, 1)}% {t('keypad_share')}" if share else ""),
            ),
        ],
    )
    pdf.ln(2)
    services = [
        (
            service.label.in_language(lang),
            str(figures.respondents),
            decimal(figures.index.ikm, lang) if figures.index else "-",
            figures.index.grade.value if figures.index else "-",
            str(figures.minimum_sample),
        )
        for service, figures in report.figures.by_service.items()
    ]
    _table(
        pdf,
        (72, 24, 20, 34, 30),
        (t("service"), t("respondents"), t("ikm"), t("grade"), t("sample_min")),
        services,
        size=7.5,
    )
    if survey.sample_short:
        pdf.set_text_color(*_RED)
        pdf.set_font(_FONT, "", 8)
        pdf.multi_cell(
            _WIDTH,
            5,
            t("sample_short", respondents=survey.respondents, minimum=survey.minimum_sample),
            new_x="LMARGIN",
            new_y="NEXT",
        )
        pdf.set_text_color(0, 0, 0)
    if chart is not None and index is not None:
        if pdf.get_y() > 200:
            pdf.add_page()
        _chart(pdf, chart, width=_WIDTH * 0.7)
        rows = [
            (f"{e.value} {ELEMENTS[e].name.in_language(lang)}", decimal(index.nrr(e), lang))
            for e in Element
        ]
        _table(pdf, (150, 30), ("Unsur", "NRR"), rows, size=7.5)


def _complaints(pdf: FPDF, report: Report, lang: Language, t: Any) -> None:
    _heading(pdf, t("complaints"))
    c = report.figures.complaints
    rows = [
        (t("received"), str(c.received)),
        *((f"  {channel.label.in_language(lang)}", str(n)) for channel, n in c.by_channel.items()),
        (t("closed"), str(c.closed)),
        (t("closed_on_time"), str(c.closed_on_time)),
        (t("escalated_open"), str(c.escalated_open)),
    ]
    _pairs(pdf, rows)
    pdf.ln(2)
    pdf.set_font(_FONT, "", 7.5)
    pdf.set_text_color(*_GREY)
    pdf.multi_cell(_WIDTH, 4, t("basis"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0, 0, 0)


def _signatures(pdf: FPDF, letterhead: Letterhead, t: Any) -> None:
    if pdf.get_y() > 225:
        pdf.add_page()
    pdf.ln(5)
    half = _WIDTH / 2
    place = letterhead.place or "...................."
    top = pdf.get_y()
    pdf.set_font(_FONT, "", 9)
    columns = (
        ("", t("signature_prepared"), t("signature_prepared_role")),
        (
            f"{place}, ........................ 20....",
            t("signature_known"),
            t("signature_role"),
        ),
    )
    for number, (dated, intro, role) in enumerate(columns):
        x = _MARGIN + number * half
        pdf.set_xy(x, top)
        pdf.cell(half, 5, dated, align="C", new_x="LEFT", new_y="NEXT")
        pdf.cell(half, 5, intro, align="C", new_x="LEFT", new_y="NEXT")
        pdf.set_font(_FONT, "B", 9)
        pdf.cell(half, 5, role, align="C", new_x="LEFT", new_y="NEXT")
        pdf.set_font(_FONT, "", 9)
        pdf.ln(18)
        pdf.set_x(x)
        pdf.cell(
            half,
            5,
            "( ...................................... )",
            align="C",
            new_x="LEFT",
            new_y="NEXT",
        )
        pdf.cell(half, 5, f"{t('nip')} ......................................", align="C")


__all__ = ["Letterhead", "render_pdf"]
