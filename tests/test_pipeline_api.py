"""The SOP's branches, each run through the local API on simulated devices."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from appliance.domain import ServiceType
from appliance.register import PublicKey, verify_register
from sim.pcscd import PrivatePcscd

from .office_rig import PERSON, Office, form, office

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def pcscd() -> AsyncIterator[PrivatePcscd]:
    async with PrivatePcscd() as daemon:
        yield daemon


@pytest_asyncio.fixture(loop_scope="module")
async def rig(tmp_path: Path, pcscd: PrivatePcscd) -> AsyncIterator[Office]:
    async with office(tmp_path, pcscd) as station:
        yield station


async def _to_counter(rig: Office, **form_args: Any) -> str:
    """Ticket, call, submission: the application waits for its check."""
    ticket = await rig.ok("siti", "POST", "/queue/tickets", json={"service": "baru"})
    await rig.ok("siti", "POST", "/queue/call-next", json={"counter": "loket-1"})
    view = await rig.ok("siti", "POST", "/applications", json=form(ticket["ticket"], **form_args))
    assert (view["step"], view["phase"]) == ("check", "waiting")
    return str(view["id"])


async def _through_validation(rig: Office, app: str) -> dict[str, Any]:
    await rig.ok("siti", "POST", f"/applications/{app}/steps/check/start")
    view = await rig.ok("siti", "POST", f"/applications/{app}/check", json={"documents": ["fc_kk"]})
    assert (view["step"], view["phase"]) == ("validate", "waiting")
    await rig.ok("budi", "POST", f"/applications/{app}/steps/validate/start")
    return await rig.ok(  # type: ignore[no-any-return]
        "budi", "POST", f"/applications/{app}/validate", json={"valid": True}
    )


async def test_a_new_card_goes_through_every_step_to_the_applicant(rig: Office) -> None:
    await rig.ok("eko", "POST", "/blanks", json={"count": 3, "reference": "BA/2026/001"})
    app = await _to_counter(rig)
    view = await _through_validation(rig, app)
    assert (view["step"], view["phase"]) == ("biometric", "waiting")

    rig.present(PERSON)
    view = await rig.ok("eko", "POST", f"/applications/{app}/steps/biometric/start")
    assert view["phase"] == "active"
    view = await rig.until(app, lambda v: v["step"] == "activate")
    assert view["card"]["state"] == "printed"

    await rig.take_card(app)
    await rig.ok("eko", "POST", f"/applications/{app}/steps/activate/start")
    await rig.until(app, lambda v: v["step"] == "transfer")
    await rig.ok("eko", "POST", f"/applications/{app}/steps/transfer/start")
    await rig.ok("eko", "POST", f"/applications/{app}/transfer")
    await rig.ok("siti", "POST", f"/applications/{app}/steps/handover/start")
    view = await rig.ok("siti", "POST", f"/applications/{app}/handover")
    assert view["state"] == "completed"

    stock = await rig.ok("eko", "GET", "/blanks")
    assert (stock["issued"], stock["spoiled"], stock["available"]) == (1, 0, 2)
    report = verify_register(rig.config.register_path, PublicKey.load(rig.config.station_key_path))
    assert report.ok, report.defect


async def test_an_incomplete_file_goes_back_with_the_list_of_what_is_missing(rig: Office) -> None:
    app = await _to_counter(rig, service=ServiceType.HILANG)
    await rig.ok("siti", "POST", f"/applications/{app}/steps/check/start")
    view = await rig.ok(
        "siti", "POST", f"/applications/{app}/check", json={"documents": ["fc_ktp"]}
    )
    assert (view["state"], view["step"]) == ("returned", "check")
    returned = [e for e in rig.station.register.events() if e.type == "application.returned"]
    assert returned[-1].data["missing_documents"] == ["surat_kehilangan", "fc_kk"]


async def test_a_file_that_contradicts_its_nik_is_returned_at_validation(rig: Office) -> None:
    app = await _to_counter(rig, declared_birth=date(1991, 5, 17))
    view = await _through_validation(rig, app)
    assert (view["state"], view["step"]) == ("returned", "validate")
    assert view["return_reason"]


async def test_someone_recorded_before_skips_recording_and_gets_a_suket_without_blanks(
    rig: Office,
) -> None:
    app = await _to_counter(rig, serial=77)
    nik = form("A-001", serial=77)["nik"]
    rig.siak.enroll(nik, PERSON)
    view = await _through_validation(rig, app)
    assert view["step"] == "encode_print"
    view = await rig.until(app, lambda v: v["state"] == "waiting_blank")
    types = [e.type for e in rig.station.register.events() if e.app == app]
    assert "step.skipped" in types
    assert "suket.issued" in types
    assert "biometrics.recorded" not in types

    await rig.ok("eko", "POST", "/blanks", json={"count": 1, "reference": "BA/2026/002"})
    view = await rig.until(app, lambda v: v["step"] == "activate")
    assert (view["state"], view["card"]["state"]) == ("in_progress", "printed")


async def test_bad_requests_get_a_clear_code_and_change_nothing(rig: Office) -> None:
    head = rig.station.register.head()
    cases = [
        ("budi", "POST", "/queue/call-next", {"counter": "loket-1"}, 403, "wrong_role"),
        ("siti", "GET", "/applications/20990101-0001", None, 404, "unknown_application"),
        ("siti", "POST", "/queue/call-next", {"counter": "loket-9"}, 422, "unknown_counter"),
        ("siti", "POST", "/applications", {"ticket": "A-001"}, 422, "invalid_input"),
        ("siti", "POST", "/queue/tickets", {"service": "x" * 100_000}, 413, "body_too_large"),
        (
            "eko",
            "POST",
            "/applications/20990101-0001/steps/biometric/start",
            None,
            404,
            "unknown_application",
        ),
    ]
    for person, method, path, body, status, code in cases:
        response = await rig.call(person, method, path, json=body)
        assert (response.status_code, response.json()["code"]) == (status, code), path
        assert response.json()["messages"]["id"]
    response = await rig.http.get("/api/v1/queue")
    assert (response.status_code, response.json()["code"]) == (401, "not_logged_in")
    assert rig.station.register.head() == head


async def test_a_step_started_twice_or_out_of_turn_is_refused(rig: Office) -> None:
    app = await _to_counter(rig)
    wrong = await rig.call("budi", "POST", f"/applications/{app}/steps/validate/start")
    assert (wrong.status_code, wrong.json()["code"]) == (409, "wrong_step")
    await rig.ok("siti", "POST", f"/applications/{app}/steps/check/start")
    again = await rig.call("siti", "POST", f"/applications/{app}/steps/check/start")
    assert (again.status_code, again.json()["code"]) == (409, "wrong_step")
    assert again.json()["messages"]["en"].startswith("Application")
