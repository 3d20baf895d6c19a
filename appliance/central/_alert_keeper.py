"""The alert keeper: every few seconds, every station's status judged by the rules, the
alerts opened and closed to match, and their state published on MQTT for other systems.

Several `appliance central` processes may run against one database, each with its
keeper. They need no leader: opening and closing are idempotent in the store (one
process's INSERT or UPDATE wins, the others' do nothing), and what is published is read
back from the store, not from what this process changed. So each keeper publishes what
the store says and it has not published yet, whoever opened, acknowledged or closed it:
an acknowledgement made on any dashboard reaches the broker at the next pass (or at once
when the dashboard calls `poke()`). Two keepers publishing the same retained state is
harmless.

Topics and payloads, for other systems:
`ktpel/central/v1/alerts/{station}/{rule}`, QoS 1, retained while the alert is open,
JSON `{"id", "station", "district", "rule", "severity", "state", "opened_at",
"acknowledged_at", "acknowledged_by", "closed_at", "text": {"id", "en"}}`. A closed
alert's last state is published once, not retained, and then its retained message is
cleared (an empty retained payload), so a subscriber that connects finds exactly the
alerts not closed. An acknowledgement's note is not published: it is free text and may
name a person.

The broker's view is rebuilt whenever the session opens again: every alert not closed is
published anew and every alert closed since the last session (or, after a start, within
`_CLEAR_LOOKBACK`) has its retained message cleared, so nothing that changed while the
broker was away, or while this process was down, is left behind at the broker.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final, Protocol

import aiomqtt

from appliance._backoff import Backoff
from appliance.clock import Clock, SystemClock, wall_datetime
from appliance.domain import WorkingCalendar
from appliance.logs import get_logger
from appliance.sync import BrokerSection, StoreError
from appliance.sync._mqtt import Resolve, keep_reconnecting, make_client, session_errors
from appliance.sync._topics import CENTRAL_TOPIC_ROOT

from ._alert_store import Alert, AlertState, AlertStore
from ._alerts import AlertsSection, evaluate
from ._fleet import Fleet, FleetSection

if TYPE_CHECKING:
    from ._status import StationStatus

log = get_logger(__name__)

ALERT_TOPIC_ROOT: Final = f"{CENTRAL_TOPIC_ROOT}/v1/alerts"
_CLEAR_LOOKBACK: Final = timedelta(days=1)
"""After a start, how far back closed alerts have their retained messages cleared: a
keeper closes alerts only while it runs, so what closed before its stop is recent."""
_PUBLISH_TIMEOUT_S: Final = 15.0
"""A publish the broker does not confirm this soon means a dead link: reconnect."""


class StatusSource(Protocol):
    """Where the keeper reads every station's status (the status table)."""

    def rows(self, scope: str = "") -> list[StationStatus]: ...


def fleet_calendars(fleet: Fleet, hours: FleetSection) -> Callable[[str], WorkingCalendar]:
    """A station's service hours: `[fleet]`'s, in the zone the fleet file gives it (one
    calendar per zone, made once)."""
    calendars: dict[str, WorkingCalendar] = {}

    def calendar(station: str) -> WorkingCalendar:
        zone = fleet.zone_of(station)
        made = calendars.get(zone.key)
        if made is None:
            made = calendars[zone.key] = hours.calendar(zone)
        return made

    return calendar


def alert_topic(station: str, rule: str) -> str:
    return f"{ALERT_TOPIC_ROOT}/{station}/{rule}"


def alert_payload(alert: Alert) -> bytes:
    """What other systems read of an alert: its facts, nothing personal."""
    return json.dumps(
        {
            "id": alert.id,
            "station": alert.station,
            "district": alert.district,
            "rule": alert.rule,
            "severity": alert.severity.value,
            "state": alert.state.value,
            "opened_at": alert.opened_at,
            "acknowledged_at": alert.acknowledged_at,
            "acknowledged_by": alert.acknowledged_by,
            "closed_at": alert.closed_at,
            "text": {"id": alert.text.id, "en": alert.text.en},
        },
        ensure_ascii=False,
        separators=(",", ":"),
        sort_keys=True,
    ).encode()


