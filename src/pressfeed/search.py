"""Searching the live releases: the `SearchIndex` interface and the store's index behind it.

The web's search pages and feeds and the digests of subscribers who follow a query ask an
index for release ids; the query comes from `query.parse_query`. The index is a table of the
store kept in step with the releases by triggers (see `store.MIGRATIONS`): SQLite FTS5, or a
tsvector with a GIN index on PostgreSQL. Both split words at punctuation and ignore case and
the accents of Latin letters; their rankings differ in detail (bm25 against ts_rank), the
headline counting most in both.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol

from sqlalchemy import Connection

from pressfeed import store
from pressfeed.errors import SearchUnavailableError
from pressfeed.models import SearchQuery


class SearchIndex(Protocol):
    """What a full-text index of the live releases answers."""

    def search(self, query: SearchQuery, limit: int, *, ranked: bool = False) -> list[str]:
        """The ids of at most `limit` live releases matching `query`: newest first, or the
        best match first when `ranked`. SearchTimeoutError past the index's time bound."""
        ...

    def matching(self, query: SearchQuery, among: Collection[str]) -> set[str]:
        """Which of the releases `among` (ids) match `query`."""
        ...

    def version(self) -> int:
        """A number that changes whenever a search could find something else."""
        ...


class StoreSearchIndex:
    """The full-text index in the store's database, read through one connection."""

    def __init__(self, connection: Connection, *, timeout: float | None = None) -> None:
        self.connection = connection
        self.timeout = timeout  # seconds a search may take; None: no bound

    def search(self, query: SearchQuery, limit: int, *, ranked: bool = False) -> list[str]:
        return store.search_release_ids(
            self.connection, query, limit=limit, ranked=ranked, timeout=self.timeout
        )

    def matching(self, query: SearchQuery, among: Collection[str]) -> set[str]:
        found = store.search_release_ids(
            self.connection, query, limit=None, among=among, timeout=self.timeout
        )
        return set(found)

    def version(self) -> int:
        return store.search_version(self.connection)


class MissingIndex:
    """A database with no index pressfeed can search: every search says so."""

    def __init__(self, connection: Connection) -> None:
        self.database = connection.dialect.name

    def search(self, query: SearchQuery, limit: int, *, ranked: bool = False) -> list[str]:
        raise SearchUnavailableError(self.database)

    def matching(self, query: SearchQuery, among: Collection[str]) -> set[str]:
        raise SearchUnavailableError(self.database)

    def version(self) -> int:
        return 0


def search_index(connection: Connection, *, timeout: float | None = None) -> SearchIndex:
    """The index of the store `connection` reaches."""
    if connection.dialect.name not in ("sqlite", "postgresql"):
        return MissingIndex(connection)
    return StoreSearchIndex(connection, timeout=timeout)
