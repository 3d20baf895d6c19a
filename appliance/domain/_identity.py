"""Identity numbers and the applicant's eligibility: NIK, KK number, sex, marital status, age.

The NIK is `PPRRSSDDMMYYNNNN`: the region of first registration (province, regency, district;
see `_regions`), the birth date (40 added to the day for women) and a serial from 0001. The KK
number has the same shape with the date of issue in place of the birth date and nothing added
to the day. Each part is checked from the left, and a refusal names the first wrong part: its
digits and why, in Indonesian and English (`IdentityError`, with a code per part).

What an officer types is read leniently but exactly: surrounding whitespace is dropped, and
spaces (no-break ones too), dots and hyphens between the digits (`3508 0117 0845 0001`). Any
other character is refused, digits of other scripts too (Arabic-Indic, full-width): the
register holds ASCII digits only, and a number is never guessed from look-alikes. The same
rule, as a pattern, is the JSON schema of `NikField` and `KkField`.

No message ever carries a full 16-digit number: the numbers are masked as `3508********0001`.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING

from appliance._text import Text
from appliance.domain._errors import DomainError, IdentityError, IdentityErrorCode
from appliance.domain._regions import NUMBER_NAMES, NumberKind, RegionCheck, check_region

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [  # DomainError and IdentityErrorCode are imported from here by sibling modules
    "MINIMUM_AGE_NEW_CARD",
    "NUMBER_LENGTH",
    "NUMBER_PATTERN",
    "DomainError",
    "IdentityError",
    "IdentityErrorCode",
    "MaritalStatus",
    "NikParts",
    "Sex",
    "age_on",
    "check_new_card_eligibility",
    "check_nik_matches",
    "compose_kk",
    "compose_nik",
    "decode_nik",
    "mask_nik",
    "region_of",
    "validate_kk",
    "validate_nik",
]

NUMBER_LENGTH = 16
"""Digits in a NIK and in a KK number."""

NUMBER_PATTERN = r"^[\t\n\r \u00a0]*[ .\u00a0-]*(?:[0-9][ .\u00a0-]*){16}[\t\n\r \u00a0]*$"
"""What `validate_nik` and `validate_kk` read as sixteen digits, as a regular expression (for
schemas: a number that matches may still be refused for its region, date or serial)."""

MINIMUM_AGE_NEW_CARD = 17
"""Age from which a citizen gets a KTP-el without being (or having been) married (seed 000)."""

_FEMALE_DAY_OFFSET = 40
_MASK = "********"
# A no-break space counts as a space: copying a number from a web page or a document brings it.
_SURROUNDING = " \t\n\r\u00a0"
_SEPARATORS = " .-\u00a0"
_ASCII_DIGITS = frozenset("0123456789")


class Sex(StrEnum):
    """Jenis kelamin, with SIAK's one-letter codes."""

    LAKI_LAKI = "L"
    PEREMPUAN = "P"

    @property
    def label(self) -> Text:
        return _SEX_LABELS[self]


_SEX_LABELS: Mapping[Sex, Text] = MappingProxyType(
    {
        Sex.LAKI_LAKI: Text(id="Laki-laki", en="Male"),
        Sex.PEREMPUAN: Text(id="Perempuan", en="Female"),
    }
)


class MaritalStatus(StrEnum):
    """Status perkawinan, the four values SIAK records."""

    BELUM_KAWIN = "belum_kawin"
    KAWIN = "kawin"
    CERAI_HIDUP = "cerai_hidup"
    CERAI_MATI = "cerai_mati"

    @property
    def label(self) -> Text:
        return _MARITAL_LABELS[self]

    @property
    def ever_married(self) -> bool:
        """Married now or before (divorced, widowed): enough for a KTP-el below 17."""
        return self is not MaritalStatus.BELUM_KAWIN


_MARITAL_LABELS: Mapping[MaritalStatus, Text] = MappingProxyType(
    {
        MaritalStatus.BELUM_KAWIN: Text(id="Belum Kawin", en="Never married"),
        MaritalStatus.KAWIN: Text(id="Kawin", en="Married"),
        MaritalStatus.CERAI_HIDUP: Text(id="Cerai Hidup", en="Divorced"),
        MaritalStatus.CERAI_MATI: Text(id="Cerai Mati", en="Widowed"),
    }
)


