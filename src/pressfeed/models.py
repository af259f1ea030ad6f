"""Frozen values shared by every layer."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

ALL_FEED = "all"  # the slug of the feed of every release; no topic may take it


class DateKind(StrEnum):
    """Where a release's date came from."""

    STATED = "stated"  # day, month and year printed in the dateline
    YEAR_INFERRED = "year-inferred"  # day and month printed; year from neighbouring releases
    FILE_TIME = "file-time"  # no date printed; the file's modification time


class DateSource(StrEnum):
    """Where the page gave a release's date."""

    PAGE = "page"  # printed in the text
    META = "meta"  # declared only in the page's metadata
    FILE = "file"  # not given: the file's modification time


@dataclass(frozen=True, slots=True)
class Block:
    """A paragraph of a content file, with where it sits in the source."""

    text: str
    line: int  # 1-based line of the source file where the block starts
    gap: int  # blank lines (or block boundaries) before it
    heading: bool = False  # marked as a heading by the markup (HTML h1-h3, Markdown #)


@dataclass(frozen=True)
class Dateline:
    """The date and place at the start of a release's first paragraph."""

    place: str | None
    date: dt.date | None  # None for a place-only dateline ("Geneva – ...")
    year_stated: bool  # False when the dateline gives day and month only
    end: int  # offset in the paragraph where the story text begins


@dataclass(frozen=True)
class Release:
    """One press release as extracted from a content file."""

    id: str
    title: str
    title_derived: bool  # True when the page gave no headline
    date: dt.date
    date_kind: DateKind
    place: str | None
    paragraphs: tuple[str, ...]
    contacts: tuple[str, ...]
    source: str  # path relative to the content directory, with forward slashes
    position: int  # index of the release within its file, from 0
    date_declared: bool = False  # the date is in the page's metadata, not in its text
    source_url: str | None = None  # the original page, http(s) only: to cite the release
    organisation: str | None = None  # who published it

    @property
    def date_source(self) -> DateSource:
        if self.date_inferred:
            return DateSource.FILE
        return DateSource.META if self.date_declared else DateSource.PAGE

    @property
    def date_inferred(self) -> bool:
        """True when the text gave no date and the file time stands in."""
        return self.date_kind is DateKind.FILE_TIME

    @property
    def year_inferred(self) -> bool:
        return self.date_kind is DateKind.YEAR_INFERRED

    @property
    def stated_date(self) -> dt.date | None:
        """The date the text gives (year possibly inferred), or None."""
        return None if self.date_inferred else self.date

    @property
    def text_size(self) -> int:
        return sum(len(p) for p in self.paragraphs)


@dataclass(frozen=True)
class Term:
    """A weighted word or phrase of a topic rule, as written in topics.toml."""

    text: str
    weight: float
    near: str | None = None  # a word list one of whose terms must stand close by for it to count


@dataclass(frozen=True)
class Topic:
    """A topic and the rules that decide which releases carry it."""

    slug: str
    title: str
    description: str
    terms: tuple[Term, ...]
    exclude: tuple[str, ...] = ()
    threshold: float = 6.0
    headline_weight: float = 3.0
    lead_weight: float = 2.0
    passage_points: float = 3.0  # points that make one passage of the body about the topic
    min_share: float = 0.2  # share of passages about it that makes it the subject of the body
    min_passages: int = 3  # or this many passages about it, however long the body
    near_words: int = 15  # how close a `near` word must stand, in words either side
    requires: str | None = None  # a word list one of whose terms the release must contain
    # Word lists named by `near` and `requires`, as (name, terms) pairs.
    lists: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def word_list(self, name: str) -> tuple[str, ...]:
        return next((terms for n, terms in self.lists if n == name), ())


@dataclass(frozen=True)
class Evidence:
    """One term's contribution to a topic score, in one part of the release."""

    term: str
    zone: str  # "headline", "lead" or "passage N"
    found: tuple[str, ...]  # the words as they appear in the text
    weight: float
    factor: float  # the zone's weight
    points: float  # weight x factor x matches, before the passage cap
    near: tuple[str, ...] = ()  # the words close by that let a `near` term count


