"""The report's charts, drawn with matplotlib on its Agg canvas: SVG for the HTML page
(inline, no file, no CDN), PNG for the PDF.

matplotlib weighs tens of MB and only a report needs it: it is imported here, inside the
functions, never with the daemon (tests/test_footprint_imports.py). The figures are built
with the object API (`Figure`), not pyplot, so no global state is shared between two
reports drawn at once and no GUI backend is ever looked for.
"""

from __future__ import annotations

import io
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Final, Literal

from appliance._text import Language
from appliance.oversight import Element

from ._report import Report, Slice
from ._words import WORDS, short_label

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

ChartFormat = Literal["svg", "png"]

MET: Final = "#2e7d32"
MISSED: Final = "#c62828"
TARGET: Final = "#37474f"
NEUTRAL: Final = "#90a4ae"
LINES: Final = ("#1565c0", "#ef6c00", "#6a1b9a", "#00838f")


def _figure(width: float, height: float) -> Figure:
    import matplotlib  # noqa: PLC0415 - loaded with the first report, not the daemon

    matplotlib.use("Agg")
    from matplotlib.figure import Figure  # noqa: PLC0415

    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    figure.patch.set_facecolor("white")
    return figure


def _save(figure: Figure, fmt: ChartFormat) -> bytes:
    out = io.BytesIO()
    if fmt == "svg":
        # Text as text (small, searchable), no date: the same report draws the same bytes.
        import matplotlib  # noqa: PLC0415

        with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "ktpel-report"}):
            figure.savefig(out, format="svg", metadata={"Date": None})
    else:
        figure.savefig(out, format="png", dpi=160, metadata={"Software": None})
    return out.getvalue()


def _local(number: str, lang: Language) -> str:
    """A chart's number as the text's: a decimal comma in Indonesian."""
    return number.replace(".", ",") if lang == "id" else number


def _percent(value: Fraction | None) -> float | None:
    return float(value * 100) if value is not None else None


def targets_chart(report: Report, lang: Language, fmt: ChartFormat) -> bytes:
    """Each share's achievement as a bar, its target as a mark: green met, red missed."""
    shares = [m for m in report.measures if m.unit == "share"]
    figure = _figure(7.5, 0.2 * len(shares) + 0.7)
    axes = figure.add_subplot()
    rows = list(range(len(shares)))[::-1]
    for row, measure in zip(rows, shares, strict=True):
        achieved = _percent(measure.achieved)
        colour = NEUTRAL if measure.met is None else MET if measure.met else MISSED
        axes.barh(row, achieved or 0, color=colour, height=0.6)
        target = _percent(measure.target) or 0
        axes.plot([target, target], [row - 0.4, row + 0.4], color=TARGET, linewidth=2)
        text = "-" if achieved is None else _local(f"{achieved:.1f}%", lang)
        axes.text(101, row, text, va="center", fontsize=8)
    axes.set_yticks(rows, [m.label.in_language(lang) for m in shares], fontsize=8)
    axes.set_xlim(0, 112)
    axes.set_xticks([0, 25, 50, 75, 100])
    axes.set_xlabel(WORDS["chart_percent"].in_language(lang), fontsize=8)
    axes.tick_params(axis="x", labelsize=8)
    _plain(axes)
    return _save(figure, fmt)


def _plain(axes: Axes) -> None:
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    axes.grid(axis="x", color="#eceff1", linewidth=0.8)
    axes.set_axisbelow(True)


TREND_KEYS: Final = ("served_one_day", "complaints_on_time", "spoiled_cards")


def _series(slices: tuple[Slice, ...], key: str) -> list[float | None]:
    values: list[float | None] = []
    for part in slices:
        achieved = part.measure(key).achieved
        if key == "ikm":
            values.append(float(achieved) if achieved is not None else None)
        else:
            values.append(_percent(achieved))
    return values


def trend_chart(report: Report, lang: Language, fmt: ChartFormat) -> bytes:
    """Left: the IKM over the periods of the same kind, with its target. Right: the
    main shares over the months (days) within the period."""
    figure = _figure(7.5, 3.2)
    left, right = figure.subplots(1, 2, width_ratios=(1, 1.6))
    history = report.history
    ikm = _series(history, "ikm")
    names = [short_label(part.period, lang) for part in history]
    positions = list(range(len(history)))
    left.bar(
        positions,
        [value or 0 for value in ikm],
        color=[NEUTRAL if v is None else LINES[0] for v in ikm],
        width=0.6,
    )
    for position, value in zip(positions, ikm, strict=True):
        label = "-" if value is None else _local(f"{value:.2f}", lang)
        left.text(position, (value or 25) + 1, label, ha="center", fontsize=7)
    left.axhline(float(report.targets.ikm_lowest), color=TARGET, linestyle="--", linewidth=1)
    left.set_xticks(positions, names, fontsize=7, rotation=20)
    left.set_ylim(25, 105)
    left.set_title(WORDS["chart_ikm_trend"].in_language(lang), fontsize=9)
    left.tick_params(axis="y", labelsize=7)
    _plain(left)
    parts = report.breakdown or history
    points = list(range(len(parts)))
    for colour, key in zip(LINES[1:], TREND_KEYS, strict=True):
        series = _series(parts, key)
        label = report.measure(key).label.in_language(lang)
        right.plot(
            points,
            [float("nan") if v is None else v for v in series],
            marker="o",
            markersize=3,
            color=colour,
            label=label,
        )
    right.set_xticks(points, [short_label(part.period, lang) for part in parts], fontsize=7)
    if len(points) > 12:  # a month's days: every fifth named
        right.set_xticks(points[::5], [short_label(parts[i].period, lang) for i in points[::5]])
    right.set_ylim(-5, 105)
    right.set_title(WORDS["chart_share_trend"].in_language(lang), fontsize=9)
    right.tick_params(axis="y", labelsize=7)
    right.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), frameon=False)
    _plain(right)
    return _save(figure, fmt)


def elements_chart(report: Report, lang: Language, fmt: ChartFormat) -> bytes:
    """Each element's NRR (1-4) from the questionnaires."""
    figure = _figure(7.5, 2.3)
    axes = figure.add_subplot()
    index = report.figures.survey.index
    codes = [element.value for element in Element]
    values = [float(index.nrr(element)) if index else 0.0 for element in Element]
    axes.bar(codes, values, color=LINES[0], width=0.6)
    for position, value in enumerate(values):
        axes.text(position, value + 0.05, _local(f"{value:.2f}", lang), ha="center", fontsize=7)
    axes.set_ylim(1, 4.4)
    axes.set_title(WORDS["chart_nrr"].in_language(lang), fontsize=9)
    axes.tick_params(labelsize=7)
    _plain(axes)
    return _save(figure, fmt)


def charts(report: Report, lang: Language, fmt: ChartFormat) -> dict[str, bytes]:
    """Every chart of the report, by name."""
    drawn: dict[str, Any] = {
        "targets": targets_chart(report, lang, fmt),
        "trend": trend_chart(report, lang, fmt),
    }
    if report.figures.survey.index is not None:
        drawn["elements"] = elements_chart(report, lang, fmt)
    return drawn


__all__ = ["ChartFormat", "charts", "elements_chart", "targets_chart", "trend_chart"]
