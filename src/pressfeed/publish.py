"""Orchestrates publishing: the store -> feeds, archives and pages -> files, only what changed.

Output, under the output directory: the current feed of each topic (and of everything), its
archive pages in Atom and in HTML with an index of its months, its pages of releases, a page
per release, the index page, a subscription list and the stylesheet, each at the path `site`
gives it.
Scans record what changed (pending rows); a publish rebuilds just that and clears it, so a
crash in between leaves the work for the next publish. Files are written atomically and only
when their bytes change.
"""

from __future__ import annotations

import bisect
import contextlib
import datetime as dt
import hashlib
import itertools
import json
import logging
import math
import multiprocessing
import os
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import jinja2
from sqlalchemy import Connection, Engine

from pressfeed import __version__, store
from pressfeed.feeds import FeedFormat, archive_formats, feed_formats, opml_bytes
from pressfeed.files import (
    deferred_sync,
    one_sync,
    remove_file,
    remove_stale_temporaries,
    write_if_changed,
)
from pressfeed.models import (
    ALL_FEED,
    ArchiveLinks,
    FeedDoc,
    FeedLinks,
    Headline,
    OutputRecord,
    Settings,
    StoredRelease,
)
from pressfeed.pages import (
    ArchiveMonth,
    Listed,
    MonthPage,
    PageLink,
    Site,
    TopicPage,
    TopicSummary,
    render_archive_index,
    render_index,
    render_month_page,
    render_release,
    render_stylesheet,
    render_topic_page,
    render_withdrawn,
)
from pressfeed.processes import end_with_parent
from pressfeed.reading import worker_count
from pressfeed.site import (
    INDEX_PATH,
    OPML_PATH,
    STYLESHEET_PATH,
    archive_base,
    archive_folder,
    archive_location,
    archive_order,
    archive_page,
    archive_pages,
    archive_path,
    archive_url,
    feed_base,
    feed_doc,
    feed_links,
    feed_path,
    folder_page,
    hub_url,
    page_month,
    page_url,
    published,
    release_path,
    release_url,
    site_for,
    topic_folder,
    topic_location,
    topic_url,
    why_line,
)
from pressfeed.store import Neighbours
from pressfeed.templating import environment, long_month

log = logging.getLogger(__name__)

FINGERPRINT_KEY = "publish_fingerprint"
VERSION_KEY = "published_version"  # the store's count of changes that the last publish saw
SLUGS_KEY = "published_slugs"
PAGES_KEY = "archive_months"  # per feed: its archive pages as last published
COUNTS_KEY = "browse_counts"  # per feed: its releases by month and kind of date, as published
LATEST_ON_INDEX = 5
FIRST_PUBLISH_KEY = "first_published"
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
PAGE_BATCH = 500
ARCHIVE_BATCH = 24  # archive pages
BULK_FILES = 100
STALE_TEMPORARY = 3600.0  # seconds; a temporary file this old was left by a killed writer
PARALLEL_RELEASES = 1000


@dataclass
class PublishReport:
    """Files a publish wrote, left alone because unchanged, or removed; and what the files it
    rendered were rendered from."""

    written: int = 0
    unchanged: int = 0
    removed: int = 0
    rendered: list[OutputRecord] = field(default_factory=list)
    feeds: list[str] = field(default_factory=list)  # URLs of the current feeds rewritten

    def count(self, written: bool) -> None:
        if written:
            self.written += 1
        else:
            self.unchanged += 1


class _Outputs:
    """Writes published files, rendering only those whose inputs changed since they were written.

    A file is skipped, unrendered, when the store says it was written from the same inputs (a
    hash of the settings' fingerprint and of what it shows) and the file on disk still has the
    size and modification time it had then: a file changed or removed by hand is written again.
    """

    def __init__(
        self, connection: Connection, settings: Settings, fingerprint: str, paths: Sequence[str]
    ) -> None:
        self.root = settings.output_dir
        self.fingerprint = fingerprint
        self.known = store.output_records(connection, paths)

    def inputs(self, shown: object) -> str:
        """The hash naming what a file would be rendered from: `shown`, whose repr is complete."""
        return hashlib.sha256(f"{self.fingerprint}\n{shown!r}".encode()).hexdigest()

    def current(self, path: str, inputs: str) -> bool:
        """Whether the file on disk is as written from these inputs."""
        known = self.known.get(path)
        return known is not None and known.inputs == inputs and _as_written(self.root / path, known)

    def write(
        self, path: str, inputs: str, render: Callable[[], bytes], report: PublishReport
    ) -> bool:
        """Whether the file's bytes changed."""
        if self.current(path, inputs):
            report.unchanged += 1
            return False
        target = self.root / path
        written = write_if_changed(target, render())
        report.count(written)
        found = target.stat()
        report.rendered.append(OutputRecord(path, inputs, found.st_size, found.st_mtime_ns))
        return written


def _as_written(path: Path, known: OutputRecord) -> bool:
    try:
        found = path.stat()
    except OSError:
        return False
    return (found.st_size, found.st_mtime_ns) == (known.size, known.mtime_ns)


