"""Atomic writes that leave a file alone when its bytes are unchanged."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

FILE_MODE = 0o644  # readable by a static file server running as another user


def write_if_changed(path: Path, data: bytes) -> bool:
    """Write `data` to `path` atomically unless it already holds exactly these bytes."""
    if _holds(path, data):
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    _replace(path, data)
    _fsync_directory(path.parent)
    return True


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
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with open(fd, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fchmod(stream.fileno(), FILE_MODE)
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
