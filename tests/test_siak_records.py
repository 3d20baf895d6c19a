"""The station's client of the central records against the simulated records service,
over real HTTP on loopback: the record of someone recorded before, its chip templates
matching the synthetic person the scanners present, and every way the service can fail."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import random
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from aiohttp import web
from PIL import Image
from pydantic import ValidationError

from appliance.fingerprint import (
    FingerMatcher,
    FingerTemplate,
    Minutia,
    MinutiaKind,
    decode_iso19794_2,
    encode_iso19794_2,
    extract_template,
)
from appliance.pipeline._records import (
    NoRecords,
    RecordedPerson,
    RecordsUnavailable,
    SiakRecords,
    SiakSection,
)
from sim._base import Fault
from sim.fingerprints import SyntheticFinger
from sim.siak import SiakSim

NIK = "3508014107900001"
OTHER_NIK = "3508014107900002"
PERSON = 1001
STRANGER = 1002  # a second synthetic person: only their right index finger is grown
BOUND_S = 30.0  # no test waits longer than this for the service, whatever goes wrong


@pytest.fixture
async def siak() -> AsyncIterator[SiakSim]:
    service = SiakSim()
    await service.start()
    service.enroll(NIK, PERSON)
    yield service
    await service.stop()


def _records(service: SiakSim, *, timeout_s: float = 10.0) -> SiakRecords:
    return SiakRecords(url=service.config_overlay()["url"], timeout_s=timeout_s)


async def _lookup(records: SiakRecords, nik: str = NIK) -> RecordedPerson | None:
    async with asyncio.timeout(BOUND_S):
        return await records.lookup(nik)


async def _unavailable(records: SiakRecords, nik: str = NIK) -> RecordsUnavailable:
    with pytest.raises(RecordsUnavailable) as caught:
        await _lookup(records, nik)
    return caught.value


def _live_finger(person: int, position: int, capture: int) -> FingerTemplate:
    image = SyntheticFinger(person_seed=person, finger=position).impression(
        rng=random.Random(capture)
    )
    return extract_template(image, finger_position=position)


# --------------------------------------------------------------------------- the record


async def test_a_recorded_person_comes_back_with_the_chip_fingers_of_the_service(
    siak: SiakSim,
) -> None:
    async with _records(siak) as records:
        person = await _lookup(records)
    assert person is not None
    assert person.nik == NIK
    assert [finger.position for finger in person.fingers] == [2, 7]
    for finger in person.fingers:
        assert decode_iso19794_2(finger.iso_19794_2).finger_position == finger.position
    for image in (person.face_image, person.signature_image):
        with Image.open(io.BytesIO(image)) as opened:
            assert opened.format == "PNG"


async def test_the_chip_template_matches_the_person_the_scanner_presents_and_no_other(
    siak: SiakSim,
) -> None:
    async with _records(siak) as records:
        person = await _lookup(records)
    assert person is not None
    matcher = FingerMatcher()
    index = decode_iso19794_2(person.fingers[0].iso_19794_2)
    assert matcher.matches(_live_finger(PERSON, 2, capture=7), index).matched
    assert not matcher.matches(_live_finger(STRANGER, 2, capture=7), index).matched
    middle = decode_iso19794_2(person.fingers[1].iso_19794_2)
    assert matcher.matches(_live_finger(PERSON, 7, capture=8), middle).matched


async def test_someone_never_recorded_is_none(siak: SiakSim) -> None:
    async with _records(siak) as records:
        assert await _lookup(records, OTHER_NIK) is None
    assert await NoRecords().lookup(NIK) is None


async def test_the_service_refuses_a_path_that_is_not_a_nik(siak: SiakSim) -> None:
    # The client never sends one (see below); the service must still say so.
    url = siak.config_overlay()["url"]
    async with httpx.AsyncClient(trust_env=False) as client:
        answer = await client.get(f"{url}/v1/records/35080141079")
    assert (answer.status_code, answer.json()) == (400, {"code": "bad_nik"})


async def test_the_client_checks_the_nik_before_it_goes_into_a_url(siak: SiakSim) -> None:
    async with _records(siak) as records:
        with pytest.raises(ValueError, match=r"^\*+ is not a 16-digit NIK$"):
            await records.lookup("3508014107900001/../x")


# --------------------------------------------------------------------------- faults


async def test_an_unplugged_service_is_unreachable_until_plugged_back(siak: SiakSim) -> None:
    async with _records(siak) as records:
        assert await _lookup(records) is not None  # a kept-alive connection, cut by unplug
        await siak.unplug()
        error = await _unavailable(records)
        assert error.code == "records_unreachable"
        await siak.replug()
        assert await _lookup(records) is not None


async def test_a_hung_service_times_out_on_the_client_s_deadline(siak: SiakSim) -> None:
    siak.inject(Fault.HANG)
    async with _records(siak, timeout_s=0.2) as records:
        error = await _unavailable(records)
    assert error.code == "records_timeout"
    assert error.text.en.startswith("The central population records did not answer in time")


async def test_garbage_from_the_service_is_not_a_record(siak: SiakSim) -> None:
    siak.inject(Fault.GARBAGE)
    async with _records(siak) as records:
        error = await _unavailable(records)
        assert error.code == "records_garbage"
        siak.clear(Fault.GARBAGE)
        assert await _lookup(records) is not None


async def test_a_slow_answer_within_the_deadline_is_still_the_record(siak: SiakSim) -> None:
    siak.inject(Fault.SLOW, {"delay_s": 0.1})
    async with _records(siak, timeout_s=10) as records:
        person = await _lookup(records)
    assert person is not None
    assert person.nik == NIK


async def test_the_service_s_faults_are_its_own() -> None:
    with pytest.raises(ValueError, match="cannot have fault paper_out"):
        SiakSim().inject(Fault.PAPER_OUT)
    with pytest.raises(RuntimeError, match="start the simulator first"):
        SiakSim().config_overlay()


# --------------------------------------------------------------------------- bad answers


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _png() -> str:
    out = io.BytesIO()
    Image.new("L", (8, 8), 200).save(out, format="PNG")
    return _b64(out.getvalue())


def _template(position: int) -> str:
    minutiae = tuple(
        Minutia(x=20 + 9 * i, y=30 + 11 * i, angle=17 * i, kind=MinutiaKind.ENDING, quality=90)
        for i in range(6)
    )
    template = FingerTemplate(
        width=320, height=400, finger_position=position, quality=80, minutiae=minutiae
    )
    return _b64(encode_iso19794_2(template))


def _valid() -> dict[str, Any]:
    return {
        "nik": NIK,
        "status": "PRR",
        "face_png": _png(),
        "signature_png": _png(),
        "fingers": [
            {"position": 2, "iso_19794_2": _template(2)},
            {"position": 7, "iso_19794_2": _template(7)},
        ],
    }


class _Canned:
    """A records service that answers whatever the test sets."""

    def __init__(self) -> None:
        self.status = 200
        self.body = b""
        self.url = ""

    async def answer(self, request: web.Request) -> web.Response:
        assert request.path == f"/v1/records/{NIK}"
        return web.Response(status=self.status, body=self.body, content_type="application/json")


@pytest.fixture
async def canned() -> AsyncIterator[_Canned]:
    service = _Canned()
    app = web.Application()
    app.router.add_get("/v1/records/{nik}", service.answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    service.url = f"http://{host}:{port}"
    yield service
    await runner.cleanup()


async def test_a_well_formed_answer_is_accepted(canned: _Canned) -> None:
    canned.body = json.dumps(_valid()).encode()
    async with SiakRecords(url=canned.url, timeout_s=5) as records:
        person = await _lookup(records)
    assert person is not None
    assert [finger.position for finger in person.fingers] == [2, 7]


def _set(key: str, value: object) -> Callable[[dict[str, Any]], None]:
    return lambda record: record.__setitem__(key, value)


def _finger(index: int, key: str, value: object) -> Callable[[dict[str, Any]], None]:
    return lambda record: record["fingers"][index].__setitem__(key, value)


@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(_set("nik", OTHER_NIK), id="another-person-s-nik"),
        pytest.param(_set("status", "DUPLICATE"), id="not-print-ready"),
        pytest.param(_set("face_png", "not base64!"), id="bad-base64"),
        pytest.param(_set("face_png", ""), id="empty-face"),
        pytest.param(_set("signature_png", _b64(b"GIF89a....")), id="signature-not-png"),
        pytest.param(_set("extra", 1), id="unknown-field"),
        pytest.param(lambda record: record.pop("fingers"), id="no-fingers"),
        pytest.param(lambda record: record["fingers"].pop(), id="one-finger"),
        pytest.param(_finger(0, "iso_19794_2", _b64(b"FMR\x00 20\x00 garbage")), id="bad-template"),
        pytest.param(_finger(1, "iso_19794_2", _template(2)), id="template-of-the-wrong-finger"),
        pytest.param(
            lambda record: record["fingers"].__setitem__(1, record["fingers"][0]),
            id="same-finger-twice",
        ),
        pytest.param(_finger(0, "position", 11), id="no-such-finger"),
    ],
)
async def test_an_answer_that_is_not_a_whole_record_is_refused(
    canned: _Canned, spoil: Callable[[dict[str, Any]], None]
) -> None:
    record = _valid()
    spoil(record)
    canned.body = json.dumps(record).encode()
    async with SiakRecords(url=canned.url, timeout_s=5) as records:
        error = await _unavailable(records)
    assert error.code == "records_garbage"


async def test_a_404_that_is_not_the_service_s_own_does_not_mean_never_recorded(
    canned: _Canned,
) -> None:
    # A wrong URL must not turn everyone into a first-time applicant, recorded again.
    canned.status, canned.body = 404, b"<html>Not Found</html>"
    async with SiakRecords(url=canned.url, timeout_s=5) as records:
        assert (await _unavailable(records)).code == "records_garbage"
        canned.body = b'{"code": "not_recorded"}'
        assert await _lookup(records) is None


async def test_a_server_error_is_a_refusal_with_its_status(canned: _Canned) -> None:
    canned.status, canned.body = 503, b'{"code": "maintenance"}'
    async with SiakRecords(url=canned.url, timeout_s=5) as records:
        error = await _unavailable(records)
    assert error.code == "records_refused"
    assert "HTTP 503" in error.text.id


# --------------------------------------------------------------------------- the NIK


async def test_the_nik_is_masked_in_errors_and_in_the_record_s_repr(siak: SiakSim) -> None:
    siak.inject(Fault.GARBAGE)
    async with _records(siak) as records:
        error = await _unavailable(records)
        siak.clear()
        person = await _lookup(records)
    for text in (error.text.id, error.text.en, str(error), repr(person)):
        assert NIK not in text
        assert "3508********0001" in text
    assert error.text.id.startswith("Jawaban data kependudukan pusat untuk NIK 3508********0001")


# --------------------------------------------------------------------------- settings


def test_the_siak_section_defaults_to_no_service() -> None:
    section = SiakSection()
    assert (section.url, section.timeout_s) == (None, 5.0)


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        ("http://127.0.0.1:4700", "http://127.0.0.1:4700"),
        ("https://siak.dukcapil.example/api/", "https://siak.dukcapil.example/api"),
        ("http://[::1]:8080", "http://[::1]:8080"),
    ],
)
def test_the_siak_section_takes_an_http_url(url: str, kept: str) -> None:
    assert SiakSection(url=url).url == kept


@pytest.mark.parametrize(
    "url",
    [
        "127.0.0.1:4700",
        "ftp://127.0.0.1/records",
        "http://",
        "http://exa mple.id",
        "http://-bad-.example",
        "http://127.0.0.1:99999",
        "http://user:secret@siak.example",
        "http://siak.example/?token=x",
        "",
    ],
)
def test_the_siak_section_refuses_a_malformed_url(url: str) -> None:
    with pytest.raises(ValidationError):
        SiakSection(url=url)


@pytest.mark.parametrize("timeout_s", [0, -1, 61])
def test_the_siak_section_bounds_the_timeout(timeout_s: float) -> None:
    with pytest.raises(ValidationError):
        SiakSection(timeout_s=timeout_s)


def test_the_siak_section_refuses_unknown_keys() -> None:
    with pytest.raises(ValidationError):
        SiakSection.model_validate({"uri": "http://127.0.0.1:4700"})