def publish(
    settings: Settings, engine: Engine, *, full: bool = False, now: dt.datetime | None = None
) -> PublishReport:
    """Write the feeds, archives and pages that the last scans changed (all when `full`)."""
    now = now or dt.datetime.now(dt.UTC)
    report = PublishReport()
    fingerprint = publish_fingerprint(settings)
    # A snapshot: scans, sign-ups and digests go on writing while the files are written, and
    # what they mark meanwhile stays pending for the next publish.
    with store.snapshot(engine) as connection:
        todo = store.pending_keys(connection)
        mark = store.pending_mark(connection)
        stale = store.meta_value(connection, FINGERPRINT_KEY) != fingerprint
        quiet = last_change(connection, now)
        version = str(store.search_version(connection))
        checked = None
        if full and not stale and not todo:
            checked = _as_published(connection, settings, version)
        if checked is not None:
            full = False  # the store is as the last full publish left it, and so is every file
            report.unchanged = checked
            _tidy(connection, settings, report)
        if full or stale or "everything" in todo or not _index_path(settings).exists():
            todo = _everything(connection, settings) | {"everything": {""}}
            _remove_dropped_topics(connection, settings, report)
        # A publish of what was marked leaves the count of changes alone: only one that went
        # over everything says that every file is as the store is.
        whole = checked is not None or "everything" in todo
        # Many files: one sync for all beats two fsyncs each; the pending rows outlive it.
        bulk = len(todo.get("release", ())) > BULK_FILES or "everything" in todo
        if bulk:
            report.removed += remove_stale_temporaries(_output(settings), STALE_TEMPORARY)
        parallel = len(todo.get("release", ())) >= PARALLEL_RELEASES  # worth starting workers
        with (
            one_sync(_output(settings)) if bulk else contextlib.nullcontext() as sync,
            _Writers(settings, parallel, connection, fingerprint) as writers,
        ):
            links = _release_links(connection, todo.get("release", set()), "everything" in todo)
            _write_release_pages(settings, links, writers)
            months = _write_feeds(connection, settings, todo, report, writers, quiet)
            counts = _write_browsing(connection, settings, todo, months, report, fingerprint)
            writers.wait(report)
            # Last: a missing index.html is what tells the next publish to write everything.
            _write_front(connection, settings, report, quiet)
            if sync is not None and not (report.written or report.removed):
                sync.skip()  # nothing to make durable: no need to wait for the disk
        gone = []
        if report.removed or "everything" in todo:  # also records left by older versions
            gone = _records_of_missing_files(connection, settings)
    with engine.begin() as connection:
        store.save_output_records(connection, report.rendered)
        store.forget_output_records(connection, gone)
        store.clear_pending(connection, todo, up_to=mark)
        for slug, listed in months.items():
            store.set_meta_value(connection, f"{PAGES_KEY}/{slug}", json.dumps(listed))
        for slug, found in counts.items():
            store.set_meta_value(connection, f"{COUNTS_KEY}/{slug}", _dump_counts(found))
        store.save_links_as_written(connection, links)
        store.set_meta_value(connection, FINGERPRINT_KEY, fingerprint)
        if whole:
            store.set_meta_value(connection, VERSION_KEY, version)
        elif report.written or report.removed:  # perhaps from a snapshot older than the last
            store.delete_meta_value(connection, VERSION_KEY)
        if store.meta_value(connection, FIRST_PUBLISH_KEY) is None:
            store.set_meta_value(connection, FIRST_PUBLISH_KEY, now.isoformat())
        store.set_meta_value(connection, SLUGS_KEY, json.dumps(_slugs(settings)))
        if hub_url(settings) is not None:  # the hub is told in the background, after a restart too
            store.add_websub_tasks(connection, ((url, "") for url in report.feeds), now)
    log.info(
        "published: %d files written, %d unchanged, %d removed",
        report.written,
        report.unchanged,
        report.removed,
    )
    return report


def _as_published(connection: Connection, settings: Settings, version: str) -> int | None:
    """How many files the last full publish recorded, when no release or topic changed since (the
    store's count of changes is the one it saw) and each of them is on disk as it wrote it;
    else None. Then a full publish has nothing to render: hashing each file's inputs again
    would only say so."""
    if store.meta_value(connection, VERSION_KEY) != version:
        return None
    root, count = str(settings.output_dir), 0
    for path, size, mtime_ns in store.output_sizes(connection):
        try:
            found = os.stat(os.path.join(root, path))  # not pathlib: a third of the time
        except OSError:
            return None
        if (found.st_size, found.st_mtime_ns) != (size, mtime_ns):
            return None
        count += 1
    return count


def _records_of_missing_files(connection: Connection, settings: Settings) -> list[str]:
    """The recorded files that are not on disk: removed by this publish, so that the next full
    one does not take them for files removed by hand."""
    root = str(settings.output_dir)
    found = store.output_sizes(connection)
    return [path for path, _, _ in found if not os.path.exists(os.path.join(root, path))]


