"""The applicant's form at the counter, read from the browser: what `SubmitForm` needs,
each refusal at its field in the officer's language, and the live reading of the NIK and
KK number while they are typed.

The form is judged by the rules that judge it anyway: `SubmitForm` (the NIK and KK by the
domain's checks, which name the wrong part), then the card's own model, `CardHolder`, so
that a value the card could not print (a name too long for its face, a character the
chip does not take) is refused at its field now rather than as one sentence from the
pipeline later.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType
from typing import Any, Final

from pydantic import ValidationError
from starlette.datastructures import FormData

from appliance._text import Text
from appliance.api._validation import field_problems
from appliance.card import BloodType, CardHolder, Religion
from appliance.domain import (
    Document,
    IdentityError,
    MaritalStatus,
    NikParts,
    RegionCheck,
    ServiceType,
    Sex,
    decode_nik,
    region_of,
)
from appliance.pipeline import SubmitForm

IDENTITY_FIELDS: Final = ("nik", "kk", "name", "birth_date", "sex", "marital_status")
BIODATA_FIELDS: Final = (
    "birth_place",
    "address",
    "rt_rw",
    "village",
    "religion",
    "occupation",
    "blood_type",
)
FIELD_MAX: Final[Mapping[str, int]] = MappingProxyType(
    # The card's limits (CardHolder), so the browser stops typing where the card would.
    {"name": 60, "birth_place": 40, "address": 120, "village": 40, "occupation": 50}
)


Option = tuple[str, Text | str]
"""A value, and what the officer reads: a `Text`, or the value as the card prints it."""


@dataclass(frozen=True, slots=True)
class Choices:
    """The form's lists."""

    services: tuple[ServiceType, ...]
    sexes: tuple[Option, ...]
    marital_statuses: tuple[Option, ...]
    religions: tuple[Option, ...]
    blood_types: tuple[Option, ...]
    max_length: Mapping[str, int]


CHOICES: Final = Choices(
    services=tuple(ServiceType),
    sexes=tuple((sex.value, sex.label) for sex in Sex),
    marital_statuses=tuple((status.value, status.label) for status in MaritalStatus),
    religions=tuple((religion.value, religion.value) for religion in Religion),
    blood_types=tuple(
        (blood.value, Text("Tidak tahu", "Unknown") if blood is BloodType.UNKNOWN else blood.value)
        for blood in BloodType
    ),
    max_length=FIELD_MAX,
)

_UNPRINTABLE: Final = Text(
    "Hanya huruf, angka, spasi dan tanda . , ' / ( ) & - yang dapat dicetak pada KTP-el.",
    "Only letters, digits, spaces and . , ' / ( ) & - can be printed on the KTP-el.",
)
_RT_RW: Final = Text(
    "Tulis RT/RW dengan 3 angka masing-masing, misalnya 002/004.",
    "Write the RT/RW as 3 digits each, such as 002/004.",
)
_BORN_LATER: Final = Text(
    "Tanggal lahir tidak boleh sesudah hari ini.", "The birth date cannot be after today."
)
_MONTHS: Final = (
    Text("Januari", "January"),
    Text("Februari", "February"),
    Text("Maret", "March"),
    Text("April", "April"),
    Text("Mei", "May"),
    Text("Juni", "June"),
    Text("Juli", "July"),
    Text("Agustus", "August"),
    Text("September", "September"),
    Text("Oktober", "October"),
    Text("November", "November"),
    Text("Desember", "December"),
)


@dataclass(frozen=True, slots=True)
class Entered:
    """What the officer typed, as typed (to show it again), and the documents ticked."""

    values: Mapping[str, str]
    documents: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Judged:
    """The form as `SubmitForm`, or the problem at each field that refuses it."""

    form: SubmitForm | None
    errors: Mapping[str, Text]


def entered(data: FormData) -> Entered:
    names = ("service", *IDENTITY_FIELDS, *BIODATA_FIELDS)
    values = {name: _text(data.get(name)) for name in names}
    documents = tuple(d for d in data.getlist("documents") if isinstance(d, str))
    return Entered(values=values, documents=documents)


