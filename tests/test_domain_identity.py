"""NIK and KK validation, the NIK/applicant cross-check, age and eligibility."""

from __future__ import annotations

import pickle
import re
from datetime import date, timedelta
from typing import TYPE_CHECKING, get_args

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError
from stdnum import numdb

from appliance._text import Text
from appliance.domain import (
    MINIMUM_AGE_NEW_CARD,
    NUMBER_PATTERN,
    DomainError,
    IdentityError,
    IdentityErrorCode,
    KkField,
    MaritalStatus,
    NikField,
    NikParts,
    Sex,
    age_on,
    check_new_card_eligibility,
    check_nik_matches,
    compose_kk,
    compose_nik,
    decode_nik,
    identity_error_of,
    mask_nik,
    region_of,
    validate_kk,
    validate_nik,
)
from appliance.errors import ApplianceError

_LOC = numdb.get("id/loc")
# Province + regency codes as stdnum knows them, e.g. "3508" for Lumajang: an oracle apart from
# the station's own list, with former codes (9101 Merauke before the Papua split) that are
# unlisted today and so must pass too.
REGENCIES = sorted(
    province[1] + regency[1] for province in _LOC.prefixes for regency in province[4]
)
# The 38 provinces by law (Papua's four new ones of 2022 included), written out.
PROVINCES = set(
    re.findall(
        r"\d\d",
        "11 12 13 14 15 16 17 18 19 21 31 32 33 34 35 36 51 52 53 61 62 63 64 65 "
        "71 72 73 74 75 76 81 82 91 92 93 94 95 96",
    )
)
assert len(PROVINCES) == 38
UNKNOWN_PROVINCES = sorted(f"{n:02d}" for n in range(100) if f"{n:02d}" not in PROVINCES)

if TYPE_CHECKING:
    from collections.abc import Callable

FULL_NUMBER = re.compile(r"[0-9]{16}")


def read_as_16_digits(text: str) -> bool:
    """The reading rule, written out: whitespace around, spaces, dots, hyphens inside."""
    core = text.strip(" \t\n\r\xa0")
    return re.fullmatch(r"[0-9]{16}", re.sub(r"[ .\xa0-]", "", core)) is not None


def build(region: str, day: int, month: int, year: int, serial: int) -> str:
    """The number written out by hand, independently of the code under test."""
    return f"{region}{day:02d}{month:02d}{year % 100:02d}{serial:04d}"


def build_nik(region: str, born: date, sex: Sex, serial: int) -> str:
    day = born.day + 40 if sex is Sex.PEREMPUAN else born.day
    return build(region, day, born.month, born.year, serial)


regions = st.builds(
    lambda regency, district: f"{regency}{district:02d}",
    st.sampled_from(REGENCIES),
    st.integers(1, 99),
)
birth_dates = st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31))
sexes = st.sampled_from(Sex)
serials = st.integers(1, 9999)
yys = st.integers(0, 99)


def assert_no_full_number(exc: BaseException) -> None:
    assert isinstance(exc, DomainError)
    for message in (str(exc), repr(exc), exc.text.id, exc.text.en, *map(str, exc.args)):
        assert not FULL_NUMBER.search(message), message


def code_of(call: object, *args: object, **kwargs: object) -> str:
    assert callable(call)
    with pytest.raises(IdentityError) as info:
        call(*args, **kwargs)
    assert_no_full_number(info.value)
    return info.value.code


# --- NIK --------------------------------------------------------------------------------


def test_known_example() -> None:
    assert validate_nik("3508011708450001") == "3508011708450001"
    parts = decode_nik("3508015708450001")
    assert parts == NikParts(
        region="350801",
        day=17,
        month=8,
        yy=45,
        sex=Sex.PEREMPUAN,
        serial=1,
        place=region_of("3508015708450001"),
    )
    assert parts.regency == "3508"
    assert parts.province == "35"
    assert (parts.place.province_name, parts.place.regency_name, parts.place.district_name) == (
        "Jawa Timur",
        "Kabupaten Lumajang",
        "Tempursari",
    )


