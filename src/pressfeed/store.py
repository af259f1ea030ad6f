"""The database: tables, migrations and every query, through SQLAlchemy Core.

SQLite by default (WAL, synchronous=FULL, BEGIN IMMEDIATE for every transaction); the SQL is
portable so that a PostgreSQL URL can replace it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import sqlite3
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    Date,
    DateTime,
    Engine,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    TypeDecorator,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.pool import SingletonThreadPool

from pressfeed.errors import StoreError
from pressfeed.identity import title_key
from pressfeed.models import (
    DateKind,
    FileRecord,
    Frequency,
    Headline,
    Outgoing,
    OutputRecord,
    Release,
    StoredRelease,
    Subscriber,
)

log = logging.getLogger(__name__)

_IN_BATCH = 500  # keys per IN (...) list: well under every backend's parameter limit
BUSY_TIMEOUT = 10.0  # seconds a write waits for another writer's lock


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on every backend."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        return None if value is None else value.replace(tzinfo=dt.UTC)


metadata = MetaData()

files = Table(
    "files",
    metadata,
    Column("path", String, primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("mtime_ns", BigInteger, nullable=False),
    Column("sha256", String, nullable=False),
    Column("reread", Boolean, nullable=False),
)

sources = Table(
    "sources",
    metadata,
    Column("path", String, primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("release_id", String, nullable=False),
    Column("data", JSON, nullable=False),
)

releases = Table(
    "releases",
    metadata,
    Column("id", String, primary_key=True),
    Column("title", String, nullable=False),
    Column("title_derived", Boolean, nullable=False),
    Column("date", Date, nullable=False),
    Column("date_kind", String, nullable=False),
    Column("place", String),
    Column("paragraphs", JSON, nullable=False),
    Column("contacts", JSON, nullable=False),
    Column("source", String, nullable=False),
    Column("position", Integer, nullable=False),
    Column("text_hash", String, nullable=False),
    Column("first_seen", UTCDateTime, nullable=False),
    Column("updated", UTCDateTime, nullable=False),
    Column("withdrawn_at", UTCDateTime),
    Column("title_key", String),
    Column("source_url", String),
    Column("organisation", String),
)

outputs = Table(
    "outputs",
    metadata,
    Column("path", String, primary_key=True),
    Column("inputs", String, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("mtime_ns", BigInteger, nullable=False),
)

# The releases each release page links to as newer and older, as it was last written: a publish
# rebuilds the pages a change takes a neighbour from, not only those it gives one to.
release_links = Table(
    "release_links",
    metadata,
    Column("release_id", String, primary_key=True),
    Column("newer", String),
    Column("older", String),
)

release_topics = Table(
    "release_topics",
    metadata,
    Column("release_id", String, primary_key=True),
    Column("slug", String, primary_key=True),
    Column("score", Float, nullable=False),
)

pending = Table(
    "pending",
    metadata,
    Column("seq", Integer, primary_key=True),
    Column("kind", String, nullable=False),
    Column("key", String, nullable=False),
)

subscribers = Table(
    "subscribers",
    metadata,
    Column("id", String, primary_key=True),
    Column("address", String, nullable=False, unique=True),
    Column("topics", JSON, nullable=False),
    Column("frequency", String, nullable=False),
    Column("hour", Integer, nullable=False),
    Column("weekday", Integer, nullable=False),
    Column("timezone", String, nullable=False),
    Column("confirmed", Boolean, nullable=False),
    Column("token", String, nullable=False, unique=True),
    Column("created", UTCDateTime, nullable=False),
    Column("covered_until", UTCDateTime),
)

outbox = Table(
    "outbox",
    metadata,
    Column("key", String, primary_key=True),
    Column("subscriber_id", String, nullable=False),
    Column("kind", String, nullable=False),
    Column("sender", String, nullable=False),
    Column("recipient", String, nullable=False),
    Column("message_id", String, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("status", String, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt", UTCDateTime, nullable=False),
    Column("last_error", String),
    Column("created", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime),
)

settings_table = Table(
    "meta",
    metadata,
    Column("key", String, primary_key=True),
    Column("value", String, nullable=False),
)

Migration = Sequence[str] | Callable[[Connection], None]


def _backfill_title_keys(connection: Connection) -> None:
    rows = connection.execute(select(releases.c.id, releases.c.title)).all()
    for row in rows:
        key = title_key(row.title)
        connection.execute(update(releases).where(releases.c.id == row.id).values(title_key=key))


# Appended only: a database at version N runs migrations N+1.. in order, each in one transaction.
MIGRATIONS: tuple[Migration, ...] = (
    (
        """CREATE TABLE files (
            path TEXT PRIMARY KEY, size BIGINT NOT NULL, mtime_ns BIGINT NOT NULL,
            sha256 TEXT NOT NULL)""",
        """CREATE TABLE sources (
            path TEXT NOT NULL, position INTEGER NOT NULL, release_id TEXT NOT NULL,
            data TEXT NOT NULL, PRIMARY KEY (path, position))""",
        "CREATE INDEX sources_release ON sources (release_id)",
        """CREATE TABLE releases (
            id TEXT PRIMARY KEY, title TEXT NOT NULL, title_derived BOOLEAN NOT NULL,
            date DATE NOT NULL, date_kind TEXT NOT NULL, place TEXT, paragraphs TEXT NOT NULL,
            contacts TEXT NOT NULL, source TEXT NOT NULL, position INTEGER NOT NULL,
            text_hash TEXT NOT NULL, first_seen TIMESTAMP NOT NULL, updated TIMESTAMP NOT NULL,
            withdrawn_at TIMESTAMP)""",
        "CREATE INDEX releases_date ON releases (date)",
        """CREATE TABLE release_topics (
            release_id TEXT NOT NULL, slug TEXT NOT NULL, score REAL NOT NULL,
            PRIMARY KEY (release_id, slug))""",
        "CREATE INDEX release_topics_slug ON release_topics (slug)",
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    ),
    (
        "ALTER TABLE releases ADD COLUMN title_key TEXT",
        "CREATE INDEX releases_title_key ON releases (title_key)",
    ),
    _backfill_title_keys,
    (
        # What the next publish must rebuild: releases, feeds, archive months.
        """CREATE TABLE pending (
            kind TEXT NOT NULL, key TEXT NOT NULL, PRIMARY KEY (kind, key))""",
        "INSERT INTO pending SELECT 'release', id FROM releases",
        "INSERT INTO pending VALUES ('everything', '')",
    ),
    (
        """CREATE TABLE subscribers (
            id TEXT PRIMARY KEY, address TEXT NOT NULL UNIQUE, topics TEXT NOT NULL,
            frequency TEXT NOT NULL, hour INTEGER NOT NULL, weekday INTEGER NOT NULL,
            timezone TEXT NOT NULL, confirmed BOOLEAN NOT NULL, token TEXT NOT NULL UNIQUE,
            created TIMESTAMP NOT NULL, covered_until TIMESTAMP)""",
        # Every message is recorded here before it is sent, and marked sent after the server
        # accepts it; its bytes are final, so a resend is the same message.
        """CREATE TABLE outbox (
            key TEXT PRIMARY KEY, subscriber_id TEXT NOT NULL, kind TEXT NOT NULL,
            sender TEXT NOT NULL, recipient TEXT NOT NULL, message_id TEXT NOT NULL,
            data BLOB NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL,
            next_attempt TIMESTAMP NOT NULL, last_error TEXT, created TIMESTAMP NOT NULL,
            sent_at TIMESTAMP)""",
        "CREATE INDEX outbox_due ON outbox (status, next_attempt)",
    ),
    (
        # Each marking gets a number never used before, so a publish that read the pending
        # rows clears only those: a key marked again while it wrote stays for the next one.
        """CREATE TABLE pending_marks (
            seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, key TEXT NOT NULL,
            UNIQUE (kind, key))""",
        "INSERT INTO pending_marks (kind, key) SELECT kind, key FROM pending",
        "DROP TABLE pending",
        "ALTER TABLE pending_marks RENAME TO pending",
    ),
    # Few releases are withdrawn: counting the live ones is then all minus these.
    ("CREATE INDEX releases_withdrawn ON releases (withdrawn_at) WHERE withdrawn_at IS NOT NULL",),
    # Where a release comes from, to cite it: the original page and who published it.
    (
        "ALTER TABLE releases ADD COLUMN source_url TEXT",
        "ALTER TABLE releases ADD COLUMN organisation TEXT",
    ),
    # ... which releases stored before then lack: the next scan reads every file again (no file
    # has these times or this hash) and fills them in place, under the same ids and arrival times.
    ("UPDATE files SET mtime_ns = -1, sha256 = ''",),
    # Reading files again no longer forgets their hashes: a release read differently in the
    # same bytes is then known to be an old one, corrected, and never news.
    ("ALTER TABLE files ADD COLUMN reread BOOLEAN NOT NULL DEFAULT FALSE",),
    # What each published file was rendered from: a full publish skips what would come out the same.
    (
        """CREATE TABLE outputs (
            path TEXT PRIMARY KEY, inputs TEXT NOT NULL, size BIGINT NOT NULL,
            mtime_ns BIGINT NOT NULL)""",
    ),
    # The neighbours each release page links to, as written (see `release_links`).
    ("CREATE TABLE release_links (release_id TEXT PRIMARY KEY, newer TEXT, older TEXT)",),
)


# --- opening ------------------------------------------------------------------------------------


def open_store(url: str, *, busy_timeout: float = BUSY_TIMEOUT) -> Engine:
    """Connect to the database at `url`, creating and migrating it as needed.

    A write waits up to `busy_timeout` seconds for another writer's lock, then raises StoreError.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as error:
        raise StoreError(url, f"not a database URL: {error}") from error
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    try:
        engine = create_engine(parsed)
        if engine.dialect.name == "sqlite":
            _tune_sqlite(engine, url, busy_timeout)
        migrate(engine)
    except SQLAlchemyError as error:
        raise StoreError(url, str(error.orig if hasattr(error, "orig") else error)) from error
    return engine


