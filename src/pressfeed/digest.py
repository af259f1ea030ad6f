"""Orchestrates digests: due subscribers -> messages -> the outbox -> the mail server.

A digest is recorded in the outbox, in the same transaction that moves its subscriber's
`covered_until` to the end of its period, before anything is sent; then the outbox delivers
what it holds (`outbox.deliver_outbox`), so a crash at any point loses no digest.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import zoneinfo
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Connection, Engine

from pressfeed import store
from pressfeed.errors import MailAddressError, QueryError, SearchUnavailableError
from pressfeed.files import write_if_changed
from pressfeed.mail import DigestMailer, digest_message, message_bytes
from pressfeed.models import (
    ALL_FEED,
    Digest,
    DigestItem,
    DigestSection,
    Frequency,
    MailSettings,
    Outgoing,
    Settings,
    StoredRelease,
    Subscriber,
)
from pressfeed.outbox import Backoff, Clock, DeliveryReport, deliver_outbox
from pressfeed.query import parse_query
from pressfeed.search import SearchIndex, search_index
from pressfeed.send import Transport, transport_for
from pressfeed.site import release_url

log = logging.getLogger(__name__)

# A release dated this long before the digest is sent is old news, newly added to the folder.
NEWLY_ADDED_AFTER = dt.timedelta(days=30)

SECRET_KEY = "secret"
OTHER_RELEASES = "Other releases"
PLAN_BATCH = 500  # digests recorded per transaction


@dataclass
class DigestReport:
    """What one digest run did."""

    planned: int = 0  # digests recorded in the outbox
    empty: int = 0  # subscribers with nothing new: no mail
    delivery: DeliveryReport = field(default_factory=DeliveryReport)  # what the outbox sent
    previews: list[Path] = field(default_factory=list)


# --- when a digest is due -----------------------------------------------------------------------


def period_end(subscriber: Subscriber, now: dt.datetime) -> dt.datetime:
    """The end of the subscriber's latest period that ended at or before `now`."""
    if subscriber.frequency is Frequency.IMMEDIATE:
        return now
    zone = zoneinfo.ZoneInfo(subscriber.timezone)
    local = now.astimezone(zone)
    boundary = local.replace(hour=subscriber.hour, minute=0, second=0, microsecond=0)
    if subscriber.frequency is Frequency.WEEKLY:
        boundary -= dt.timedelta(days=(local.weekday() - subscriber.weekday) % 7)
    if boundary > local:
        boundary -= dt.timedelta(days=7 if subscriber.frequency is Frequency.WEEKLY else 1)
    # Re-attach the zone after the arithmetic so a daylight-saving change keeps the local hour.
    wall = boundary.replace(tzinfo=None)
    return wall.replace(tzinfo=zone).astimezone(dt.UTC)


def period_start(subscriber: Subscriber, news_since: dt.datetime) -> dt.datetime:
    """Arrivals after this are new to the subscriber."""
    return max(subscriber.covered_until or subscriber.created, news_since)


# --- what a digest holds ------------------------------------------------------------------------


def build_digest(
    settings: Settings,
    subscriber: Subscriber,
    arrived: Sequence[StoredRelease],
    start: dt.datetime,
    end: dt.datetime,
    *,
    today: dt.date,
) -> Digest:
    """The new releases on a subscriber's topics, grouped by their first topic, newest first."""
    topics = subscriber.topics
    return Digest(subscriber, start, end, digest_sections(settings, topics, arrived, today))


def digest_sections(
    settings: Settings, topics: tuple[str, ...], arrived: Sequence[StoredRelease], today: dt.date
) -> tuple[DigestSection, ...]:
    """The sections of a digest on `topics` (empty: every topic), only those with releases."""
    titles = {t.slug: t.title for t in settings.topics}
    chosen = [s for s in topics if s in titles] or list(titles)
    oldest = today - dt.timedelta(days=settings.digest.max_age_days)
    grouped: dict[str, list[DigestItem]] = {slug: [] for slug in chosen}
    if not topics:
        grouped[ALL_FEED] = []
    for stored in arrived:
        if settings.digest.max_age_days and stored.release.date < oldest:
            continue
        slug = next((s for s in chosen if s in stored.topics), None)
        if slug is None and not topics:
            slug = ALL_FEED  # everything, also what no topic carries
        if slug is not None:
            grouped[slug].append(_item(settings, stored, today))
    return tuple(
        DigestSection(slug, titles.get(slug, OTHER_RELEASES), tuple(items))
        for slug, items in grouped.items()
        if items
    )


