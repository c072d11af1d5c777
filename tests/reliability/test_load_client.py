"""The load client itself: a connection that fails while it is set up leaks nothing."""

import gc
import socket
import ssl
import warnings

import pytest

from tests.reliability.load import wrap_tls


def _reset_connection() -> socket.socket:
    """A TCP connection the peer has reset before any TLS (a listener closed with it queued)."""
    listener = socket.create_server(("127.0.0.1", 0))
    raw = socket.create_connection(listener.getsockname())
    listener.close()  # the queued, never-accepted connection gets a RST
    return raw


def test_a_connection_reset_before_the_handshake_leaves_no_unclosed_socket():
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(5):
            with pytest.raises(OSError):
                wrap_tls(context, _reset_connection(), "127.0.0.1")
        gc.collect()
    leaks = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert leaks == []