def _tidy(connection: Connection, settings: Settings, report: PublishReport) -> None:
    """What a full publish removes besides writing: temporaries a killed writer left, archive
    files that are no page (as `_write_feeds` does, here from what the last publish recorded),
    numbered pages of releases that older versions wrote."""
    report.removed += remove_stale_temporaries(_output(settings), STALE_TEMPORARY)
    for slug in _slugs(settings):
        pages = _published_pages(connection, slug)
        if pages is not None:
            _remove_stale_archives(settings, slug, pages, None, report)
        report.removed += _remove_numbered_pages(settings.output_dir, slug)


def last_change(connection: Connection, now: dt.datetime) -> dt.datetime:
    """When the releases last changed, else the first publish, else `now`: for an empty feed.

    Both are stored, so rebuilding an empty feed gives the same bytes."""
    first = store.meta_value(connection, FIRST_PUBLISH_KEY)
    return store.last_change(connection) or (dt.datetime.fromisoformat(first) if first else now)


def publish_fingerprint(settings: Settings) -> str:
    """What every output depends on besides the releases: settings, topics and templates."""
    parts = [
        __version__,
        settings.site_url,
        settings.site_title,
        settings.language,
        str(settings.feed_length),
        str(settings.archive_length),
        str(settings.explain_topics),
        str(settings.page_length),
        hub_url(settings) or "",  # named by every current feed
        repr([(t.slug, t.title, t.description) for t in settings.topics]),
        repr([(f.name, f.suffix, f.archived) for f in feed_formats()]),
    ]
    for template in sorted(settings.templates_dir.glob("*.html")):
        parts.append(template.name + template.read_text(encoding="utf-8"))
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _slugs(settings: Settings) -> list[str]:
    return [ALL_FEED, *(t.slug for t in settings.topics)]


def _remove_dropped_topics(
    connection: Connection, settings: Settings, report: PublishReport
) -> None:
    """A topic taken out of topics.toml takes its feeds and archives with it."""
    before = json.loads(store.meta_value(connection, SLUGS_KEY) or "[]")
    for slug in set(before) - set(_slugs(settings)):
        for form in feed_formats():
            report.removed += remove_file(settings.output_dir / feed_path(slug, form))
        report.removed += _remove_tree(settings.output_dir / archive_folder(slug))
        report.removed += _remove_tree(settings.output_dir / topic_folder(slug))
        log.info("feeds and pages of dropped topic %s removed", slug)


def _remove_tree(folder: Path) -> int:
    """Remove every file under `folder`, then the folders left empty; how many files went."""
    if not folder.is_dir():
        return 0
    removed = sum(remove_file(path) for path in sorted(folder.rglob("*")) if not path.is_dir())
    for path in sorted(folder.rglob("*"), reverse=True):
        with contextlib.suppress(OSError):  # not empty: a file of someone else's
            path.rmdir()
    with contextlib.suppress(OSError):
        folder.rmdir()
    return removed


def _remove_page(root: Path, location: str) -> int:
    """Remove the page at a folder URL path, and its folder when that is left empty."""
    removed = int(remove_file(root / folder_page(location)))
    with contextlib.suppress(OSError):
        (root / location).rmdir()
    return removed


def _everything(connection: Connection, settings: Settings) -> dict[str, set[str]]:
    slugs = _slugs(settings)
    months = {
        f"{slug}/{month}"
        for slug in slugs
        for month in store.feed_month_counts(connection, None if slug == ALL_FEED else slug)
    }
    return {
        "release": set(store.all_release_ids(connection)),
        "feed": set(slugs),
        "month": months,
    }


# --- files --------------------------------------------------------------------------------------


def _output(settings: Settings) -> Path:
    settings.output_dir.mkdir(parents=True, exist_ok=True)
    return settings.output_dir


def _index_path(settings: Settings) -> Path:
    return settings.output_dir / INDEX_PATH


# --- feeds --------------------------------------------------------------------------------------


def _feed_doc(
    connection: Connection,
    settings: Settings,
    slug: str,
    releases: Sequence[StoredRelease],
    archive: ArchiveLinks | None,
    *,
    page: str | None = None,
    empty: dt.datetime,
) -> FeedDoc:
    ranks = store.arrival_ranks(connection, [s.release.id for s in releases])
    return feed_doc(settings, slug, releases, ranks, archive, page=page, empty=empty)


def _pages(
    connection: Connection,
    settings: Settings,
    slug: str,
    before: Sequence[str] | None,
    dirty: Collection[str],
) -> list[str]:
    """The archive pages of a feed, oldest first.

    Only the dirty months can have gained or lost pages since the list as last published."""
    topic = None if slug == ALL_FEED else slug
    if before is None:
        counts = store.feed_month_counts(connection, topic)
        kept: list[str] = []
    else:
        counts = store.feed_month_counts(connection, topic, dirty)
        kept = [page for page in before if page_month(page)[0] not in dirty]
    length = settings.archive_length
    fresh = [page for month, n in counts.items() for page in archive_pages(month, n, length)]
    return archive_order([*kept, *fresh])


