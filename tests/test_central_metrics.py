"""/metrics: the exposition parsed by prometheus_client's own parser, its figures moving
with a real collector's work (a station's backlog through a private mosquitto) and with
the alerts opened, acknowledged and closed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from appliance._text import Text
from appliance.central._alert_store import AlertStore
from appliance.central._alerts import Severity
from appliance.central._database import Database
from appliance.central._metrics import CONTENT_TYPE, CentralMetrics

from .sync_rig import Fleet, append_events, opened_store, running

WAIT_S = 20.0
T0 = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)


def samples(metrics: CentralMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the page: (name, sorted labels) -> value."""
    page = metrics.render().decode()
    found = {}
    for family in text_string_to_metric_families(page):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(
    found: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return found[(name, tuple(sorted(labels.items())))]


def open_alert(store: AlertStore, station: str, rule: str, severity: Severity) -> int:
    alert = store.open(
        station=station,
        district="350801",
        rule=rule,
        severity=severity,
        text=Text("uji", "test"),
        at=T0,
    )
    assert alert is not None
    return alert.id


async def test_the_collector_s_figures_move_with_its_work(tmp_path: Path) -> None:
    fleet = Fleet(tmp_path, ("s1",))
    with fleet.broker() as broker, opened_store(fleet.store_url()) as store:
        collector = fleet.collector(broker, store)
        metrics = CentralMetrics(collector_stats=lambda: collector.stats)
        before = samples(metrics)
        assert value(before, "ktpel_collector_events_stored_total") == 0
        assert value(before, "ktpel_collector_connected") == 0
        assert value(before, "ktpel_collector_store_seconds_count") == 0

        with fleet.register("s1") as register:
            head = append_events(register, 120)
            uplink = fleet.uplink(register, broker, batch_max_events=50)
            async with running(collector.run(), "collector"), running(uplink.run(), "uplink"):
                async with asyncio.timeout(WAIT_S):
                    await uplink.wait_acked(head)
                first = samples(metrics)
                assert value(first, "ktpel_collector_events_stored_total") == head
                assert value(first, "ktpel_collector_connected") == 1
                assert value(first, "ktpel_collector_messages_received_total", kind="register") >= 3
                assert value(first, "ktpel_collector_acks_published_total") >= 1
                stores = value(first, "ktpel_collector_store_seconds_count")
                assert stores >= 1
                assert value(first, "ktpel_collector_store_seconds_bucket", le="+Inf") == stores
                assert value(first, "ktpel_collector_store_seconds_sum") > 0
                assert value(first, "ktpel_collector_queue_messages") >= 0
                assert value(first, "ktpel_collector_lag_seconds") >= 0
                assert value(first, "ktpel_collector_unread") >= 0

                more = append_events(register, 80)
                assert more == head + 80
                async with asyncio.timeout(WAIT_S):
                    await uplink.wait_acked(more)
                second = samples(metrics)
                assert value(second, "ktpel_collector_events_stored_total") == more
                assert value(second, "ktpel_collector_store_seconds_count") > stores
                assert value(
                    second, "ktpel_collector_messages_received_total", kind="register"
                ) > value(first, "ktpel_collector_messages_received_total", kind="register")
        collector.close()
        # The page carries counts only: no station, no person.
        assert b"s1" not in metrics.render()


def test_open_alerts_per_severity_follow_the_store(tmp_path: Path) -> None:
    database = Database.open(f"sqlite:{tmp_path / 'central.sqlite3'}")
    try:
        store = AlertStore(database=database)
        metrics = CentralMetrics(alerts=store)
        empty = samples(metrics)
        assert value(empty, "ktpel_central_alerts_open", severity="kritis") == 0
        assert value(empty, "ktpel_central_alerts_open", severity="peringatan") == 0
        assert not any(name.startswith("ktpel_collector") for name, _ in empty), "no collector"

        offline = open_alert(store, "kec-a", "offline", Severity.KRITIS)
        open_alert(store, "kec-b", "offline", Severity.KRITIS)
        open_alert(store, "kec-a", "clock", Severity.PERINGATAN)
        opened = samples(metrics)
        assert value(opened, "ktpel_central_alerts_open", severity="kritis") == 2
        assert value(opened, "ktpel_central_alerts_open", severity="peringatan") == 1
        assert value(opened, "ktpel_central_alerts_unacknowledged", severity="kritis") == 2

        store.acknowledge(offline, by="petugas", at=T0)
        taken = samples(metrics)
        assert value(taken, "ktpel_central_alerts_open", severity="kritis") == 2
        assert value(taken, "ktpel_central_alerts_unacknowledged", severity="kritis") == 1

        store.close(station="kec-a", rule="offline", at=T0)
        store.close(station="kec-a", rule="clock", at=T0)
        closed = samples(metrics)
        assert value(closed, "ktpel_central_alerts_open", severity="kritis") == 1
        assert value(closed, "ktpel_central_alerts_open", severity="peringatan") == 0
        assert b"kec-" not in metrics.render()
    finally:
        database.close()


async def test_the_asgi_app_serves_the_page(tmp_path: Path) -> None:
    database = Database.open(f"sqlite:{tmp_path / 'central.sqlite3'}")
    try:
        store = AlertStore(database=database)
        open_alert(store, "kec-a", "disk", Severity.PERINGATAN)
        app = CentralMetrics(alerts=store).asgi_app()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://central") as client:
            page = await client.get("/metrics")
            assert page.status_code == 200
            assert page.headers["content-type"] == CONTENT_TYPE
            assert 'ktpel_central_alerts_open{severity="peringatan"} 1.0' in page.text
            refused = await client.post("/metrics")
            assert refused.status_code == 405
    finally:
        database.close()
