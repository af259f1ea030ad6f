"""Error classes: each carries the facts and builds its own message."""

from __future__ import annotations

import errno
import os
from pathlib import Path


class PressfeedError(Exception):
    """Base of every error pressfeed reports to a user."""


class MailAddressError(PressfeedError, ValueError):
    """An address that mail cannot carry: it does not parse as exactly one mailbox.

    `what` names whose address it is ("sender", "address of subscriber 3f2a..."). Also a
    ValueError, for callers that handle any value mail refuses.
    """

    def __init__(self, what: str, address: str, reason: str = "is not an email address") -> None:
        self.what = what
        self.address = address
        self.reason = reason
        super().__init__(f"{what} {reason}: {address!r}")


class ConfigProblem:
    """One thing wrong in a configuration file."""

    def __init__(self, path: Path | str, line: int | None, key: str, reason: str) -> None:
        self.path = Path(path)
        self.line = line
        self.key = key
        self.reason = reason

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else str(self.path)
        return f"{where}: {self.key}: {self.reason}" if self.key else f"{where}: {self.reason}"

    def __repr__(self) -> str:
        return f"ConfigProblem({str(self)!r})"


class ConfigError(PressfeedError):
    """The configuration is invalid; lists every problem found."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems)
        noun = "problem" if len(problems) == 1 else "problems"
        super().__init__(f"invalid configuration ({len(problems)} {noun}):\n{lines}")


def printable_path(path: Path | str) -> str:
    """A file name on one printable line, its control characters and non-UTF-8 bytes escaped."""
    # os.fsdecode keeps a byte that is not UTF-8 as a lone surrogate, which no terminal prints.
    name = os.fsencode(path).decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() or c == " " else _escape(c) for c in name)


def _escape(char: str) -> str:
    return char.encode("unicode_escape").decode("ascii")


class SourceError(PressfeedError):
    """A content file cannot be read as text; it is skipped."""

    def __init__(self, path: Path | str, reason: str, line: int | None = None) -> None:
        self.path = Path(path)
        self.reason = reason
        self.line = line
        shown = printable_path(path)
        where = f"{shown}:{line}" if line else shown
        super().__init__(f"{where}: skipped: {reason}")

    def __reduce__(self) -> tuple[type[SourceError], tuple[Path, str, int | None]]:
        # Scans read files in worker processes, which send their problems back pickled.
        return (SourceError, (self.path, self.reason, self.line))


class TemplateError(PressfeedError):
    """A page or mail template that cannot be rendered: a syntax error, or a value it uses
    that the page does not give (a template of one's own from an older version)."""

    def __init__(self, template: str, line: int | None, reason: str) -> None:
        self.template = template
        self.line = line
        self.reason = reason
        where = f"{template}:{line}" if line else template
        super().__init__(f"template {where}: {reason}")

    def __reduce__(self) -> tuple[type[TemplateError], tuple[str, int | None, str]]:
        # Pages are rendered in worker processes, which send their errors back pickled.
        return (TemplateError, (self.template, self.line, self.reason))


class ContentDirectoryError(PressfeedError):
    """The content directory is not there (a typo, a share not mounted yet)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        super().__init__(f"{printable_path(path)}: content directory not found")


class StoreError(PressfeedError):
    """The database cannot be opened, migrated or written (locked by another writer, say)."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"database {url}: {reason}")


class LabelsError(PressfeedError):
    """A labels file for evaluation is malformed."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class ServiceError(PressfeedError):
    """The service cannot start, for instance because its port is taken."""

    def __init__(self, host: str, port: int, reason: str) -> None:
        self.host = host
        self.port = port
        self.reason = reason
        super().__init__(f"cannot listen on {host}:{port}: {reason}")


class WriteError(PressfeedError, OSError):
    """A file cannot be written; the file already there, if any, is left whole.

    Also an OSError with the cause's errno, for callers that handle any failed write.
    """

    def __init__(self, path: Path | str, error: OSError) -> None:
        self.path = Path(path)
        self.reason = _write_reason(error, self.path)
        super().__init__(error.errno, error.strerror, str(path))

    def __str__(self) -> str:
        return f"cannot write {self.path}: {self.reason}"

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        # Raised in a worker process, it must arrive whole in the parent.
        return (_restored_write_error, (self.path, self.reason, self.errno, self.strerror))


def _restored_write_error(path: Path, reason: str, number: int, text: str) -> WriteError:
    error = WriteError(path, OSError(number, text))
    error.reason = reason
    return error


def _write_reason(error: OSError, path: Path) -> str:
    text = error.strerror or str(error)
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"the disk is full ({text})"
    if error.filename and str(error.filename) != str(path):
        return f"{error.filename}: {text}"
    return text


class HubRequestError(PressfeedError, ValueError):
    """A WebSub request the hub refuses: `field` is the parameter at fault, `reason` says why."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


class HubBusyError(HubRequestError):
    """The WebSub hub holds all the subscriptions, or verifies all the requests, it takes."""


class QueryError(PressfeedError, ValueError):
    """A search query that cannot be run: `reason` says why, `position` where (from 0)."""

    def __init__(self, query: str, reason: str, position: int | None = None) -> None:
        self.query = query
        self.reason = reason
        self.position = position
        where = f" (at character {position + 1})" if position is not None else ""
        super().__init__(f"bad search query: {reason}{where}")


class SearchTimeoutError(PressfeedError):
    """A search ran past its time bound and was stopped."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        super().__init__(f"the search took longer than {seconds:g} s and was stopped")


class SearchUnavailableError(PressfeedError):
    """The database has no full-text index of a kind pressfeed can search."""

    def __init__(self, database: str) -> None:
        self.database = database
        super().__init__(f"searching needs a full-text index, which {database} does not have yet")
