"""The index and release pages as HTML strings: values in, text out; the caller writes files.

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
) -> str:
    """The page of a live release, at `url`, advertising its topics' feeds; `why` says why it
    carries them ("" for nothing)."""
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
    )


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
    """site.css: the forms' styles, written beside the pages and served by the service."""
    return render(env, "site.css")
