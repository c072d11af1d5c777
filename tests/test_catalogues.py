"""The catalogue check: every string extracted from the code is translated in ja, ko and zh_Hans.

The strings are extracted the way `pybabel extract` does (babel.cfg, the same keywords), into a
temporary folder: no .pot is committed. A catalogue fails for a missing entry, an empty or fuzzy
translation, or a translation whose placeholders (`%(name)s`) differ from its msgid's.
The synthetic catalogues below show that the check passes on a complete catalogue and names
each kind of problem.
"""

import io
import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
TRANSLATIONS = ROOT / "portal" / "translations"
LANGUAGES = ("ja", "ko", "zh_Hans")
KEYWORDS = ("lazy_gettext", "_l", "N_")  # beside Babel's defaults (_, gettext, ngettext...)
PLACEHOLDER = re.compile(r"%\((\w+)\)[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]|%%")


def extract(folder: Path) -> Catalog:
    """Every marked string of the project, extracted into `folder` with babel.cfg."""
    output = folder / "messages.pot"
    arguments = ["pybabel", "-q", "extract", "-F", str(ROOT / "babel.cfg"), "-o", str(output)]
    for keyword in KEYWORDS:
        arguments += ["-k", keyword]
    CommandLineInterface().run([*arguments, str(ROOT)])
    with output.open("rb") as handle:
        return read_po(handle)


def placeholders(text: str) -> list[str]:
    """The named placeholders of a message, sorted ('%%' is not one)."""
    return sorted(match.group(0) for match in PLACEHOLDER.finditer(text) if match.group(0) != "%%")


def _forms(message) -> list[str]:
    return list(message.string) if isinstance(message.string, tuple | list) else [message.string]


def problems(template: Catalog, catalogue: Catalog) -> list[str]:
    """What keeps `catalogue` from covering `template`: one line per problem, in msgid order."""
    found = []
    for wanted in template:
        if not wanted.id:
            continue
        key = wanted.id if isinstance(wanted.id, str) else wanted.id[0]
        entry = catalogue.get(wanted.id if isinstance(wanted.id, str) else wanted.id[0])
        if entry is None:
            found.append(f"missing: {key!r}")
            continue
        forms = _forms(entry)
        if not all(form.strip() for form in forms):
            found.append(f"untranslated: {key!r}")
            continue
        if entry.fuzzy:
            found.append(f"fuzzy: {key!r}")
            continue
        ids = [wanted.id] if isinstance(wanted.id, str) else list(wanted.id)
        expected = {tuple(placeholders(text)) for text in ids}
        for form in forms:
            if tuple(placeholders(form)) not in expected:
                found.append(f"placeholders differ: {key!r} has {placeholders(form)}")
                break
    return found


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Catalog:
    return extract(tmp_path_factory.mktemp("pot"))


def _load(language: str) -> Catalog:
    with (TRANSLATIONS / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale=language)


def test_extraction_finds_every_kind_of_mark(template):
    ids = {message.id if isinstance(message.id, str) else message.id[0] for message in template}
    assert "Sign in" in ids  # a template, {{ _() }}
    assert "Double-click the file, choose <em>Current user</em>, enter the password, let " \
           "Windows pick the store." in ids  # a {% trans %} block, whitespace trimmed
    assert "Issuing CA" in ids  # a form label (lazy_gettext)
    assert "Tick the box to confirm the revocation." in ids  # a validator's message
    assert "no user named %(username)r" in ids  # a service's error (N_)
    assert "You are signed out." in ids  # a flash
    assert "Certificate %(serial)s expires on %(date)s" in ids  # a mail's subject
    assert "in %(num)d day" in ids  # ngettext, relative times
    assert len(ids) > 700


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_extracted_string_is_translated(template, language):
    found = problems(template, _load(language))
    summary = {kind: sum(line.startswith(kind) for line in found)
               for kind in ("missing", "untranslated", "fuzzy", "placeholders differ")}
    if found:
        pytest.fail(f"{language}: {summary}; first: {found[:3]}", pytrace=False)


def _catalogue(locale: str, entries) -> Catalog:
    """A catalogue written and read back as a .po file, as the real ones are."""
    catalogue = Catalog(locale=locale)
    for msgid, msgstr, flags in entries:
        catalogue.add(msgid, msgstr, flags=flags)
    buffer = io.BytesIO()
    write_po(buffer, catalogue)
    buffer.seek(0)
    return read_po(buffer, locale=locale)


SYNTHETIC_TEMPLATE = [
    ("Sign in", "", ()),
    ("no user named %(username)r", "", ()),
    (("%(num)d certificate", "%(num)d certificates"), ("", ""), ()),
    ("100%% of %(count)s", "", ()),
]


def test_the_check_passes_on_a_complete_catalogue():
    template = _catalogue("en", SYNTHETIC_TEMPLATE)
    complete = _catalogue("ja", [
        ("Sign in", "サインイン", ()),
        ("no user named %(username)r", "%(username)r という名前のユーザーはいません", ()),
        (("%(num)d certificate", "%(num)d certificates"), ("証明書 %(num)d 件",), ()),
        ("100%% of %(count)s", "%(count)s の 100%%", ()),
    ])
    assert problems(template, complete) == []


def test_the_check_names_each_kind_of_problem():
    template = _catalogue("en", [*SYNTHETIC_TEMPLATE, ("Sign out", "", ()),
                                 ("CA %(name)s has expired", "", ())])
    broken = _catalogue("ko", [
        ("Sign in", "", ()),  # untranslated
        ("no user named %(username)r", "%(name)r 사용자가 없습니다", ()),  # renamed placeholder
        (("%(num)d certificate", "%(num)d certificates"), ("인증서 %(num)d개",), ("fuzzy",)),
        ("100%% of %(count)s", "전부", ()),  # placeholder dropped
        ("CA %(name)s has expired", "CA %(name)s %(name)s 만료", ()),  # one placeholder too many
        # "Sign out" missing
    ])
    assert problems(template, broken) == [
        "untranslated: 'Sign in'",
        "placeholders differ: 'no user named %(username)r' has ['%(name)r']",
        "fuzzy: '%(num)d certificate'",
        "placeholders differ: '100%% of %(count)s' has []",
        "missing: 'Sign out'",
        "placeholders differ: 'CA %(name)s has expired' has ['%(name)s', '%(name)s']",
    ]
