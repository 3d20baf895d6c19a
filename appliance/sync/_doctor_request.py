"""`cmd/doctor`: the central office asks a station for its check-up, and the station's
answer on `ktpel/v1/{station}/doctor`.

`resend` needs no nonce: sending again from a seq is idempotent, a replay costs a little
bandwidth and changes nothing. A check-up is not like that. It makes the station work
(read its register's tail, connect to the broker once more) and publish, and a report
answers one technician's request at one time. A genuine request captured off the broker
and replayed later would make the station work at a stranger's will and stand in for a
fresh answer. So a request carries a random id and the time it was issued; the station
refuses an id it has accepted before (it remembers the latest ids, across restarts) and,
when its clock is synchronised, a request older than `MAX_AGE_S` or issued further ahead
of its clock than `MAX_AHEAD_S`. With the clock not synchronised (a Pi after a power cut
without network) the time says nothing and the remembered ids alone refuse replays.

The report is the doctor's JSON (`appliance doctor --json`) with the request's id and
time, the time of the answer and the software version. Nothing in it may be personal: the
doctor's checks report counts, paths, devices and times, never an applicant's data, and
`scrubbed` masks any run of 16 or more digits (a NIK, a KK number) in it all the same, the
last guard before anything leaves the station.
"""

from __future__ import annotations

import asyncio
import collections
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from appliance._version import __version__
from appliance.clock import Clock
from appliance.logs import get_logger, mask_identity_numbers

from ._errors import RejectedMessage
from ._progress import REQUEST_ID

log = get_logger(__name__)

DoctorRun = Callable[[], Awaitable[Mapping[str, Any]]]
"""Runs the station's check-up and returns its report (`Report.to_json()`)."""

MAX_AGE_S: Final = 3600.0
"""A request this old is refused (clock synchronised): the technician has moved on."""
MAX_AHEAD_S: Final = 300.0
"""The centre's clock and the station's may differ a little, not by more than this."""
REMEMBERED_REQUESTS: Final = 64
"""Request ids kept against replays: far more than an hour's requests to one station."""
PENDING_REQUESTS: Final = 4
"""Requests accepted and not yet answered; more at once are refused as busy."""
RUN_BOUND_S: Final = 120.0
"""However the check-up is run, the desk waits no longer for it."""
_ARGUMENTS: Final = frozenset({"request", "issued_at"})
_MASKED_INT: Final = 10**15
"""An integer of 16 digits or more could be an identity number: it is masked as text."""


@dataclass(frozen=True, slots=True)
class DoctorRequest:
    request: str
    """128 random bits, lower-case hex."""
    issued_at: str
    """When the centre issued it, as it said it (RFC 3339)."""


def doctor_request(
    args: Mapping[str, Any],
    *,
    clock: Clock,
    seen: Sequence[str],
    max_age_s: float = MAX_AGE_S,
    max_ahead_s: float = MAX_AHEAD_S,
) -> DoctorRequest:
    """The request in a signed `cmd/doctor`'s arguments; RejectedMessage if it is
    malformed, was accepted before (`seen`), or is too old or too far ahead."""
    unexpected = set(args) - _ARGUMENTS
    if unexpected:
        raise RejectedMessage(f"unexpected arguments {sorted(unexpected)}")
    request, issued_text = args.get("request"), args.get("issued_at")
    if not isinstance(request, str) or not REQUEST_ID.fullmatch(request):
        raise RejectedMessage("'request' must be 32 lower-case hex digits")
    if not isinstance(issued_text, str):
        raise RejectedMessage("'issued_at' must be an RFC 3339 time")
    try:
        issued = datetime.fromisoformat(issued_text)
    except ValueError:
        raise RejectedMessage("'issued_at' must be an RFC 3339 time") from None
    if issued.tzinfo is None:
        raise RejectedMessage("'issued_at' must carry its UTC offset")
    if request in seen:
        raise RejectedMessage(f"request {request} was accepted before: a replay", forged=True)
    if clock.synchronised():
        now = datetime.fromtimestamp(clock.wall_ns() / 1e9, UTC)
        age_s = (now - issued).total_seconds()
        if age_s > max_age_s:
            raise RejectedMessage(
                f"request issued {age_s:.0f} s ago, more than {max_age_s:.0f} s: too old"
            )
        if -age_s > max_ahead_s:
            raise RejectedMessage(f"request issued {-age_s:.0f} s ahead of the station's clock")
    return DoctorRequest(request=request, issued_at=issued_text)


def remembered(seen: Sequence[str], request: str) -> tuple[str, ...]:
    """`seen` with `request` added, the oldest forgotten beyond REMEMBERED_REQUESTS."""
    return (*seen, request)[-REMEMBERED_REQUESTS:]


