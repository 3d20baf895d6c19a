"""A dashboard user's scope and role: which stations they see, and what they may do.

A scope is a prefix of the region code (kode wilayah) of a kecamatan: "" the nation,
2 digits a province, 4 digits a regency or city. A station is within a scope when its
district's 6-digit code starts with it; a station not registered in the fleet file has
no region and is seen only at national scope.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Final

from appliance._text import Text
from appliance.domain import province_name, regency_name

_SCOPE: Final = re.compile(r"^(\d{2}(\d{2})?)?$")


class DashboardRole(StrEnum):
    PENGAMAT = "pengamat"
    """A viewer: the overview, the station pages and the reports."""
    PETUGAS = "petugas"
    """An officer: a viewer who also acknowledges alerts."""
    TEKNISI = "teknisi"
    """A technician: an officer who also asks a station for a remote diagnosis."""

    @property
    def label(self) -> Text:
        return _ROLE_LABELS[self]

    @property
    def acknowledges(self) -> bool:
        return self in {DashboardRole.PETUGAS, DashboardRole.TEKNISI}

    @property
    def diagnoses(self) -> bool:
        return self is DashboardRole.TEKNISI


_ROLE_LABELS: Final = {
    DashboardRole.PENGAMAT: Text("Pengamat", "Viewer"),
    DashboardRole.PETUGAS: Text("Petugas", "Officer"),
    DashboardRole.TEKNISI: Text("Teknisi", "Technician"),
}


def parse_scope(text: str) -> str:
    """A scope as typed ("", "nasional", "35", "35.08") as its code; ValueError for a code
    that is not a listed province or regency."""
    code = text.strip().replace(".", "")
    if code.lower() in {"nasional", "national"}:
        code = ""
    if not _SCOPE.fullmatch(code):
        raise ValueError(
            f"{text!r} is not a scope: empty or 'nasional', a province (35) or a regency (35.08)"
        )
    if len(code) == 2 and province_name(code) is None:
        raise ValueError(f"{text!r}: no province has this code")
    if len(code) == 4 and regency_name(code) is None:
        raise ValueError(f"{text!r}: no regency or city has this code")
    return code


def dotted(code: str) -> str:
    """35, 35.08, 35.08.01: region codes as Kemendagri writes them."""
    return ".".join(code[i : i + 2] for i in range(0, len(code), 2))


def within(scope: str, district: str) -> bool:
    """Whether a station in `district` ("" when unregistered) is within `scope`."""
    return scope == "" or (bool(district) and district.startswith(scope))


def scope_label(scope: str) -> Text:
    """How a scope reads: "Nasional", "Jawa Timur (35)", "Kabupaten Lumajang (35.08)"."""
    if scope == "":
        return Text("Nasional", "National")
    name = province_name(scope) if len(scope) == 2 else regency_name(scope)
    where = f"{name or '?'} ({dotted(scope)})"
    return Text(where, where)
