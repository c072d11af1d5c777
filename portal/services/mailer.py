"""Sending mail over SMTP: the PORTAL_SMTP_* settings, one connection per run of the job."""

import email.policy
import functools
import re
import smtplib
import socket
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, make_msgid
from urllib.parse import unquote, urlsplit

from ..errors import Unavailable

SMTP_LINE = 998  # the longest text line SMTP carries (RFC 5321 4.5.3.1.6), without CRLF


class MailError(Unavailable):
    """Mail could not be sent: the server is down, refuses us, or the settings are wrong."""


class RecipientsRefused(MailError):
    """The server refused every recipient of one message; the session is still good."""


@dataclass(frozen=True)
class SMTPSettings:
    """Where and how to send mail."""

    host: str
    port: int
    implicit_tls: bool
    starttls: bool
    username: str | None
    password: str | None
    sender: str
    timeout: float
    ca_file: str | None = None


def parse_smtp_url(url: str, *, sender: str, starttls: bool, timeout: float,
                   ca_file: str | None = None) -> SMTPSettings:
    """PORTAL_SMTP_URL (smtp:// or smtps://, host, port, optional user and password)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise MailError(f"PORTAL_SMTP_URL is not a valid URL: {exc}") from None
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise MailError("PORTAL_SMTP_URL must be smtp://host[:port] or smtps://host[:port]")
    implicit_tls = parts.scheme == "smtps"
    return SMTPSettings(
        host=parts.hostname,
        port=port or (465 if implicit_tls else 25),
        implicit_tls=implicit_tls,
        starttls=starttls and not implicit_tls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        sender=sender,
        timeout=timeout,
        ca_file=ca_file or None,
    )


def settings_from_config(config) -> SMTPSettings | None:
    """The SMTP settings of the app's configuration, or None when no server is configured."""
    url = config.get("PORTAL_SMTP_URL") or ""
    if not url.strip():
        return None
    return parse_smtp_url(
        url, sender=config["PORTAL_SMTP_FROM"], starttls=bool(config["PORTAL_SMTP_STARTTLS"]),
        timeout=float(config["PORTAL_SMTP_TIMEOUT"]),
        ca_file=config.get("PORTAL_SMTP_CA_FILE") or None,
    )


def build_message(settings: SMTPSettings, to: list[str], subject: str, body: str, *,
                  date: str | None = None, message_id: str | None = None,
                  cte: str | None = None) -> EmailMessage:
    """A plain-text message from the configured sender."""
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = ", ".join(to)
    message["Subject"] = subject
    message["Date"] = date or formatdate(usegmt=True)
    message["Message-ID"] = message_id or make_msgid(
        domain=settings.sender.rpartition("@")[2] or None)
    message.set_content(body, cte=cte or _transfer_encoding(body))
    return message


# what send_message's generator writes with: the message's policy, lines ended by CRLF
_WIRE = email.policy.default.clone(linesep="\r\n")


@functools.lru_cache(maxsize=16)
def _fixed_headers(sender: str, cte: str) -> tuple[bytes, bytes]:
    """The From line, and the MIME lines after Message-ID, that build_message() writes."""
    message = EmailMessage()
    message["From"] = sender
    message.set_content("", cte=cte)
    wire = message.as_bytes(policy=_WIRE)
    mime = wire.index(b"\r\nContent-Type:") + 2
    return wire[:mime], wire[mime:wire.index(b"\r\n\r\n") + 2]


_ATOM = r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*"
_DOMAIN = r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
_ADDRESS = f"{_ATOM}@{_DOMAIN}"
# header values the email package writes as they are, on one line, when short enough
_PLAIN = {
    "To": re.compile(f"{_ADDRESS}(?:, {_ADDRESS})*\\Z"),
    "Subject": re.compile(r"[!-~]+(?: [!-~]+)*\Z"),  # printable words, single spaces
    "Message-ID": re.compile(f"<{_ATOM}@{_DOMAIN}>\\Z"),
}


def _header(name: str, value: str) -> bytes:
    """One header as the email package folds it (its own parser when not plainly simple).

    A short value of plain words or addresses is written as it is: parsing and folding four
    headers per mail cost a run of eleven mails a few milliseconds. The package rewrites a
    date (GMT becomes +0000): the Date, the same for a run's mails, is folded once.
    """
    plain = _PLAIN.get(name)
    if (plain is not None and len(name) + 2 + len(value) <= _WIRE.max_line_length
            and "=?" not in value and plain.match(value)):
        return f"{name}: {value}\r\n".encode("ascii")
    if name == "Date":
        return _folded(name, value)
    return _WIRE.fold_binary(*_WIRE.header_store_parse(name, value))


@functools.lru_cache(maxsize=8)
def _folded(name: str, value: str) -> bytes:
    return _WIRE.fold_binary(*_WIRE.header_store_parse(name, value))


def encode_message(settings: SMTPSettings, to: list[str], subject: str, body: str, *,
                   date: str | None = None, message_id: str | None = None) -> bytes | None:
    """The bytes `SMTP.send_message` would send for build_message(), or None: use it instead.

    The email package writes every header (encoded words, folding, MIME parameters; the ones
    the same in every mail once per process); a 7bit or 8bit body is its own UTF-8 lines ended
    by CRLF, exactly what the package's generator writes (with its ">From " quoting), but
    without its loop over every line in Python, which for a digest of a thousand lines cost
    more than the SMTP conversation. None for a body needing quoted-printable or base64.
    """
    cte = _transfer_encoding(body)
    if cte is None:
        return None
    sender_line, mime_lines = _fixed_headers(settings.sender, cte)
    own = (("To", ", ".join(to)), ("Subject", subject), ("Date", date or formatdate(usegmt=True)),
           ("Message-ID", message_id or make_msgid(
               domain=settings.sender.rpartition("@")[2] or None)))
    head = b"".join(_header(name, value) for name, value in own)
    # CRLF first: then every line but the first starts after one (send_message quotes "From ")
    text = b"\r\n" + b"\r\n".join(body.encode("utf-8").splitlines()) + b"\r\n"
    text = text.replace(b"\r\nFrom ", b"\r\n>From ")
    return sender_line + head + mime_lines + text


