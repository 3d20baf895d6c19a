"""Simulated serial peripherals: the signature pad and the satisfaction keypad.

Each answers the line protocol of `appliance.hal._lineproto` on the master side of a
pty, so the real driver, opened on the stable link, cannot tell it from the hardware.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, Final

from appliance.hal._lineproto import Frame, FrameError, decode, encode

from ._base import Fault, FaultState, Timing, seeded
from .pty import PtyPort

_SERIAL_FAULTS: Final = frozenset({Fault.UNPLUG, Fault.HANG, Fault.GARBAGE, Fault.SLOW, Fault.BUSY})


class SerialLineSim:
    """Answers ID/STAT and device-specific commands; injects the faults of a serial line."""

    supported_faults: ClassVar[frozenset[Fault]] = _SERIAL_FAULTS
    make: ClassVar[str] = "KTPEL-SIM"
    model: ClassVar[str]
    driver_kind: ClassVar[str]

    def __init__(
        self,
        *,
        name: str,
        link: Path,
        seed: int = 0,
        timing: Timing | None = None,
        serial: str | None = None,
    ) -> None:
        self.name = name
        self.faults = FaultState(owner=name, supported=self.supported_faults)
        self.timing = timing or Timing()
        self.serial = serial or f"SIM-{name.upper()}-{seed:04d}"
        self.port = PtyPort(link=link)
        self.rng: random.Random = seeded(seed, name)
        self.received: list[Frame] = []
        self._received_changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stream: asyncio.Task[None] | None = None

    async def wait_received(self, kind: str) -> None:
        """Until the driver has sent a command of `kind` (for tests and scenarios)."""
        while not any(frame.kind == kind for frame in self.received):
            await self._received_changed.wait()

    def identity_fields(self) -> tuple[str | int, ...]:
        return (self.make, self.model, self.serial, "1.4.2")

    def config_overlay(self) -> dict[str, Any]:
        return {"kind": self.driver_kind, "path": str(self.port.link)}

    async def start(self) -> None:
        self.port.plug()
        self._task = asyncio.create_task(self._serve(), name=f"sim-{self.name}")

    async def stop(self) -> None:
        for task in (self._stream, self._task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._stream = self._task = None
        self.port.unplug()

    def inject(self, fault: Fault, params: dict[str, Any] | None = None) -> None:
        self.faults.inject(fault, params)
        if fault is Fault.UNPLUG:
            self._stop_stream()
            self.port.unplug()

    def clear(self, fault: Fault | None = None) -> None:
        unplugged = Fault.UNPLUG in self.faults
        self.faults.clear(fault)
        if unplugged and Fault.UNPLUG not in self.faults:
            self.port.plug()

    async def _serve(self) -> None:
        while True:
            if not self.port.plugged:
                await self.faults.changed.wait()
                continue
            line = await self.port.read_line()
            if not line:
                continue
            if Fault.HANG in self.faults:
                continue  # swallowed: a hung device answers nothing, ever
            try:
                frame = decode(line)
            except FrameError:
                self.send("ERR", "device_error")  # it cannot know which command that was
                continue
            self.received.append(frame)
            self._received_changed.set()
            self._received_changed = asyncio.Event()
            await self.timing.pause(0.005)
            if Fault.SLOW in self.faults:
                await asyncio.sleep(self.faults.param(Fault.SLOW, "delay_s", 2.0))
            await self._answer(frame)

    async def _answer(self, frame: Frame) -> None:
        if frame.kind == "ID":
            self.send("ID", *self.identity_fields())
        elif frame.kind == "STAT":
            if Fault.BUSY in self.faults:
                self.send("STAT", "ERR", "device_busy")
            else:
                self.send("STAT", "OK")
        else:
            await self.handle(frame)

    async def handle(self, frame: Frame) -> None:
        """Device-specific commands; the base device knows none."""
        self.send("ERR", "device_error", frame.kind)

    def send(self, kind: str, *fields: str | int) -> None:
        if Fault.HANG in self.faults:
            return
        if Fault.GARBAGE in self.faults:
            self.port.write(self.rng.randbytes(self.rng.randint(1, 40)) + b"\r\n")
            return
        self.port.write(encode(kind, *fields))

    def _start_stream(self, events: Iterator[tuple[float, str, tuple[str | int, ...]]]) -> None:
        self._stop_stream()
        self._stream = asyncio.create_task(self._play(events), name=f"sim-{self.name}-stream")

    def _stop_stream(self) -> None:
        if self._stream is not None:
            self._stream.cancel()
            self._stream = None

    async def _play(self, events: Iterator[tuple[float, str, tuple[str | int, ...]]]) -> None:
        for delay, kind, fields in events:
            await self.timing.pause(delay)
            self.send(kind, *fields)


class SignaturePadSim(SerialLineSim):
    """A pen pad that, once started, draws a signature and then presses ACCEPT."""

    model = "SignPad-500"
    driver_kind = "signature_pad"
    width: Final = 640
    height: Final = 200

    def __init__(self, *, final_button: str = "ACCEPT", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.final_button = final_button

    def identity_fields(self) -> tuple[str | int, ...]:
        return (*super().identity_fields(), self.width, self.height, 1023)

    async def handle(self, frame: Frame) -> None:
        if frame.kind == "START":
            self.send("ACK", "START")
            self._start_stream(self._signature())
        elif frame.kind == "CLEAR":
            self.send("ACK", "CLEAR")
        elif frame.kind == "STOP":
            self._stop_stream()
            self.send("ACK", "STOP")
        else:
            self.send("ERR", "device_error", frame.kind)

    def _signature(self) -> Iterator[tuple[float, str, tuple[str | int, ...]]]:
        """Two strokes of a looping scrawl, sampled at 100 Hz, then the final button."""
        rng = self.rng
        t_ms = 0
        yield 0.3, "B", ("PEN_DOWN",)
        for stroke in range(2):
            x0 = 60 + stroke * 280 + rng.randint(-10, 10)
            loops = rng.uniform(2.0, 3.5)
            for i in range(60):
                phase = i / 60
                x = x0 + int(220 * phase)
                y = 100 + int(50 * math.sin(phase * loops * 2 * math.pi) * (1 - phase / 2))
                pressure = 0 if i == 59 else 300 + int(400 * math.sin(math.pi * phase))
                t_ms += 10
                yield 0.01, "P", (x, y, pressure, t_ms)
        yield 0.3, "B", (self.final_button,)


class SatisfactionKeypadSim(SerialLineSim):
    """Four buttons; once armed, a visitor presses one (seeded, or `press` at run time)."""

    model = "SKM-4"
    driver_kind = "satisfaction_keypad"

    def __init__(self, *, auto_press: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.auto_press = auto_press
        self.armed = False
        self.arms = 0
        """How many times the buttons have been lit."""
        self._armed_changed = asyncio.Event()

    async def lit(self, *, after: int) -> None:
        """Until the buttons are lit by an arming after the first `after` ones (a
        scenario's visitor waits for the buttons to light before pressing)."""
        while not (self.armed and self.arms > after):
            await self._armed_changed.wait()

    async def dark(self) -> None:
        """Until the buttons go dark (the host took the press, or gave up waiting)."""
        while self.armed:
            await self._armed_changed.wait()

    def _set_armed(self, *, armed: bool) -> None:
        self.armed = armed
        self._armed_changed.set()
        self._armed_changed = asyncio.Event()

    async def handle(self, frame: Frame) -> None:
        if frame.kind == "ARM":
            self.arms += 1
            self._set_armed(armed=True)
            self.send("ACK", "ARM")
            if self.auto_press:
                # Most visitors are satisfied: the simulator leans the same way.
                key = self.rng.choices([1, 2, 3, 4], weights=[45, 40, 10, 5])[0]
                self._start_stream(iter([(self.rng.uniform(1.0, 4.0), "K", (key,))]))
        elif frame.kind == "DISARM":
            self._set_armed(armed=False)
            self._stop_stream()
            self.send("ACK", "DISARM")
        else:
            self.send("ERR", "device_error", frame.kind)

    def press(self, key: int | str) -> None:
        """A visitor presses button `key` (1-4); garbage values test the driver."""
        self.send("K", key)