def _write_feeds(
    connection: Connection,
    settings: Settings,
    todo: Mapping[str, set[str]],
    report: PublishReport,
    writers: _Writers,
    quiet: dt.datetime,
) -> dict[str, list[str]]:
    """Write the current feeds and archive pages in `todo`; the archive pages of each feed."""
    known = {ALL_FEED, *(t.slug for t in settings.topics)}
    dirty_months: dict[str, set[str]] = {}
    for key in todo.get("month", set()):
        slug, _, month = key.partition("/")
        dirty_months.setdefault(slug, set()).add(month)
    slugs = sorted(known & (todo.get("feed", set()) | set(dirty_months)))
    before = {slug: _published_pages(connection, slug) for slug in slugs}
    everything = "everything" in todo  # then every month is read afresh
    written = {
        slug: _pages(
            connection,
            settings,
            slug,
            None if everything else before[slug],
            dirty_months.get(slug, set()),
        )
        for slug in slugs
    }
    # Every current feed first: what subscribers poll is out before the archive pages.
    for slug, pages in written.items():
        _write_current(connection, settings, slug, pages, report, quiet, writers.fingerprint)
    for slug, pages in written.items():
        dirty = dirty_months.get(slug, set())
        _remove_stale_archives(settings, slug, pages, None if everything else dirty, report)
        _write_archives(slug, pages, _archives_to_rebuild(pages, before[slug], dirty), writers)
    return written


def _published_pages(connection: Connection, slug: str) -> list[str] | None:
    listed = store.meta_value(connection, f"{PAGES_KEY}/{slug}")
    return json.loads(listed) if listed else None


def _archives_to_rebuild(
    pages: Sequence[str], before: Sequence[str] | None, dirty: Collection[str]
) -> list[str]:
    """The pages of the dirty months, and the pages whose prev/next archive links moved.

    Links move when a page appears or goes beside them. Without the list of pages as last
    published, every neighbour of a dirty month's pages is rebuilt."""
    rebuild = {page for page in pages if page_month(page)[0] in dirty}
    if before is None:
        keys = [page_month(page) for page in pages]
        for month in dirty:
            first = bisect.bisect_left(keys, (month, 0))
            past = bisect.bisect_left(keys, (month, math.inf))  # past the month's last page
            rebuild.update(pages[max(0, first - 1) : past + 1])
    else:
        now, then = _neighbours(pages), _neighbours(before)
        rebuild.update(page for page in pages if now[page] != then.get(page))
    return archive_order(rebuild)


def _neighbours(pages: Sequence[str]) -> dict[str, tuple[str | None, str | None]]:
    """Each page's older and newer neighbour."""
    return {
        page: (pages[at - 1] if at else None, pages[at + 1] if at + 1 < len(pages) else None)
        for at, page in enumerate(pages)
    }


def _write_current(
    connection: Connection,
    settings: Settings,
    slug: str,
    pages: Sequence[str],
    report: PublishReport,
    quiet: dt.datetime,
    fingerprint: str,
) -> None:
    topic = None if slug == ALL_FEED else slug
    releases = store.feed_releases(connection, topic, limit=settings.feed_length)
    base = feed_base(settings, slug)
    archive = ArchiveLinks(
        current=base, prev=archive_base(settings, slug, pages[-1]) if pages else None
    )
    doc = _feed_doc(connection, settings, slug, releases, archive, empty=quiet)
    paths = {form: feed_path(slug, form) for form in feed_formats()}
    outputs = _Outputs(connection, settings, fingerprint, list(paths.values()))
    inputs = outputs.inputs(doc)
    for form, path in paths.items():
        if outputs.write(path, inputs, partial(form.render, doc), report):
            report.feeds.append(page_url(settings, path))


def _write_archives(
    slug: str, pages: Sequence[str], rebuild: Sequence[str], writers: _Writers
) -> None:
    for start in range(0, len(rebuild), ARCHIVE_BATCH):
        writers.run(_Archives(slug, tuple(pages), tuple(rebuild[start : start + ARCHIVE_BATCH])))


