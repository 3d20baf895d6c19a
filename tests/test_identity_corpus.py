"""NIK and KK numbers as people type them, through the API the counter uses: a corpus of
valid men and women, every invalid part, whitespace and separators, other scripts' digits
and injection strings, each with its outcome and the message at its field. Then the rules
on a person's history: one open application per NIK, no second new card, and a region the
official list lacks confirmed by the section head."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from appliance.domain import ServiceType, Sex, compose_kk, compose_nik
from sim.pcscd import PrivatePcscd

from .office_rig import Office, form, office

pytestmark = pytest.mark.asyncio(loop_scope="module")

BIRTH = date(1990, 5, 17)
MALE = compose_nik(region="350801", birth_date=BIRTH, sex=Sex.LAKI_LAKI, serial=1)  # ...170590...
FEMALE = compose_nik(region="350801", birth_date=BIRTH, sex=Sex.PEREMPUAN, serial=2)  # ...570590...
KK = compose_kk(region="350801", issued=date(2020, 1, 6), serial=1)  # 3508010601200001
ACCEPTED = None


def _script(number: str, zero: int) -> str:
    """`number` in another script's digits (full-width from U+FF10, Arabic-Indic from U+0660)."""
    return "".join(chr(zero + int(digit)) for digit in number)


# (label, nik, kk, sex, outcome): outcome is None (accepted), or (field, code).
CORPUS: list[tuple[str, Any, Any, Sex, tuple[str, str] | None]] = [
    ("a man", MALE, KK, Sex.LAKI_LAKI, ACCEPTED),
    ("a woman: day + 40", FEMALE, KK, Sex.PEREMPUAN, ACCEPTED),
    ("spaces as typed", "3508 0117 0590 0003", KK, Sex.LAKI_LAKI, ACCEPTED),
    ("dots as printed", "35.08.01.170590.0004", KK, Sex.LAKI_LAKI, ACCEPTED),
    ("hyphens", "350801-170590-0005", KK, Sex.LAKI_LAKI, ACCEPTED),
    ("around it", "  3508011705900006 ", KK, Sex.LAKI_LAKI, ACCEPTED),
    ("a no-break space", "3508011705900007\u00a0", KK, Sex.LAKI_LAKI, ACCEPTED),
    ("KK with spaces", "3508011705900008", "3508 0106 0120 0001", Sex.LAKI_LAKI, ACCEPTED),
    ("15 digits", "350801170590001", KK, Sex.LAKI_LAKI, ("nik", "nik_length")),
    ("17 digits", "35080117059000012", KK, Sex.LAKI_LAKI, ("nik", "nik_length")),
    ("empty", "", KK, Sex.LAKI_LAKI, ("nik", "nik_length")),
    ("letters", "35080117059000AB", KK, Sex.LAKI_LAKI, ("nik", "nik_format")),
    ("letter O for zero", "35O8011705900001", KK, Sex.LAKI_LAKI, ("nik", "nik_format")),
    (
        "full-width digits",
        _script(MALE, 0xFF10),
        KK,
        Sex.LAKI_LAKI,
        ("nik", "nik_format"),
    ),
    ("Arabic-Indic digits", _script(MALE, 0x0660), KK, Sex.LAKI_LAKI, ("nik", "nik_format")),
    ("a Unicode dash", "3508\u20100117059000", KK, Sex.LAKI_LAKI, ("nik", "nik_format")),
    ("province 00", "0008011705900001", KK, Sex.LAKI_LAKI, ("nik", "nik_province")),
    ("province 99", "9908011705900001", KK, Sex.LAKI_LAKI, ("nik", "nik_province")),
    ("regency 00", "3500011708900116", KK, Sex.LAKI_LAKI, ("nik", "nik_regency_zero")),
    ("district 00", "3508001708900118", KK, Sex.LAKI_LAKI, ("nik", "nik_district_zero")),
    ("birth day 00", "3508010005900001", KK, Sex.LAKI_LAKI, ("nik", "nik_birth_day")),
    ("birth day 32", "3508013205900001", KK, Sex.LAKI_LAKI, ("nik", "nik_birth_day")),
    ("woman's day 72", "3508017205900001", KK, Sex.PEREMPUAN, ("nik", "nik_birth_day")),
    ("30 February", "3508013002900001", KK, Sex.LAKI_LAKI, ("nik", "nik_birth_day")),
    ("month 00", "3508011700900001", KK, Sex.LAKI_LAKI, ("nik", "nik_birth_month")),
    ("month 13", "3508011713900001", KK, Sex.LAKI_LAKI, ("nik", "nik_birth_month")),
    ("serial 0000", "3508011705900000", KK, Sex.LAKI_LAKI, ("nik", "nik_serial")),
    ("SQL", "3508011705900001' OR '1'='1", KK, Sex.LAKI_LAKI, ("nik", "nik_format")),
    ("a script", "<script>alert(1)</script>", KK, Sex.LAKI_LAKI, ("nik", "nik_format")),
    ("a template", "{{7*7}}3508011705900001", KK, Sex.LAKI_LAKI, ("nik", "nik_format")),
    ("a number, not text", 3508011705900001, KK, Sex.LAKI_LAKI, ("nik", "nik_format")),
    ("null", None, KK, Sex.LAKI_LAKI, ("nik", "nik_format")),
    ("KK 15 digits", MALE, "350801060120000", Sex.LAKI_LAKI, ("kk", "kk_length")),
    ("KK letters", MALE, "3508010601200ABC", Sex.LAKI_LAKI, ("kk", "kk_format")),
    ("KK province 00", MALE, "0008010601200001", Sex.LAKI_LAKI, ("kk", "kk_province")),
    ("KK regency 00", MALE, "3500010601200001", Sex.LAKI_LAKI, ("kk", "kk_regency_zero")),
    ("KK district 00", MALE, "3508000601200001", Sex.LAKI_LAKI, ("kk", "kk_district_zero")),
    ("KK day 32", MALE, "3508013201200001", Sex.LAKI_LAKI, ("kk", "kk_issue_day")),
    ("KK month 13", MALE, "3508010613200001", Sex.LAKI_LAKI, ("kk", "kk_issue_month")),
    ("KK serial 0000", MALE, "3508010601200000", Sex.LAKI_LAKI, ("kk", "kk_serial")),
    ("KK SQL", MALE, "1; DROP TABLE events", Sex.LAKI_LAKI, ("kk", "kk_format")),
    ("KK full-width", MALE, _script(KK, 0xFF10), Sex.LAKI_LAKI, ("kk", "kk_format")),
]


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def pcscd() -> AsyncIterator[PrivatePcscd]:
    async with PrivatePcscd() as daemon:
        yield daemon


