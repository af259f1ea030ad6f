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
import string
import time
import unicodedata
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
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
    Text,
    TypeDecorator,
    UniqueConstraint,
    and_,
    bindparam,
    create_engine,
    delete,
    event,
    extract,
    func,
    insert,
    literal_column,
    or_,
    select,
    text,
    type_coerce,
    update,
)
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError
from sqlalchemy.pool import NullPool, SingletonThreadPool
from sqlalchemy.schema import CreateTable, ExecutableDDLElement

from pressfeed.errors import SearchTimeoutError, StoreError
from pressfeed.identity import title_key
from pressfeed.models import (
    DateKind,
    FileRecord,
    Frequency,
    Headline,
    Outgoing,
    OutputRecord,
    Release,
    SearchQuery,
    SearchTerm,
    StoredRelease,
    Subscriber,
    TopicReason,
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


class JSONText(TypeDecorator[Any]):
    """JSON kept as text: the same column and the same bytes on every backend."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        return None if value is None else json.dumps(value)

    def process_result_value(self, value: str | None, dialect: Any) -> Any:
        return None if value is None else json.loads(value)


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
    Column("data", JSONText, nullable=False),
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
    Column("paragraphs", JSONText, nullable=False),
    Column("contacts", JSONText, nullable=False),
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
    Column("evidence", JSONText),  # TopicReason.found as [[words, part], ...]; NULL: not known
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
    Column("topics", JSONText, nullable=False),
    Column("frequency", String, nullable=False),
    Column("hour", Integer, nullable=False),
    Column("weekday", Integer, nullable=False),
    Column("timezone", String, nullable=False),
    Column("confirmed", Boolean, nullable=False),
    Column("token", String, nullable=False, unique=True),
    Column("created", UTCDateTime, nullable=False),
    Column("covered_until", UTCDateTime),
    Column("query", String, nullable=False, server_default=""),
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
    Column("claimed_by", String),  # the sender that holds it (status 'claimed') or last tried it
    Column("claimed_until", UTCDateTime),  # its claim's end: then any sender may take it
)

websub_subscriptions = Table(
    "websub_subscriptions",
    metadata,
    Column("callback", String, primary_key=True),
    Column("topic", String, primary_key=True),
    Column("secret", String),
    Column("lease_seconds", Integer, nullable=False),
    Column("expires", UTCDateTime, nullable=False),
    Column("created", UTCDateTime, nullable=False),
)

websub_tasks = Table(
    "websub_tasks",
    metadata,
    Column("topic", String, primary_key=True),
    Column("callback", String, primary_key=True),
    Column("marked", UTCDateTime, nullable=False),
    Column("due", UTCDateTime, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", String),
)

settings_table = Table(
    "meta",
    metadata,
    Column("key", String, primary_key=True),
    Column("value", String, nullable=False),
)

# The full-text index of live releases (SQLite FTS5; see `_create_search_index`). A release is
# a numbered document, since a rowid of `releases` may change on VACUUM.
search_docs = Table(
    "search_docs",
    metadata,
    Column("doc", Integer, primary_key=True),
    Column("release_id", String, nullable=False, unique=True),
)
search_text = Table(
    "search_text",
    metadata,
    Column("rowid", Integer),
    Column("title", String),
    Column("place", String),
    Column("body", String),
    Column("organisation", String),
)
# A number that grows with every change of a release or its topics: what a search found is
# still right while it stays the same.
search_changes = Table("search_changes", metadata, Column("version", Integer, nullable=False))

Migration = Sequence[str | ExecutableDDLElement] | Callable[[Connection], None]


def _table(name: str, *columns: Column[Any] | UniqueConstraint, **options: Any) -> CreateTable:
    """A table as a migration creates it: its own columns, apart from the tables above."""
    return CreateTable(Table(name, MetaData(), *columns, **options))


def _backfill_title_keys(connection: Connection) -> None:
    rows = connection.execute(select(releases.c.id, releases.c.title)).all()
    for row in rows:
        key = title_key(row.title)
        connection.execute(update(releases).where(releases.c.id == row.id).values(title_key=key))


# A release's text as the index holds it; `R` is the release's row.
_INDEXED = (
    "R.title, R.place, (SELECT group_concat(value, ' ') FROM json_each(R.paragraphs)), "
    "R.organisation"
)
_INDEX_NEW = f"""
    INSERT INTO search_docs (release_id) SELECT NEW.id WHERE NEW.withdrawn_at IS NULL;
    INSERT INTO search_text (rowid, title, place, body, organisation)
        SELECT doc, {_INDEXED.replace("R.", "NEW.")} FROM search_docs WHERE release_id = NEW.id;"""
_UNINDEX_OLD = """
    DELETE FROM search_text WHERE rowid IN (SELECT doc FROM search_docs WHERE release_id = OLD.id);
    DELETE FROM search_docs WHERE release_id = OLD.id;"""
_COUNT_CHANGE = "UPDATE search_changes SET version = version + 1;"
_SEARCH_INDEX = (
    "CREATE TABLE search_docs (doc INTEGER PRIMARY KEY, release_id TEXT NOT NULL UNIQUE)",
    # unicode61 with remove_diacritics 2: "Libye" finds "Libyé", "benghazi" finds "Bénghazi".
    """CREATE VIRTUAL TABLE search_text USING fts5(
        title, place, body, organisation, tokenize = 'unicode61 remove_diacritics 2')""",
    "CREATE TABLE search_changes (version INTEGER NOT NULL)",
    "INSERT INTO search_changes VALUES (0)",
    # Every write of a release keeps the index in step, in its own transaction: a withdrawn
    # release leaves it, one brought back returns.
    f"""CREATE TRIGGER releases_indexed AFTER INSERT ON releases BEGIN {_INDEX_NEW}
        {_COUNT_CHANGE} END""",
    f"""CREATE TRIGGER releases_reindexed
        AFTER UPDATE OF id, title, place, paragraphs, organisation, withdrawn_at ON releases
        BEGIN {_UNINDEX_OLD} {_INDEX_NEW} END""",
    f"CREATE TRIGGER releases_changed AFTER UPDATE ON releases BEGIN {_COUNT_CHANGE} END",
    f"""CREATE TRIGGER releases_unindexed AFTER DELETE ON releases BEGIN {_UNINDEX_OLD}
        {_COUNT_CHANGE} END""",
    *(
        f"CREATE TRIGGER release_topics_{verb.lower()} AFTER {verb} ON release_topics "
        f"BEGIN {_COUNT_CHANGE} END"
        for verb in ("INSERT", "UPDATE", "DELETE")
    ),
    "INSERT INTO search_docs (release_id) SELECT id FROM releases WHERE withdrawn_at IS NULL",
    f"""INSERT INTO search_text (rowid, title, place, body, organisation)
        SELECT D.doc, {_INDEXED} FROM search_docs AS D JOIN releases AS R ON R.id = D.release_id""",
)


def _create_search_index(connection: Connection) -> None:
    """The full-text index of live releases, filled from the releases there are.

    SQLite only: another database is searched by an index of its own kind, made by a
    migration of its own."""
    if connection.dialect.name == "sqlite":
        for statement in _SEARCH_INDEX:
            connection.execute(text(statement))


# Quotes, guillemets, dashes, the ellipsis and bullets: where text copied from pages splits words.
_UNICODE_PUNCTUATION = "‘’‚‛“”„«»‹›–—…·•"


def _fold_table() -> tuple[str, str]:
    """What `pressfeed_fold` maps, for `translate()`: Latin letters with diacritics to their
    bare lower-case letter, and punctuation to a space, so that PostgreSQL splits words where
    FTS5's unicode61 does ("e-mail" is "e mail" in both, not one hyphenated word)."""
    source, target = [], []
    for code in [*range(0xC0, 0x250), *range(0x1E00, 0x1F00)]:
        letter = chr(code)
        bare = "".join(c for c in unicodedata.normalize("NFKD", letter) if c.isalnum())
        if bare != letter and len(bare) == 1 and bare.isascii():  # not ligatures such as ĳ
            source.append(letter)
            target.append(bare.lower())
    for mark in string.punctuation + _UNICODE_PUNCTUATION:
        source.append(mark)
        target.append(" ")
    return "".join(source).replace("'", "''"), "".join(target)


_FOLDED, _FOLDS_TO = _fold_table()
# PostgreSQL's full-text index: one weighted tsvector per live release (headline A, place and
# organisation B, body D), in the 'simple' configuration (no stemming, as FTS5's unicode61),
# its accents taken off by `pressfeed_fold` (a function of the store's own: the unaccent
# extension may not be installed). Kept in step by a trigger, like SQLite's index.
search_vectors = Table(
    "search_vectors",
    metadata,
    Column("release_id", String, primary_key=True),
    Column("document", Text, nullable=False),
)
_POSTGRES_DOCUMENT = """
    setweight(to_tsvector('simple', pressfeed_fold(R.title)), 'A')
    || setweight(to_tsvector('simple',
        pressfeed_fold(concat_ws(' ', R.place, R.organisation))), 'B')
    || setweight(to_tsvector('simple', pressfeed_fold(coalesce(
        (SELECT string_agg(value, ' ') FROM json_array_elements_text(R.paragraphs::json)),
        ''))), 'D')"""
_POSTGRES_SEARCH_INDEX = (
    f"""CREATE FUNCTION pressfeed_fold(value text) RETURNS text LANGUAGE sql IMMUTABLE
        AS $fold$ SELECT lower(translate(value, '{_FOLDED}', '{_FOLDS_TO}')) $fold$""",
    "CREATE TABLE search_vectors (release_id TEXT PRIMARY KEY, document tsvector NOT NULL)",
    "CREATE INDEX search_vectors_document ON search_vectors USING gin (document)",
    "CREATE TABLE search_changes (version INTEGER NOT NULL)",
    "INSERT INTO search_changes VALUES (0)",
    f"""CREATE FUNCTION pressfeed_index_release() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
    BEGIN
        IF TG_OP <> 'INSERT' THEN
            DELETE FROM search_vectors WHERE release_id = OLD.id;
        END IF;
        IF TG_OP <> 'DELETE' AND NEW.withdrawn_at IS NULL THEN
            INSERT INTO search_vectors
                SELECT R.id, {_POSTGRES_DOCUMENT} FROM (SELECT NEW.*) AS R;
        END IF;
        RETURN NULL;
    END $$""",
    """CREATE FUNCTION pressfeed_count_change() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
    BEGIN
        UPDATE search_changes SET version = version + 1;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER releases_indexed AFTER INSERT OR DELETE OR UPDATE OF
        id, title, place, paragraphs, organisation, withdrawn_at ON releases
        FOR EACH ROW EXECUTE FUNCTION pressfeed_index_release()""",
    *(
        f"""CREATE TRIGGER {table}_changed AFTER INSERT OR UPDATE OR DELETE ON {table}
        FOR EACH STATEMENT EXECUTE FUNCTION pressfeed_count_change()"""
        for table in ("releases", "release_topics")
    ),
    f"""INSERT INTO search_vectors SELECT R.id, {_POSTGRES_DOCUMENT}
        FROM releases AS R WHERE R.withdrawn_at IS NULL""",
)


def _create_postgres_search_index(connection: Connection) -> None:
    """PostgreSQL's full-text index of live releases, filled from the releases there are."""
    if connection.dialect.name == "postgresql":
        for statement in _POSTGRES_SEARCH_INDEX:
            connection.execute(text(statement))


# Appended only: a database at version N runs migrations N+1.. in order, each in one transaction.
# Tables are declared with SQLAlchemy types, which each backend compiles to its own DDL; the
# other steps are SQL that SQLite and PostgreSQL both run.
MIGRATIONS: tuple[Migration, ...] = (
    (
        _table(
            "files",
            Column("path", Text, primary_key=True),
            Column("size", BigInteger, nullable=False),
            Column("mtime_ns", BigInteger, nullable=False),
            Column("sha256", Text, nullable=False),
        ),
        _table(
            "sources",
            Column("path", Text, primary_key=True),
            Column("position", Integer, primary_key=True, autoincrement=False),
            Column("release_id", Text, nullable=False),
            Column("data", Text, nullable=False),
        ),
        "CREATE INDEX sources_release ON sources (release_id)",
        _table(
            "releases",
            Column("id", Text, primary_key=True),
            Column("title", Text, nullable=False),
            Column("title_derived", Boolean, nullable=False),
            Column("date", Date, nullable=False),
            Column("date_kind", Text, nullable=False),
            Column("place", Text),
            Column("paragraphs", Text, nullable=False),
            Column("contacts", Text, nullable=False),
            Column("source", Text, nullable=False),
            Column("position", Integer, nullable=False),
            Column("text_hash", Text, nullable=False),
            Column("first_seen", DateTime, nullable=False),
            Column("updated", DateTime, nullable=False),
            Column("withdrawn_at", DateTime),
        ),
        "CREATE INDEX releases_date ON releases (date)",
        _table(
            "release_topics",
            Column("release_id", Text, primary_key=True),
            Column("slug", Text, primary_key=True),
            Column("score", Float, nullable=False),
        ),
        "CREATE INDEX release_topics_slug ON release_topics (slug)",
        _table(
            "meta",
            Column("key", Text, primary_key=True),
            Column("value", Text, nullable=False),
        ),
    ),
    (
        "ALTER TABLE releases ADD COLUMN title_key TEXT",
        "CREATE INDEX releases_title_key ON releases (title_key)",
    ),
    _backfill_title_keys,
    (
        # What the next publish must rebuild: releases, feeds, archive months.
        _table(
            "pending",
            Column("kind", Text, primary_key=True),
            Column("key", Text, primary_key=True),
        ),
        "INSERT INTO pending SELECT 'release', id FROM releases",
        "INSERT INTO pending VALUES ('everything', '')",
    ),
    (
        _table(
            "subscribers",
            Column("id", Text, primary_key=True),
            Column("address", Text, nullable=False, unique=True),
            Column("topics", Text, nullable=False),
            Column("frequency", Text, nullable=False),
            Column("hour", Integer, nullable=False),
            Column("weekday", Integer, nullable=False),
            Column("timezone", Text, nullable=False),
            Column("confirmed", Boolean, nullable=False),
            Column("token", Text, nullable=False, unique=True),
            Column("created", DateTime, nullable=False),
            Column("covered_until", DateTime),
        ),
        # Every message is recorded here before it is sent, and marked sent after the server
        # accepts it; its bytes are final, so a resend is the same message.
        _table(
            "outbox",
            Column("key", Text, primary_key=True),
            Column("subscriber_id", Text, nullable=False),
            Column("kind", Text, nullable=False),
            Column("sender", Text, nullable=False),
            Column("recipient", Text, nullable=False),
            Column("message_id", Text, nullable=False),
            Column("data", LargeBinary, nullable=False),
            Column("status", Text, nullable=False),
            Column("attempts", Integer, nullable=False),
            Column("next_attempt", DateTime, nullable=False),
            Column("last_error", Text),
            Column("created", DateTime, nullable=False),
            Column("sent_at", DateTime),
        ),
        "CREATE INDEX outbox_due ON outbox (status, next_attempt)",
    ),
    (
        # Each marking gets a number never used before, so a publish that read the pending
        # rows clears only those: a key marked again while it wrote stays for the next one.
        _table(
            "pending_marks",
            Column("seq", Integer, primary_key=True, autoincrement=True),
            Column("kind", Text, nullable=False),
            Column("key", Text, nullable=False),
            UniqueConstraint("kind", "key"),
            sqlite_autoincrement=True,
        ),
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
        _table(
            "outputs",
            Column("path", Text, primary_key=True),
            Column("inputs", Text, nullable=False),
            Column("size", BigInteger, nullable=False),
            Column("mtime_ns", BigInteger, nullable=False),
        ),
    ),
    # WebSub: the hub's verified subscriptions, and what is still to push: a topic to ping the
    # hub about (callback ''), or a topic's feed to deliver to one subscriber's callback.
    (
        _table(
            "websub_subscriptions",
            Column("callback", Text, primary_key=True),
            Column("topic", Text, primary_key=True),
            Column("secret", Text),
            Column("lease_seconds", Integer, nullable=False),
            Column("expires", DateTime, nullable=False),
            Column("created", DateTime, nullable=False),
        ),
        "CREATE INDEX websub_subscriptions_topic ON websub_subscriptions (topic)",
        _table(
            "websub_tasks",
            Column("topic", Text, primary_key=True),
            Column("callback", Text, primary_key=True),
            Column("marked", DateTime, nullable=False),
            Column("due", DateTime, nullable=False),
            Column("attempts", Integer, nullable=False),
            Column("last_error", Text),
        ),
        "CREATE INDEX websub_tasks_due ON websub_tasks (due)",
    ),
    # Why each release carries each topic, for the feeds and pages to say. Forgetting the
    # fingerprint of the topics (scan.TOPICS_KEY) makes the next scan classify every stored
    # release again, which fills it in.
    (
        "ALTER TABLE release_topics ADD COLUMN evidence TEXT",
        "DELETE FROM meta WHERE key = 'topics_fingerprint'",
    ),
    # Searching: a full-text index of the live releases, kept in step by triggers.
    _create_search_index,
    # A subscriber's digest may hold only the releases matching a search query of theirs.
    ("ALTER TABLE subscribers ADD COLUMN query TEXT NOT NULL DEFAULT ''",),
    # The neighbours each release page links to, as written (see `release_links`).
    (
        _table(
            "release_links",
            Column("release_id", Text, primary_key=True),
            Column("newer", Text),
            Column("older", Text),
        ),
    ),
    # Many senders: each claims a batch of due messages (status 'claimed') for a lease; a claim
    # whose sender died is due again once its lease has run out.
    (
        "ALTER TABLE outbox ADD COLUMN claimed_by TEXT",
        "ALTER TABLE outbox ADD COLUMN claimed_until TIMESTAMP",
        "CREATE INDEX outbox_claims ON outbox (status, claimed_until)",
    ),
    # Searching on PostgreSQL: its own full-text index, as SQLite has had since the one above.
    _create_postgres_search_index,
    # When the releases last changed, which every publish asks: read off an index, not a scan.
    ("CREATE INDEX releases_updated ON releases (updated)",),
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
    except SQLAlchemyError as error:
        raise StoreError(url, str(error)) from error
    try:
        if engine.dialect.name == "sqlite":
            _tune_sqlite(engine, url, busy_timeout)
        elif engine.dialect.name == "postgresql":
            _tune_postgres(engine, url, busy_timeout)
        migrate(engine)
    except SQLAlchemyError as error:
        engine.dispose()
        raise StoreError(url, str(error.orig if hasattr(error, "orig") else error)) from error
    except BaseException:
        engine.dispose()  # closes what a failed migration left open
        raise
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
    elif engine.dialect.name == "postgresql":
        _tune_postgres(engine, url, busy_timeout, writes=False)
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


# The key of the one lock every writing transaction takes on PostgreSQL (any number, fixed).
WRITE_LOCK = 0x70726573  # "pres"


def _tune_postgres(engine: Engine, url: str, busy_timeout: float, *, writes: bool = True) -> None:
    """PostgreSQL with SQLite's guarantees: one writer at a time, snapshots that do not move.

    Every transaction but a snapshot takes one transaction-scoped advisory lock, as SQLite's
    BEGIN IMMEDIATE takes its write lock: the store's read-then-write steps stay serial. A
    snapshot is REPEATABLE READ and READ ONLY: one consistent state, no lock."""
    wait_ms = round(busy_timeout * 1000)

    @event.listens_for(engine, "handle_error")
    def _on_error(context: ExceptionContext) -> None:
        if getattr(context.original_exception, "sqlstate", None) == "55P03":  # lock_not_available
            reason = f"locked by another writer; gave up after waiting {busy_timeout:g} s"
            raise StoreError(url, reason) from context.original_exception

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        options = connection.get_execution_options()
        if options.get("pressfeed_snapshot", False) or not writes:
            connection.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            return
        connection.exec_driver_sql(f"SET LOCAL lock_timeout = {wait_ms}")
        if not options.get("pressfeed_row_locks", False):
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({WRITE_LOCK})")


# The key of the session lock the leading `pressfeed run` process holds (not WRITE_LOCK).
LEADER_LOCK = 0x6C656164  # "lead"
# A lock connection notices a dead server or network within about this many seconds, and the
# server notices a dead client as fast (keepalives on both ends): a lost leader is let go.
LOCK_CONNECTION_TIMEOUT = 10


def lock_connection(engine: Engine) -> Connection:
    """A connection of its own to `engine`'s PostgreSQL database, outside its pool, autocommit.

    A session lock taken on it lasts as long as the connection: a process that dies, or whose
    connection drops, loses it at once.
    """
    seconds = LOCK_CONNECTION_TIMEOUT
    link = create_engine(
        engine.url,
        poolclass=NullPool,
        isolation_level="AUTOCOMMIT",
        connect_args={
            "connect_timeout": seconds,
            "keepalives": 1,
            "keepalives_idle": 2,
            "keepalives_interval": 2,
            "keepalives_count": 3,
            "tcp_user_timeout": seconds * 1000,
        },
    )
    url = engine.url.render_as_string(hide_password=True)
    try:
        connection = link.connect()
        for setting in ("tcp_keepalives_idle = 2", "tcp_keepalives_interval = 2"):
            connection.exec_driver_sql(f"SET {setting}")
        connection.exec_driver_sql("SET tcp_keepalives_count = 3")
        connection.exec_driver_sql(f"SET statement_timeout = {seconds * 1000}")
    except SQLAlchemyError as error:
        link.dispose()
        raise StoreError(url, f"no lock connection: {_reason(error)}") from error
    return connection


def try_session_lock(connection: Connection, key: int) -> bool:
    """Take the session advisory lock `key` on `connection` if nobody holds it; never waits."""
    query = text("SELECT pg_try_advisory_lock(:key)")
    return bool(_on_lock_connection(connection, lambda: connection.execute(query, {"key": key})))


def session_unlock(connection: Connection, key: int) -> None:
    """Release the session advisory lock `key` that `connection` holds, before the call returns."""
    query = text("SELECT pg_advisory_unlock(:key)")
    _on_lock_connection(connection, lambda: connection.execute(query, {"key": key}))


def holds_session_lock(connection: Connection, key: int) -> bool:
    """Whether `connection` still holds the session lock `key` (False when it has dropped)."""
    query = text(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
        " AND pid = pg_backend_pid() AND classid::bigint = :high AND objid::bigint = :low"
        " AND objsubid = 1"
    )
    values = {"high": key >> 32, "low": key & 0xFFFFFFFF}
    try:
        return bool(_on_lock_connection(connection, lambda: connection.execute(query, values)))
    except StoreError:
        return False


def close_lock_connection(connection: Connection) -> None:
    """Close a lock connection, releasing its session locks; a dropped one closes quietly."""
    with contextlib.suppress(SQLAlchemyError):
        connection.close()
    connection.engine.dispose()


def _on_lock_connection(connection: Connection, query: Callable[[], Any]) -> Any:
    try:
        return query().scalar_one()
    except SQLAlchemyError as error:
        url = connection.engine.url.render_as_string(hide_password=True)
        raise StoreError(url, f"lock connection lost: {_reason(error)}") from error


def _reason(error: SQLAlchemyError) -> str:
    return str(getattr(error, "orig", None) or error).strip()


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
    for version, migration in enumerate(MIGRATIONS, start=1):
        with engine.begin() as connection:
            if schema_version(connection) >= version:
                continue
            apply_migration(connection, migration)
            connection.execute(text("UPDATE schema_version SET version = :v"), {"v": version})
            log.info("database migrated to version %d", version)


def apply_migration(connection: Connection, migration: Migration) -> None:
    """Run one migration's steps in the connection's transaction."""
    if callable(migration):
        migration(connection)
        return
    for step in migration:
        connection.execute(text(step) if isinstance(step, str) else step)


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


def output_sizes(connection: Connection) -> Iterator[tuple[str, int, int]]:
    """Every published file the store has a record of, as (path, size, mtime_ns): streamed."""
    query = select(outputs.c.path, outputs.c.size, outputs.c.mtime_ns)
    for path, size, mtime_ns in connection.execute(query):
        yield path, int(size), int(mtime_ns)


def forget_output_records(connection: Connection, paths: Sequence[str]) -> None:
    """Drop the records of these published files (removed since)."""
    for start in range(0, len(paths), _IN_BATCH):
        chunk = paths[start : start + _IN_BATCH]
        connection.execute(delete(outputs).where(outputs.c.path.in_(chunk)))


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
        tagged = _tagging(connection, chunk)
        rows = connection.execute(select(releases).where(releases.c.id.in_(chunk)))
        found |= {row.id: _stored(row, tagged.get(row.id, ((), ()))) for row in rows}
    return found


# Every column but the text, which `text_hash` stands for, as the database gives it: a
# signature is only compared, and converting each value would cost more than the reading.
_RELEASE_SIGNED = tuple(
    type_coerce(c, Text).label(c.name)
    for c in releases.c
    if c.name not in ("paragraphs", "contacts")
)
_TOPICS_SIGNED = (
    release_topics.c.release_id,
    release_topics.c.slug,
    release_topics.c.score,
    type_coerce(release_topics.c.evidence, Text),
)


@dataclass(frozen=True)
class ReleaseSignature:
    """What the store holds of a release, its text as its hash and its topics with their
    evidence: cheap to read, and different whenever its `StoredRelease` would be."""

    values: tuple[object, ...]
    withdrawn: bool


def release_signatures(
    connection: Connection, release_ids: Iterable[str]
) -> dict[str, ReleaseSignature]:
    """The signatures of the stored releases with these ids, withdrawn or not."""
    ids = sorted(set(release_ids))
    found: dict[str, ReleaseSignature] = {}
    for start in range(0, len(ids), _IN_BATCH):
        chunk = ids[start : start + _IN_BATCH]
        topics: dict[str, list[tuple[object, ...]]] = {}
        query = select(*_TOPICS_SIGNED).where(release_topics.c.release_id.in_(chunk))
        for row in connection.execute(query.order_by(*_TOPICS_SIGNED[:2])):
            topics.setdefault(row[0], []).append(tuple(row[1:]))
        query = select(*_RELEASE_SIGNED).where(releases.c.id.in_(chunk))
        for row in connection.execute(query):
            values = (*row, tuple(topics.get(row.id, ())))
            found[row.id] = ReleaseSignature(values, row.withdrawn_at is not None)
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
    tagged = _tagging(connection)
    for row in connection.execute(query):
        yield _stored(row, tagged.get(row.id, ((), ())))


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
    # One aggregate a query, each over its own index (the withdrawn's is partial, hence the
    # WHERE): both in one query would scan the table.
    withdrawn = releases.c.withdrawn_at
    times = [
        connection.execute(select(func.max(releases.c.updated))).scalar(),
        connection.execute(select(func.max(withdrawn)).where(withdrawn.is_not(None))).scalar(),
    ]
    return max((t for t in times if t is not None), default=None)


_Tagged = tuple[tuple[str, ...], tuple[TopicReason, ...]]  # a release's topics, and their reasons


def _stored(row: Any, tagged: _Tagged = ((), ())) -> StoredRelease:
    return StoredRelease(
        _release(row._mapping),
        row.text_hash,
        row.first_seen,
        row.updated,
        row.withdrawn_at,
        *tagged,
    )


# --- topics -------------------------------------------------------------------------------------


def set_topics(
    connection: Connection, scores: Mapping[str, Mapping[str, float | TopicReason]]
) -> None:
    """Replace the topics of each release (id -> slug -> score, or the reason with its score)."""
    if not scores:
        return
    connection.execute(delete(release_topics).where(release_topics.c.release_id.in_(list(scores))))
    rows = [
        _topic_row(rid, slug, value)
        for rid, by_slug in scores.items()
        for slug, value in by_slug.items()
    ]
    if rows:
        connection.execute(insert(release_topics), rows)


def _topic_row(release_id: str, slug: str, value: float | TopicReason) -> dict[str, Any]:
    if isinstance(value, TopicReason):
        evidence = [list(pair) for pair in value.found]
        return {"release_id": release_id, "slug": slug, "score": value.score, "evidence": evidence}
    return {"release_id": release_id, "slug": slug, "score": value, "evidence": None}


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


def _tagging(
    connection: Connection, release_ids: Sequence[str] | None = None
) -> dict[str, _Tagged]:
    """The topics of these releases (all when None) and why they carry them, by release id."""
    columns = release_topics.c
    query = select(columns.release_id, columns.slug, columns.score, columns.evidence)
    query = query.order_by(columns.release_id, columns.slug)
    if release_ids is not None:
        query = query.where(columns.release_id.in_(list(release_ids)))
    grouped: dict[str, list[TopicReason]] = {}
    for row in connection.execute(query):
        found = tuple((str(w), str(p)) for w, p in row.evidence or ())
        grouped.setdefault(row.release_id, []).append(TopicReason(row.slug, row.score, found))
    return {k: (tuple(r.slug for r in v), tuple(v)) for k, v in grouped.items()}


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


@contextlib.contextmanager
def outbox_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction for claiming outbox rows and recording their outcomes, by key.

    On PostgreSQL it takes row locks only, not the one write lock: senders claim with SKIP LOCKED
    and change only rows they hold, so they go on beside each other and beside other writers.
    SQLite has one writer anyway (BEGIN IMMEDIATE)."""
    with engine.connect() as connection:
        connection.execution_options(pressfeed_row_locks=True)
        with connection.begin():
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
    tagged = _tagging(connection, [row.id for row in rows]) if rows else {}
    return [_stored(row, tagged.get(row.id, ((), ()))) for row in rows]


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


# A release's month, as every backend computes it ("2024-03" once named).
_YEAR, _MONTH = extract("year", releases.c.date), extract("month", releases.c.date)


def _month_name(year: object, month: object) -> str:
    return f"{int(str(year)):04d}-{int(str(month)):02d}"


def feed_month_counts(
    connection: Connection, slug: str | None, months: Collection[str] | None = None
) -> dict[str, int]:
    """Live releases of a topic (all when None) per month ("2024-03") of their dates, oldest
    month first; of `months` only, when given (a month with none is left out)."""
    year, month = _YEAR, _MONTH
    query = _in_feed(slug).with_only_columns(year, month, func.count()).group_by(year, month)
    if months is not None:
        if not months:
            return {}
        query = query.where(or_(*(_dated_in(m) for m in sorted(months))))
    counts = {_month_name(y, m): int(n) for y, m, n in connection.execute(query)}
    return dict(sorted(counts.items()))


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


_FILE_TIME = DateKind.FILE_TIME.value


def _headline(row: Any) -> Headline:
    # By position: a list page reads tens of thousands, and names cost twice as much per row.
    release_id, title, date, date_kind = row
    return Headline(release_id, title, date, date_kind == _FILE_TIME)


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
    year, month = _YEAR, _MONTH
    query = _in_feed(slug).with_only_columns(year, month, _GUESSED, func.count())
    query = query.group_by(year, month, _GUESSED)
    if months is not None:
        if not months:
            return {}
        query = query.where(or_(*(_dated_in(m) for m in sorted(months))))
    return {(_month_name(y, m), bool(g)): int(n) for y, m, g, n in connection.execute(query)}


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
    # The first term, implied by the rest, is what lets the date index start at `date`.
    later = (c.date > date) | ((c.date == date) & ((c.first_seen > seen) | same_time))
    return (c.date >= date) & later


def _listed_after(date: dt.date, seen: dt.datetime, release_id: str) -> Any:
    """Releases `_newest_first` puts after the one of this date, arrival and id."""
    c = releases.c
    same_time = (c.first_seen == seen) & (c.id > release_id)
    earlier = (c.date < date) | ((c.date == date) & ((c.first_seen < seen) | same_time))
    return (c.date <= date) & earlier  # see `_listed_before`


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
        query=row.query,
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
        delete(outbox).where(
            outbox.c.subscriber_id == subscriber_id, outbox.c.status.in_(("pending", "claimed"))
        )
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
    return [_stored(row, (topics.get(row.id, ()), ())) for row in rows]


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
    claimed_by: str | None = None  # the sender holding it, or the last that tried it
    claimed_until: dt.datetime | None = None


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


def _due(now: dt.datetime) -> Any:
    """Waiting messages whose next attempt has come, and claims whose lease has run out."""
    return or_(
        and_(outbox.c.status == "pending", outbox.c.next_attempt <= now),
        and_(outbox.c.status == "claimed", outbox.c.claimed_until < now),
    )


def claim_messages(
    connection: Connection, sender: str, *, now: dt.datetime, until: dt.datetime, limit: int
) -> list[OutboxRow]:
    """Claim up to `limit` messages due at `now` for `sender` until `until`, oldest first.

    Rows another sender is claiming in this very moment are skipped (SKIP LOCKED on PostgreSQL;
    SQLite's one writer makes claims serial), so no two senders get the same message."""
    query = (
        select(outbox)
        .where(_due(now))
        .order_by(outbox.c.created, outbox.c.key)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = [_outbox_row(row) for row in connection.execute(query)]
    keys = [row.key for row in rows]
    for start in range(0, len(keys), _IN_BATCH):
        connection.execute(
            update(outbox)
            .where(outbox.c.key.in_(keys[start : start + _IN_BATCH]))
            .values(status="claimed", claimed_by=sender, claimed_until=until)
        )
    return rows


def extend_claims(connection: Connection, sender: str, until: dt.datetime) -> None:
    """Move the lease of every message `sender` still holds to `until`."""
    connection.execute(update(outbox).where(_held_by(sender)).values(claimed_until=until))


def claimants(connection: Connection) -> set[str]:
    """The senders holding claims."""
    query = select(outbox.c.claimed_by).where(outbox.c.status == "claimed").distinct()
    return {sender for sender in connection.execute(query).scalars() if sender is not None}


def forget_done(connection: Connection, kind: str, before: dt.datetime) -> int:
    """Delete the messages of `kind` recorded before `before` that are sent or failed for good."""
    query = delete(outbox).where(
        outbox.c.kind == kind,
        outbox.c.status.in_(("sent", "failed")),
        outbox.c.created < before,
    )
    return int(connection.execute(query).rowcount)


def release_claims(connection: Connection, senders: Collection[str]) -> int:
    """Give back the claims of `senders` (known to be gone): their messages are due at once."""
    if not senders:
        return 0
    query = (
        update(outbox)
        .where(outbox.c.status == "claimed", outbox.c.claimed_by.in_(list(senders)))
        .values(status="pending", claimed_until=None)
        .returning(outbox.c.key)
    )
    return len(connection.execute(query).all())


def _held_by(sender: str) -> Any:
    return and_(outbox.c.status == "claimed", outbox.c.claimed_by == sender)


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
        row.claimed_by,
        row.claimed_until,
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


def mark_sent_many(
    connection: Connection, sent: Sequence[tuple[str, dt.datetime, str]], *, by: str
) -> None:
    """Record messages `by` holds as sent, as (key, time, reply), in one statement; a message
    whose claim has gone to another sender is left as it is."""
    if not sent:
        return
    query = (
        update(outbox)
        .where(outbox.c.key == bindparam("sent_key"), _held_by(by))
        .values(
            status="sent",
            sent_at=bindparam("at", type_=UTCDateTime),
            attempts=outbox.c.attempts + 1,
            last_error=bindparam("reply"),
            claimed_until=None,
        )
    )
    connection.execute(query, [{"sent_key": k, "at": at, "reply": r} for k, at, r in sent])


def mark_deferred(
    connection: Connection,
    key: str,
    next_attempt: dt.datetime,
    error: str,
    *,
    failed: bool,
    by: str,
) -> None:
    """Record a message `by` holds as waiting for `next_attempt`, or failed for good."""
    connection.execute(
        update(outbox)
        .where(outbox.c.key == key, _held_by(by))
        .values(
            status="failed" if failed else "pending",
            attempts=outbox.c.attempts + 1,
            next_attempt=next_attempt,
            last_error=error,
            claimed_until=None,
        )
    )


# --- WebSub -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WebSubSubscription:
    """A verified subscription of a callback to a topic, until `expires`."""

    callback: str
    topic: str
    secret: str | None
    lease_seconds: int
    expires: dt.datetime


@dataclass(frozen=True)
class WebSubTask:
    """A topic to ping the hub about (`callback` ""), or to deliver to `callback`.

    `marked` is when it was last asked for: one asked for again while being done stays."""

    topic: str
    callback: str
    marked: dt.datetime
    attempts: int


def save_websub_subscription(
    connection: Connection, subscription: WebSubSubscription, now: dt.datetime
) -> None:
    """Add the subscription, or renew it with its new lease and secret."""
    _delete_websub_subscription(connection, subscription.callback, subscription.topic)
    values = {
        "callback": subscription.callback,
        "topic": subscription.topic,
        "secret": subscription.secret,
        "lease_seconds": subscription.lease_seconds,
        "expires": subscription.expires,
        "created": now,
    }
    connection.execute(insert(websub_subscriptions).values(values))


def delete_websub_subscription(connection: Connection, callback: str, topic: str) -> None:
    """End a subscription, and drop what was still to be delivered to it."""
    _delete_websub_subscription(connection, callback, topic)
    connection.execute(
        delete(websub_tasks).where(
            websub_tasks.c.callback == callback, websub_tasks.c.topic == topic
        )
    )


def _delete_websub_subscription(connection: Connection, callback: str, topic: str) -> None:
    table = websub_subscriptions
    connection.execute(delete(table).where(table.c.callback == callback, table.c.topic == topic))


def websub_subscription(
    connection: Connection, callback: str, topic: str, now: dt.datetime
) -> WebSubSubscription | None:
    """The live subscription of `callback` to `topic`, if there is one."""
    table = websub_subscriptions
    query = select(table).where(
        table.c.callback == callback, table.c.topic == topic, table.c.expires > now
    )
    row = connection.execute(query).first()
    return None if row is None else _websub_subscription(row)


def websub_subscribers(
    connection: Connection, topic: str, now: dt.datetime
) -> list[WebSubSubscription]:
    """The live subscriptions to `topic`."""
    table = websub_subscriptions
    query = select(table).where(table.c.topic == topic, table.c.expires > now)
    return [
        _websub_subscription(row) for row in connection.execute(query.order_by(table.c.callback))
    ]


def websub_subscription_count(connection: Connection, now: dt.datetime) -> int:
    table = websub_subscriptions
    query = select(func.count()).select_from(table).where(table.c.expires > now)
    return int(connection.execute(query).scalar_one())


def delete_expired_websub_subscriptions(connection: Connection, now: dt.datetime) -> int:
    """Remove the subscriptions whose lease ran out; how many."""
    table = websub_subscriptions
    return connection.execute(delete(table).where(table.c.expires <= now)).rowcount or 0


def _websub_subscription(row: Any) -> WebSubSubscription:
    return WebSubSubscription(row.callback, row.topic, row.secret, row.lease_seconds, row.expires)


def add_websub_tasks(
    connection: Connection, keys: Iterable[tuple[str, str]], now: dt.datetime
) -> None:
    """Ask for each (topic, callback) to be done now, from the first attempt."""
    wanted = list(dict.fromkeys(keys))
    for topic, callback in wanted:
        connection.execute(_websub_task_where(delete(websub_tasks), topic, callback))
    rows = [
        {"topic": t, "callback": c, "marked": now, "due": now, "attempts": 0} for t, c in wanted
    ]
    if rows:
        connection.execute(insert(websub_tasks), rows)


def due_websub_tasks(connection: Connection, now: dt.datetime, limit: int) -> list[WebSubTask]:
    """Tasks due at `now`, pings first, then the longest waiting."""
    table = websub_tasks
    query = (
        select(table)
        .where(table.c.due <= now)
        .order_by(table.c.callback != "", table.c.due, table.c.topic, table.c.callback)
        .limit(limit)
    )
    return [
        WebSubTask(row.topic, row.callback, row.marked, row.attempts)
        for row in connection.execute(query)
    ]


def next_websub_due(connection: Connection) -> dt.datetime | None:
    """When the next task falls due, if any waits."""
    return connection.execute(select(func.min(websub_tasks.c.due))).scalar_one_or_none()


def finish_websub_task(connection: Connection, task: WebSubTask) -> None:
    """Drop a task done, unless it was asked for again meanwhile."""
    query = _websub_task_where(delete(websub_tasks), task.topic, task.callback)
    connection.execute(query.where(websub_tasks.c.marked == task.marked))


def defer_websub_task(
    connection: Connection, task: WebSubTask, due: dt.datetime, error: str
) -> None:
    """Count a failed attempt and try again at `due`, unless it was asked for again meanwhile."""
    query = _websub_task_where(update(websub_tasks), task.topic, task.callback)
    connection.execute(
        query.where(websub_tasks.c.marked == task.marked).values(
            attempts=websub_tasks.c.attempts + 1, due=due, last_error=error
        )
    )


def websub_tasks_waiting(connection: Connection) -> list[WebSubTask]:
    """Every task still to do, due or not."""
    table = websub_tasks
    rows = connection.execute(select(table).order_by(table.c.topic, table.c.callback))
    return [WebSubTask(row.topic, row.callback, row.marked, row.attempts) for row in rows]


def _websub_task_where(query: Any, topic: str, callback: str) -> Any:
    return query.where(websub_tasks.c.topic == topic, websub_tasks.c.callback == callback)


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


# --- search -------------------------------------------------------------------------------------

# bm25 weights of the indexed columns: title, place, body, organisation.
_WEIGHTS = (4.0, 2.0, 1.0, 2.0)
_PROGRESS_STEPS = 1000  # SQLite instructions between two looks at the clock


def search_version(connection: Connection) -> int:
    """A number that changes whenever a release or its topics do; 0 without an index."""
    if not connection.dialect.has_table(connection, "search_changes"):
        return 0
    return int(connection.execute(select(search_changes.c.version)).scalar_one())


def search_release_ids(
    connection: Connection,
    query: SearchQuery,
    *,
    limit: int | None,
    ranked: bool = False,
    among: Collection[str] | None = None,
    timeout: float | None = None,
) -> list[str]:
    """The ids of the live releases matching `query`: the best first when `ranked` (by bm25,
    the title counting most, then newest), else newest first (dated ones first).

    `among` keeps those ids only. Past `timeout` seconds the search stops with
    SearchTimeoutError."""
    statement = _search_statement(query, ranked, connection.dialect.name)
    with _time_bound(connection, timeout):
        if among is None:
            return list(connection.execute(statement.limit(limit)).scalars())
        ids = sorted(set(among))
        found: list[str] = []
        for start in range(0, len(ids), _IN_BATCH):
            chunk = ids[start : start + _IN_BATCH]
            found += connection.execute(statement.where(releases.c.id.in_(chunk))).scalars()
        return found[:limit]


def _search_statement(query: SearchQuery, ranked: bool, database: str) -> Any:
    statement = select(releases.c.id).where(releases.c.withdrawn_at.is_(None))
    order: list[Any] = []
    matching = _postgres_matching if database == "postgresql" else _sqlite_matching
    if query.groups:
        matched = matching(query.groups, rank=True).subquery()
        statement = statement.join(matched, matched.c.release_id == releases.c.id)
        order = [matched.c.rank] if ranked else []
    if query.excluded:
        excluded = matching([query.excluded], rank=False)
        statement = statement.where(releases.c.id.not_in(excluded))
    if query.after:
        statement = statement.where(releases.c.date > query.after)
    if query.before:
        statement = statement.where(releases.c.date < query.before)
    for group in query.topics:
        statement = statement.where(_tagged(group))
    if query.excluded_topics:
        statement = statement.where(~_tagged(query.excluded_topics))
    newest = (_GUESSED, releases.c.date.desc(), releases.c.first_seen.desc(), releases.c.id)
    return statement.order_by(*order, *newest)


def _sqlite_matching(groups: Sequence[Sequence[SearchTerm]], *, rank: bool) -> Any:
    """The releases whose text has, of every group, one of its terms, with their bm25 score
    (the lower, the better)."""
    table: Any = literal_column("search_text")
    columns: list[Any] = [search_docs.c.release_id]
    if rank:
        columns.append(func.bm25(table, *_WEIGHTS).label("rank"))
    joined = search_text.join(search_docs, search_docs.c.doc == search_text.c.rowid)
    return select(*columns).select_from(joined).where(table.op("MATCH")(_fts_all(groups)))


_SIMPLE: Any = literal_column("'simple'::regconfig")


def _postgres_matching(groups: Sequence[Sequence[SearchTerm]], *, rank: bool) -> Any:
    """As `_sqlite_matching`, through PostgreSQL's index: each term is a phrase of the words it
    splits into as the text was split; the rank is ts_rank's, negated to sort the same way."""
    wanted: Any = None
    for group in groups:
        anyone: Any = None
        for term in group:
            phrase = func.phraseto_tsquery(_SIMPLE, func.pressfeed_fold(term.text))
            anyone = phrase if anyone is None else anyone.op("||")(phrase)
        wanted = anyone if wanted is None else wanted.op("&&")(anyone)
    document = search_vectors.c.document
    columns: list[Any] = [search_vectors.c.release_id]
    if rank:
        columns.append((-func.ts_rank(document, wanted)).label("rank"))
    return select(*columns).where(document.op("@@")(wanted))


def _tagged(slugs: Sequence[str]) -> Any:
    """The release carries one of `slugs`."""
    tagged = (release_topics.c.release_id == releases.c.id) & release_topics.c.slug.in_(slugs)
    return select(release_topics.c.slug).where(tagged).exists()


def _fts_all(groups: Sequence[Sequence[SearchTerm]]) -> str:
    """FTS5 for: every group, one of its terms. Each term is a quoted string, which FTS5
    splits into words as it did the text: no character of a term is FTS5 syntax."""
    return " AND ".join(f"({_fts_any(group)})" for group in groups)


def _fts_any(terms: Sequence[SearchTerm]) -> str:
    return " OR ".join('"' + term.text.replace('"', '""') + '"' for term in terms)


@contextlib.contextmanager
def _time_bound(connection: Connection, seconds: float | None) -> Iterator[None]:
    """Stop what runs inside after `seconds` with SearchTimeoutError."""
    if seconds is not None and connection.dialect.name == "postgresql":
        with _postgres_time_bound(connection, seconds):
            yield
        return
    raw = connection.connection.driver_connection
    if seconds is None or not isinstance(raw, sqlite3.Connection):
        yield
        return
    deadline = time.monotonic() + seconds
    raw.set_progress_handler(lambda: time.monotonic() > deadline, _PROGRESS_STEPS)
    try:
        yield
    except OperationalError as error:
        if "interrupted" in str(error.orig):
            raise SearchTimeoutError(seconds) from error
        raise
    finally:
        raw.set_progress_handler(None, 0)


_SET_TIMEOUT = text("SELECT set_config('statement_timeout', :value, true)")


@contextlib.contextmanager
def _postgres_time_bound(connection: Connection, seconds: float) -> Iterator[None]:
    """The statement timeout for what runs inside, in a savepoint: a cancelled search takes
    back only its own work, and the transaction around it goes on."""
    bound = f"{max(1, round(seconds * 1000))}ms"
    try:
        with connection.begin_nested():
            before = connection.execute(text("SHOW statement_timeout")).scalar_one()
            connection.execute(_SET_TIMEOUT, {"value": bound})
            yield
            connection.execute(_SET_TIMEOUT, {"value": before})
    except OperationalError as error:
        if getattr(error.orig, "sqlstate", None) == "57014":  # query_canceled
            raise SearchTimeoutError(seconds) from error
        raise
