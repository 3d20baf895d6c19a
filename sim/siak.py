"""The central population records (SIAK) simulated: a records service on loopback HTTP.

An applicant recorded before (status PRR) is not recorded again: the station prints the
card from the central record. This service plays that database for synthetic people
(`person_seed`, as the simulated scanners present them), so the same client code runs in
tests and in the field:

    GET /v1/records/{nik}
      200 {"nik", "status": "PRR", "face_png", "signature_png",
           "fingers": [{"position", "iso_19794_2"}, ...]}     (images, templates: base64)
      404 {"code": "not_recorded"}      a NIK nobody enrolled
      400 {"code": "bad_nik"}           a path that is not 16 digits

A record must agree with the simulated devices: its chip templates are extracted from the
very synthetic fingers the scanners render for that person, so that a live capture at
activation matches the card, and its face is the one `sim.sbi.face_image` draws.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import math
import re
from typing import Any, Final

import numpy as np
from aiohttp import web
from PIL import Image, ImageDraw

from appliance.fingerprint import encode_iso19794_2, extract_template

from ._base import Fault, FaultState, NetworkService, seeded
from .fingerprints import SyntheticFinger
from .sbi import face_image

_NIK: Final = re.compile(r"[0-9]{16}")
_GARBAGE: Final = b"\xff\xfe<html>proxy error\x00 not json at all"
_ENROLMENT_CAPTURE: Final = 0x5349414B  # "SIAK": the recording's capture, not a live one
_SHUTDOWN_S: Final = 0.05
"""How long an unplug or stop lets a request in flight finish before cutting it."""


class SiakSim(NetworkService):
    """The records service; implements `sim._base.SimulatedDevice` (for its faults)."""

    supported_faults: frozenset[Fault] = frozenset(
        {Fault.UNPLUG, Fault.HANG, Fault.GARBAGE, Fault.SLOW}
    )

    def __init__(
        self,
        *,
        name: str = "siak",
        host: str = "127.0.0.1",
        port: int = 0,
        chip_fingers: tuple[int, int] = (2, 7),
    ) -> None:
        """`port` 0 takes a free port at start and keeps it across unplugs; `chip_fingers`
        are the ISO finger positions whose templates a record carries."""
        super().__init__()
        if len(set(chip_fingers)) != 2 or not all(1 <= f <= 10 for f in chip_fingers):
            raise ValueError(f"chip fingers {chip_fingers} are not two positions in 1-10")
        self.name = name
        self.host = host
        self.port = port
        self.chip_fingers = chip_fingers
        self.faults = FaultState(owner=name, supported=self.supported_faults)
        self._people: dict[str, int] = {}
        self._records: dict[str, asyncio.Task[bytes]] = {}
        self._runner: web.AppRunner | None = None

    # -- SimulatedDevice

    async def stop(self) -> None:
        await super().stop()
        records = list(self._records.values())
        self._records.clear()
        for task in records:
            task.cancel()
        await asyncio.gather(*records, return_exceptions=True)

    def config_overlay(self) -> dict[str, Any]:
        """The station's `[siak]` table (top level, not under `[devices]`)."""
        if self.port == 0:
            raise RuntimeError("start the simulator first: its port is chosen then")
        return {"url": f"http://{self.host}:{self.port}"}

    # -- control

    def enroll(self, nik: str, person_seed: int) -> None:
        """Record a synthetic person under `nik` (status PRR); enrolling a NIK again
        replaces the person."""
        if not _NIK.fullmatch(nik):
            raise ValueError("a NIK is 16 digits")
        if self._people.get(nik) != person_seed:
            self._people[nik] = person_seed
            self._records.pop(nik, None)  # a request already waiting gets the old record

    @property
    def listening(self) -> bool:
        return self._runner is not None

    # -- transport

    async def _listen(self) -> None:
        app = web.Application()
        app.router.add_get("/v1/records/{nik}", self._answer)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=_SHUTDOWN_S)
        await runner.setup()
        # The same port after an unplug, as a re-plugged service comes back where it was.
        site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self.port = runner.addresses[0][1]
        self._runner = runner

    async def _close(self) -> None:
        # Cleaning up the runner closes the listener and cuts the open connections too.
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    # -- the records

    async def _answer(self, request: web.Request) -> web.Response:
        await self._hang_while_asked()
        if Fault.SLOW in self.faults:
            await asyncio.sleep(self.faults.param(Fault.SLOW, "delay_s", 3.0))
        if Fault.GARBAGE in self.faults:
            return web.Response(body=_GARBAGE, content_type="application/json")
        nik = request.match_info["nik"]
        if not _NIK.fullmatch(nik):
            return web.json_response({"code": "bad_nik"}, status=400)
        if nik not in self._people:
            return web.json_response({"code": "not_recorded"}, status=404)
        # Shielded: a client that gives up must not cancel the record others wait for.
        body = await asyncio.shield(self._record(nik))
        return web.Response(body=body, content_type="application/json")

    async def _hang_while_asked(self) -> None:
        while True:
            changed = self.faults.changed
            if Fault.HANG not in self.faults:
                return
            await changed.wait()

    def _record(self, nik: str) -> asyncio.Task[bytes]:
        # Computed once per person, on first demand, off the loop: a finger's first render
        # takes about a second, and the service must keep answering meanwhile.
        task = self._records.get(nik)
        if task is None:
            task = asyncio.create_task(
                asyncio.to_thread(_record_json, nik, self._people[nik], self.chip_fingers),
                name=f"sim-{self.name}-record",
            )
            self._records[nik] = task
        return task


def _record_json(nik: str, person_seed: int, fingers: tuple[int, int]) -> bytes:
    return json.dumps(
        {
            "nik": nik,
            "status": "PRR",
            "face_png": _b64(face_image(person_seed)),
            "signature_png": _b64(signature_image(person_seed)),
            "fingers": [
                {"position": position, "iso_19794_2": _b64(_chip_template(person_seed, position))}
                for position in fingers
            ],
        }
    ).encode()


def _chip_template(person_seed: int, position: int) -> bytes:
    finger = SyntheticFinger(person_seed=person_seed, finger=position)
    capture = np.random.default_rng([person_seed & 0xFFFFFFFF, position, _ENROLMENT_CAPTURE])
    template = extract_template(finger.impression(rng=capture), finger_position=position)
    return encode_iso19794_2(template)


def signature_image(person_seed: int) -> bytes:
    """A synthetic person's signature, a 300x100 PNG scribble, the same at every call."""
    rng = seeded(person_seed, "signature")
    image = Image.new("L", (300, 100), 255)
    draw = ImageDraw.Draw(image)
    # A cursive stroke: loops riding a wave, each signature its own frequencies and phases.
    waves = [(rng.uniform(0.02, 0.12), rng.uniform(0, 6.3), rng.uniform(5, 18)) for _ in range(3)]
    loop_radius, loop_rate = rng.uniform(6, 14), rng.uniform(0.15, 0.3)
    points = []
    for step in range(260):
        x = 20 + step + loop_radius * math.cos(step * loop_rate)
        y = 50 + loop_radius * math.sin(step * loop_rate)
        y += sum(amplitude * math.sin(step * rate + phase) for rate, phase, amplitude in waves)
        points.append((x, min(95.0, max(5.0, y))))
    draw.line(points, fill=20, width=3, joint="curve")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
