"""Finds, reads, decodes and hashes content files."""

from __future__ import annotations

import codecs
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pressfeed.errors import SourceError
from pressfeed.markup import declared_charset

SUFFIXES = frozenset({".txt", ".md", ".markdown", ".html", ".htm"})
_BINARY_SNIFF = 8192
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


@dataclass(frozen=True)
class SourceFile:
    """A content file found on disk."""

    path: Path
    name: str  # relative to the content directory, with forward slashes
    size: int
    mtime_ns: int

    @property
    def suffix(self) -> str:
        return self.path.suffix.lower()


@dataclass(frozen=True)
class SourceText:
    text: str
    sha256: str


def discover(root: Path) -> Iterator[SourceFile]:
    """Content files under `root`, recursively, in path order; hidden and temp names skipped."""
    # os.walk gives a folder's files before its subfolders' ("z.txt" before "a/b.txt").
    yield from sorted(_walk(root), key=lambda f: f.name.split("/"))


def _walk(root: Path) -> Iterator[SourceFile]:
    for directory, subdirs, names in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if not _is_hidden(d))
        for name in sorted(names):
            if _is_hidden(name) or Path(name).suffix.lower() not in SUFFIXES:
                continue
            path = Path(directory, name)
            try:
                stat = path.stat()
            except OSError:
                continue  # removed while we looked
            relative = path.relative_to(root).as_posix()
            yield SourceFile(path, relative, stat.st_size, stat.st_mtime_ns)


def _is_hidden(name: str) -> bool:
    return name.startswith((".", "~", "#")) or name.endswith(("~", ".tmp", ".part", ".swp"))


def read_source(file: SourceFile, *, max_bytes: int, fallback_encoding: str = "") -> SourceText:
    """A file's text, decoded; raises SourceError for what cannot be read as text."""
    if file.size > max_bytes:
        raise SourceError(file.name, f"{file.size} bytes, over max_file_bytes ({max_bytes})")
    try:
        data = file.path.read_bytes()
    except OSError as error:
        raise SourceError(file.name, f"cannot read: {error.strerror or error}") from error
    if len(data) > max_bytes:
        raise SourceError(file.name, f"{len(data)} bytes, over max_file_bytes ({max_bytes})")
    text = decode(
        data, file.name, is_html=file.suffix in (".html", ".htm"), fallback=fallback_encoding
    )
    if not text.strip():  # after decoding: a BOM or UTF-16 spaces are whitespace too
        raise SourceError(file.name, "empty file")
    return SourceText(text, hashlib.sha256(data).hexdigest())


def decode(data: bytes, name: str, *, is_html: bool = False, fallback: str = "") -> str:
    """Bytes to text: a BOM decides, else UTF-8, else the page's declared or configured charset."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return _decode_as(data, codec, name)
    if b"\x00" in data[:_BINARY_SNIFF]:
        raise SourceError(name, "binary file (NUL bytes), not text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        charset = declared_charset(data[:4096]) if is_html else None
        if charset and _codec_name(charset) not in (None, "utf-8"):
            return _decode_as(data, charset, name)
        if fallback:
            return _decode_as(data, fallback, name)
        line = data[: error.start].count(b"\n") + 1
        reason = f"not valid UTF-8 (byte {error.start}); set fallback_encoding to read it"
        raise SourceError(name, reason, line=line) from error


def _codec_name(charset: str) -> str | None:
    try:
        return codecs.lookup(charset).name
    except LookupError:
        return None


def _decode_as(data: bytes, codec: str, name: str) -> str:
    try:
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError) as error:
        raise SourceError(name, f"cannot decode as {codec}: {error}") from error