@pytest_asyncio.fixture(loop_scope="module")
async def rig(tmp_path: Path, pcscd: PrivatePcscd) -> AsyncIterator[Office]:
    async with office(tmp_path, pcscd) as station:
        yield station


async def _called_ticket(rig: Office, service: ServiceType = ServiceType.BARU) -> str:
    ticket = await rig.ok("siti", "POST", "/queue/tickets", json={"service": service})
    await rig.ok("siti", "POST", "/queue/call-next", json={"counter": "loket-1"})
    return str(ticket["ticket"])


def _form(ticket: str, nik: Any, kk: Any, sex: Sex, service: ServiceType) -> dict[str, Any]:
    body = form(ticket, service=service, sex=sex, birth=BIRTH)
    return body | {"nik": nik, "kk": kk}


async def test_every_input_of_the_corpus_gets_its_outcome_and_its_message(rig: Office) -> None:
    assert len(CORPUS) >= 40
    ticket = await _called_ticket(rig)
    accepted: set[str] = set()
    for label, nik, kk, sex, outcome in CORPUS:
        head = rig.station.register.head()
        response = await rig.call(
            "siti", "POST", "/applications", json=_form(ticket, nik, kk, sex, ServiceType.BARU)
        )
        if outcome is None:
            assert response.status_code == 201, (label, response.text)
            view = response.json()
            digits = re.sub(r"\D", "", str(nik))
            assert view["nik"] == f"{digits[:4]}********{digits[-4:]}", label
            accepted.add(view["id"])
            ticket = await _called_ticket(rig)
            continue
        field, code = outcome
        assert response.status_code == 422, (label, response.text)
        body = response.json()
        assert body["code"] == "invalid_input", label
        details = {detail["field"]: detail for detail in body["details"]}
        assert f"body.{field}" in details, (label, body)
        detail = details[f"body.{field}"]
        assert detail["code"] == code, (label, detail)
        # Indonesian first, English beside it, and neither carries the number whole.
        assert detail["messages"]["id"] != detail["messages"]["en"], label
        assert detail["problem"] == detail["messages"]["id"], label
        for message in detail["messages"].values():
            assert not re.search(r"\d{16}", message), (label, message)
        assert rig.station.register.head() == head, label  # nothing written
    assert len(accepted) == sum(1 for *_, outcome in CORPUS if outcome is None)


