"""A draft topics file, compared and then installed as the live one in a single step.

The service reloads the live topics file within a second of any change, so changes are made
in the draft, previewed with `pressfeed topics diff`, and installed by `apply_draft`: the draft
is validated whole, the live file is copied to a backup, and the draft's bytes replace the
live file atomically (temporary file, fsync, rename), so the service reads either the old
topics or the new ones, never half a file.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from pressfeed.config import draft_topics_file, load_topics
from pressfeed.errors import ConfigError, ConfigProblem
from pressfeed.files import write_if_changed
from pressfeed.models import Settings, Topic

log = logging.getLogger(__name__)

BACKUP_SUFFIX = ".bak"  # the live file before the last apply: topics.toml.bak


@dataclass(frozen=True)
class Applied:
    live: Path
    backup: Path | None  # None when there was no live file to keep
    topics: tuple[Topic, ...]
    changed: bool  # False when the live file already held the draft


def draft_topics(settings: Settings) -> tuple[Path, tuple[Topic, ...]]:
    """The draft file and its topics; ConfigError (file, line, reason) when it is broken."""
    draft = _existing_draft(settings)
    return draft, load_topics(draft)


def apply_draft(settings: Settings) -> Applied:
    """Install the valid draft as the live topics file, keeping the old one as a backup."""
    draft = _existing_draft(settings)
    data = _bytes(draft)
    topics = load_topics(draft)
    if _bytes(draft) != data:  # what was checked must be what is installed
        reason = "changed while it was being applied; apply again"
        raise ConfigError([ConfigProblem(draft, None, "", reason)])
    live = settings.topics_file
    backup = _back_up(live)
    changed = write_if_changed(live, data)
    log.info("draft topics %s installed as %s", draft, live)
    return Applied(live, backup, topics, changed)


def _existing_draft(settings: Settings) -> Path:
    draft = draft_topics_file(settings)
    if not draft.is_file():
        reason = f"no draft topics file; copy {settings.topics_file.name} here and edit it"
        raise ConfigError([ConfigProblem(draft, None, "", reason)])
    return draft


def _back_up(live: Path) -> Path | None:
    try:
        old = live.read_bytes()
    except FileNotFoundError:
        return None
    backup = live.with_name(live.name + BACKUP_SUFFIX)
    write_if_changed(backup, old)
    return backup


def _bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        reason = f"cannot read: {error.strerror or error}"
        raise ConfigError([ConfigProblem(path, None, "", reason)]) from error
