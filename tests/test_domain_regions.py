"""The official region list: its data file, the lookups, and the region check of a NIK or KK."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from appliance._text import Text
from appliance.domain import (
    IdentityError,
    RegionStatus,
    Sex,
    compose_kk,
    compose_nik,
    decode_nik,
    district_name,
    listed_districts,
    province_name,
    regency_name,
    region_of,
    validate_kk,
    validate_nik,
)
from sim import day as simulated_day

DATA = Path(__file__).resolve().parent.parent / "appliance/domain/data"
LINES = [
    line.split("\t")
    for line in (DATA / "regions.tsv").read_text(encoding="utf-8").splitlines()
    if not line.startswith("#")
]
CODES = dict(LINES)
DISTRICTS = sorted(code for code in CODES if len(code) == 6)


# --- The data file --------------------------------------------------------------------------


def test_the_file_holds_the_official_list() -> None:
    provinces = [code for code in CODES if len(code) == 2]
    regencies = [code for code in CODES if len(code) == 4]
    assert (len(provinces), len(regencies), len(DISTRICTS)) == (38, 514, 7285)
    assert len(CODES) == len(LINES)  # no code twice
    assert [code for code, _ in LINES] == sorted(CODES)
    for code, name in LINES:
        assert re.fullmatch(r"[0-9]{2}|[0-9]{4}|[0-9]{6}", code), code
        assert not code.endswith("00"), code
        assert name.strip() == name
        assert name
        if len(code) > 2:
            assert code[:-2] in CODES, f"{code} has no parent"


def test_the_source_note_matches_the_file() -> None:
    header = (DATA / "regions.tsv").read_text(encoding="utf-8").splitlines()[:5]
    note = (DATA / "SOURCE.md").read_text(encoding="utf-8")
    version = re.search(r"idn-area-data (\d+\.\d+\.\d+)", header[1])
    regulation = re.search(r"Kepmendagri No\. (\S+) Tahun (\d{4})", header[2])
    assert version
    assert regulation
    assert f"**{version[1]}**" in note
    assert f"**{regulation[1]} Tahun {regulation[2]}**" in note
    assert "ODbL" in header[4]
    assert "ODbL" in note


def test_the_list_is_not_read_at_import() -> None:
    # The daemon idles under a memory budget: the list is read by the first check only.
    probe = (
        "import appliance.daemon, appliance.domain, appliance.domain._regions as r\n"
        "assert r._region_list.cache_info().currsize == 0, 'read at import'\n"
        "appliance.domain.validate_nik('3508011708450001')\n"
        "assert r._region_list.cache_info().currsize == 1\n"
    )
    subprocess.run([sys.executable, "-c", probe], check=True, timeout=120)


# --- Lookups --------------------------------------------------------------------------------


def test_names_by_code() -> None:
    assert province_name("35") == "Jawa Timur"
    assert regency_name("3508") == "Kabupaten Lumajang"
    assert regency_name("3578") == "Kota Surabaya"
    assert district_name("350801") == "Tempursari"
    assert district_name("350821") == "Sumbersuko"  # the regency's last district
    assert district_name("352922") == 'Ra"as'  # a name with a quotation mark
    assert province_name("96") == "Papua Barat Daya"  # 2022
    assert province_name("54") is None  # Timor Timur, before NIKs
    assert regency_name("3500") is None
    assert regency_name("9101") is None  # Merauke's code before the Papua split: now 9301
    assert district_name("350822") is None
    assert district_name("350800") is None
    assert district_name("3508") is None
    assert district_name("9999") is None


def test_every_district_is_listed_once_in_order() -> None:
    assert list(listed_districts()) == DISTRICTS
    for code in DISTRICTS[::97]:
        assert district_name(code) == CODES[code]
        assert regency_name(code[:4]) == CODES[code[:4]]


# --- The region check -----------------------------------------------------------------------


@given(
    st.sampled_from(DISTRICTS),
    st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31)),
    st.sampled_from(Sex),
    st.integers(1, 9999),
)
def test_every_listed_district_makes_valid_numbers(
    district: str, born: date, sex: Sex, serial: int
) -> None:
    nik = compose_nik(region=district, birth_date=born, sex=sex, serial=serial)
    kk = compose_kk(region=district, issued=born, serial=serial)
    check = region_of(nik)
    assert check.status is RegionStatus.KNOWN
    assert (check.unlisted, check.unlisted_part) == (None, None)
    assert (check.province_name, check.regency_name, check.district_name) == (
        CODES[district[:2]],
        CODES[district[:4]],
        CODES[district],
    )
    assert region_of(kk, kind="kk") == check
    assert decode_nik(nik).place == check


def test_the_demo_s_regency_is_decoded_with_its_names() -> None:
    parts = decode_nik("3508104108900001")  # a woman born 1-8-1990 in Kec. Lumajang
    assert parts.place.status is RegionStatus.KNOWN
    assert parts.place.label == Text(
        id="Kec. Lumajang, Kab. Lumajang, Jawa Timur",
        en="Lumajang district, Kabupaten Lumajang, Jawa Timur",
    )
    assert region_of("3578011708900001").label.id == "Kec. Karang Pilang, Kota Surabaya, Jawa Timur"


def test_a_regency_missing_from_its_province_is_unlisted_not_refused() -> None:
    nik = "9128011708900001"  # 91.28 was a Papua regency before the 2022 split
    assert validate_nik(nik) == nik
    check = region_of(nik)
    assert check.status is RegionStatus.UNLISTED
    assert check.unlisted_part == "regency"
    assert (check.province_name, check.regency_name, check.district_name) == ("Papua", None, None)
    assert check.unlisted == Text(
        id=(
            "Kode kabupaten/kota 91.28 pada NIK (digit 3-4) tidak ada dalam daftar wilayah resmi "
            "untuk provinsi Papua. Mungkin kode lama dari wilayah yang sudah dimekarkan, atau "
            "wilayah yang lebih baru dari daftar; Kasi Pelayanan Umum perlu memastikannya."
        ),
        en=(
            "The regency/city code 91.28 in the NIK (digits 3-4) is not in the official list of "
            "regions for the province of Papua. It may be the former code of a region since "
            "split, or a region newer than the list; the section head is to confirm it."
        ),
    )
    assert check.label.id == "kode 91.28.01 (tidak terdaftar), Papua"
    assert decode_nik(nik).place == check


def test_a_district_missing_from_its_regency_is_unlisted() -> None:
    kk = "3508990601200001"
    assert validate_kk(kk) == kk
    check = region_of(kk, kind="kk")
    assert check.status is RegionStatus.UNLISTED
    assert check.unlisted_part == "district"
    assert check.regency_name == "Kabupaten Lumajang"
    assert check.district_name is None
    assert check.unlisted is not None
    assert check.unlisted.id.startswith(
        "Kode kecamatan 35.08.99 pada Nomor KK (digit 5-6) tidak ada dalam daftar wilayah resmi "
        "untuk Kabupaten Lumajang."
    )
    assert check.unlisted.en.startswith(
        "The district code 35.08.99 in the KK number (digits 5-6) is not in the official list "
        "of regions for Kabupaten Lumajang."
    )
    assert check.label.en == "code 35.08.99 (unlisted), Kabupaten Lumajang, Jawa Timur"


@pytest.mark.parametrize(
    ("nik", "code"),
    [
        ("3500011708900116", "nik_regency_zero"),  # defect 4
        ("3508001708900118", "nik_district_zero"),  # defect 4
        ("9100001708900001", "nik_regency_zero"),
        ("5408011708900001", "nik_province"),  # Timor Timur left in 1999
        ("0008011708900001", "nik_province"),
    ],
)
def test_what_no_list_can_make_right_is_refused(nik: str, code: str) -> None:
    for call in (validate_nik, decode_nik, region_of):
        with pytest.raises(IdentityError) as info:
            call(nik)
        assert info.value.code == code
    with pytest.raises(IdentityError) as info:
        validate_kk(nik)
    assert info.value.code == code.replace("nik_", "kk_")


def test_the_simulated_day_s_regions_are_listed() -> None:
    for region in simulated_day._REGIONS:
        nik = compose_nik(region=region, birth_date=date(1990, 8, 17), sex=Sex.LAKI_LAKI, serial=1)
        assert region_of(nik).status is RegionStatus.KNOWN
