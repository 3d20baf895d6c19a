"""The device supervisor: opens every device, watches it, and brings it back by itself.

One named task per device, all in one TaskGroup. A device that is disconnected is
reopened with jittered exponential backoff (reopening re-enumerates USB and reopens the
serial port by its stable path); a connected one is asked for its status between
operations, which is how a hang or a quiet unplug is noticed: a ready device at the
(slow) poll interval, one that is there but not ready on the same backoff for a while
(`attention_s`), so that the moment an officer has put it right is seen. Every status
change goes into a bounded health history and to every subscriber (the uplink ships
them).
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import AsyncGenerator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

from appliance._backoff import Backoff
from appliance.clock import Clock, SystemClock
from appliance.logs import get_logger

from ._device import Device
from ._errors import DeviceError
from ._status import DeviceIdentity, DeviceState, DeviceStatus

log = get_logger(__name__)

_SUBSCRIBER_QUEUE: Final = 1024


@dataclass(frozen=True, slots=True)
class StatusChange:
    device: str
    kind: str
    status: DeviceStatus
    identity: DeviceIdentity | None
    wall_ns: int
    monotonic_ns: int

    def to_json(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "kind": self.kind,
            **self.status.to_json(),
            "identity": None if self.identity is None else self.identity.to_json(),
            "wall_ns": self.wall_ns,
        }


class DeviceSupervisor:
    def __init__(
        self,
        *,
        devices: Sequence[Device],
        poll_interval_s: float = 5.0,
        attention_s: float = 600.0,
        backoff: Backoff | None = None,
        history_size: int = 1000,
        clock: Clock | None = None,
        seed: int | None = None,
    ) -> None:
        names = [device.name for device in devices]
        if len(set(names)) != len(names):
            raise ValueError(f"device names must be unique: {names}")
        self.devices = {device.name: device for device in devices}
        self.poll_interval_s = poll_interval_s
        self.attention_s = attention_s
        """How long a device in trouble is asked again on the quick backoff before it
        goes back to the idle poll: long enough for an officer to load paper or a
        ribbon."""
        self.backoff = backoff or Backoff()
        self.history: deque[StatusChange] = deque(maxlen=history_size)
        self._clock = clock or SystemClock()
        self._rng = random.Random(seed)  # noqa: S311 - jitter, not security
        self._subscribers: list[asyncio.Queue[StatusChange]] = []
        self._changed = {name: asyncio.Event() for name in names}
        for device in devices:
            device.add_listener(self._on_status)

    def __getitem__(self, name: str) -> Device:
        return self.devices[name]

    async def run(self) -> None:
        """Supervise every device until cancelled; closes them all on the way out."""
        try:
            async with asyncio.TaskGroup() as group:
                for device in self.devices.values():
                    group.create_task(self._supervise(device), name=f"supervise-{device.name}")
        finally:
            for device in self.devices.values():
                await device.disconnect()

    def subscribe(self) -> AsyncGenerator[StatusChange, None]:
        """Every status change from now on, in order; a slow reader loses the oldest."""
        queue: asyncio.Queue[StatusChange] = asyncio.Queue(_SUBSCRIBER_QUEUE)
        self._subscribers.append(queue)
        return self._drain(queue)

    async def wait_for(self, name: str, *states: DeviceState) -> DeviceStatus:
        """Wait until device `name` is in one of `states` (bound it with asyncio.timeout)."""
        device = self.devices[name]
        while device.status.state not in states:
            event = self._changed[name]
            await event.wait()
        return device.status

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """Each device's status and identity now: for `status`, telemetry and the API."""
        return {
            name: {
                "kind": device.kind.value,
                **device.status.to_json(),
                "identity": None if device.identity is None else device.identity.to_json(),
            }
            for name, device in self.devices.items()
        }

    async def _supervise(self, device: Device) -> None:
        loop = asyncio.get_running_loop()  # the pauses' own time, whatever the clock says
        rechecks: Iterator[float] | None = None
        trouble_since = 0.0
        while True:
            if device.status.state is DeviceState.DISCONNECTED:
                await self._reconnect(device)
            if _in_trouble(device.status):
                # There but not usable (paper out, a fault, busy with another host): an
                # officer is likely fixing it and waiting, so for a while ask again
                # soon, backing off as for a reconnect; a fault nobody sees to goes
                # back to the idle poll.
                if rechecks is None:
                    rechecks, trouble_since = self.backoff.pauses(self._rng), loop.time()
                pause_s = self.poll_interval_s
                if loop.time() - trouble_since < self.attention_s:
                    pause_s = min(next(rechecks), pause_s)
                await self._pause_or_wake(device, pause_s)
            else:
                rechecks = None
                if await self._pause_or_wake(device, self.poll_interval_s):
                    continue  # an operation found it in trouble: the quick pause first
            if device.status.state is DeviceState.ERROR and not device.in_use:
                # A device that misbehaves may recover by itself (check again), or only
                # once reopened, as a USB device after a firmware crash: do both.
                if (await device.check()).state is DeviceState.ERROR:
                    await device.disconnect()
            elif device.status.state is not DeviceState.DISCONNECTED:
                await device.check()

    async def _reconnect(self, device: Device) -> None:
        async for _ in self.backoff.delays(self._rng):
            try:
                await device.connect()
            except DeviceError as error:
                log.debug(
                    "device_connect_failed",
                    device=device.name,
                    code=error.code,
                    detail=error.detail,
                )
                continue
            if device.status.state is DeviceState.DISCONNECTED:
                # Opened, but the device itself says it is not attached (an SBI service
                # whose scanner is unplugged): not connected, so keep backing off.
                log.debug("device_connect_failed", device=device.name, code=device.status.code)
                continue
            log.info("device_connected", device=device.name, state=device.status.state.value)
            return

    async def _pause_or_wake(self, device: Device, pause_s: float) -> bool:
        """Sleep until the next poll, but wake at once if the device reports a change
        itself (a serial reader that saw the port vanish) or, when it was fine, an
        operation finds it in trouble; True for that last wake."""
        watching_for_trouble = not _in_trouble(device.status)
        event = self._changed[device.name]
        try:
            async with asyncio.timeout(pause_s):
                while device.status.state is not DeviceState.DISCONNECTED:
                    if watching_for_trouble and _in_trouble(device.status):
                        return True
                    await event.wait()
                    event = self._changed[device.name]
        except TimeoutError:
            pass
        return False

    def _on_status(self, device: Device, status: DeviceStatus) -> None:
        change = StatusChange(
            device=device.name,
            kind=device.kind.value,
            status=status,
            identity=device.identity,
            wall_ns=self._clock.wall_ns(),
            monotonic_ns=self._clock.monotonic_ns(),
        )
        self.history.append(change)
        log.info(
            "device_status",
            device=device.name,
            state=status.state.value,
            code=status.code,
            reason=None if status.reason is None else status.reason.en,
        )
        for queue in self._subscribers:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(change)
        event = self._changed[device.name]
        self._changed[device.name] = asyncio.Event()
        event.set()

    async def _drain(
        self, queue: asyncio.Queue[StatusChange]
    ) -> AsyncGenerator[StatusChange, None]:
        try:
            while True:
                yield await queue.get()
        finally:
            self._subscribers.remove(queue)


def _in_trouble(status: DeviceStatus) -> bool:
    """Not usable, for a reason of the device's own (an operation of ours in progress
    is not trouble: it has no reason code)."""
    return status.state is not DeviceState.READY and status.code is not None
