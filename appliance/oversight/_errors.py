"""What the oversight rules refuse: an `OversightError` with a stable `code` and a text in
both languages, Indonesian first. It is a `DomainError`, so a ValueError: a pydantic
validator that raises it reports it at the field, in the officer's language."""

from __future__ import annotations

from appliance.domain import DomainError


class OversightError(DomainError):
    """A period that does not parse, a survey answer or a complaint that breaks a rule."""


__all__ = ["OversightError"]
