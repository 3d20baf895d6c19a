"""The fleet: which stations the central office has registered, where each one is, and
its local time and service hours. Scopes (nation, province, regency) are `_scope`'s.

The fleet file is kept by the central office beside the stations' public keys:

```toml
[[station]]
id = "kec-sukodono"          # = <id>.pem in stations_dir and the MQTT id
district = "350801"          # kode wilayah kecamatan, 6 digits ("35.08.01" too)
name = "Kecamatan Sukodono"  # optional: the region list's name of the district
timezone = "Asia/Jakarta"    # optional: [fleet] timezone
```

and `[fleet]` in the central config says where it is and the service hours the alerts
judge "offline during service hours" by:

```toml
[fleet]
file = "fleet.toml"          # relative to [central] state_dir
timezone = "Asia/Jakarta"    # of a station the file does not give one
opening = "08:00"
closing = "15:00"
working_days = [1, 2, 3, 4, 5]
holidays = [2026-12-24]      # cuti bersama and regional days off (national ones are known)
```

The file is validated as strictly as the config: an unknown key, a district code that
is not in the official region list, a station listed twice, is a ConfigError naming the
file, the station and the key (exit 2). A scope is "" (the nation), two digits (a
province) or four (a regency); a station with a key but not in the file belongs to no
province or regency, so only the national scope shows it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, time
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Final, Self
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from appliance._problems import ConfigProblem
from appliance._text import Text
from appliance.config import ConfigError, read_document, time_zone_name, validate_document
from appliance.domain import WorkingCalendar, district_name

from ._scope import dotted, within

STATION_ID_PATTERN: Final = r"^[a-z0-9][a-z0-9-]{0,62}$"
"""As the station's own `[station] id`: the MQTT username and topic segment."""
UNREGISTERED: Final = Text("wilayah belum terdaftar", "region not registered")
"""How a station with a key but not in the fleet file is shown (national scope only)."""


def undotted(code: object) -> object:
    """`35.08.01` as `350801`: officials write region codes dotted, the list does not."""
    return code.replace(".", "").strip() if isinstance(code, str) else code


def _listed_district(code: str) -> str:
    if district_name(code) is None:
        raise ValueError(
            f"district {dotted(code)} is not in the official region list (appliance.domain)"
        )
    return code


