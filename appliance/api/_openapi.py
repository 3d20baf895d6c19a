"""The OpenAPI document, made to say what this station accepts.

Most constraints are in the models themselves. The counters are the exception: they are
configured per station, while the models are written once, so a counter field carries a
mark (`COUNTER_MARK`) that the document generator replaces with the station's own names
as an `enum`. The server still checks them (the pipeline's `unknown_counter`): the schema
describes that rule, it does not replace it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final

from fastapi import FastAPI

COUNTER_MARK: Final = "x-station-counter"


def describe_counters(app: FastAPI, counters: Sequence[str]) -> None:
    """Make `app.openapi()` list `counters` wherever a model takes a counter."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _replace_marks(generate(), list(counters))
        return generate()  # generated once, then FastAPI's cached document

    app.openapi = openapi  # type: ignore[method-assign]


def _replace_marks(node: object, counters: list[str]) -> None:
    if isinstance(node, dict):
        if node.pop(COUNTER_MARK, False):
            node["enum"] = counters
        for value in node.values():
            _replace_marks(value, counters)
    elif isinstance(node, list):
        for value in node:
            _replace_marks(value, counters)
