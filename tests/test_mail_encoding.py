"""The mailer's own encoding of a message is byte for byte what smtplib's send_message sends.

`encode_message` lets the email package write the headers and writes a 7bit or 8bit body
itself (the package's generator loops over every line in Python). These tests hold it to the
package's output: the reference is what `SMTP.send_message` flattens (BytesGenerator, CRLF).
"""

import copy
import io
from email.generator import BytesGenerator

import pytest

from portal.services.mailer import (
    SMTP_LINE,
    SMTPSettings,
    build_message,
    encode_message,
    envelope,
)

SETTINGS = SMTPSettings(host="127.0.0.1", port=25, implicit_tls=False, starttls=False,
                        username=None, password=None, sender="Portal <portal@example.org>",
                        timeout=5)
DATE, MESSAGE_ID = "Tue, 01 Dec 2026 22:00:00 GMT", "<1.2.3@example.org>"


def _reference(to: list[str], subject: str, body: str) -> bytes:
    """What smtplib.SMTP.send_message puts on the wire for build_message()'s message."""
    message = build_message(SETTINGS, to, subject, body, date=DATE, message_id=MESSAGE_ID)
    with io.BytesIO() as wire:
        BytesGenerator(wire).flatten(copy.copy(message), linesep="\r\n")
        return wire.getvalue()


DIGEST = "".join(f"2026-12-03 10:{n % 60:02d}:00 UTC (in 2 days)  CN=host-{n:07}  serial "
                 f"5A{n:010X}  CA bench  https://portal.example/certificates/{n}\n"
                 for n in range(1000))
BODIES = {
    "digest": DIGEST,
    "japanese": "こんにちは owner0 さん、\n\n証明書の有効期限が近づいています。\n",
    "dots and From": ".\n..leading dots\nFrom the start of a line\n.\n",
    "bare CR and CRLF": "one\r\ntwo\rthree\n\nfour",
    "no final newline": "a single line",
    "From first": "From here\nFrom there\n",
    "blank lines at the end": "text\n\n\n",
}


@pytest.mark.parametrize("name", sorted(BODIES))
@pytest.mark.parametrize("subject", ["portal: 1000 certificate(s) expire soon",
                                     "証明書 5A00000000FF の有効期限は 2026-12-03 です",
                                     "a long subject " * 12])
def test_the_wire_bytes_are_the_email_package_s(name, subject):
    body = BODIES[name]
    to = ["owner0@example.org", "Admin Two <admin2@example.org>"]
    ours = encode_message(SETTINGS, to, subject, body, date=DATE, message_id=MESSAGE_ID)
    assert ours == _reference(to, subject, body)


@pytest.mark.parametrize("sender", [
    "portal@example.org", "Zertifikatsstelle Müller <pki@example.org>",
    "a very long display name for the portal " * 3 + "<portal@example.org>"])
def test_every_sender_s_headers_are_the_package_s(sender):
    settings = SMTPSettings(host="h", port=25, implicit_tls=False, starttls=False, username=None,
                            password=None, sender=sender, timeout=5)
    for body in ("ascii\n", "ümlaut\n"):
        ours = encode_message(settings, ["a@example.org"], "s", body, date=DATE,
                              message_id=MESSAGE_ID)
        reference = build_message(settings, ["a@example.org"], "s", body, date=DATE,
                                  message_id=MESSAGE_ID)
        with io.BytesIO() as wire:
            BytesGenerator(wire).flatten(reference, linesep="\r\n")
            assert ours == wire.getvalue()


def test_a_line_too_long_for_smtp_is_left_to_the_package():
    body = "x" * (SMTP_LINE + 1) + "\n"
    assert encode_message(SETTINGS, ["a@example.org"], "s", body) is None
    # the package then chooses an encoding whose lines fit
    assert all(len(line) <= SMTP_LINE for line in _reference(["a@example.org"], "s", body)
               .split(b"\r\n"))


def test_a_long_line_with_a_form_feed_is_one_line_on_the_wire():
    body = "x" * 600 + "\f" + "y" * 600 + "\n"  # str.splitlines() would see two short lines
    assert encode_message(SETTINGS, ["a@example.org"], "s", body) is None
    assert all(len(line) <= SMTP_LINE for line in _reference(["a@example.org"], "s", body)
               .split(b"\r\n"))


def test_the_envelope_is_send_message_s_and_non_ascii_addresses_are_left_to_it():
    assert envelope(SETTINGS, ["Owner <owner@example.org>", "b@example.org"]) == (
        "portal@example.org", ["owner@example.org", "b@example.org"])
    assert envelope(SETTINGS, ["ユーザー@example.org"]) is None


PLAIN_SUBJECTS = ["Certificate 5A00000000FF expires on 2026-12-03", "Re: (a) b.c, d:e",
                  "s" * 69, "s" * 70, "two  spaces", "trailing ", " leading", "tab\there",
                  "an =?utf-8?q?encoded?= word", "a)b(c<d>e\"f'g\\h"]


@pytest.mark.parametrize("subject", PLAIN_SUBJECTS)
@pytest.mark.parametrize("to", [["owner0@example.org"], ["A.B+c@Example.ORG", "x_y-z@h-1.io"],
                                ["Admin <admin@example.org>"], ["a..b@example.org"],
                                ["a@b"]])
def test_headers_written_as_they_are_are_the_package_s(subject, to):
    from email.utils import formatdate, make_msgid

    for date, message_id in ((DATE, MESSAGE_ID), (formatdate(usegmt=True), make_msgid()),
                             (formatdate(), make_msgid(domain="example.org"))):
        ours = encode_message(SETTINGS, to, subject, "body\n", date=date, message_id=message_id)
        assert ours == _reference_at(to, subject, "body\n", date, message_id)


def test_random_subjects_are_written_as_the_package_does():
    import random
    import string

    from portal.services.mailer import _WIRE, _header

    chance = random.Random(17)
    alphabet = string.ascii_letters + string.digits + string.punctuation + " \t"
    for _ in range(3000):
        value = "".join(chance.choice(alphabet) for _ in range(chance.randint(1, 85)))
        try:
            expected = _WIRE.fold_binary(*_WIRE.header_store_parse("Subject", value))
        except Exception:  # noqa: BLE001 - a value the package cannot write is not ours either
            continue
        assert _header("Subject", value) == expected, value


def _reference_at(to, subject, body, date, message_id) -> bytes:
    message = build_message(SETTINGS, to, subject, body, date=date, message_id=message_id)
    with io.BytesIO() as wire:
        BytesGenerator(wire).flatten(copy.copy(message), linesep="\r\n")
        return wire.getvalue()
