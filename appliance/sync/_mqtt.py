"""One place where broker settings become an aiomqtt client, for the uplink and the
collector alike."""

from __future__ import annotations

import asyncio
import math
import random
import ssl
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn, TypeVar

import aiomqtt
import structlog
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from appliance._backoff import Backoff
from appliance._secrets import read_secret_file

from ._errors import LinkDown
from ._settings import BrokerSection

Resolve = Callable[[Path], Path]
T = TypeVar("T")

SESSION_ERRORS = (aiomqtt.MqttError, LinkDown, OSError)
"""What ends a session and calls for a reconnect; anything else is a bug and propagates."""


def raise_if_stopping(exc: BaseException) -> None:
    """Raise CancelledError if `exc` replaced one: aiomqtt's disconnect, on the way out of
    a cancelled session over a dead link, can fail and hide the stop request behind its
    own error; a stop must still stop.

    A timeout is made of a cancellation (aiomqtt's `wait_for`, `asyncio.timeout`): the
    CancelledError right behind a TimeoutError is the timeout's own, not a stop, and the
    search goes on behind it. Reading it as a stop ended the uplink for good at the first
    CONNECT a broker left unanswered. (The task's `cancelling()` count cannot decide
    either: Python 3.11's TaskGroup leaves it raised after a child fails.)
    """
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, TimeoutError):
            inner = cause.__context__
            cause = inner.__context__ if isinstance(inner, asyncio.CancelledError) else inner
            continue
        if isinstance(cause, asyncio.CancelledError):
            raise asyncio.CancelledError from exc
        cause = cause.__context__


@contextmanager
def session_errors(*also: type[Exception]) -> Iterator[None]:
    """A session's tasks fail together, as an ExceptionGroup; the reconnect loop wants the
    error that ended the session (one of SESSION_ERRORS, or of `also`)."""
    ending: tuple[type[Exception], ...] = (*SESSION_ERRORS, *also)
    try:
        yield
    except* ending as group:
        error: BaseException = group
        while isinstance(error, BaseExceptionGroup):
            error = error.exceptions[0]
        raise error from None


async def keep_reconnecting(
    session: Callable[[], Awaitable[None]],
    *,
    backoff: Backoff,
    connected: asyncio.Event,
    expected: tuple[type[Exception], ...],
    log: structlog.stdlib.BoundLogger,
    name: str,
) -> NoReturn:
    """Run `session` again and again until cancelled, `backoff` apart while it cannot
    connect. A session that was up (it set `connected`) starts the backoff over after
    its first pause; `connected` is cleared whenever a session ends.

    `SESSION_ERRORS` and `expected` are logged as `{name}_disconnected`; anything else,
    a bug one message could provoke included, as `{name}_failed` with its traceback: it
    must not stop a loop the whole fleet depends on. A stop request always stops."""
    rng = random.Random()  # noqa: S311 - jitter, not security
    ended: tuple[type[Exception], ...] = (*SESSION_ERRORS, *expected)
    while True:
        async for _ in backoff.delays(rng):
            try:
                await session()
            except ended as exc:
                raise_if_stopping(exc)
                log.warning(f"{name}_disconnected", error=str(exc))
            except Exception as exc:
                raise_if_stopping(exc)
                log.exception(f"{name}_failed")
            finally:
                was_up = connected.is_set()
                connected.clear()
            if was_up:
                break
        await asyncio.sleep(backoff.initial_s)


class CancelSafeClient(aiomqtt.Client):
    """aiomqtt's client, whose waits for the broker never lose a stop request.

    aiomqtt bounds each wait (CONNACK, SUBACK, PUBACK, the disconnect) with
    `asyncio.wait_for`. On Python 3.11 (Debian bookworm's, the station's) `wait_for`
    returns the result when the awaited thing completes in the same loop iteration as
    a `cancel()` of the task, and the cancellation is lost (CPython gh-86296, fixed in
    3.12 by building `wait_for` on `asyncio.timeout`). A stop arriving together with a
    PUBACK was swallowed: the uplink went on into its session and ran on, and whatever
    waited for it to stop (the daemon's SIGTERM, a test) waited for ever. The same
    bound made with `asyncio.timeout`, which counts cancellations, keeps the stop.
    """

    async def _wait_for(self, fut: Awaitable[T], timeout: float | None) -> T:  # noqa: ASYNC109 - aiomqtt's signature
        if timeout is None:
            timeout = self.timeout
        try:
            async with asyncio.timeout(None if timeout == math.inf else timeout):
                return await fut
        except TimeoutError:
            raise aiomqtt.MqttError("Operation timed out") from None


def make_client(
    broker: BrokerSection,
    *,
    resolve: Resolve,
    identifier: str,
    will: aiomqtt.Will | None = None,
    persistent_session_s: int | None = None,
    max_in_flight: int | None = None,
    max_queued_incoming: int | None = None,
    receive_maximum: int | None = None,
) -> CancelSafeClient:
    """An MQTT v5 client for `broker`; `persistent_session_s` keeps the session (and the
    QoS 1 messages queued for it) at the broker that long after a disconnect.

    `receive_maximum` turns on manual acknowledgement: the broker sends at most that many
    QoS 1 messages the client has not yet PUBACKed (`puback`), and keeps the rest queued
    for it. That is the collector's flow control: it PUBACKs a message once it has room
    for it, so a backlog waits at the broker, not in the collector's memory.
    """
    if broker.host is None:
        raise ValueError("no broker host configured")
    password = None
    if broker.password_file is not None:
        password = read_secret_file(resolve(broker.password_file)).decode().strip()
    properties = None
    if persistent_session_s is not None or receive_maximum is not None:
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    if properties is not None and persistent_session_s is not None:
        properties.SessionExpiryInterval = persistent_session_s
    if properties is not None and receive_maximum is not None:
        properties.ReceiveMaximum = receive_maximum
    client = CancelSafeClient(
        broker.host,
        broker.effective_port,
        username=broker.username,
        password=password,
        identifier=identifier,
        protocol=aiomqtt.ProtocolVersion.V5,
        will=will,
        clean_start=persistent_session_s is None,
        keepalive=broker.keepalive_s,
        timeout=float(broker.keepalive_s),
        properties=properties,
        tls_context=_tls_context(broker, resolve),
        max_inflight_messages=max_in_flight,
        max_queued_incoming_messages=max_queued_incoming,
    )
    if receive_maximum is not None:
        # aiomqtt does not expose paho's manual acknowledgement; its paho client does.
        client._client.manual_ack_set(on=True)  # noqa: SLF001
    return client


def puback(client: aiomqtt.Client, message: aiomqtt.Message) -> None:
    """Acknowledge a message received by a client made with `receive_maximum`."""
    if message.qos > 0:
        client._client.ack(message.mid, message.qos)  # noqa: SLF001


def _tls_context(broker: BrokerSection, resolve: Resolve) -> ssl.SSLContext | None:
    if broker.ca_certificate is None:
        return None
    context = ssl.create_default_context(cafile=str(resolve(broker.ca_certificate)))
    if broker.certificate is not None and broker.key is not None:
        key = resolve(broker.key)
        read_secret_file(key)  # refuse a client key that others may read
        context.load_cert_chain(str(resolve(broker.certificate)), str(key))
    return context
