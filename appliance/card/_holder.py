"""The card holder's data as the KTP-el carries it, on the chip (DG1) and on the face.

Values are kept as printed: Indonesian, upper case, white space collapsed. Input in any case
is accepted and normalised, so an officer's "Lumajang" and SIAK's "LUMAJANG" make the same
card. The NIK is checked with the domain's rules; it is not cross-checked against the birth
date and sex here, because the card carries SIAK's record as it stands and that check
belongs to the application (`appliance.domain.check_nik_matches`).
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from typing import Annotated, Final, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from appliance.domain import MaritalStatus, Sex, validate_nik

LIFETIME: Final = "SEUMUR HIDUP"
"""Validity of a citizen's KTP-el: for life (UU 24/2013, art. 64(7)), printed as such."""

Lifetime = Literal["SEUMUR HIDUP"]


class BloodType(StrEnum):
    """Golongan darah; `-` when unknown, as printed."""

    A = "A"
    B = "B"
    AB = "AB"
    O = "O"  # noqa: E741 - the blood group's own name
    UNKNOWN = "-"


class Religion(StrEnum):
    """Agama, the official list, as printed."""

    ISLAM = "ISLAM"
    KRISTEN = "KRISTEN"
    KATOLIK = "KATOLIK"
    HINDU = "HINDU"
    BUDDHA = "BUDDHA"
    KONGHUCU = "KONGHUCU"
    KEPERCAYAAN = "KEPERCAYAAN TERHADAP TUHAN YME"
    """Printed since the Constitutional Court's decision 97/PUU-XIV/2016."""


class Citizenship(StrEnum):
    """Kewarganegaraan: a citizen, or a foreigner holding a permanent stay permit."""

    WNI = "WNI"
    WNA = "WNA"


class RegencyKind(StrEnum):
    """The second header line says which: `KABUPATEN LUMAJANG`, `KOTA SURABAYA`."""

    KABUPATEN = "KABUPATEN"
    KOTA = "KOTA"


# Letters and digits of any script, and the punctuation names and addresses use
# ("MA'RUF", "JL. A. YANI NO. 5/B", "DUSUN KRAJAN (TIMUR)"). No control characters: the
# value is printed and written to the chip as it is.
_PRINTABLE = re.compile(r"(?:[^\W_]|[ .,'/()&-])*[^\W_](?:[^\W_]|[ .,'/()&-])*")


def _normalise(value: object) -> object:
    if isinstance(value, str):
        return " ".join(value.split()).upper()
    return value


def _printable(value: str) -> str:
    if not _PRINTABLE.fullmatch(value):
        raise ValueError("only letters, digits, spaces and . , ' / ( ) & - are printed")
    return value


# Lengths: SIAK's columns, bounded so that even the widest letters fit on the face at its
# smallest type (docs/card.md).
Name = Annotated[
    str, BeforeValidator(_normalise), Field(min_length=1, max_length=60), AfterValidator(_printable)
]
Place = Annotated[
    str, BeforeValidator(_normalise), Field(min_length=1, max_length=40), AfterValidator(_printable)
]
Address = Annotated[
    str,
    BeforeValidator(_normalise),
    Field(min_length=1, max_length=120),
    AfterValidator(_printable),
]
Occupation = Annotated[
    str, BeforeValidator(_normalise), Field(min_length=1, max_length=50), AfterValidator(_printable)
]
Nik = Annotated[str, AfterValidator(validate_nik)]
RtRw = Annotated[str, Field(pattern=r"^[0-9]{3}/[0-9]{3}$")]


class CardHolder(BaseModel):
    """Everything the KTP-el says about its holder, front and chip.

    `regency` and `regency_kind` make the header's second line (`KABUPATEN LUMAJANG`);
    `issue_place` and `issue_date` are printed beside the signature. `valid_until` is
    `SEUMUR HIDUP` for a citizen, as the law now requires, and a date for a foreigner,
    whose card ends with the stay permit.
    """

    # Errors never echo the input: a NIK or a name must not reach a log through them.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    nik: Nik
    name: Name
    birth_place: Place
    birth_date: date
    sex: Sex
    blood_type: Annotated[BloodType, BeforeValidator(_normalise)] = BloodType.UNKNOWN
    address: Address
    rt_rw: RtRw
    village: Place
    kecamatan: Place
    regency: Place
    regency_kind: Annotated[RegencyKind, BeforeValidator(_normalise)] = RegencyKind.KABUPATEN
    province: Place
    religion: Annotated[Religion, BeforeValidator(_normalise)]
    marital_status: MaritalStatus
    occupation: Occupation
    citizenship: Annotated[Citizenship, BeforeValidator(_normalise)] = Citizenship.WNI
    valid_until: Annotated[date | Lifetime, BeforeValidator(_normalise)] = LIFETIME
    issue_place: Place
    issue_date: date

    @model_validator(mode="after")
    def _consistent(self) -> CardHolder:
        if self.birth_date > self.issue_date:
            raise ValueError("the birth date is after the date of issue")
        if self.citizenship is Citizenship.WNI and self.valid_until != LIFETIME:
            raise ValueError(f"a citizen's KTP-el is valid for life ({LIFETIME})")
        if self.citizenship is Citizenship.WNA and (
            not isinstance(self.valid_until, date) or self.valid_until <= self.issue_date
        ):
            raise ValueError("a foreigner's KTP-el needs an expiry date after the date of issue")
        return self
