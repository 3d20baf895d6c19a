"""The station's figures for the central office's `telemetry` topic: today's queue,
applications per step, each step's durations and breaches today, blank stock, the
devices and the disk. The uplink adds its own backlog and the clock.

Everything is read from the register's derived state when a report is due, so a
restart loses nothing and no counter is kept on the side. "Today" starts with the day's
first ticket, found by seq (the wall clock may be wrong): steps recorded after it are
today's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date
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
        return {
            "station": self._register.station_id,
            "day": queue.day.isoformat(),
            "queue": queue.figures.model_dump(mode="json"),
            "applications": self._applications(),
            "steps": self._steps(queue.day),
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
        return self._register.open_by_stage()

    def _steps(self, day: date) -> dict[str, dict[str, Any]]:
        first = self._register.first_ticket_seq(day)
        if first is None:
            return {}
        durations: dict[str, list[int]] = defaultdict(list)
        breaches: dict[str, int] = defaultdict(int)
        failures: dict[str, int] = defaultdict(int)
        for kind, data in self._register.event_data_since(first, _STEP_EVENTS):
            step = data["step"]
            if kind is EventType.STEP_FINISHED:
                durations[step].append(data["duration_ms"])
            elif kind is EventType.STEP_BREACHED:
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
