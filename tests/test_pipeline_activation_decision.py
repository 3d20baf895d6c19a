"""The section head's decision on a refused activation, through the local API on
simulated devices: try the same card again, spoil it and print a new one, or spoil it and
return the file; each recorded with who decided, every blank accounted for."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from appliance.clock import ManualTimekeeper
from sim.pcscd import PrivatePcscd

from .office_rig import PERSON, Office, form, office

pytestmark = pytest.mark.asyncio(loop_scope="module")

OTHER_PERSON = 12


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def pcscd() -> AsyncIterator[PrivatePcscd]:
    async with PrivatePcscd() as daemon:
        yield daemon


@pytest_asyncio.fixture(loop_scope="module")
async def rig(tmp_path: Path, pcscd: PrivatePcscd) -> AsyncIterator[Office]:
    async with office(tmp_path, pcscd, clock=ManualTimekeeper()) as station:
        yield station


async def refused_activation(rig: Office, *, blanks: int) -> str:
    """An application whose printed card was refused: someone else's finger on the
    scanner, every attempt."""
    await rig.ok("eko", "POST", "/blanks", json={"count": blanks, "reference": "BA/2026/020"})
    ticket = await rig.ok("siti", "POST", "/queue/tickets", json={"service": "baru"})
    await rig.ok("siti", "POST", "/queue/call-next", json={"counter": "loket-1"})
    app = str((await rig.ok("siti", "POST", "/applications", json=form(ticket["ticket"])))["id"])
    await rig.ok("siti", "POST", f"/applications/{app}/steps/check/start")
    await rig.ok("siti", "POST", f"/applications/{app}/check", json={"documents": ["fc_kk"]})
    await rig.ok("budi", "POST", f"/applications/{app}/steps/validate/start")
    await rig.ok("budi", "POST", f"/applications/{app}/validate", json={"valid": True})
    rig.present(PERSON)
    await rig.ok("eko", "POST", f"/applications/{app}/steps/biometric/start")
    await rig.until(app, lambda v: v["step"] == "activate")
    await rig.take_card(app)
    rig.present(OTHER_PERSON)
    await rig.ok("eko", "POST", f"/applications/{app}/steps/activate/start")
    view = await rig.until(app, lambda v: v["awaits_decision"], allow_failure=True)
    assert (view["step"], view["phase"], view["last_failure"]["code"]) == (
        "activate",
        "waiting",
        "no_match",
    )
    return app


def _decided(rig: Office, app: str) -> list[dict[str, Any]]:
    return [
        dict(e.data)
        for e in rig.station.register.events()
        if e.type == "activation.decided"
        if e.app == app
    ]


async def decide(rig: Office, person: str, app: str, **body: Any) -> Any:
    return await rig.call(person, "POST", f"/applications/{app}/activation-decision", json=body)


async def test_try_again_settles_the_refusal_and_the_same_card_activates(rig: Office) -> None:
    app = await refused_activation(rig, blanks=1)
    serial = (await rig.ok("eko", "GET", f"/applications/{app}"))["card"]["serial"]

    refused = await decide(rig, "eko", app, decision="retry")  # the operator may not decide
    assert (refused.status_code, refused.json()["code"]) == (403, "wrong_role")
    view = (await decide(rig, "budi", app, decision="retry")).json()
    assert (view["step"], view["phase"], view["awaits_decision"]) == ("activate", "waiting", False)
    assert view["last_failure"] is None
    assert view["card"] == {"serial": serial, "state": "printed"}
    (decided,) = _decided(rig, app)
    assert decided["decision"] == "retry"
    assert decided["refusal"] == "no_match"
    assert decided["by"] == {"role": "kasi_yanmum", "person": "budi"}
    again = await decide(rig, "budi", app, decision="reprint")  # a stale second decision
    assert (again.status_code, again.json()["code"]) == (409, "no_refusal_to_decide")
    assert len(_decided(rig, app)) == 1

    rig.present(PERSON)
    await rig.ok("eko", "POST", f"/applications/{app}/steps/activate/start")
    view = await rig.until(app, lambda v: v["step"] == "transfer")
    assert view["card"] == {"serial": serial, "state": "issued"}


async def test_a_new_card_spoils_the_refused_one_and_prints_again(rig: Office) -> None:
    app = await refused_activation(rig, blanks=2)
    first = (await rig.ok("eko", "GET", f"/applications/{app}"))["card"]["serial"]

    response = await decide(rig, "budi", app, decision="reprint")
    assert response.status_code == 200, response.text
    view = await rig.until(app, lambda v: v["step"] == "activate")
    assert view["card"]["state"] == "printed"
    assert view["card"]["serial"] != first
    (spoiled,) = [e for e in rig.station.register.events() if e.type == "blank.spoiled"]
    assert spoiled.app == app
    assert spoiled.data["reason"] == "activation_refused"
    assert spoiled.data["card_serial"] == first
    assert spoiled.data["by"] == {"role": "kasi_yanmum", "person": "budi"}
    assert _decided(rig, app)[0]["decision"] == "reprint"
    stock = await rig.ok("budi", "GET", "/blanks")
    assert stock == {"received": 2, "issued": 0, "spoiled": 1, "in_process": 1, "available": 0}


async def test_a_return_needs_its_reason_and_spoils_the_card(rig: Office) -> None:
    app = await refused_activation(rig, blanks=1)

    missing = await decide(rig, "budi", app, decision="return", reason=" ")
    assert (missing.status_code, missing.json()["code"]) == (422, "reason_required")
    assert _decided(rig, app) == []
    view = (
        await decide(rig, "budi", app, decision="return", reason="Sidik jari rusak, rekam ulang")
    ).json()
    assert (view["state"], view["step"], view["awaits_decision"]) == (
        "returned",
        "activate",
        False,
    )
    assert view["return_reason"] == "Sidik jari rusak, rekam ulang"
    assert view["card"]["state"] == "spoiled"
    stock = await rig.ok("budi", "GET", "/blanks")
    assert stock == {"received": 1, "issued": 0, "spoiled": 1, "in_process": 0, "available": 0}
    assert stock["received"] == stock["issued"] + stock["spoiled"] + stock["available"]