def judge(typed: Entered, *, ticket: str, today: date) -> Judged:
    """The form's problems, each at its field; none: the form to submit."""
    values = typed.values

    def given(names: tuple[str, ...]) -> dict[str, str]:
        # An empty box is a missing value ("Wajib diisi."), not a malformed one.
        return {name: values[name].strip() for name in names if values[name].strip()}

    body: dict[str, Any] = {
        "ticket": ticket,
        "documents": list(typed.documents),
        **given(("service", *IDENTITY_FIELDS)),
        "biodata": given(BIODATA_FIELDS),
    }
    try:
        form = SubmitForm.model_validate(body)
    except ValidationError as refused:
        return Judged(form=None, errors=_at_fields(refused))
    card_errors = _card_refuses(form, today)
    return Judged(form=None if card_errors else form, errors=card_errors)


def _card_refuses(form: SubmitForm, today: date) -> dict[str, Text]:
    """What the card's face and chip would refuse. The card's kecamatan, regency and
    province come from the station's settings, not the form: any printable place stands
    in for them here."""
    bio = form.biodata
    place = "LUMAJANG"
    try:
        CardHolder.model_validate(
            {
                "nik": form.nik,
                "name": form.name,
                "birth_place": bio.birth_place,
                "birth_date": form.birth_date,
                "sex": form.sex,
                "blood_type": bio.blood_type,
                "address": bio.address,
                "rt_rw": bio.rt_rw,
                "village": bio.village,
                "kecamatan": place,
                "regency": place,
                "province": place,
                "religion": bio.religion,
                "marital_status": form.marital_status,
                "occupation": bio.occupation,
                "issue_place": place,
                "issue_date": today,
            }
        )
    except ValidationError as refused:
        return _at_fields(refused)
    return {}


def _at_fields(refused: ValidationError) -> dict[str, Text]:
    errors: dict[str, Text] = {}
    for error, problem in zip(refused.errors(), field_problems(refused.errors()), strict=True):
        parts = [part for part in problem.label.split(".") if part and not part.isdigit()]
        if parts[:1] == ["biodata"]:
            parts = parts[1:]
        # A citizen's card refuses one thing as a whole, not at a field: a birth date after
        # its day of issue.
        name = parts[0] if parts else "birth_date"
        text = problem.text
        if error["type"] == "value_error":
            text = _BORN_LATER if not parts else _UNPRINTABLE
        elif name == "rt_rw" and error["type"] == "string_pattern_mismatch":
            text = _RT_RW
        errors.setdefault(name if name in _FIELDS else "form", text)
    return errors


_FIELDS: Final = frozenset({"service", "documents", *IDENTITY_FIELDS, *BIODATA_FIELDS})


def documents_of(typed: Entered) -> tuple[Document, ...] | None:
    """The ticked documents; None if one is not a document at all (a forged form)."""
    try:
        return tuple(Document(code) for code in typed.documents)
    except ValueError:
        return None


def service_of(value: str | None, default: ServiceType) -> ServiceType:
    try:
        return ServiceType(value) if value else default
    except ValueError:
        return default


# ---------------------------------------------------------------- the live checks


@dataclass(frozen=True, slots=True)
class NumberCheck:
    """A NIK or KK number as typed so far: its problem, or what it says."""

    empty: bool
    problem: Text | None = None
    parts: NikParts | None = None
    born: date | None = None
    region: RegionCheck | None = None

    @property
    def valid(self) -> bool:
        return not self.empty and self.problem is None

    @property
    def born_label(self) -> Text | None:
        return long_date(self.born) if self.born else None


def check_nik(value: str, *, today: date) -> NumberCheck:
    if not value.strip():
        return NumberCheck(empty=True)
    try:
        parts = decode_nik(value)
    except IdentityError as refused:
        return NumberCheck(empty=False, problem=refused.text)
    return NumberCheck(empty=False, parts=parts, born=_birth_date(parts, today), region=parts.place)


def check_kk(value: str) -> NumberCheck:
    if not value.strip():
        return NumberCheck(empty=True)
    try:
        region = region_of(value, kind="kk")
    except IdentityError as refused:
        return NumberCheck(empty=False, problem=refused.text)
    return NumberCheck(empty=False, region=region)


def _birth_date(parts: NikParts, today: date) -> date | None:
    """The NIK gives the year's last two digits: the latest century not in the future."""
    for century in (2000, 1900):
        try:
            born = date(century + parts.yy, parts.month, parts.day)
        except ValueError:
            continue  # 29 February of a year that was not a leap year in that century
        if born <= today:
            return born
    return None


def long_date(day: date) -> Text:
    """`17 Mei 1990` / `17 May 1990`."""
    month = _MONTHS[day.month - 1]
    return Text(f"{day.day} {month.id} {day.year}", f"{day.day} {month.en} {day.year}")


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""
