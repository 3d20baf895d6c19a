"""Indonesia's official region codes, and the check of the region part of a NIK or KK number.

The first six digits of both numbers are `PPRRSS`: province, regency or city (kabupaten/kota)
and district (kecamatan) where the person or family was first registered. They are checked
against `data/regions.tsv`, the Kemendagri list (its source and date in `data/SOURCE.md`):

- a province that is not in the list is refused: the 38 provinces change by law, rarely;
- a regency or district part `00` is refused: no region has that code;
- any other regency or district missing from the list is **UNLISTED**, not refused. A NIK keeps
  the code of its first registration for life, so codes of regions split, merged or renamed
  since then, and of regions newer than the list, are real. The pipeline flags such a number
  for the section head to confirm.

The list is read on the first lookup, not at import, and kept: about 140 kB of text and an
index of the 552 provinces and regencies (the districts are found in their regency's lines),
some 0.3 MB in all (`benchmarks/regions.py`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal

from appliance._text import Text
from appliance.domain._errors import IdentityError

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from appliance.domain._errors import IdentityErrorCode

NumberKind = Literal["nik", "kk"]
"""Which identity number a check is about: the NIK or the Kartu Keluarga number."""

NUMBER_NAMES: Mapping[NumberKind, Text] = MappingProxyType(
    {"nik": Text(id="NIK", en="NIK"), "kk": Text(id="Nomor KK", en="KK number")}
)

_DATA_FILE = "data/regions.tsv"


class RegionStatus(StrEnum):
    """Whether a number's regency and district are in the official list."""

    KNOWN = "known"
    UNLISTED = "unlisted"


@dataclass(frozen=True, slots=True)
class RegionCheck:
    """The region part of a valid NIK or KK number, with the names the list gives it.

    `unlisted` says, in both languages, which code is missing from the list (the regency, or
    only the district) and that the section head is to confirm it; it is None for a KNOWN
    region. A name is None when its code is not listed; the province's is always known.
    """

    code: str
    province_name: str
    regency_name: str | None
    district_name: str | None
    unlisted_part: Literal["regency", "district"] | None
    unlisted: Text | None

    @property
    def status(self) -> RegionStatus:
        return RegionStatus.KNOWN if self.unlisted is None else RegionStatus.UNLISTED

    @property
    def label(self) -> Text:
        """Where, for an officer's screen: `Kec. Tempursari, Kab. Lumajang, Jawa Timur`."""
        district_id = f"Kec. {self.district_name}" if self.district_name else None
        district_en = f"{self.district_name} district" if self.district_name else None
        regency_id = self.regency_name
        if regency_id is not None and regency_id.startswith("Kabupaten "):
            regency_id = "Kab. " + regency_id.removeprefix("Kabupaten ")
        unknown = Text(
            id=f"kode {_dotted(self.code)} (tidak terdaftar)",
            en=f"code {_dotted(self.code)} (unlisted)",
        )
        if district_id is None or district_en is None:
            return Text(
                id=", ".join(p for p in (unknown.id, regency_id, self.province_name) if p),
                en=", ".join(p for p in (unknown.en, self.regency_name, self.province_name) if p),
            )
        return Text(
            id=f"{district_id}, {regency_id}, {self.province_name}",
            en=f"{district_en}, {self.regency_name}, {self.province_name}",
        )


@dataclass(frozen=True, slots=True)
class _RegionList:
    text: str
    """The data file: one `code<TAB>name` line per region, sorted by code."""
    provinces: Mapping[str, str]
    regencies: Mapping[str, tuple[str, int, int]]
    """Regency code -> its name, and where its districts' lines start and end in `text`."""


@functools.cache
def _region_list() -> _RegionList:
    # Beside this module, not through importlib.resources: that would import zipfile, tempfile
    # and more, 2 MB of modules for a file the wheel installs as a plain file.
    text = (Path(__file__).parent / _DATA_FILE).read_text(encoding="utf-8")
    provinces: dict[str, str] = {}
    regencies: dict[str, tuple[str, int, int]] = {}
    open_regency: tuple[str, str, int] | None = None  # code, name, where its districts start
    position = 0
    for line in text.splitlines(keepends=True):
        start, position = position, position + len(line)
        if line.startswith("#"):
            continue
        code, _, name = line.rstrip("\n").partition("\t")
        if len(code) == 6:
            continue
        if open_regency is not None:
            regencies[open_regency[0]] = (open_regency[1], open_regency[2], start)
            open_regency = None
        if len(code) == 4:
            open_regency = (code, name, position)
        else:
            provinces[code] = name
    if open_regency is not None:
        regencies[open_regency[0]] = (open_regency[1], open_regency[2], position)
    return _RegionList(text=text, provinces=provinces, regencies=regencies)


def province_name(code: str) -> str | None:
    """The name of a 2-digit province code (`35` -> `Jawa Timur`), None if not listed."""
    return _region_list().provinces.get(code)


