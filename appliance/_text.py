"""Operator-facing text: Indonesian first, English available.

Everything an officer or an applicant may read carries both languages, so that the
local API and the CLI can answer in the language asked for without a lookup table
living far from the place that raises the message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Language = Literal["id", "en"]


@dataclass(frozen=True, slots=True)
class Text:
    """A message in Bahasa Indonesia (`id`) and English (`en`)."""

    id: str
    en: str

    def in_language(self, language: Language = "id") -> str:
        return self.en if language == "en" else self.id

    def format(self, **values: object) -> Text:
        """Fill the placeholders; a `Text` value is put in each language's own words."""
        return Text(
            id=self.id.format(**{k: v.id if isinstance(v, Text) else v for k, v in values.items()}),
            en=self.en.format(**{k: v.en if isinstance(v, Text) else v for k, v in values.items()}),
        )

    def __str__(self) -> str:
        return self.id
