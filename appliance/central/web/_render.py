"""The dashboard's pages and fragments from Jinja2 templates, in the reader's language.

The templates are the central office's (`appliance/central/templates/`), with the
station's as a fallback for the parts both use (`fields.html`); the station's static files
(its stylesheet, its small scripts and the vendored htmx with its SSE extension) are
served at `/static`, the central office's own stylesheet at `/pusat-static`. Every
template gets `t`, `lang`, `csrf` (the session's token, or the sign-in form's), `user`
(None before signing in), `asset` and `request`; a fragment is the page's block.
"""

from __future__ import annotations

import hashlib
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Final

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import ChoiceLoader, PackageLoader

from appliance.screens import STATIC, Translator, language_of, render_html, template_environment

from .._scope import scope_label
from ._auth import csrf_for_page, remember_pre_csrf, session_of
from ._context import dashboard_context

CENTRAL_STATIC: Final = Path(str(resources.files("appliance.central") / "static"))
CENTRAL_STATIC_URL: Final = "/pusat-static"


@cache
def asset(name: str) -> str:
    """A static file's URL, versioned by its content: the central office's own files are
    named `pusat/<name>`, the rest are the station's."""
    if name.startswith("pusat/"):
        file, url = CENTRAL_STATIC / name.removeprefix("pusat/"), CENTRAL_STATIC_URL
        name = name.removeprefix("pusat/")
    else:
        file, url = STATIC / name, "/static"
    digest = hashlib.sha256(file.read_bytes()).hexdigest()[:12]
    return f"{url}/{name}?v={digest}"


class Renderer:
    def __init__(self) -> None:
        self._env = template_environment(
            ChoiceLoader(
                [
                    PackageLoader("appliance.central", "templates"),
                    PackageLoader("appliance.screens", "templates"),
                ]
            )
        )
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
        session = session_of(request)
        values = {
            "request": request,
            "t": Translator(language),
            "lang": language,
            "csrf": csrf_for_page(request),
            "user": session.user if session else None,
            "scope_label": scope_label(session.user.scope) if session else None,
            "idle_s": dashboard_context(request).settings.session_idle_minutes * 60,
            **(context or {}),
        }
        response = render_html(
            self._env, template, values, block=block, status_code=status_code, headers=headers
        )
        remember_pre_csrf(request, response)
        return response
