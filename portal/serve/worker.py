"""The gthread worker of `portal serve`: a thread gets a connection only once its head is in.

Stock gthread hands each new connection to a thread, which then does the TLS handshake and
waits for the request with a timeout per read: as many slow clients as there are threads
(one header line every ten seconds is enough) stop the server. Here the worker's poller does
the handshake and reads the request head without blocking, within one total deadline
(`ClientLimits.header_timeout`); a connection that misses it is closed with one log line. A
thread gets only a connection whose request head is complete, and reads its body within
`ClientLimits.body_timeout`. Kept-alive connections go through the same gate for each request.
"""

import errno
import selectors
import socket
import ssl
import time
from collections import deque
from functools import partial

from .connections import (
    LINGER_IDLE_SECONDS,
    LINGER_SECONDS,
    TOO_LARGE,
    ClientLimits,
    HeadReader,
    Lingering,
    bounded,
    close_at_once,
    peer,
)
from .gunicorn_internals import (
    TConn,
    ThreadWorker,
    check,
    client_is_done,
    get_parser,
    ssl_context,
    take_buffered,
)

# How long a stopping worker lets a connection finish its request head, or its lingering close.
STOP_LINGER = 2.0
# How often a worker tells the arbiter it is alive (a file's utime; gunicorn does it on every
# turn of the poller's loop, which was as costly as /ping's own view). The arbiter's limit is
# `timeout`, 60 s.
HEARTBEAT_SECONDS = 1.0
_CLOSED = object()  # what a thread returns for a connection it closed itself