@given(regions, birth_dates, sexes, serials)
def test_valid_nik_is_accepted_and_round_trips(
    region: str, born: date, sex: Sex, serial: int
) -> None:
    nik = build_nik(region, born, sex, serial)
    assert validate_nik(nik) == nik
    parts = decode_nik(nik)
    assert parts == NikParts(
        region=region,
        day=born.day,
        month=born.month,
        yy=born.year % 100,
        sex=sex,
        serial=serial,
        place=region_of(nik),
    )
    assert parts.place.code == region
    assert parts.matches_birth_date(born)
    assert compose_nik(region=region, birth_date=born, sex=sex, serial=serial) == nik


@given(regions, birth_dates, sexes, serials, st.sampled_from([" ", "-", ".", " - "]))
def test_separators_are_removed(
    region: str, born: date, sex: Sex, serial: int, separator: str
) -> None:
    nik = build_nik(region, born, sex, serial)
    spaced = separator.join([nik[:6], nik[6:12], nik[12:]])
    assert validate_nik(f"  {spaced} ") == nik


@given(regions, birth_dates, sexes, serials)
def test_nik_matches_declared_birth_date_and_sex(
    region: str, born: date, sex: Sex, serial: int
) -> None:
    check_nik_matches(build_nik(region, born, sex, serial), birth_date=born, sex=sex)


@given(regions, birth_dates, sexes, serials)
def test_nik_of_the_other_sex_is_a_sex_mismatch(
    region: str, born: date, sex: Sex, serial: int
) -> None:
    other = Sex.PEREMPUAN if sex is Sex.LAKI_LAKI else Sex.LAKI_LAKI
    nik = build_nik(region, born, sex, serial)
    assert code_of(check_nik_matches, nik, birth_date=born, sex=other) == "nik_mismatch_sex"


@given(regions, birth_dates, birth_dates, sexes, serials)
def test_nik_of_another_date_is_a_date_mismatch(
    region: str, born: date, declared: date, sex: Sex, serial: int
) -> None:
    assume(
        (born.day, born.month, born.year % 100)
        != (declared.day, declared.month, declared.year % 100)
    )
    nik = build_nik(region, born, sex, serial)
    code = code_of(check_nik_matches, nik, birth_date=declared, sex=sex)
    assert code == "nik_mismatch_birth_date"


@given(regions, birth_dates, sexes, serials, st.integers(-3, 3).filter(bool))
def test_a_century_apart_is_the_same_nik_date(
    region: str, born: date, sex: Sex, serial: int, centuries: int
) -> None:
    # The NIK encodes YY only: the check cannot, and must not, tell 1945 from 2045.
    year = born.year + 100 * centuries
    assume(1 <= year <= 9999)
    assume(not (born.month == 2 and born.day == 29))
    nik = build_nik(region, born, sex, serial)
    check_nik_matches(nik, birth_date=born.replace(year=year), sex=sex)


def test_date_is_checked_before_sex() -> None:
    nik = "3508015708450001"  # a woman born 17-08-45
    code = code_of(check_nik_matches, nik, birth_date=date(1945, 8, 18), sex=Sex.LAKI_LAKI)
    assert code == "nik_mismatch_birth_date"


@given(st.text(max_size=40))
def test_anything_but_16_digits_is_a_format_or_length_error(text: str) -> None:
    assume(not read_as_16_digits(text))
    assert code_of(validate_nik, text) in {"nik_format", "nik_length"}


@given(st.text(alphabet="0123456789", min_size=1, max_size=40))
def test_digits_of_the_wrong_length_are_a_length_error(digits: str) -> None:
    assume(len(digits) != 16)
    assert code_of(validate_nik, digits) == "nik_length"