def _write_archive_month(
    connection: Connection,
    settings: Settings,
    slug: str,
    pages: Mapping[str, tuple[str | None, str | None]],
    month: str,
    wanted: Sequence[str],
    report: PublishReport,
    fingerprint: str,
) -> None:
    """The `wanted` pages of `month`'s archive; `pages` gives every page's neighbours, for the
    links between them.

    A page's inputs are its neighbours and what the store says of its releases (without their
    text, which `text_hash` stands for): a month whose pages are all as written is never read
    in full."""
    between = store.month_dates(month)
    topic = None if slug == ALL_FEED else slug
    signed = store.feed_signatures(connection, topic, between=between)[::-1]
    full = _MonthReleases(connection, topic, between)
    length = settings.archive_length
    paths = [archive_path(slug, page, form) for page in wanted for form in archive_formats()]
    paths += [folder_page(archive_location(slug, page)) for page in wanted]
    outputs = _Outputs(connection, settings, fingerprint, paths)
    headlines = _MonthHeadlines(connection, topic, between)
    for page in wanted:
        number = page_month(page)[1]
        shown = signed[(number - 1) * length : number * length]
        if not shown:
            continue  # emptied by a scan since this publish began: the next one removes it
        inputs = outputs.inputs((page, pages[page], shown))
        doc = _LazyDoc(connection, settings, slug, page, pages[page], full, (number - 1) * length)
        for form in archive_formats():
            outputs.write(archive_path(slug, page, form), inputs, partial(doc.render, form), report)
        # The same releases in HTML: what it shows of them is a part of what `shown` signs.
        html = outputs.inputs(("html", page, pages[page], shown))
        render = partial(_month_page, settings, slug, page, pages[page], headlines)
        outputs.write(folder_page(archive_location(slug, page)), html, render, report)


class _MonthHeadlines:
    """A month's releases of a feed as headlines, oldest first, read the first time asked."""

    def __init__(
        self, connection: Connection, topic: str | None, between: tuple[dt.date, dt.date]
    ) -> None:
        self.connection, self.topic, self.between = connection, topic, between
        self.read: list[Headline] | None = None

    def oldest_first(self) -> list[Headline]:
        if self.read is None:
            found = store.feed_headlines(self.connection, self.topic, between=self.between)
            self.read = list(found)[::-1]
        return self.read


def _month_page(
    settings: Settings,
    slug: str,
    page: str,
    neighbours: tuple[str | None, str | None],
    headlines: _MonthHeadlines,
) -> bytes:
    """An archive page in HTML: its releases newest first, linked to the pages beside it."""
    month, number = page_month(page)
    start = (number - 1) * settings.archive_length
    shown = headlines.oldest_first()[start : start + settings.archive_length][::-1]
    older, newer = neighbours
    links = [
        PageLink(rel, _page_label(other), archive_url(settings, slug, other))
        for rel, other in (("prev", older), ("next", newer))
        if other is not None
    ]
    atom = archive_base(settings, slug, page) + archive_formats()[0].suffix
    html = MonthPage(
        links=feed_links(settings, slug),
        url=archive_url(settings, slug, page),
        month=month,
        number=number,
        releases=tuple(_listed(settings, h) for h in shown),
        pages=tuple(links),
        archive_url=archive_url(settings, slug),
        atom_url=atom,
    )
    env = environment([settings.templates_dir])
    return render_month_page(env, site_for(settings), html).encode()


def _page_label(page: str) -> str:
    month, number = page_month(page)
    return long_month(month) if number == 1 else f"{long_month(month)}, page {number}"


class _MonthReleases:
    """A month's releases of a feed, oldest first, read in full the first time they are asked."""

    def __init__(
        self, connection: Connection, topic: str | None, between: tuple[dt.date, dt.date]
    ) -> None:
        self.connection, self.topic, self.between = connection, topic, between
        self.read: list[StoredRelease] | None = None

    def oldest_first(self) -> list[StoredRelease]:
        if self.read is None:
            found = store.feed_releases(self.connection, self.topic, between=self.between)
            self.read = found[::-1]
        return self.read


class _LazyDoc:
    """One archive page's feed document, built the first time a format is rendered."""

    def __init__(
        self,
        connection: Connection,
        settings: Settings,
        slug: str,
        page: str,
        neighbours: tuple[str | None, str | None],
        month: _MonthReleases,
        start: int,
    ) -> None:
        self.connection, self.settings, self.slug, self.page = connection, settings, slug, page
        self.neighbours, self.month, self.start = neighbours, month, start
        self.doc: FeedDoc | None = None

    def render(self, form: FeedFormat) -> bytes:
        if self.doc is None:
            self.doc = self._build()
        return form.render(self.doc)

    def _build(self) -> FeedDoc:
        settings, slug = self.settings, self.slug
        length = settings.archive_length
        releases = self.month.oldest_first()[self.start : self.start + length][::-1]
        older, newer = self.neighbours
        archive = ArchiveLinks(
            current=feed_base(settings, slug),
            prev=archive_base(settings, slug, older) if older else None,
            next=archive_base(settings, slug, newer) if newer else None,
            is_archive=True,
        )
        # A page with no release left is removed, never written: its feed is not empty.
        empty = published(releases[0])
        return _feed_doc(
            self.connection, settings, slug, releases, archive, page=self.page, empty=empty
        )