class AlertKeeper:
    def __init__(
        self,
        *,
        settings: AlertsSection,
        store: AlertStore,
        statuses: StatusSource,
        calendar: Callable[[str], WorkingCalendar],
        broker: BrokerSection | None,
        resolve: Resolve,
        identifier: str,
        clock: Clock | None = None,
        reconnect_min_s: float = 1.0,
        reconnect_max_s: float = 60.0,
    ) -> None:
        """`calendar(station)` gives the service hours in the station's zone
        (`fleet_calendars`); `broker` None publishes nothing (the store is the truth,
        the broker only a copy for other systems). `identifier` names this process's
        MQTT client (unique per process: the collector's id)."""
        self._settings = settings
        self._store = store
        self._statuses = statuses
        self._calendar = calendar
        self._broker = broker
        self._resolve = resolve
        self._identifier = identifier
        self._clock = clock or SystemClock()
        self._backoff = Backoff(initial_s=reconnect_min_s, maximum_s=reconnect_max_s, jitter=0.3)
        self._published: dict[tuple[str, str], bytes] = {}
        self._synced_at: datetime | None = None
        self._fresh = True
        """The session is new: the broker's retained messages are to be redone."""
        self._poked = asyncio.Event()
        self._changed = asyncio.Event()
        self.connected = asyncio.Event()
        self.passes = 0
        """Evaluations finished (for tests and logs)."""
        self.publications = 0
        """Reconciliations of the broker with the store finished."""
        self.sessions = 0
        """MQTT sessions opened."""
        self.synced = 0
        """The last session whose first reconciliation finished: the broker holds what
        the store says once `synced == sessions` (and `connected` is set)."""
        self._progress = asyncio.Event()

    # -- evaluating ---------------------------------------------------------------------

    def evaluate(self, now: datetime) -> list[Alert]:
        """One pass: every station's status judged at `now`; alerts opened for the
        conditions that hold and have none, closed for those that no longer hold (or
        whose station is no longer in the status table). Returns what this pass opened
        and closed (another process may have done some of it first: that is not here)."""
        statuses = self._statuses.rows()
        standing: dict[str, dict[str, Alert]] = {}
        for alert in self._store.open_alerts():
            standing.setdefault(alert.station, {})[alert.rule] = alert
        changed: list[Alert] = []
        for status in statuses:
            current = standing.pop(status.station, {})
            conditions = evaluate(status, now, self._settings, self._calendar(status.station))
            for condition in conditions:
                kept = current.pop(condition.rule.value, None)
                if kept is None:
                    opened = self._store.open(
                        station=status.station,
                        district=status.district,
                        rule=condition.rule.value,
                        severity=condition.severity,
                        text=condition.text,
                        at=now,
                    )
                    if opened is not None:
                        log.warning(
                            "alert_opened",
                            station=status.station,
                            rule=opened.rule,
                            severity=opened.severity.value,
                            alert=opened.id,
                        )
                        changed.append(opened)
                elif kept.district != status.district:
                    self._store.move_district(kept.id, status.district)
            changed.extend(self._close(current.values(), now))
        for gone in standing.values():  # stations no longer in the status table
            changed.extend(self._close(gone.values(), now))
        self.passes += 1
        return changed

    def _close(self, alerts: Iterable[Alert], now: datetime) -> list[Alert]:
        closed = []
        for alert in alerts:
            done = self._store.close(station=alert.station, rule=alert.rule, at=now)
            if done is not None:
                log.info("alert_closed", station=done.station, rule=done.rule, alert=done.id)
                closed.append(done)
        return closed

    def poke(self) -> None:
        """Evaluate and publish now (an acknowledgement was made, a test moved the clock)."""
        self._poked.set()

    # -- running ------------------------------------------------------------------------

    async def run(self) -> None:
        """Evaluate every `interval_s` and keep the broker in step, until cancelled."""
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._evaluating(), name="alerts-evaluate")
            if self._broker is not None and self._broker.host is not None:
                tasks.create_task(self._publishing(self._broker), name="alerts-publish")

    async def wait_until(self, condition: Callable[[], bool]) -> None:
        """Until `condition` holds, looked at after each evaluation and publication
        (bound it with asyncio.timeout)."""
        while not condition():
            await self._progress.wait()

    def _signal_progress(self) -> None:
        progress, self._progress = self._progress, asyncio.Event()
        progress.set()

    async def _evaluating(self) -> None:
        while True:
            self._poked.clear()
            try:
                await asyncio.to_thread(self.evaluate, wall_datetime(self._clock))
            except StoreError as exc:
                # The database restarting must not stop the central office: next pass.
                log.warning("alerts_evaluation_failed", error=str(exc))
            except Exception:
                # Nor may a bug in a rule, met by one station's odd status.
                log.exception("alerts_evaluation_failed")
            self._changed.set()
            self._signal_progress()
            try:
                async with asyncio.timeout(self._settings.interval_s):
                    await self._poked.wait()
            except TimeoutError:
                pass

    async def _publishing(self, broker: BrokerSection) -> None:
        await keep_reconnecting(
            functools.partial(self._session, broker),
            backoff=self._backoff,
            connected=self.connected,
            expected=(TimeoutError, StoreError),
            log=log,
            name="alerts_publisher",
        )

    async def _session(self, broker: BrokerSection) -> None:
        client = make_client(
            broker, resolve=self._resolve, identifier=f"ktpel-central-alerts-{self._identifier}"
        )
        async with client:
            # A new session starts from nothing: whatever the broker holds is redone.
            self._published.clear()
            self._fresh = True
            self.sessions += 1
            self.connected.set()
            log.info("alerts_publisher_connected")
            with session_errors(StoreError, TimeoutError):
                async with asyncio.TaskGroup() as tasks:
                    tasks.create_task(self._keep_in_step(client), name="alerts-reconcile")
                    tasks.create_task(self._watch(client), name="alerts-watch")

    async def _keep_in_step(self, client: aiomqtt.Client) -> None:
        while True:
            self._changed.clear()
            await self._reconcile(client)
            self.publications += 1
            self.synced = self.sessions
            self._signal_progress()
            await self._changed.wait()

    @staticmethod
    async def _watch(client: aiomqtt.Client) -> None:
        """Nothing is subscribed: the iteration only ends, with MqttError, when the link
        does, so a broker that restarts (perhaps without its retained messages) is met
        with a new session and everything published again, even with nothing to say."""
        async for _ in client.messages:
            pass

    async def _reconcile(self, client: aiomqtt.Client) -> None:
        """Publish what the store says and the broker has not heard from this session."""
        now = wall_datetime(self._clock)
        current = {
            (alert.station, alert.rule): alert
            for alert in await asyncio.to_thread(self._store.open_alerts)
        }
        if self._fresh:  # a new session: clear what closed while away
            since = self._synced_at - timedelta(minutes=1) if self._synced_at else None
            closed = await asyncio.to_thread(
                self._store.closed_since, since or now - _CLEAR_LOOKBACK
            )
            for key in {(alert.station, alert.rule) for alert in closed} - current.keys():
                await self._publish(client, alert_topic(*key), b"")
            self._fresh = False
        for key, alert in current.items():
            payload = alert_payload(alert)
            if self._published.get(key) != payload:
                await self._publish(client, alert_topic(*key), payload)
                self._published[key] = payload
        for key in [key for key in self._published if key not in current]:
            last = await asyncio.to_thread(self._store.latest, *key)
            if last is not None and last.state is AlertState.CLOSED:
                await self._publish(client, alert_topic(*key), alert_payload(last), retain=False)
            await self._publish(client, alert_topic(*key), b"")
            del self._published[key]
        self._synced_at = now

    async def _publish(
        self, client: aiomqtt.Client, topic: str, payload: bytes, *, retain: bool = True
    ) -> None:
        # aiomqtt's QoS 1 publish is not woken by a dead link: bound it.
        async with asyncio.timeout(_PUBLISH_TIMEOUT_S):
            await client.publish(topic, payload, qos=1, retain=retain)
