"""Finds, reads, decodes and hashes content files."""

from __future__ import annotations

import codecs
import errno
import hashlib
import logging
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from stat import S_ISCHR, S_ISFIFO, S_ISLNK, S_ISREG, S_ISSOCK

from pressfeed.errors import SourceError
from pressfeed.markup import declared_charset
from pressfeed.models import ReadLimits

log = logging.getLogger(__name__)

SUFFIXES = frozenset({".txt", ".md", ".markdown", ".html", ".htm"})
_BINARY_SNIFF = 8192
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_UNDECODABLE = re.compile("[\udc80-\udcff]")  # bytes of a name os.fsdecode could not read


@dataclass(frozen=True)
class SourceFile:
    """A content file found on disk."""

    path: Path
    name: str  # relative to the content directory, with forward slashes
    size: int
    mtime_ns: int
    # False for a file discover found as a regular file: a link put in its place is not followed
    follow_link: bool = field(default=True, compare=False)

    @property
    def suffix(self) -> str:
        return self.path.suffix.lower()


@dataclass(frozen=True)
class SourceText:
    text: str
    sha256: str


Problem = Callable[[SourceError], None]


def discover(root: Path, on_problem: Problem | None = None) -> Iterator[SourceFile]:
    """Content files under `root`, recursively, in path order; hidden and temp names skipped.

    What cannot be a content file (a link leading outside `root` or nowhere, a FIFO, a folder
    that cannot be listed) goes to `on_problem`, or to the log when none is given.
    """
    report = on_problem or _log_problem
    # os.walk gives a folder's files before its subfolders' ("z.txt" before "a/b.txt").
    yield from sorted(_walk(root, report), key=lambda f: f.name.split("/"))


def _log_problem(problem: SourceError) -> None:
    log.warning("%s", problem)


def _walk(root: Path, report: Problem) -> Iterator[SourceFile]:
    real_root = Path(os.path.realpath(root))

    def unlistable(error: OSError) -> None:
        if error.filename and Path(error.filename) != root:
            where = Path(error.filename).relative_to(root).as_posix()
            report(SourceError(where, f"folder cannot be listed: {error.strerror or error}"))

    # Links to folders are never followed (os.walk's default): no loops, no way out of root.
    for directory, subdirs, names in os.walk(root, onerror=unlistable):
        subdirs[:] = sorted(d for d in subdirs if not _is_hidden(d))
        for name in subdirs:
            folder = Path(directory, name)
            if folder.is_symlink() and not _inside(folder, real_root):
                where = folder.relative_to(root).as_posix()
                reason = "symbolic link to a folder outside the content directory, not followed"
                report(SourceError(where, reason))
        for name in sorted(names):
            if _is_hidden(name) or Path(name).suffix.lower() not in SUFFIXES:
                continue
            path = Path(directory, name)
            relative = path.relative_to(root).as_posix()
            try:
                yield _source_file(path, relative, real_root)
            except SourceError as problem:
                report(problem)
            except FileNotFoundError:
                continue  # removed while we looked
            except OSError as error:
                report(SourceError(relative, f"cannot read: {error.strerror or error}"))


def _source_file(path: Path, relative: str, real_root: Path) -> SourceFile:
    """The file at `path`, if it is one pressfeed may read; raises SourceError if not."""
    if _UNDECODABLE.search(relative):
        raise SourceError(relative, "file name is not valid UTF-8; rename the file")
    stat = path.lstat()  # one call for the common case, a regular file
    link = S_ISLNK(stat.st_mode)
    if link:
        if not _inside(path, real_root):
            reason = "symbolic link to outside the content directory, not followed"
            raise SourceError(relative, reason)
        stat = _target(path, relative)
    if not S_ISREG(stat.st_mode):
        raise SourceError(relative, f"not a regular file ({_kind(stat.st_mode)})")
    return SourceFile(path, relative, stat.st_size, stat.st_mtime_ns, follow_link=link)


def _target(link: Path, relative: str) -> os.stat_result:
    try:
        return link.stat()
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise SourceError(relative, "symbolic link loop") from error
        if error.errno == errno.ENOENT:
            raise SourceError(relative, "symbolic link to a missing file") from error
        raise SourceError(relative, f"cannot read: {error.strerror or error}") from error


def _inside(path: Path, real_root: Path) -> bool:
    return Path(os.path.realpath(path)).is_relative_to(real_root)


def _kind(mode: int) -> str:
    kinds = ((S_ISFIFO, "a FIFO"), (S_ISSOCK, "a socket"), (S_ISCHR, "a character device"))
    return next((kind for test, kind in kinds if test(mode)), "a block device")


def _is_hidden(name: str) -> bool:
    return name.startswith((".", "~", "#")) or name.endswith(("~", ".tmp", ".part", ".swp"))


def read_with(file: SourceFile, limits: ReadLimits) -> SourceText:
    """A file's text read within the limits; raises SourceError as read_source does."""
    return read_source(
        file,
        max_bytes=limits.max_bytes,
        max_lines=limits.max_lines,
        fallback_encoding=limits.fallback_encoding,
    )