async def test_an_english_officer_reads_the_same_refusal_in_english(rig: Office) -> None:
    ticket = await _called_ticket(rig)
    response = await rig.http.post(
        "/api/v1/applications",
        json=_form(ticket, "3500011708900116", KK, Sex.LAKI_LAKI, ServiceType.BARU),
        headers={**rig.as_("siti"), "Accept-Language": "en"},
    )
    detail = response.json()["details"][0]
    assert detail["code"] == "nik_regency_zero"
    assert detail["problem"] == detail["messages"]["en"]
    assert "00" in detail["problem"]
    assert "regency" in detail["problem"].lower()


async def test_a_person_has_one_open_application_and_one_new_card(rig: Office) -> None:
    ticket = await _called_ticket(rig)
    first = await rig.ok(
        "siti",
        "POST",
        "/applications",
        json=_form(ticket, MALE, KK, Sex.LAKI_LAKI, ServiceType.BARU),
    )
    ticket = await _called_ticket(rig, ServiceType.HILANG)
    head = rig.station.register.head()
    second = await rig.call(
        "siti",
        "POST",
        "/applications",
        json=_form(ticket, MALE, KK, Sex.LAKI_LAKI, ServiceType.HILANG),
    )
    assert (second.status_code, second.json()["code"]) == (422, "application_open")
    assert first["id"] in second.json()["messages"]["id"]
    assert rig.station.register.head() == head

    # The first is returned at the counter: the person may apply again, for a new card,
    # since none was issued.
    await rig.ok("siti", "POST", f"/applications/{first['id']}/steps/check/start")
    await rig.ok("siti", "POST", f"/applications/{first['id']}/check", json={"documents": []})
    again = await rig.call(
        "siti",
        "POST",
        "/applications",
        json=_form(ticket, MALE, KK, Sex.LAKI_LAKI, ServiceType.BARU),
    )
    assert again.status_code == 201, again.text


async def test_no_second_new_card_for_a_nik_whose_card_was_issued(rig: Office) -> None:
    # A card handed over earlier (written as the pipeline would, to keep this test short).
    register = rig.station.register
    ticket = await _called_ticket(rig)
    view = await rig.ok(
        "siti",
        "POST",
        "/applications",
        json=_form(ticket, FEMALE, KK, Sex.PEREMPUAN, ServiceType.BARU),
    )
    with register.transaction() as txn:
        txn.append("step.started", {"step": "check", "devices": []}, application_id=view["id"])
        txn.append("application.completed", {}, application_id=view["id"])
    ticket = await _called_ticket(rig)
    refused = await rig.call(
        "siti",
        "POST",
        "/applications",
        json=_form(ticket, FEMALE, KK, Sex.PEREMPUAN, ServiceType.BARU),
    )
    body = refused.json()
    assert (refused.status_code, body["code"]) == (422, "card_already_issued")
    for service in ("hilang", "rusak", "perubahan data"):
        assert service in body["messages"]["id"].lower()
    # A lost card is what applies, and is taken.
    ticket = await _called_ticket(rig, ServiceType.HILANG)
    lost = await rig.call(
        "siti",
        "POST",
        "/applications",
        json=_form(ticket, FEMALE, KK, Sex.PEREMPUAN, ServiceType.HILANG),
    )
    assert lost.status_code == 201, lost.text


async def test_a_region_the_list_lacks_is_confirmed_by_the_section_head(rig: Office) -> None:
    unlisted = "3508991705900009"  # Lumajang has no district 99
    ticket = await _called_ticket(rig)
    view = await rig.ok(
        "siti",
        "POST",
        "/applications",
        json=_form(ticket, unlisted, KK, Sex.LAKI_LAKI, ServiceType.BARU),
    )
    assert view["region_to_confirm"] == "350899"
    app = view["id"]
    await rig.ok("siti", "POST", f"/applications/{app}/steps/check/start")
    await rig.ok("siti", "POST", f"/applications/{app}/check", json={"documents": ["fc_kk"]})
    await rig.ok("budi", "POST", f"/applications/{app}/steps/validate/start")
    refused = await rig.call("budi", "POST", f"/applications/{app}/validate", json={"valid": True})
    assert (refused.status_code, refused.json()["code"]) == (422, "region_unconfirmed")
    assert "35.08.99" in refused.json()["messages"]["id"]
    view = await rig.ok(
        "budi",
        "POST",
        f"/applications/{app}/validate",
        json={"valid": True, "confirm_region": True},
    )
    assert view["step"] == "biometric"
    assert view["region_to_confirm"] is None
    confirmed = [
        e for e in rig.station.register.events() if e.type == "application.region_confirmed"
    ]
    assert [(e.app, e.data["code"], e.data["by"]["person"]) for e in confirmed] == [
        (app, "350899", "budi")
    ]