class PollingThreadWorker(ThreadWorker):
    """gthread whose poller, not a thread, waits for each request's handshake and head."""

    _next_heartbeat = 0.0

    def init_process(self):
        """Refuse to start on a gunicorn whose internals changed, naming what changed."""
        check(self)
        self.limits = getattr(self.app, "client_limits", None) or ClientLimits()
        self.reading: dict[HeadReader, None] = {}  # in deadline order: each gets now + limit
        self.lingering: dict[Lingering, None] = {}
        self._listeners: dict = {}
        self._closed_by_threads: deque = deque()  # appended by threads, emptied by the poller
        # Settings are fixed for a worker's life (a reload starts new workers); each read of
        # gunicorn's Config goes through its __getattr__.
        self._is_ssl = self.cfg.is_ssl
        self._suppress_ragged_eofs = self.cfg.suppress_ragged_eofs
        super().init_process()

    def notify(self):
        """Tell the arbiter this worker is alive, at most once every HEARTBEAT_SECONDS."""
        now = time.monotonic()
        if now >= self._next_heartbeat:
            self._next_heartbeat = now + HEARTBEAT_SECONDS
            super().notify()

    _next_parent_check = 0.0

    def is_parent_alive(self):
        """Whether the arbiter is still this worker's parent, asked at most once a second.

        gunicorn asks on every turn of the poller's loop (a system call each time); a worker
        whose arbiter died still stops within a second, as its heartbeat is kept.
        """
        now = time.monotonic()
        if now < self._next_parent_check:
            return True
        self._next_parent_check = now + HEARTBEAT_SECONDS
        return super().is_parent_alive()

    def accept(self, listener):
        """Accept a connection; its handshake and request head are read on the poller."""
        try:
            client, address = listener.accept()
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        server, family = self._listening(listener)
        now = time.monotonic()
        sock = bounded(client, family)
        reader = HeadReader(sock, address, server, deadline=now + self.limits.header_timeout)
        if self._is_ssl:
            try:
                reader.sock = ssl_context(self.cfg).wrap_socket(
                    sock, server_side=True, do_handshake_on_connect=False,
                    suppress_ragged_eofs=self._suppress_ragged_eofs)
            except (OSError, ValueError) as exc:
                self._drop(reader, f"could not start TLS: {exc}")
                return
            reader.handshaking = True
        self._read_head(reader)

    def _listening(self, listener) -> tuple:
        """A listener's own address and family, asked once (each is a system call or more)."""
        found = self._listeners.get(listener)
        if found is None:
            found = self._listeners[listener] = (listener.getsockname(), listener.family)
        return found

    def enqueue_req(self, conn):
        """Give a thread a kept-alive connection only once its next request head is in."""
        conn.sock.setblocking(False)
        reader = HeadReader(conn.sock, conn.client, conn.server, conn=conn,
                            deadline=time.monotonic() + self.limits.header_timeout,
                            buffer=bytearray(take_buffered(conn)))
        self._read_head(reader)

    def handle(self, conn):
        """gunicorn's, with the response's head and body start sent as one write (one record)."""
        conn.sock.hold_head = True
        keep_alive = super().handle(conn)
        try:
            conn.sock.flush_held()
        except (OSError, ValueError):  # the client is gone, or gunicorn closed the socket
            return False
        return keep_alive

    def finish_request(self, conn, fs):
        """A connection to close lingers on the poller; the rest is gunicorn's business."""
        if fs.cancelled() or fs.exception() is not None or fs.result():
            super().finish_request(conn, fs)
            return
        self._linger(conn.sock, conn.client, client_done=client_is_done(conn))

    def murder_pending(self):
        """Close the connections whose head missed its deadline (soon, once stopping).

        gunicorn calls it at the end of every turn of the poller's loop, before the next turn
        looks at nr_conns: the connections closed by threads are counted here.
        """
        self._count_closed()
        super().murder_pending()
        now = time.monotonic()
        for lingering in list(self.lingering):
            if not self.alive:
                lingering.until = min(lingering.until, now + STOP_LINGER)
            if lingering.deadline <= now:
                self._end_linger(lingering)
        if not self.alive:
            for reader in self.reading:
                reader.deadline = min(reader.deadline, now + STOP_LINGER)
        for reader in list(self.reading):
            if reader.deadline > now:
                if self.alive:
                    break  # the rest expire later
                continue
            self._unwatch(reader)
            self._drop(reader, f"no complete {reader.describe()} within "
                       f"{self.limits.header_timeout:g} s", quiet=not self.alive)

    def _read_head(self, reader: HeadReader) -> None:
        """Advance a connection's handshake and head now; wait on the poller for the rest."""
        if self._advance(reader):
            self.poller.register(reader.sock, _events(reader), partial(self._on_ready, reader))
            self.reading[reader] = None

    def _on_ready(self, reader: HeadReader, _fileobj) -> None:
        """More of a waiting connection's handshake or head: it keeps its place and deadline."""
        events = _events(reader)
        if not self._advance(reader, watched=True):
            return
        if _events(reader) != events:
            self.poller.modify(reader.sock, _events(reader), partial(self._on_ready, reader))

    def _advance(self, reader: HeadReader, *, watched: bool = False) -> bool:
        """Do what can be done without blocking; whether the connection must wait for more.

        A connection done with (its head complete, or the client gone) leaves the poller
        first if `watched`.
        """
        try:
            if not reader.advance():
                return True
        except (EOFError, ssl.SSLEOFError):
            outcome = partial(self._drop, reader, "closed by the client", quiet=True)
        except (OSError, ValueError) as exc:
            outcome = partial(self._drop, reader, _failure(reader, exc),
                              quiet=_is_disconnect(exc))
        else:
            outcome = partial(self._start, reader)
        if watched:
            self._unwatch(reader)
        outcome()
        return False

    def _unwatch(self, reader: HeadReader) -> None:
        self.reading.pop(reader, None)
        try:
            self.poller.unregister(reader.sock)
        except (KeyError, ValueError, OSError):
            pass

    def _start(self, reader: HeadReader) -> None:
        """Hand a connection whose head is in to a thread (answer 431 if it is too large)."""
        if reader.too_large:
            try:
                reader.sock.send(TOO_LARGE)
            except OSError:
                pass
            self.log.warning("portal: closed the connection from %s: request head over 64 KiB "
                             "(431)", peer(reader.address))
            self._linger(reader.sock, reader.address)
            return
        conn = reader.conn
        if conn is None:
            conn = TConn(self.cfg, reader.sock, reader.address, reader.server)
            conn.parser = get_parser(self.cfg, reader.sock, reader.address)
            conn.initialized = True  # the handshake is done: init() must not wrap it again
        conn.parser.unreader.unread(bytes(reader.buffer))
        conn.sock.deadline = time.monotonic() + self.limits.body_timeout
        conn.sock.on_late = partial(self._log_late_body, reader.address)
        future = self.tpool.submit(self._serve, conn)
        future.add_done_callback(partial(self._served, conn))

    def _serve(self, conn):
        """In a thread: the request; a connection whose client is done is closed here too.

        Such a client (see client_is_done; each /ping of a new connection ends so) sends
        nothing more: handing it back to the poller only to close it cost a pipe write, a
        wake-up of the poller and a turn of its loop per request.
        """
        keep_alive = self.handle(conn)
        if keep_alive is False and client_is_done(conn):
            close_at_once(conn.sock)
            return _CLOSED
        return keep_alive

    def _served(self, conn, future) -> None:
        """A thread is done with a connection: count it closed, or let the poller finish it."""
        if not future.cancelled() and future.exception() is None and future.result() is _CLOSED:
            self._closed_by_threads.append(conn)  # counted on the poller's next turn
            return
        self.method_queue.defer(self.finish_request, conn, future)

    def _count_closed(self) -> None:
        """Count the connections the threads closed (nr_conns is the poller's alone)."""
        closed = self._closed_by_threads
        while closed:
            closed.popleft()
            self.nr_conns -= 1

    def _linger(self, sock, address, *, client_done: bool = False) -> None:
        """Half-close a connection and drop what the client still sends, then close it.

        Closing a socket with unread bytes makes the kernel send a reset, which can reach
        the client before it has read the answer (a 413 for a body too large, typically):
        nginx's lingering close, on the poller rather than in a thread. A client that is done
        (see client_is_done) and has nothing waiting is closed at once, as nginx does: its
        answer is out, and it sends nothing more (each /ping of a new connection ends so).
        """
        now = time.monotonic()
        lingering = Lingering(sock, address, until=now + LINGER_SECONDS,
                              idle_until=now + LINGER_IDLE_SECONDS)
        try:
            sock.shutdown(socket.SHUT_WR)  # a TLS socket's records are then read raw
            sock.setblocking(False)
        except OSError:
            self._end_linger(lingering)
            return
        if lingering.discard() or client_done:
            self._end_linger(lingering)
            return
        self.lingering[lingering] = None
        self.poller.register(sock, selectors.EVENT_READ, partial(self._on_linger, lingering))

    def _on_linger(self, lingering: Lingering, _fileobj) -> None:
        if lingering.discard():
            self._end_linger(lingering)

    def _end_linger(self, lingering: Lingering) -> None:
        if self.lingering.pop(lingering, False) is None:
            try:
                self.poller.unregister(lingering.sock)
            except (KeyError, ValueError, OSError):
                pass
        self.nr_conns -= 1
        try:
            lingering.sock.close()
        except OSError:
            pass

    def _log_late_body(self, address, _sock) -> None:
        self.log.warning("portal: closed the connection from %s: request body not received "
                         "within %g s (408)", peer(address), self.limits.body_timeout)

    def _drop(self, reader: HeadReader, why: str, *, quiet: bool = False) -> None:
        """Close a connection that never got to a thread, saying why in one line."""
        self.nr_conns -= 1
        try:
            reader.sock.close()
        except OSError:
            pass
        log = self.log.debug if quiet else self.log.warning
        log("portal: closed the connection from %s: %s", peer(reader.address), why)


def _events(reader: HeadReader) -> int:
    return selectors.EVENT_WRITE if reader.wants_write else selectors.EVENT_READ


def _failure(reader: HeadReader, exc: Exception) -> str:
    stage = "TLS handshake failed" if reader.handshaking else "read failed"
    reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or exc
    return f"{stage}: {reason}"


def _is_disconnect(exc: Exception) -> bool:
    """A reset or broken pipe: the client left; nothing worth a warning."""
    return isinstance(exc, OSError) and exc.errno in (errno.ECONNRESET, errno.EPIPE,
                                                      errno.ENOTCONN)
