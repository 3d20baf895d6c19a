"""The performance report: its measures on hand-counted events, and `appliance report`
on a quarter synthesised through the real register (sim/history.py), as JSON equal to a
recomputation from the exported register, as a self-contained HTML page, and as a PDF
rendered to PNG pages (saved to docs/screens/) and read back as text; a bad period or a
bad target refused with exit 2 and nothing written."""

from __future__ import annotations

import io
import json
import re
import subprocess
from datetime import date
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from appliance.cli import run
from appliance.domain import Step
from appliance.oversight import Element, Period
from appliance.register import StationKey, read_events, read_jsonl
from appliance.reports import TargetsSection, report, report_document
from appliance.sync import open_store
from sim.history import ZONE, HistoryEvent, history, write_history

SCREENS = Path(__file__).resolve().parent.parent / "docs" / "screens"
QUARTER = "2026-Q4"
OFFICE = "Kantor Kecamatan Lumajang"
STATION = "lumajang-01"


def _config(directory: Path, extra: str = "") -> Path:
    path = directory / "station.toml"
    path.write_text(
        f'[station]\nid = "{STATION}"\noffice = "{OFFICE}"\n\n'
        f'[paths]\nstate_dir = "{directory / "state"}"\n{extra}',
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="module")
def station(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A station whose register holds July to December 2026, five applicants a day."""
    directory = tmp_path_factory.mktemp("station")
    config = _config(directory)
    events = history(first=date(2026, 7, 1), last=date(2026, 12, 31), per_day=5)
    write_history(
        directory / "state" / "register.sqlite3",
        StationKey.generate(),
        events,
        station_id=STATION,
    )
    return config


def _run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return run(list(argv), stdout=out), out.getvalue()


# ------------------------------------------------------------ the measures, by hand


def _event(kind: str, ts: str, app: str | None = None, **data: Any) -> HistoryEvent:
    return HistoryEvent(kind, ts, app, data)


def _application(
    app: str, day: str, *, late: bool = False, slow_check: bool = False
) -> list[HistoryEvent]:
    submitted = f"{day}T09:00:00+07:00"
    events = [
        _event("application.submitted", submitted, app, service="baru"),
        _event("step.finished", submitted, app, step="submit", duration_ms=60_000),
        # Two minutes is the SOP's: exactly on it is within, a millisecond over is not.
        _event(
            "step.finished",
            submitted,
            app,
            step="check",
            duration_ms=120_001 if slow_check else 120_000,
        ),
    ]
    if late:
        events.append(_event("application.overdue", f"{day}T15:00:00+07:00", app))
    events.append(_event("application.completed", f"{day}T16:00:00+07:00", app))
    return events


def test_the_measures_count_what_the_events_say() -> None:
    events = [
        *_application("A1", "2026-10-05"),
        *_application("A2", "2026-10-06", late=True, slow_check=True),
        *_application("A3", "2026-11-02"),
        _event("application.submitted", "2026-11-03T09:00:00+07:00", "A4", service="hilang"),
        _event(
            "application.returned",
            "2026-11-03T09:05:00+07:00",
            "A4",
            step="check",
            missing_documents=["fc_kk"],
        ),
        _event("blank.issued", "2026-10-05T10:00:00+07:00", "A1"),
        _event("blank.spoiled", "2026-10-05T10:00:00+07:00", "A1", reason="jam"),
        _event("blank.issued", "2026-10-06T10:00:00+07:00", "A2"),
        _event("blank.issued", "2026-11-02T10:00:00+07:00", "A3"),
        # Handed over on 30 September: the quarter before, in the trend only.
        *_application("A0", "2026-09-30", late=True),
    ]
    result = report(events, Period.parse(QUARTER), ZONE, TargetsSection())
    served = result.measure("served_one_day")
    assert (served.count, served.of, served.achieved) == (2, 3, Fraction(2, 3))
    assert served.met is False  # 66.7% against at least 95%
    check = result.measure("step.check")
    assert (check.count, check.of) == (2, 3)
    spoiled = result.measure("spoiled_cards")
    assert (spoiled.count, spoiled.of, spoiled.met) == (1, 4, False)  # 25% > 5%
    returns = result.measure("returns.check")
    assert (returns.count, returns.of) == (1, 4)  # of 3 handed over + 1 returned
    assert result.activity.missing_documents == {"fc_kk": 1}
    assert result.measure("ikm").achieved is None
    assert result.measure("ikm").met is None
    assert [str(part.period) for part in result.history] == [
        "2026-Q1",
        "2026-Q2",
        "2026-Q3",
        "2026-Q4",
    ]
    assert result.history[2].measure("served_one_day").achieved == 0  # A0, late
    assert [str(part.period) for part in result.breakdown] == ["2026-10", "2026-11", "2026-12"]
    october = result.breakdown[0].measure("served_one_day")
    assert (october.count, october.of) == (1, 2)


def test_the_trend_of_a_month_is_its_days_and_a_day_has_none() -> None:
    events = _application("A1", "2026-11-02")
    month = report(events, Period.parse("2026-11"), ZONE, TargetsSection())
    assert len(month.breakdown) == 30
    assert [str(part.period) for part in month.history][-2:] == ["2026-10", "2026-11"]
    assert len(month.history) == 6
    assert month.breakdown[1].measure("served_one_day").of == 1  # 2 November
    day = report(events, Period.parse("2026-11-02"), ZONE, TargetsSection())
    assert day.breakdown == ()
    assert str(day.history[0].period) == "2026-10-27"
    assert len(day.history) == 7


def test_complaints_on_time_count_the_open_past_their_deadline() -> None:
    def received(number: str, due: str) -> HistoryEvent:
        return _event(
            "complaint.received",
            "2026-10-05T09:00:00+07:00",
            number=number,
            channel="telepon",
            category="ringan",
            due=due,
        )

    events = [
        received("ADU-2026-0001", "2026-10-07T09:00:00+07:00"),
        received("ADU-2026-0002", "2026-10-07T09:00:00+07:00"),
        received("ADU-2026-0003", "2026-10-07T09:00:00+07:00"),
        _event("complaint.closed", "2026-10-06T09:00:00+07:00", number="ADU-2026-0001"),
        _event("complaint.escalated", "2026-10-07T09:00:00+07:00", number="ADU-2026-0002"),
        # 0003 is open and not yet due: not judged.
    ]
    measure = report(events, Period.parse(QUARTER), ZONE, TargetsSection()).measure(
        "complaints_on_time"
    )
    assert (measure.count, measure.of, measure.met) == (1, 2, False)


def test_the_ikm_target_is_met_by_its_displayed_value() -> None:
    # 148 respondents, all 3s but U1 = 4 for 86 of them: IKM 76.6141..., displayed 76.61,
    # grade B's lowest; one point less is 76.5953..., displayed 76.60, short of it.
    def answered(total: int) -> list[HistoryEvent]:
        answers = {element.value: 3 for element in Element}
        events = []
        for n in range(148):
            scores = dict(answers)
            if n < total:
                scores["U1"] = 4
            events.append(
                _event(
                    "survey.questionnaire_answered",
                    "2026-10-05T10:00:00+07:00",
                    service="baru",
                    answers=scores,
                )
            )
        return events

    quarter = Period.parse(QUARTER)
    met = report(answered(86), quarter, ZONE, TargetsSection()).measure("ikm")
    assert str(met.achieved) == "51025/666"
    assert met.met is True
    short = report(answered(85), quarter, ZONE, TargetsSection()).measure("ikm")
    assert short.met is False
    assert report(answered(85), quarter, ZONE, TargetsSection(ikm=76.5)).measure("ikm").met


# ------------------------------------------------------------ appliance report


def test_the_json_report_equals_a_recomputation_from_the_exported_register(
    station: Path, tmp_path: Path
) -> None:
    output = tmp_path / "report.json"
    assert (
        _run(
            "report",
            "--config",
            str(station),
            "--period",
            QUARTER,
            "--format",
            "json",
            "--output",
            str(output),
        )[0]
        == 0
    )
    written = json.loads(output.read_text(encoding="utf-8"))
    export = tmp_path / "register.jsonl"
    assert (
        _run(
            "register",
            "export",
            "--config",
            str(station),
            "--format",
            "jsonl",
            "--output",
            str(export),
        )[0]
        == 0
    )
    with export.open(encoding="utf-8") as lines:
        exported = list(read_jsonl(lines))
    again = report(exported, Period.parse(QUARTER), ZONE, TargetsSection())
    assert written == json.loads(json.dumps(report_document(again)))
    # And against plain counts of the export, not the report's own code:
    quarter = Period.parse(QUARTER)

    def local_day(ts: str) -> date:
        from datetime import datetime  # noqa: PLC0415

        return datetime.fromisoformat(ts).astimezone(ZONE).date()

    in_quarter = [e for e in exported if quarter.contains(local_day(e.ts))]
    handed = sum(e.type == "application.completed" for e in in_quarter)
    assert written["activity"]["handed_over"] == handed > 250
    answers = [e.data["answers"] for e in in_quarter if e.type == "survey.questionnaire_answered"]
    ikm = Fraction(sum(sum(a.values()) for a in answers), len(answers) * 9) * 25
    assert written["figures"]["survey"]["ikm"]["exact"] == str(ikm)
    ikm_measure = next(m for m in written["measures"] if m["key"] == "ikm")
    assert ikm_measure["achieved"]["exact"] == str(ikm)
    spoiled = sum(e.type == "blank.spoiled" for e in in_quarter)
    issued = sum(e.type == "blank.issued" for e in in_quarter)
    spoiled_measure = next(m for m in written["measures"] if m["key"] == "spoiled_cards")
    assert (spoiled_measure["count"], spoiled_measure["of"]) == (spoiled, spoiled + issued)
    assert [part["period"] for part in written["breakdown"]] == ["2026-10", "2026-11", "2026-12"]


def test_the_html_report_is_one_self_contained_page(station: Path, tmp_path: Path) -> None:
    output = tmp_path / "report.html"
    assert (
        _run(
            "report",
            "--config",
            str(station),
            "--period",
            QUARTER,
            "--format",
            "html",
            "--output",
            str(output),
        )[0]
        == 0
    )
    page = output.read_text(encoding="utf-8")
    assert page.count("<svg") >= 3  # targets, trend, elements
    assert "<script" not in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page), "nothing fetched"
    assert "Triwulan IV 2026" in page
    assert "Target dan capaian" in page
    out = _run(
        "--lang", "en", "report", "--config", str(station), "--period", QUARTER, "--format", "html"
    )
    assert out[0] == 0
    assert "Targets and achievement" in out[1]
    assert "Q4 2026" in out[1]


def test_the_pdf_report_prints_in_indonesian_to_sign(station: Path, tmp_path: Path) -> None:
    output = tmp_path / "report.pdf"
    code, _ = _run(
        "report",
        "--config",
        str(station),
        "--period",
        QUARTER,
        "--format",
        "pdf",
        "--output",
        str(output),
        "--place",
        "Lumajang",
    )
    assert code == 0
    assert output.read_bytes().startswith(b"%PDF-")
    text = subprocess.run(
        ["pdftotext", "-layout", str(output), "-"], check=True, capture_output=True, text=True
    ).stdout
    pages = text.count("\f")
    assert 2 <= pages <= 4
    assert f"Halaman 1 dari {pages}" in text
    assert f"Halaman {pages} dari {pages}" in text
    for words in (
        "Laporan Evaluasi Kinerja Pelayanan",
        "Triwulan IV 2026",
        STATION,
        OFFICE,
        "Indeks Kepuasan Masyarakat (IKM)",
        "Camat",
        "NIP.",
        "Lumajang,",
    ):
        assert words in text, words
    figures = json.loads(
        _run("report", "--config", str(station), "--period", QUARTER, "--format", "json")[1]
    )
    ikm = figures["figures"]["survey"]["ikm"]["shown"].replace(".", ",")
    assert re.search(rf"IKM\s+{ikm}", text), f"the IKM {ikm} in the survey's table"
    prefix = tmp_path / "page"
    subprocess.run(["pdftoppm", "-r", "80", "-png", str(output), str(prefix)], check=True)
    rendered = sorted(tmp_path.glob("page-*.png"))
    assert len(rendered) == pages
    for old in SCREENS.glob("report-p*.png"):
        old.unlink()
    for number, png in enumerate(rendered, start=1):
        assert png.stat().st_size > 10_000  # not a blank page
        (SCREENS / f"report-p{number}.png").write_bytes(png.read_bytes())


@pytest.mark.parametrize("period", ["2026-Q5", "2026-13", "26-Q4", "2026-02-30", "Q4"])
def test_a_bad_period_is_refused_and_nothing_written(
    station: Path, tmp_path: Path, period: str, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "report.pdf"
    code, _ = _run(
        "report",
        "--config",
        str(station),
        "--period",
        period,
        "--format",
        "pdf",
        "--output",
        str(output),
    )
    assert code == 2
    error = capsys.readouterr().err
    assert f"Periode '{period}' tidak dikenali" in error
    assert "2026-Q4" in error  # it says the forms
    assert list(tmp_path.iterdir()) == []


def test_a_pdf_to_the_terminal_is_refused(
    station: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run("report", "--config", str(station), "--period", QUARTER)[0] == 2
    assert "--output" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("targets", "key"),
    [
        ("steps_within_sop_percent = 120", "targets.steps_within_sop_percent"),
        ('ikm = "E"', "targets.ikm"),
        ("ikm = 101", "targets.ikm"),
        ("[targets.returns_percent]\nprint = 3", "targets.returns_percent.print"),
        ("spoiled = 5", "targets.spoiled"),
    ],
)
def test_a_bad_target_names_the_file_and_key(
    tmp_path: Path, targets: str, key: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, f"\n[targets]\n{targets}\n")
    output = tmp_path / "report.json"
    code, _ = _run(
        "report",
        "--config",
        str(config),
        "--period",
        QUARTER,
        "--format",
        "json",
        "--output",
        str(output),
    )
    assert code == 2
    error = capsys.readouterr().err
    assert f"{config}: {key}:" in error
    assert error.count(f"{config}:") == 1, "one problem, said once"
    assert not output.exists()


def test_targets_default_sensibly_and_read_percents_exactly() -> None:
    targets = TargetsSection.model_validate({"returns_percent": {"check": 12.5}})
    assert targets.returns_share(Step.CHECK) == Fraction(1, 8)
    assert targets.returns_share(Step.VALIDATE) == Fraction(5, 100)  # the default kept
    assert targets.ikm_lowest == Fraction("76.61")
    assert TargetsSection(ikm=80).ikm_lowest == 80


def test_the_central_collector_recomputes_the_same_report(station: Path, tmp_path: Path) -> None:
    """The station's events as the collector's store holds them once the uplink delivered
    them (batches as the uplink sends them), and the report from them, equal."""
    register = next(station.parent.glob("state/register.sqlite3"))
    events = list(read_events(register))
    store = open_store(f"sqlite:///{tmp_path / 'collector.sqlite3'}")
    try:
        for start in range(0, len(events), 256):
            store.ingest([(STATION, events[start : start + 256])])
        received = list(store.events(STATION))
    finally:
        store.close()
    assert len(received) == len(events)
    period = Period.parse(QUARTER)
    at_station = report_document(report(events, period, ZONE, TargetsSection()))
    at_centre = report_document(report(received, period, ZONE, TargetsSection()))
    assert at_centre == at_station
    assert at_centre["activity"]["handed_over"] > 250