class FleetSection(BaseModel):
    """`[fleet]` in the central config."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: Path = Path("fleet.toml")
    """The fleet file, relative to `[central] state_dir`. The default may be missing (no
    station registered yet); a file named here must exist."""
    timezone: Annotated[str, AfterValidator(time_zone_name)] = "Asia/Jakarta"
    """The zone of a station the fleet file gives none, and of unregistered stations."""
    opening: time = time(8, 0)
    closing: time = time(15, 0)
    working_days: tuple[Annotated[int, Field(ge=1, le=7)], ...] = (1, 2, 3, 4, 5)
    """ISO weekdays the offices serve (1 = Monday)."""
    holidays: tuple[date, ...] = ()
    """Days off besides Indonesia's public holidays: the year's cuti bersama, local days."""
    open_days: tuple[date, ...] = ()
    """Days served although the `holidays` package has a national holiday on them."""

    @model_validator(mode="after")
    def _hours(self) -> Self:
        if self.opening >= self.closing:
            raise ValueError("opening must be before closing")
        if not self.working_days:
            raise ValueError("working_days needs at least one day")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def calendar(self, zone: ZoneInfo | None = None) -> WorkingCalendar:
        """The offices' working calendar, in `zone` (a station's) or the default zone."""
        return WorkingCalendar(
            working_days=frozenset(self.working_days),
            opening=self.opening,
            closing=self.closing,
            holidays=frozenset(self.holidays),
            open_days=frozenset(self.open_days),
            zone=zone or self.zone,
        )


class _StationEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, Field(pattern=STATION_ID_PATTERN)]
    district: Annotated[
        str,
        BeforeValidator(undotted),
        Field(pattern=r"^[0-9]{6}$"),
        AfterValidator(_listed_district),
    ]
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    timezone: Annotated[str, AfterValidator(time_zone_name)] | None = None


class _FleetFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    station: tuple[_StationEntry, ...] = ()


@dataclass(frozen=True, slots=True)
class FleetStation:
    id: str
    district: str
    """6 digits, as the region list writes it (undotted)."""
    name: str
    zone: ZoneInfo

    @property
    def regency(self) -> str:
        return self.district[:4]

    @property
    def province(self) -> str:
        return self.district[:2]


@dataclass(frozen=True, slots=True)
class Fleet:
    stations: tuple[FleetStation, ...] = ()
    """In the file's order."""
    default_zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Jakarta"))
    """The zone of an unregistered station."""
    _by_id: Mapping[str, FleetStation] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", MappingProxyType({s.id: s for s in self.stations}))

    @classmethod
    def load(cls, path: Path, *, default_zone: ZoneInfo | None = None) -> Fleet:
        """The fleet file at `path`; ConfigError naming the file, station and key."""
        zone = default_zone or ZoneInfo("Asia/Jakarta")
        document = read_document(path)
        try:
            parsed = validate_document(_FleetFile, document, file=path)
        except ConfigError as error:
            raise ConfigError(path, [_named(p, document) for p in error.problems]) from None
        _refuse_duplicates(path, parsed.station)
        return cls(
            stations=tuple(
                FleetStation(
                    id=entry.id,
                    district=entry.district,
                    name=entry.name or district_name(entry.district) or entry.district,
                    zone=ZoneInfo(entry.timezone) if entry.timezone else zone,
                )
                for entry in parsed.station
            ),
            default_zone=zone,
        )

    def get(self, station: str) -> FleetStation | None:
        return self._by_id.get(station)

    def zone_of(self, station: str) -> ZoneInfo:
        registered = self._by_id.get(station)
        return registered.zone if registered else self.default_zone

    def in_scope(self, scope: str) -> tuple[FleetStation, ...]:
        return tuple(s for s in self.stations if within(scope, s.district))

    def __iter__(self) -> Iterator[FleetStation]:
        return iter(self.stations)

    def __len__(self) -> int:
        return len(self.stations)


def load_fleet(section: FleetSection, state_dir: Path) -> Fleet:
    """The fleet `[fleet]` names. The default file may not exist yet (an empty fleet:
    every station unregistered); a file the config names must."""
    path = section.file if section.file.is_absolute() else state_dir / section.file
    if "file" not in section.model_fields_set and not path.exists():
        return Fleet(default_zone=section.zone)
    return Fleet.load(path, default_zone=section.zone)


def _named(problem: ConfigProblem, document: Mapping[str, Any]) -> ConfigProblem:
    """`station.2.district` as `station[3 kec-sukodono].district`: counted from 1, with
    the station's id, as a person finds it in the file."""
    parts = problem.key.split(".")
    if len(parts) >= 2 and parts[0] == "station" and parts[1].isdigit():
        index = int(parts[1])
        entries = document.get("station")
        entry = entries[index] if isinstance(entries, list) and index < len(entries) else None
        ident = entry.get("id") if isinstance(entry, dict) else None
        label = f"station[{index + 1}{f' {ident}' if isinstance(ident, str) else ''}]"
        return ConfigProblem(".".join([label, *parts[2:]]), problem.text)
    return problem


def _refuse_duplicates(path: Path, entries: Iterable[_StationEntry]) -> None:
    first: dict[str, int] = {}
    problems = []
    for number, entry in enumerate(entries, start=1):
        if entry.id in first:
            problems.append(
                ConfigProblem(
                    f"station[{number} {entry.id}].id",
                    Text(
                        f"stasiun ini sudah terdaftar di station[{first[entry.id]}]",
                        f"this station is already listed at station[{first[entry.id]}]",
                    ),
                )
            )
        else:
            first[entry.id] = number
    if problems:
        raise ConfigError(path, problems)


__all__ = [
    "STATION_ID_PATTERN",
    "UNREGISTERED",
    "Fleet",
    "FleetSection",
    "FleetStation",
    "load_fleet",
    "undotted",
]