def envelope(settings: SMTPSettings, to: list[str]) -> tuple[str, list[str]] | None:
    """The envelope sender and recipients send_message would use; None for non-ASCII ones.

    (Those need SMTPUTF8, which send_message negotiates.)
    """
    found = _envelope(settings.sender, ", ".join(to))
    return None if found is None else (found[0], list(found[1]))


@functools.lru_cache(maxsize=256)
def _envelope(sender: str, to: str) -> tuple[str, tuple[str, ...]] | None:
    """envelope() for a sender and a To line, parsed once per process (a run's owners repeat)."""
    sender = getaddresses([sender])[0][1]
    recipients = tuple(address for _name, address in getaddresses([to]))
    return (sender, recipients) if "".join([sender, *recipients]).isascii() else None


def _transfer_encoding(body: str) -> str | None:
    """7bit or 8bit when every line fits in SMTP's limit, else the email package's choice.

    The package's own heuristics switch to quoted-printable above 78 characters, which for a
    digest of a thousand one-line entries costs more than the whole SMTP conversation.
    """
    # the lines as the package splits them: of the UTF-8 bytes (str.splitlines also splits at
    # form feeds and other separators, which a line on the wire may hold)
    if max(map(len, body.encode("utf-8").splitlines()), default=0) > SMTP_LINE:
        return None
    return "7bit" if body.isascii() else "8bit"


class Mailer:
    """One SMTP session, opened on first use and closed at the end of the `with` block."""

    def __init__(self, settings: SMTPSettings):
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> "Mailer":
        return self

    def __exit__(self, *exc_info) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None

    def _connect(self) -> smtplib.SMTP:
        settings = self.settings
        # made only when used: loading the system's CA store costs ~80 ms
        context = None
        if settings.implicit_tls or settings.starttls:
            try:
                context = ssl.create_default_context(cafile=settings.ca_file)
            except OSError as exc:
                raise MailError(f"cannot read PORTAL_SMTP_CA_FILE {settings.ca_file!r}: "
                                f"{exc.strerror or exc}") from None
        where = f"{settings.host}:{settings.port}"
        try:
            if settings.implicit_tls:
                smtp = smtplib.SMTP_SSL(settings.host, settings.port, timeout=settings.timeout,
                                        context=context)
            else:
                smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        except (OSError, smtplib.SMTPException) as exc:
            raise MailError(
                f"cannot connect to the SMTP server {where}: {_describe(exc)}") from None
        try:
            if settings.starttls:
                smtp.ehlo()
                if not smtp.has_extn("starttls"):
                    raise MailError(f"the SMTP server {where} does not offer STARTTLS "
                                    "(set PORTAL_SMTP_STARTTLS=false to send in clear)")
                smtp.starttls(context=context)
            if settings.username:
                smtp.login(settings.username, settings.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            smtp.close()
            raise MailError(f"the SMTP server {where} refused the user name or password: "
                            f"{_describe(exc)}") from None
        except (OSError, smtplib.SMTPException) as exc:
            smtp.close()
            raise MailError(f"the SMTP server {where} failed: {_describe(exc)}") from None
        except MailError:
            smtp.close()
            raise
        return smtp

    def send(self, to: list[str], subject: str, body: str) -> dict:
        """Send one message; the recipients refused while others were accepted (or an error).

        The session is kept for the next message. When the server has dropped it (it closed
        the connection, or answered 421), the message is sent once more on a new connection.
        """
        addresses = envelope(self.settings, to)
        wire = encode_message(self.settings, to, subject, body) if addresses else None
        message = build_message(self.settings, to, subject, body) if wire is None else None
        for attempt in (1, 2):
            if self._smtp is None:
                self._smtp = self._connect()
            try:
                if wire is None:
                    return self._smtp.send_message(message)
                return self._smtp.sendmail(*addresses, wire)
            except smtplib.SMTPRecipientsRefused as exc:
                if attempt == 1 and _dropped(exc):
                    self._drop()
                    continue
                refused = ", ".join(f"{address} ({_describe_code(*answer)})"
                                    for address, answer in exc.recipients.items())
                raise RecipientsRefused(f"the SMTP server refused {refused}"[:500]) from None
            except (OSError, smtplib.SMTPException) as exc:
                self._drop()
                if attempt == 1 and _dropped(exc):
                    continue
                raise MailError(f"the SMTP server {self.settings.host}:{self.settings.port} did "
                                f"not accept a message: {_describe(exc)}") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _drop(self) -> None:
        if self._smtp is not None:
            self._smtp.close()
            self._smtp = None


def _dropped(exc: BaseException) -> bool:
    """Whether an error means the server closed the session (not that it refused the mail)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return bool(exc.recipients) and all(code == 421 for code, _text in
                                            exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code == 421
    return isinstance(exc, smtplib.SMTPServerDisconnected | ConnectionError | ssl.SSLEOFError
                      | ssl.SSLZeroReturnError)


def _describe_code(code: int, text) -> str:
    return f"{code} {text.decode('utf-8', 'replace') if isinstance(text, bytes) else text}"[:200]


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) \
            else str(exc.smtp_error)
        return f"{exc.smtp_code} {text}"[:300]
    if isinstance(exc, socket.timeout):
        return "timed out"
    return (str(exc) or type(exc).__name__)[:300]
