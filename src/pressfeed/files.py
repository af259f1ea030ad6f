"""Atomic writes that leave a file alone when its bytes are unchanged."""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import tempfile
import time
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path

from pressfeed.errors import WriteError

FILE_MODE = 0o644  # readable by a static file server running as another user
_TEMPORARY_SUFFIX = ".tmp"

# Inside `one_sync()`, writes skip their own fsyncs and a single sync covers them all.
_deferred: ContextVar[bool] = ContextVar("deferred_sync", default=False)


class PendingSync:
    """The sync `one_sync()` makes at its end; skipped when the block knows it wrote nothing
    (writes in other processes are counted only by their caller)."""

    def __init__(self) -> None:
        self.needed = True

    def skip(self) -> None:
        self.needed = False


@contextlib.contextmanager
def one_sync(directory: Path) -> Iterator[PendingSync]:
    """Make every write inside durable with one sync at the end instead of two fsyncs each.

    Each write is still atomic for readers (a temporary file renamed over the old one). Only a
    power loss before the closing sync can lose a write, so callers must keep a record of the
    work (the store's pending rows) until this block has returned. The sync covers the file
    system holding `directory`, so it waits for other programs' writes there too: a block that
    wrote nothing says so with `skip()`.
    """
    pending = PendingSync()
    with deferred_sync():
        yield pending
    if pending.needed:
        _sync_file_system(directory)


def _sync_file_system(directory: Path) -> None:
    syncfs = getattr(_libc(), "syncfs", None)
    if syncfs is None:
        os.sync()
        return
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if syncfs(fd) != 0:
            number = ctypes.get_errno()
            raise OSError(number, os.strerror(number), str(directory))
    finally:
        os.close(fd)


@functools.cache
def _libc() -> ctypes.CDLL | None:
    # syncfs(2) flushes one file system, where os.sync() flushes every one on the machine.
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


@contextlib.contextmanager
def deferred_sync() -> Iterator[None]:
    """Writes inside skip their fsyncs: for worker processes inside another's `one_sync()`."""
    token = _deferred.set(True)
    try:
        yield
    finally:
        _deferred.reset(token)


def write_if_changed(path: Path, data: bytes) -> bool:
    """Write `data` to `path` atomically unless it already holds exactly these bytes.

    Raises WriteError, naming the file, when it cannot be written (a full disk, say); the old
    file is then left whole and no temporary file remains.
    """
    try:
        if _holds(path, data):
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        _replace(path, data)
        if not _deferred.get():
            _fsync_directory(path.parent)
    except OSError as error:
        raise WriteError(path, error) from error
    return True


def remove_stale_temporaries(root: Path, older_than: float) -> int:
    """Delete the temporary files a killed writer left under `root`; how many went.

    Only files older than `older_than` seconds: a younger one may be another writer's, about to
    be renamed into place."""
    cutoff = time.time() - older_than
    removed = 0
    for directory, _subdirs, names in os.walk(root):
        for name in names:
            if name.startswith(".") and name.endswith(_TEMPORARY_SUFFIX):
                path = Path(directory, name)
                with contextlib.suppress(FileNotFoundError):
                    if path.lstat().st_mtime < cutoff:
                        path.unlink()
                        removed += 1
    return removed


def remove_file(path: Path) -> bool:
    """Delete `path` if it exists; True when there was a file to delete."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def _holds(path: Path, data: bytes) -> bool:
    try:
        return path.stat().st_size == len(data) and path.read_bytes() == data
    except (FileNotFoundError, NotADirectoryError):
        return False


def _replace(path: Path, data: bytes) -> None:
    # The dot keeps watchers and static servers away from the half-written file.
    fd, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=_TEMPORARY_SUFFIX, dir=path.parent
    )
    try:
        with open(fd, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fchmod(stream.fileno(), FILE_MODE)
            if not _deferred.get():
                os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def _fsync_directory(directory: Path) -> None:
    # Without this a crash can forget the rename even though the file's data reached the disk.
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