def open_reader(url: str, *, busy_timeout: float = BUSY_TIMEOUT) -> Engine:
    """Connect to an existing, migrated database for reading only.

    Its transactions take no write lock, so it can read beside a writer: a publish's worker
    processes read while the publishing process holds the lock.
    """
    try:
        engine = create_engine(make_url(url))
    except (ArgumentError, SQLAlchemyError) as error:
        raise StoreError(url, str(error)) from error
    if engine.dialect.name == "sqlite":
        _tune_sqlite(engine, url, busy_timeout, begin="BEGIN")
    return engine


def _tune_sqlite(
    engine: Engine, url: str, busy_timeout: float, *, begin: str = "BEGIN IMMEDIATE"
) -> None:
    wait_ms = round(busy_timeout * 1000)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        for pragma in ("journal_mode=WAL", "synchronous=FULL", f"busy_timeout={wait_ms}"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "handle_error")
    def _on_error(context: ExceptionContext) -> None:
        # SQLite has waited out the busy timeout: say which database and how long, once.
        if _is_busy(context.original_exception):
            reason = f"locked by another writer; gave up after waiting {busy_timeout:g} s"
            raise StoreError(url, reason) from context.original_exception

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # IMMEDIATE takes the write lock up front: concurrent writers wait instead of failing.
        # A snapshot only reads, and must not hold writers up.
        reading = connection.get_execution_options().get("pressfeed_snapshot", False)
        connection.exec_driver_sql("BEGIN" if reading else begin)


def _is_busy(error: BaseException) -> bool:
    name = getattr(error, "sqlite_errorname", "")
    return isinstance(error, sqlite3.OperationalError) and name.startswith(
        ("SQLITE_BUSY", "SQLITE_LOCKED")
    )


def same_database_in_threads(engine: Engine) -> bool:
    """Whether another thread reaches the same database (in-memory SQLite is one per thread)."""
    return not isinstance(engine.pool, SingletonThreadPool)