@given(
    st.text(alphabet="0123456789", min_size=15, max_size=15),
    # Inside the number: surrounding whitespace is stripped, as stdnum does.
    st.integers(1, 14),
    # Letters, punctuation stdnum does not strip, a tab, an Arabic-Indic digit.
    st.sampled_from(["a", "Z", "/", "_", ",", ":", "O", "\t", "\u0663"]),
)
def test_a_foreign_character_is_a_format_error(digits: str, where: int, char: str) -> None:
    text = digits[:where] + char + digits[where:]
    assert code_of(validate_nik, text) == "nik_format"


@pytest.mark.parametrize(
    ("zero", "where"),
    [(0xFF10, 1), (0x0660, 1), (0x06F0, 1), (0x0966, 1)],  # full-width, Arabic-Indic, ...
)
def test_digits_of_other_scripts_are_refused(zero: int, where: int) -> None:
    # Never normalised: the register holds ASCII digits, and a look-alike is not guessed at.
    foreign = "".join(chr(zero + int(c)) for c in "3508011708450001")
    with pytest.raises(IdentityError) as info:
        validate_nik(foreign)
    assert info.value.code == "nik_format"
    assert f"karakter ke-{where} adalah angka dari aksara lain" in info.value.text.id
    assert f"character {where} is a digit of another script" in info.value.text.en
    mixed = "35080117" + chr(zero + 0) + "8450001"
    assert "karakter ke-9" in raised_text(validate_kk, mixed).id
    assert mask_nik(foreign) == "*" * 16  # not 16 ASCII digits: masked whole


def test_non_string_is_a_format_error() -> None:
    assert code_of(validate_nik, None) == "nik_format"
    assert code_of(validate_kk, 3508010601200001) == "kk_format"


@given(st.text(alphabet="0123456789 .-\t\n\r\xa0\u2013/\u200b\u0663", max_size=24))
def test_the_schema_pattern_is_the_reading_rule(text: str) -> None:
    matches = re.fullmatch(NUMBER_PATTERN, text) is not None
    assert matches == read_as_16_digits(text)
    if not matches:
        assert code_of(validate_nik, text) in {"nik_format", "nik_length"}


@given(regions, birth_dates, sexes)
def test_serial_0000_is_rejected(region: str, born: date, sex: Sex) -> None:
    assert code_of(validate_nik, build_nik(region, born, sex, 0)) == "nik_serial"


@given(
    regions,
    st.sampled_from([0, *range(32, 41), *range(72, 100)]),
    st.integers(1, 12),
    yys,
    serials,
)
def test_impossible_day_is_rejected(
    region: str, day: int, month: int, yy: int, serial: int
) -> None:
    # 81..91 would pass stdnum's modulo-40 reading: they must not pass here.
    assert code_of(validate_nik, build(region, day, month, yy, serial)) == "nik_birth_day"


@given(
    regions,
    st.sampled_from([*range(1, 32), *range(41, 72)]),
    st.sampled_from([0, *range(13, 100)]),
    yys,
    serials,
)
def test_impossible_month_is_rejected(
    region: str, day: int, month: int, yy: int, serial: int
) -> None:
    assert code_of(validate_nik, build(region, day, month, yy, serial)) == "nik_birth_month"


@given(
    regions, sexes, yys, serials, st.sampled_from([(31, 4), (31, 6), (31, 9), (31, 11), (30, 2)])
)
def test_day_beyond_the_month_is_rejected(
    region: str, sex: Sex, yy: int, serial: int, day_month: tuple[int, int]
) -> None:
    day, month = day_month
    day += 40 if sex is Sex.PEREMPUAN else 0
    assert code_of(validate_nik, build(region, day, month, yy, serial)) == "nik_birth_day"


@given(regions, sexes, yys, serials)
def test_29_february(region: str, sex: Sex, yy: int, serial: int) -> None:
    day = 29 + (40 if sex is Sex.PEREMPUAN else 0)
    nik = build(region, day, 2, yy, serial)
    if yy % 4 == 0:  # 2000 is a leap year, so is every 19YY/20YY with YY divisible by 4
        assert validate_nik(nik) == nik
        check_nik_matches(nik, birth_date=date(2000 + yy, 2, 29), sex=sex)
    else:
        assert code_of(validate_nik, nik) == "nik_birth_day"


