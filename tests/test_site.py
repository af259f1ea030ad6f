"""The site's URLs and paths, and stored releases as feed entries and documents."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from pressfeed.models import ArchiveLinks, DateKind, Release, Settings, StoredRelease
from pressfeed.site import (
    archive_base,
    archive_location,
    archive_order,
    archive_pages,
    archive_stem,
    archive_url,
    combined_doc,
    confirm_url,
    feed_base,
    feed_doc,
    feed_entry,
    feed_links,
    feed_stem,
    folder_page,
    manage_url,
    page_month,
    page_url,
    release_path,
    release_url,
    stable_id,
    topic_location,
    topic_url,
    unsubscribe_url,
)
from tests.test_mail import mail_settings

SITE = "https://press.example.org/news/"
ARRIVED = dt.datetime(2026, 3, 5, 10, 0, tzinfo=dt.UTC)


def stored(release_id: str, day: int, topics: tuple[str, ...] = ("health",)) -> StoredRelease:
    release = Release(
        id=release_id,
        title=f"Release {release_id}",
        title_derived=False,
        date=dt.date(2026, 3, day),
        date_kind=DateKind.STATED,
        place="Geneva",
        paragraphs=("First paragraph.", "Second."),
        contacts=(),
        source="a.txt",
        position=0,
    )
    return StoredRelease(release, "hash", ARRIVED, ARRIVED, None, topics)


def at(settings: Settings) -> Settings:
    return dataclasses.replace(settings, site_url=SITE)


def test_token_links_encode_the_token() -> None:
    mail = mail_settings(site_url=SITE)
    token = "a+b/c=d&e"
    assert confirm_url(mail, token) == f"{SITE}confirm?token=a%2Bb%2Fc%3Dd%26e"
    assert manage_url(mail, token) == f"{SITE}subscription?token=a%2Bb%2Fc%3Dd%26e"
    assert unsubscribe_url(mail, token) == f"{SITE}unsubscribe?token=a%2Bb%2Fc%3Dd%26e"


def test_urls_are_their_paths_under_the_site_url(settings: Settings) -> None:
    site = at(settings)
    assert release_url(site, "r1") == page_url(site, release_path("r1"))
    assert release_url(site, "r1") == f"{SITE}releases/r1.html"
    assert feed_base(site, "health") == page_url(site, feed_stem("health"))
    assert archive_base(site, "health", "2026-03") == page_url(
        site, archive_stem("health", "2026-03")
    )
    assert archive_base(site, "health", "2026-03") == f"{SITE}archive/health/2026-03"


def test_pages_of_releases_are_folders_a_static_server_answers(settings: Settings) -> None:
    site = at(settings)
    assert topic_url(site, "health") == f"{SITE}topics/health/"
    assert topic_url(site, "all") == f"{SITE}releases/"  # every release's page
    assert archive_url(site, "health") == f"{SITE}archive/health/"
    assert archive_url(site, "health", "2026-03-2") == f"{SITE}archive/health/2026-03-2/"
    # A folder URL is answered with the folder's index.html, which publish writes.
    assert folder_page(topic_location("health")) == "topics/health/index.html"
    assert folder_page(topic_location("health", 3)) == "topics/health/page/3/index.html"  # old
    assert folder_page(archive_location("health", "2026-03")) == "archive/health/2026-03/index.html"
    assert page_url(site, topic_location("health")) == topic_url(site, "health")
    assert folder_page(topic_location("all")) == "releases/index.html"


def test_feed_links_name_the_topic_and_its_page(settings: Settings) -> None:
    links = feed_links(at(settings), "health")
    assert (links.slug, links.html) == ("health", f"{SITE}topics/health/")
    assert feed_links(at(settings), "all").html == f"{SITE}releases/"
    assert links.atom == f"{SITE}health.atom"
    everything = feed_links(at(settings), "all")
    assert everything.title.endswith(": all releases")


def test_entries_of_one_date_are_a_second_apart_in_arrival_order(settings: Settings) -> None:
    first, second = (feed_entry(settings, stored("r1", 4), rank) for rank in (0, 1))
    assert second.updated - first.updated == dt.timedelta(seconds=1)
    assert first.published == dt.datetime(2026, 3, 4, tzinfo=dt.UTC)
    assert first.id == stable_id("release", "r1")
    assert first.summary == "First paragraph."


def test_an_archive_page_is_its_own_document(settings: Settings) -> None:
    site = at(settings)
    releases = [stored("r2", 5), stored("r1", 4)]
    archive = ArchiveLinks(current=feed_base(site, "health"), is_archive=True)
    empty = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    current = feed_doc(site, "health", releases, {}, None, empty=empty)
    month = feed_doc(site, "health", releases, {}, archive, page="2026-03", empty=empty)
    second = feed_doc(site, "health", releases, {}, archive, page="2026-03-2", empty=empty)
    assert len({current.id, month.id, second.id}) == 3
    assert second.title == f"{current.title} (2026-03, page 2)"
    assert month.id != current.id
    assert month.base_url == archive_base(site, "health", "2026-03")
    assert month.title == f"{current.title} (2026-03)"
    assert [e.release_id for e in month.entries] == ["r2", "r1"]


def test_archive_pages_are_named_by_month_then_number_and_ordered_so() -> None:
    assert archive_pages("2026-03", 201, 100) == ["2026-03", "2026-03-2", "2026-03-3"]
    assert archive_pages("2026-03", 100, 100) == ["2026-03"]
    assert page_month("2026-03-12") == ("2026-03", 12)
    assert page_month("2026-03") == ("2026-03", 1)
    shuffled = ["2026-04", "2026-03-10", "2026-03", "2026-03-2", "2025-12"]
    assert archive_order(shuffled) == ["2025-12", "2026-03", "2026-03-2", "2026-03-10", "2026-04"]
    for other in ("2026-03-0", "2026-03-01", "notes", ".2026-03.atom", "2026-3"):
        with pytest.raises(ValueError, match="not an archive page"):
            page_month(other)


def test_a_combination_is_the_same_feed_in_any_order(settings: Settings) -> None:
    site = at(settings)
    empty = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    one = combined_doc(site, ("health", "libya"), [], {}, empty=empty)
    other = combined_doc(site, ("libya", "health"), [], {}, empty=empty)
    assert one.id == other.id
    assert one.base_url == f"{SITE}health+libya"
    assert one.updated == empty
