"""The station's figures for the central office's `telemetry` topic: today's queue,
applications per step, each step's durations and breaches today, blank stock, the
devices and the disk. The uplink adds its own backlog and the clock.

Everything is read from the register's derived state when a report is due, so a
restart loses nothing and no counter is kept on the side. "Today" starts with the day's
first ticket, found by seq (the wall clock may be wrong): steps recorded after it are
today's.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from appliance.diskspace import DiskSpace
from appliance.pipeline import Pipeline
from appliance.register import EventType, Register

_STEP_EVENTS = (EventType.STEP_FINISHED, EventType.STEP_BREACHED, EventType.STEP_FAILED)


class StationTelemetry:
    def __init__(
        self,
        *,
        register: Register,
        pipeline: Pipeline,
        devices: Callable[[], dict[str, dict[str, Any]]],
        disk: DiskSpace,
    ) -> None:
        self._register = register
        self._pipeline = pipeline
        self._devices = devices
        self._disk = disk

    def __call__(self) -> dict[str, Any]:
        queue = self._pipeline.queue()
        stock = self._register.blank_stock()
        disk = self._disk.report()
        day = queue.day.isoformat()
        return {
            "station": self._register.station_id,
            "day": day,
            "queue": queue.figures.model_dump(mode="json"),
            "applications": self._applications(),
            "steps": self._steps(day),
            "blanks": {
                "received": stock.received,
                "issued": stock.issued,
                "spoiled": stock.spoiled,
                "in_process": stock.in_process,
                "available": stock.available,
            },
            "devices": {
                name: {"state": status["state"], "code": status.get("code")}
                for name, status in self._devices().items()
            },
            "disk": disk.to_json(),
            "disk_free_bytes": disk.free_bytes,  # as before `disk`, for readers of that
        }

    def _applications(self) -> dict[str, int]:
        rows = self._register.query(
            "SELECT CASE WHEN state = 'in_progress' THEN step ELSE state END AS stage, "
            "count(*) AS n FROM applications "
            "WHERE state IN ('in_progress', 'waiting_blank') GROUP BY stage"
        )
        return {row["stage"]: row["n"] for row in rows}

    def _steps(self, day: str) -> dict[str, dict[str, Any]]:
        first = self._register.query("SELECT min(issued_seq) AS seq FROM queue WHERE day = ?", day)[
            0
        ]["seq"]
        if first is None:
            return {}
        marks = ", ".join("?" for _ in _STEP_EVENTS)
        rows = self._register.query(
            f"SELECT type, data FROM events WHERE seq >= ? AND type IN ({marks})",  # noqa: S608
            first,
            *(kind.value for kind in _STEP_EVENTS),
        )
        durations: dict[str, list[int]] = defaultdict(list)
        breaches: dict[str, int] = defaultdict(int)
        failures: dict[str, int] = defaultdict(int)
        for row in rows:
            data = json.loads(row["data"])
            step = data["step"]
            if row["type"] == EventType.STEP_FINISHED:
                durations[step].append(data["duration_ms"])
            elif row["type"] == EventType.STEP_BREACHED:
                breaches[step] += 1
            else:
                failures[step] += 1
        return {
            step: _figures(durations[step], breaches[step], failures[step])
            for step in sorted(set(durations) | set(breaches) | set(failures))
        }


def _figures(durations_ms: list[int], breaches: int, failures: int) -> dict[str, Any]:
    ordered = sorted(durations_ms)
    count = len(ordered)
    return {
        "finished": count,
        "mean_s": round(sum(ordered) / count / 1000, 1) if count else None,
        "p95_s": round(ordered[min(count - 1, (95 * count) // 100)] / 1000, 1) if count else None,
        "breaches": breaches,
        "failures": failures,
    }
