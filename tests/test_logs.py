"""Logging: the rendered output (JSON and console) and the NIK/KK masking on every path."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
from datetime import datetime as dt
from datetime import timedelta
from typing import TYPE_CHECKING, Any, NoReturn

import pytest
import structlog
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from structlog.contextvars import bound_contextvars, merge_contextvars
from structlog.testing import capture_logs

from appliance.logs import (
    bind_application,
    bind_step,
    configure_logging,
    get_logger,
    mask_identity_numbers,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

UNMASKED = re.compile(r"(?<!\d)\d{16,}(?!\d)")
# The autouse fixture below is function-scoped; the property tests don't log, so it
# being run once per test rather than once per example is harmless.
PROPERTY = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


def nik(i: int) -> str:
    """A distinct 16-digit number per leak path, so each path is checked on its own."""
    return f"350812345678{i:04d}"


def masked(i: int) -> str:
    return f"3508********{i:04d}"


def to_full_width(text: str) -> str:
    # Built, not typed literally: full-width digits look like ASCII ones in an editor.
    return text.translate({ord(d): ord(d) + 0xFEE0 for d in "0123456789"})


def fail(exc: Exception) -> NoReturn:
    raise exc


class TTYStream(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def _isolated_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level, logger_class = list(root.handlers), root.level, logging.getLoggerClass()
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()
    yield
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
        handler.close()
    root.setLevel(level)
    logging.setLoggerClass(logger_class)


def json_lines(output: str) -> list[dict[str, Any]]:
    # split("\n"), not splitlines(): only "\n" separates records, as in journald.
    assert output.endswith("\n")
    records = [json.loads(line) for line in output[:-1].split("\n")]
    assert all(isinstance(record, dict) for record in records)
    return records


# --- mask_identity_numbers -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3508123456780001", "3508********0001"),
        (
            "NIK=3508123456780001, KK:3508123456780002.",
            "NIK=3508********0001, KK:3508********0002.",
        ),
        ("a3508123456780001b", "a3508********0001b"),
        ("3508123456780001/3508123456780002", "3508********0001/3508********0002"),
        ("35081234567800012", "3508*********0012"),  # longer runs too, length kept
        ("350812345678000", "350812345678000"),  # 15 digits: not an identity number
        ("+6281234567890 at 2024-05-01", "+6281234567890 at 2024-05-01"),
        (to_full_width("3508123456780001"), to_full_width("3508********0001")),
        ("", ""),
    ],
)
def test_mask_identity_numbers_examples(text: str, expected: str) -> None:
    assert mask_identity_numbers(text) == expected


NON_DIGIT = st.characters(exclude_categories=["Nd"])
DIGIT_HEAVY_TEXT = st.text(st.one_of(st.sampled_from("0123456789"), st.characters()))


@PROPERTY
@given(
    text=st.text(),
    position=st.integers(min_value=0),
    before=NON_DIGIT,
    number=st.text("0123456789", min_size=16, max_size=16),
    after=NON_DIGIT,
)
def test_an_embedded_identity_number_is_always_masked(
    text: str, position: int, before: str, number: str, after: str
) -> None:
    cut = position % (len(text) + 1)
    result = mask_identity_numbers(text[:cut] + before + number + after + text[cut:])
    assert UNMASKED.search(result) is None
    assert f"{before}{number[:4]}********{number[-4:]}{after}" in result


@PROPERTY
@given(text=DIGIT_HEAVY_TEXT)
def test_masking_only_replaces_digits_of_long_runs(text: str) -> None:
    result = mask_identity_numbers(text)
    assert UNMASKED.search(result) is None
    assert len(result) == len(text)
    assert all(a == b or (a.isdecimal() and b == "*") for a, b in zip(text, result, strict=True))
    assert mask_identity_numbers(result) == result
    if UNMASKED.search(text) is None:
        assert result == text


# --- no identity number reaches the output, on any path --------------------------------


class Applicant:
    def __repr__(self) -> str:
        return f"Applicant(nik={nik(16)})"


@pytest.mark.parametrize(
    ("fmt", "stream_type"),
    [("json", io.StringIO), ("console", io.StringIO), ("auto", TTYStream)],
    ids=["json", "console", "console-on-tty-with-colors"],
)
def test_no_identity_number_reaches_the_output(
    fmt: Any, stream_type: type[io.StringIO], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    stream = stream_type()
    configure_logging(format=fmt, stream=stream)
    log = get_logger("appliance.pipeline")

    with bind_application("APP-1"), bind_step("check"), bound_contextvars(kk=nik(8)):
        log.info(f"registering {nik(1)}", nik=nik(2), nik_int=int(nik(3)))
        log.info(
            "family",
            family={"kk": nik(4), "members": [nik(5), (int(nik(6)),)], nik(7): "head"},
            scan=nik(14).encode(),
            error=ValueError(nik(15)),
            applicant=Applicant(),
            typed_on_a_phone=to_full_width(nik(18)),
        )
        log.info("positional %s", nik(13))
        try:
            try:
                fail(ValueError(f"NIK {nik(9)} not found in Dukcapil"))
            except ValueError as exc:
                raise RuntimeError(f"check failed for {nik(10)}") from exc
        except RuntimeError:
            log.exception("check failed")
        logging.getLogger("uvicorn.error").warning("bad request from %s", nik(11))
        try:
            fail(KeyError(nik(12)))
        except KeyError:
            logging.getLogger("aiomqtt").exception("publish %d failed", int(nik(17)))

    output = stream.getvalue()
    assert UNMASKED.search(output) is None, output
    expected = [masked(i) for i in range(1, 18)] + [to_full_width(masked(18))]
    missing = [text for text in expected if text not in output]
    assert not missing, output
    if stream_type is TTYStream:
        assert "\x1b[" in output  # the colored renderer was the one exercised


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_a_failing_stdlib_format_does_not_leak_its_arguments(
    fmt: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = io.StringIO()
    configure_logging(format=fmt, stream=stream)
    # pytest's own capture handler re-raises formatting errors; keep only ours.
    root = logging.getLogger()
    ours = [h for h in root.handlers if getattr(h, "stream", None) is stream]
    monkeypatch.setattr(root, "handlers", ours)

    logging.getLogger("sim.reader").info("read NIK %d", nik(1))  # %d with a str: TypeError

    output = stream.getvalue()
    assert UNMASKED.search(output) is None
    assert masked(1) in output
    assert "TypeError" in output
    if fmt == "json":
        (record,) = json_lines(output)
        assert record["event"] == "logging error"
        assert record["logger"] == "sim.reader"


# --- JSON ------------------------------------------------------------------------------


def test_json_records_carry_utc_timestamp_level_logger_and_event() -> None:
    stream = io.StringIO()
    configure_logging(stream=stream)  # "auto" on a non-TTY stream: JSON

    get_logger("appliance.pipeline").info("photo captured", width=640)
    logging.getLogger("aiomqtt").warning("reconnecting in %d s", 5)

    ours, theirs = json_lines(stream.getvalue())
    assert ours["event"] == "photo captured"
    assert ours["width"] == 640
    assert (ours["level"], ours["logger"]) == ("info", "appliance.pipeline")
    assert theirs["event"] == "reconnecting in 5 s"
    assert (theirs["level"], theirs["logger"]) == ("warning", "aiomqtt")
    for record in (ours, theirs):
        assert record["timestamp"].endswith("Z")
        assert dt.fromisoformat(record["timestamp"]).utcoffset() == timedelta(0)


def test_json_is_one_object_per_line_whatever_is_logged() -> None:
    stream = io.StringIO()
    configure_logging(format="json", stream=stream)
    log = get_logger("appliance.sync")

    log.info("multi\nline\r\nevent", note="a\nb", unicode="Kecamatan Ciloto \u2028 é")
    log.info("not serializable", values={1, 2}, obj=object())
    try:
        fail(ValueError("bad photo"))
    except ValueError:
        log.exception("capture failed")
        logging.getLogger("uvicorn.error").error("request failed", exc_info=True)
    log.info("%s of %s", 1, 2)

    records = json_lines(stream.getvalue())
    assert [r["event"] for r in records] == [
        "multi\nline\r\nevent",
        "not serializable",
        "capture failed",
        "request failed",
        "1 of 2",
    ]
    for record in records[2:4]:
        # Rendered as a plain string field, not a structure.
        assert isinstance(record["exception"], str)
        assert record["exception"].startswith("Traceback (most recent call last):")
        assert record["exception"].endswith("ValueError: bad photo")


# --- console ---------------------------------------------------------------------------


def test_console_renderer_is_used_on_a_tty(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    stream = TTYStream()
    configure_logging(stream=stream)

    get_logger("appliance.hal").info("printer ready", model="Evolis Primacy 2")

    output = stream.getvalue()
    assert not output.startswith("{")
    assert "printer ready" in output
    assert "appliance.hal" in output
    assert "\x1b[" in output


def test_console_format_on_a_pipe_has_no_colors_and_renders_exceptions() -> None:
    stream = io.StringIO()
    configure_logging(format="console", stream=stream)

    try:
        fail(ValueError("bad photo"))
    except ValueError:
        get_logger("appliance.pipeline").exception("capture failed", attempt=2)

    output = stream.getvalue()
    first, *rest = output.splitlines()
    assert "\x1b[" not in output
    assert "capture failed" in first
    assert "attempt=2" in first
    assert "[appliance.pipeline]" in first
    assert rest[0] == "Traceback (most recent call last):"
    assert rest[-1] == "ValueError: bad photo"


# --- configuration ---------------------------------------------------------------------


def test_configure_is_idempotent() -> None:
    root = logging.getLogger()
    before = len(root.handlers)
    first, second = io.StringIO(), io.StringIO()

    configure_logging(format="json", stream=first)
    configure_logging(format="console", stream=second)
    configure_logging(format="console", stream=second)
    get_logger("appliance").info("once")
    logging.getLogger("uvicorn").info("once too")

    assert len(root.handlers) == before + 1
    assert first.getvalue() == ""
    lines = second.getvalue().splitlines()
    assert len(lines) == 2
    assert "once" in lines[0]
    assert "once too" in lines[1]


def test_a_handler_left_by_a_library_calling_basic_config_does_not_print_twice() -> None:
    # python-escpos calls logging.basicConfig() when imported: a plain handler on the root
    # logger that would repeat every record, unmasked.
    root = logging.getLogger()
    leftover = io.StringIO()
    basic = logging.StreamHandler(leftover)
    basic.setFormatter(logging.Formatter(logging.BASIC_FORMAT))
    root.addHandler(basic)
    ours = io.StringIO()
    try:
        configure_logging(format="json", stream=ours)
        still_there = basic in root.handlers
        logging.getLogger("escpos").warning("NIK 3508011705900001 read")
    finally:
        root.removeHandler(basic)

    assert not still_there
    assert leftover.getvalue() == ""
    assert "3508011705900001" not in ours.getvalue()
    assert "read" in ours.getvalue()


def test_level_filters_structlog_and_stdlib_alike() -> None:
    stream = io.StringIO()
    configure_logging(level="WARNING", stream=stream)

    get_logger("appliance").info("hidden")
    logging.getLogger("aiomqtt").info("hidden too")
    get_logger("appliance").warning("shown")
    logging.getLogger("aiomqtt").error("shown too")

    assert [r["event"] for r in json_lines(stream.getvalue())] == ["shown", "shown too"]


def test_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown log level 'loud'"):
        configure_logging(level="loud", stream=io.StringIO())


def test_get_logger_defaults_to_the_calling_module() -> None:
    stream = io.StringIO()
    configure_logging(stream=stream)

    get_logger().info("named")

    (record,) = json_lines(stream.getvalue())
    assert record["logger"] == __name__


# --- context ---------------------------------------------------------------------------


def test_bound_application_and_step_appear_on_lines_inside_only() -> None:
    stream = io.StringIO()
    configure_logging(stream=stream)
    log = get_logger("appliance.pipeline")

    with bind_application("APP-7"):
        with bind_step("capture"):
            with bind_step("check"):
                log.info("inner")
                logging.getLogger("uvicorn.error").info("library line")
            log.info("outer")
        log.info("no step")
    log.info("nothing")

    records = json_lines(stream.getvalue())
    context = [(r.get("application_id"), r.get("step")) for r in records]
    assert context == [
        ("APP-7", "check"),
        ("APP-7", "check"),
        ("APP-7", "capture"),
        ("APP-7", None),
        (None, None),
    ]


async def test_concurrent_tasks_keep_their_own_application() -> None:
    stream = io.StringIO()
    configure_logging(stream=stream)
    log = get_logger("appliance.pipeline")
    both_bound = asyncio.Barrier(2)

    async def process(application_id: str) -> None:
        with bind_application(application_id), bind_step("check"):
            await both_bound.wait()  # both contexts are bound before either task logs
            log.info("checked", expected=application_id)

    await asyncio.gather(process("APP-1"), process("APP-2"))

    records = json_lines(stream.getvalue())
    assert len(records) == 2
    assert all(r["application_id"] == r["expected"] for r in records)


def test_capture_logs_pattern_for_asserting_events() -> None:
    configure_logging(stream=io.StringIO())
    log = get_logger("appliance.pipeline")

    # capture_logs() replaces the processors; passing merge_contextvars keeps the context.
    with capture_logs(processors=[merge_contextvars]) as logs:
        with bind_application("APP-7"), bind_step("check"):
            log.warning("photo too dark", luminance=0.12)
        log.info("done")

    assert logs == [
        {
            "event": "photo too dark",
            "luminance": 0.12,
            "log_level": "warning",
            "application_id": "APP-7",
            "step": "check",
        },
        {"event": "done", "log_level": "info"},
    ]