def _item(settings: Settings, stored: StoredRelease, today: dt.date) -> DigestItem:
    release = stored.release
    return DigestItem(
        release_id=release.id,
        title=release.title,
        url=release_url(settings, release.id),
        date=release.date,
        place=release.place,
        summary=release.paragraphs[0] if release.paragraphs else "",
        organisation=release.organisation,
        source_url=release.source_url,
        date_inferred=release.date_inferred,
        newly_added=not release.date_inferred and release.date < today - NEWLY_ADDED_AFTER,
    )


# --- running ------------------------------------------------------------------------------------


def mail_settings(settings: Settings, engine: Engine) -> MailSettings:
    """Mail settings, with the configured secret or the one kept in the database."""
    return MailSettings(
        sender=settings.email.sender,
        reply_to=settings.email.reply_to,
        site_title=settings.site_title,
        site_url=settings.site_url,
        secret=secret(settings, engine).encode(),
        template_dirs=(settings.templates_dir,),
        unsubscribe_mailto=settings.email.unsubscribe_maildir is not None,
    )


def secret(settings: Settings, engine: Engine) -> str:
    """The configured secret, else one made once and kept in the database."""
    if settings.secret:
        return settings.secret
    with engine.begin() as connection:
        kept = store.meta_value(connection, SECRET_KEY)
        if kept is None:
            kept = secrets.token_hex(32)
            store.set_meta_value(connection, SECRET_KEY, kept)
    return kept


def send_due_digests(
    settings: Settings,
    engine: Engine,
    *,
    now: dt.datetime,
    frequency: Frequency | None = None,
    end_now: bool = False,
    transport: Transport | None = None,
    retry: Backoff | None = None,
    clock: Clock | None = None,
) -> DigestReport:
    """Record every due digest in the outbox, then send what the outbox holds."""
    report = DigestReport()
    mail = mail_settings(settings, engine)
    plan_digests(
        settings, engine, mail, now=now, frequency=frequency, end_now=end_now, report=report
    )
    chosen = transport or transport_for(settings.email, settings.smtp, settings.digest.connections)
    report.delivery = deliver_outbox(engine, chosen, now=now, retry=retry, clock=clock)
    return report


def due_digests(
    settings: Settings,
    connection: Connection,
    *,
    now: dt.datetime,
    frequency: Frequency | None = None,
    end_now: bool = False,
) -> Iterable[Digest]:
    """The digests due now, empty ones included (they advance the subscriber's period).

    A subscriber whose saved search cannot run (it names a topic no longer configured) gets
    none: the period stays open, and the releases wait for the search to be mended."""
    since = store.news_since(connection)
    if since is None:
        return  # nothing was ever scanned: there is no news yet
    index = search_index(connection)
    arrivals: dict[tuple[dt.datetime, dt.datetime], list[StoredRelease]] = {}
    made: dict[tuple[object, ...], tuple[DigestSection, ...] | None] = {}
    for subscriber in store.all_subscribers(connection):
        if not subscriber.confirmed or (frequency and subscriber.frequency is not frequency):
            continue
        start = period_start(subscriber, since)
        end = now if end_now else period_end(subscriber, now)
        if end <= start:
            continue
        if (start, end) not in arrivals:  # subscribers of one rhythm share one query
            arrivals[(start, end)] = store.arrivals(connection, start, end)
        # ... and those on the same topics and search, one digest
        shared = (subscriber.topics, subscriber.query, start, end)
        if shared not in made:
            found = _searched(settings, index, subscriber, arrivals[(start, end)])
            made[shared] = (
                None
                if found is None
                else digest_sections(settings, subscriber.topics, found, now.date())
            )
        sections = made[shared]
        if sections is not None:
            yield Digest(subscriber, start, end, sections)


def _searched(
    settings: Settings,
    index: SearchIndex,
    subscriber: Subscriber,
    arrived: Sequence[StoredRelease],
) -> Sequence[StoredRelease] | None:
    """The releases that match the subscriber's saved search (all without one); None when it
    cannot run."""
    if not subscriber.query or not arrived:
        return arrived
    try:
        query = parse_query(subscriber.query, [t.slug for t in settings.topics])
        found = index.matching(query, [stored.release.id for stored in arrived])
    except (QueryError, SearchUnavailableError) as error:
        log.error("digest for subscriber %s not made: %s", subscriber.id, error)
        return None
    return [stored for stored in arrived if stored.release.id in found]