def schema_version(connection: Connection) -> int:
    """The number of migrations applied to the database."""
    exists = connection.dialect.has_table(connection, "schema_version")
    if not exists:
        return 0
    return int(connection.execute(text("SELECT version FROM schema_version")).scalar_one())


def migrate(engine: Engine) -> None:
    """Apply the migrations the database has not had yet."""
    with engine.begin() as connection:
        if not connection.dialect.has_table(connection, "schema_version"):
            connection.execute(text("CREATE TABLE schema_version (version INTEGER NOT NULL)"))
            connection.execute(text("INSERT INTO schema_version VALUES (0)"))
    for version, statements in enumerate(MIGRATIONS, start=1):
        with engine.begin() as connection:
            if schema_version(connection) >= version:
                continue
            if callable(statements):
                statements(connection)
            else:
                for statement in statements:
                    connection.execute(text(statement))
            connection.execute(text("UPDATE schema_version SET version = :v"), {"v": version})
            log.info("database migrated to version %d", version)


# --- files --------------------------------------------------------------------------------------


def file_records(connection: Connection) -> dict[str, FileRecord]:
    """Every content file the store knows, by path."""
    rows = connection.execute(select(files))
    return {r.path: FileRecord(r.path, r.size, r.mtime_ns, r.sha256, r.reread) for r in rows}


def output_records(connection: Connection, paths: Sequence[str]) -> dict[str, OutputRecord]:
    """The records of these published files that the store has, by path."""
    found: dict[str, OutputRecord] = {}
    for start in range(0, len(paths), _IN_BATCH):
        chunk = paths[start : start + _IN_BATCH]
        rows = connection.execute(select(outputs).where(outputs.c.path.in_(chunk)))
        found |= {r.path: OutputRecord(r.path, r.inputs, r.size, r.mtime_ns) for r in rows}
    return found


def save_output_records(connection: Connection, records: Sequence[OutputRecord]) -> None:
    """Insert or replace the records of these published files."""
    paths = [r.path for r in records]
    for start in range(0, len(paths), _IN_BATCH):
        connection.execute(
            delete(outputs).where(outputs.c.path.in_(paths[start : start + _IN_BATCH]))
        )
    if records:
        connection.execute(insert(outputs), [vars(r) for r in records])


def save_files(connection: Connection, records: Sequence[FileRecord]) -> None:
    """Insert or replace the records of these files."""
    if not records:
        return
    delete_files(connection, [r.path for r in records])
    connection.execute(insert(files), [vars(r) for r in records])


def mark_files_to_read_again(connection: Connection) -> None:
    """Make the next scan read every known file again; each keeps its hash, so the scan can
    tell the files that changed from those that did not."""
    connection.execute(update(files).values(reread=True))


def delete_files(connection: Connection, paths: Sequence[str]) -> None:
    if paths:
        connection.execute(delete(files).where(files.c.path.in_(paths)))


# --- sources: each release as found in each file ------------------------------------------------


def replace_sources(connection: Connection, found: Mapping[str, Sequence[Release]]) -> set[str]:
    """Record what each file (path -> releases) holds now.

    Returns the ids of the releases these files held before or hold now.
    """
    if not found:
        return set()
    paths = list(found)
    before = connection.execute(select(sources.c.release_id).where(sources.c.path.in_(paths)))
    affected = set(before.scalars())
    connection.execute(delete(sources).where(sources.c.path.in_(paths)))
    rows = [
        {"path": path, "position": r.position, "release_id": r.id, "data": _dump(r)}
        for path, releases_found in found.items()
        for r in releases_found
    ]
    if rows:
        connection.execute(insert(sources), rows)
    return affected | {r.id for releases_found in found.values() for r in releases_found}


def earliest_arrivals(connection: Connection, paths: Iterable[str]) -> dict[str, dt.datetime]:
    """For each file (path) that holds releases, when the first of them arrived."""
    listed = sorted(set(paths))
    found: dict[str, dt.datetime] = {}
    for start in range(0, len(listed), _IN_BATCH):
        query = (
            select(sources.c.path, func.min(releases.c.first_seen).label("first_seen"))
            .join(releases, releases.c.id == sources.c.release_id)
            .where(sources.c.path.in_(listed[start : start + _IN_BATCH]))
            .group_by(sources.c.path)
        )
        found |= {row.path: row.first_seen for row in connection.execute(query)}
    return found


def sources_of(connection: Connection, release_ids: Iterable[str]) -> dict[str, list[Release]]:
    """Every file's version of each release, in path and position order."""
    query = (
        select(sources.c.release_id, sources.c.data)
        .where(sources.c.release_id.in_(list(release_ids)))
        .order_by(sources.c.path, sources.c.position)
    )
    versions: dict[str, list[Release]] = {}
    for row in connection.execute(query):
        versions.setdefault(row.release_id, []).append(_load(row.data))
    return versions


def _fields(release: Release) -> dict[str, Any]:
    """A release's own fields, as plain values."""
    return {
        "id": release.id,
        "title": release.title,
        "title_derived": release.title_derived,
        "date": release.date,
        "date_kind": release.date_kind.value,
        "place": release.place,
        "paragraphs": list(release.paragraphs),
        "contacts": list(release.contacts),
        "source": release.source,
        "position": release.position,
        "source_url": release.source_url,
        "organisation": release.organisation,
    }


def _release(values: Mapping[str, Any]) -> Release:
    """A release from its fields, as `_fields` gives them or a row holds them."""
    date = values["date"]
    return Release(
        id=values["id"],
        title=values["title"],
        title_derived=values["title_derived"],
        date=dt.date.fromisoformat(date) if isinstance(date, str) else date,
        date_kind=DateKind(values["date_kind"]),
        place=values["place"],
        paragraphs=tuple(values["paragraphs"]),
        contacts=tuple(values["contacts"]),
        source=values["source"],
        position=values["position"],
        source_url=values.get("source_url"),  # absent from rows stored before it was kept
        organisation=values.get("organisation"),
    )