@dataclass(frozen=True, slots=True)
class NikParts:
    """The fields of a valid NIK.

    `day` is the day of the month (the 40 added for women already taken off); `yy` is the
    two-digit year, because the NIK does not say the century. `place` names the region of
    first registration, or says which of its codes the official list lacks.
    """

    region: str
    day: int
    month: int
    yy: int
    sex: Sex
    serial: int
    place: RegionCheck

    @property
    def province(self) -> str:
        return self.region[:2]

    @property
    def regency(self) -> str:
        """Province and regency (kabupaten/kota), e.g. `3508` for Lumajang."""
        return self.region[:4]

    def matches_birth_date(self, birth_date: date) -> bool:
        return (self.day, self.month, self.yy) == (
            birth_date.day,
            birth_date.month,
            birth_date.year % 100,
        )


def mask_nik(number: str | int) -> str:
    """Mask one NIK or KK number for logs and messages: `3508********0001`.

    The separators `validate_nik` accepts are removed first. Anything that is not then 16
    ASCII digits is masked whole, since it cannot be told which part of it identifies a person.
    """
    compact = _strip_separators(str(number))
    if len(compact) == NUMBER_LENGTH and _ASCII_DIGITS.issuperset(compact):
        return compact[:4] + _MASK + compact[-4:]
    return "*" * len(compact)


def _strip_separators(text: str) -> str:
    return "".join(c for c in text.strip(_SURROUNDING) if c not in _SEPARATORS)


def _compact(value: object, kind: NumberKind) -> str:
    """The digits of what was typed, or the refusal naming the first character that is not."""
    name = NUMBER_NAMES[kind]
    code: IdentityErrorCode = "nik_format" if kind == "nik" else "kk_format"
    if not isinstance(value, str):
        raise IdentityError(
            code=code,
            text=Text(
                id=f"{name.id} harus berupa teks berisi {NUMBER_LENGTH} angka.",
                en=f"A {name.en} must be given as text of {NUMBER_LENGTH} digits.",
            ),
        )
    stripped = value.strip(_SURROUNDING)
    for position, char in enumerate(stripped, start=1):
        if char in _ASCII_DIGITS or char in _SEPARATORS:
            continue
        if char.isdecimal():
            text = Text(
                id=(
                    f"{name.id} harus diketik dengan angka 0-9 biasa: karakter ke-{position} "
                    "adalah angka dari aksara lain (misalnya angka Arab atau angka lebar penuh)."
                ),
                en=(
                    f"A {name.en} must be typed with the plain digits 0-9: character {position} "
                    "is a digit of another script (such as Arabic-Indic or full-width)."
                ),
            )
        else:
            text = Text(
                id=(
                    f"{name.id} hanya boleh berisi angka 0-9, boleh dipisah spasi, titik atau "
                    f"tanda hubung: karakter ke-{position} bukan angka."
                ),
                en=(
                    f"A {name.en} may contain only the digits 0-9, which spaces, dots or hyphens "
                    f"may separate: character {position} is not a digit."
                ),
            )
        raise IdentityError(code=code, text=text)
    number = _strip_separators(stripped)
    if len(number) != NUMBER_LENGTH:
        raise IdentityError(
            code="nik_length" if kind == "nik" else "kk_length",
            text=Text(
                id=f"{name.id} harus {NUMBER_LENGTH} digit, bukan {len(number)} digit.",
                en=f"A {name.en} must have {NUMBER_LENGTH} digits, not {len(number)}.",
            ),
        )
    return number


def _nik_day(number: str) -> tuple[int, Sex]:
    raw = int(number[6:8])
    if raw > _FEMALE_DAY_OFFSET:
        return raw - _FEMALE_DAY_OFFSET, Sex.PEREMPUAN
    return raw, Sex.LAKI_LAKI


