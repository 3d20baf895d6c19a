"""The domain's exceptions: `DomainError`, and `IdentityError` with the codes it may carry.

Every refusal names what is wrong in a stable `code` (for machines: API bodies, tests) and a
bilingual `text` (for people, Indonesian first). No message ever carries a full 16-digit
number: a long run of digits is masked as `3508********0001` whatever the caller put in.
"""

from __future__ import annotations

import re
from typing import Literal

from appliance._text import Text
from appliance.errors import ApplianceError

# Ten or more consecutive digits in a message can only be (part of) an identity number:
# dates, ages and minutes are far shorter. Any script's digits.
_LONG_DIGIT_RUN = re.compile(r"\d{10,}")


class DomainError(ApplianceError, ValueError):
    """A domain rule was broken.

    A ValueError as well, so that a pydantic validator calling a domain check reports it as
    the field's error. `str()` gives the English text because the exception usually ends up
    in a log. Any long run of digits in the text is masked, so a careless caller cannot leak
    a NIK.
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


def _scrub(message: str) -> str:
    return _LONG_DIGIT_RUN.sub(
        lambda m: m.group()[:4] + "*" * (len(m.group()) - 8) + m.group()[-4:], message
    )


IdentityErrorCode = Literal[
    # The NIK, by part from the left: what was typed, then digits 1-2, 3-4, 5-6, 7-8, 9-10,
    # 13-16 (the year, digits 11-12, cannot be wrong: every YY is a year).
    "nik_format",
    "nik_length",
    "nik_province",
    "nik_regency_zero",
    "nik_district_zero",
    "nik_birth_day",
    "nik_birth_month",
    "nik_serial",
    # The NIK against the applicant.
    "nik_mismatch_birth_date",
    "nik_mismatch_sex",
    # The KK number, the same parts with the date of issue in place of the birth date.
    "kk_format",
    "kk_length",
    "kk_province",
    "kk_regency_zero",
    "kk_district_zero",
    "kk_issue_day",
    "kk_issue_month",
    "kk_serial",
    # The applicant.
    "not_eligible_age",
    "birth_date_future",
]


class IdentityError(DomainError):
    """A NIK or KK number is invalid, disagrees with the applicant, or the applicant is not
    eligible."""

    code: IdentityErrorCode

    def __init__(self, code: IdentityErrorCode, text: Text) -> None:
        super().__init__(code, text)
