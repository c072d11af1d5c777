"""The one per-process cache: named tables of values derived from the database.

Everything cached here is either content-addressed (a parsed certificate by its fingerprint, a
CA's signer by its id and fingerprint, a CRL's bytes by their SHA-256) or rebuilt when the
database says it changed, so what a request decides is always the database's current state:
a revocation, a restore or a new CA in another process counts on the next request here.
The tables belong to the app (one per `create_app`) and to the process: after a fork they
start empty, and `clear()` empties them at once (after a restore, and in tests).
"""

import os
import threading
import weakref
from collections.abc import Callable
from typing import Any

from flask import current_app

_EXTENSION = "portal.cache"


class ProcessCache:
    """Named dictionaries, dropped when the process is not the one that filled them."""

    def __init__(self):
        self._pid = os.getpid()
        self._tables: dict[str, dict] = {}
        self._lock = threading.Lock()
        _CACHES.add(self)

    def _forked(self) -> None:
        """In a forked child: the parent's values stay the parent's (not closed here)."""
        self._lock = threading.Lock()
        self._tables = {}
        self._pid = os.getpid()

    def table(self, name: str) -> dict:
        """The dictionary called `name`, empty the first time in this process."""
        # No getpid() here: it is a system call, and this runs several times per request;
        # a fork empties every cache in the child instead (os.register_at_fork below).
        tables = self._tables
        found = tables.get(name)
        if found is None:
            with self._lock:
                found = self._tables.setdefault(name, {})
        return found

    def value(self, name: str, make: Callable[[], Any]) -> Any:
        """The single value called `name`, made by `make()` the first time in this process."""
        table = self.table(name)
        found = table.get(None)
        if found is None:
            with self._lock:
                found = table.get(None)
                if found is None:
                    found = table[None] = make()
        return found

    def clear(self) -> None:
        """Forget everything; a value with a `close()` method (held connections) is closed."""
        with self._lock:
            tables, self._tables = self._tables, {}
            same_process = self._pid == os.getpid()
            self._pid = os.getpid()
        if not same_process:
            return  # what the parent holds is the parent's to close
        for table in tables.values():
            for value in table.values():
                close = getattr(value, "close", None)
                if callable(close):
                    close()


_CACHES: "weakref.WeakSet[ProcessCache]" = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for cache in list(_CACHES):
        cache._forked()


os.register_at_fork(after_in_child=_after_fork_in_child)


def process_cache() -> ProcessCache:
    """The current app's process cache."""
    # The app itself, then its attribute: through the proxy each attribute costs ~2.5 µs,
    # and this runs several times per certificate and request.
    extensions = current_app._get_current_object().extensions
    cache = extensions.get(_EXTENSION)
    if cache is None:
        cache = extensions.setdefault(_EXTENSION, ProcessCache())
    return cache


def table(name: str) -> dict:
    """The current app's cache table called `name`."""
    return process_cache().table(name)


def clear() -> None:
    """Empty the current app's process cache (after a restore, in tests)."""
    process_cache().clear()
