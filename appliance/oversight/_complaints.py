"""The complaint book's rules (*Buku Pengaduan*, seed 001 §11): where a complaint comes
from, how serious it is and so how long the office has, what its texts may hold, and
who the complainant is when they are not anonymous.

Deadlines are in working days by category; the defaults are the local norms DOMAIN.md
cites (minor 2, normative 5, complex 14, needing investigation 60, the last also
SP4N-LAPOR!'s outer limit), and an office sets its own in `[oversight]`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Annotated, Final

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from appliance._text import Text
from appliance.domain import WorkingCalendar

from ._errors import OversightError

COMPLAINT_NUMBER_PATTERN: Final = r"^ADU-[0-9]{4}-[0-9]{4}$"
LAPOR_ID_PATTERN: Final = r"^[A-Za-z0-9#/-]{3,32}$"


class Channel(StrEnum):
    """Where a complaint came in (seed 001 §11.2-11.4, DOMAIN.md "Complaints")."""

    MEJA_INFORMASI = "meja_informasi"
    """Said at the information desk, written down by the officer."""
    KOTAK_SARAN = "kotak_saran"
    """A slip from the suggestion box, opened at each day's close."""
    TELEPON = "telepon"
    """A phone call or a WhatsApp message, written down by the officer."""
    LAPOR = "lapor"
    """A SP4N-LAPOR! report, by its tracking id."""

    @property
    def label(self) -> Text:
        return _CHANNEL_LABELS[self]


_CHANNEL_LABELS: Final = MappingProxyType(
    {
        Channel.MEJA_INFORMASI: Text("Langsung di meja informasi", "At the information desk"),
        Channel.KOTAK_SARAN: Text("Kotak saran", "Suggestion box"),
        Channel.TELEPON: Text("Telepon / WhatsApp", "Phone / WhatsApp"),
        Channel.LAPOR: Text("SP4N-LAPOR!", "SP4N-LAPOR!"),
    }
)


class Category(StrEnum):
    """How much a complaint asks of the office, which sets its deadline."""

    RINGAN = "ringan"
    NORMATIF = "normatif"
    KOMPLEKS = "kompleks"
    INVESTIGASI = "investigasi"

    @property
    def label(self) -> Text:
        return _CATEGORY_LABELS[self]


_CATEGORY_LABELS: Final = MappingProxyType(
    {
        Category.RINGAN: Text("Ringan", "Minor"),
        Category.NORMATIF: Text("Normatif", "Normative"),
        Category.KOMPLEKS: Text("Kompleks", "Complex"),
        Category.INVESTIGASI: Text("Perlu investigasi", "Needs investigation"),
    }
)


class StandardPart(StrEnum):
    """The part of the office's service standard a complaint concerns (the components the
    seeds' standards list, by name: the two seeds number them differently)."""

    PERSYARATAN = "persyaratan"
    PROSEDUR = "prosedur"
    JANGKA_WAKTU = "jangka_waktu"
    BIAYA = "biaya"
    PRODUK = "produk"
    SARANA = "sarana"
    KOMPETENSI_PELAKSANA = "kompetensi_pelaksana"
    PENGAWASAN_INTERNAL = "pengawasan_internal"
    PENANGANAN_PENGADUAN = "penanganan_pengaduan"
    JUMLAH_PELAKSANA = "jumlah_pelaksana"
    JAMINAN_PELAYANAN = "jaminan_pelayanan"
    JAMINAN_KEAMANAN = "jaminan_keamanan"
    EVALUASI_KINERJA = "evaluasi_kinerja"

    @property
    def label(self) -> Text:
        return _STANDARD_LABELS[self]