@given(st.sampled_from(UNKNOWN_PROVINCES), st.integers(0, 9999), birth_dates, sexes, serials)
def test_unknown_province_is_a_region_error(
    province: str, rest: int, born: date, sex: Sex, serial: int
) -> None:
    nik = build_nik(f"{province}{rest:04d}", born, sex, serial)
    assert code_of(validate_nik, nik) == "nik_province"


def test_the_leftmost_wrong_part_is_named() -> None:
    assert code_of(validate_nik, "9908019908450000") == "nik_province"
    assert code_of(validate_nik, "3500019908450000") == "nik_regency_zero"
    assert code_of(validate_nik, "3508009908450000") == "nik_district_zero"
    assert code_of(validate_nik, "3508019908450000") == "nik_birth_day"
    assert code_of(validate_nik, "3508011799450000") == "nik_birth_month"
    assert code_of(validate_nik, "3508011708450000") == "nik_serial"


# --- KK -----------------------------------------------------------------------------------

issue_dates = st.dates(min_value=date(1970, 1, 1), max_value=date(2069, 12, 31))


@given(regions, issue_dates, serials)
def test_valid_kk_is_accepted(region: str, issued: date, serial: int) -> None:
    kk = build(region, issued.day, issued.month, issued.year, serial)
    assert validate_kk(kk) == kk
    assert validate_kk(f" {kk[:4]}-{kk[4:8]}.{kk[8:12]} {kk[12:]}") == kk
    assert compose_kk(region=region, issued=issued, serial=serial) == kk


@given(regions, issue_dates, serials)
def test_kk_day_has_nothing_added(region: str, issued: date, serial: int) -> None:
    kk = build(region, issued.day + 40, issued.month, issued.year, serial)
    assert code_of(validate_kk, kk) == "kk_issue_day"


@given(
    regions,
    st.sampled_from([0, *range(32, 100)]),
    st.integers(1, 12),
    yys,
    serials,
)
def test_kk_impossible_day_is_rejected(
    region: str, day: int, month: int, yy: int, serial: int
) -> None:
    assert code_of(validate_kk, build(region, day, month, yy, serial)) == "kk_issue_day"


@given(regions, st.integers(1, 31), st.sampled_from([0, *range(13, 100)]), yys, serials)
def test_kk_impossible_month_is_rejected(
    region: str, day: int, month: int, yy: int, serial: int
) -> None:
    assert code_of(validate_kk, build(region, day, month, yy, serial)) == "kk_issue_month"


@given(regions, issue_dates)
def test_kk_serial_0000_is_rejected(region: str, issued: date) -> None:
    kk = build(region, issued.day, issued.month, issued.year, 0)
    assert code_of(validate_kk, kk) == "kk_serial"


@given(st.sampled_from(UNKNOWN_PROVINCES), st.integers(0, 9999), issue_dates, serials)
def test_kk_unknown_province_is_a_region_error(
    province: str, rest: int, issued: date, serial: int
) -> None:
    kk = build(f"{province}{rest:04d}", issued.day, issued.month, issued.year, serial)
    assert code_of(validate_kk, kk) == "kk_province"


@given(st.text(max_size=40))
def test_kk_anything_but_16_digits_is_a_format_or_length_error(text: str) -> None:
    assume(not read_as_16_digits(text))
    assert code_of(validate_kk, text) in {"kk_format", "kk_length"}


@given(st.text(alphabet="0123456789", min_size=1, max_size=40))
def test_kk_digits_of_the_wrong_length_are_a_length_error(digits: str) -> None:
    assume(len(digits) != 16)
    assert code_of(validate_kk, digits) == "kk_length"


# --- Every refusal, word for word -----------------------------------------------------------

