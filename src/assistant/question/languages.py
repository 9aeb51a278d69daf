"""The language of a question (detected offline by py3langid's packaged model) and the official texts on EUR-Lex in
that language."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

ENGLISH = "en"
# The EU's official languages: ISO 639-1 code -> (name, EUR-Lex's three-letter code used in ELI links)
LANGUAGES: dict[str, tuple[str, str]] = {
    "bg": ("Bulgarian", "bul"),
    "cs": ("Czech", "ces"),
    "da": ("Danish", "dan"),
    "de": ("German", "deu"),
    "el": ("Greek", "ell"),
    "en": ("English", "eng"),
    "es": ("Spanish", "spa"),
    "et": ("Estonian", "est"),
    "fi": ("Finnish", "fin"),
    "fr": ("French", "fra"),
    "ga": ("Irish", "gle"),
    "hr": ("Croatian", "hrv"),
    "hu": ("Hungarian", "hun"),
    "it": ("Italian", "ita"),
    "lt": ("Lithuanian", "lit"),
    "lv": ("Latvian", "lav"),
    "mt": ("Maltese", "mlt"),
    "nl": ("Dutch", "nld"),
    "pl": ("Polish", "pol"),
    "pt": ("Portuguese", "por"),
    "ro": ("Romanian", "ron"),
    "sk": ("Slovak", "slk"),
    "sl": ("Slovenian", "slv"),
    "sv": ("Swedish", "swe"),
}
MIN_WORDS = 3  # "PESCO?" or "mutual defence" say nothing reliable about a language
MIN_PROBABILITY = 0.5
_LEGAL_CONTENT = re.compile(r"^(https://eur-lex\.europa\.eu/legal-content/)[A-Z]{2}(/[A-Z]+/\?uri=.+)$")
_ELI = re.compile(r"^(https?://data\.europa\.eu/eli/.+/oj)(/[a-z]{3})?/?$")


@dataclass(frozen=True)
class Language:
    """A detected language: its code and English name."""

    code: str
    name: str

    @property
    def english(self) -> bool:
        """Is it English (the language of the index)?"""
        return self.code == ENGLISH


ENGLISH_LANGUAGE = Language(ENGLISH, "English")


class LanguageDetector:
    """Which of the EU's official languages a question is in; English unless the model is sure of another one."""

    def __init__(self) -> None:
        self._identifier: Any = None

    def _model(self) -> Any:
        if self._identifier is None:
            from py3langid.langid import MODEL_FILE, LanguageIdentifier

            identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
            identifier.set_languages(list(LANGUAGES))
            self._identifier = identifier
        return self._identifier

    def detect(self, text: str) -> Language:
        """The question's language: another language only with at least MIN_WORDS words and a clear probability."""
        code = ENGLISH
        if len(text.split()) >= MIN_WORDS:
            found, probability = self._model().classify(text)
            if found in LANGUAGES and probability >= MIN_PROBABILITY:
                code = found
        return Language(code, LANGUAGES[code][0])


def eurlex_url(url: str, code: str) -> str:
    """The same official text on EUR-Lex in another language ("" when the link's form or the language is not one
    EUR-Lex has): /legal-content/FR/TXT/?uri=..., or the ELI with its language (.../oj/fra)."""
    if code == ENGLISH or code not in LANGUAGES or not url:
        return ""
    legal = _LEGAL_CONTENT.match(url)
    if legal:
        return f"{legal.group(1)}{code.upper()}{legal.group(2)}"
    eli = _ELI.match(url)
    if eli:
        return f"{eli.group(1)}/{LANGUAGES[code][1]}"
    return ""


def eurlex_home(code: str) -> str:
    """EUR-Lex's home page in a language."""
    return f"https://eur-lex.europa.eu/homepage.html?locale={code if code in LANGUAGES else ENGLISH}"


def language_of_url(url: str) -> str:
    """The name of the language an EUR-Lex link (as made by `eurlex_url`) opens the text in; "" if it names none."""
    legal = re.search(r"/legal-content/([A-Z]{2})/", url)
    if legal and legal.group(1).lower() in LANGUAGES:
        return LANGUAGES[legal.group(1).lower()][0]
    names = {three: name for name, three in LANGUAGES.values()}
    eli = re.search(r"/oj/([a-z]{3})/?$", url)
    return names.get(eli.group(1), "") if eli else ""
