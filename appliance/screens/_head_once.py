"""A form of the section head's console acts once, however often it is sent.

Each form the console renders carries a fresh token. The first request with a token runs
the action; a repeat (a double click, a form sent again after a slow answer) does not run
it again: it waits for the first one's outcome and answers the same. The pipeline alone
would refuse most repeats, but as a stale-screen error, and a delivery of blank cards has
no state to refuse a second recording by.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar, cast

from fastapi import Request

ONCE_FIELD: Final = "sekali"
_KEPT: Final = 512
"""Tokens remembered: far more forms than a console sends before a repeat could come."""

_T = TypeVar("_T")


def new_token() -> str:
    return secrets.token_urlsafe(16)


class OnceForms:
    def __init__(self) -> None:
        self._outcomes: OrderedDict[tuple[str, str], asyncio.Future[object]] = OrderedDict()

    async def run(self, person: str, token: str, action: Callable[[], Awaitable[_T]]) -> _T:
        """`action`'s outcome (or exception): its first run's, for every request with
        `person`'s `token`."""
        key = (person, token)
        known = self._outcomes.get(key)
        if known is not None:
            return cast("_T", await asyncio.shield(known))
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self._outcomes[key] = future
        while len(self._outcomes) > _KEPT:
            self._outcomes.popitem(last=False)
        try:
            result = await action()
        except Exception as error:
            future.set_exception(error)
            future.exception()  # a repeat may never come to read it
            raise
        future.set_result(result)
        return result


def once_forms(request: Request) -> OnceForms:
    """The app's one `OnceForms`, made at its first use."""
    state = request.app.state
    forms: OnceForms | None = getattr(state, "head_once", None)
    if forms is None:
        forms = state.head_once = OnceForms()
    return forms