def report_document(
    report: Mapping[str, Any], *, station: str, request: DoctorRequest, at: str, version: str
) -> dict[str, Any]:
    """What the station publishes: the doctor's report, scrubbed, with the request it
    answers, when, and by which software. (The request's id is not scrubbed: 32 hex digits
    may hold a run of 16 decimal ones, and the centre matches the report by it.)"""
    document: dict[str, Any] = scrubbed(report)
    document.update(
        station=station,
        request=request.request,
        issued_at=request.issued_at,
        at=at,
        version=version,
    )
    return document


def scrubbed(value: Any) -> Any:
    """`value` (JSON) with every run of 16 or more digits masked, in keys, strings and
    integers alike; anything that is not JSON becomes its masked text."""
    if isinstance(value, Mapping):
        return {scrubbed(str(key)): scrubbed(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [scrubbed(item) for item in value]
    if isinstance(value, str):
        return mask_identity_numbers(value)
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return value
    if isinstance(value, int):
        return mask_identity_numbers(str(value)) if abs(value) >= _MASKED_INT else value
    return mask_identity_numbers(str(value))


class DoctorDesk:
    """The station's side of `cmd/doctor`: it accepts requests (`accept`, from a signed
    command) and, during each MQTT session (`serve`), runs one check-up at a time and
    publishes each report.

    An accepted request stays pending until its report is published: a link that drops
    while the check-up runs leaves it running, and the next session publishes its report.
    Its id is remembered (and persisted by `remember`) as soon as it is accepted.
    """

    def __init__(
        self,
        *,
        station: str,
        run: DoctorRun,
        clock: Clock,
        seen: Callable[[], Sequence[str]],
        remember: Callable[[tuple[str, ...]], Awaitable[None]],
    ) -> None:
        self._station = station
        self._run = run
        self._clock = clock
        self._seen = seen
        self._remember = remember
        self._pending: collections.deque[DoctorRequest] = collections.deque()
        self._arrived = asyncio.Event()
        self._running: asyncio.Task[tuple[Mapping[str, Any], str]] | None = None

    async def accept(self, args: Mapping[str, Any]) -> DoctorRequest:
        """Take a signed command's arguments; RejectedMessage if refused."""
        seen = self._seen()
        request = doctor_request(args, clock=self._clock, seen=seen)
        if len(self._pending) >= PENDING_REQUESTS:
            raise RejectedMessage(f"{len(self._pending)} check-ups already pending: busy")
        await self._remember(remembered(seen, request.request))
        self._pending.append(request)
        self._arrived.set()
        return request

    async def serve(self, publish: Callable[[bytes], Awaitable[None]]) -> None:
        """Answer the pending requests in order, until cancelled (the session's end)."""
        while True:
            if not self._pending:
                self._arrived.clear()
                await self._arrived.wait()
                continue
            request = self._pending[0]
            if self._running is None:
                log.info("doctor_request_running", request=request.request)
                self._running = asyncio.create_task(self._report(), name="doctor-run")
            # A session that ends meanwhile leaves the check-up running (its thread could
            # not be stopped anyway): the next session publishes its report, and never
            # runs two at once.
            report, at = await asyncio.shield(self._running)
            document = report_document(
                report, station=self._station, request=request, at=at, version=__version__
            )
            await publish(json.dumps(document, ensure_ascii=False).encode())
            self._running = None
            self._pending.popleft()
            log.info("doctor_report_published", request=request.request, result=report.get("level"))

    def close(self) -> None:
        """The uplink stops: a check-up still running is abandoned, unanswered."""
        if self._running is not None:
            self._running.cancel()
            self._running = None

    async def _report(self) -> tuple[Mapping[str, Any], str]:
        """The check-up's report, and when it was made."""
        try:
            async with asyncio.timeout(RUN_BOUND_S):
                report = await self._run()
        except TimeoutError:
            report = _unfinished(self._station)
        except Exception as exc:
            # The station goes on serving; the centre hears that the check-up failed.
            log.exception("doctor_request_failed")
            report = _unfinished(self._station, error=type(exc).__name__)
        return report, _rfc3339(self._clock)


def _unfinished(station: str, *, error: str | None = None) -> dict[str, Any]:
    why = (
        {"id": f"Pemeriksaan gagal ({error})", "en": f"The check-up failed ({error})"}
        if error is not None
        else {
            "id": f"Pemeriksaan tidak selesai dalam {RUN_BOUND_S:g} detik",
            "en": f"The check-up did not finish within {RUN_BOUND_S:g} s",
        }
    )
    finding = {"check": "doctor", "level": "problem", "text": why, "advice": None, "details": {}}
    return {"station": station, "level": "problem", "exit_code": 1, "findings": [finding]}


def _rfc3339(clock: Clock) -> str:
    return datetime.fromtimestamp(clock.wall_ns() / 1e9, UTC).isoformat(timespec="seconds")
