"""A whole station on simulated devices, driven through its local API as the officers do.

The simulator runs in this process against the tests' private pcscd (libpcsclite reads
its socket once per process); the station is composed exactly as `appliance run` does,
and its API is served by uvicorn on a free loopback port.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from appliance.clock import Timekeeper
from appliance.config import Config, load_config
from appliance.domain import (
    MaritalStatus,
    Role,
    ServiceType,
    Sex,
    compose_kk,
    compose_nik,
    required_documents,
)
from appliance.hal import DeviceState
from appliance.keys import init_keys
from appliance.staff import add_member
from appliance.station import Station
from sim._base import Timing
from sim.office import SimulatedOffice
from sim.pcscd import PrivatePcscd
from sim.sbi import SbiSimulator
from sim.siak import SiakSim

OFFICERS: Mapping[str, tuple[str, Role]] = {
    "siti": ("Siti Aminah", Role.COUNTER_OFFICER),
    "budi": ("Budi Santoso", Role.SECTION_HEAD),
    "eko": ("Eko Prasetyo", Role.OPERATOR),
    "camat": ("Agus Salim", Role.SUPERVISOR),
}
PIN = "246810"
PERSON = 11
"""The synthetic person whose fingers the scanners present (its fingers are cached on disk)."""


@dataclass
class Office:
    sim: SimulatedOffice
    station: Station
    config: Config
    http: httpx.AsyncClient
    tokens: dict[str, str] = field(default_factory=dict)

    def as_(self, person: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[person]}"}

    async def call(self, person: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self.http.request(method, f"/api/v1{path}", headers=self.as_(person), **kwargs)

    async def ok(self, person: str, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.call(person, method, path, **kwargs)
        assert response.status_code < 300, (path, response.status_code, response.text)
        return response.json() if response.content else None

    def present(self, person_seed: int) -> None:
        """The applicant puts their fingers on both scanners."""
        for name in ("fingerprint_scanner", "single_finger_scanner"):
            scanner = self.sim.devices[name]
            assert isinstance(scanner, SbiSimulator)
            scanner.present(person_seed)

    @property
    def siak(self) -> SiakSim:
        siak = self.sim.devices["siak"]
        assert isinstance(siak, SiakSim)
        return siak

    async def until(
        self, app: str, predicate: Any, *, timeout_s: float = 60.0, allow_failure: bool = False
    ) -> dict[str, Any]:
        """Wait, on the live events, until the application's view satisfies `predicate`."""
        async with asyncio.timeout(timeout_s):
            async with self.http.stream(
                "GET", "/api/v1/events", headers=self.as_("eko"), timeout=None
            ) as stream:
                view = await self.ok("eko", "GET", f"/applications/{app}")
                if predicate(view):
                    return view  # type: ignore[no-any-return]
                async for line in stream.aiter_lines():
                    if line.startswith("data:") and f'"app":"{app}"' in line:
                        view = await self.ok("eko", "GET", f"/applications/{app}")
                        if predicate(view):
                            return view  # type: ignore[no-any-return]
                        if '"type":"step.failed"' in line and not allow_failure:
                            raise AssertionError(f"step failed: {view['last_failure']}")
        raise AssertionError("unreachable")

    async def take_card(self, app: str) -> None:
        """The operator carries the application's printed card to the activation desk."""
        view = await self.ok("eko", "GET", f"/applications/{app}")
        await self.sim.take_card(serial=view["card"]["serial"])


def form(
    ticket: str,
    *,
    service: ServiceType = ServiceType.BARU,
    serial: int = 1,
    birth: date = date(1990, 5, 17),
    sex: Sex = Sex.LAKI_LAKI,
    declared_birth: date | None = None,
    documents: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    return {
        "ticket": ticket,
        "service": service,
        "nik": compose_nik(region="350801", birth_date=birth, sex=sex, serial=serial),
        "kk": compose_kk(region="350801", issued=date(2020, 1, 6), serial=serial),
        "name": "Ahmad Fauzi",
        "birth_date": (declared_birth or birth).isoformat(),
        "sex": sex,
        "marital_status": MaritalStatus.KAWIN,
        "documents": list(documents if documents is not None else required_documents(service)),
        "biodata": {
            "birth_place": "Lumajang",
            "address": "Jl. Kyai Ilyas No. 5",
            "rt_rw": "002/004",
            "village": "Ditotrunan",
            "religion": "ISLAM",
            "occupation": "Petani",
        },
    }


_QUIET_SPEECH = '[speech]\ndevice = "null"\n'
"""The calls are spoken to ALSA's null device: a test machine may have no sound card."""


@contextlib.asynccontextmanager
async def office(
    directory: Path,
    pcscd: PrivatePcscd,
    *,
    clock: Timekeeper | None = None,
    extra_config: str = "",
    api_config: str = "",
) -> AsyncIterator[Office]:
    """`api_config`: more keys of the `[api]` table. In the LAN mode, the rig's client
    speaks TLS and trusts the station's certificate."""
    async with contextlib.AsyncExitStack() as stack:
        sim = SimulatedOffice(directory=directory / "sim", pcscd=pcscd, timing=Timing(scale=0))
        await sim.start()
        stack.push_async_callback(sim.stop)
        config_file = directory / "station.toml"
        config_file.write_text(
            '[station]\nid = "lumajang-test"\noffice = "Kecamatan Lumajang"\n'
            '[paths]\nstate_dir = "state"\n[api]\nport = 0\n'
            + api_config
            + '[logging]\nlevel = "warning"\n'
            + _QUIET_SPEECH * ("[speech]" not in extra_config)
            + extra_config,
            encoding="utf-8",
        )
        config = load_config(config_file, overlays=[sim.overlay_path])
        init_keys(config)
        sim.card_transport_key = config.card_key_paths[0]
        for person, (name, role) in OFFICERS.items():
            add_member(config.staff_path, person_id=person, name=name, roles=[role], secret=PIN)
        station = await stack.enter_async_context(Station.open(config, clock=clock))
        runner = asyncio.create_task(station.run(), name="station")

        async def stop() -> None:
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner

        stack.push_async_callback(stop)
        async with asyncio.timeout(30):
            await station.api.started.wait()
            await station.pipeline.ready.wait()
            for name in station.supervisor.devices:
                await station.supervisor.wait_for(name, DeviceState.READY)
        http = await stack.enter_async_context(
            httpx.AsyncClient(
                base_url=f"{'https' if config.api.tls else 'http'}://127.0.0.1:{station.api.port}",
                timeout=30,
                verify=config.api_verify(),
            )
        )
        rig = Office(sim=sim, station=station, config=config, http=http)
        for person in OFFICERS:
            response = await http.post("/api/v1/session", json={"person": person, "secret": PIN})
            assert response.status_code == 201, response.text
            rig.tokens[person] = response.json()["token"]
        yield rig
