"""NIK and KK number as pydantic field types, whose errors carry the domain's refusal.

    class SubmitForm(BaseModel):
        nik: NikField
        kk: KkField

A bad value fails with a pydantic error whose `type` is the `IdentityError`'s code (for
example `nik_regency_zero`), whose `msg` is its English text, and whose `ctx["error"]` is the
`IdentityError` itself, so an API can show the Indonesian text at the field
(`identity_error_of`). The JSON schema says which characters and how many digits are read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from pydantic import PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from appliance.domain._errors import IdentityError
from appliance.domain._identity import NUMBER_PATTERN, validate_kk, validate_nik

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping


def _field_validator(check: Callable[[str], str]) -> Callable[[Any], str]:
    def validate(value: Any) -> str:
        try:
            return check(value)
        except IdentityError as error:
            # "{message}" rather than the text itself: pydantic formats the template.
            raise PydanticCustomError(
                error.code, "{message}", {"message": error.text.en, "error": error}
            ) from None

    return validate


def _schema(name: str, example: str) -> WithJsonSchema:
    return WithJsonSchema(
        {
            "type": "string",
            "pattern": NUMBER_PATTERN,
            "description": (
                f"The {name}: 16 digits 0-9, which spaces, dots or hyphens may separate. "
                "Province, regency and district (digits 1-6), the date (digits 7-12) and the "
                "serial (digits 13-16) are checked as well; a refusal names the wrong part."
            ),
            "examples": [example],
        }
    )


NikField = Annotated[
    str, PlainValidator(_field_validator(validate_nik)), _schema("NIK", "3508015708900001")
]
"""A NIK, read as `validate_nik` reads it and stored compact (16 ASCII digits)."""

KkField = Annotated[
    str, PlainValidator(_field_validator(validate_kk)), _schema("KK number", "3508010601200001")
]
"""A Kartu Keluarga number, read as `validate_kk` reads it and stored compact."""


def identity_error_of(error: Mapping[str, Any]) -> IdentityError | None:
    """The `IdentityError` behind one item of a pydantic `ValidationError.errors()`, if any."""
    context = error.get("ctx") or {}
    found = context.get("error")
    return found if isinstance(found, IdentityError) else None
