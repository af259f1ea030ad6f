"""Subscribers: validated, signed up, added, changed, removed and imported from CSV."""

from __future__ import annotations

import csv
import datetime as dt
import enum
import logging
import re
import secrets
import threading
import zoneinfo
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from sqlalchemy import Connection, Engine

from pressfeed import store, tokens
from pressfeed.errors import PressfeedError, QueryError
from pressfeed.mail import built, confirmation_message
from pressfeed.models import ALL_FEED, Frequency, MailSettings, Outgoing, Settings, Subscriber
from pressfeed.query import parse_query
from pressfeed.site import confirm_url

log = logging.getLogger(__name__)

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_ADDRESS = re.compile(
    r"^[^@\s<>()\[\],;:\"\\]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)
_ALL = ("", "all", "*")


class SubscriptionError(PressfeedError, ValueError):
    """A subscriber's details are not acceptable; the message says why."""


@dataclass(frozen=True)
class Choice:
    """What someone asks to receive, as typed; checked by `subscriber_from`."""

    address: str
    topics: str = ""  # slugs separated by commas or spaces; empty or "all" for every topic
    frequency: str = "daily"
    hour: str = ""
    weekday: str = "monday"
    timezone: str = ""
    query: str = ""  # a search query the digest's releases must match too; empty for none


def normal_address(text: str) -> str:
    """An e-mail address checked and with its domain in lower case."""
    address = text.strip()
    if not _ADDRESS.match(address) or len(address) > 254:
        raise SubscriptionError(f"not an e-mail address: {text!r}")
    local, _, domain = address.rpartition("@")
    return f"{local}@{domain.lower()}"


def subscriber_from(
    choice: Choice, settings: Settings, *, now: dt.datetime, confirmed: bool
) -> Subscriber:
    """A new subscriber from what was asked, every field checked."""
    return Subscriber(
        id=secrets.token_hex(8),
        address=normal_address(choice.address),
        topics=topics_from(choice.topics, settings),
        frequency=_frequency(choice.frequency),
        hour=_hour(choice.hour, settings.digest.hour),
        weekday=_weekday(choice.weekday),
        timezone=_timezone(choice.timezone or settings.digest.timezone),
        confirmed=confirmed,
        token=secrets.token_urlsafe(24),
        created=now,
        query=saved_query(choice.query, settings),
    )


def choice_problems(choice: Choice, settings: Settings) -> dict[str, str]:
    """What is wrong with each field of `choice` ("topics", "hour", ...), by field name."""
    checks: dict[str, Callable[[], object]] = {
        "address": lambda: normal_address(choice.address),
        "topics": lambda: topics_from(choice.topics, settings),
        "frequency": lambda: _frequency(choice.frequency),
        "hour": lambda: _hour(choice.hour, settings.digest.hour),
        "weekday": lambda: _weekday(choice.weekday),
        "timezone": lambda: _timezone(choice.timezone or settings.digest.timezone),
        "query": lambda: saved_query(choice.query, settings),
    }
    problems = {}
    for name, check in checks.items():
        try:
            check()
        except SubscriptionError as error:
            problems[name] = str(error)
    return problems


def topics_from(text: str, settings: Settings) -> tuple[str, ...]:
    """Topic slugs from a list typed by a person; every one must be configured."""
    slugs = [s for s in re.split(r"[,;\s]+", text.strip().lower()) if s]
    if not slugs or slugs == ["all"] or slugs == ["*"]:
        return ()
    known = [t.slug for t in settings.topics]
    unknown = [s for s in slugs if s not in known]
    if unknown:
        raise SubscriptionError(f"unknown topic {unknown[0]!r}; topics are: {', '.join(known)}")
    return tuple(dict.fromkeys(slugs))


def saved_query(text: str, settings: Settings) -> str:
    """A search query to follow by mail, checked, with its spaces trimmed; "" for none."""
    query = " ".join(text.split())
    if query:
        try:
            parse_query(query, [t.slug for t in settings.topics])
        except QueryError as error:
            raise SubscriptionError(str(error)) from None
    return query


def _frequency(text: str) -> Frequency:
    try:
        return Frequency(text.strip().lower() or "daily")
    except ValueError:
        raise SubscriptionError(
            f"unknown frequency {text!r}; use immediate, daily or weekly"
        ) from None


def _hour(text: str, default: int) -> int:
    if not text.strip():
        return default
    if not text.strip().isdigit() or not 0 <= int(text) <= 23:
        raise SubscriptionError(f"hour must be 0 to 23, got {text!r}")
    return int(text)


def _weekday(text: str) -> int:
    name = text.strip().lower() or "monday"
    matches = [i for i, day in enumerate(WEEKDAYS) if day.startswith(name[:3]) and len(name) >= 3]
    if len(matches) != 1:
        raise SubscriptionError(f"unknown weekday {text!r}")
    return matches[0]


def _timezone(name: str) -> str:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # OSError: "Europe", a folder
        raise SubscriptionError(f"unknown time zone {name!r}") from None
    return name


# --- signing up ---------------------------------------------------------------------------------

CONFIRM = "confirm"  # token purpose and outbox kind of confirmation mails
CONFIRM_VALID = dt.timedelta(days=7)  # how long a confirmation link works
CONFIRMATIONS_PER_DAY = 3  # mails per address
CONFIRMATION_GAP = dt.timedelta(minutes=10)  # between two mails to one address
SIGN_UP_WINDOW = dt.timedelta(hours=1)  # the span the sign-up counts below cover
SIGN_UPS_PER_HOUR = 20  # per client (its IP address)
ADDRESS_SIGN_UPS_PER_HOUR = 5  # per address, from any client
_EVER = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)  # before every message in the outbox


