"""Error classes: each carries the facts and builds its own message."""

from __future__ import annotations

from pathlib import Path


class PressfeedError(Exception):
    """Base of every error pressfeed reports to a user."""


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


class SourceError(PressfeedError):
    """A content file cannot be read as text; it is skipped."""

    def __init__(self, path: Path | str, reason: str, line: int | None = None) -> None:
        self.path = Path(path)
        self.reason = reason
        self.line = line
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: skipped: {reason}")


class StoreError(PressfeedError):
    """The database cannot be opened or migrated."""

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
