"""Atomic write-if-changed on real files."""

from __future__ import annotations

import errno
import os
import stat
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from pressfeed.files import one_sync, remove_file, remove_stale_temporaries, write_if_changed

OLD_NS = 1_000_000_000_000_000_000  # 2001-09-09: far from "now", so a rewrite would show


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_new_file_is_written_with_its_parents(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "index.html"
    assert write_if_changed(path, b"<p>hello</p>")
    assert path.read_bytes() == b"<p>hello</p>"
    assert _names(path.parent) == ["index.html"]


def test_unchanged_bytes_leave_the_file_alone(tmp_path: Path) -> None:
    path = tmp_path / "all.atom"
    write_if_changed(path, b"same")
    os.utime(path, ns=(OLD_NS, OLD_NS))
    inode = path.stat().st_ino
    assert not write_if_changed(path, b"same")
    assert path.stat().st_mtime_ns == OLD_NS
    assert path.stat().st_ino == inode
    assert _names(tmp_path) == ["all.atom"]


def test_changed_bytes_replace_the_file(tmp_path: Path) -> None:
    path = tmp_path / "all.atom"
    write_if_changed(path, b"old")
    os.utime(path, ns=(OLD_NS, OLD_NS))
    assert write_if_changed(path, b"new and longer")
    assert path.read_bytes() == b"new and longer"
    assert path.stat().st_mtime_ns != OLD_NS
    assert _names(tmp_path) == ["all.atom"]


def test_same_size_different_bytes_are_written(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    write_if_changed(path, b"aaaa")
    assert write_if_changed(path, b"bbbb")
    assert path.read_bytes() == b"bbbb"


def test_empty_file_is_written_once(tmp_path: Path) -> None:
    path = tmp_path / "empty"
    assert write_if_changed(path, b"")
    assert not write_if_changed(path, b"")
    assert path.read_bytes() == b""


def test_mode_is_0644_whatever_the_umask(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    previous = os.umask(0o077)
    try:
        write_if_changed(path, b"one")
        write_if_changed(path, b"two")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def _raise_enospc(*args: object, **kwargs: object) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("step", ["fchmod", "fsync", "replace"])
def test_failure_keeps_the_old_file_and_leaves_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    path = tmp_path / "libya.rss"
    write_if_changed(path, b"old content")
    monkeypatch.setattr(os, step, _raise_enospc)
    with pytest.raises(OSError, match="No space left") as caught:
        write_if_changed(path, b"new content")
    monkeypatch.undo()
    assert caught.value.errno == errno.ENOSPC
    assert path.read_bytes() == b"old content"
    assert _names(tmp_path) == ["libya.rss"]


def test_failure_on_a_new_file_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "replace", _raise_enospc)
    with pytest.raises(OSError, match="No space left"):
        write_if_changed(tmp_path / "new.json", b"{}")
    monkeypatch.undo()
    assert _names(tmp_path) == []


def test_remove_file(tmp_path: Path) -> None:
    path = tmp_path / "gone.html"
    path.write_bytes(b"x")
    assert remove_file(path)
    assert not path.exists()
    assert not remove_file(path)


def _collecting(errors: list[BaseException], work: Callable[[], None]) -> Callable[[], None]:
    def run() -> None:
        try:
            work()
        except BaseException as error:  # reported by the test thread, which can fail
            errors.append(error)

    return run


def test_a_reader_never_sees_a_partial_file(tmp_path: Path) -> None:
    path = tmp_path / "big.atom"
    first, second = b"a" * 1_000_000 + b"\n", b"b" * 1_200_000 + b"\n"
    write_if_changed(path, first)
    writes, max_reads = 60, 20_000
    writer_done = threading.Event()
    errors: list[BaseException] = []
    seen: list[bytes] = []

    def write() -> None:
        try:
            for n in range(writes):
                assert write_if_changed(path, second if n % 2 == 0 else first)
        finally:
            writer_done.set()

    def read() -> None:
        for _ in range(max_reads):
            data = path.read_bytes()
            if data not in (first, second):
                seen.append(data[:20] + b"... %d bytes" % len(data))
            if writer_done.is_set():
                return

    threads = [threading.Thread(target=_collecting(errors, w)) for w in (write, read)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert seen == []
    assert path.read_bytes() == first
    assert _names(tmp_path) == ["big.atom"]


def test_writes_inside_one_sync_skip_their_own_fsyncs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    real_fsync = os.fsync

    def counting_fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", counting_fsync)
    with one_sync(tmp_path):
        for n in range(5):
            assert write_if_changed(tmp_path / "pages" / f"{n}.html", f"<p>{n}</p>".encode())
    assert synced == []
    assert [(tmp_path / "pages" / f"{n}.html").read_text() for n in range(5)] == [
        f"<p>{n}</p>" for n in range(5)
    ]
    assert write_if_changed(tmp_path / "alone.html", b"<p>alone</p>")
    assert len(synced) == 2  # outside: the file, then its folder


def test_stale_temporaries_of_a_killed_writer_are_removed_young_ones_kept(tmp_path: Path) -> None:
    (tmp_path / "archive").mkdir()
    stale = tmp_path / "archive" / ".2024-03.atom.k1x2.tmp"
    young = tmp_path / ".all.atom.9zq.tmp"
    feed = tmp_path / "all.atom"
    hidden = tmp_path / ".keep"
    for path in (stale, young, feed, hidden):
        path.write_bytes(b"x")
    os.utime(stale, (OLD_NS / 1e9, OLD_NS / 1e9))
    os.utime(feed, (OLD_NS / 1e9, OLD_NS / 1e9))
    assert remove_stale_temporaries(tmp_path, older_than=3600) == 1
    assert not stale.exists()
    assert young.exists()
    assert feed.exists()
    assert hidden.exists()
