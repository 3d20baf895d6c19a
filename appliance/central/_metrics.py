"""`/metrics`: the central office in Prometheus' text exposition format.

The collector's own figures (`Collector.stats`: messages and events counted since it
started, the store's latency histogram, what waits and for how long) and the alerts not
closed, per severity (from the alert store, so the same in every process). The registry
is this module's own, never prometheus_client's global one: nothing else in the process
(a library registering its metrics at import) leaks into the page, and each `appliance
central` process serves exactly its own collector.

Only counts: no station, person or alert text appears. Stations are scraped as a whole
by their Prometheus `instance`, so one process's page is one collector's.

A scrape reads the alert store (one grouped count), so the page is rendered off the event
loop: `render_async()`, or the ASGI app `asgi_app()`, which the dashboard mounts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any, Final

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from appliance.sync._collector_stats import CollectorStats

from ._alert_store import AlertStore
from ._alerts import Severity

CONTENT_TYPE: Final = CONTENT_TYPE_LATEST
_PREFIX: Final = "ktpel_collector"

_COUNTERS: Final = (
    ("events_stored", "Register events stored (new rows) by this collector."),
    ("events_duplicate", "Register events received again and absorbed."),
    ("events_rejected", "Register events refused by the check (signature, hash, station)."),
    ("dropped", "Messages dropped on arrival; the stations send them again."),
    ("coalesced", "Telemetry, device, state and doctor messages replaced by a newer one."),
    ("acks_published", "Acknowledgements published to stations."),
    ("resends_requested", "Resend commands published to stations with a gap."),
)
_GAUGES: Final = (
    ("queue_messages", "Register messages received and not yet stored."),
    ("queue_bytes", "Size of the register messages received and not yet stored."),
    ("records_waiting", "Telemetry, device, state, doctor and flags waiting to be stored."),
    ("unread", "Messages delivered by the broker and not yet taken from the MQTT client."),
)


class _Figures:
    """prometheus_client's custom collector: everything read at scrape time."""

    def __init__(
        self, stats: Callable[[], CollectorStats] | None, alerts: AlertStore | None
    ) -> None:
        self._stats = stats
        self._alerts = alerts

    def collect(self) -> Iterator[Metric]:
        if self._stats is not None:
            yield from _collector_metrics(self._stats())
        if self._alerts is not None:
            counts = self._alerts.counts()
            open_ = GaugeMetricFamily(
                "ktpel_central_alerts_open",
                "Alerts not closed (open or acknowledged), per severity.",
                labels=["severity"],
            )
            waiting = GaugeMetricFamily(
                "ktpel_central_alerts_unacknowledged",
                "Alerts open and not yet acknowledged by anyone, per severity.",
                labels=["severity"],
            )
            for severity in Severity:
                open_.add_metric([severity.value], counts.open.get(severity, 0))
                waiting.add_metric([severity.value], counts.unacknowledged.get(severity, 0))
            yield open_
            yield waiting


def _collector_metrics(stats: CollectorStats) -> Iterator[Metric]:
    received = CounterMetricFamily(
        f"{_PREFIX}_messages_received",
        "MQTT messages received, by topic kind.",
        labels=["kind"],
    )
    for kind, count in sorted(stats.received.items()):
        received.add_metric([kind], count)
    yield received
    flags = CounterMetricFamily(
        f"{_PREFIX}_flags", "Flags recorded against stations, by kind.", labels=["kind"]
    )
    for kind, count in sorted(stats.flags.items()):
        flags.add_metric([kind], count)
    yield flags
    for name, documentation in _COUNTERS:
        yield CounterMetricFamily(f"{_PREFIX}_{name}", documentation, value=getattr(stats, name))
    for name, documentation in _GAUGES:
        yield GaugeMetricFamily(f"{_PREFIX}_{name}", documentation, value=getattr(stats, name))
    yield GaugeMetricFamily(
        f"{_PREFIX}_lag_seconds",
        "How long the oldest message still waiting to be stored has waited.",
        value=stats.lag_s,
    )
    yield GaugeMetricFamily(
        f"{_PREFIX}_connected",
        "1 while the collector's MQTT session is up.",
        value=1 if stats.connected else 0,
    )
    latency = stats.store_latency
    yield HistogramMetricFamily(
        f"{_PREFIX}_store_seconds",
        "Duration of the collector's store calls (a group's ingest, a batch of records).",
        buckets=[(_bound(bound), count) for bound, count in latency.buckets()],
        sum_value=latency.sum_s,
    )


def _bound(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)


class CentralMetrics:
    """The central office's /metrics page, on a registry of its own."""

    def __init__(
        self,
        *,
        collector_stats: Callable[[], CollectorStats] | None = None,
        alerts: AlertStore | None = None,
    ) -> None:
        """`collector_stats`: this process's collector (`lambda: collector.stats`), None
        when it runs none; `alerts`: the alert store, None to leave the alerts out."""
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_Figures(collector_stats, alerts))

    def render(self) -> bytes:
        """The exposition (text format 0.0.4); reads the alert store."""
        return generate_latest(self.registry)

    async def render_async(self) -> bytes:
        """`render()` on a worker thread, leaving the event loop to the dashboard."""
        return await asyncio.to_thread(self.render)

    def asgi_app(self) -> Callable[..., Any]:
        """A bare ASGI app answering a GET with the page (mount it at /metrics)."""

        async def app(scope: dict[str, Any], _receive: Any, send: Any) -> None:
            if scope.get("type") != "http":
                return
            if scope.get("method") != "GET":
                await _respond(send, 405, b"GET only\n", "text/plain; charset=utf-8")
                return
            await _respond(send, 200, await self.render_async(), CONTENT_TYPE)

        return app


async def _respond(send: Any, status: int, body: bytes, content_type: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
