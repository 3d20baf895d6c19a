"""The uplink: the register, the station's state, telemetry and device status, shipped to
the central office over MQTT, with nothing lost.

MQTT's QoS 1 alone does not carry the register safely: the client's queue is in memory,
a broker may restart without its store, and nothing deduplicates. So the register itself
is the outbox. Events go out in seq order from the last seq the centre *acknowledged*
(the signed, retained `ack` topic), many to a message while a backlog drains, with a
bounded number of messages awaiting the broker's PUBACK and a bounded number of events
awaiting the centre's ack. Whatever the centre has not acknowledged is sent again: after
every reconnect, after `ack_timeout_s` without progress, and from the seq a signed
`cmd/resend` names. The centre absorbs the duplicates. A signed `cmd/doctor` makes the
station run its check-up and publish the report (`DoctorDesk`).

A QoS 1 publish in aiomqtt waits for its PUBACK and is not woken by a disconnect, so
every publish is bounded: no PUBACK in `publish_timeout_s` means a dead link, and the
session is torn down and opened again after a jittered, growing pause.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Final

import aiomqtt

from appliance._backoff import Backoff
from appliance._secrets import SecretFileError
from appliance._version import __version__
from appliance.clock import Clock, SystemClock, boot_id
from appliance.liveness import Liveness
from appliance.logs import get_logger
from appliance.register import Event, KeyFileError, PublicKey, Register, StationKey

from ._doctor_request import DoctorDesk, DoctorRun
from ._errors import LinkDown, RejectedMessage
from ._mqtt import (
    SESSION_ERRORS,
    Resolve,
    make_client,
    raise_if_stopping,
    session_errors,
)
from ._progress import UplinkProgress, load_progress, save_progress
from ._settings import UplinkSection
from ._signed import ACK, DOCTOR, RESEND, count_arg, open_message, sign_state
from ._topics import StationTopics, parse_topic
from ._uplink_health import DeviceFeed, device_messages, telemetry_payload
from ._uplink_status import UplinkStatus
from ._wire import Batch, read_batch

log = get_logger(__name__)

_SHUTDOWN_PUBLISH_S: Final = 2.0
_LOOP: Final = "uplink"
"""The loop the watchdog watches: reconnecting, and sending the register."""
_ACK_WAIT_MAX_S: Final = 1800.0


class Uplink:
    def __init__(
        self,
        *,
        settings: UplinkSection,
        register: Register,
        key: StationKey,
        resolve: Resolve,
        telemetry: Callable[[], Mapping[str, Any]] | None = None,
        devices: DeviceFeed | None = None,
        clock: Clock | None = None,
        seed: int | None = None,
        liveness: Liveness | None = None,
        doctor: DoctorRun | None = None,
    ) -> None:
        """`doctor` runs the station's check-up for a signed `cmd/doctor`; without it
        the station refuses the command."""
        self._settings = settings
        self._liveness = liveness or Liveness()
        self._register = register
        self._station_key = key
        """Signs the state messages, as the register's events: the station's own key."""
        self._resolve = resolve
        self._telemetry = telemetry
        self._devices = devices
        self._clock = clock or SystemClock()
        self._last_ack_at: str | None = None
        self._rng = random.Random(seed)  # noqa: S311 - jitter, not security
        self._station = register.station_id
        self._topics = StationTopics(self._station)
        self._central_key: PublicKey | None = None
        self._progress_path = resolve(settings.state_file)
        self._progress = load_progress(self._progress_path)
        self._head = register.head()[0]
        self._next = self._progress.acked + 1
        self._wake = asyncio.Event()
        self._ack_wait_s = settings.ack_timeout_s
        self._acked_changed = asyncio.Event()
        self._published = 0
        self._disconnected = asyncio.Event()
        self._outstanding = 0
        self._confirmed_at = 0.0
        self._publishing = asyncio.Event()
        self._progressed = False
        self._ack_deadline: float | None = None
        self._published_changed = asyncio.Event()
        self._connected = False
        self._reconnects = 0
        self._last_error: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._doctor = (
            None
            if doctor is None
            else DoctorDesk(
                station=self._station,
                run=doctor,
                clock=self._clock,
                seen=lambda: self._progress.doctor_requests,
                remember=self._remember_requests,
            )
        )
        register.add_listener(self._on_appended)

    # -- what the rest of the station sees --------------------------------------------

    def status(self) -> UplinkStatus:
        acked = self._progress.acked
        # From the register itself: appends from other threads reach `_head` a moment later.
        self._head = max(self._head, self._register.head()[0])
        oldest = None
        if self._head > acked:
            event = self._register.event(acked + 1)
            oldest = None if event is None else event.ts
        return UplinkStatus(
            connected=self._connected,
            acked=acked,
            head=self._head,
            sent=self._next - 1,
            published=self._published,
            oldest_unacked_ts=oldest,
            reconnects=self._reconnects,
            last_error=self._last_error,
            last_ack_at=self._last_ack_at,
        )

    async def wait_disconnected(self) -> None:
        """Until the current session ends (bound it with asyncio.timeout)."""
        await self._disconnected.wait()

    async def wait_published(self, seq: int) -> None:
        """Until the broker has confirmed receiving `seq` (bound it with asyncio.timeout)."""
        while self._published < seq:
            await self._published_changed.wait()

    async def wait_acked(self, seq: int) -> None:
        """Until the centre has acknowledged `seq` (bound it with asyncio.timeout)."""
        while self._progress.acked < seq:
            await self._acked_changed.wait()

    async def run(self) -> None:
        """Keep a session with the broker until cancelled, reconnecting with backoff."""
        self._loop = asyncio.get_running_loop()
        # Between beats the uplink may wait for a connection (keepalive_s) or for the
        # broker's confirmation (publish_timeout_s); longer than both is a stuck loop.
        settings = self._settings
        allowance = settings.keepalive_s + settings.publish_timeout_s + 3 * self._liveness.period_s
        self._liveness.register(_LOOP, allowance_s=allowance)
        sleep = functools.partial(self._liveness.sleep, name=_LOOP)
        # Appends before the loop was known could not wake it: look once more.
        self._head = max(self._head, self._register.head()[0])
        backoff = Backoff(
            initial_s=self._settings.reconnect_min_s,
            maximum_s=self._settings.reconnect_max_s,
            jitter=0.3,
        )
        try:
            while True:
                async for _ in backoff.delays(self._rng, sleep=sleep):
                    if await self._attempt():
                        break  # a session that moved data starts the backoff over
                await sleep(self._settings.reconnect_min_s)
        finally:
            if self._doctor is not None:
                self._doctor.close()

    async def _attempt(self) -> bool:
        """One session; True if the broker confirmed anything in it."""
        try:
            await self._session()
        except (*SESSION_ERRORS, SecretFileError, KeyFileError) as exc:
            # A password or key file gone wrong is logged and tried again like a dead
            # link: the station keeps serving citizens while someone fixes it.
            self._note_failure(exc)
            log.warning("uplink_disconnected", error=self._last_error)
        except Exception as exc:
            # A bug here must not take the pipeline and the API down with it.
            self._note_failure(exc)
            log.exception("uplink_failed")
        finally:
            self._connected = False
            ended, self._disconnected = self._disconnected, asyncio.Event()
            ended.set()
        self._reconnects += 1
        return self._progressed

    def _note_failure(self, exc: BaseException) -> None:
        raise_if_stopping(exc)
        self._last_error = str(exc) or type(exc).__name__

    # -- one session ------------------------------------------------------------------

    async def _session(self) -> None:
        # Read at each session: a missing or bad key file is an uplink problem to log and
        # retry, never a reason for the station not to serve.
        self._central_key = PublicKey.load(self._resolve(self._settings.central_public_key))
        self._progressed = False
        bd_seq = self._progress.bd_seq + 1
        await self._save(replace(self._progress, bd_seq=bd_seq))
        will = aiomqtt.Will(self._topics.state, self._death(bd_seq), qos=1, retain=True)
        client = make_client(
            self._settings,
            resolve=self._resolve,
            identifier=f"ktpel-station-{self._station}",
            will=will,
            max_in_flight=self._settings.max_in_flight,
        )
        async with client:
            self._connected = True
            self._last_error = None
            await client.subscribe(self._topics.ack, qos=1)
            await client.subscribe(self._topics.commands, qos=1)
            try:
                async with asyncio.timeout(self._settings.publish_timeout_s):
                    await client.publish(
                        self._topics.state, self._birth(bd_seq), qos=1, retain=True
                    )
            except TimeoutError:
                raise LinkDown("the broker did not confirm the birth message") from None
            log.info("uplink_connected", bd_seq=bd_seq, acked=self._progress.acked, head=self._head)
            # Whatever the centre has not acknowledged may be lost with the old session.
            self._next = self._progress.acked + 1
            try:
                with session_errors():
                    async with asyncio.TaskGroup() as group:
                        group.create_task(self._watch_link(), name="uplink-watch")
                        group.create_task(self._receive(client), name="uplink-receive")
                        group.create_task(self._send(client), name="uplink-send")
                        if self._telemetry is not None:
                            group.create_task(self._send_telemetry(client), name="uplink-telemetry")
                        if self._devices is not None:
                            group.create_task(self._send_devices(client), name="uplink-devices")
                        if self._doctor is not None:
                            group.create_task(self._answer_doctor(client), name="uplink-doctor")
            finally:
                await self._say_goodbye(client, bd_seq)

    async def _say_goodbye(self, client: aiomqtt.Client, bd_seq: int) -> None:
        # A clean stop publishes the death itself: the broker sends the will only when
        # the connection is lost. On a broken link this fails quickly, and the will
        # says the same thing.
        with contextlib.suppress(aiomqtt.MqttError, LinkDown, TimeoutError):
            async with asyncio.timeout(_SHUTDOWN_PUBLISH_S):
                await client.publish(self._topics.state, self._death(bd_seq), qos=1, retain=True)

    def _birth(self, bd_seq: int) -> bytes:
        return sign_state(
            self._station_key,
            self._station,
            online=True,
            bd_seq=bd_seq,
            boot_id=boot_id(),
            version=__version__,
            acked=self._progress.acked,
            head=self._head,
        )

    def _death(self, bd_seq: int) -> bytes:
        # Signed now, for the Last Will too: the broker publishes the will as it is.
        return sign_state(self._station_key, self._station, online=False, bd_seq=bd_seq)

    async def _publish(
        self,
        client: aiomqtt.Client,
        topic: str,
        payload: bytes,
        *,
        retain: bool = False,
    ) -> None:
        """Publish at QoS 1 and wait for the PUBACK; `_watch_link` bounds the wait."""
        loop = asyncio.get_running_loop()
        if self._outstanding == 0:
            self._confirmed_at = loop.time()
            self._publishing.set()
        self._outstanding += 1
        try:
            await client.publish(topic, payload, qos=1, retain=retain)
        finally:
            self._outstanding -= 1
        self._confirmed_at = loop.time()
        self._progressed = True

    async def _watch_link(self) -> None:
        """The link is dead when publishes wait and none has been confirmed for
        `publish_timeout_s`. Not each publish on its own clock: on a slow link the eighth
        message in flight waits behind seven others, and that is not a dead link."""
        loop = asyncio.get_running_loop()
        timeout = self._settings.publish_timeout_s
        while True:
            if self._outstanding == 0:
                self._publishing.clear()
                await self._publishing.wait()
            silent_s = loop.time() - self._confirmed_at
            if self._outstanding and silent_s >= timeout:
                raise LinkDown(f"the broker did not confirm a publish within {timeout} s")
            await asyncio.sleep(timeout - silent_s if self._outstanding else 0)

    # -- the register -----------------------------------------------------------------

    def _on_appended(self, events: Sequence[Event]) -> None:
        # Runs in whichever thread appended, after the commit.
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._appended, events[-1].seq)

    def _appended(self, seq: int) -> None:
        self._head = max(self._head, seq)
        self._wake.set()

    async def _send(self, client: aiomqtt.Client) -> None:
        settings = self._settings
        in_flight = asyncio.Semaphore(settings.max_in_flight)
        async with asyncio.TaskGroup() as publishes:
            while True:
                self._liveness.beat(_LOOP)
                await self._wait_for_work()
                batch = await asyncio.to_thread(
                    read_batch,
                    self._register,
                    self._next,
                    max_events=settings.batch_max_events,
                    max_bytes=settings.batch_max_bytes,
                )
                if batch is None:
                    continue
                self._head = max(self._head, batch.last)
                await in_flight.acquire()
                if self._next != batch.first:  # a resend or an ack moved on meanwhile
                    in_flight.release()
                    continue
                publishes.create_task(
                    self._publish_batch(client, batch, in_flight),
                    name=f"uplink-publish-{batch.first}",
                )
                self._next = batch.last + 1

    async def _publish_batch(
        self, client: aiomqtt.Client, batch: Batch, in_flight: asyncio.Semaphore
    ) -> None:
        try:
            await self._publish(client, self._topics.register, batch.payload)
        finally:
            in_flight.release()
        self._published = max(self._published, batch.last)
        changed, self._published_changed = self._published_changed, asyncio.Event()
        changed.set()

    async def _wait_for_work(self) -> None:
        """Until there is something to send and the centre is not too far behind; after
        `ack_timeout_s` without an acknowledgement, rewind to what it acknowledged."""
        while True:
            acked = self._progress.acked
            ahead = self._next - 1 - acked
            if self._next <= self._head and ahead < self._settings.window_events:
                return
            loop = asyncio.get_running_loop()
            if ahead <= 0:
                self._ack_deadline = None
            elif self._ack_deadline is None:
                self._ack_deadline = loop.time() + self._ack_wait_s
            self._wake.clear()
            try:
                # The deadline runs from the last acknowledgement, whatever wakes this
                # meanwhile: a busy station appends all day long.
                async with asyncio.timeout_at(self._ack_deadline):
                    await self._liveness.wait(self._wake, _LOOP)
            except TimeoutError:
                self._ack_deadline = None
                if self._progress.acked == acked:
                    log.warning(
                        "uplink_ack_timeout",
                        acked=acked,
                        sent=self._next - 1,
                        published=self._published,
                        resend_from=acked + 1,
                    )
                    self._next = acked + 1
                    # A centre that stays silent is asked less and less often: a re-sent
                    # window costs a kecamatan link dearly.
                    self._ack_wait_s = min(self._ack_wait_s * 2, _ACK_WAIT_MAX_S)

    # -- from the centre --------------------------------------------------------------

    async def _receive(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            topic = parse_topic(str(message.topic))
            payload = message.payload if isinstance(message.payload, bytes) else b""
            if topic is None or topic.station != self._station:
                log.warning("uplink_message_ignored", topic=str(message.topic))
            elif topic.kind == "ack":
                await self._on_ack(payload)
            elif topic.kind == "cmd" and topic.name is not None:
                await self._on_command(topic.name, payload)

    async def _on_ack(self, payload: bytes) -> None:
        try:
            args = open_message(self._key(), payload, station=self._station, kind=ACK)
            upto = count_arg(args, "upto", minimum=0)
        except RejectedMessage as exc:
            log.warning("uplink_ack_rejected", reason=str(exc))
            return
        if upto > self._head:
            log.warning("uplink_ack_beyond_head", upto=upto, head=self._head)
            return
        if upto <= self._progress.acked:
            return  # the retained ack of every (re)connect: nothing newly acknowledged
        self._last_ack_at = datetime.fromtimestamp(self._clock.wall_ns() / 1e9, UTC).isoformat(
            timespec="seconds"
        )
        await self._save(replace(self._progress, acked=upto))
        self._ack_wait_s = self._settings.ack_timeout_s
        self._ack_deadline = None
        self._next = max(self._next, upto + 1)
        self._wake.set()

    async def _on_command(self, name: str, payload: bytes) -> None:
        try:
            args = open_message(self._key(), payload, station=self._station, kind=name)
            start = count_arg(args, "from", minimum=1) if name == RESEND else None
            if name == DOCTOR and self._doctor is not None:
                request = await self._doctor.accept(args)
                log.info("uplink_doctor_requested", request=request.request)
                return
        except RejectedMessage as exc:
            log.warning("uplink_command_rejected", command=name, reason=str(exc))
            return
        if start is None:
            log.warning("uplink_command_rejected", command=name, reason="unknown command")
            return
        if start <= self._progress.acked:
            log.warning("uplink_resend_of_acknowledged", start=start, acked=self._progress.acked)
        log.info("uplink_resend", start=start, sent=self._next - 1)
        self._next = min(self._next, start)
        self._wake.set()

    async def _answer_doctor(self, client: aiomqtt.Client) -> None:
        assert self._doctor is not None

        async def publish(payload: bytes) -> None:
            # Retained: a collector that connects later still finds the latest report.
            await self._publish(client, self._topics.doctor, payload, retain=True)

        await self._doctor.serve(publish)

    async def _remember_requests(self, requests: tuple[str, ...]) -> None:
        await self._save(replace(self._progress, doctor_requests=requests))

    def _key(self) -> PublicKey:
        if self._central_key is None:
            raise RuntimeError("no session: the central office's key is read at each")
        return self._central_key

    async def _save(self, progress: UplinkProgress) -> None:
        await asyncio.to_thread(save_progress, self._progress_path, progress)
        self._progress = progress
        changed, self._acked_changed = self._acked_changed, asyncio.Event()
        changed.set()

    # -- health -----------------------------------------------------------------------

    async def _send_telemetry(self, client: aiomqtt.Client) -> None:
        assert self._telemetry is not None
        while True:
            payload = telemetry_payload(self._telemetry(), self.status(), self._clock)
            await self._publish(client, self._topics.telemetry, payload)
            await asyncio.sleep(self._settings.telemetry_interval_s)

    async def _send_devices(self, client: aiomqtt.Client) -> None:
        assert self._devices is not None
        async with contextlib.aclosing(device_messages(self._devices, self._topics)) as messages:
            async for topic, payload in messages:
                await self._publish(client, topic, payload, retain=True)