def _dump(release: Release) -> dict[str, Any]:
    return _fields(release) | {"date": release.date.isoformat()}


def _load(data: dict[str, Any] | str) -> Release:
    return _release(json.loads(data) if isinstance(data, str) else data)


# --- releases -----------------------------------------------------------------------------------


def releases_by_id(connection: Connection, release_ids: Iterable[str]) -> dict[str, StoredRelease]:
    """The stored releases with these ids, withdrawn or not."""
    ids = sorted(set(release_ids))
    found: dict[str, StoredRelease] = {}
    for start in range(0, len(ids), _IN_BATCH):
        chunk = ids[start : start + _IN_BATCH]
        topics = topics_of(connection, chunk)
        rows = connection.execute(select(releases).where(releases.c.id.in_(chunk)))
        found |= {row.id: _stored(row, topics.get(row.id, ())) for row in rows}
    return found


def release_by_id(connection: Connection, release_id: str) -> StoredRelease | None:
    return releases_by_id(connection, [release_id]).get(release_id)


def save_releases(
    connection: Connection,
    changed: Sequence[tuple[Release, str]],
    previous: Mapping[str, StoredRelease],
    now: dt.datetime,
    arrived: Mapping[str, dt.datetime] | None = None,
) -> None:
    """Insert or refresh releases given with their text hashes.

    `previous` holds what the store had for them; `updated` moves only when the hash changes,
    and saving a withdrawn release brings it back. A release new to the store arrives `now`,
    unless `arrived` (id -> time) says it arrived before, under an id it no longer has.
    """
    new = [r for r in changed if r[0].id not in previous]
    known = [r for r in changed if r[0].id in previous]
    since = arrived or {}
    if new:
        rows = [
            _row(r, h) | {"first_seen": since.get(r.id, now), "updated": now, "withdrawn_at": None}
            for r, h in new
        ]
        connection.execute(insert(releases), rows)
    for release, hash_ in known:
        before = previous[release.id]
        moved = now if before.text_hash != hash_ else before.updated
        values = _row(release, hash_) | {"updated": moved, "withdrawn_at": None}
        connection.execute(update(releases).where(releases.c.id == release.id).values(**values))


def _row(release: Release, text_hash: str) -> dict[str, Any]:
    return _fields(release) | {"text_hash": text_hash, "title_key": title_key(release.title)}


def withdraw_releases(connection: Connection, release_ids: Sequence[str], now: dt.datetime) -> None:
    """Mark releases withdrawn (those already withdrawn keep their time)."""
    if release_ids:
        connection.execute(
            update(releases)
            .where(releases.c.id.in_(release_ids), releases.c.withdrawn_at.is_(None))
            .values(withdrawn_at=now)
        )


def namesakes(
    connection: Connection, keys: Iterable[str]
) -> dict[str, list[tuple[str, dt.date | None]]]:
    """For each headline key, the (id, printed date) of the releases stored with it."""
    query = select(
        releases.c.title_key, releases.c.id, releases.c.date, releases.c.date_kind
    ).where(releases.c.title_key.in_(list(keys)), releases.c.title_derived.is_(False))
    found: dict[str, list[tuple[str, dt.date | None]]] = {}
    for row in connection.execute(query.order_by(releases.c.id)):
        printed = None if row.date_kind == DateKind.FILE_TIME.value else row.date
        found.setdefault(row.title_key, []).append((row.id, printed))
    return found


def live_releases(connection: Connection) -> Iterator[StoredRelease]:
    """Releases not withdrawn, newest first, streamed."""
    query = (
        select(releases)
        .where(releases.c.withdrawn_at.is_(None))
        .order_by(releases.c.date.desc(), releases.c.first_seen.desc(), releases.c.id)
    )
    topics = topics_of(connection)
    for row in connection.execute(query):
        yield _stored(row, topics.get(row.id, ()))


def live_release_ids(connection: Connection) -> list[str]:
    """The ids of the releases not withdrawn."""
    query = select(releases.c.id).where(releases.c.withdrawn_at.is_(None)).order_by(releases.c.id)
    return list(connection.execute(query).scalars())


def release_count(connection: Connection, *, withdrawn: bool = False) -> int:
    gone = select(func.count()).select_from(releases).where(releases.c.withdrawn_at.is_not(None))
    count = int(connection.execute(gone).scalar_one())
    if not withdrawn:  # all minus the withdrawn: both counted from small indexes
        every = select(func.count()).select_from(releases)
        count = int(connection.execute(every).scalar_one()) - count
    return count


def any_release(connection: Connection) -> bool:
    """Whether any release, live or withdrawn, was ever stored."""
    return connection.execute(select(releases.c.id).limit(1)).first() is not None


def last_change(connection: Connection) -> dt.datetime | None:
    """The latest time a release arrived, changed or was withdrawn; None for an empty store."""
    query = select(func.max(releases.c.updated), func.max(releases.c.withdrawn_at))
    times = [t for t in connection.execute(query).one() if t is not None]
    return max(times, default=None)


def _stored(row: Any, topics: Iterable[str]) -> StoredRelease:
    return StoredRelease(
        _release(row._mapping),
        row.text_hash,
        row.first_seen,
        row.updated,
        row.withdrawn_at,
        tuple(topics),
    )


# --- topics -------------------------------------------------------------------------------------


def set_topics(connection: Connection, scores: Mapping[str, Mapping[str, float]]) -> None:
    """Replace the topics of each release (id -> slug -> score)."""
    if not scores:
        return
    connection.execute(delete(release_topics).where(release_topics.c.release_id.in_(list(scores))))
    rows = [
        {"release_id": rid, "slug": slug, "score": value}
        for rid, by_slug in scores.items()
        for slug, value in by_slug.items()
    ]
    if rows:
        connection.execute(insert(release_topics), rows)


