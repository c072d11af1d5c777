"""Reading translated pages: the catalogue's words, the visible text, <html lang>, leaks.

Expected words are looked up in the compiled catalogue (`babel.support.Translations`), never
written out here, so the assertions hold while the translators fill the catalogues and after.
"""

import functools
import re
from html.parser import HTMLParser
from pathlib import Path

from babel.messages.extract import extract_from_file
from babel.support import NullTranslations, Translations

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "portal" / "translations"
TEMPLATES = ROOT / "portal" / "web" / "templates"
HTML_LANG = {"ja": "ja", "ko": "ko", "zh_Hans": "zh-Hans", "en": "en"}
ACCEPT = {"ja": "ja", "ko": "ko-KR,ko;q=0.9,en;q=0.5", "zh_Hans": "zh-CN,zh;q=0.9", "en": "en"}
LANGUAGES = ("ja", "ko", "zh_Hans")
_PLACEHOLDER = re.compile(r"%\(\w+\)")


@functools.cache
def catalogue(language: str) -> NullTranslations:
    """The compiled catalogue (`make translations` builds it)."""
    if language == "en":
        return NullTranslations()
    mo = TRANSLATIONS / language / "LC_MESSAGES" / "messages.mo"
    assert mo.exists(), f"{mo} is missing: run `make translations`"
    return Translations.load(str(TRANSLATIONS), [language], domain="messages")


def tr(language: str, msgid: str, **params) -> str:
    """`msgid` as the catalogue of `language` has it, with its parameters."""
    text = catalogue(language).gettext(msgid)
    assert text != msgid, f"{msgid!r} is not translated in {language} (renamed in the code?)"
    return text % params if params else text


class _Text(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.nodes, self._skip = [], 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        for name, value in attrs:
            if name in ("title", "placeholder", "aria-label", "alt") and value:
                self.nodes.append(value.strip())

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.nodes.append(" ".join(data.split()))


def text_nodes(html: str) -> list[str]:
    """Every piece of text a reader sees (and the titles and placeholders), whitespace folded."""
    parser = _Text()
    parser.feed(html)
    return parser.nodes


def html_lang(html: str) -> str:
    """The page's <html lang>."""
    match = re.search(r'<html lang="([^"]*)"', html)
    assert match, "no <html lang>"
    return match.group(1)


@functools.cache
def template_msgids(name: str) -> tuple[str, ...]:
    """The plain msgids (no placeholders) a template marks, as `pybabel extract` reads them."""
    found = []
    for _line, message, _comments, _context in extract_from_file(
        "jinja2", str(TEMPLATES / name), options={"trimmed": "true"}
    ):
        text = message if isinstance(message, str) else message[0]
        if text and not _PLACEHOLDER.search(text) and "<" not in text:
            found.append(text)
    return tuple(found)


def leaks(html: str, language: str, templates: list[str]) -> list[str]:
    """English msgids of these templates shown as they are although the catalogue has them."""
    nodes = set(text_nodes(html))
    leaked = []
    for msgid in {m for name in ("base.html", *templates) for m in template_msgids(name)}:
        translated = catalogue(language).gettext(msgid)
        if translated != msgid and msgid in nodes:
            leaked.append(msgid)
    return sorted(leaked)


def assert_page_in(html: str, language: str, templates: list[str], *expected: str) -> None:
    """<html lang> right, each expected msgid shown as the catalogue has it, no English leak."""
    assert html_lang(html) == HTML_LANG[language]
    nodes = text_nodes(html)
    for msgid in expected:
        wanted = tr(language, msgid)
        assert any(wanted in node for node in nodes), (language, msgid, wanted)
    assert leaks(html, language, templates) == []