def plan_digests(
    settings: Settings,
    engine: Engine,
    mail: MailSettings,
    *,
    now: dt.datetime,
    frequency: Frequency | None,
    end_now: bool,
    report: DigestReport,
) -> None:
    """Record due digests in the outbox; each with its subscriber's new period, atomically.

    A transaction records a batch of digests: each digest commits together with its
    subscriber's new period, and nothing is sent before planning ends.
    """
    with engine.connect() as connection:
        digests = list(
            due_digests(settings, connection, now=now, frequency=frequency, end_now=end_now)
        )
    mailer = DigestMailer(mail, now=now)
    in_thread = store.same_database_in_threads(engine)
    with ThreadPoolExecutor(max_workers=1) as writer:  # records a batch while the next is built
        recorded: Future[None] | None = None
        for first in range(0, len(digests), PLAN_BATCH):
            batch = _built_batch(mailer, digests[first : first + PLAN_BATCH])
            if recorded is not None:
                recorded.result()  # one batch at a time, in order
            if in_thread:
                recorded = writer.submit(batch.record, engine, now, report)
            else:
                batch.record(engine, now, report)
        if recorded is not None:
            recorded.result()
    log.debug("%d digests built from %d distinct bodies", len(digests), mailer.bodies)


@dataclass
class _PlanBatch:
    """Digests for one transaction: their outbox entries and their subscribers' new periods."""

    entries: list[store.NewMessage] = field(default_factory=list)
    periods: dict[str, dt.datetime] = field(default_factory=dict)

    def record(self, engine: Engine, now: dt.datetime, report: DigestReport) -> None:
        with engine.begin() as connection:
            store.add_many_to_outbox(connection, self.entries, kind="digest", now=now)
            store.set_covered_until_many(connection, self.periods)
        report.planned += len(self.entries)
        report.empty += len(self.periods) - len(self.entries)


def _built_batch(mailer: DigestMailer, digests: Sequence[Digest]) -> _PlanBatch:
    batch = _PlanBatch()
    for digest in digests:
        try:
            built = mailer.build(digest) if digest.count else None
        except MailAddressError as error:  # the others go on
            log.error("digest for %s not made: %s", digest.subscriber.address, error)
            continue
        if built is not None:
            message = Outgoing(digest_key(digest), built.sender, built.recipient, built.data)
            batch.entries.append(store.NewMessage(message, digest.subscriber.id, built.message_id))
        batch.periods[digest.subscriber.id] = digest.period_end
    return batch


def digest_key(digest: Digest) -> str:
    return f"{digest.subscriber.id}-{digest.period_end:%Y%m%dT%H%M%SZ}"


# --- looking without sending --------------------------------------------------------------------


def preview_digests(
    settings: Settings,
    engine: Engine,
    directory: Path,
    *,
    now: dt.datetime,
    frequency: Frequency | None = None,
    end_now: bool = False,
) -> DigestReport:
    """Write the due digests as .eml and .html files; nothing is sent or recorded."""
    report = DigestReport()
    mail = mail_settings(settings, engine)
    with engine.connect() as connection:
        digests = list(
            due_digests(settings, connection, now=now, frequency=frequency, end_now=end_now)
        )
    for digest in (d for d in digests if d.count):
        message = digest_message(digest, mail, now=now)
        name = directory / digest_key(digest)
        write_if_changed(name.with_suffix(".eml"), message_bytes(message))
        html = message.get_body(("html",))
        if html is not None:
            write_if_changed(name.with_suffix(".html"), html.get_content().encode())
        report.previews.append(name.with_suffix(".eml"))
    return report


def dry_run(
    settings: Settings,
    engine: Engine,
    *,
    now: dt.datetime,
    frequency: Frequency | None = None,
    end_now: bool = False,
) -> list[Digest]:
    """The digests that would go out now; nothing is sent or recorded."""
    with engine.connect() as connection:
        return list(
            due_digests(settings, connection, now=now, frequency=frequency, end_now=end_now)
        )