REFUSALS = [
    # (number, code, Indonesian, English): each names the digits that are wrong and why.
    (
        "3508 01a7 0845 0001",
        "nik_format",
        (
            "NIK hanya boleh berisi angka 0-9, boleh dipisah spasi, titik atau tanda hubung: "
            "karakter ke-8 bukan angka."
        ),
        (
            "A NIK may contain only the digits 0-9, which spaces, dots or hyphens may separate: "
            "character 8 is not a digit."
        ),
    ),
    (
        "35080117084500011",
        "nik_length",
        "NIK harus 16 digit, bukan 17 digit.",
        "A NIK must have 16 digits, not 17.",
    ),
    (
        "5508011708450001",
        "nik_province",
        "Kode provinsi pada NIK (digit 1-2) tidak dikenal: 55 bukan kode provinsi mana pun.",
        "The province code in the NIK (digits 1-2) is unknown: 55 is not the code of any province.",
    ),
    # The two NIKs of defect 4, accepted before.
    (
        "3500011708900116",
        "nik_regency_zero",
        "Kode kabupaten/kota pada NIK (digit 3-4) tidak boleh 00.",
        "The regency/city code in the NIK (digits 3-4) must not be 00.",
    ),
    (
        "3508001708900118",
        "nik_district_zero",
        "Kode kecamatan pada NIK (digit 5-6) tidak boleh 00.",
        "The district code in the NIK (digits 5-6) must not be 00.",
    ),
    (
        "3508013708450001",
        "nik_birth_day",
        (
            "Tanggal lahir pada NIK (digit 7-8) harus 01-31 untuk laki-laki atau 41-71 untuk "
            "perempuan (tanggal + 40), bukan 37."
        ),
        (
            "The birth day in the NIK (digits 7-8) must be 01-31 for a man or 41-71 for a woman "
            "(the day + 40), not 37."
        ),
    ),
    (
        "3508017102230001",
        "nik_birth_day",
        "Tanggal lahir pada NIK (digit 7-8) tidak ada: bulan 02 tahun 23 hanya sampai tanggal 28.",
        "The birth day in the NIK (digits 7-8) does not exist: month 02 of year 23 has 28 days.",
    ),
    (
        "3508011713450001",
        "nik_birth_month",
        "Bulan lahir pada NIK (digit 9-10) harus 01-12, bukan 13.",
        "The birth month in the NIK (digits 9-10) must be 01-12, not 13.",
    ),
    (
        "3508011708450000",
        "nik_serial",
        "Nomor urut pada NIK (digit 13-16) tidak boleh 0000.",
        "The serial number in the NIK (digits 13-16) must not be 0000.",
    ),
]

KK_REFUSALS = [
    (
        "3508-0106/1200-0001",
        "kk_format",
        (
            "Nomor KK hanya boleh berisi angka 0-9, boleh dipisah spasi, titik atau tanda hubung: "
            "karakter ke-10 bukan angka."
        ),
        (
            "A KK number may contain only the digits 0-9, which spaces, dots or hyphens may "
            "separate: character 10 is not a digit."
        ),
    ),
    (
        "",
        "kk_length",
        "Nomor KK harus 16 digit, bukan 0 digit.",
        "A KK number must have 16 digits, not 0.",
    ),
    (
        "0008010601200001",
        "kk_province",
        "Kode provinsi pada Nomor KK (digit 1-2) tidak dikenal: 00 bukan kode provinsi mana pun.",
        (
            "The province code in the KK number (digits 1-2) is unknown: 00 is not the code of any "
            "province."
        ),
    ),
    (
        "3500010601200001",
        "kk_regency_zero",
        "Kode kabupaten/kota pada Nomor KK (digit 3-4) tidak boleh 00.",
        "The regency/city code in the KK number (digits 3-4) must not be 00.",
    ),
    (
        "3508000601200001",
        "kk_district_zero",
        "Kode kecamatan pada Nomor KK (digit 5-6) tidak boleh 00.",
        "The district code in the KK number (digits 5-6) must not be 00.",
    ),
    (
        "3508014601200001",
        "kk_issue_day",
        "Tanggal penerbitan pada Nomor KK (digit 7-8) harus 01-31, bukan 46.",
        "The day of issue in the KK number (digits 7-8) must be 01-31, not 46.",
    ),
    (
        "3508013109200001",
        "kk_issue_day",
        (
            "Tanggal penerbitan pada Nomor KK (digit 7-8) tidak ada: bulan 09 tahun 20 hanya sampai "
            "tanggal 30."
        ),
        (
            "The day of issue in the KK number (digits 7-8) does not exist: month 09 of year 20 has "
            "30 days."
        ),
    ),
    (
        "3508010600200001",
        "kk_issue_month",
        "Bulan penerbitan pada Nomor KK (digit 9-10) harus 01-12, bukan 00.",
        "The month of issue in the KK number (digits 9-10) must be 01-12, not 00.",
    ),
    (
        "3508010601200000",
        "kk_serial",
        "Nomor urut pada Nomor KK (digit 13-16) tidak boleh 0000.",
        "The serial number in the KK number (digits 13-16) must not be 0000.",
    ),
]


