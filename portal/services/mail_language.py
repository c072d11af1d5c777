"""The catalogue a mail is written in: the recipient's language, read with Babel (no Flask).

Pages are translated by Flask-Babel in the request's language; a mail has no request, so the
services load the same compiled catalogues (portal/translations) with `babel.support`.
"""

import functools
import os

from babel.support import NullTranslations, Translations

from ..languages import normalise_language

TRANSLATIONS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "translations")


@functools.cache
def translations_for(language: str | None) -> NullTranslations:
    """The compiled catalogue for `language` ('ja', 'ko', 'zh_Hans'); English for None or 'en'."""
    name = normalise_language(language or "") or "en"
    if name == "en":
        return NullTranslations()
    return Translations.load(TRANSLATIONS_DIR, [name], domain="messages")


def recipient_language(saved: str | None, offered: list[str], default: str) -> str:
    """The language to write to someone in: their saved one if still offered, else the default."""
    name = normalise_language(saved or "")
    return name if name and name in offered else default