_STANDARD_LABELS: Final = MappingProxyType(
    {
        StandardPart.PERSYARATAN: Text("Persyaratan", "Requirements"),
        StandardPart.PROSEDUR: Text("Sistem, mekanisme dan prosedur", "Procedure"),
        StandardPart.JANGKA_WAKTU: Text("Jangka waktu penyelesaian", "Time to complete"),
        StandardPart.BIAYA: Text("Biaya/tarif", "Cost/fee"),
        StandardPart.PRODUK: Text("Produk pelayanan", "Service product"),
        StandardPart.SARANA: Text("Sarana, prasarana dan/atau fasilitas", "Facilities"),
        StandardPart.KOMPETENSI_PELAKSANA: Text("Kompetensi pelaksana", "Officers' competence"),
        StandardPart.PENGAWASAN_INTERNAL: Text("Pengawasan internal", "Internal oversight"),
        StandardPart.PENANGANAN_PENGADUAN: Text(
            "Penanganan pengaduan, saran dan masukan", "Complaint handling"
        ),
        StandardPart.JUMLAH_PELAKSANA: Text("Jumlah pelaksana", "Number of officers"),
        StandardPart.JAMINAN_PELAYANAN: Text("Jaminan pelayanan", "Service guarantee"),
        StandardPart.JAMINAN_KEAMANAN: Text(
            "Jaminan keamanan dan keselamatan pelayanan", "Safety and security"
        ),
        StandardPart.EVALUASI_KINERJA: Text(
            "Evaluasi kinerja pelaksana", "Officers' performance evaluation"
        ),
    }
)


DEFAULT_DEADLINE_DAYS: Final[Mapping[Category, int]] = MappingProxyType(
    {
        Category.RINGAN: 2,
        Category.NORMATIF: 5,
        Category.KOMPLEKS: 14,
        Category.INVESTIGASI: 60,
    }
)
"""Working days from receipt to closure, by category (DOMAIN.md "Complaints")."""


def complaint_due(
    received: datetime,
    category: Category,
    calendar: WorkingCalendar,
    deadline_days: Mapping[Category, int] = DEFAULT_DEADLINE_DAYS,
) -> datetime:
    """When a complaint received at `received` must be closed: its category's working
    days later, on the office's calendar."""
    return calendar.add_working_days(received, deadline_days[category])


def complaint_number(year: int, serial: int) -> str:
    """`ADU-2026-0001`: numbered from 1 each year."""
    return f"ADU-{year:04d}-{serial:04d}"


# Nine or more digits, however spaced, can only be a phone number or an identity number:
# dates, ticket numbers and LAPOR! references in a sentence are shorter.
_LONG_NUMBER: Final = re.compile(r"\d(?:[\s.\-/]?\d){8,}")


def _book_text(value: str) -> str:
    text = value.strip()
    if not text:
        raise OversightError(
            "complaint_text_missing",
            Text("Wajib diisi; tidak boleh kosong.", "Required; it may not be empty."),
        )
    if _LONG_NUMBER.search(text):
        raise OversightError(
            "complaint_text_has_number",
            Text(
                "Nomor telepon atau NIK tidak ditulis di sini: teks ini terkirim ke kantor "
                "pusat. Tulis kontak pelapor di kolom kontak.",
                "No phone or identity number here: this text goes to the central office. "
                "Put the complainant's contact in the contact fields.",
            ),
        )
    return text


# No `min_length`: an empty text is refused by `_book_text`, with the book's own words.
BookText = Annotated[
    str, Field(max_length=1000, json_schema_extra={"minLength": 1}), AfterValidator(_book_text)
]
"""A text of the complaint book (what happened, the remedy asked, a follow-up): not
blank, and without a phone or identity number in it, since it travels in the register to
the central office while the contact stays on the station."""

ShortBookText = Annotated[
    str, Field(max_length=300, json_schema_extra={"minLength": 1}), AfterValidator(_book_text)
]


class Contact(BaseModel):
    """How to reach a complainant who gave their name: kept on the station only
    (`ContactBook`), shown only to the roles that follow up."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    name: str | None = Field(default=None, min_length=1, max_length=80)
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9][0-9 \-]{5,19}$")
    """A phone or WhatsApp number."""
    address: str | None = Field(default=None, min_length=1, max_length=200)

    @model_validator(mode="after")
    def _someone(self) -> Contact:
        if self.name is None and self.phone is None:
            raise OversightError(
                "contact_empty",
                Text(
                    "Isi nama atau nomor telepon pelapor, atau catat sebagai anonim.",
                    "Give the complainant's name or phone number, or record it as anonymous.",
                ),
            )
        return self


__all__ = [
    "COMPLAINT_NUMBER_PATTERN",
    "DEFAULT_DEADLINE_DAYS",
    "LAPOR_ID_PATTERN",
    "BookText",
    "Category",
    "Channel",
    "Contact",
    "ShortBookText",
    "StandardPart",
    "complaint_due",
    "complaint_number",
]