@pytest.mark.parametrize(("number", "code", "id_text", "en_text"), REFUSALS)
def test_each_nik_refusal_names_the_part(
    number: str, code: str, id_text: str, en_text: str
) -> None:
    with pytest.raises(IdentityError) as info:
        validate_nik(number)
    assert (info.value.code, info.value.text) == (code, Text(id=id_text, en=en_text))
    assert_no_full_number(info.value)


@pytest.mark.parametrize(("number", "code", "id_text", "en_text"), KK_REFUSALS)
def test_each_kk_refusal_names_the_part(number: str, code: str, id_text: str, en_text: str) -> None:
    with pytest.raises(IdentityError) as info:
        validate_kk(number)
    assert (info.value.code, info.value.text) == (code, Text(id=id_text, en=en_text))


def test_every_code_of_a_number_has_a_refusal_above() -> None:
    codes = set(get_args(IdentityErrorCode))
    numbers = {c for c in codes if c.startswith(("nik_", "kk_")) and "mismatch" not in c}
    assert numbers == {code for _, code, _, _ in REFUSALS + KK_REFUSALS}


# --- Pydantic fields ------------------------------------------------------------------------


class Form(BaseModel):
    nik: NikField
    kk: KkField


def test_fields_store_the_compact_number() -> None:
    form = Form(nik=" 3508 0157 0845 0001 ", kk="350801.060120.0001")
    assert (form.nik, form.kk) == ("3508015708450001", "3508010601200001")


@pytest.mark.parametrize(("number", "code", "id_text", "en_text"), REFUSALS)
def test_field_errors_carry_the_domain_refusal(
    number: str, code: str, id_text: str, en_text: str
) -> None:
    with pytest.raises(ValidationError) as info:
        Form(nik=number, kk="3508010601200001")
    (error,) = info.value.errors()
    assert (error["type"], error["loc"], error["msg"]) == (code, ("nik",), en_text)
    found = identity_error_of(error)
    assert found is not None
    assert (found.code, found.text) == (code, Text(id=id_text, en=en_text))


def test_field_refuses_what_is_not_text_with_the_domain_s_words() -> None:
    with pytest.raises(ValidationError) as info:
        Form(nik=3508015708450001, kk="3508010601200001")  # type: ignore[arg-type]
    (error,) = info.value.errors()
    found = identity_error_of(error)
    assert found is not None
    assert found.code == "nik_format"
    assert found.text.id == "NIK harus berupa teks berisi 16 angka."


def test_a_plain_validator_error_is_found_too_and_others_are_not() -> None:
    with pytest.raises(ValidationError) as info:
        Form(nik="3508015708450001", kk="3508010601200000")
    found = identity_error_of(info.value.errors()[0])
    assert found is not None
    assert found.code == "kk_serial"
    assert identity_error_of({"type": "missing", "loc": ("nik",), "msg": "Field required"}) is None


