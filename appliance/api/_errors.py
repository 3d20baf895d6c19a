"""Every error the API returns: a JSON body with a stable `code` and a message for people,
Indonesian first (English with `Accept-Language: en`). Mapped here, in one place."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.routing import compile_path

from appliance._text import Text
from appliance.pipeline import PipelineError

from ._validation import field_problems


class ErrorBody(BaseModel):
    code: str
    message: str
    """In the language asked for (Indonesian unless `Accept-Language` prefers English)."""
    messages: dict[str, str]
    """The message in every language: `id` and `en`."""
    details: list[dict[str, Any]] = []
    """For invalid input, one per field: `field` (`body.nik`), a stable `code` (the
    domain's, as `nik_region`, or pydantic's error type), `problem` in the language asked
    for and `messages` in both."""


class ApiError(Exception):
    def __init__(self, status: int, code: str, text: Text) -> None:
        super().__init__(text.en)
        self.status = status
        self.code = code
        self.text = text


def _english(request: Request) -> bool:
    return "en" in request.headers.get("accept-language", "")[:2].lower()


def error_response(
    request: Request,
    status: int,
    code: str,
    text: Text,
    details: list[dict[str, Any]] | None = None,
    *,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = ErrorBody(
        code=code,
        message=text.en if _english(request) else text.id,
        messages={"id": text.id, "en": text.en},
        details=details or [],
    )
    return JSONResponse(status_code=status, content=body.model_dump(), headers=headers)


async def on_api_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ApiError)
    return error_response(request, error.status, error.code, error.text)


async def on_pipeline_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, PipelineError)
    return error_response(request, error.status, error.code, error.text)


async def on_validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    problems = field_problems(error.errors())
    english = _english(request)
    details = [
        {
            "field": problem.field,
            "code": problem.code,
            "problem": problem.text.en if english else problem.text.id,
            "messages": {"id": problem.text.id, "en": problem.text.en},
        }
        for problem in problems
    ]
    if len(problems) == 1:
        (only,) = problems
        text = Text(
            f"Isian tidak sah: {only.label}: {only.text.id}",
            f"Invalid input: {only.label}: {only.text.en}",
        )
    else:
        fields = ", ".join(problem.label for problem in problems[:5])
        text = Text(f"Isian tidak sah: {fields}.", f"Invalid input: {fields}.")
    return error_response(request, 422, "invalid_input", text, details)


_HTTP_CODES = {
    400: (
        "unreadable_body",
        Text(
            "Isi permintaan tidak dapat dibaca (bukan JSON UTF-8).",
            "The request body cannot be read (not UTF-8 JSON).",
        ),
    ),
    404: ("not_found", Text("Alamat tidak ditemukan.", "No such endpoint.")),
    405: ("method_not_allowed", Text("Metode tidak diizinkan.", "Method not allowed.")),
    413: (
        "body_too_large",
        Text("Isi permintaan terlalu besar.", "The request body is too large."),
    ),
}


async def on_http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    code, text = _HTTP_CODES.get(
        error.status_code,
        (
            "http_error",
            Text(f"Permintaan ditolak: {error.detail}", f"Request refused: {error.detail}"),
        ),
    )
    headers = dict(error.headers or {})
    if error.status_code == 405:
        table: MethodTable | None = getattr(request.app.state, "methods", None)
        named = {method.strip() for method in headers.get("Allow", "").split(",")}
        allowed = named | (table.at(request.url.path) if table is not None else set())
        headers["Allow"] = ", ".join(sorted(allowed - {""}))
    return error_response(request, error.status_code, code, text, headers=headers)


class MethodTable:
    """The methods each path takes, for a 405's `Allow` header (RFC 9110 §15.5.6):
    Starlette names only the methods of the first route that matches the path, and a path
    of this API has one route per method (`/session`: POST and DELETE)."""

    def __init__(self, routes: Iterable[tuple[str, Iterable[str]]]) -> None:
        by_path: dict[str, set[str]] = {}
        for path, methods in routes:
            by_path.setdefault(path, set()).update(methods)
        self._paths = [(compile_path(path)[0], methods) for path, methods in by_path.items()]

    def at(self, path: str) -> set[str]:
        found: set[str] = set()
        for pattern, methods in self._paths:
            if pattern.match(path):
                found |= methods
        return found


async def on_unexpected_error(request: Request, error: Exception) -> JSONResponse:
    """Anything not mapped above is a bug: the server logs its traceback, and the client
    still gets an error in the shape of every other one."""
    del error  # logged by the server, not shown to the client
    return error_response(
        request,
        500,
        "internal_error",
        Text(
            "Terjadi kesalahan di dalam stasiun. Hubungi teknisi.",
            "Something went wrong inside the station. Call a technician.",
        ),
    )
