"""The site: every URL it has, and a stored release as a feed entry and a feed document.

The output directory mirrors the URLs: a path here is where `publish` writes a file and what
the web server answers for it, under the configured site URL (which ends with "/"); a feed has
a file per format of `feeds.FEED_FORMATS`, named by the format's suffix:
  <slug>.atom, <slug>.rss, <slug>.json   the newest releases of a topic ("all": of everything)
  archive/<slug>/<YYYY-MM>[-<n>].atom     RFC 5005 archive pages: a month of release dates in
                                          pages of at most `archive_length` entries
  archive/<slug>/<YYYY-MM>[-<n>]/         the same archive pages in HTML, for people
  archive/<slug>/                         a feed's archive: its months, with their counts
  releases/<id>.html                      one page per release
  topics/<slug>/                          a topic's newest releases, leading on to its archive
  releases/                               the same for every release ("all")
  index.html, topics.opml, site.css       the front page, a subscription list, the stylesheet
  subscribe, confirm, subscription, unsubscribe, stop-topic   the web server's subscription
                                          pages
  hub                                     the WebSub hub, when `service.websub` is on
  search?q=..., search.atom?q=..., ...    the web server's search page and a feed per format
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol
from urllib.parse import quote, urlencode

from pressfeed.feeds import FeedFormat, feed_formats
from pressfeed.models import (
    ALL_FEED,
    ArchiveLinks,
    FeedDoc,
    FeedEntry,
    FeedLink,
    FeedLinks,
    Settings,
    StoredRelease,
)
from pressfeed.pages import Site

INDEX_PATH = "index.html"
OPML_PATH = "topics.opml"
STYLESHEET_PATH = "site.css"
SUBSCRIBE_PATH = "subscribe"
CONFIRM_PATH = "confirm"
MANAGE_PATH = "subscription"
UNSUBSCRIBE_PATH = "unsubscribe"
HUB_PATH = "hub"
STOP_TOPIC_PATH = "stop-topic"
SEARCH_PATH = "search"


class Addressed(Protocol):
    """Settings of any kind that know the site's URL."""

    @property
    def site_url(self) -> str: ...


# --- paths under the site URL and the output directory ------------------------------------------


def feed_stem(slug: str) -> str:
    """The path of a current feed without its format's suffix."""
    return slug


def feed_path(slug: str, form: FeedFormat) -> str:
    """The path of a current feed in one format."""
    return f"{feed_stem(slug)}{form.suffix}"


def archive_folder(slug: str) -> str:
    """The folder of a feed's archive pages."""
    return f"archive/{slug}"


def archive_stem(slug: str, page: str) -> str:
    """The path of one archive page without its format's suffix."""
    return f"{archive_folder(slug)}/{page}"


def archive_path(slug: str, page: str, form: FeedFormat) -> str:
    """The path of one archive page in one format."""
    return f"{archive_stem(slug, page)}{form.suffix}"


# An archive page is named by its month, and from its second page on by its number too:
# "2024-03", "2024-03-2", ... The first page holds the month's oldest releases, so that releases
# arriving dated today change the last page of the month only.
_PAGE_NAME = re.compile(r"(\d{4}-\d{2})(?:-([1-9]\d*))?")


def archive_page(month: str, number: int) -> str:
    """The name of page `number` (from 1) of `month`'s archive."""
    return month if number == 1 else f"{month}-{number}"


