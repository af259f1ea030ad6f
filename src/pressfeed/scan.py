"""Orchestrates one scan: content files -> releases -> topics -> the store."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine

from pressfeed import store
from pressfeed.classify import Rules, compile_rules
from pressfeed.errors import ContentDirectoryError, SourceError
from pressfeed.identity import adopt_ids, merge_versions, text_hash, title_key
from pressfeed.models import (
    ALL_FEED,
    FileRecord,
    Release,
    Settings,
    StoredRelease,
    Topic,
    TopicReason,
)
from pressfeed.reading import Read, Reader, reasons_of
from pressfeed.sources import SourceFile, discover

log = logging.getLogger(__name__)

BATCH_FILES = 200
RECLASSIFY_BATCH = 500
TOPICS_KEY = "topics_fingerprint"
PUBLISHERS_KEY = "publishers_fingerprint"
BACKFILL_KEY = "backfill_started"


@dataclass
class ScanReport:
    """What one scan found and changed."""

    files_seen: int = 0
    files_read: int = 0
    files_removed: int = 0
    added: int = 0
    updated: int = 0
    withdrawn: int = 0
    reclassified: int = 0
    stopped: bool = False  # asked to stop before the end
    problems: list[SourceError] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.withdrawn or self.reclassified)


Progress = Callable[[SourceFile], None]
_Batch = tuple[list[tuple[SourceFile, FileRecord | None]], Iterable["Read | SourceError"]]


def scan_content(
    settings: Settings,
    engine: Engine,
    *,
    now: dt.datetime,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> ScanReport:
    """Bring the store in line with the content directory; one bad file never stops the scan.

    `should_stop` is asked between batches: a scan stopped early has stored whole batches
    only, and the next scan goes on from there. A missing content directory is an error, never
    an empty one: a share not mounted yet must not withdraw every release.
    """
    require_content_dir(settings)
    report = ScanReport()
    rules = compile_rules(settings.topics)
    now = _backfill_time(engine, now)
    _reclassify_if_topics_changed(engine, settings.topics, rules, report)
    _reread_if_publishers_changed(engine, settings)
    with engine.connect() as connection:
        known = store.file_records(connection)
    reader = Reader(settings, rules, now)
    try:
        # While one batch is stored, worker processes already read the next.
        batch: list[tuple[SourceFile, FileRecord | None]] = []
        waiting: _Batch | None = None
        for file in discover(settings.content_dir, report.problems.append):
            report.files_seen += 1
            previous = known.pop(file.name, None)
            if _to_read(file, previous):
                batch.append((file, previous))
            if progress:
                progress(file)
            if len(batch) >= BATCH_FILES:
                started = (batch, reader.read_all(batch))
                batch = []
                if waiting:
                    _ingest(engine, *waiting, reader, now, report)
                waiting = started
                if should_stop():
                    _ingest(engine, *waiting, reader, now, report)
                    report.stopped = True
                    return report  # files not seen yet are not gone: nothing is withdrawn
        if waiting:
            _ingest(engine, *waiting, reader, now, report)
        _ingest(engine, batch, reader.read_all(batch), reader, now, report)
    finally:
        reader.close()
    _forget(engine, sorted(known), rules, now, report)
    _close_backfill(engine, now)
    return report


def _to_read(file: SourceFile, previous: FileRecord | None) -> bool:
    """Whether a file may have changed since it was last read, or is asked to be read again."""
    if previous is None or previous.reread:
        return True
    return (previous.size, previous.mtime_ns) != (file.size, file.mtime_ns)


def require_content_dir(settings: Settings) -> None:
    """Raise ContentDirectoryError unless the content directory exists."""
    if not settings.content_dir.is_dir():
        raise ContentDirectoryError(settings.content_dir)


def _close_backfill(engine: Engine, now: dt.datetime) -> None:
    """The first scan that stores any release is the archive (a backfill), mailed to nobody.

    Scans that found nothing before it (an empty folder, one still being filled) do not count:
    the archive arriving later is still the archive.
    """
    with engine.begin() as connection:
        if store.news_since(connection) is not None:
            return
        if store.any_release(connection):
            store.set_news_since(connection, now)
        else:
            store.delete_meta_value(connection, BACKFILL_KEY)  # the next scan starts afresh


def _backfill_time(engine: Engine, now: dt.datetime) -> dt.datetime:
    """The time of the first scan, taken over by whichever scan completes it.

    A first scan cut short (a crash, a stop) and resumed is one backfill: its releases are all
    seen at one time, so same-day releases are ordered as if it had never been interrupted.
    """
    with engine.begin() as connection:
        if store.news_since(connection) is not None:
            return now
        started = store.meta_value(connection, BACKFILL_KEY)
        if started is None:
            store.set_meta_value(connection, BACKFILL_KEY, now.isoformat())
            return now
    return dt.datetime.fromisoformat(started)


def _ingest(
    engine: Engine,
    batch: Sequence[tuple[SourceFile, FileRecord | None]],
    reads: Iterable[Read | SourceError],
    reader: Reader,
    now: dt.datetime,
    report: ScanReport,
) -> None:
    """Store a batch of files, read and extracted by `reader`, in one transaction."""
    if not batch:
        return
    found: dict[str, list[Release]] = {}
    unchanged: list[str] = []  # files read again in the bytes they held
    records: list[FileRecord] = []
    classified: dict[Release, dict[str, TopicReason]] = {}
    for file, read in zip((f for f, _ in batch), reads, strict=True):
        if isinstance(read, SourceError):
            log.debug("%s", read)  # reported once, by the caller
            report.problems.append(read)
            continue  # what the file held before stays in the store
        records.append(read.record)
        if read.releases is None:
            continue  # touched, but the same bytes
        report.files_read += 1
        found[file.name] = read.releases
        if read.same_bytes:
            unchanged.append(file.name)
        classified.update(zip(read.releases, read.scores, strict=True))
        if not read.releases:
            log.info("%s: no release found", file.name)
    with engine.begin() as connection:
        found = _with_adopted_ids(connection, found)
        arrived = _arrived_before(connection, {path: found[path] for path in unchanged})
        affected = store.replace_sources(connection, found)
        store.save_files(connection, records)
        _refresh(connection, affected, reader.rules, now, report, classified, arrived)


def _arrived_before(
    connection: Connection, unchanged: Mapping[str, list[Release]]
) -> dict[str, dt.datetime]:
    """When the releases of files read again in unchanged bytes arrived: with the first release
    each file held. A release such a file now gives under a new id (read by a better extractor:
    another headline or date) is an old one corrected, never news for a digest.

    The earliest arrival is the one sure to be no news; a release that a digest had not mailed
    yet when its id changed is then not mailed either (it is in the feeds)."""
    held = store.earliest_arrivals(connection, unchanged)
    arrived: dict[str, dt.datetime] = {}
    for path, first in held.items():
        for release in unchanged[path]:
            arrived[release.id] = min(first, arrived.get(release.id, first))
    return arrived


def _with_adopted_ids(
    connection: Connection, found: Mapping[str, list[Release]]
) -> dict[str, list[Release]]:
    """A headline printed with and without a date in two files is one release."""
    keys = {title_key(r.title) for releases in found.values() for r in releases}
    namesakes = store.namesakes(connection, keys)
    return {path: adopt_ids(releases, namesakes) for path, releases in found.items()}


def _forget(
    engine: Engine,
    paths: Sequence[str],
    rules: Rules,
    now: dt.datetime,
    report: ScanReport,
) -> None:
    """Files gone from the content directory: their releases lose a source."""
    for start in range(0, len(paths), BATCH_FILES):
        batch = paths[start : start + BATCH_FILES]
        with engine.begin() as connection:
            affected = store.replace_sources(connection, {path: [] for path in batch})
            store.delete_files(connection, batch)
            _refresh(connection, affected, rules, now, report)
        report.files_removed += len(batch)
        for path in batch:
            log.info("%s: file removed", path)


def _refresh(
    connection: Connection,
    ids: Iterable[str],
    rules: Rules,
    now: dt.datetime,
    report: ScanReport,
    classified: Mapping[Release, Mapping[str, TopicReason]] | None = None,
    arrived: Mapping[str, dt.datetime] | None = None,
) -> None:
    """Recompute each release from the files that hold it; withdraw it when none does.

    `classified` holds scores already computed for extracted versions; a merged release equal
    to one of them is not classified again. `arrived` gives releases new to the store that were
    found before under another id their first arrival (see `_arrived_before`)."""
    ids = sorted(ids)
    versions = store.sources_of(connection, ids)
    previous = store.releases_by_id(connection, ids)
    gone = [i for i in ids if i not in versions and i in previous and not previous[i].withdrawn_at]
    store.withdraw_releases(connection, gone, now)
    merged = [merge_versions(versions[i]) for i in ids if i in versions]
    hashed = [(release, text_hash(release)) for release in merged]
    changed = [h for h in hashed if _differs(h, previous)]
    store.save_releases(connection, changed, previous, now, arrived)
    known = classified or {}
    scores = {r.id: dict(known[r]) if r in known else reasons_of(r, rules) for r in merged}
    store.set_topics(connection, scores)
    moved = [r for r in merged if tuple(sorted(scores[r.id])) != _topics_before(previous, r.id)]
    _mark_for_publishing(
        connection,
        [previous[i] for i in gone],
        [(r, tuple(scores[r.id])) for r in {*[h[0] for h in changed], *moved}],
        previous,
    )
    _report(report, gone, hashed, previous)


def _topics_before(previous: Mapping[str, StoredRelease], release_id: str) -> tuple[str, ...]:
    before = previous.get(release_id)
    return before.topics if before and before.withdrawn_at is None else ()


def _mark_for_publishing(
    connection: Connection,
    withdrawn: Sequence[StoredRelease],
    changed: Sequence[tuple[Release, tuple[str, ...]]],
    previous: Mapping[str, StoredRelease],
) -> None:
    """Record which pages, feeds and archive months the next publish must rebuild."""
    places: set[tuple[str, str]] = set()  # (feed slug, month)
    for stored in withdrawn:
        places |= _places(stored.release.date, stored.topics)
    for release, topics in changed:
        places |= _places(release.date, topics)
        before = previous.get(release.id)
        if before is not None:
            places |= _places(before.release.date, before.topics)
    releases = [s.release.id for s in withdrawn] + [r.id for r, _ in changed]
    store.mark_pending(connection, "release", releases)
    store.mark_pending(connection, "feed", {slug for slug, _ in places})
    store.mark_pending(connection, "month", {f"{slug}/{month}" for slug, month in places})


def _places(date: dt.date, topics: Iterable[str]) -> set[tuple[str, str]]:
    month = f"{date:%Y-%m}"
    return {(slug, month) for slug in (ALL_FEED, *topics)}


def _differs(hashed: tuple[Release, str], previous: Mapping[str, StoredRelease]) -> bool:
    release = hashed[0]
    before = previous.get(release.id)
    return before is None or before.withdrawn_at is not None or before.release != release


def _report(
    report: ScanReport,
    gone: Sequence[str],
    hashed: Sequence[tuple[Release, str]],
    previous: Mapping[str, StoredRelease],
) -> None:
    for release_id in gone:
        report.withdrawn += 1
        log.info("release withdrawn: %s", release_id)
    for release, hash_ in hashed:
        before = previous.get(release.id)
        if before is None or before.withdrawn_at is not None:
            report.added += 1
            log.info("release added: %s (%s)", release.title, release.id)
        elif before.text_hash != hash_:
            report.updated += 1
            log.info("release updated: %s (%s)", release.title, release.id)


def topics_fingerprint(topics: Sequence[Topic]) -> str:
    return hashlib.sha256(repr(tuple(topics)).encode()).hexdigest()


def _reclassify_if_topics_changed(
    engine: Engine, topics: Sequence[Topic], rules: Rules, report: ScanReport
) -> None:
    """Topics changed since the last scan: the stored releases get the new verdicts."""
    fingerprint = topics_fingerprint(topics)
    with engine.begin() as connection:
        if store.meta_value(connection, TOPICS_KEY) == fingerprint:
            return
        ids = store.live_release_ids(connection)
        for start in range(0, len(ids), RECLASSIFY_BATCH):
            stored = store.releases_by_id(connection, ids[start : start + RECLASSIFY_BATCH])
            scores = {i: reasons_of(s.release, rules) for i, s in stored.items()}
            changed = {i: v for i, v in scores.items() if _shown(v) != _shown_before(stored[i])}
            store.set_topics(connection, changed)
            moved = [(stored[i].release, tuple(v)) for i, v in changed.items()]
            _mark_for_publishing(connection, [], moved, stored)
            report.reclassified += sum(
                tuple(sorted(v)) != stored[i].topics for i, v in changed.items()
            )
        store.set_meta_value(connection, TOPICS_KEY, fingerprint)


def _shown(reasons: Mapping[str, TopicReason]) -> list[tuple[str, tuple[tuple[str, str], ...]]]:
    """What feeds and pages show of a release's topics: each topic and why it carries it."""
    return [(slug, reasons[slug].found) for slug in sorted(reasons)]


def _shown_before(stored: StoredRelease) -> list[tuple[str, tuple[tuple[str, str], ...]]]:
    found = {r.slug: r.found for r in stored.reasons}
    return [(slug, found.get(slug, ())) for slug in stored.topics]


def _reread_if_publishers_changed(engine: Engine, settings: Settings) -> None:
    """`organisation` or a `[sources]` table changed since the last scan: every file is read
    again, so that stored releases take the publisher now configured for them."""
    publishers = (settings.organisation, sorted(settings.sources, key=lambda s: s.folder))
    fingerprint = hashlib.sha256(repr(publishers).encode()).hexdigest()
    with engine.begin() as connection:
        if store.meta_value(connection, PUBLISHERS_KEY) == fingerprint:
            return
        store.mark_files_to_read_again(connection)
        store.set_meta_value(connection, PUBLISHERS_KEY, fingerprint)