def _remove_stale_archives(
    settings: Settings,
    slug: str,
    pages: Sequence[str],
    months: Collection[str] | None,
    report: PublishReport,
) -> None:
    """Remove the archive files of `months` (of every month when None) that are no page now:
    pages that emptied, and formats no longer archived."""
    folder = settings.output_dir / archive_folder(slug)
    wanted = {page + form.suffix for page in pages for form in archive_formats()} | set(pages)
    try:
        with os.scandir(folder) as listing:  # its entries know their kind: no stat each
            found = sorted((e.name, e.is_dir()) for e in listing if e.name not in wanted)
    except FileNotFoundError:
        return
    for name, is_page in found:
        try:
            month = page_month(name if is_page else Path(name).stem)[0]
        except ValueError:
            continue  # not an archive page: a temporary being written, or no file of ours
        if months is None or month in months:
            if is_page:  # the page in HTML
                report.removed += _remove_page(settings.output_dir, archive_location(slug, name))
            else:
                report.removed += remove_file(folder / name)


# --- pages --------------------------------------------------------------------------------------


def _release_links(
    connection: Connection, ids: Collection[str], everything: bool
) -> dict[str, Neighbours]:
    """The release pages to write, each with the releases it links to as newer and older: the
    changed ones, and those beside them now or when their pages were last written."""
    links = store.stream_neighbours(connection, ids)
    if everything:
        return links
    beside = {n for pair in links.values() for n in pair if n}
    beside |= {n for pair in store.links_as_written(connection, ids).values() for n in pair if n}
    return links | store.stream_neighbours(connection, beside - set(links))


def _write_release_pages(
    settings: Settings, links: Mapping[str, Neighbours], writers: _Writers
) -> None:
    listed = [(i, *links[i]) for i in sorted(links)]
    for start in range(0, len(listed), PAGE_BATCH):
        writers.run(_Pages(tuple(listed[start : start + PAGE_BATCH])))


def _write_pages(
    connection: Connection,
    settings: Settings,
    pages: Sequence[tuple[str, str | None, str | None]],
    report: PublishReport,
    fingerprint: str,
) -> None:
    """Release pages, given as (id, newer, older) release ids. A page's inputs are its
    release's signature and its neighbours' headlines: only the pages to render are read whole."""
    paths = [release_path(i) for i, _, _ in pages]
    outputs = _Outputs(connection, settings, fingerprint, paths)
    signed = store.release_signatures(connection, [i for i, _, _ in pages])
    beside = store.headlines_by_id(connection, {n for _, *pair in pages for n in pair if n})
    todo: list[tuple[str, tuple[Headline | None, Headline | None], str]] = []
    for release_id, newer, older in pages:
        signature = signed.get(release_id)
        if signature is None:
            continue
        near = (None, None) if signature.withdrawn else (_get(beside, newer), _get(beside, older))
        inputs = outputs.inputs((signature, near))
        if outputs.current(release_path(release_id), inputs):
            report.unchanged += 1
        else:
            todo.append((release_id, near, inputs))
    if not todo:
        return
    env = environment([settings.templates_dir])
    site = site_for(settings)
    found = store.releases_by_id(connection, [i for i, _, _ in todo])
    for release_id, near, inputs in todo:
        stored = found.get(release_id)
        if stored is None:
            continue
        render = partial(_release_page, env, settings, site, stored, near)
        outputs.write(release_path(release_id), inputs, render, report)


def _get(headlines: Mapping[str, Headline], release_id: str | None) -> Headline | None:
    return None if release_id is None else headlines.get(release_id)


def _release_page(
    env: jinja2.Environment,
    settings: Settings,
    site: Site,
    stored: StoredRelease,
    near: tuple[Headline | None, Headline | None],
) -> bytes:
    url = release_url(settings, stored.release.id)
    if stored.withdrawn_at is not None:
        return render_withdrawn(env, site, stored.release.title, url).encode()
    topics = [feed_links(settings, s) for s in stored.topics if settings.topic(s)]
    why = why_line(settings, stored)
    newer, older = (_listed(settings, h) if h else None for h in near)
    return render_release(
        env, site, stored.release, topics, url, stored.updated, why, older=older, newer=newer
    ).encode()


def _listed(settings: Settings, headline: Headline) -> Listed:
    url = release_url(settings, headline.id)
    return Listed(headline.title, url, headline.date, headline.date_inferred)


def _write_front(
    connection: Connection, settings: Settings, report: PublishReport, quiet: dt.datetime
) -> None:
    """The index page, the subscription list and the stylesheet: small, rebuilt on every
    publish, written when changed."""
    env = environment([settings.templates_dir])
    css = render_stylesheet(env).encode()
    report.count(write_if_changed(settings.output_dir / STYLESHEET_PATH, css))
    counts = store.topic_counts(connection)
    summaries = []
    changes = [quiet]  # what an index of no release says
    for slug in [ALL_FEED, *(t.slug for t in settings.topics)]:
        topic = None if slug == ALL_FEED else slug
        latest = store.feed_releases(connection, topic, limit=LATEST_ON_INDEX)
        changes += [s.updated for s in latest]
        count = store.release_count(connection) if topic is None else counts.get(slug, 0)
        heads = tuple(
            (r.title, release_url(settings, r.id), r.date, r.date_inferred)
            for r in (s.release for s in latest)
        )
        summaries.append(TopicSummary(feed_links(settings, slug), count, heads))
    newest = max(changes) if len(changes) == 1 else max(changes[1:])
    site = site_for(settings)
    html = render_index(env, site, summaries[1:], newest)
    report.count(write_if_changed(_index_path(settings), html.encode()))
    opml = opml_bytes(settings.site_title, [s.links for s in summaries[1:]], newest)
    report.count(write_if_changed(settings.output_dir / OPML_PATH, opml))


