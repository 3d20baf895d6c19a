"""The language of a screen: Indonesian unless the reader chose English, one click away
(a cookie, so every screen of that browser follows)."""

from __future__ import annotations

from typing import Final

from fastapi import Request

from appliance._text import Language, Text

LANGUAGE_COOKIE: Final = "ktpel_bahasa"
LANGUAGES: Final[tuple[Language, ...]] = ("id", "en")


def language_of(request: Request) -> Language:
    return "en" if request.cookies.get(LANGUAGE_COOKIE) == "en" else "id"


class Translator:
    """What the templates call `t`: the right half of an Indonesian/English pair, or of a
    `Text`."""

    def __init__(self, language: Language) -> None:
        self.language: Language = language

    def __call__(self, id_text: str | Text, en_text: str | None = None) -> str:
        if isinstance(id_text, Text):
            return id_text.in_language(self.language)
        if en_text is None:
            raise TypeError("t() takes a Text, or the Indonesian and the English text")
        return en_text if self.language == "en" else id_text
