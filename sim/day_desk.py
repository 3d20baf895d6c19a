"""An officer's desk in the simulated office day: a session with the station's local API
that outlives the daemon under it, and the station's live changes an officer waits on.

`Desk` logs in again when the daemon has restarted (sessions live in its memory) and
waits out a daemon that is down; "not now" answers (409, 503) come back as None, for the
officer to look again. Anything else the station refuses is `Refused`: a defect in the
scenario or in the station, not a turn of the day. `Changes` counts the live events, so
that an officer can look at the state and then wait for the next change without missing
one that came in between. `Kiosk` is the waiting room's screen, on the API's public
part: the applicants answer the satisfaction questionnaire there.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import httpx


class Changes:
    """Counts the station's live events, so that an officer can look at the state and
    then wait for the next change without missing one that came in between."""

    def __init__(self) -> None:
        self.count = 0
        self._event = asyncio.Event()

    def bump(self) -> None:
        self.count += 1
        self._event.set()
        self._event = asyncio.Event()

    async def after(self, seen: int) -> None:
        """Return at the first change after `seen`, or after a second at most: a live
        stream cut by a restarting daemon may have missed some."""
        if self.count != seen:
            return
        event = self._event
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_LOOK_AGAIN_S):
                await event.wait()


_LOOK_AGAIN_S: Final = 1.0


class Refused(Exception):
    """The station refused an action as no officer's request should be refused: a defect
    in the scenario or in the station, not a turn of the day."""


@dataclass(slots=True)
class Desk:
    """One officer's session with the station's API. It logs in again when the daemon
    has restarted (sessions live in its memory) and waits out a daemon that is down."""

    http: httpx.AsyncClient
    person: str
    secret: str
    token: str | None = None

    async def headers(self) -> dict[str, str]:
        while self.token is None:
            response = await self._send(
                "POST", "/session", {"person": self.person, "secret": self.secret}, {}
            )
            _raise_for_defect(response)
            self.token = response.json()["token"]
        return {"Authorization": f"Bearer {self.token}"}

    async def call(
        self, method: str, path: str, body: Mapping[str, Any] | None = None
    ) -> httpx.Response:
        while True:
            response = await self._send(method, path, body, await self.headers())
            if response.status_code != 401:
                return response
            self.token = None

    async def get(self, path: str) -> Any:
        response = await self.call("GET", path)
        _raise_for_defect(response)
        return response.json()

    async def act(
        self, path: str, body: Mapping[str, Any] | None = None, *, not_now: int | None = None
    ) -> Any | None:
        """POST an action; None when the station says "not now" (the state moved on,
        a device is busy or not ready, or the status `not_now` this action may get), which
        the officer takes as a cue to look again."""
        response = await self.call("POST", path, body)
        if response.status_code in (409, 503, not_now):
            return None
        _raise_for_defect(response)
        return response.json() if response.content else {}

    async def _send(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None,
        headers: Mapping[str, str],
    ) -> httpx.Response:
        return await _send(self.http, method, path, body, headers)


@dataclass(slots=True)
class Kiosk:
    """The waiting room's kiosk screen: the public part of the API, no login; like a
    desk, it waits out a daemon that is down."""

    http: httpx.AsyncClient

    async def get(self, path: str) -> Any:
        response = await _send(self.http, "GET", path, None, {})
        _raise_for_defect(response)
        return response.json()

    async def post(self, path: str, body: Mapping[str, Any]) -> httpx.Response:
        """The answer as it is: the kiosk shows a refusal to the person at it."""
        return await _send(self.http, "POST", path, body, {})


async def _send(
    http: httpx.AsyncClient,
    method: str,
    path: str,
    body: Mapping[str, Any] | None,
    headers: Mapping[str, str],
) -> httpx.Response:
    pause = 0.02
    while True:
        try:
            return await http.request(method, f"/api/v1{path}", json=body, headers=headers)
        except httpx.TransportError:
            # The daemon is down or restarting: again soon, a little later each time.
            await asyncio.sleep(pause)
            pause = min(0.5, pause * 2)


def _raise_for_defect(response: httpx.Response) -> None:
    if response.status_code >= 400:
        request = response.request
        raise Refused(
            f"{request.method} {request.url.path}: {response.status_code} {response.text[:300]}"
        )
