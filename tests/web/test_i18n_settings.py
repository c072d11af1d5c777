"""Which language and time zone a reader gets, the settings that choose them, and mails."""

from datetime import UTC, datetime

import pytest
from flask import g

from portal import create_app
from portal.errors import ConfigurationError
from portal.extensions import db
from portal.models import User
from portal.services import users
from portal.web import filters
from portal.web.i18n import negotiate
from tests.notifying import SMTPReceiver, body_of, issue
from tests.web.i18n_pages import html_lang, tr

ALL = ["en", "ja", "ko", "zh_Hans"]


@pytest.mark.parametrize("tags, expected", [
    ([("zh", 1)], "zh_Hans"), ([("zh-CN", 1)], "zh_Hans"), ([("zh-SG", 1)], "zh_Hans"),
    ([("zh-Hans", 1)], "zh_Hans"), ([("zh-Hans-CN", 1)], "zh_Hans"),
    ([("zh-TW", 1)], None), ([("zh-Hant", 1)], None), ([("zh-HK", 1)], None),
    ([("zh-TW", 1), ("ja", 0.5)], "ja"),  # Traditional first: the next choice wins
    ([("ko-KR", 1)], "ko"), ([("ja-JP", 0.8), ("ko", 0.9)], "ko"), ([("fr", 1)], None),
    ([("ja", 0)], None),
])
def test_accept_language_tags(tags, expected):
    assert negotiate(tags, ALL) == expected


def test_traditional_chinese_gets_the_default_page(web):
    client = web
    page = client.get("/login", headers={"Accept-Language": "zh-TW,zh;q=0.1"})
    # zh at q=0.1 is still Simplified Chinese: the reader listed it
    assert html_lang(page.get_data(as_text=True)) == "zh-Hans"
    only = client.get("/login", headers={"Accept-Language": "zh-TW"})
    assert html_lang(only.get_data(as_text=True)) == "en"


def test_portal_languages_limits_what_is_offered(instance):
    app = create_app({"TESTING": True, "PORTAL_LANGUAGES": "en, ja",
                      "PORTAL_DEFAULT_LANGUAGE": "ja"})
    client = app.test_client()
    assert html_lang(client.get("/login", headers={"Accept-Language": "ko"}).get_data(
        as_text=True)) == "ja"  # ko is not offered: the default
    page = client.get("/login", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert html_lang(page) == "en"
    assert 'value="ko"' not in page and 'value="ja"' in page  # the switcher offers two


@pytest.mark.parametrize("settings, problem", [
    ({"PORTAL_LANGUAGES": "en,fr"}, "PORTAL_LANGUAGES: 'fr' is not one of en, ja, ko, zh_Hans"),
    ({"PORTAL_LANGUAGES": " , "}, "PORTAL_LANGUAGES names no language"),
    ({"PORTAL_LANGUAGES": "ja,ko"}, "PORTAL_DEFAULT_LANGUAGE 'en' must be one of "
                                    "PORTAL_LANGUAGES (ja, ko)"),
])
def test_wrong_language_settings_stop_the_start(instance, settings, problem):
    with pytest.raises(ConfigurationError) as refused:
        create_app({"TESTING": True, **settings})
    assert refused.value.message == problem


def test_zh_hans_spelled_any_way_is_accepted(instance):
    app = create_app({"TESTING": True, "PORTAL_LANGUAGES": "en,zh-Hans",
                      "PORTAL_DEFAULT_LANGUAGE": "ZH_HANS"})
    assert app.extensions["portal.languages"] == ["en", "zh_Hans"]
    assert app.config["PORTAL_DEFAULT_LANGUAGE"] == "zh_Hans"


MOMENT = datetime(2026, 3, 1, 14, 5, tzinfo=UTC)


def _request(app, **headers):
    """A request context with nothing cached from the last one (each request has its own g)."""
    vars(g).clear()
    return app.test_request_context("/", headers=headers)


def test_english_dates_are_unchanged_and_follow_the_browser_s_time_zone(app):
    with _request(app, **{"Accept-Language": "en"}):
        assert filters.format_datetime(MOMENT) == "2026-03-01 14:05 UTC"
        assert filters.format_date(MOMENT) == "2026-03-01"
        assert filters.format_number(1234567) == "1,234,567"
    with _request(app, **{"Accept-Language": "en",
                                                "Cookie": "portal_timezone=Asia/Tokyo"}):
        assert filters.format_datetime(MOMENT) == "2026-03-01 23:05 JST"
    with _request(app, **{"Cookie": "portal_timezone=Not/AZone"}):
        assert filters.format_datetime(MOMENT) == "2026-03-01 14:05 UTC"


def test_cjk_dates_use_the_locale_s_patterns(app):
    with _request(app, **{"Accept-Language": "ja",
                                                "Cookie": "portal_timezone=Asia/Tokyo"}):
        assert filters.format_datetime(MOMENT) == "2026/03/01 23:05 JST"
    with _request(app, **{"Accept-Language": "ko"}):
        assert filters.format_date(MOMENT) == "2026. 3. 1."
    with _request(app, **{"Accept-Language": "zh-CN"}):
        assert filters.format_date(MOMENT) == "2026年3月1日"


@pytest.fixture
def smtp():
    receiver = SMTPReceiver().start()
    yield receiver
    receiver.stop()


@pytest.mark.parametrize("language", ["ja", "ko", "zh_Hans"])
def test_mails_are_written_in_the_account_s_language(app, root_ca, smtp, runner, language):
    users.create_user("boss", role="admin", password="admin-password-1",
                      email="boss@example.org", actor="test")
    owner, _ = users.create_user("alice", role="user", password="alice-password-1",
                                 email="alice@example.org", actor="test")
    users.set_language(owner.id, language, offered=ALL, actor="test")
    assert db.session.get(User, owner.id).language == language
    app.config.update(PORTAL_SMTP_URL=smtp.url, PORTAL_SMTP_STARTTLS=False,
                      PORTAL_WEB_URL="https://portal.example.org")
    row = issue("web.example.org", owner="alice", days_left=10)
    result = runner.invoke(args=["notify", "run"])
    assert result.exit_code == 0, result.output
    mails = {tuple(rcpt): message for rcpt, message in smtp.messages}
    mine = mails[("alice@example.org",)]
    assert mine["Subject"].strip() == tr(language, "Certificate %(serial)s expires on %(date)s",
                                 serial=row.serial, date=f"{row.not_after:%Y-%m-%d}")
    body = body_of(mine).replace("\r\n", "\n")
    assert tr(language, "Hello %(username)s,\n\nThese certificates of yours expire soon. Renew "
                        "each one from the portal:\nits link opens the certificate and its Renew "
                        "button.\n\n", username="alice") in body
    # the admins' digest goes to every admin at once: the portal's default language, English
    digest = mails[("boss@example.org",)]
    assert digest["Subject"].strip() == "portal: 1 certificate(s) expire soon"
