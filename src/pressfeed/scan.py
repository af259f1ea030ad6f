"""Orchestrates one scan: content files -> releases -> topics -> the store."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine

from pressfeed import store
from pressfeed.classify import Rules, classify, compile_rules
from pressfeed.errors import SourceError
from pressfeed.extract import extract_text
from pressfeed.identity import merge_versions, text_hash
from pressfeed.models import FileRecord, Release, Settings, Topic
from pressfeed.sources import SourceFile, discover, read_source

log = logging.getLogger(__name__)

BATCH_FILES = 200
TOPICS_KEY = "topics_fingerprint"


@dataclass
class ScanReport:
    """What one scan found and changed."""

    files_seen: int = 0
    files_read: int = 0
    files_removed: int = 0
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    withdrawn: list[str] = field(default_factory=list)
    reclassified: int = 0
    problems: list[SourceError] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.withdrawn or self.reclassified)


Progress = Callable[[SourceFile], None]


def scan_content(
    settings: Settings, engine: Engine, *, now: dt.datetime, progress: Progress | None = None
) -> ScanReport:
    """Bring the store in line with the content directory; one bad file never stops the scan."""
    report = ScanReport()
    rules = compile_rules(settings.topics)
    _reclassify_if_topics_changed(engine, settings.topics, rules, report)
    with engine.connect() as connection:
        known = store.file_records(connection)
    batch: list[tuple[SourceFile, FileRecord | None]] = []
    for file in discover(settings.content_dir):
        report.files_seen += 1
        previous = known.pop(file.name, None)
        if previous is None or (previous.size, previous.mtime_ns) != (file.size, file.mtime_ns):
            batch.append((file, previous))
        if progress:
            progress(file)
        if len(batch) >= BATCH_FILES:
            _ingest(settings, engine, batch, rules, now, report)
            batch = []
    _ingest(settings, engine, batch, rules, now, report)
    _forget(engine, sorted(known), rules, now, report)
    return report


def _ingest(
    settings: Settings,
    engine: Engine,
    batch: Sequence[tuple[SourceFile, FileRecord | None]],
    rules: Sequence[Rules],
    now: dt.datetime,
    report: ScanReport,
) -> None:
    if not batch:
        return
    with engine.begin() as connection:
        for file, previous in batch:
            _ingest_file(settings, connection, file, previous, rules, now, report)


def _ingest_file(
    settings: Settings,
    connection: Connection,
    file: SourceFile,
    previous: FileRecord | None,
    rules: Sequence[Rules],
    now: dt.datetime,
    report: ScanReport,
) -> None:
    try:
        source = read_source(
            file, max_bytes=settings.max_file_bytes, fallback_encoding=settings.fallback_encoding
        )
    except SourceError as problem:
        log.debug("%s", problem)  # reported once, by the caller
        report.problems.append(problem)
        return  # what the file held before stays in the store
    record = FileRecord(file.name, file.size, file.mtime_ns, source.sha256)
    if previous and previous.sha256 == source.sha256:
        store.save_file(connection, record)
        return
    report.files_read += 1
    found = extract_text(
        source.text, file.suffix, source=file.name, file_date=file_date(file), today=now.date()
    )
    if not found:
        log.info("%s: no release found", file.name)
    affected = store.replace_sources(connection, file.name, found)
    store.save_file(connection, record)
    _refresh(connection, affected, rules, now, report)


def file_date(file: SourceFile) -> dt.date:
    """The date a file was last written, in UTC: the date of releases that print none."""
    return dt.datetime.fromtimestamp(file.mtime_ns / 1e9, dt.UTC).date()


def _forget(
    engine: Engine,
    paths: Sequence[str],
    rules: Sequence[Rules],
    now: dt.datetime,
    report: ScanReport,
) -> None:
    """Files gone from the content directory: their releases lose a source."""
    if not paths:
        return
    with engine.begin() as connection:
        for path in paths:
            affected = store.replace_sources(connection, path, [])
            store.delete_file(connection, path)
            report.files_removed += 1
            log.info("%s: file removed", path)
            _refresh(connection, affected, rules, now, report)


def _refresh(
    connection: Connection,
    ids: Iterable[str],
    rules: Sequence[Rules],
    now: dt.datetime,
    report: ScanReport,
) -> None:
    """Recompute each release from the files that hold it; withdraw it when none does."""
    for release_id in sorted(ids):
        versions = store.sources_of(connection, release_id)
        if not versions:
            if store.withdraw_release(connection, release_id, now):
                report.withdrawn.append(release_id)
                log.info("release withdrawn: %s", release_id)
            continue
        merged = merge_versions(versions)
        before = store.release_by_id(connection, release_id)
        stored = store.save_release(connection, merged, text_hash(merged), now)
        _classify(connection, merged, rules)
        if before is None or before.withdrawn_at is not None:
            report.added.append(release_id)
            log.info("release added: %s (%s)", merged.title, release_id)
        elif before.text_hash != stored.text_hash:
            report.updated.append(release_id)
            log.info("release updated: %s (%s)", merged.title, release_id)


def _classify(connection: Connection, release: Release, rules: Sequence[Rules]) -> bool:
    """Store a release's topics; True when they changed."""
    scores = {s.slug: s.score for s in classify(release, rules) if s.assigned}
    before = store.topics_of(connection, release.id)
    store.set_topics(connection, release.id, scores)
    return tuple(sorted(scores)) != before


def topics_fingerprint(topics: Sequence[Topic]) -> str:
    return hashlib.sha256(repr(tuple(topics)).encode()).hexdigest()


def _reclassify_if_topics_changed(
    engine: Engine, topics: Sequence[Topic], rules: Sequence[Rules], report: ScanReport
) -> None:
    """Topics changed since the last scan: the stored releases get the new verdicts."""
    fingerprint = topics_fingerprint(topics)
    with engine.begin() as connection:
        if store.meta_value(connection, TOPICS_KEY) == fingerprint:
            return
        for release_id in store.live_release_ids(connection):
            stored = store.release_by_id(connection, release_id)
            assert stored is not None
            report.reclassified += _classify(connection, stored.release, rules)
        store.set_meta_value(connection, TOPICS_KEY, fingerprint)
