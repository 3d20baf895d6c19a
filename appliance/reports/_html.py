"""The report as one self-contained HTML page (Jinja2): styles inline, charts as inline
SVG, no script, no file or CDN to fetch, so the console shows it, a browser saves it and
a USB stick carries it as one file. Indonesian first; `lang="en"` for English.

The console's screens call `render_html` and serve the page as it is (or inside their
frame: it has no dependency on theirs)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from appliance._text import Language
from appliance.oversight import ELEMENTS, Element

from ._report import Report
from ._words import WORDS, decimal, measure_value, short_label, status_text, target_text


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("appliance.reports", "templates"),
        autoescape=select_autoescape(("html",)),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _svg(data: bytes) -> Markup:
    text = data.decode("utf-8")
    # The chart goes inside the page: its XML declaration and DOCTYPE stay out.
    return Markup(text[text.index("<svg") :])  # noqa: S704 - matplotlib's own output


def render_html(report: Report, *, office: str, station: str, lang: Language = "id") -> str:
    """The report as a complete HTML page in `lang`, for `office` (as the letterhead
    names it) and `station` (its id)."""
    from ._charts import charts  # noqa: PLC0415 - matplotlib with the first report

    def t(key: str, **values: Any) -> str:
        return (
            WORDS[key].format(**values).in_language(lang)
            if values
            else WORDS[key].in_language(lang)
        )

    index = report.figures.survey.index
    return (
        _environment()
        .get_template("report.html")
        .render(
            report=report,
            office=office,
            station=station,
            lang=lang,
            t=t,
            charts={name: _svg(data) for name, data in charts(report, lang, "svg").items()},
            value=lambda measure, v: measure_value(measure, v, lang),
            target=lambda measure: target_text(measure, lang),
            status=lambda measure: status_text(measure, lang),
            short=lambda period: short_label(period, lang),
            decimal=lambda v, places=2: decimal(v, lang, places),
            elements=[(element, ELEMENTS[element].name.in_language(lang)) for element in Element],
            nrr={element: index.nrr(element) for element in Element} if index else {},
        )
    )


__all__ = ["render_html"]
