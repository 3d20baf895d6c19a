"""A refused form, said at each field in the officer's language.

pydantic says what is wrong in English. Each field's problem is given here as a `Text`:
the domain's own, when a validator raised an error that carries one (an `IdentityError`
for a NIK: which part is wrong, and why), otherwise one for the kind of error pydantic
reports, with its limits filled in. Each detail keeps a stable `code` for machines: the
domain's code, or pydantic's error type.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from appliance._text import Text

_WHERE: Final = frozenset({"body", "query", "path", "header", "cookie"})


@dataclass(frozen=True, slots=True)
class FieldProblem:
    field: str
    """Where, as pydantic locates it: `body.nik`, `query.limit`."""
    label: str
    """Where, for people: `nik`, `limit`."""
    code: str
    text: Text


_PROBLEMS: Final[Mapping[str, Text]] = MappingProxyType(
    {
        "missing": Text("Wajib diisi.", "Required."),
        "extra_forbidden": Text("Isian ini tidak dikenal.", "Not a field of this form."),
        "string_type": Text("Harus berupa teks.", "Must be text."),
        "string_too_short": Text(
            "Paling sedikit {min_length} karakter.", "At least {min_length} character(s)."
        ),
        "string_too_long": Text(
            "Paling banyak {max_length} karakter.", "At most {max_length} character(s)."
        ),
        "string_pattern_mismatch": Text("Bentuknya tidak sesuai.", "Not in the expected form."),
        "enum": Text("Harus salah satu dari: {expected_id}.", "Must be one of: {expected}."),
        "literal_error": Text(
            "Harus salah satu dari: {expected_id}.", "Must be one of: {expected}."
        ),
        "int_type": Text("Harus bilangan bulat.", "Must be a whole number."),
        "int_parsing": Text("Harus bilangan bulat.", "Must be a whole number."),
        "int_from_float": Text("Harus bilangan bulat.", "Must be a whole number."),
        "greater_than_equal": Text("Paling kecil {ge}.", "At least {ge}."),
        "greater_than": Text("Harus lebih dari {gt}.", "Must be more than {gt}."),
        "less_than_equal": Text("Paling besar {le}.", "At most {le}."),
        "less_than": Text("Harus kurang dari {lt}.", "Must be less than {lt}."),
        "bool_type": Text("Harus true atau false.", "Must be true or false."),
        "bool_parsing": Text("Harus true atau false.", "Must be true or false."),
        "date_type": Text("Harus tanggal (TTTT-BB-HH).", "Must be a date (YYYY-MM-DD)."),
        "date_parsing": Text("Harus tanggal (TTTT-BB-HH).", "Must be a date (YYYY-MM-DD)."),
        "date_from_datetime_parsing": Text(
            "Harus tanggal (TTTT-BB-HH).", "Must be a date (YYYY-MM-DD)."
        ),
        "too_short": Text("Paling sedikit {min_length} isian.", "At least {min_length} items."),
        "too_long": Text("Paling banyak {max_length} isian.", "At most {max_length} items."),
        "list_type": Text("Harus berupa daftar.", "Must be a list."),
        "tuple_type": Text("Harus berupa daftar.", "Must be a list."),
        "dict_type": Text("Harus berupa objek JSON.", "Must be a JSON object."),
        "model_type": Text("Harus berupa objek JSON.", "Must be a JSON object."),
        "model_attributes_type": Text("Harus berupa objek JSON.", "Must be a JSON object."),
        "json_invalid": Text("Bukan JSON yang sah.", "Not valid JSON."),
        "json_type": Text("Bukan JSON yang sah.", "Not valid JSON."),
    }
)


def field_problems(errors: Sequence[Mapping[str, Any]]) -> list[FieldProblem]:
    """Each of pydantic's errors (as `RequestValidationError.errors()` gives them) as a
    problem at its field, in both languages."""
    return [_problem(error) for error in errors]


def _problem(error: Mapping[str, Any]) -> FieldProblem:
    location = [str(part) for part in error.get("loc", ())]
    shown = location[1:] if location[:1] and location[0] in _WHERE else location
    kind = str(error.get("type", "invalid"))
    context: Mapping[str, Any] = error.get("ctx") or {}
    cause = context.get("error")
    text = getattr(cause, "text", None)
    code = getattr(cause, "code", None)
    if isinstance(text, Text) and isinstance(code, str):
        return FieldProblem(field=".".join(location), label=".".join(shown), code=code, text=text)
    template = _PROBLEMS.get(kind)
    if template is None:
        # A kind not translated yet: pydantic's English, and a plain Indonesian word.
        message = str(error.get("msg", kind))
        filled = Text("Isian tidak sah.", message)
    else:
        values = _Limits({key: str(value) for key, value in context.items()})
        # pydantic lists the choices as "'a', 'b' or 'c'".
        values["expected_id"] = " atau ".join(values["expected"].rsplit(" or ", 1))
        filled = Text(template.id.format_map(values), template.en.format_map(values))
    return FieldProblem(field=".".join(location), label=".".join(shown), code=kind, text=filled)


class _Limits(dict[str, str]):
    """The limits pydantic reports; one a template names but pydantic did not give is
    left blank rather than failing the whole answer."""

    def __missing__(self, key: str) -> str:
        return "?"