def topics_of(
    connection: Connection, release_ids: Sequence[str] | None = None
) -> dict[str, tuple[str, ...]]:
    """The topic slugs of these releases (all when None), by release id."""
    query = select(release_topics.c.release_id, release_topics.c.slug).order_by(
        release_topics.c.release_id, release_topics.c.slug
    )
    if release_ids is not None:
        query = query.where(release_topics.c.release_id.in_(list(release_ids)))
    grouped: dict[str, list[str]] = {}
    for row in connection.execute(query):
        grouped.setdefault(row.release_id, []).append(row.slug)
    return {k: tuple(v) for k, v in grouped.items()}


# --- what the next publish must rebuild --------------------------------------------------------


def mark_pending(connection: Connection, kind: str, keys: Iterable[str]) -> None:
    """Record that these keys of a kind ("release", "feed", "month") need publishing."""
    keys = sorted(set(keys))
    for start in range(0, len(keys), _IN_BATCH):
        chunk = keys[start : start + _IN_BATCH]
        connection.execute(delete(pending).where(pending.c.kind == kind, pending.c.key.in_(chunk)))
        connection.execute(insert(pending), [{"kind": kind, "key": key} for key in chunk])


def pending_keys(connection: Connection) -> dict[str, set[str]]:
    """Everything waiting to be published, by kind."""
    found: dict[str, set[str]] = {}
    for row in connection.execute(select(pending)):
        found.setdefault(row.kind, set()).add(row.key)
    return found


def pending_mark(connection: Connection) -> int:
    """Where the pending rows end now: rows marked later have higher numbers."""
    newest = connection.execute(select(func.max(pending.c.seq))).scalar_one()
    return int(newest or 0)


def clear_pending(
    connection: Connection, done: Mapping[str, Iterable[str]], *, up_to: int | None = None
) -> None:
    """Forget what has been published. With `up_to` (a `pending_mark`), keys marked again
    since stay: `mark_pending` gives every marking a new number."""
    for kind, keys in done.items():
        listed = sorted(keys)
        for start in range(0, len(listed), _IN_BATCH):
            chunk = listed[start : start + _IN_BATCH]
            query = delete(pending).where(pending.c.kind == kind, pending.c.key.in_(chunk))
            if up_to is not None:
                query = query.where(pending.c.seq <= up_to)
            connection.execute(query)


@contextlib.contextmanager
def snapshot(engine: Engine) -> Iterator[Connection]:
    """A connection that reads one consistent state of the store and takes no write lock.

    Writers go on beside it (SQLite's WAL), so a long publish does not hold up scans, sign-ups
    or digests."""
    with engine.connect() as connection:
        connection.execution_options(pressfeed_snapshot=True)
        yield connection


# --- what feeds and pages show ------------------------------------------------------------------


def _newest_first(query: Any) -> Any:
    return query.order_by(releases.c.date.desc(), releases.c.first_seen.desc(), releases.c.id)


_GUESSED = releases.c.date_kind == DateKind.FILE_TIME.value


def _dated_first(connection: Connection, query: Any, limit: int | None) -> list[Any]:
    """Rows with a printed date newest first, then those whose date is the file's.

    A file's time says when it was copied (a checkout sets it to now), not when the release
    came out: such a release never outranks a dated one. Two walks of the date index keep
    the newest few cheap."""
    rows = list(connection.execute(_newest_first(query.where(~_GUESSED)).limit(limit)).all())
    if limit is None or len(rows) < limit:
        left = None if limit is None else limit - len(rows)
        rows += connection.execute(_newest_first(query.where(_GUESSED)).limit(left)).all()
    return rows


def _in_feed(slug: str | None) -> Any:
    """Live releases of a topic. SQLite walks the date index and looks each release's topic
    up, so the newest few or one month cost little however large the topic is."""
    query = select(releases).where(releases.c.withdrawn_at.is_(None))
    if slug is None:
        return query
    tagged = (release_topics.c.release_id == releases.c.id) & (release_topics.c.slug == slug)
    return query.where(select(release_topics.c.slug).where(tagged).exists())


def feed_releases(
    connection: Connection,
    slug: str | None,
    *,
    limit: int | None = None,
    between: tuple[dt.date, dt.date] | None = None,
) -> list[StoredRelease]:
    """Live releases of a topic (all when `slug` is None), newest first.

    `between` keeps the dates from the first, inclusive, to the second, exclusive.
    """
    query = _in_feed(slug)
    if between:
        query = query.where(releases.c.date >= between[0], releases.c.date < between[1])
    rows = _dated_first(connection, query, limit)
    topics = topics_of(connection, [row.id for row in rows]) if rows else {}
    return [_stored(row, topics.get(row.id, ())) for row in rows]


# What an archive page shows of a release besides its text, which text_hash stands for.
_SIGNED = (
    releases.c.id,
    releases.c.text_hash,
    releases.c.title_derived,
    releases.c.date,
    releases.c.date_kind,
    releases.c.place,
    releases.c.source_url,
    releases.c.organisation,
    releases.c.first_seen,
    releases.c.updated,
)


def feed_signatures(
    connection: Connection, slug: str | None, *, between: tuple[dt.date, dt.date]
) -> list[tuple[object, ...]]:
    """The releases `feed_releases` gives for these dates, in its order, each as a tuple of
    what a feed entry shows of it but its text, its topics and its arrival rank: cheap to read,
    and different whenever the entry would be."""
    query = _in_feed(slug).where(releases.c.date >= between[0], releases.c.date < between[1])
    rows = _dated_first(connection, query.with_only_columns(*_SIGNED), None)
    ids = [row.id for row in rows]
    topics = topics_of(connection, ids) if rows else {}
    ranks = arrival_ranks(connection, ids)
    return [(*row, topics.get(row.id, ()), ranks.get(row.id)) for row in rows]


def month_dates(month: str) -> tuple[dt.date, dt.date]:
    """The first day of `month` ("2024-03") and the first day after it."""
    first = dt.date.fromisoformat(f"{month}-01")
    return first, (first + dt.timedelta(days=32)).replace(day=1)


def _dated_in(month: str) -> Any:
    """Releases dated in `month`, as a range the date index answers."""
    first, after = month_dates(month)
    return (releases.c.date >= first) & (releases.c.date < after)