def _check_date(number: str, kind: NumberKind) -> None:
    """Digits 7-12: the birth date of a NIK (day + 40 for women), a KK's date of issue."""
    name = NUMBER_NAMES[kind]
    raw, month, yy = int(number[6:8]), int(number[8:10]), int(number[10:12])
    day_code: IdentityErrorCode = "nik_birth_day" if kind == "nik" else "kk_issue_day"
    what = (
        Text(id="Tanggal lahir", en="birth day")
        if kind == "nik"
        else Text(id="Tanggal penerbitan", en="day of issue")
    )
    if kind == "nik" and not (1 <= raw <= 31 or 41 <= raw <= 71):
        raise IdentityError(
            code=day_code,
            text=Text(
                id=(
                    f"Tanggal lahir pada NIK (digit 7-8) harus 01-31 untuk laki-laki atau 41-71 "
                    f"untuk perempuan (tanggal + 40), bukan {raw:02d}."
                ),
                en=(
                    f"The birth day in the NIK (digits 7-8) must be 01-31 for a man or 41-71 "
                    f"for a woman (the day + 40), not {raw:02d}."
                ),
            ),
        )
    if kind == "kk" and not 1 <= raw <= 31:
        raise IdentityError(
            code=day_code,
            text=Text(
                id=f"Tanggal penerbitan pada Nomor KK (digit 7-8) harus 01-31, bukan {raw:02d}.",
                en=f"The day of issue in the KK number (digits 7-8) must be 01-31, not {raw:02d}.",
            ),
        )
    if not 1 <= month <= 12:
        month_text = (
            Text(id="Bulan lahir", en="birth month")
            if kind == "nik"
            else Text(id="Bulan penerbitan", en="month of issue")
        )
        raise IdentityError(
            code="nik_birth_month" if kind == "nik" else "kk_issue_month",
            text=Text(
                id=f"{month_text.id} pada {name.id} (digit 9-10) harus 01-12, bukan {month:02d}.",
                en=(
                    f"The {month_text.en} in the {name.en} (digits 9-10) must be 01-12, "
                    f"not {month:02d}."
                ),
            ),
        )
    day = raw - _FEMALE_DAY_OFFSET if raw > _FEMALE_DAY_OFFSET else raw
    # Only YY is encoded. 19YY and 20YY agree on leap years except for YY=00, where 2000
    # is a leap year: a date valid in 20YY is valid in one of the two centuries.
    last = calendar.monthrange(2000 + yy, month)[1]
    if day > last:
        raise IdentityError(
            code=day_code,
            text=Text(
                id=(
                    f"{what.id} pada {name.id} (digit 7-8) tidak ada: bulan {month:02d} tahun "
                    f"{yy:02d} hanya sampai tanggal {last}."
                ),
                en=(
                    f"The {what.en} in the {name.en} (digits 7-8) does not exist: month "
                    f"{month:02d} of year {yy:02d} has {last} days."
                ),
            ),
        )


def _check_serial(number: str, kind: NumberKind) -> None:
    if number[12:] == "0000":
        name = NUMBER_NAMES[kind]
        raise IdentityError(
            code="nik_serial" if kind == "nik" else "kk_serial",
            text=Text(
                id=f"Nomor urut pada {name.id} (digit 13-16) tidak boleh 0000.",
                en=f"The serial number in the {name.en} (digits 13-16) must not be 0000.",
            ),
        )


def _checked(value: object, kind: NumberKind) -> tuple[str, RegionCheck]:
    number = _compact(value, kind)
    place = check_region(number, kind=kind)
    _check_date(number, kind)
    _check_serial(number, kind)
    return number, place


def validate_nik(nik: str) -> str:
    """Check a NIK and return it compact: 16 ASCII digits.

    Checked from the left: the characters, 16 digits, the province (in the official list),
    regency and district (not 00), the birth day (01-31, or 41-71 for women) and month and
    that the date exists, and a serial other than 0000. A regency or district missing from
    the list passes: `region_of` tells it. Raises `IdentityError` naming the wrong part.
    """
    return _checked(nik, "nik")[0]


def validate_kk(kk: str) -> str:
    """Check a Kartu Keluarga number and return it compact.

    The NIK's checks, with the date of issue (DDMMYY, nothing added to the day) in place of
    the birth date. Raises `IdentityError` naming the wrong part.
    """
    return _checked(kk, "kk")[0]


def region_of(number: str, *, kind: NumberKind = "nik") -> RegionCheck:
    """Validate a NIK (or KK number) and name its region; UNLISTED says which code to confirm.

    The pipeline flags an UNLISTED number for the section head to confirm rather than
    refusing it: the list lags behind new regions, and old NIKs keep former codes.
    """
    return _checked(number, kind)[1]


