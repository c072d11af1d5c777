"""Challenge responders the tests run on loopback: http-01 (a tiny HTTP server)."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Http01Responder:
    """Serves /.well-known/acme-challenge/<token> from a dict; `answers[token] = text`."""

    def __init__(self):
        self.answers: dict[str, str] = {}
        self.requests: list[tuple[str, str]] = []  # (Host header, path)
        responder = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                responder.requests.append((self.headers.get("Host", ""), self.path))
                token = self.path.rsplit("/", 1)[-1]
                answer = responder.answers.get(token)
                if not self.path.startswith("/.well-known/acme-challenge/") or answer is None:
                    self.send_error(404)
                    return
                body = answer.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


class TxtServer:
    """A UDP DNS server answering TXT queries from files in `folder` (one per name, with dot).

    The clients' hooks (lego's exec provider, certbot's manual hooks) are other processes:
    they write `folder/<fqdn>` and the server reads it on every query.
    """

    def __init__(self, folder):
        import socket

        self.folder = folder
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.settimeout(0.2)
        self.port = self.socket.getsockname()[1]
        self.queries: list[str] = []
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self):
        import dns.message
        import dns.rcode
        import dns.rdatatype
        import dns.rrset

        while self.running:
            try:
                data, peer = self.socket.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                query = dns.message.from_wire(data)
            except Exception:
                continue
            response = dns.message.make_response(query)
            question = query.question[0]
            name = question.name.to_text().lower()
            self.queries.append(name)
            path = self.folder / name
            if question.rdtype == dns.rdatatype.TXT and path.exists():
                values = [v for v in path.read_text().split() if v]
                response.answer.append(dns.rrset.from_text_list(
                    question.name, 1, "IN", "TXT", [f'"{v}"' for v in values]))
            elif not path.exists():
                response.set_rcode(dns.rcode.NXDOMAIN)
            self.socket.sendto(response.to_wire(), peer)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.running = False
        self.thread.join()
        self.socket.close()


def write_hook(path, records) -> None:
    """A hook script: `present|cleanup FQDN VALUE` (lego's exec provider's arguments)."""
    path.write_text(
        "#!/bin/sh\n"
        f'records="{records}"\n'
        'case "$1" in\n'
        '  present) echo "$3" >> "$records/$2" ;;\n'
        '  cleanup) rm -f "$records/$2" ;;\n'
        "esac\n"
    )
    path.chmod(0o755)