def feed_month_counts(
    connection: Connection, slug: str | None, months: Collection[str] | None = None
) -> dict[str, int]:
    """Live releases of a topic (all when None) per month ("2024-03") of their dates, oldest
    month first; of `months` only, when given (a month with none is left out)."""
    month = func.substr(releases.c.date, 1, 7)  # dates are stored as ISO text
    query = _in_feed(slug).with_only_columns(month, func.count()).group_by(month).order_by(month)
    if months is not None:
        if not months:
            return {}
        query = query.where(or_(*(_dated_in(m) for m in sorted(months))))
    return {row[0]: int(row[1]) for row in connection.execute(query)}


def topic_counts(connection: Connection) -> dict[str, int]:
    """Live releases per topic slug: every tagged release minus the few withdrawn ones."""
    grouped = select(release_topics.c.slug, func.count()).group_by(release_topics.c.slug)
    counts = {row[0]: int(row[1]) for row in connection.execute(grouped)}
    gone = select(releases.c.id).where(releases.c.withdrawn_at.is_not(None))
    for row in connection.execute(grouped.where(release_topics.c.release_id.in_(gone))):
        counts[row[0]] -= int(row[1])
    return {slug: count for slug, count in counts.items() if count}


def arrival_ranks(connection: Connection, ids: Sequence[str]) -> dict[str, int]:
    """Each release's place, from 0, among every release of its date in the order they arrived.

    Withdrawn releases count too, and a later arrival comes last: a rank once given never
    changes."""
    if not ids:
        return {}
    order = (releases.c.first_seen, releases.c.source, releases.c.position, releases.c.id)
    rank = func.row_number().over(partition_by=releases.c.date, order_by=order) - 1
    dates = select(releases.c.date).where(releases.c.id.in_(ids))
    ranked = select(releases.c.id, rank.label("rank")).where(releases.c.date.in_(dates)).subquery()
    rows = connection.execute(select(ranked.c.id, ranked.c.rank).where(ranked.c.id.in_(ids)))
    return {row.id: row.rank for row in rows}


# --- what the browsing pages show --------------------------------------------------------------

_HEADLINE = (releases.c.id, releases.c.title, releases.c.date, releases.c.date_kind)
NEIGHBOUR_WALK = 200  # releases: more than this, and walking every live id beats two queries each


def _headline(row: Any) -> Headline:
    return Headline(row.id, row.title, row.date, row.date_kind == DateKind.FILE_TIME.value)


def feed_headlines(
    connection: Connection,
    slug: str | None,
    *,
    limit: int | None = None,
    between: tuple[dt.date, dt.date] | None = None,
) -> Iterator[Headline]:
    """The releases `feed_releases` gives, in its order, as headlines: streamed, no text read."""
    query = _in_feed(slug).with_only_columns(*_HEADLINE)
    if between:
        query = query.where(releases.c.date >= between[0], releases.c.date < between[1])
    left = limit
    for guessed in (False, True):
        if left is not None and left <= 0:
            return
        part = _newest_first(query.where(_GUESSED if guessed else ~_GUESSED)).limit(left)
        for row in connection.execute(part):
            yield _headline(row)
            left = None if left is None else left - 1


def headlines_by_id(connection: Connection, release_ids: Iterable[str]) -> dict[str, Headline]:
    """The headlines of the releases with these ids, withdrawn or not."""
    ids = sorted(set(release_ids))
    found: dict[str, Headline] = {}
    for start in range(0, len(ids), _IN_BATCH):
        query = select(*_HEADLINE).where(releases.c.id.in_(ids[start : start + _IN_BATCH]))
        found |= {row.id: _headline(row) for row in connection.execute(query)}
    return found


def feed_kind_counts(
    connection: Connection, slug: str | None, months: Collection[str] | None = None
) -> dict[tuple[str, bool], int]:
    """Live releases of a topic (all when None) per (month of their date, whether the date is
    the file's); of `months` only, when given. Dated and undated releases are listed apart."""
    month = func.substr(releases.c.date, 1, 7)  # dates are stored as ISO text
    query = _in_feed(slug).with_only_columns(month, _GUESSED, func.count())
    query = query.group_by(month, _GUESSED)
    if months is not None:
        if not months:
            return {}
        query = query.where(or_(*(_dated_in(m) for m in sorted(months))))
    return {(row[0], bool(row[1])): int(row[2]) for row in connection.execute(query)}


Neighbours = tuple[str | None, str | None]  # (newer, older) release ids


def stream_neighbours(
    connection: Connection, release_ids: Collection[str]
) -> dict[str, Neighbours]:
    """For each of these releases, the live releases listed just before it (newer) and just
    after it (older) among every live release, in the order of `feed_releases`. A withdrawn
    release gets the live ones on either side of where it stood."""
    if len(release_ids) <= NEIGHBOUR_WALK:
        return {i: _neighbours_of(connection, i) for i in sorted(release_ids)}
    found = _walk_neighbours(connection, set(release_ids))
    missing = set(release_ids) - set(found)  # withdrawn, or gone since
    return found | {i: _neighbours_of(connection, i) for i in sorted(missing)}


def _walk_neighbours(connection: Connection, wanted: set[str]) -> dict[str, Neighbours]:
    found: dict[str, Neighbours] = {}
    live = _in_feed(None).with_only_columns(releases.c.id)
    before: str | None = None
    waiting: str | None = None  # wanted, its older neighbour not seen yet
    for guessed in (False, True):
        for row in connection.execute(
            _newest_first(live.where(_GUESSED if guessed else ~_GUESSED))
        ):
            if waiting is not None:
                found[waiting] = (found[waiting][0], row.id)
                waiting = None
            if row.id in wanted:
                found[row.id] = (before, None)
                waiting = row.id
            before = row.id
    return found


