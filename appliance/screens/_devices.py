"""The device strip: every device's state, and for one that cannot be used, why and what
to do, in the officer's words. Any console shows it with `{% include "devices.html" %}`
(with `device_values(context)` among its values, or without: it then fills itself when
the live feed connects), and it refreshes itself from `/perangkat` on the "devices" topic,
which the station signals at each change of a device's state."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Final, Literal

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from appliance._text import Text
from appliance.hal import FAULT_CODES, DeviceState, device_kind

from ._context import ScreenContext
from ._session import Context, ScreenOfficer

router = APIRouter(include_in_schema=False)

Level = Literal["ok", "busy", "warn", "bad"]

_STATE_WORDS: Final = {
    DeviceState.READY: Text("Siap", "Ready"),
    DeviceState.BUSY: Text("Sedang dipakai", "In use"),
    DeviceState.NOT_READY: Text("Perlu tindakan", "Needs attention"),
    DeviceState.DISCONNECTED: Text("Tidak terhubung", "Not connected"),
    DeviceState.ERROR: Text("Bermasalah", "Faulty"),
}

# What to do, by state, after the reason (whose own words often already say it: "load
# paper"): the station retries by itself, so the officer's part is the cable, the power,
# the device's own display, or the technician.
_TO_DO: Final = {
    DeviceState.DISCONNECTED: Text(
        "Periksa kabel dan daya {label}. Stasiun menyambungkannya kembali sendiri; jika "
        "tetap terputus, hubungi teknisi.",
        "Check {the}'s cable and power. The station reconnects it by itself; if it stays "
        "disconnected, call the technician.",
    ),
    DeviceState.ERROR: Text(
        "Matikan lalu nyalakan kembali {label}, atau cabut dan pasang lagi kabelnya. Jika "
        "tetap bermasalah, hubungi teknisi.",
        "Switch {the} off and on again, or unplug its cable and plug it back in. If the "
        "fault stays, call the technician.",
    ),
    DeviceState.NOT_READY: Text(
        "Setelah diperbaiki, stasiun memeriksanya lagi sendiri.",
        "Once it is put right, the station checks it again by itself.",
    ),
    DeviceState.BUSY: Text(
        "Program lain sedang memakai {label}: hubungi teknisi.",
        "Another program holds {the}: call the technician.",
    ),
    DeviceState.READY: Text("Siapkan penggantinya.", "Have a replacement ready."),
}
_UNKNOWN_KIND: Final = Text("perangkat", "device")


@dataclass(frozen=True, slots=True)
class DeviceLine:
    name: str
    label: Text
    level: Level
    state: Text
    reason: Text | None
    to_do: Text | None

    @property
    def trouble(self) -> bool:
        return self.level in ("warn", "bad")


def device_lines(snapshot: dict[str, dict[str, Any]]) -> tuple[DeviceLine, ...]:
    """Each device of the supervisor's snapshot, those that need someone first."""
    lines = [_line(name, entry) for name, entry in snapshot.items()]
    return tuple(sorted(lines, key=lambda line: not line.trouble))


def shared_labels(lines: tuple[DeviceLine, ...]) -> frozenset[Text]:
    """Labels that more than one device has (two chip readers): those are told apart by
    their configured names."""
    counts = Counter(line.label for line in lines)
    return frozenset(label for label, count in counts.items() if count > 1)


def device_values(context: ScreenContext) -> dict[str, Any]:
    lines = device_lines(context.station.devices())
    return {
        "devices": lines,
        "devices_in_trouble": sum(line.trouble for line in lines),
        "devices_alike": shared_labels(lines),
    }


@router.get("/perangkat")
async def device_strip(request: Request, _officer: ScreenOfficer, context: Context) -> HTMLResponse:
    return context.render.page(request, "devices.html", device_values(context), block="strip")


def _line(name: str, entry: dict[str, Any]) -> DeviceLine:
    kind = device_kind(str(entry.get("kind")))
    plain = kind.label if kind is not None else _UNKNOWN_KIND
    state = DeviceState(entry["state"])
    code = entry.get("code")
    if code is None and state in (DeviceState.READY, DeviceState.BUSY):  # idle, or at work
        level: Level = "ok" if state is DeviceState.READY else "busy"
        return DeviceLine(name, _capitalised(plain), level, _STATE_WORDS[state], None, None)
    spec = FAULT_CODES.get(str(code))
    # The fault's own words, without the driver's technical detail (which is English).
    reason = spec.text if spec is not None else _reason_of(entry)
    level = "warn" if state in (DeviceState.READY, DeviceState.NOT_READY) else "bad"
    the = Text("{label}", "the {label}").format(label=plain)
    to_do = _TO_DO[state].format(label=plain, the=the)
    return DeviceLine(name, _capitalised(plain), level, _STATE_WORDS[state], reason, to_do)


def _reason_of(entry: dict[str, Any]) -> Text | None:
    reason = entry.get("reason")
    if not isinstance(reason, dict):
        return None
    return Text(str(reason.get("id", "")), str(reason.get("en", "")))


def _capitalised(text: Text) -> Text:
    return Text(text.id[:1].upper() + text.id[1:], text.en[:1].upper() + text.en[1:])