def archive_pages(month: str, releases: int, length: int) -> list[str]:
    """The pages of a month holding `releases`, at most `length` to a page."""
    return [archive_page(month, n) for n in range(1, -(-releases // length) + 1)]


def page_month(page: str) -> tuple[str, int]:
    """The month and the number of an archive page's name; ValueError for another name."""
    found = _PAGE_NAME.fullmatch(page)
    if found is None:
        raise ValueError(f"not an archive page: {page!r}")
    return found[1], int(found[2] or 1)


def archive_order(pages: Iterable[str]) -> list[str]:
    """Archive pages oldest first: by month, then by number."""
    return sorted(pages, key=page_month)


def release_path(release_id: str) -> str:
    """The path of a release's page."""
    return f"{RELEASES_FOLDER}/{release_id}.html"


RELEASES_FOLDER = "releases"
PAGE_FOLDER = "page"  # under a topic's folder: numbered pages, as older versions wrote them


def topic_folder(slug: str) -> str:
    """The folder of a feed's pages for people: every release's is the release folder."""
    return RELEASES_FOLDER if slug == ALL_FEED else f"topics/{slug}"


def topic_location(slug: str, number: int | None = None) -> str:
    """A topic's page (`number` None), or the numbered page that older versions wrote, as a
    folder URL path."""
    folder = topic_folder(slug)
    return f"{folder}/" if number is None else f"{folder}/{PAGE_FOLDER}/{number}/"


def archive_location(slug: str, page: str | None = None) -> str:
    """A feed's archive index (`page` None) or one archive page in HTML, as a folder URL path."""
    return f"{archive_folder(slug)}/" if page is None else f"{archive_stem(slug, page)}/"


def folder_page(location: str) -> str:
    """The file a static server answers a folder URL path with."""
    return f"{location}{INDEX_PATH}"


# --- URLs ---------------------------------------------------------------------------------------


def page_url(site: Addressed, path: str = "") -> str:
    """The absolute URL of `path` on the site; of the index page for none."""
    return f"{site.site_url}{path}"


def feed_base(site: Addressed, slug: str) -> str:
    """A current feed's URL without its format's suffix."""
    return page_url(site, feed_stem(slug))


def archive_base(site: Addressed, slug: str, page: str) -> str:
    """An archive page's URL without its format's suffix."""
    return page_url(site, archive_stem(slug, page))


def release_url(site: Addressed, release_id: str) -> str:
    return page_url(site, release_path(release_id))


def topic_url(site: Addressed, slug: str) -> str:
    """A topic's page of its newest releases."""
    return page_url(site, topic_location(slug))


def archive_url(site: Addressed, slug: str, page: str | None = None) -> str:
    """A feed's archive index, or one of its archive pages in HTML."""
    return page_url(site, archive_location(slug, page))


def confirm_url(site: Addressed, token: str) -> str:
    """The link of a confirmation mail: a page with the button that confirms."""
    return _with_token(CONFIRM_PATH, site, token)


def manage_url(site: Addressed, token: str) -> str:
    """The page where a subscriber changes topics and frequency."""
    return _with_token(MANAGE_PATH, site, token)


def unsubscribe_url(site: Addressed, token: str) -> str:
    """The page that ends a subscription; also the RFC 8058 one-click POST target."""
    return _with_token(UNSUBSCRIBE_PATH, site, token)


def stop_topic_url(site: Addressed, token: str, slug: str) -> str:
    """The page that stops one topic of a subscription, and the target of its button."""
    return stop_topic_base(site, token) + quote(slug, safe="")


def stop_topic_base(site: Addressed, token: str) -> str:
    """`stop_topic_url` without the slug at its end: a digest's sections share it."""
    return f"{_with_token(STOP_TOPIC_PATH, site, token)}&topic="


def _with_token(path: str, site: Addressed, token: str) -> str:
    return f"{page_url(site, path)}?token={quote(token, safe='')}"


def hub_url(settings: Settings) -> str | None:
    """The WebSub hub the current feeds name: the outside one, or ours, or None."""
    service = settings.service
    if service.websub_hub:
        return service.websub_hub
    return page_url(settings, HUB_PATH) if service.websub else None


def topic_feeds(settings: Settings) -> dict[str, tuple[str, FeedFormat]]:
    """Every current feed's URL, the WebSub topics of the site: its output path and format."""
    slugs = [ALL_FEED, *(t.slug for t in settings.topics)]
    return {
        page_url(settings, feed_path(slug, form)): (feed_path(slug, form), form)
        for slug in slugs
        for form in feed_formats()
    }


def search_url(site: Addressed, query: str, form: FeedFormat | None = None) -> str:
    """The search page for `query`, or its feed in a format."""
    return f"{page_url(site, SEARCH_PATH)}{form.suffix if form else ''}{_search_params(query)}"


def _search_params(query: str) -> str:
    return "?" + urlencode({"q": query})


def search_links(settings: Settings, query: str) -> FeedLinks:
    """The feeds of a search, in every format, and its page."""
    formats = tuple(
        FeedLink(
            f.name, search_url(settings, query, f), f.media_type, f.label, f.hidden_label, f.brief
        )
        for f in feed_formats()
    )
    title = f"{settings.site_title}: search for {query}"
    description = f"Releases matching the search {query}."
    return FeedLinks(SEARCH_PATH, title, description, formats, search_url(settings, query))


def stable_id(kind: str, key: str) -> str:
    """A URI derived from what it names only: the same on every machine and rebuild."""
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'pressfeed:{kind}:{key}')}"


def feed_links(settings: Settings, slug: str) -> FeedLinks:
    """The subscription URLs of one feed, and what it is."""
    base = feed_base(settings, slug)
    topic = settings.topic(slug)
    title = topic.title if topic else f"{settings.site_title}: all releases"
    description = topic.description if topic else "Every release, whatever its topic."
    return FeedLinks(slug, title, description, format_links(base), topic_url(settings, slug))


def format_links(base: str) -> tuple[FeedLink, ...]:
    """A feed's links in every format, from its URL without a suffix."""
    return tuple(
        FeedLink(f.name, f"{base}{f.suffix}", f.media_type, f.label, f.hidden_label, f.brief)
        for f in feed_formats()
    )


def site_for(settings: Settings) -> Site:
    """What every page says about the site."""
    return Site(
        title=settings.site_title,
        url=page_url(settings),
        language=settings.language,
        opml_url=page_url(settings, OPML_PATH),
        all_links=feed_links(settings, ALL_FEED),
        stylesheet_url=page_url(settings, STYLESHEET_PATH),
        subscribe_url=page_url(settings, SUBSCRIBE_PATH),
        digest_hour=settings.digest.hour,
        digest_timezone=settings.digest.timezone,
        search_url=page_url(settings, SEARCH_PATH),
    )


# --- releases as feeds --------------------------------------------------------------------------


def feed_entry(settings: Settings, stored: StoredRelease, rank: int = 0) -> FeedEntry:
    """A stored release as a feed entry; `rank` is its `store.arrival_ranks` among its date's."""
    release = stored.release
    titles = {t.slug: t.title for t in settings.topics}
    return FeedEntry(
        id=stable_id("release", release.id),
        release_id=release.id,
        title=release.title,
        url=release_url(settings, release.id),
        published=published(stored),
        updated=_entry_updated(stored, rank),
        summary=release.paragraphs[0] if release.paragraphs else release.title,
        paragraphs=release.paragraphs,
        contacts=release.contacts,
        place=release.place,
        categories=tuple((slug, titles[slug]) for slug in stored.topics if slug in titles),
        source_url=release.source_url,
        organisation=release.organisation,
        date_inferred=release.date_inferred,
        why=why_line(settings, stored),
    )


def why_line(settings: Settings, stored: StoredRelease) -> str:
    """ "Why: Libya: matched Tripoli, Libyan coast guard in the lead." for the feeds and the
    release page; "" when `explain_topics` is off or nothing is known."""
    if not settings.explain_topics:
        return ""
    titles = {t.slug: t.title for t in settings.topics}
    said = [
        f"{titles[r.slug]}: {phrase}"
        for r in stored.reasons
        if r.slug in titles and (phrase := r.phrase())
    ]
    return f"Why: {'. '.join(said)}." if said else ""


def published(stored: StoredRelease) -> dt.datetime:
    """The moment a feed says a release was published: midnight UTC of its date."""
    return dt.datetime.combine(stored.release.date, dt.time(), dt.UTC)


def _entry_updated(stored: StoredRelease, rank: int) -> dt.datetime:
    """The release's date, or the time its text changed after it first arrived.

    Its arrival is not a change of the release: entries all updated at one scan are
    indistinguishable to a reader (and a validator's `DuplicateUpdated`). Releases of one date
    are a second apart in the order they arrived, so no two entries share a time either."""
    when = published(stored)
    if stored.updated > stored.first_seen:
        return max(stored.updated, when)
    return when + dt.timedelta(seconds=rank)


def feed_updated(releases: Sequence[StoredRelease], empty: dt.datetime) -> dt.datetime:
    """When the feed last changed: an entry arrived or changed; `empty` for a feed of none."""
    return max((max(s.updated, published(s)) for s in releases), default=empty)


def feed_doc(
    settings: Settings,
    slug: str,
    releases: Sequence[StoredRelease],
    ranks: Mapping[str, int],
    archive: ArchiveLinks | None,
    *,
    page: str | None = None,
    empty: dt.datetime,
) -> FeedDoc:
    """A topic's feed (or one `page` of its archive); `ranks` as `feed_entry` takes them."""
    links = feed_links(settings, slug)
    title = f"{links.title} ({_page_title(page)})" if page else links.title
    return FeedDoc(
        id=stable_id("feed", f"{slug}/{page}" if page else slug),
        slug=slug,
        title=title,
        subtitle=links.description,
        language=settings.language,
        updated=feed_updated(releases, empty),
        base_url=archive_base(settings, slug, page) if page else feed_base(settings, slug),
        home_url=links.html,
        author=settings.site_title,
        entries=_entries(settings, releases, ranks),
        archive=archive,
        hub=None if page else hub_url(settings),  # archive pages never change: nothing to push
    )


def _page_title(page: str) -> str:
    month, number = page_month(page)
    return month if number == 1 else f"{month}, page {number}"


def combined_doc(
    settings: Settings,
    slugs: Sequence[str],
    releases: Sequence[StoredRelease],
    ranks: Mapping[str, int],
    *,
    empty: dt.datetime,
) -> FeedDoc:
    """The feed of releases carrying any of `slugs`; its id ignores the slugs' order."""
    titles = [feed_links(settings, slug).title for slug in slugs]
    return FeedDoc(
        id=stable_id("feed", "+".join(sorted(slugs))),
        slug="+".join(slugs),
        title=" + ".join(titles),
        subtitle=f"Releases on {' or '.join(titles)}.",
        language=settings.language,
        updated=feed_updated(releases, empty),
        base_url=feed_base(settings, "+".join(slugs)),
        home_url=page_url(settings),
        author=settings.site_title,
        entries=_entries(settings, releases, ranks),
    )


def _entries(
    settings: Settings, releases: Sequence[StoredRelease], ranks: Mapping[str, int]
) -> tuple[FeedEntry, ...]:
    return tuple(feed_entry(settings, s, ranks.get(s.release.id, 0)) for s in releases)


def search_doc(
    settings: Settings,
    query: str,
    releases: Sequence[StoredRelease],
    ranks: Mapping[str, int],
    *,
    empty: dt.datetime,
) -> FeedDoc:
    """The feed of the releases a search found; `query` in its normal form names it."""
    links = search_links(settings, query)
    return FeedDoc(
        id=stable_id("search", query),
        slug=SEARCH_PATH,
        title=links.title,
        subtitle=links.description,
        language=settings.language,
        updated=feed_updated(releases, empty),
        base_url=page_url(settings, SEARCH_PATH),
        home_url=links.html,
        author=settings.site_title,
        entries=_entries(settings, releases, ranks),
        url_query=_search_params(query),
    )
