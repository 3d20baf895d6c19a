"""Pages and fragments from the Jinja2 templates, in the reader's language.

Every template gets `t` (the Indonesian/English pair for the reader's language), `lang`,
`csrf` (the token its forms carry), `asset` (a static file's URL, versioned so a new
release is never served from a stale cache) and `request`. A fragment requested by htmx
is the same template's block, so a page and its live parts render from one source.
"""

from __future__ import annotations

import hashlib
import time
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Final

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import BaseLoader, Environment, PackageLoader, StrictUndefined, select_autoescape

from appliance._version import __version__

from ._i18n import Translator, language_of
from ._session import csrf_token, remember_csrf

STATIC: Final = Path(str(resources.files("appliance.screens") / "static"))


@cache
def asset(name: str) -> str:
    """`/static/<name>?v=<digest>`: the file's content decides its URL."""
    digest = hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]
    return f"/static/{name}?v={digest}"


class Renderer:
    def __init__(self) -> None:
        self._env = template_environment(PackageLoader("appliance.screens", "templates"))
        self._env.globals.update(asset=asset)

    def page(
        self,
        request: Request,
        template: str,
        context: dict[str, Any] | None = None,
        *,
        block: str | None = None,
        status_code: int = 200,
        headers: dict[str, str] | None = None,
    ) -> HTMLResponse:
        """The whole page, or only `block` of it (a fragment for htmx)."""
        language = language_of(request)
        values = {
            "request": request,
            "t": Translator(language),
            "lang": language,
            "csrf": csrf_token(request),
            **(context or {}),
        }
        response = render_html(
            self._env, template, values, block=block, status_code=status_code, headers=headers
        )
        remember_csrf(request, response)
        return response


def template_environment(loader: BaseLoader) -> Environment:
    """Our templates' Jinja2 environment: escaping on, an undefined name an error."""
    environment = Environment(
        loader=loader,
        autoescape=select_autoescape(default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    environment.globals.update(version=__version__)
    return environment


def render_html(
    environment: Environment,
    template: str,
    values: dict[str, Any],
    *,
    block: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """The whole `template`, or only its `block` (a fragment for htmx)."""
    started = time.perf_counter()
    compiled = environment.get_template(template)
    if block is None:
        html = compiled.render(values)
    else:
        html = "".join(compiled.blocks[block](compiled.new_context(values)))
    took_ms = (time.perf_counter() - started) * 1000
    # Server-Timing (W3C): what rendering took, for benchmarks/console.py and the
    # browser's developer tools; it tells nothing about the data.
    timing = {"Server-Timing": f"render;dur={took_ms:.2f}"}
    return HTMLResponse(html, status_code=status_code, headers=timing | (headers or {}))