def test_field_schema_says_what_is_read() -> None:
    schema = Form.model_json_schema()["properties"]
    assert schema["nik"]["type"] == schema["kk"]["type"] == "string"
    assert schema["nik"]["pattern"] == schema["kk"]["pattern"] == NUMBER_PATTERN
    for example in (schema["nik"]["examples"][0], schema["kk"]["examples"][0]):
        assert re.fullmatch(NUMBER_PATTERN, example)
    Form(nik=schema["nik"]["examples"][0], kk=schema["kk"]["examples"][0])


# --- No full number in any message --------------------------------------------------------


@given(
    st.one_of(
        st.text(alphabet="0123456789", min_size=16, max_size=16),
        st.text(alphabet="0123456789 -.x", max_size=40),
        st.builds(build_nik, regions, birth_dates, sexes, serials),
    ),
    birth_dates,
    sexes,
)
def test_no_message_carries_a_full_number(text: str, born: date, sex: Sex) -> None:
    for call in (
        lambda: validate_nik(text),
        lambda: validate_kk(text),
        lambda: decode_nik(text),
        lambda: check_nik_matches(text, birth_date=born, sex=sex),
    ):
        exc = raised(call)
        if exc is not None:
            assert_no_full_number(exc)
            assert exc.__cause__ is None or not FULL_NUMBER.search(str(exc.__cause__))


def raised_text(call: Callable[[str], object], text: str) -> Text:
    with pytest.raises(IdentityError) as info:
        call(text)
    return info.value.text


def raised(call: Callable[[], object]) -> IdentityError | None:
    try:
        call()
    except IdentityError as exc:
        return exc
    return None


def test_domain_error_scrubs_what_a_caller_put_in() -> None:
    exc = IdentityError(
        code="nik_format", text=Text(id="NIK 3508011708450001", en="NIK 3508011708450001")
    )
    assert str(exc) == "NIK 3508********0001"
    assert exc.text.id == "NIK 3508********0001"


def test_identity_error_shape() -> None:
    with pytest.raises(ValueError, match="serial") as info:
        validate_nik("3508011708450000")
    exc = info.value
    assert isinstance(exc, IdentityError)
    assert isinstance(exc, ApplianceError)
    assert exc.code == "nik_serial"
    assert str(exc) == exc.text.en
    assert exc.text.id != exc.text.en
    assert "digit 13-16" in exc.text.id
    assert "digits 13-16" in exc.text.en
    copy = pickle.loads(pickle.dumps(exc))  # noqa: S301 - our own object, round-tripped
    assert (copy.code, copy.text, str(copy)) == (exc.code, exc.text, str(exc))


# --- mask_nik -----------------------------------------------------------------------------


@given(st.text(alphabet="0123456789", min_size=16, max_size=16))
def test_mask_nik(digits: str) -> None:
    masked = mask_nik(digits)
    assert masked == digits[:4] + "********" + digits[12:]
    assert mask_nik(f"{digits[:8]} {digits[8:]}") == masked


def test_mask_nik_of_an_int_and_of_garbage() -> None:
    assert mask_nik(3508011708450001) == "3508********0001"
    assert mask_nik("35080117084500012") == "*" * 17
    assert mask_nik("12345") == "*****"
    assert mask_nik("") == ""


# --- Age and eligibility ------------------------------------------------------------------


@given(birth_dates, st.integers(0, 20000), st.integers(0, 20000))
def test_age_is_monotonic(born: date, first: int, second: int) -> None:
    early, late = sorted((first, second))
    assume(born + timedelta(days=late) <= date.max)
    assert age_on(born, born + timedelta(days=early)) <= age_on(born, born + timedelta(days=late))


@given(birth_dates, st.integers(0, 120))
def test_age_is_exact_on_birthdays(born: date, years: int) -> None:
    assume(not (born.month == 2 and born.day == 29))
    birthday = born.replace(year=born.year + years)
    assert age_on(born, birthday) == years
    if years:
        assert age_on(born, birthday - timedelta(days=1)) == years - 1


