"""The reader's language: Flask-Babel wired to the app, and typed errors shown in it.

Services raise errors whose message is an untranslated msgid with named placeholders
(portal/errors.py); `translate_error` looks it up in the request's language here, so that
neither the services nor the CA core import Flask.
"""

from flask import Flask, current_app, has_request_context, request
from flask_babel import Babel, get_locale, gettext

from ..errors import PortalError
from ..translatable import Message

# What each language is called in itself (the switcher shows these) and its BCP 47 tag for
# <html lang>. The catalogue folders are the Babel identifiers (zh_Hans, not zh-Hans).
LANGUAGES = {
    "en": ("English", "en"),
    "ja": ("日本語", "ja"),
    "ko": ("한국어", "ko"),
    "zh_Hans": ("简体中文", "zh-Hans"),
}

# Traditional Chinese readers (zh-Hant, zh-TW, zh-HK, zh-MO) are not sent Simplified Chinese
# unasked: their next Accept-Language choice wins, else the default. The switcher still
# offers 简体中文 to anyone.
TRADITIONAL_CHINESE = ("zh-hant", "zh-tw", "zh-hk", "zh-mo")

babel = Babel()


def language_of_tag(tag: str) -> str | None:
    """The portal language for one Accept-Language tag ('zh-CN' -> 'zh_Hans'), or None."""
    tag = tag.strip().lower().replace("_", "-")
    if tag in ("zh", "zh-hans") or tag.startswith(("zh-hans-", "zh-cn", "zh-sg", "zh-my")):
        return "zh_Hans"
    if tag.startswith("zh"):
        return None if tag.startswith(TRADITIONAL_CHINESE) else "zh_Hans"
    primary = tag.split("-", 1)[0]
    return primary if primary in ("en", "ja", "ko") else None


def negotiate(accept: list[tuple[str, float]], offered: list[str]) -> str | None:
    """The first offered language in Accept-Language order (quality first), or None."""
    for tag, quality in sorted(accept, key=lambda item: -item[1]):
        if quality <= 0:
            continue
        language = language_of_tag(tag)
        if language in offered:
            return language
    return None


def offered_languages() -> list[str]:
    """The languages this portal offers (PORTAL_LANGUAGES)."""
    return current_app.extensions["portal.languages"]


def select_locale() -> str:
    """The request's language: the account's, else the cookie's, else Accept-Language."""
    from .language import chosen_language

    if not has_request_context():  # the CLI and background jobs speak English
        return "en"
    offered = offered_languages()
    chosen = chosen_language()
    if chosen in offered:
        return chosen
    found = negotiate(list(request.accept_languages), offered)
    return found or current_app.config["PORTAL_DEFAULT_LANGUAGE"]


def html_lang(locale) -> str:
    """The BCP 47 tag for <html lang> ('zh-Hans' for zh_Hans)."""
    name = str(locale)
    return LANGUAGES.get(name, (name, name.replace("_", "-")))[1]


def translate(msgid: str, params: dict) -> str:
    """`msgid` in the request's language with its parameters, themselves translated."""
    values = {name: translate_value(value) for name, value in params.items()}
    if not values:
        return gettext(msgid)
    if msgid.startswith("%(part0)s"):  # Message.join: no catalogue entry, only its parts
        return msgid % values
    return gettext(msgid, **values)


def translate_value(value):
    """A Message or typed error in the request's language; anything else unchanged."""
    if isinstance(value, Message):
        return translate(value.msgid, value.params)
    if isinstance(value, PortalError):
        return translate_error(value)
    return value


def translate_error(error: PortalError) -> str:
    """The error's sentence in the request's language (nested errors translated too)."""
    msgid = getattr(error, "msgid", None)
    if msgid is None:
        return error.message
    return translate(msgid, error.params)


def sentence(value) -> str:
    """A Message translated, with its first letter upper-case ('capped at…' -> 'Capped at…')."""
    text = str(translate_value(value))
    return text[:1].upper() + text[1:]


def _finalize(value):
    return translate_value(value) if isinstance(value, Message | PortalError) else value


def init_app(app: Flask) -> None:
    """Wire Flask-Babel with the portal's locale and time-zone selectors."""
    from .language import select_timezone

    offered = app.extensions["portal.languages"]  # checked by create_app (register_languages)
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "en")
    app.jinja_env.globals.update(html_lang=lambda: html_lang(get_locale()),
                                 current_language=lambda: str(get_locale()),
                                 portal_languages=lambda: [
                                     (name, LANGUAGES[name][0]) for name in offered])
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    # `{% trans %}` blocks collapse their whitespace, as `pybabel extract` (babel.cfg) does
    app.jinja_env.policies["ext.i18n.trimmed"] = True
    # a Message a service handed to a template (a CA's problem, a validity note) is shown in
    # the reader's language wherever it is printed
    app.jinja_env.finalize = _finalize
    app.jinja_env.filters["sentence"] = sentence