class SignUpOutcome(enum.Enum):
    """What became of a sign-up whose fields passed their checks."""

    MAILED = "mailed"  # stored, and a confirmation mail waits in the outbox
    NOT_MAILED = "not mailed"  # stored (a confirmed subscriber left as it was); no new mail
    LIMITED = "limited"  # over an hourly count: nothing stored, nothing mailed


@dataclass
class _Window:
    """Events per key within a sliding span, in memory."""

    limit: int
    span: dt.timedelta
    seen: dict[str, list[dt.datetime]] = field(default_factory=dict)
    keys: int = 10_000  # past this, keys that went quiet are forgotten, then the oldest

    def allow(self, key: str, now: dt.datetime) -> bool:
        """Count one event for `key`; False, and not counted, when the limit is reached."""
        if len(self.seen) >= self.keys:
            self.seen = {k: v for k, v in self.seen.items() if v[-1] > now - self.span}
            if len(self.seen) >= self.keys:
                newest = sorted(self.seen.items(), key=lambda item: item[1][-1])[self.keys // 2 :]
                self.seen = dict(newest)
        recent = [t for t in self.seen.get(key, []) if t > now - self.span]
        allowed = len(recent) < self.limit
        self.seen[key] = [*recent, now] if allowed else recent
        return allowed


class SignUpLimits:
    """The hourly sign-up counts, per client and per address, of one running service.

    Kept in memory (a restart starts them afresh) and shared by the threads that sign up.
    """

    def __init__(self) -> None:
        self.clients = _Window(SIGN_UPS_PER_HOUR, SIGN_UP_WINDOW)
        self.addresses = _Window(ADDRESS_SIGN_UPS_PER_HOUR, SIGN_UP_WINDOW)
        self._lock = threading.Lock()

    def allow(self, client: str, address: str, now: dt.datetime) -> bool:
        """Count a sign-up: within the client's and the address's counts, whatever its state."""
        with self._lock:
            if not self.clients.allow(client, now):
                log.warning("sign-up refused: client %s over %d an hour", client, SIGN_UPS_PER_HOUR)
                return False
            if not self.addresses.allow(address.casefold(), now):
                log.warning(
                    "sign-up refused: one address over %d an hour", ADDRESS_SIGN_UPS_PER_HOUR
                )
                return False
        return True


def sign_up(
    engine: Engine,
    settings: Settings,
    mail: MailSettings,
    limits: SignUpLimits,
    choice: Choice,
    *,
    client: str,
    now: dt.datetime,
) -> SignUpOutcome:
    """Check a sign-up, count it, store it and record its confirmation mail when one is due.

    Raises SubscriptionError when a field fails its check (nothing is counted or stored) and
    MailAddressError when the address passes but no mail can carry it (nothing is stored).
    """
    wanted = subscriber_from(choice, settings, now=now, confirmed=False)
    if not limits.allow(client, wanted.address, now):
        return SignUpOutcome.LIMITED
    titles = {t.slug: t.title for t in settings.topics}
    mailed = record_sign_up(engine, mail, wanted, now=now, topic_titles=titles)
    return SignUpOutcome.MAILED if mailed else SignUpOutcome.NOT_MAILED


def record_sign_up(
    engine: Engine,
    mail: MailSettings,
    wanted: Subscriber,
    *,
    now: dt.datetime,
    topic_titles: Mapping[str, str] | None = None,
) -> bool:
    """Store a sign-up and record its confirmation mail; True when a mail was recorded.

    A new address is stored unconfirmed. An unconfirmed one takes the new choices and gets a
    new mail, at most one every `CONFIRMATION_GAP` and `CONFIRMATIONS_PER_DAY` a day: the link
    of the last mail still works. A confirmed one is left as it is and gets nothing: its
    digests carry its manage and unsubscribe links, and the confirmation text ("nothing will
    be sent until you confirm") would be wrong for it.
    """
    with engine.begin() as connection:
        existing = store.subscriber_by_address(connection, wanted.address)
        subscriber = wanted if existing is None else with_choices(existing, wanted)
        # Every sign-up, whatever the address's state, makes the mail's final bytes, asks
        # whether it may be sent and writes the subscriber (a confirmed one unchanged), so that
        # none answers noticeably faster. The mail is made before anything is stored: it
        # raises MailAddressError for an address mail cannot carry.
        queued, message_id = _confirmation(connection, mail, subscriber, now, topic_titles or {})
        may_mail = _may_mail(connection, subscriber.id, now)
        if existing is not None and existing.confirmed:
            store.save_subscriber(connection, existing)
            log.info("sign-up of confirmed subscriber %s ignored", existing.id)
            return False
        store.save_subscriber(connection, subscriber)
        if not may_mail:
            log.warning("confirmation not recorded: subscriber %s mailed recently", subscriber.id)
            return False
        store.add_to_outbox(
            connection,
            queued,
            subscriber_id=subscriber.id,
            kind=CONFIRM,
            message_id=message_id,
            now=now,
        )
    if existing is None:
        log.info("subscriber added: %s", subscriber.id)
    log.info("confirmation recorded: subscriber %s", subscriber.id)
    return True


def _may_mail(connection: Connection, subscriber_id: str, now: dt.datetime) -> bool:
    """False when a confirmation went out within the gap, or the day's are used up."""
    recent = store.messages_since(connection, subscriber_id, CONFIRM, now - CONFIRMATION_GAP)
    today = store.messages_since(connection, subscriber_id, CONFIRM, now - dt.timedelta(days=1))
    return recent == 0 and today < CONFIRMATIONS_PER_DAY


def _confirmation(
    connection: Connection,
    mail: MailSettings,
    subscriber: Subscriber,
    now: dt.datetime,
    titles: Mapping[str, str],
) -> tuple[Outgoing, str]:
    """The confirmation mail for `subscriber` as it would be queued, and its Message-ID."""
    token = tokens.sign(mail.secret, CONFIRM, subscriber.id, issued=now)
    url = confirm_url(mail, token)
    # The Message-ID is made from the subscriber's creation time: giving each mail its own
    # time gives each its own id, so a second request is not dropped as a duplicate.
    message = built(
        confirmation_message(
            replace(subscriber, created=now), mail, confirm_url=url, now=now, topic_titles=titles
        )
    )
    count = store.messages_since(connection, subscriber.id, CONFIRM, _EVER) + 1
    key = f"{subscriber.id}-{CONFIRM}-{count}"
    return Outgoing(key, message.sender, message.recipient, message.data), message.message_id


# --- adding, changing, removing -----------------------------------------------------------------


def add_subscriber(engine: Engine, subscriber: Subscriber) -> tuple[Subscriber, bool]:
    """Store a subscriber; one with the same address gets the new choices. True when new."""
    with engine.begin() as connection:
        existing = store.subscriber_by_address(connection, subscriber.address)
        if existing is None:
            store.save_subscriber(connection, subscriber)
            return subscriber, True
        changed = replace(
            with_choices(existing, subscriber),
            confirmed=existing.confirmed or subscriber.confirmed,
        )
        store.save_subscriber(connection, changed)
        return changed, False


def with_choices(subscriber: Subscriber, wanted: Subscriber) -> Subscriber:
    """A subscriber with another's topics and schedule; identity and state unchanged."""
    return replace(
        subscriber,
        topics=wanted.topics,
        frequency=wanted.frequency,
        hour=wanted.hour,
        weekday=wanted.weekday,
        timezone=wanted.timezone,
        query=wanted.query,
    )


class TopicStop(enum.Enum):
    """What stopping one topic of a subscription does."""

    STOPPED = "stopped"  # the topic is gone from the subscriber's topics
    NOT_FOLLOWED = "not followed"  # nothing to do: stopped before, or never chosen
    LAST_TOPIC = "last topic"  # refused: no topic would be left; unsubscribing is the way


def followed(subscriber: Subscriber, settings: Settings) -> tuple[str, ...]:
    """The sections a subscriber's digests can have: their topics that exist, or, following
    every topic, every topic and ALL_FEED for the releases no topic carries."""
    known = [t.slug for t in settings.topics]
    if not subscriber.topics:
        return (*known, ALL_FEED)
    return tuple(s for s in subscriber.topics if s in known)


def topics_without(subscriber: Subscriber, slug: str, settings: Settings) -> tuple[str, ...]:
    """The topics a subscriber keeps after stopping `slug`. Empty topics mean every topic, so
    one who followed every topic keeps every other topic there is now, by name."""
    return tuple(s for s in followed(subscriber, settings) if s not in (slug, ALL_FEED))


def stop_topic(
    subscriber: Subscriber, slug: str, settings: Settings
) -> tuple[TopicStop, Subscriber]:
    """The subscriber without `slug`, and what that did; unchanged unless STOPPED."""
    if slug not in followed(subscriber, settings):
        return TopicStop.NOT_FOLLOWED, subscriber
    kept = topics_without(subscriber, slug, settings)
    if not kept:  # empty topics would mean every topic: the opposite of what was asked
        return TopicStop.LAST_TOPIC, subscriber
    return TopicStop.STOPPED, replace(subscriber, topics=kept)


def remove_subscriber(engine: Engine, address: str) -> bool:
    """Remove a subscriber by address; False when there was none."""
    with engine.begin() as connection:
        found = store.subscriber_by_address(connection, normal_address(address))
        if found is None:
            return False
        store.delete_subscriber(connection, found.id)
        return True


@dataclass
class ImportReport:
    added: int = 0
    existing: list[str] = field(
        default_factory=list
    )  # addresses already subscribed: kept as they are
    left: list[str] = field(default_factory=list)  # addresses that unsubscribed: not added again
    problems: list[str] = field(default_factory=list)  # "FILE:LINE: reason"


COLUMNS = ("address", "topics", "frequency", "hour", "weekday", "timezone", "query")


def import_subscribers(
    engine: Engine, path: Path, settings: Settings, *, now: dt.datetime
) -> ImportReport:
    """Add the good rows of a CSV file (a header row names the columns); report the others.

    Importing the same file again changes nothing: an address already subscribed keeps the
    choices it has (perhaps changed since on the manage page), and one that unsubscribed or was
    removed is not subscribed again. `subscribers add` and the sign-up form still can."""
    report = ImportReport()
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = "address" not in (reader.fieldnames or [])
        if missing:
            report.problems.append(f"{path}:1: no 'address' column in the header")
            return report
        unknown = [c for c in reader.fieldnames or [] if c not in COLUMNS]
        if unknown:
            report.problems.append(
                f"{path}:1: unknown column {unknown[0]!r}; columns: {', '.join(COLUMNS)}"
            )
            return report
        for row in reader:
            _import_row(engine, path, reader.line_num, row, settings, now, report)
    return report


def _import_row(
    engine: Engine,
    path: Path,
    line: int,
    row: dict[str, str],
    settings: Settings,
    now: dt.datetime,
    report: ImportReport,
) -> None:
    values = {k: (v or "") for k, v in row.items() if k in COLUMNS}
    try:
        subscriber = subscriber_from(Choice(**values), settings, now=now, confirmed=True)
    except SubscriptionError as error:
        report.problems.append(f"{path}:{line}: {error}")
        return
    with engine.begin() as connection:
        if store.subscriber_by_address(connection, subscriber.address) is not None:
            report.existing.append(subscriber.address)
        elif store.has_left(connection, subscriber.address):
            report.left.append(subscriber.address)
        else:
            store.save_subscriber(connection, subscriber)
            report.added += 1


def describe(subscriber: Subscriber) -> Sequence[str]:
    """A subscriber as table cells: address, topics, rhythm, state, last period."""
    topics = ",".join(subscriber.topics) or "all"
    if subscriber.query:
        topics += f" matching {subscriber.query}"
    rhythm = subscriber.frequency.value
    if subscriber.frequency is not Frequency.IMMEDIATE:
        rhythm += f" at {subscriber.hour:02d}:00"
    if subscriber.frequency is Frequency.WEEKLY:
        rhythm += f" on {WEEKDAYS[subscriber.weekday]}"
    rhythm += f" {subscriber.timezone}"
    state = "confirmed" if subscriber.confirmed else "unconfirmed"
    until = f"{subscriber.covered_until:%Y-%m-%d %H:%M}" if subscriber.covered_until else "-"
    return (subscriber.address, topics, rhythm, state, until)
