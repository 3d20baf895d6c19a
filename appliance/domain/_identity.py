"""Identity numbers and the applicant's eligibility: NIK, KK number, sex, marital status, age.

The NIK is `PPRRSSDDMMYYNNNN`: the region of first registration, the birth date (40 added to
the day for women) and a serial from 0001. The KK number has the same shape with the date of
issuance in place of the birth date and nothing added to the day. `python-stdnum` validates
the NIK's format, length, date and province; the rules it does not know (the serial, the day
ranges, the KK number) are added here.

Every error is an `IdentityError` with a stable `code` and a bilingual `text`. No message ever
carries a full 16-digit number: the numbers are masked as `3508********0001`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal

from stdnum import numdb
from stdnum.exceptions import InvalidComponent, InvalidFormat, InvalidLength, ValidationError
from stdnum.id import nik as stdnum_nik
from stdnum.util import isdigits

from appliance._text import Text

if TYPE_CHECKING:
    from collections.abc import Mapping

NUMBER_LENGTH = 16
"""Digits in a NIK and in a KK number."""

MINIMUM_AGE_NEW_CARD = 17
"""Age from which a citizen gets a KTP-el without being (or having been) married (seed 000)."""

_FEMALE_DAY_OFFSET = 40
_MASK = "********"
# Ten or more consecutive digits in a message can only be (part of) an identity number:
# dates, ages and minutes are far shorter. Any script's digits, as stdnum reads them all.
_LONG_DIGIT_RUN = re.compile(r"\d{10,}")


class DomainError(ValueError):
    """A domain rule was broken.

    `code` is stable, for machines (API error bodies, tests); `text` is for people, Indonesian
    first. `str()` gives the English text because the exception usually ends up in a log.
    Any long run of digits in the text is masked, so a careless caller cannot leak a NIK.
    """

    code: str
    text: Text

    def __init__(self, code: str, text: Text) -> None:
        safe = Text(id=_scrub(text.id), en=_scrub(text.en))
        super().__init__(safe.en)
        self.code = code
        self.text = safe

    def __reduce__(self) -> tuple[type[DomainError], tuple[str, Text]]:
        # ValueError pickles its args (the English text), which does not match __init__.
        return (type(self), (self.code, self.text))


IdentityErrorCode = Literal[
    "nik_format",
    "nik_length",
    "nik_region",
    "nik_birth_date",
    "nik_serial",
    "nik_mismatch_birth_date",
    "nik_mismatch_sex",
    "kk_format",
    "kk_length",
    "kk_region",
    "kk_date",
    "kk_serial",
    "not_eligible_age",
    "birth_date_future",
]


class IdentityError(DomainError):
    """A NIK or KK number is invalid, disagrees with the applicant, or the applicant is not
    eligible."""

    code: IdentityErrorCode

    def __init__(self, code: IdentityErrorCode, text: Text) -> None:
        super().__init__(code, text)


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
    two-digit year, because the NIK does not say the century.
    """

    region: str
    day: int
    month: int
    yy: int
    sex: Sex
    serial: int

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

    The separators stdnum accepts are removed first. Anything that is not a 16-digit number is
    masked whole, since it cannot be told which part of it identifies a person.
    """
    text = str(number)
    try:
        compact = stdnum_nik.compact(text)
    except ValidationError:
        compact = text
    if len(compact) == NUMBER_LENGTH and isdigits(compact):
        return compact[:4] + _MASK + compact[-4:]
    return "*" * len(compact)


def _scrub(message: str) -> str:
    return _LONG_DIGIT_RUN.sub(
        lambda m: m.group()[:4] + "*" * (len(m.group()) - 8) + m.group()[-4:], message
    )


_NAMES: Mapping[str, Text] = MappingProxyType(
    {"nik": Text(id="NIK", en="NIK"), "kk": Text(id="Nomor KK", en="KK number")}
)


def _compact(number: str, kind: Literal["nik", "kk"]) -> str:
    try:
        return stdnum_nik.compact(number)
    except ValidationError as exc:
        raise _format_error(kind=kind) from exc


def _format_error(*, kind: Literal["nik", "kk"]) -> IdentityError:
    name = _NAMES[kind]
    return IdentityError(
        code="nik_format" if kind == "nik" else "kk_format",
        text=Text(
            id=f"{name.id} hanya boleh berisi angka, {NUMBER_LENGTH} digit.",
            en=f"A {name.en} must consist of digits only, {NUMBER_LENGTH} of them.",
        ),
    )


def _length_error(number: str, *, kind: Literal["nik", "kk"]) -> IdentityError:
    name = _NAMES[kind]
    return IdentityError(
        code="nik_length" if kind == "nik" else "kk_length",
        text=Text(
            id=f"{name.id} harus {NUMBER_LENGTH} digit, bukan {len(number)} digit.",
            en=f"A {name.en} must have {NUMBER_LENGTH} digits, not {len(number)}.",
        ),
    )


def _check_format_and_length(number: str, kind: Literal["nik", "kk"]) -> None:
    if not isdigits(number):
        raise _format_error(kind=kind)
    if len(number) != NUMBER_LENGTH:
        raise _length_error(number, kind=kind)


def _region_known(number: str) -> bool:
    # The same lookup stdnum.id.nik makes: it knows provinces only, not every regency, so
    # an unknown regency in a known province is let through (new regencies keep appearing).
    return bool(numdb.get("id/loc").info(number[:4])[0][1])


def _date_is_valid(day: int, month: int, yy: int) -> bool:
    # Only YY is encoded. 19YY and 20YY agree on leap years except for YY=00, where 2000
    # is a leap year: a date valid in 20YY is valid in one of the two centuries.
    try:
        date(2000 + yy, month, day)
    except ValueError:
        return False
    return True


def _nik_day(number: str) -> tuple[int, Sex]:
    raw = int(number[6:8])
    if raw > _FEMALE_DAY_OFFSET:
        return raw - _FEMALE_DAY_OFFSET, Sex.PEREMPUAN
    return raw, Sex.LAKI_LAKI


def _check_nik_birth_date(number: str) -> None:
    raw = int(number[6:8])
    day, _ = _nik_day(number)
    # stdnum takes the day modulo 40, which would let 81..91 through as a day.
    if not (1 <= raw <= 31 or 41 <= raw <= 71) or not _date_is_valid(
        day, int(number[8:10]), int(number[10:12])
    ):
        raise IdentityError(
            code="nik_birth_date",
            text=Text(
                id=f"Tanggal lahir dalam NIK {mask_nik(number)} tidak valid.",
                en=f"The birth date in NIK {mask_nik(number)} is not a valid date.",
            ),
        )


def _check_serial(number: str, kind: Literal["nik", "kk"]) -> None:
    if number[12:] == "0000":
        name = _NAMES[kind]
        raise IdentityError(
            code="nik_serial" if kind == "nik" else "kk_serial",
            text=Text(
                id=f"Nomor urut {name.id} {mask_nik(number)} tidak boleh 0000.",
                en=f"The serial of {name.en} {mask_nik(number)} must not be 0000.",
            ),
        )


def _region_error(number: str, *, kind: Literal["nik", "kk"]) -> IdentityError:
    name = _NAMES[kind]
    return IdentityError(
        code="nik_region" if kind == "nik" else "kk_region",
        text=Text(
            id=f"Kode wilayah {name.id} {mask_nik(number)} tidak dikenal.",
            en=f"The region code of {name.en} {mask_nik(number)} is unknown.",
        ),
    )


def validate_nik(nik: str) -> str:
    """Check a NIK and return it compact (separators and surrounding spaces removed).

    Checked, in this order: digits only, 16 digits, the birth date (day 1-31, or 41-71 for
    women), the province, and a serial other than 0000. Raises `IdentityError`.
    """
    number = _compact(nik, "nik")
    try:
        stdnum_nik.validate(number)
    except InvalidLength as exc:  # a subclass of InvalidFormat: it must come first
        raise _length_error(number, kind="nik") from exc
    except InvalidFormat as exc:
        raise _format_error(kind="nik") from exc
    except InvalidComponent as exc:
        # stdnum says "a component" for both the date and the region: tell them apart.
        _check_nik_birth_date(number)
        raise _region_error(number, kind="nik") from exc
    _check_nik_birth_date(number)
    _check_serial(number, "nik")
    return number


def validate_kk(kk: str) -> str:
    """Check a Kartu Keluarga number and return it compact.

    Checked, in this order: digits only, 16 digits, the date of issuance (DDMMYY, nothing
    added to the day), the province (the lookup stdnum makes for a NIK), and a serial other
    than 0000. Raises `IdentityError`.
    """
    number = _compact(kk, "kk")
    _check_format_and_length(number, "kk")
    if not _date_is_valid(int(number[6:8]), int(number[8:10]), int(number[10:12])):
        raise IdentityError(
            code="kk_date",
            text=Text(
                id=f"Tanggal penerbitan dalam Nomor KK {mask_nik(number)} tidak valid.",
                en=f"The date of issue in KK number {mask_nik(number)} is not a valid date.",
            ),
        )
    if not _region_known(number):
        raise _region_error(number, kind="kk")
    _check_serial(number, "kk")
    return number


def decode_nik(nik: str) -> NikParts:
    """Validate a NIK and split it into its fields."""
    number = validate_nik(nik)
    day, sex = _nik_day(number)
    return NikParts(
        region=number[:6],
        day=day,
        month=int(number[8:10]),
        yy=int(number[10:12]),
        sex=sex,
        serial=int(number[12:]),
    )


def compose_nik(*, region: str, birth_date: date, sex: Sex, serial: int) -> str:
    """Build the NIK for these fields (for simulators and tests), validated."""
    day = birth_date.day + (_FEMALE_DAY_OFFSET if sex is Sex.PEREMPUAN else 0)
    return validate_nik(_compose(region, day, birth_date, serial))


def compose_kk(*, region: str, issued: date, serial: int) -> str:
    """Build the KK number for these fields (for simulators and tests), validated."""
    return validate_kk(_compose(region, issued.day, issued, serial))


def _compose(region: str, day: int, when: date, serial: int) -> str:
    if len(region) != 6 or not isdigits(region):
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