def _neighbours_of(connection: Connection, release_id: str) -> Neighbours:
    row = connection.execute(
        select(releases.c.date, releases.c.first_seen, _GUESSED.label("guessed")).where(
            releases.c.id == release_id
        )
    ).first()
    if row is None:
        return (None, None)
    key, guessed = (row.date, row.first_seen, release_id), bool(row.guessed)
    live = _in_feed(None).with_only_columns(releases.c.id)
    group = live.where(_GUESSED if guessed else ~_GUESSED)
    newer = _first(connection, _oldest_first(group.where(_listed_before(*key))))
    older = _first(connection, _newest_first(group.where(_listed_after(*key))))
    if newer is None and guessed:  # the newest undated release follows the oldest dated one
        newer = _first(connection, _oldest_first(live.where(~_GUESSED)))
    if older is None and not guessed:
        older = _first(connection, _newest_first(live.where(_GUESSED)))
    return (newer, older)


def _listed_before(date: dt.date, seen: dt.datetime, release_id: str) -> Any:
    """Releases `_newest_first` puts before the one of this date, arrival and id."""
    c = releases.c
    same_time = (c.first_seen == seen) & (c.id < release_id)
    return (c.date > date) | ((c.date == date) & ((c.first_seen > seen) | same_time))


def _listed_after(date: dt.date, seen: dt.datetime, release_id: str) -> Any:
    """Releases `_newest_first` puts after the one of this date, arrival and id."""
    c = releases.c
    same_time = (c.first_seen == seen) & (c.id > release_id)
    return (c.date < date) | ((c.date == date) & ((c.first_seen < seen) | same_time))


def _oldest_first(query: Any) -> Any:
    return query.order_by(releases.c.date, releases.c.first_seen, releases.c.id.desc())


def _first(connection: Connection, query: Any) -> str | None:
    found = connection.execute(query.limit(1)).scalar()
    return None if found is None else str(found)


def links_as_written(connection: Connection, release_ids: Iterable[str]) -> dict[str, Neighbours]:
    """The (newer, older) releases these release pages link to, as last written."""
    ids = sorted(set(release_ids))
    found: dict[str, Neighbours] = {}
    for start in range(0, len(ids), _IN_BATCH):
        chunk = ids[start : start + _IN_BATCH]
        rows = connection.execute(
            select(release_links).where(release_links.c.release_id.in_(chunk))
        )
        found |= {row.release_id: (row.newer, row.older) for row in rows}
    return found


def save_links_as_written(connection: Connection, links: Mapping[str, Neighbours]) -> None:
    """Record the neighbours these release pages were written with."""
    ids = sorted(links)
    for start in range(0, len(ids), _IN_BATCH):
        chunk = ids[start : start + _IN_BATCH]
        connection.execute(delete(release_links).where(release_links.c.release_id.in_(chunk)))
    rows = [{"release_id": i, "newer": links[i][0], "older": links[i][1]} for i in ids]
    if rows:
        connection.execute(insert(release_links), rows)


def all_release_ids(connection: Connection) -> list[str]:
    """Every release id, live or withdrawn."""
    return list(connection.execute(select(releases.c.id).order_by(releases.c.id)).scalars())


# --- subscribers ------------------------------------------------------------------------------

LEFT_KEY = "unsubscribed/"  # meta key prefix, followed by an address that left


def _subscriber(row: Any) -> Subscriber:
    return Subscriber(
        id=row.id,
        address=row.address,
        topics=tuple(row.topics),
        frequency=Frequency(row.frequency),
        hour=row.hour,
        weekday=row.weekday,
        timezone=row.timezone,
        confirmed=row.confirmed,
        token=row.token,
        created=row.created,
        covered_until=row.covered_until,
    )


def save_subscriber(connection: Connection, subscriber: Subscriber) -> None:
    """Insert a subscriber, or replace the one with the same id."""
    values = vars(subscriber) | {
        "topics": list(subscriber.topics),
        "frequency": subscriber.frequency.value,
    }
    connection.execute(delete(subscribers).where(subscribers.c.id == subscriber.id))
    connection.execute(insert(subscribers).values(**values))


def subscriber_by_address(connection: Connection, address: str) -> Subscriber | None:
    row = connection.execute(select(subscribers).where(subscribers.c.address == address)).first()
    return _subscriber(row) if row else None


def subscriber_by_id(connection: Connection, subscriber_id: str) -> Subscriber | None:
    row = connection.execute(select(subscribers).where(subscribers.c.id == subscriber_id)).first()
    return _subscriber(row) if row else None


def subscriber_by_token(connection: Connection, token: str) -> Subscriber | None:
    row = connection.execute(select(subscribers).where(subscribers.c.token == token)).first()
    return _subscriber(row) if row else None


def all_subscribers(connection: Connection) -> list[Subscriber]:
    rows = connection.execute(select(subscribers).order_by(subscribers.c.address))
    return [_subscriber(row) for row in rows]


def delete_subscriber(connection: Connection, subscriber_id: str) -> None:
    """Remove a subscriber and the messages still waiting for them; remember the address left.

    An import must not subscribe again someone who unsubscribed (see `has_left`)."""
    found = subscriber_by_id(connection, subscriber_id)
    if found is not None:
        set_meta_value(connection, LEFT_KEY + found.address, "1")
    connection.execute(delete(subscribers).where(subscribers.c.id == subscriber_id))
    connection.execute(
        delete(outbox).where(outbox.c.subscriber_id == subscriber_id, outbox.c.status == "pending")
    )


def has_left(connection: Connection, address: str) -> bool:
    """Whether the address was once subscribed and then unsubscribed or was removed."""
    return meta_value(connection, LEFT_KEY + address) is not None


def set_covered_until(connection: Connection, subscriber_id: str, until: dt.datetime) -> None:
    connection.execute(
        update(subscribers).where(subscribers.c.id == subscriber_id).values(covered_until=until)
    )


def set_covered_until_many(connection: Connection, until: Mapping[str, dt.datetime]) -> None:
    """`set_covered_until` for many subscribers (id -> end of period) in one statement."""
    if not until:
        return
    query = (
        update(subscribers)
        .where(subscribers.c.id == bindparam("subscriber"))
        .values(covered_until=bindparam("until", type_=UTCDateTime))
    )
    connection.execute(query, [{"subscriber": k, "until": v} for k, v in until.items()])