def decode_nik(nik: str) -> NikParts:
    """Validate a NIK and split it into its fields, with the names of its region."""
    number, place = _checked(nik, "nik")
    day, sex = _nik_day(number)
    return NikParts(
        region=number[:6],
        day=day,
        month=int(number[8:10]),
        yy=int(number[10:12]),
        sex=sex,
        serial=int(number[12:]),
        place=place,
    )


def compose_nik(*, region: str, birth_date: date, sex: Sex, serial: int) -> str:
    """Build the NIK for these fields (for simulators and tests), validated."""
    day = birth_date.day + (_FEMALE_DAY_OFFSET if sex is Sex.PEREMPUAN else 0)
    return validate_nik(_compose(region, day, birth_date, serial))


def compose_kk(*, region: str, issued: date, serial: int) -> str:
    """Build the KK number for these fields (for simulators and tests), validated."""
    return validate_kk(_compose(region, issued.day, issued, serial))


def _compose(region: str, day: int, when: date, serial: int) -> str:
    if not re.fullmatch(r"[0-9]{6}", region):
        raise ValueError(f"region must be 6 digits, got {len(region)} characters")
    if not 0 <= serial <= 9999:
        raise ValueError(f"serial must be 0..9999, got {serial}")
    return f"{region}{day:02d}{when.month:02d}{when.year % 100:02d}{serial:04d}"


def check_nik_matches(nik: str, *, birth_date: date, sex: Sex) -> None:
    """Check that a NIK agrees with the applicant's declared birth date and sex.

    The birth date is compared on day, month and two-digit year; it is checked before the
    sex, so a NIK that disagrees on both is reported as a date mismatch.
    """
    parts = decode_nik(nik)
    masked = mask_nik(nik)
    if not parts.matches_birth_date(birth_date):
        raise IdentityError(
            code="nik_mismatch_birth_date",
            text=Text(
                id=f"Tanggal lahir dalam NIK {masked} tidak sesuai dengan tanggal lahir pemohon.",
                en=f"The birth date in NIK {masked} does not match the applicant's birth date.",
            ),
        )
    if parts.sex is not sex:
        raise IdentityError(
            code="nik_mismatch_sex",
            text=Text(
                id=(
                    f"NIK {masked} menunjukkan jenis kelamin {parts.sex.label.id}, "
                    f"sedangkan pemohon tercatat {sex.label.id}."
                ),
                en=(
                    f"NIK {masked} denotes a {parts.sex.label.en.lower()} person, "
                    f"but the applicant is recorded as {sex.label.en.lower()}."
                ),
            ),
        )


def age_on(birth_date: date, on: date) -> int:
    """Age in full years on the day `on`.

    Someone born on 29 February turns a year older on 1 March in a common year.
    Raises `IdentityError` (`birth_date_future`) if `on` is before the birth date.
    """
    if birth_date > on:
        raise _future_birth_date(on)
    before_birthday = (on.month, on.day) < (birth_date.month, birth_date.day)
    return on.year - birth_date.year - before_birthday


def _future_birth_date(on: date) -> IdentityError:
    return IdentityError(
        code="birth_date_future",
        text=Text(
            id=f"Tanggal lahir tidak boleh setelah tanggal {on.isoformat()}.",
            en=f"The birth date must not be after {on.isoformat()}.",
        ),
    )


def check_new_card_eligibility(
    *, birth_date: date, marital_status: MaritalStatus, on: date
) -> None:
    """Check that a citizen may get a first KTP-el on the day `on`.

    Seed 000: "telah berusia 17 (tujuh belas) tahun, sudah kawin atau pernah kawin" - being
    17, or married now or before, is enough.
    """
    age = age_on(birth_date, on)
    if age >= MINIMUM_AGE_NEW_CARD or marital_status.ever_married:
        return
    raise IdentityError(
        code="not_eligible_age",
        text=Text(
            id=(
                f"KTP-el baru hanya untuk yang telah berusia {MINIMUM_AGE_NEW_CARD} tahun, "
                f"sudah kawin atau pernah kawin; pemohon berusia {age} tahun dan "
                f"berstatus {marital_status.label.id}."
            ),
            en=(
                f"A new KTP-el requires being {MINIMUM_AGE_NEW_CARD} or older, or married now "
                f"or before; the applicant is {age} and {marital_status.label.en.lower()}."
            ),
        ),
    )