@dataclass(frozen=True)
class TopicScore:
    """A topic's verdict on one release, with the evidence behind it."""

    slug: str
    score: float
    threshold: float
    assigned: bool
    evidence: tuple[Evidence, ...] = ()
    excluded_by: str | None = None
    passages: int = 0  # passages of the body
    passages_about: int = 0  # passages whose points reach passage_points
    in_headline: bool = False  # the headline holds half of passage_points or more
    in_lead: bool = False  # the lead holds passage_points or more
    anchor: str | None = None  # the `requires` word found, when the topic requires one
    why_not: str | None = None  # what kept an unassigned topic off, in words


REASON_PARTS = ("headline", "lead", "body")  # where a reason says its terms were found


@dataclass(frozen=True)
class TopicReason:
    """Why a release carries a topic, in brief: its strongest terms, strongest first, each with
    the part where it first counted ("headline", "lead" or "body")."""

    slug: str
    score: float
    found: tuple[tuple[str, str], ...] = ()  # (the words as written, the part)

    def phrase(self) -> str:
        """ "matched Tripoli, Libyan coast guard in the lead; migrants in the body"; "" for none."""
        groups = [
            f"{', '.join(w for w, p in self.found if p == part)} in the {part}"
            for part in REASON_PARTS
            if any(p == part for _, p in self.found)
        ]
        return f"matched {'; '.join(groups)}" if groups else ""


@dataclass(frozen=True)
class ReadLimits:
    """How content files are read: the settings `max_file_bytes`, `max_file_lines` (0: no
    limit) and `fallback_encoding`."""

    max_bytes: int = 5_000_000
    max_lines: int = 100_000
    fallback_encoding: str = ""


@dataclass(frozen=True)
class SmtpSettings:
    host: str = ""
    port: int = 25
    starttls: bool = False
    tls: bool = False
    username: str = ""
    password: str = ""
    timeout: float = 60.0


@dataclass(frozen=True)
class EmailSettings:
    transport: str = "directory"  # "directory" or "smtp"
    sender: str = "pressfeed <pressfeed@localhost>"
    reply_to: str = ""
    outbox_dir: Path = Path("outbox")
    unsubscribe_maildir: Path | None = None  # where unsubscribe+TOKEN@ mail lands; None: no mailto


@dataclass(frozen=True)
class DigestSettings:
    connections: int = 4  # SMTP connections used at once
    max_age_days: int = 0  # skip releases dated older than this; 0 for no limit
    timezone: str = "UTC"  # of subscribers added without one
    hour: int = 8  # local hour of daily and weekly digests, for subscribers added without one


@dataclass(frozen=True)
class ServiceSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    scan_interval: int = 300  # seconds between full scans, besides the watcher's
    poll: bool = False  # watch by polling, for network file systems
    websub: bool = False  # serve a WebSub hub at <site_url>hub and push changed feeds
    websub_hub: str = ""  # an outside WebSub hub to name in the feeds and ping instead
    websub_private_callbacks: bool = False  # the hub may call loopback and private addresses


@dataclass(frozen=True)
class FolderSource:
    """A `[sources."<folder>"]` table: how releases under one content sub-folder are cited when
    their page does not say."""

    folder: str  # relative to the content directory, with forward slashes: "iom/press"
    organisation: str  # "": no publisher, whatever the top-level `organisation` says


