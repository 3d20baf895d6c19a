"""The survey's nine elements (*unsur*) of PermenPANRB No. 14 Tahun 2017, each with its
question and its four answers on the 1-4 scale (1 the worst, 4 the best).

Sources number the last two elements in either order, so answers are stored by the
element's code (`U1`..`U9`, as DOMAIN.md lists them), never by position.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from appliance._text import Text

LOWEST_SCORE: Final = 1
HIGHEST_SCORE: Final = 4


class Element(StrEnum):
    U1 = "U1"
    U2 = "U2"
    U3 = "U3"
    U4 = "U4"
    U5 = "U5"
    U6 = "U6"
    U7 = "U7"
    U8 = "U8"
    U9 = "U9"

    @property
    def spec(self) -> ElementSpec:
        return ELEMENTS[self]


@dataclass(frozen=True, slots=True)
class ElementSpec:
    element: Element
    name: Text
    question: Text
    answers: tuple[Text, Text, Text, Text]
    """The words of scores 1, 2, 3 and 4."""


def _answers(*pairs: tuple[str, str]) -> tuple[Text, Text, Text, Text]:
    first, second, third, fourth = (Text(id_, en) for id_, en in pairs)
    return first, second, third, fourth


_FITTING = _answers(
    ("Tidak sesuai", "Not as stated"),
    ("Kurang sesuai", "Partly as stated"),
    ("Sesuai", "As stated"),
    ("Sangat sesuai", "Fully as stated"),
)

ELEMENTS: Final[Mapping[Element, ElementSpec]] = MappingProxyType(
    {
        spec.element: spec
        for spec in (
            ElementSpec(
                Element.U1,
                Text("Persyaratan", "Requirements"),
                Text(
                    "Bagaimana pendapat Saudara tentang kesesuaian persyaratan pelayanan "
                    "dengan jenis pelayanannya?",
                    "How well do the service's requirements fit the service?",
                ),
                _FITTING,
            ),
            ElementSpec(
                Element.U2,
                Text("Sistem, Mekanisme, dan Prosedur", "System, mechanism and procedure"),
                Text(
                    "Bagaimana pemahaman Saudara tentang kemudahan prosedur pelayanan di unit ini?",
                    "How easy was this office's procedure to follow?",
                ),
                _answers(
                    ("Tidak mudah", "Not easy"),
                    ("Kurang mudah", "Not quite easy"),
                    ("Mudah", "Easy"),
                    ("Sangat mudah", "Very easy"),
                ),
            ),
            ElementSpec(
                Element.U3,
                Text("Waktu Penyelesaian", "Time to complete"),
                Text(
                    "Bagaimana pendapat Saudara tentang kecepatan waktu dalam memberikan "
                    "pelayanan?",
                    "How quick was the service?",
                ),
                _answers(
                    ("Tidak cepat", "Not quick"),
                    ("Kurang cepat", "Not quite quick"),
                    ("Cepat", "Quick"),
                    ("Sangat cepat", "Very quick"),
                ),
            ),
            ElementSpec(
                Element.U4,
                Text("Biaya/Tarif", "Cost/fee"),
                Text(
                    "Bagaimana pendapat Saudara tentang kewajaran biaya/tarif dalam pelayanan?",
                    "How fair was the cost of the service?",
                ),
                _answers(
                    ("Sangat mahal", "Very expensive"),
                    ("Cukup mahal", "Rather expensive"),
                    ("Murah", "Cheap"),
                    ("Gratis", "Free"),
                ),
            ),
            ElementSpec(
                Element.U5,
                Text("Produk Spesifikasi Jenis Pelayanan", "The service's product as specified"),
                Text(
                    "Bagaimana pendapat Saudara tentang kesesuaian produk pelayanan antara "
                    "yang tercantum dalam standar pelayanan dengan hasil yang diberikan?",
                    "How well did what you received match the service standard?",
                ),
                _FITTING,
            ),
            ElementSpec(
                Element.U6,
                Text("Kompetensi Pelaksana", "The officers' competence"),
                Text(
                    "Bagaimana pendapat Saudara tentang kompetensi/kemampuan petugas dalam "
                    "pelayanan?",
                    "How competent were the officers?",
                ),
                _answers(
                    ("Tidak kompeten", "Not competent"),
                    ("Kurang kompeten", "Not quite competent"),
                    ("Kompeten", "Competent"),
                    ("Sangat kompeten", "Very competent"),
                ),
            ),
            ElementSpec(
                Element.U7,
                Text("Perilaku Pelaksana", "The officers' conduct"),
                Text(
                    "Bagaimana pendapat Saudara tentang perilaku petugas dalam pelayanan "
                    "terkait kesopanan dan keramahan?",
                    "How polite and friendly were the officers?",
                ),
                _answers(
                    ("Tidak sopan dan ramah", "Neither polite nor friendly"),
                    ("Kurang sopan dan ramah", "Not quite polite and friendly"),
                    ("Sopan dan ramah", "Polite and friendly"),
                    ("Sangat sopan dan ramah", "Very polite and friendly"),
                ),
            ),
            ElementSpec(
                Element.U8,
                Text(
                    "Penanganan Pengaduan, Saran dan Masukan",
                    "Handling of complaints, suggestions and feedback",
                ),
                Text(
                    "Bagaimana pendapat Saudara tentang penanganan pengaduan pengguna layanan?",
                    "How are service users' complaints handled?",
                ),
                _answers(
                    ("Tidak ada", "There is no way to complain"),
                    ("Ada tetapi tidak berfungsi", "There is one, but it does not work"),
                    ("Berfungsi kurang maksimal", "It works, not fully"),
                    ("Dikelola dengan baik", "Well handled"),
                ),
            ),
            ElementSpec(
                Element.U9,
                Text("Sarana dan Prasarana", "Facilities"),
                Text(
                    "Bagaimana pendapat Saudara tentang kualitas sarana dan prasarana?",
                    "How good are the facilities?",
                ),
                _answers(
                    ("Buruk", "Poor"),
                    ("Cukup", "Fair"),
                    ("Baik", "Good"),
                    ("Sangat baik", "Very good"),
                ),
            ),
        )
    }
)
"""The nine elements, each element's weight being 1/9 of the index."""


__all__ = ["ELEMENTS", "HIGHEST_SCORE", "LOWEST_SCORE", "Element", "ElementSpec"]
