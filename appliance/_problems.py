"""A pydantic validation error as a person editing a file reads it: the key, and what is
wrong in Indonesian and English. Shared by the config and the staff file."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from appliance._text import Text


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    key: str
    text: Text


# Indonesian wording for the validation failures a person editing the file meets most;
# anything rarer falls back to pydantic's English message in both languages.
_MESSAGES_ID = {
    "missing": "wajib diisi",
    "extra_forbidden": "kunci tidak dikenal",
    "string_pattern_mismatch": "format tidak sesuai",
    "string_type": "harus berupa teks",
    "int_type": "harus berupa bilangan bulat",
    "int_parsing": "harus berupa bilangan bulat",
    "float_type": "harus berupa angka",
    "float_parsing": "harus berupa angka",
    "bool_type": "harus true atau false",
    "greater_than": "terlalu kecil",
    "greater_than_equal": "terlalu kecil",
    "less_than_equal": "terlalu besar",
    "literal_error": "nilai tidak diizinkan",
    "enum": "nilai tidak diizinkan",
    "string_too_short": "terlalu pendek",
    "string_too_long": "terlalu panjang",
    "union_tag_invalid": "jenis perangkat (kind) tidak dikenal",
    "union_tag_not_found": "jenis perangkat (kind) wajib diisi",
}
_MESSAGES_EN = {"missing": "required key is missing", "extra_forbidden": "unknown key"}


def describe(error: Mapping[str, Any]) -> ConfigProblem:
    # pydantic marks a bad mapping key with a "[key]" element; the key itself is the name.
    key = ".".join(str(part) for part in error["loc"] if part != "[key]") or "-"
    kind = str(error["type"])
    english = _MESSAGES_EN.get(kind, str(error["msg"]))
    if kind == "value_error":
        english = english.removeprefix("Value error, ")
    indonesian = _MESSAGES_ID.get(kind)
    if indonesian is None:
        indonesian = english
    elif kind not in _MESSAGES_EN:
        indonesian = f"{indonesian} ({english})"
    return ConfigProblem(key, Text(indonesian, english))
