"""The consoles, one per role: where each officer lands after signing in, and the menu
that links them (an officer holding several roles switches with one click)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from fastapi import Request
from fastapi.responses import HTMLResponse

from appliance._text import Text
from appliance.domain import Role
from appliance.pipeline import Officer

from ._context import screen_context


@dataclass(frozen=True, slots=True)
class Console:
    role: Role
    path: str
    title: Text


CONSOLES: Final[Mapping[Role, Console]] = MappingProxyType(
    {
        console.role: console
        for console in (
            Console(Role.COUNTER_OFFICER, "/loket", Text("Loket", "Counter")),
            Console(Role.SECTION_HEAD, "/kasi", Text("Kasi Pelayanan", "Section head")),
            Console(Role.OPERATOR, "/operator", Text("Operator", "Operator")),
            Console(Role.SUPERVISOR, "/pimpinan", Text("Pimpinan", "Leadership")),
        )
    }
)

BOOK_PATH: Final = "/pengaduan"
BOOK_ROLES: Final = frozenset(CONSOLES)
"""The complaint book is read by every console's role; what each may write in it is the
workflow table's."""


def consoles_of(roles: frozenset[Role]) -> tuple[Console, ...]:
    return tuple(console for role, console in CONSOLES.items() if role in roles)


def home_of(roles: frozenset[Role]) -> str:
    held = consoles_of(roles)
    return held[0].path if held else "/masuk"


def console_values(request: Request, officer: Officer) -> dict[str, Any]:
    """What console.html needs besides the page's own values: the officer's name and
    screens, and the idle countdown's figures."""
    context = screen_context(request)
    member = context.station.staff.get(officer.person)
    settings = context.settings
    return {
        "consoles": consoles_of(officer.roles),
        "book_link": bool(BOOK_ROLES & officer.roles),
        "member_name": member.name if member else officer.person,
        "idle_s": int(settings.idle_logout.total_seconds()),
        "warn_s": settings.idle_warning_seconds,
    }


def render_console(
    request: Request,
    officer: Officer,
    template: str,
    values: dict[str, Any] | None = None,
    *,
    block: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """A console page (extending console.html), or one `block` of it for htmx."""
    context = screen_context(request)
    merged = {**console_values(request, officer), **(values or {})}
    return context.render.page(request, template, merged, block=block, status_code=status_code)
