"""Which of the `pressfeed run` processes sharing one database leads: one lock, held while alive.

The leader scans, publishes and plans digests; every process serves HTTP and sends mail. The
lock is one the operating system or the database server lets go of when its holder dies: an
exclusive `flock` on a file beside an SQLite database, a session advisory lock on a connection
of its own on PostgreSQL. An in-memory SQLite database belongs to one process, which leads.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from pathlib import Path
from typing import Protocol

from sqlalchemy import Connection, Engine

from pressfeed import store
from pressfeed.errors import StoreError

log = logging.getLogger(__name__)


class Leadership(Protocol):
    """A lock that at most one process holds; every call returns at once."""

    def acquire(self) -> bool:
        """Take the lock if nobody holds it; True when this process holds it now."""

    def held(self) -> bool:
        """Whether this process still holds the lock: False once it is lost."""

    def release(self) -> None:
        """Let the lock go, for another process to take."""


class SoleLeadership:
    """The only process that can reach its database (in-memory SQLite) always leads."""

    def acquire(self) -> bool:
        return True

    def held(self) -> bool:
        return True

    def release(self) -> None:
        pass

    def __str__(self) -> str:
        return "an in-memory database, of this process alone"


class FileLeadership:
    """An exclusive `flock` on a file, released by the operating system when the process dies."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> bool:
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())  # for people: which process leads
        return True

    def held(self) -> bool:
        if self._fd is None:
            return False
        if not self._same_file(self._fd):
            self.release()  # the file was removed or replaced: another process may lock the new one
            return False
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # the lock goes with the last descriptor; the file stays
            self._fd = None

    def _same_file(self, fd: int) -> bool:
        try:
            now = os.stat(self.path)
        except FileNotFoundError:
            return False
        held = os.fstat(fd)
        return (now.st_dev, now.st_ino) == (held.st_dev, held.st_ino)

    def __str__(self) -> str:
        return f"lock file {self.path}"


class AdvisoryLeadership:
    """A PostgreSQL session advisory lock on a connection of its own, lost when it drops."""

    def __init__(self, engine: Engine, key: int = store.LEADER_LOCK) -> None:
        self.engine = engine
        self.key = key
        self._connection: Connection | None = None
        self._holding = False

    def acquire(self) -> bool:
        if self._holding:
            return True
        try:
            if self._connection is None:
                self._connection = store.lock_connection(self.engine)
            self._holding = store.try_session_lock(self._connection, self.key)
        except StoreError as error:
            log.warning("leader lock not taken: %s", error)
            self._close()
        return self._holding

    def held(self) -> bool:
        if not self._holding or self._connection is None:
            return False
        if not store.holds_session_lock(self._connection, self.key):
            self._close()
            return False
        return True

    def release(self) -> None:
        # Closing the session would release the lock too, but the server notices a closed
        # connection a moment later: a rival asking at once could still find it held.
        if self._holding and self._connection is not None:
            with contextlib.suppress(StoreError):
                store.session_unlock(self._connection, self.key)
        self._close()

    def _close(self) -> None:
        connection, self._connection, self._holding = self._connection, None, False
        if connection is not None:
            with contextlib.suppress(StoreError):
                store.close_lock_connection(connection)

    def __str__(self) -> str:
        return f"PostgreSQL advisory lock {self.key:#x}"


def leadership_for(engine: Engine) -> Leadership:
    """The leader lock that fits the database `engine` reaches."""
    database = engine.url.database
    if engine.dialect.name == "postgresql":
        return AdvisoryLeadership(engine)
    if engine.dialect.name == "sqlite" and database not in (None, "", ":memory:"):
        return FileLeadership(Path(f"{database}.leader"))
    return SoleLeadership()
