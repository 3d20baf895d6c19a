"""Who and what each active step holds: a person or a device is never given to two steps."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from appliance._text import Text

from ._errors import Busy


@dataclass(slots=True)
class Claims:
    persons: dict[str, str] = field(default_factory=dict)
    devices: dict[str, str] = field(default_factory=dict)

    def free(self, devices: Iterable[str]) -> bool:
        return all(device not in self.devices for device in devices)

    def check(self, application: str, person: str | None, devices: Iterable[str]) -> None:
        """Raise Busy naming what is taken, or return if everything is free."""
        if person is not None:
            held = self.persons.get(person)
            if held is not None and held != application:
                raise Busy(
                    "person_busy",
                    Text(
                        f"{person} sedang menangani permohonan {held}; selesaikan dulu.",
                        f"{person} is working on application {held}; finish it first.",
                    ),
                )
        for device in devices:
            held = self.devices.get(device)
            if held is not None and held != application:
                raise Busy(
                    "device_busy",
                    Text(
                        f"Perangkat {device} sedang dipakai untuk permohonan {held}.",
                        f"Device {device} is in use for application {held}.",
                    ),
                )

    def take(self, application: str, person: str | None, devices: Iterable[str]) -> None:
        self.check(application, person, devices)
        if person is not None:
            self.persons[person] = application
        for device in devices:
            self.devices[device] = application

    def release(self, application: str) -> None:
        for table in (self.persons, self.devices):
            for key in [key for key, held in table.items() if held == application]:
                del table[key]
