"""What officers send the pipeline: who they are, and the forms they fill in.

The API takes these models as its request bodies, so their constraints are also what the
OpenAPI document tells a client the station accepts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from appliance.domain import Document, KkField, MaritalStatus, NikField, Role, ServiceType, Sex
from appliance.register import Biodata


@dataclass(frozen=True, slots=True)
class Officer:
    """A logged-in person and the roles they hold."""

    person: str
    roles: frozenset[Role]

    def actor(self, role: Role) -> dict[str, str]:
        return {"role": role.value, "person": self.person}


class SubmitForm(BaseModel):
    """What the counter officer types in from the applicant's file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ticket: str = Field(min_length=1, max_length=16)
    service: ServiceType
    nik: NikField
    """Checked whole here (region, date, serial): a refusal names the wrong part, in the
    officer's language, at the field."""
    kk: KkField
    name: str = Field(min_length=1, max_length=60)
    birth_date: date
    sex: Sex
    marital_status: MaritalStatus
    documents: tuple[Document, ...] = Field(default=(), max_length=16)
    biodata: Biodata
