"""Which `portal serve` worker holds a client's connection, read from /proc (Linux).

A test that revokes something and checks the next request proves little against several
workers unless every worker has answered before: a per-worker cache is caught only when the
request after the change lands on the worker that cached. `connections_on_every_worker` opens
keep-alive connections until each HTTPS worker holds at least one, so the same connections,
used again after the change, reach every worker.
"""

import http.client
import os
import socket
import ssl
from pathlib import Path


def _descendants(pid: int) -> set[int]:
    found, todo = set(), [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*/children"):
            try:
                children = {int(child) for child in task.read_text().split()}
            except OSError:
                continue
            todo += children - found
            found |= children
    return found


def _socket_inodes(pid: int) -> set[int]:
    inodes = set()
    try:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(int(target[8:-1]))
    except OSError:
        pass
    return inodes


def _tcp_sockets() -> list[tuple[int, int, int, int]]:
    """(local port, remote port, state, inode) of every TCP socket on the machine."""
    rows = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
            rows.append((int(local.rsplit(":", 1)[1], 16), int(remote.rsplit(":", 1)[1], 16),
                         int(state, 16), int(inode)))
    return rows


LISTEN = 0x0A


def https_workers(port: int) -> set[int]:
    """The worker processes that accept on the listener at `port` (not their master)."""
    listening = {inode for local, _remote, state, inode in _tcp_sockets()
                 if local == port and state == LISTEN}
    holders = {int(entry.name) for entry in Path("/proc").iterdir()
               if entry.name.isdigit() and _socket_inodes(int(entry.name)) & listening}
    return {pid for pid in holders if not _descendants(pid) & holders}


def owner_of(connection: http.client.HTTPSConnection, port: int, pids: set[int]) -> int | None:
    """The process among `pids` holding the server side of this client connection."""
    client_port = connection.sock.getsockname()[1]
    inodes = {inode for local, remote, _state, inode in _tcp_sockets()
              if local == port and remote == client_port}
    for pid in pids:
        if _socket_inodes(pid) & inodes:
            return pid
    return None


def client_context(cafile: Path, cert: Path, key: Path) -> ssl.SSLContext:
    """A TLS client context presenting a client certificate."""
    context = ssl.create_default_context(cafile=str(cafile))
    context.load_cert_chain(str(cert), str(key))
    return context


def get(connection: http.client.HTTPSConnection, path: str) -> tuple[int, str]:
    """One GET on a kept-alive connection: (status, body)."""
    connection.request("GET", path)
    response = connection.getresponse()
    return response.status, response.read().decode()


def connections_on_every_worker(port: int, context: ssl.SSLContext,
                                path: str, *, most: int = 64):
    """Keep-alive connections, each answered once on `path`, that cover every HTTPS worker.

    Returns (connections, {connection index: worker pid}, workers); raises AssertionError if
    `most` connections never reached some worker.
    """
    workers = https_workers(port)
    assert len(workers) >= 2, f"expected several workers, found {workers}"
    connections, owners = [], {}
    try:
        while set(owners.values()) != workers:
            assert len(connections) < most, f"{most} connections reached only {owners}"
            connection = http.client.HTTPSConnection("localhost", port, context=context,
                                                     timeout=30)
            connections.append(connection)
            connection.connect()
            connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            status, _body = get(connection, path)
            assert status == 200
            owner = owner_of(connection, port, workers)
            if owner is not None:
                owners[len(connections) - 1] = owner
    except BaseException:
        for connection in connections:
            connection.close()
        raise
    return connections, owners, workers