@given(st.sampled_from([1904, 1996, 2000, 2004, 2008, 2024]), st.integers(1, 120))
def test_age_of_someone_born_on_29_february(leap: int, years: int) -> None:
    born = date(leap, 2, 29)
    year = leap + years
    if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
        assert age_on(born, date(year, 2, 29)) == years
        assert age_on(born, date(year, 2, 28)) == years - 1
    else:
        assert age_on(born, date(year, 2, 28)) == years - 1
        assert age_on(born, date(year, 3, 1)) == years


def test_age_zero_on_the_day_of_birth_and_future_birth_date() -> None:
    assert age_on(date(2024, 5, 1), date(2024, 5, 1)) == 0
    assert code_of(age_on, date(2024, 5, 2), date(2024, 5, 1)) == "birth_date_future"


ON = date(2025, 6, 15)
SEVENTEENTH = date(2008, 6, 15)  # 17 on ON


@pytest.mark.parametrize(
    ("birth_date", "status", "code"),
    [
        (date(2009, 1, 1), MaritalStatus.KAWIN, None),  # 16, married
        (date(2009, 1, 1), MaritalStatus.CERAI_HIDUP, None),
        (date(2009, 1, 1), MaritalStatus.CERAI_MATI, None),
        (date(2009, 1, 1), MaritalStatus.BELUM_KAWIN, "not_eligible_age"),
        (SEVENTEENTH, MaritalStatus.BELUM_KAWIN, None),  # the 17th birthday itself
        (SEVENTEENTH + timedelta(days=1), MaritalStatus.BELUM_KAWIN, "not_eligible_age"),
        (date(1960, 3, 3), MaritalStatus.BELUM_KAWIN, None),
        (ON + timedelta(days=1), MaritalStatus.KAWIN, "birth_date_future"),
        (ON + timedelta(days=1), MaritalStatus.BELUM_KAWIN, "birth_date_future"),
    ],
)
def test_new_card_eligibility(birth_date: date, status: MaritalStatus, code: str | None) -> None:
    if code is None:
        check_new_card_eligibility(birth_date=birth_date, marital_status=status, on=ON)
    else:
        got = code_of(
            check_new_card_eligibility, birth_date=birth_date, marital_status=status, on=ON
        )
        assert got == code


@given(birth_dates, st.sampled_from(MaritalStatus), st.integers(0, 40000))
def test_eligibility_rule(born: date, status: MaritalStatus, days: int) -> None:
    assume(born + timedelta(days=days) <= date.max)
    on = born + timedelta(days=days)
    eligible = age_on(born, on) >= MINIMUM_AGE_NEW_CARD or status.ever_married
    if eligible:
        check_new_card_eligibility(birth_date=born, marital_status=status, on=on)
    else:
        assert (
            code_of(check_new_card_eligibility, birth_date=born, marital_status=status, on=on)
            == "not_eligible_age"
        )


def test_29_february_applicant_turns_17_on_1_march() -> None:
    born = date(2008, 2, 29)
    with pytest.raises(IdentityError):
        check_new_card_eligibility(
            birth_date=born, marital_status=MaritalStatus.BELUM_KAWIN, on=date(2025, 2, 28)
        )
    check_new_card_eligibility(
        birth_date=born, marital_status=MaritalStatus.BELUM_KAWIN, on=date(2025, 3, 1)
    )


def test_enums() -> None:
    assert [s.value for s in Sex] == ["L", "P"]
    assert [m.value for m in MaritalStatus] == ["belum_kawin", "kawin", "cerai_hidup", "cerai_mati"]
    assert [m for m in MaritalStatus if m.ever_married] == [
        MaritalStatus.KAWIN,
        MaritalStatus.CERAI_HIDUP,
        MaritalStatus.CERAI_MATI,
    ]
    for member in (*Sex, *MaritalStatus):
        assert member.label.id
        assert member.label.en
    assert Sex.PEREMPUAN.label.id == "Perempuan"
    assert MaritalStatus.CERAI_MATI.label.id == "Cerai Mati"