def read_source(
    file: SourceFile, *, max_bytes: int, fallback_encoding: str = "", max_lines: int = 0
) -> SourceText:
    """A file's text, decoded; raises SourceError for what cannot be read as text.

    Never reads more than `max_bytes` + 1 bytes, even from a file that grew since it was
    found; a file whose size or time changed while it was read is still being written, and
    is left for the next scan. `max_lines` (0: no limit) bounds the lines of the text.
    """
    if file.size > max_bytes:
        raise SourceError(file.name, f"{file.size} bytes, over max_file_bytes ({max_bytes})")
    data = _read_bytes(file, max_bytes)
    text = decode(
        data, file.name, is_html=file.suffix in (".html", ".htm"), fallback=fallback_encoding
    )
    if not text.strip():  # after decoding: a BOM or UTF-16 spaces are whitespace too
        raise SourceError(file.name, "empty file")
    lines = text.count("\n") + 1
    if max_lines and lines > max_lines:
        raise SourceError(file.name, f"{lines} lines, over max_file_lines ({max_lines})")
    return SourceText(text, hashlib.sha256(data).hexdigest())


def _read_bytes(file: SourceFile, max_bytes: int) -> bytes:
    # O_NONBLOCK: a FIFO put in the file's place since it was found must not hang the scan;
    # O_NOFOLLOW: nor may a link put there lead outside the content directory.
    flags = os.O_RDONLY | _O_NONBLOCK | (0 if file.follow_link else _O_NOFOLLOW)
    try:
        with open(os.open(file.path, flags), "rb") as handle:
            before = os.fstat(handle.fileno())
            if not S_ISREG(before.st_mode):
                raise SourceError(file.name, f"not a regular file ({_kind(before.st_mode)})")
            data = handle.read(max_bytes + 1)
            after = os.fstat(handle.fileno())
            if len(data) > max_bytes:
                size = max(after.st_size, len(data))
                raise SourceError(file.name, f"{size} bytes, over max_file_bytes ({max_bytes})")
    except FileNotFoundError as error:
        raise SourceError(file.name, "cannot read: removed since it was found") from error
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise SourceError(file.name, "replaced by a symbolic link, not followed") from error
        raise SourceError(file.name, f"cannot read: {error.strerror or error}") from error
    found = (file.size, file.mtime_ns)
    read = (len(data), after.st_mtime_ns)
    changing = (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns)
    if read != found or changing:
        raise SourceError(
            file.name,
            f"still being written ({file.size} bytes when found, {len(data)} when read); "
            "it is read again on the next scan",
        )
    return data


def decode(data: bytes, name: str, *, is_html: bool = False, fallback: str = "") -> str:
    """Bytes to text: a BOM decides, else UTF-8, else the page's declared or configured charset.

    Text that is mostly UTF-8 with a few broken bytes is a damaged UTF-8 file, not a legacy
    one: it is reported rather than read as a legacy charset, which would garble every accent.
    """
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return _decode_as(data, codec, name)
    if b"\x00" in data[:_BINARY_SNIFF]:
        raise SourceError(name, _binary_reason(data[:_BINARY_SNIFF]))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        where = f"not valid UTF-8 (byte {error.start})"
        if _damaged_utf8(data):
            raise SourceError(name, f"{where}, in text that is otherwise UTF-8", line) from error
        charset = declared_charset(data[:4096]) if is_html else None
        # UTF-7 would turn "+ADw-" into "<": browsers refuse it as a page's charset, and so do we.
        if charset and _codec_name(charset) not in (None, "utf-8", "utf-7"):
            return _decode_as(data, charset, name)
        if fallback:
            return _decode_as(data, fallback, name)
        raise SourceError(name, f"{where}; set fallback_encoding to read it", line) from error


def _binary_reason(head: bytes) -> str:
    # UTF-16 text saved without its byte order mark has a NUL in every other byte.
    if head[1::2].count(0) > 0.9 * len(head[1::2]) or head[::2].count(0) > 0.9 * len(head[::2]):
        return (
            "binary file (NUL bytes); if it is UTF-16 without a byte order mark, save it as UTF-8"
        )
    return "binary file (NUL bytes), not text"


def _damaged_utf8(data: bytes) -> bool:
    """More well-formed multi-byte UTF-8 characters than bytes that are not UTF-8."""
    text = data.decode("utf-8", "surrogateescape")
    broken = len(_UNDECODABLE.findall(text))
    non_ascii = len(text) - len(text.encode("ascii", "ignore"))
    return non_ascii - broken > broken


def _codec_name(charset: str) -> str | None:
    try:
        return codecs.lookup(charset).name
    except LookupError:
        return None


def _decode_as(data: bytes, codec: str, name: str) -> str:
    try:
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError) as error:
        raise SourceError(name, f"cannot decode as {codec}: {error}", _line(data, error)) from error


def _line(data: bytes, error: UnicodeDecodeError | LookupError) -> int | None:
    """The line (from 1) of the byte that could not be decoded, for a single-byte charset."""
    if isinstance(error, UnicodeDecodeError) and data.find(b"\x00") < 0:
        return data[: error.start].count(b"\n") + 1
    return None
