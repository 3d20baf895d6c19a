"""Scenario files: faults at given times, for repeatable field-like runs.

seed = 7
timing = "instant"            # or "realistic"

[[fault]]
at_s = 5                      # seconds after the simulator starts
device = "signature_pad"
fault = "unplug"
duration_s = 3                # cleared again after this long (omit: stays)

[[fault]]
at_s = 12
device = "satisfaction_keypad"
fault = "slow"
params = { delay_s = 2.5 }
"""

from __future__ import annotations

import asyncio
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ._base import Fault
from .control import Controllable


class ScenarioError(ValueError):
    pass


class ScheduledFault(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    at_s: float = Field(ge=0)
    device: str
    fault: Fault
    duration_s: float | None = Field(default=None, gt=0)
    params: dict[str, float | int | str] = {}


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int | None = None
    timing: Literal["realistic", "instant"] | None = None
    fault: list[ScheduledFault] = []

    @classmethod
    def load(cls, path: Path) -> Scenario:
        try:
            return cls.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ScenarioError(f"{path}: {exc}") from None
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()
            )
            raise ScenarioError(f"{path}: {problems}") from None

    def check_against(self, devices: Mapping[str, Controllable]) -> None:
        for item in self.fault:
            device = devices.get(item.device)
            if device is None:
                raise ScenarioError(f"fault at {item.at_s} s: unknown device {item.device!r}")
            if item.fault not in device.supported_faults:
                raise ScenarioError(
                    f"fault at {item.at_s} s: {item.device} cannot have {item.fault.value}"
                )

    async def play(self, devices: Mapping[str, Controllable]) -> None:
        """Inject and clear the faults on schedule (real seconds from now)."""
        self.check_against(devices)
        loop = asyncio.get_running_loop()
        start = loop.time()
        async with asyncio.TaskGroup() as group:
            for item in sorted(self.fault, key=lambda f: f.at_s):
                await asyncio.sleep(max(0.0, start + item.at_s - loop.time()))
                device = devices[item.device]
                params: dict[str, Any] = dict(item.params)
                device.inject(item.fault, params)
                if item.duration_s is not None:
                    group.create_task(
                        _clear_later(device, item.fault, item.duration_s),
                        name=f"clear-{item.device}-{item.fault}",
                    )


async def _clear_later(device: Controllable, fault: Fault, delay_s: float) -> None:
    await asyncio.sleep(delay_s)
    device.clear(fault)