def regency_name(code: str) -> str | None:
    """The name of a 4-digit regency or city code (`3508` -> `Kabupaten Lumajang`)."""
    entry = _region_list().regencies.get(code)
    return entry[0] if entry else None


def district_name(code: str) -> str | None:
    """The name of a 6-digit district code (`350801` -> `Tempursari`), None if not listed."""
    regions = _region_list()
    entry = regions.regencies.get(code[:4])
    if entry is None or len(code) != 6:
        return None
    _, start, end = entry
    key = f"{code}\t"
    at = regions.text.find(key, start, end)
    if at < 0:
        return None
    return regions.text[at + len(key) : regions.text.index("\n", at)]


def listed_districts() -> Iterator[str]:
    """Every listed 6-digit district code, in order."""
    regions = _region_list()
    for _, start, end in regions.regencies.values():
        for line in regions.text[start:end].splitlines():
            yield line.partition("\t")[0]


def check_region(number: str, *, kind: NumberKind) -> RegionCheck:
    """Check the region part (the first six digits) of a NIK or KK number.

    Raises `IdentityError` for a province not in the list and for a regency or district
    part `00`; an unlisted regency or district is returned as UNLISTED.
    """
    province, regency, district = number[:2], number[:4], number[:6]
    name = NUMBER_NAMES[kind]
    found_province = province_name(province)
    if found_province is None:
        raise IdentityError(
            code=_pick(kind, "nik_province", "kk_province"),
            text=Text(
                id=(
                    f"Kode provinsi pada {name.id} (digit 1-2) tidak dikenal: "
                    f"{province} bukan kode provinsi mana pun."
                ),
                en=(
                    f"The province code in the {name.en} (digits 1-2) is unknown: "
                    f"{province} is not the code of any province."
                ),
            ),
        )
    if regency[2:] == "00":
        raise IdentityError(
            code=_pick(kind, "nik_regency_zero", "kk_regency_zero"),
            text=Text(
                id=f"Kode kabupaten/kota pada {name.id} (digit 3-4) tidak boleh 00.",
                en=f"The regency/city code in the {name.en} (digits 3-4) must not be 00.",
            ),
        )
    if district[4:] == "00":
        raise IdentityError(
            code=_pick(kind, "nik_district_zero", "kk_district_zero"),
            text=Text(
                id=f"Kode kecamatan pada {name.id} (digit 5-6) tidak boleh 00.",
                en=f"The district code in the {name.en} (digits 5-6) must not be 00.",
            ),
        )
    found_regency = regency_name(regency)
    found_district = district_name(district) if found_regency else None
    part: Literal["regency", "district"] | None = None
    unlisted = None
    if found_regency is None:
        part, unlisted = "regency", _unlisted_regency(regency, found_province, name)
    elif found_district is None:
        part, unlisted = "district", _unlisted_district(district, found_regency, name)
    return RegionCheck(
        code=district,
        province_name=found_province,
        regency_name=found_regency,
        district_name=found_district,
        unlisted_part=part,
        unlisted=unlisted,
    )


_CONFIRM = Text(
    id=(
        "Mungkin kode lama dari wilayah yang sudah dimekarkan, atau wilayah yang lebih baru dari "
        "daftar; Kasi Pelayanan Umum perlu memastikannya."
    ),
    en=(
        "It may be the former code of a region since split, or a region newer than the list; "
        "the section head is to confirm it."
    ),
)


def _unlisted_regency(code: str, province: str, name: Text) -> Text:
    return Text(
        id=(
            f"Kode kabupaten/kota {_dotted(code)} pada {name.id} (digit 3-4) tidak ada dalam "
            f"daftar wilayah resmi untuk provinsi {province}. {_CONFIRM.id}"
        ),
        en=(
            f"The regency/city code {_dotted(code)} in the {name.en} (digits 3-4) is not in the "
            f"official list of regions for the province of {province}. {_CONFIRM.en}"
        ),
    )


def _unlisted_district(code: str, regency: str, name: Text) -> Text:
    return Text(
        id=(
            f"Kode kecamatan {_dotted(code)} pada {name.id} (digit 5-6) tidak ada dalam "
            f"daftar wilayah resmi untuk {regency}. {_CONFIRM.id}"
        ),
        en=(
            f"The district code {_dotted(code)} in the {name.en} (digits 5-6) is not in the "
            f"official list of regions for {regency}. {_CONFIRM.en}"
        ),
    )


def _dotted(code: str) -> str:
    """`350801` -> `35.08.01`, the way the list and officials write region codes."""
    return ".".join(code[i : i + 2] for i in range(0, len(code), 2))


def _pick(kind: NumberKind, nik: IdentityErrorCode, kk: IdentityErrorCode) -> IdentityErrorCode:
    return nik if kind == "nik" else kk
