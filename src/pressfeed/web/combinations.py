"""Feeds of topic combinations (`/a+b.atom`), built per request from the store."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from sqlalchemy import Connection
from starlette.convertors import Convertor, register_url_convertor

from pressfeed import store
from pressfeed.models import FeedDoc, Settings, StoredRelease
from pressfeed.publish import EPOCH, last_change
from pressfeed.site import (
    combined_doc,
)


class _TopicList(Convertor[tuple[str, ...]]):
    """Two or more topic slugs joined by "+": one slug alone is a static file."""

    regex = r"[a-z0-9][a-z0-9-]*(?:\+[a-z0-9][a-z0-9-]*)+"

    def convert(self, value: str) -> tuple[str, ...]:
        return tuple(value.split("+"))

    def to_string(self, value: tuple[str, ...]) -> str:
        return "+".join(value)


class _FeedKind(Convertor[str]):
    """Any name a format could have: the handler answers the format table's only."""

    regex = "[a-z0-9]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("pressfeed_topics", _TopicList())
register_url_convertor("pressfeed_feed", _FeedKind())


def combination_doc(settings: Settings, connection: Connection, slugs: Sequence[str]) -> FeedDoc:
    """The releases carrying any of `slugs`, newest first; the id ignores the slugs' order."""
    releases = _newest_first(
        {
            stored.release.id: stored
            for slug in slugs
            for stored in store.feed_releases(connection, slug, limit=settings.feed_length)
        }.values()
    )[: settings.feed_length]
    ranks = store.arrival_ranks(connection, [stored.release.id for stored in releases])
    empty = EPOCH if releases else last_change(connection, dt.datetime.now(dt.UTC))
    return combined_doc(settings, slugs, releases, ranks, empty=empty)


def _newest_first(releases: Iterable[StoredRelease]) -> list[StoredRelease]:
    """The store's feed order: dated before dated by the file, then date, then arrival, newest
    first; ties by id."""
    ordered = sorted(releases, key=lambda s: s.release.id)
    # stable: ids stay
    ordered.sort(
        key=lambda s: (not s.release.date_inferred, s.release.date, s.first_seen), reverse=True
    )
    return ordered
