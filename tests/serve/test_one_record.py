"""A real `portal serve` sends a short answer's head and body in one TLS record.

gunicorn writes the head and the body with two sendall calls: two records (two encryptions,
two system calls, two reads for the client) for every /ping. The client here speaks TLS 1.2
through memory BIOs, so that after the handshake every record on the wire is application
data of the answer, and counts them.
"""

import socket
import ssl

import pytest

from tests.serve.serving import init_instance, serve

APPLICATION_DATA = 23


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("records")
    env = init_instance(folder)
    with serve(env, workers=1) as running:
        yield running.port, folder / "instance" / "client-ca.pem"


def _records(data: bytes) -> list[int]:
    """The content type of each TLS record in `data`."""
    types, offset = [], 0
    while offset + 5 <= len(data):
        types.append(data[offset])
        offset += 5 + int.from_bytes(data[offset + 3:offset + 5], "big")
    assert offset == len(data)
    return types


def _exchange(port: int, ca, requests: list[bytes]) -> tuple[list[list[int]], list[bytes]]:
    """Send each request on one TLS 1.2 connection; each answer's record types and bytes."""
    context = ssl.create_default_context(cafile=str(ca))
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname="localhost")
    records, answers = [], []
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                sock.sendall(outgoing.read())
                incoming.write(sock.recv(65536))
        sock.sendall(outgoing.read())
        for request in requests:
            tls.write(request)
            sock.sendall(outgoing.read())
            raw, answer = b"", b""
            while not _complete(answer, head_only=request.startswith(b"HEAD ")):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                raw += chunk
                incoming.write(chunk)
                try:
                    while piece := tls.read(65536):
                        answer += piece
                except (ssl.SSLWantReadError, ssl.SSLZeroReturnError, ssl.SSLEOFError):
                    pass
            records.append(_records(raw))
            answers.append(answer)
    return records, answers


def _complete(answer: bytes, *, head_only: bool) -> bool:
    head, end, body = answer.partition(b"\r\n\r\n")
    if not end or head_only:
        return bool(end)
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            return len(body) >= int(value)
    return True


def test_an_answer_is_one_record_and_a_head_only_answer_still_arrives(server):
    port, ca = server
    get = b"GET /ca.pem HTTP/1.1\r\nHost: localhost\r\n\r\n"
    head = b"HEAD /ca.pem HTTP/1.1\r\nHost: localhost\r\n\r\n"
    last = b"GET /ca.pem HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    records, answers = _exchange(port, ca, [get, head, get, last])
    assert [answer.split(b"\r\n", 1)[0] for answer in answers] == [b"HTTP/1.1 200 OK"] * 4
    assert answers[0].endswith(b"-----END CERTIFICATE-----\n")
    assert answers[1].endswith(b"\r\n\r\n")  # a HEAD answer: the head alone, sent all the same
    assert answers[2].partition(b"\r\n\r\n")[2] == answers[0].partition(b"\r\n\r\n")[2]
    assert records == [[APPLICATION_DATA]] * 4

