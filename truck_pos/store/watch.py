"""Has another process changed the database since I last looked? One cheap check for every in-memory cache.

The register and the sync agent are separate processes on one SQLite file: a cache built in one
(the menu index, the active campaign) must notice the other's commits. SQLite's
``PRAGMA data_version`` changes when *another connection* commits; it is per connection, so the
last value is kept per thread (peewee opens one connection per thread). An optional
``fingerprint`` (a cheap query over the cached table) narrows "something was committed" down to
"my table changed", so the agent marking outbox rows sent does not rebuild a campaign index.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import peewee

_UNSET = object()


class ChangeWatch:
    """``changed()`` is True the first time on a connection and after another connection committed a change."""

    def __init__(self, db: peewee.Database, fingerprint: Callable[[], Any] | None = None, *, recheck_s: float = 0.0):
        self.db = db
        self.fingerprint = fingerprint
        self.recheck_s = recheck_s  # how stale a caller may be, to keep even the PRAGMA off a hot path
        self._local = threading.local()
        self._print: Any = _UNSET

    def changed(self) -> bool:
        """Cheap: one PRAGMA per call (or per ``recheck_s``); the fingerprint query only after a commit elsewhere."""
        local = self._local
        now = time.monotonic() if self.recheck_s else 0.0
        conn = self.db.connection()
        if getattr(local, "conn", None) is conn and now - local.checked < self.recheck_s:
            return False
        version = conn.execute("PRAGMA data_version").fetchone()[0]
        seen = local.version if getattr(local, "conn", None) is conn else None
        local.conn, local.version, local.checked = conn, version, now
        if seen == version:
            return False
        if self.fingerprint is None:
            return True
        current = self.fingerprint()
        if current == self._print:
            return False
        self._print = current
        return True

    def seen(self) -> None:
        """The cache was just (re)built from the database: remember the table's fingerprint as current."""
        if self.fingerprint is not None:
            self._print = self.fingerprint()

    def forget(self) -> None:
        """This process changed the table itself: make the next ``changed()`` on every thread say so."""
        self._local = threading.local()
        self._print = _UNSET
