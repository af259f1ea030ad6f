"""Orchestrates digests: due subscribers -> messages -> the outbox -> the mail server.

A digest is recorded in the outbox, in the same transaction that moves its subscriber's
`covered_until` to the end of its period, before anything is sent; a message is marked sent
right after the server accepts it. After a crash at any point the next run resends what is
still pending: only messages in flight at the crash can arrive twice, with their original
Message-ID.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import secrets
import zoneinfo
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path

from sqlalchemy import Connection, Engine

from pressfeed import store
from pressfeed.files import write_if_changed
from pressfeed.mail import digest_message, message_bytes
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
from pressfeed.send import Outcome, Result, Transport, transport_for

log = logging.getLogger(__name__)

SECRET_KEY = "secret"
MAX_ATTEMPTS = 20  # with back-off doubling from a minute up to an hour: about half a day
OTHER_RELEASES = "Other releases"


@dataclass
class DigestReport:
    """What one digest run did."""

    planned: int = 0  # digests recorded in the outbox
    empty: int = 0  # subscribers with nothing new: no mail
    sent: int = 0
    deferred: int = 0
    failed: int = 0
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
    titles = {t.slug: t.title for t in settings.topics}
    chosen = [s for s in subscriber.topics if s in titles] or list(titles)
    oldest = today - dt.timedelta(days=settings.digest.max_age_days)
    grouped: dict[str, list[DigestItem]] = {slug: [] for slug in chosen}
    if not subscriber.topics:
        grouped[ALL_FEED] = []
    for stored in arrived:
        if settings.digest.max_age_days and stored.release.date < oldest:
            continue
        slug = next((s for s in chosen if s in stored.topics), None)
        if slug is None and not subscriber.topics:
            slug = ALL_FEED  # everything, also what no topic carries
        if slug is not None:
            grouped[slug].append(_item(settings, stored))
    sections = tuple(
        DigestSection(slug, titles.get(slug, OTHER_RELEASES), tuple(items))
        for slug, items in grouped.items()
        if items
    )
    return Digest(subscriber, start, end, sections)


def _item(settings: Settings, stored: StoredRelease) -> DigestItem:
    release = stored.release
    return DigestItem(
        release_id=release.id,
        title=release.title,
        url=f"{settings.site_url}releases/{release.id}.html",
        date=release.date,
        place=release.place,
        summary=release.paragraphs[0] if release.paragraphs else "",
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
) -> DigestReport:
    """Record every due digest in the outbox, then send what the outbox holds."""
    report = DigestReport()
    mail = mail_settings(settings, engine)
    plan_digests(
        settings, engine, mail, now=now, frequency=frequency, end_now=end_now, report=report
    )
    chosen = transport or transport_for(settings.email, settings.smtp, settings.digest.connections)
    deliver_outbox(engine, chosen, now=now, report=report)
    return report


def due_digests(
    settings: Settings,
    connection: Connection,
    *,
    now: dt.datetime,
    frequency: Frequency | None = None,
    end_now: bool = False,
) -> Iterable[Digest]:
    """The digests due now, empty ones included (they advance the subscriber's period)."""
    since = store.news_since(connection)
    if since is None:
        return  # nothing was ever scanned: there is no news yet
    arrivals: dict[tuple[dt.datetime, dt.datetime], list[StoredRelease]] = {}
    for subscriber in store.all_subscribers(connection):
        if not subscriber.confirmed or (frequency and subscriber.frequency is not frequency):
            continue
        start = period_start(subscriber, since)
        end = now if end_now else period_end(subscriber, now)
        if end <= start:
            continue
        if (start, end) not in arrivals:  # subscribers of one rhythm share one query
            arrivals[(start, end)] = store.arrivals(connection, start, end)
        yield build_digest(
            settings, subscriber, arrivals[(start, end)], start, end, today=now.date()
        )


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
    """Record due digests in the outbox; each with its subscriber's new period, atomically."""
    with engine.connect() as connection:
        digests = list(
            due_digests(settings, connection, now=now, frequency=frequency, end_now=end_now)
        )
    for digest in digests:
        try:
            message = digest_message(digest, mail, now=now) if digest.count else None
        except ValueError as error:  # an address the mail cannot carry: the others go on
            log.error("digest for %s not made: %s", digest.subscriber.address, error)
            continue
        with engine.begin() as connection:
            if message is not None:
                store.add_to_outbox(
                    connection,
                    outgoing(message, digest_key(digest)),
                    subscriber_id=digest.subscriber.id,
                    kind="digest",
                    message_id=str(message["Message-ID"]),
                    now=now,
                )
                report.planned += 1
            else:
                report.empty += 1
            store.set_covered_until(connection, digest.subscriber.id, digest.period_end)


def digest_key(digest: Digest) -> str:
    return f"{digest.subscriber.id}-{digest.period_end:%Y%m%dT%H%M%SZ}"


def outgoing(message: EmailMessage, key: str) -> Outgoing:
    """A built message as final bytes with its envelope."""
    sender = parseaddr(str(message["From"]))[1]
    recipient = parseaddr(str(message["To"]))[1]
    return Outgoing(key, sender, recipient, message_bytes(message))


def deliver_outbox(
    engine: Engine, transport: Transport, *, now: dt.datetime, report: DigestReport
) -> None:
    """Send every due message in the outbox and record each outcome as it comes."""
    with engine.connect() as connection:
        due = store.due_messages(connection, now)
    if not due:
        return
    attempts = {row.key: row.attempts for row in due}
    record = _recorder(engine, attempts, now, report)
    asyncio.run(transport.deliver([row.message for row in due], record))


def _recorder(
    engine: Engine, attempts: dict[str, int], now: dt.datetime, report: DigestReport
) -> Callable[[Result], None]:
    def record(result: Result) -> None:
        with engine.begin() as connection:
            if result.outcome is Outcome.SENT:
                store.mark_sent(connection, result.key, now, result.detail)
                report.sent += 1
                return
            tries = attempts[result.key] + 1
            failed = result.outcome is Outcome.FAILED or tries >= MAX_ATTEMPTS
            store.mark_deferred(
                connection, result.key, now + backoff(tries), result.detail, failed=failed
            )
            if failed:
                report.failed += 1
                log.warning("message failed: %s: %s", result.key, result.detail)
            else:
                report.deferred += 1

    return record


def backoff(attempts: int) -> dt.timedelta:
    """How long to wait before the next try: one minute, doubling, at most an hour."""
    return dt.timedelta(seconds=min(60 * 2 ** (attempts - 1), 3600))


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
