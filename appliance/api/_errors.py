"""Every error the API returns: a JSON body with a stable `code` and a message for people,
Indonesian first (English with `Accept-Language: en`). Mapped here, in one place."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from appliance._text import Text
from appliance.pipeline import PipelineError


class ErrorBody(BaseModel):
    code: str
    message: str
    """In the language asked for (Indonesian unless `Accept-Language` prefers English)."""
    messages: dict[str, str]
    """The message in every language: `id` and `en`."""
    details: list[dict[str, Any]] = []


class ApiError(Exception):
    def __init__(self, status: int, code: str, text: Text) -> None:
        super().__init__(text.en)
        self.status = status
        self.code = code
        self.text = text


def error_response(
    request: Request,
    status: int,
    code: str,
    text: Text,
    details: list[dict[str, Any]] | None = None,
) -> JSONResponse:
    english = "en" in request.headers.get("accept-language", "")[:2].lower()
    body = ErrorBody(
        code=code,
        message=text.en if english else text.id,
        messages={"id": text.id, "en": text.en},
        details=details or [],
    )
    return JSONResponse(status_code=status, content=body.model_dump())


async def on_api_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ApiError)
    return error_response(request, error.status, error.code, error.text)


async def on_pipeline_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, PipelineError)
    return error_response(request, error.status, error.code, error.text)


async def on_validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    details = [
        {"field": ".".join(str(part) for part in item["loc"]), "problem": item["msg"]}
        for item in error.errors()
    ]
    fields = ", ".join(detail["field"] for detail in details[:5])
    return error_response(
        request,
        422,
        "invalid_input",
        Text(f"Isian tidak sah: {fields}.", f"Invalid input: {fields}."),
        details,
    )


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
    return error_response(request, error.status_code, code, text)


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