# --- a topic's page of its newest releases, and its archive index -----------------------------
#
# A topic's page lists its newest `page_length` releases; older ones are on its archive pages in
# HTML, month by month, which the page leads to. Pages cut by month, not by count, stay put when
# a release arrives dated in the past: only its month's pages change, not every newer page.

Counts = dict[tuple[str, bool], int]  # (month, undated) -> live releases


def _write_browsing(
    connection: Connection,
    settings: Settings,
    todo: Mapping[str, set[str]],
    archives: Mapping[str, Sequence[str]],
    report: PublishReport,
    fingerprint: str,
) -> dict[str, Counts]:
    """The page of releases and the archive index of each feed in `archives` (the feeds this
    publish rebuilds, with their archive pages); the counts they were written from."""
    everything = "everything" in todo
    dirty = _dirty_months(todo)
    written: dict[str, Counts] = {}
    for slug, pages in archives.items():
        before = None if everything else _published_counts(connection, slug)
        counts = _counts_now(connection, slug, before, dirty.get(slug, set()))
        if before is None:  # numbered pages of releases, as versions before this one wrote
            report.removed += _remove_numbered_pages(settings.output_dir, slug)
        _write_topic_page(connection, settings, slug, counts, pages, report, fingerprint)
        _write_archive_index(connection, settings, slug, counts, pages, report, fingerprint)
        written[slug] = counts
    return written


def _dirty_months(todo: Mapping[str, set[str]]) -> dict[str, set[str]]:
    dirty: dict[str, set[str]] = {}
    for key in todo.get("month", set()):
        slug, _, month = key.partition("/")
        dirty.setdefault(slug, set()).add(month)
    return dirty


def _published_counts(connection: Connection, slug: str) -> Counts | None:
    listed = store.meta_value(connection, f"{COUNTS_KEY}/{slug}")
    if listed is None:
        return None
    return {(month, bool(undated)): int(n) for month, undated, n in json.loads(listed)}


def _dump_counts(counts: Counts) -> str:
    return json.dumps([[month, undated, n] for (month, undated), n in sorted(counts.items())])


def _counts_now(
    connection: Connection, slug: str, before: Counts | None, dirty: Collection[str]
) -> Counts:
    """The feed's counts: those of the months a scan changed read again, the others as before."""
    topic = None if slug == ALL_FEED else slug
    if before is None:
        return store.feed_kind_counts(connection, topic)
    kept = {cell: n for cell, n in before.items() if cell[0] not in dirty}
    return kept | store.feed_kind_counts(connection, topic, dirty)


def _write_topic_page(
    connection: Connection,
    settings: Settings,
    slug: str,
    counts: Counts,
    pages: Sequence[str],
    report: PublishReport,
    fingerprint: str,
) -> None:
    """A feed's page of its newest releases, leading to the archive page where the next older
    release is."""
    topic = None if slug == ALL_FEED else slug
    found = list(store.feed_headlines(connection, topic, limit=settings.page_length + 1))
    shown = tuple(found[: settings.page_length])
    older = None
    if len(found) > len(shown):
        older = _archive_page_of(found[-1], shown, counts, pages, settings.archive_length)
    total = sum(counts.values())
    path = folder_page(topic_location(slug))
    outputs = _Outputs(connection, settings, fingerprint, [path])
    # With the settings in the fingerprint, these make the whole page: it is built to render.
    inputs = outputs.inputs((slug, shown, total, older))
    render = partial(_render_topic_page, settings, slug, shown, total, older)
    outputs.write(path, inputs, render, report)


