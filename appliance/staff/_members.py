"""Who may be staff, and what a PIN or password must be."""

from __future__ import annotations

from dataclasses import dataclass

from appliance._text import Text
from appliance.domain import Role
from appliance.staff._errors import WeakSecret

STAFF_ROLES: frozenset[Role] = frozenset(
    {Role.COUNTER_OFFICER, Role.SECTION_HEAD, Role.OPERATOR, Role.SUPERVISOR}
)
"""The roles a person logging in may hold; the applicant is never staff. The supervisor
(Camat, Sekretaris Kecamatan) reads and approves, and serves no applicant: the workflow
gives that role no step, no queue action and no blank card."""

PERSON_ID_PATTERN = r"^[a-z][a-z0-9._-]{1,31}$"
PIN_MIN_DIGITS = 6
PASSWORD_MIN_CHARACTERS = 8


def check_secret(secret: str) -> None:
    """Refuse a PIN shorter than 6 digits, or a password shorter than 8 characters.

    All ASCII digits make a PIN; anything else is a password, and a password of digits
    only would be a PIN by another name.
    """
    if secret.isascii() and secret.isdigit():
        if len(secret) < PIN_MIN_DIGITS:
            raise WeakSecret(
                Text(
                    id=f"PIN harus sedikitnya {PIN_MIN_DIGITS} angka.",
                    en=f"A PIN must have at least {PIN_MIN_DIGITS} digits.",
                )
            )
    elif len(secret) < PASSWORD_MIN_CHARACTERS:
        raise WeakSecret(
            Text(
                id=(
                    f"Gunakan PIN sedikitnya {PIN_MIN_DIGITS} angka, atau kata sandi "
                    f"sedikitnya {PASSWORD_MIN_CHARACTERS} karakter yang tidak hanya angka."
                ),
                en=(
                    f"Use a PIN of at least {PIN_MIN_DIGITS} digits, or a password of at "
                    f"least {PASSWORD_MIN_CHARACTERS} characters that are not all digits."
                ),
            )
        )


@dataclass(frozen=True, slots=True)
class StaffMember:
    """A person who may log in; carries no secret."""

    id: str
    name: str
    roles: frozenset[Role]

    def has_role(self, role: Role) -> bool:
        return role in self.roles