@dataclass(frozen=True)
class Settings:
    """The whole validated configuration."""

    config_file: Path
    content_dir: Path
    output_dir: Path
    database: str  # an SQLAlchemy URL
    site_url: str
    site_title: str
    feed_length: int
    archive_length: int
    language: str
    max_file_bytes: int
    fallback_encoding: str
    topics_file: Path
    templates_dir: Path
    topics: tuple[Topic, ...]
    email: EmailSettings = field(default_factory=EmailSettings)
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    digest: DigestSettings = field(default_factory=DigestSettings)
    service: ServiceSettings = field(default_factory=ServiceSettings)
    secret: str = ""
    database_timeout: float = 10.0  # seconds a write waits for another writer's lock
    workers: int = 0  # processes for large scans and publishes; 0: one per core
    max_file_lines: int = 100_000  # content files with more lines are skipped
    organisation: str = ""  # the publisher of releases whose page and folder name none
    sources: tuple[FolderSource, ...] = ()  # publishers by content sub-folder, as written
    topics_draft: Path | None = None  # None: "topics.draft.toml" beside topics_file
    explain_topics: bool = True  # feed entries and release pages say why they carry their topics
    page_length: int = 25  # newest releases on a topic's page

    @property
    def read_limits(self) -> ReadLimits:
        return ReadLimits(self.max_file_bytes, self.max_file_lines, self.fallback_encoding)

    def topic(self, slug: str) -> Topic | None:
        return next((t for t in self.topics if t.slug == slug), None)


@dataclass(frozen=True)
class Headline:
    """A release as a list of releases shows it: no text, read cheaply from the store."""

    id: str
    title: str
    date: dt.date
    date_inferred: bool  # the page gave no date: `date` is the file's


@dataclass(frozen=True)
class OutputRecord:
    """What the store remembers of a published file, to skip rendering it again: a hash of
    everything it was rendered from, and its size and modification time once written."""

    path: str  # under the output directory
    inputs: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class FileRecord:
    """What the store remembers of a content file, to skip it when unchanged."""

    path: str
    size: int
    mtime_ns: int
    sha256: str
    reread: bool = False  # read it at the next scan even if its bytes are the same


@dataclass(frozen=True)
class StoredRelease:
    """A release as the store holds it: merged from its sources, with its history."""

    release: Release
    text_hash: str
    first_seen: dt.datetime
    updated: dt.datetime
    withdrawn_at: dt.datetime | None
    topics: tuple[str, ...]
    reasons: tuple[TopicReason, ...] = ()  # of its topics, by slug, as classified


@dataclass(frozen=True)
class FeedEntry:
    """One release as a feed entry: plain text fields; each format escapes them itself."""

    id: str  # a URI that never changes: urn:uuid:...
    release_id: str
    title: str
    url: str  # absolute link to the release's own page
    published: dt.datetime  # aware
    updated: dt.datetime  # aware; moves only when the release's text changes
    summary: str  # the first paragraph
    paragraphs: tuple[str, ...]
    contacts: tuple[str, ...]
    place: str | None
    categories: tuple[tuple[str, str], ...]  # (slug, title) of its topics
    source_url: str | None = None  # the original page
    organisation: str | None = None  # who published the release
    date_inferred: bool = False  # the page gave no date: `published` is the file's date
    why: str = ""  # why it carries its topics, in one line ("Why: Libya: matched ..."); "": none


@dataclass(frozen=True)
class ArchiveLinks:
    """RFC 5005 links of a feed document; URLs without the format's extension."""

    current: str  # the subscription feed
    prev: str | None = None  # the next older archive page
    next: str | None = None  # the next newer archive page (archive pages only)
    is_archive: bool = False  # True for an archive page (fh:archive)


@dataclass(frozen=True)
class FeedDoc:
    """A feed document, whatever its format."""

    id: str  # a URI that never changes
    slug: str  # the topic's slug, or "all"
    title: str
    subtitle: str
    language: str
    updated: dt.datetime  # aware: the newest entry update, never "now"
    base_url: str  # absolute URL of this document without extension (".atom", ".rss", ".json")
    home_url: str  # absolute URL of the HTML page about this feed
    author: str  # the site's title
    entries: tuple[FeedEntry, ...]  # newest first
    archive: ArchiveLinks | None = None
    hub: str | None = None  # the WebSub hub that pushes this feed, when there is one
    url_query: str = ""  # appended to the document's URL after the extension ("?q=...")


@dataclass(frozen=True)
class FeedLink:
    """One format of a feed as pages link it; made from a `feeds.FeedFormat`."""

    format: str  # the format's name
    url: str
    media_type: str
    label: str
    hidden_label: str  # heard by screen readers between the label and the feed's title
    brief: bool  # also listed where a page offers feeds in brief