def _archive_page_of(
    release: Headline,
    newer: Sequence[Headline],
    counts: Counts,
    pages: Sequence[str],
    length: int,
) -> str | None:
    """The archive page holding `release`, listed after `newer` in its feed's order: a month's
    pages list it in that order too, `length` to a page from the oldest. None if that page is
    not among `pages`."""
    month = f"{release.date:%Y-%m}"
    before_it = sum(1 for h in newer if f"{h.date:%Y-%m}" == month)
    from_oldest = counts.get((month, False), 0) + counts.get((month, True), 0) - 1 - before_it
    page = archive_page(month, max(from_oldest, 0) // length + 1)
    return page if page in pages else None


def _remove_numbered_pages(root: Path, slug: str) -> int:
    """The numbered pages of a feed's releases that older versions wrote (`page/<n>/`), whatever
    the store says was written."""
    folder = root / topic_location(slug, 1)
    removed = 0
    for path in sorted(folder.parent.iterdir()) if folder.parent.is_dir() else []:
        if path.name.isdigit():
            removed += _remove_page(root, topic_location(slug, int(path.name)))
    with contextlib.suppress(OSError):
        folder.parent.rmdir()  # when its last page is gone
    return removed


def _render_topic_page(
    settings: Settings,
    slug: str,
    shown: Sequence[Headline],
    total: int,
    older: str | None,
) -> bytes:
    """A feed's page of its newest releases; `older` is the archive page that goes on from it."""
    links: tuple[PageLink, ...] = ()
    if older is not None:
        links = (PageLink("next", "Older releases", archive_url(settings, slug, older)),)
    page = TopicPage(
        links=feed_links(settings, slug),
        url=topic_url(settings, slug),
        releases=tuple(_listed(settings, h) for h in shown),
        count=total,
        pages=links,
        archive_url=archive_url(settings, slug),
    )
    env = environment([settings.templates_dir])
    return render_topic_page(env, site_for(settings), page).encode()


def _write_archive_index(
    connection: Connection,
    settings: Settings,
    slug: str,
    counts: Counts,
    pages: Sequence[str],
    report: PublishReport,
    fingerprint: str,
) -> None:
    """A feed's archive index: its months, newest first, with their counts and pages."""
    per_month: dict[str, int] = {}
    for (month, _), n in counts.items():
        per_month[month] = per_month.get(month, 0) + n
    by_month: dict[str, list[str]] = {}
    for page in pages:
        by_month.setdefault(page_month(page)[0], []).append(archive_url(settings, slug, page))
    months = [
        ArchiveMonth(month, per_month[month], tuple(by_month[month]))
        for month in sorted(per_month, reverse=True)
        if per_month[month] and month in by_month
    ]
    location = archive_location(slug)
    outputs = _Outputs(connection, settings, fingerprint, [folder_page(location)])
    links = feed_links(settings, slug)
    url = archive_url(settings, slug)
    render = partial(_render_archive_index, settings, links, url, months)
    outputs.write(folder_page(location), outputs.inputs(months), render, report)


def _render_archive_index(
    settings: Settings, links: FeedLinks, url: str, months: Sequence[ArchiveMonth]
) -> bytes:
    env = environment([settings.templates_dir])
    return render_archive_index(env, site_for(settings), links, url, months).encode()


# --- worker processes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Pages:
    pages: tuple[tuple[str, str | None, str | None], ...]  # (id, newer, older) release ids


@dataclass(frozen=True)
class _Archives:
    slug: str
    pages: tuple[str, ...]  # every archive page of the feed, for the links between them
    rebuild: tuple[str, ...]  # oldest first


_Task = _Pages | _Archives


def _do(
    connection: Connection,
    settings: Settings,
    task: _Task,
    report: PublishReport,
    fingerprint: str,
) -> None:
    if isinstance(task, _Pages):
        _write_pages(connection, settings, task.pages, report, fingerprint)
    else:
        pages = _neighbours(task.pages)
        for month, wanted in itertools.groupby(task.rebuild, key=lambda p: page_month(p)[0]):
            _write_archive_month(
                connection, settings, task.slug, pages, month, list(wanted), report, fingerprint
            )


class _Writers:
    """Renders and writes release pages and archive months, in worker processes when many.

    Each task reads the store on its own connection; a task's exception comes back out of
    `wait`, so a failed publish keeps its pending rows as when writing here.
    """

    def __init__(
        self, settings: Settings, parallel: bool, connection: Connection, fingerprint: str
    ) -> None:
        self.settings = settings
        self.connection = connection
        self.fingerprint = fingerprint
        self.pool: ProcessPoolExecutor | None = None
        if parallel and worker_count(settings) > 1:
            self.pool = ProcessPoolExecutor(
                worker_count(settings),
                mp_context=multiprocessing.get_context("forkserver"),
                initializer=_start_worker,
                initargs=(settings,),
            )
        self.futures: list[Future[PublishReport]] = []

    def __enter__(self) -> _Writers:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)

    def run(self, task: _Task) -> None:
        if self.pool is not None:
            self.futures.append(self.pool.submit(_run_in_worker, task, self.fingerprint))
            return
        report = PublishReport()
        _do(self.connection, self.settings, task, report, self.fingerprint)
        self.futures.append(_done(report))

    def wait(self, report: PublishReport) -> None:
        for future in self.futures:
            part = future.result()
            report.written += part.written
            report.unchanged += part.unchanged
            report.removed += part.removed
            report.rendered += part.rendered


def _done(report: PublishReport) -> Future[PublishReport]:
    future: Future[PublishReport] = Future()
    future.set_result(report)
    return future


_worker: tuple[Settings, Engine] | None = None


def _start_worker(settings: Settings) -> None:
    global _worker
    end_with_parent()
    _worker = (settings, store.open_reader(settings.database))


def _run_in_worker(task: _Task, fingerprint: str) -> PublishReport:
    assert _worker is not None, "worker process not started"
    settings, engine = _worker
    report = PublishReport()
    with deferred_sync(), engine.connect() as connection:
        _do(connection, settings, task, report, fingerprint)
    return report