def arrivals(connection: Connection, after: dt.datetime, until: dt.datetime) -> list[StoredRelease]:
    """Live releases that first arrived in (after, until], newest first (dated ones first)."""
    query = select(releases).where(
        releases.c.withdrawn_at.is_(None),
        releases.c.first_seen > after,
        releases.c.first_seen <= until,
    )
    rows = _dated_first(connection, query, None)
    topics = topics_of(connection, [row.id for row in rows]) if rows else {}
    return [_stored(row, topics.get(row.id, ())) for row in rows]


# --- the outbox ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutboxRow:
    key: str
    subscriber_id: str
    kind: str
    message: Outgoing
    message_id: str
    status: str
    attempts: int
    next_attempt: dt.datetime
    last_error: str | None


def add_to_outbox(
    connection: Connection,
    message: Outgoing,
    *,
    subscriber_id: str,
    kind: str,
    message_id: str,
    now: dt.datetime,
) -> bool:
    """Record a message to send; False when one with its key is already there."""
    exists = connection.execute(select(outbox.c.key).where(outbox.c.key == message.key)).first()
    if exists:
        return False
    entry = NewMessage(message, subscriber_id, message_id)
    connection.execute(insert(outbox).values(**_new_row(entry, kind, now)))
    return True


@dataclass(frozen=True)
class NewMessage:
    """A message to record in the outbox, with whom it is for and its Message-ID."""

    message: Outgoing
    subscriber_id: str
    message_id: str


def add_many_to_outbox(
    connection: Connection, entries: Sequence[NewMessage], *, kind: str, now: dt.datetime
) -> int:
    """`add_to_outbox` for many messages in two statements; how many were new."""
    keys = [e.message.key for e in entries]
    there = set(connection.execute(select(outbox.c.key).where(outbox.c.key.in_(keys))).scalars())
    rows = [_new_row(e, kind, now) for e in entries if e.message.key not in there]
    if rows:
        connection.execute(insert(outbox), rows)
    return len(rows)


def _new_row(entry: NewMessage, kind: str, now: dt.datetime) -> dict[str, Any]:
    message = entry.message
    return {
        "key": message.key,
        "subscriber_id": entry.subscriber_id,
        "kind": kind,
        "sender": message.sender,
        "recipient": message.recipient,
        "message_id": entry.message_id,
        "data": message.data,
        "status": "pending",
        "attempts": 0,
        "next_attempt": now,
        "created": now,
    }


def due_messages(connection: Connection, now: dt.datetime) -> list[OutboxRow]:
    """Messages waiting to be sent whose next attempt is due, oldest first."""
    query = (
        select(outbox)
        .where(outbox.c.status == "pending", outbox.c.next_attempt <= now)
        .order_by(outbox.c.created, outbox.c.key)
    )
    return [_outbox_row(row) for row in connection.execute(query)]


def outbox_rows(connection: Connection) -> list[OutboxRow]:
    return [_outbox_row(r) for r in connection.execute(select(outbox).order_by(outbox.c.created))]


def _outbox_row(row: Any) -> OutboxRow:
    message = Outgoing(row.key, row.sender, row.recipient, bytes(row.data))
    return OutboxRow(
        row.key,
        row.subscriber_id,
        row.kind,
        message,
        row.message_id,
        row.status,
        row.attempts,
        row.next_attempt,
        row.last_error,
    )


def messages_since(
    connection: Connection, subscriber_id: str, kind: str, since: dt.datetime
) -> int:
    """How many messages of a kind were recorded for a subscriber since a time."""
    query = (
        select(func.count())
        .select_from(outbox)
        .where(
            outbox.c.subscriber_id == subscriber_id, outbox.c.kind == kind, outbox.c.created > since
        )
    )
    return int(connection.execute(query).scalar_one())


def mark_sent(connection: Connection, key: str, now: dt.datetime, reply: str) -> None:
    connection.execute(
        update(outbox)
        .where(outbox.c.key == key)
        .values(status="sent", sent_at=now, attempts=outbox.c.attempts + 1, last_error=reply)
    )


def mark_sent_many(connection: Connection, sent: Sequence[tuple[str, dt.datetime, str]]) -> None:
    """`mark_sent` for many messages, as (key, time, reply), in one statement."""
    if not sent:
        return
    query = (
        update(outbox)
        .where(outbox.c.key == bindparam("sent_key"))
        .values(
            status="sent",
            sent_at=bindparam("at", type_=UTCDateTime),
            attempts=outbox.c.attempts + 1,
            last_error=bindparam("reply"),
        )
    )
    connection.execute(query, [{"sent_key": k, "at": at, "reply": r} for k, at, r in sent])


def mark_deferred(
    connection: Connection, key: str, next_attempt: dt.datetime, error: str, *, failed: bool
) -> None:
    connection.execute(
        update(outbox)
        .where(outbox.c.key == key)
        .values(
            status="failed" if failed else "pending",
            attempts=outbox.c.attempts + 1,
            next_attempt=next_attempt,
            last_error=error,
        )
    )


# --- meta ---------------------------------------------------------------------------------------


NEWS_SINCE_KEY = "news_since"


def news_since(connection: Connection) -> dt.datetime | None:
    """Releases that arrived after this time are news; the first scan's are the archive."""
    value = meta_value(connection, NEWS_SINCE_KEY)
    return dt.datetime.fromisoformat(value) if value else None


def set_news_since(connection: Connection, when: dt.datetime) -> None:
    set_meta_value(connection, NEWS_SINCE_KEY, when.isoformat())


def meta_value(connection: Connection, key: str) -> str | None:
    query = select(settings_table.c.value).where(settings_table.c.key == key)
    return connection.execute(query).scalar_one_or_none()


def set_meta_value(connection: Connection, key: str, value: str) -> None:
    connection.execute(delete(settings_table).where(settings_table.c.key == key))
    connection.execute(insert(settings_table).values(key=key, value=value))


def delete_meta_value(connection: Connection, key: str) -> None:
    connection.execute(delete(settings_table).where(settings_table.c.key == key))