@dataclass(frozen=True)
class FeedLinks:
    """Where to subscribe to one feed, in each format, and what it is."""

    slug: str
    title: str
    description: str
    formats: tuple[FeedLink, ...]  # in the order of the format table
    html: str  # its page of releases

    def url(self, name: str) -> str:
        """The feed's URL in the format called `name`."""
        return next(link.url for link in self.formats if link.format == name)

    @property
    def atom(self) -> str:
        """The Atom URL: what autodiscovery and the OPML list name."""
        return self.url("atom")


class Frequency(StrEnum):
    IMMEDIATE = "immediate"
    DAILY = "daily"
    WEEKLY = "weekly"


@dataclass(frozen=True)
class Subscriber:
    """Someone who receives digests, with their own topics and rhythm."""

    id: str
    address: str
    topics: tuple[str, ...]  # slugs in the order chosen; empty means every topic
    frequency: Frequency
    hour: int  # local hour of the day the digest goes out (daily and weekly)
    weekday: int  # 0 = Monday ... 6 = Sunday (weekly only)
    timezone: str  # an IANA zone name, e.g. "Europe/Rome"
    confirmed: bool
    token: str  # secret that lets its holder manage or end the subscription
    created: dt.datetime
    covered_until: dt.datetime | None = None  # end of the last period a digest was made for
    query: str = ""  # a search query its digests' releases must also match; "" for none


@dataclass(frozen=True)
class DigestItem:
    """A release as a digest lists it."""

    release_id: str
    title: str
    url: str  # absolute link to the release page
    date: dt.date
    place: str | None
    summary: str
    organisation: str | None = None  # who published the release
    source_url: str | None = None  # the original page
    date_inferred: bool = False  # the page gave no date: `date` is the file's
    newly_added: bool = False  # dated long before the digest: an old release, newly added


@dataclass(frozen=True)
class DigestSection:
    slug: str
    title: str
    items: tuple[DigestItem, ...]  # newest first


@dataclass(frozen=True)
class Digest:
    """What one subscriber gets for one period."""

    subscriber: Subscriber
    period_start: dt.datetime
    period_end: dt.datetime
    sections: tuple[DigestSection, ...]

    @property
    def count(self) -> int:
        return sum(len(s.items) for s in self.sections)

    @property
    def newly_added(self) -> int:
        """Items dated long before the digest: old releases, only now added."""
        return sum(i.newly_added for s in self.sections for i in s.items)


@dataclass(frozen=True)
class MailSettings:
    """What every message needs besides its content."""

    sender: str  # From, e.g. "pressfeed <news@example.org>"
    reply_to: str  # "" for none
    site_title: str
    site_url: str  # ends with "/"
    secret: bytes  # key for Message-ID HMACs
    template_dirs: tuple[Path, ...]
    unsubscribe_mailto: bool = False  # offer unsubscribe+TOKEN@ the sender's domain


@dataclass(frozen=True)
class Outgoing:
    """A message ready to go: its final bytes, sent unchanged on every attempt."""

    key: str  # the outbox row
    sender: str  # envelope sender (bare address)
    recipient: str  # one envelope recipient
    data: bytes


@dataclass(frozen=True)
class SearchTerm:
    """A word or a "quoted phrase" of a search query, in lower case."""

    text: str
    phrase: bool = False


@dataclass(frozen=True)
class SearchQuery:
    """What a release must be to match a search: every group, and none of the exclusions."""

    groups: tuple[tuple[SearchTerm, ...], ...] = ()  # each group: one of its terms in the text
    excluded: tuple[SearchTerm, ...] = ()  # none of these in the text
    topics: tuple[tuple[str, ...], ...] = ()  # each group: one of its topics
    excluded_topics: tuple[str, ...] = ()
    after: dt.date | None = None  # dated after this day (not on it)
    before: dt.date | None = None  # dated before this day (not on it)
