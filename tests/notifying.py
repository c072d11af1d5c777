"""Real receivers on loopback for the notification tests: an SMTP server and HTTP endpoints."""

import json
import socket
import threading
from datetime import timedelta
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from cryptography import x509
from sqlalchemy import update

from portal.extensions import db
from portal.models import Certificate, utcnow
from portal.services import issuance, users
from tests.pki import make_csr


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class _Collect:
    """Keeps each message; refuses any recipient whose address starts with "bounce".

    `script` says what to do with each message in turn (the last one repeats): "ok" keeps it,
    "421" answers that the server closes the session and closes it, "drop" closes the
    connection without answering, "451" refuses it for now.
    """

    def __init__(self, script=("ok",)):
        self.messages = []
        self.script = list(script)
        self.tried = 0
        self.sessions = set()  # the client's (address, port) of each session that sent mail
        self.arrivals = []  # when each message kept arrived (aware UTC)

    async def handle_RCPT(self, server, session, envelope, address, options):  # noqa: N802
        if address.startswith("bounce"):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.sessions.add(session.peer)
        behaviour = self.script[min(self.tried, len(self.script) - 1)]
        self.tried += 1
        if behaviour in ("421", "drop"):
            if behaviour == "421":  # as a server at its limit of messages per connection
                server.transport.write(b"421 4.3.2 closing the session\r\n")
            server.transport.close()  # what we return now is never sent
            return "421 4.3.2 closing the session"
        if behaviour == "451":
            return "451 4.3.0 try again later"
        message = message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append((list(envelope.rcpt_tos), message))
        self.arrivals.append(utcnow())
        return "250 OK"


class SMTPReceiver:
    """aiosmtpd on 127.0.0.1: the messages it accepted, as (recipients, EmailMessage)."""

    def __init__(self, *, login: tuple[str, str] | None = None, starttls=None, implicit_tls=None,
                 script=("ok",)):
        self.port = free_port()
        self._handler = _Collect(script)
        self.scheme = "smtps" if implicit_tls else "smtp"
        options = {}
        if starttls is not None:  # an ssl.SSLContext: offer STARTTLS, and insist on it
            options.update(tls_context=starttls, require_starttls=True)
        if implicit_tls is not None:
            options["ssl_context"] = implicit_tls
        if login:  # AUTH PLAIN/LOGIN in clear: loopback only
            def authenticator(server, session, envelope, mechanism, data):
                good = (data.login.decode(), data.password.decode()) == login
                return AuthResult(success=good, handled=False)  # False: aiosmtpd answers 535

            options.update(authenticator=authenticator, auth_require_tls=False)
        self._controller = Controller(self._handler, hostname="127.0.0.1", port=self.port,
                                      **options)

    @property
    def url(self) -> str:
        """PORTAL_SMTP_URL for this server."""
        return f"{self.scheme}://127.0.0.1:{self.port}"

    @property
    def messages(self):
        """What arrived so far."""
        return list(self._handler.messages)

    @property
    def arrivals(self) -> list:
        """When each message kept arrived (aware UTC datetimes)."""
        return list(self._handler.arrivals)

    @property
    def sessions(self) -> int:
        """How many SMTP sessions (connections) sent a message so far."""
        return len(self._handler.sessions)

    def start(self):
        """Listen."""
        self._controller.start()
        return self

    def stop(self):
        """Stop listening."""
        self._controller.stop()


def body_of(message) -> str:
    """The plain-text body of a received message."""
    return message.get_body(("plain",)).get_content()


def issue(cn: str, *, owner: str | None = None, days_left: float = 10, lifetime: int = 90,
          sans=None):
    """Issue a certificate, then move its row's validity so that it expires in `days_left`."""
    owner_id = users.user_by_name(owner).id if owner else None
    names = sans if sans is not None else [x509.DNSName(cn)]
    row = issuance.issue_from_csr(make_csr(cn, sans=names), "server", owner_id=owner_id,
                                  actor="test")
    not_after = utcnow() + timedelta(days=days_left)
    db.session.execute(update(Certificate).where(Certificate.id == row.id).values(
        not_after=not_after, not_before=not_after - timedelta(days=lifetime)))
    db.session.commit()
    return db.session.get(Certificate, row.id)


class HTTPReceiver:
    """An HTTP server on 127.0.0.1 that records each POST and answers per a script.

    `script` is a list of behaviours taken in turn ("ok", "fail", "hang", or
    ("redirect", code, location)); the last one repeats.
    """

    def __init__(self, script=("ok",)):
        receiver = self
        self.requests: list[dict] = []
        self.script = list(script)
        self.release = threading.Event()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                index = len(receiver.requests)
                headers = {name.lower(): value for name, value in self.headers.items()}
                receiver.requests.append({"headers": headers, "body": body, "path": self.path})
                behaviour = receiver.script[min(index, len(receiver.script) - 1)]
                if behaviour == "hang":
                    receiver.release.wait(60)
                    return
                if isinstance(behaviour, tuple):  # ("redirect", code, location)
                    self.send_response(behaviour[1])
                    self.send_header("Location", behaviour[2])
                else:
                    self.send_response(200 if behaviour == "ok" else 500)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The URL to register."""
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def events(self) -> list[dict]:
        """The JSON bodies received."""
        return [json.loads(request["body"]) for request in self.requests]

    def start(self):
        """Serve in a thread."""
        self.thread.start()
        return self

    def stop(self):
        """Stop serving and close the socket."""
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def loopback_tls(folder):
    """A self-signed certificate for 127.0.0.1: (server SSLContext, path of the PEM to trust)."""
    import ssl
    from datetime import UTC, datetime
    from ipaddress import ip_address

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "loopback SMTP")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ip_address("127.0.0.1"))]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    return context, str(cert_path)
