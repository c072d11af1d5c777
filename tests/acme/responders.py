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
