"""The SOP's branches, each run through the local API on simulated devices."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

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
