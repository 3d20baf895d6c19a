"""Logging for the station: structlog and the stdlib `logging` root share one chain.

Every line, whether it comes from our code through structlog or from a library (uvicorn,
aiomqtt) through `logging`, goes through the same `ProcessorFormatter`, so it carries the
same timestamp, level, logger name and context (application id, pipeline step), and it
passes through the same NIK/KK masking as the very last step before it is written.

Masking works on the rendered text rather than on values: a NIK can hide in the event,
a key, an int, a nested list, an exception message or a traceback, and only the final
string sees all of them at once.

Call `configure_logging()` once at the start of every entry point: before that, structlog
prints with its own defaults, which do not mask.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import traceback
from typing import TYPE_CHECKING, Literal, TextIO

import structlog

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from structlog.typing import Processor, WrappedLogger

__all__ = [
    "LogFormat",
    "bind_application",
    "bind_step",
    "configure_logging",
    "get_logger",
    "mask_identity_numbers",
]

LogFormat = Literal["auto", "json", "console"]

# A NIK and a KK number are both 16 digits. Longer runs are masked too: an identity number
# glued to other digits is still an identity number, and a false positive only costs
# readability of some unrelated large number (e.g. a nanosecond timestamp).
# `\d` deliberately matches every Unicode decimal digit, not only ASCII ones.
_IDENTITY_NUMBER = re.compile(r"(?<!\d)(\d{4})(\d{8,})(\d{4})(?!\d)")


def mask_identity_numbers(text: str) -> str:
    """Mask every run of 16 or more digits, keeping its first and last 4 digits.

    `3508123456780001` becomes `3508********0001`. The length is preserved, so column
    alignment in console output and offsets in error messages stay meaningful.
    """
    return _IDENTITY_NUMBER.sub(_mask_match, text)


def _mask_match(match: re.Match[str]) -> str:
    return f"{match[1]}{'*' * len(match[2])}{match[3]}"


def _mask_rendered(_logger: WrappedLogger, _method_name: str, rendered: object) -> str:
    # Runs after the renderer, so it receives the finished line instead of an event dict.
    if isinstance(rendered, bytes | bytearray):
        rendered = bytes(rendered).decode("utf-8", errors="backslashreplace")
    if not isinstance(rendered, str):
        raise TypeError(f"masking must run after a renderer, got {type(rendered).__name__}")
    return mask_identity_numbers(rendered)


class _MaskingStreamHandler(logging.StreamHandler[TextIO]):
    """The one handler `configure_logging` installs on the root logger."""

    def __init__(self, stream: TextIO, *, render_json: bool) -> None:
        super().__init__(stream)
        self.render_json = render_json

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 (stdlib name)
        # The stdlib version prints `record.msg` and `record.args` verbatim to stderr,
        # which journald keeps: a NIK passed as a %-argument with a wrong format string
        # would reach the journal unmasked.
        if not logging.raiseExceptions:
            return
        exc = sys.exception()
        report = "".join(traceback.format_exception(exc)) if exc is not None else ""
        message, arguments = _safe_repr(record.msg), _safe_repr(record.args)
        if self.render_json:
            # Stay one JSON object per line, so the journal remains machine-readable.
            note = json.dumps(
                {
                    "event": "logging error",
                    "level": "error",
                    "logger": record.name,
                    "message": message,
                    "arguments": arguments,
                    "exception": report,
                },
                ensure_ascii=False,
            )
        else:
            note = (
                f"--- Logging error in logger {record.name!r} ---\n{report}"
                f"Message: {message}\nArguments: {arguments}"
            )
        try:
            self.stream.write(mask_identity_numbers(note) + self.terminator)
            self.flush()
        except (OSError, ValueError):
            # The stream itself is what failed (closed, disk full): nowhere left to report.
            pass


def _safe_repr(value: object) -> str:
    try:
        return repr(value)
    except Exception as exc:  # noqa: BLE001 (any user __repr__ may raise anything)
        return f"<unrepresentable {type(value).__name__}: {type(exc).__name__}>"


def _replaced(handler: logging.Handler) -> bool:
    """Ours from an earlier call, or the one `logging.basicConfig()` installs: a library
    that calls it at import (python-escpos does) would print every record a second
    time, unmasked."""
    if isinstance(handler, _MaskingStreamHandler):
        return True
    formatter = handler.formatter
    return (
        type(handler) is logging.StreamHandler
        and formatter is not None
        and formatter._fmt == logging.BASIC_FORMAT  # noqa: SLF001 - no public accessor
    )


def configure_logging(
    *,
    level: str = "info",
    format: LogFormat = "auto",  # noqa: A002 (the keyword name is the agreed API)
    stream: TextIO | None = None,
) -> None:
    """Route structlog and stdlib `logging` through one masking handler on `stream`.

    `format="auto"` writes JSON lines unless `stream` is a terminal: under systemd,
    stderr goes to journald, where one JSON object per line is what tools can query.
    Calling it again replaces the previous configuration instead of adding a handler,
    so the CLI may reconfigure (e.g. `--verbose`) after a default set-up.

    Only handlers installed by this function are replaced; uvicorn must be started with
    `log_config=None`, otherwise it installs its own handlers, which would not mask.
    """
    numeric_level = _parse_level(level)
    # Resolved at call time: pytest and systemd may have replaced sys.stderr by then.
    out = sys.stderr if stream is None else stream
    tty = _is_tty(out)
    render_json = format == "json" or (format == "auto" and not tty)

    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: list[Processor]
    if render_json:
        renderer = [
            structlog.processors.format_exc_info,
            # ensure_ascii=False keeps non-ASCII digits literal: escaped as \u sequences they
            # would slip past the masking regex.
            structlog.processors.JSONRenderer(serializer=json.dumps, ensure_ascii=False),
        ]
    else:
        renderer = [
            structlog.dev.ConsoleRenderer(
                colors=tty and not os.environ.get("NO_COLOR"),
                # Rich (used when installed) wraps long lines and prints locals: a digit
                # run split across two lines would escape the masking.
                exception_formatter=structlog.dev.plain_traceback,
            )
        ]

    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *renderer,
            _mask_rendered,
        ],
    )
    handler = _MaskingStreamHandler(out, render_json=render_json)
    handler.setFormatter(formatter)

    root = logging.getLogger()
    for old in [h for h in root.handlers if _replaced(h)]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(numeric_level)

    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            # Drop filtered events before the costlier processors run.
            structlog.stdlib.filter_by_level,
            *shared[1:],
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Caching would pin module-level loggers to the first configuration and defeat
        # reconfiguring (a new level, or tests); the log rate here makes the cost moot.
        cache_logger_on_first_use=False,
    )


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    """Return a structlog logger named `name`, or after the calling module."""
    if name is None:
        # Taken here, not left to structlog: it would guess from the frame of every
        # later log call, which costs a stack walk per line.
        name = sys._getframe(1).f_globals.get("__name__", "?")  # noqa: SLF001
    return structlog.stdlib.get_logger(name)


def bind_application(application_id: str) -> AbstractContextManager[None]:
    """Carry `application_id` on every log line inside the `with` block (and its tasks)."""
    return structlog.contextvars.bound_contextvars(application_id=application_id)


def bind_step(step: str) -> AbstractContextManager[None]:
    """Carry the pipeline `step` on every log line inside the `with` block.

    Nesting restores the outer step on exit.
    """
    return structlog.contextvars.bound_contextvars(step=step)


def _parse_level(level: str) -> int:
    levels = logging.getLevelNamesMapping()
    try:
        return levels[level.upper()]
    except KeyError:
        known = ", ".join(sorted(name.lower() for name in levels))
        raise ValueError(f"unknown log level {level!r} (known: {known})") from None


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):
        # A closed or exotic stream is not a terminal; treat it like journald.
        return False
