"""Content files -> releases with their topic scores, in worker processes when there are many.

Reading, extracting and classifying one file is pure, CPU-bound work: a large scan hands it to
one worker process per core and stores the results itself. This module imports only what that
work needs, so the workers stay small.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from pressfeed.classify import Rules, classify, compile_rules, topic_reason
from pressfeed.errors import SourceError
from pressfeed.extract import extract_text
from pressfeed.models import FileRecord, Release, Settings, TopicReason
from pressfeed.processes import end_with_parent
from pressfeed.sources import SourceFile, read_with

POOL_FROM = 200  # files in one batch from which reading goes to worker processes


@dataclass(frozen=True)
class Read:
    """One file read and extracted: `releases` is None when its bytes had not changed and it
    was not asked to be read again. `same_bytes` (see `same_bytes`) says a file read again holds
    what it held before: nothing in it is news."""

    record: FileRecord
    releases: list[Release] | None
    scores: list[dict[str, TopicReason]]  # per release: its topics, by slug
    same_bytes: bool = False


class Reader:
    """Reads, extracts and classifies content files, in worker processes once there are many.

    Extraction and classification are pure, CPU-bound work on one file, so a large scan runs
    them on every core; the store is written by the scanning process alone.
    """

    def __init__(self, settings: Settings, rules: Rules, now: dt.datetime) -> None:
        self.settings = settings
        self.rules = rules
        self.now = now
        self.pool: ProcessPoolExecutor | None = None

    def read_all(
        self, batch: Sequence[tuple[SourceFile, FileRecord | None]]
    ) -> Iterable[Read | SourceError]:
        jobs = list(batch)
        if self.pool is None and len(jobs) >= POOL_FROM and worker_count(self.settings) > 1:
            self.pool = ProcessPoolExecutor(
                worker_count(self.settings),
                mp_context=multiprocessing.get_context("forkserver"),
                initializer=_start_worker,
                initargs=(self.settings, self.now),
            )
        if self.pool is None:
            return [self.read(*job) for job in jobs]
        return self.pool.map(_read_in_worker, jobs, chunksize=8)

    def read(self, file: SourceFile, known: FileRecord | None) -> Read | SourceError:
        """Read a file; skip extracting it when `known`, its record, has its bytes' hash and
        does not ask for it to be read again."""
        try:
            source = read_with(file, self.settings.read_limits)
        except SourceError as problem:
            return problem
        record = FileRecord(file.name, file.size, file.mtime_ns, source.sha256)
        if known is not None and known.sha256 == record.sha256 and not known.reread:
            return Read(record, None, [], same_bytes=True)
        releases = releases_in(file, source.text, self.now.date(), self.settings)
        scores = [reasons_of(r, self.rules) for r in releases]
        return Read(record, releases, scores, same_bytes=same_bytes(known, record))

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)
            self.pool = None


def same_bytes(known: FileRecord | None, found: FileRecord) -> bool:
    """Whether a file holds the bytes it held when last read, as far as its record tells.

    Older versions erased the hashes of all files to have them read again: a record without one
    can only be compared by size. The same size is taken for the same bytes, so that a release
    read differently in them is not mailed as news; a different size proves a change."""
    if known is None:
        return False
    if not known.sha256:
        return known.size == found.size
    return known.sha256 == found.sha256


def worker_count(settings: Settings) -> int:
    """The processes a large scan or publish uses: `workers`, or one per core when it is 0."""
    if settings.workers:
        return settings.workers
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


_worker: Reader | None = None


def _start_worker(settings: Settings, now: dt.datetime) -> None:
    global _worker
    end_with_parent()
    _worker = Reader(settings, compile_rules(settings.topics), now)


def _read_in_worker(job: tuple[SourceFile, FileRecord | None]) -> Read | SourceError:
    assert _worker is not None, "worker process not started"
    return _worker.read(*job)


def releases_of(file: SourceFile, settings: Settings, today: dt.date) -> list[Release]:
    """A file's releases, read as a scan reads it: what scan stores, classify shows and eval
    scores. Raises SourceError for a file that cannot be read."""
    return releases_in(file, read_with(file, settings.read_limits).text, today, settings)


def releases_in(file: SourceFile, text: str, today: dt.date, settings: Settings) -> list[Release]:
    """The releases in a file's text, with the configured publisher where the page names none."""
    found = extract_text(
        text, file.suffix, source=file.name, file_date=file_date(file), today=today
    )
    if not (publisher := organisation_of(file, settings)):
        return found
    return [replace(r, organisation=r.organisation or publisher) for r in found]


def organisation_of(file: SourceFile, settings: Settings) -> str:
    """Who published a file's releases when their page does not say: the `[sources]` entry of
    the deepest folder holding the file, else the `organisation` setting."""
    if not settings.sources:
        return settings.organisation
    name = content_name(file, settings.content_dir)
    holding = [s for s in settings.sources if name.startswith(s.folder + "/")]
    deepest = max(holding, key=lambda s: len(s.folder), default=None)
    return settings.organisation if deepest is None else deepest.organisation


def content_name(file: SourceFile, content_dir: Path) -> str:
    """The file's path relative to the content directory, as a scan names it; a file outside
    it keeps its own name (eval names files as the labels do)."""
    # abspath, not resolve: a link inside the content directory belongs to the link's folder.
    path, root = Path(os.path.abspath(file.path)), Path(os.path.abspath(content_dir))
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else file.name


def file_date(file: SourceFile) -> dt.date:
    """The date a file was last written, in UTC: the date of releases that print none."""
    return dt.datetime.fromtimestamp(file.mtime_ns / 1e9, dt.UTC).date()


def scores_of(release: Release, rules: Rules) -> dict[str, float]:
    """The scores of the topics a release carries, by slug."""
    return {s.slug: s.score for s in classify(release, rules, explain=False) if s.assigned}


def reasons_of(release: Release, rules: Rules) -> dict[str, TopicReason]:
    """The topics a release carries, by slug, each with its score and why in brief: what a
    scan stores, so that publishing says why without reading the file again."""
    scores = classify(release, rules)
    return {s.slug: reason for s in scores if (reason := topic_reason(s)) is not None}
