"""The site's pages as HTML strings: values in, text out; the caller writes files.

Every URL arrives absolute, built from the configured site URL; templates add only anchors.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from pressfeed.models import FeedLinks, Release
from pressfeed.templating import Environment, render


@dataclass(frozen=True)
class Site:
    """What every page says about the site it belongs to."""

    title: str
    url: str  # absolute URL of the index page
    language: str  # the lang attribute of every page
    opml_url: str  # the subscription list of every topic
    all_links: FeedLinks  # the feed of every release
    stylesheet_url: str  # the site's stylesheet
    subscribe_url: str  # the sign-up form's page and its POST target
    digest_hour: int = 8  # local hour daily and weekly digests go out, unless one chooses
    digest_timezone: str = "UTC"  # the time zone of that hour
    search_url: str = ""  # the web server's search page


@dataclass(frozen=True)
class TopicSummary:
    """A topic as its section of the index shows it."""

    links: FeedLinks
    count: int  # releases carrying the topic
    # (title, url, date, date guessed from the file) of the newest releases
    latest: tuple[tuple[str, str, dt.date, bool], ...]


def render_index(
    env: Environment,
    site: Site,
    topics: Sequence[TopicSummary],
    generated: dt.datetime,
) -> str:
    """The front page: the feed of everything, then a section per topic."""
    feeds = (site.all_links, *(t.links for t in topics))
    return render(
        env,
        "index.html",
        site=site,
        feeds=feeds,
        canonical=site.url,
        topics=tuple(topics),
        generated=to_the_second(generated),
    )


def render_release(
    env: Environment,
    site: Site,
    release: Release,
    topics: Sequence[FeedLinks],
    url: str,
    updated: dt.datetime,
    why: str = "",
    *,
    older: Listed | None = None,
    newer: Listed | None = None,
) -> str:
    """The page of a live release, at `url`, advertising its topics' feeds; `why` says why it
    carries them ("" for nothing); `older` and `newer` are the releases before and after it
    among every release."""
    return render(
        env,
        "release.html",
        site=site,
        feeds=(*topics, site.all_links),
        canonical=url,
        release=release,
        topics=tuple(topics),
        updated=to_the_second(updated),
        why=why,
        older=older,
        newer=newer,
    )


@dataclass(frozen=True)
class Listed:
    """A release as a list of releases links it."""

    title: str
    url: str
    date: dt.date
    guessed: bool  # the date is the file's


@dataclass(frozen=True)
class PageLink:
    """A link from a page of releases to another, with its rel ("prev" or "next")."""

    rel: str
    label: str
    url: str


@dataclass(frozen=True)
class TopicPage:
    """A topic's page: its newest releases, newest first."""

    links: FeedLinks  # the topic's feeds; `links.html` is this page
    url: str
    releases: tuple[Listed, ...]
    count: int  # all the topic's releases
    pages: tuple[PageLink, ...]  # to the archive page that goes on from here, if any
    archive_url: str  # the topic's months


def render_topic_page(env: Environment, site: Site, page: TopicPage) -> str:
    """A topic's page of its newest releases, with its feeds and the way to older ones."""
    return render(
        env,
        "topic.html",
        site=site,
        feeds=_feeds_of(site, page.links),
        canonical=page.url,
        page=page,
    )


@dataclass(frozen=True)
class MonthPage:
    """One archive page of a feed in HTML: a month's releases, or a part of a busy month's."""

    links: FeedLinks
    url: str
    month: str  # "2024-03"
    number: int  # the page of the month, from 1
    releases: tuple[Listed, ...]  # newest first
    pages: tuple[PageLink, ...]  # to the older and the newer archive page
    archive_url: str  # the feed's archive index
    atom_url: str  # the same page as an Atom archive document


def render_month_page(env: Environment, site: Site, page: MonthPage) -> str:
    """An archive page in HTML."""
    return render(
        env,
        "archive_month.html",
        site=site,
        feeds=_feeds_of(site, page.links),
        canonical=page.url,
        page=page,
    )


@dataclass(frozen=True)
class ArchiveMonth:
    """A month as a feed's archive index lists it."""

    month: str  # "2024-03"
    count: int  # releases dated in it
    pages: tuple[str, ...]  # the URLs of its archive pages, the first first


def render_archive_index(
    env: Environment, site: Site, links: FeedLinks, url: str, months: Sequence[ArchiveMonth]
) -> str:
    """A feed's archive: its months, newest first, with their counts."""
    return render(
        env,
        "archive.html",
        site=site,
        feeds=_feeds_of(site, links),
        canonical=url,
        links=links,
        months=tuple(months),
    )


def _feeds_of(site: Site, links: FeedLinks) -> tuple[FeedLinks, ...]:
    return (links,) if links.slug == site.all_links.slug else (links, site.all_links)


def to_the_second(moment: dt.datetime) -> dt.datetime:
    """The moment in UTC without microseconds, which HTML's datetime attribute does not allow."""
    return moment.astimezone(dt.UTC).replace(microsecond=0)


def render_withdrawn(env: Environment, site: Site, title: str, url: str) -> str:
    """The page left at `url` once its release is withdrawn, pointing to the index."""
    return render(
        env,
        "withdrawn.html",
        site=site,
        feeds=(site.all_links,),
        canonical=url,
        title=title,
    )


def render_stylesheet(env: Environment) -> str:
    """site.css, the style of every page (colours, layout, forms), written beside the pages
    and served by the service."""
    return render(env, "site.css")
