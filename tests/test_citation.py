"""Where a release comes from: the original page and its publisher, kept and shown everywhere."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import feedparser
from sqlalchemy import Engine

from pressfeed import store
from pressfeed.digest import digest_sections
from pressfeed.extract import extract_text
from pressfeed.markup import citable_url
from pressfeed.models import Release, Settings
from pressfeed.publish import publish
from pressfeed.scan import scan_content
from tests.conftest import NOW

ORIGINAL = "https://www.iom.int/news/rescue-ship-brings-80-migrants-ashore"
PAGE = f"""<!doctype html><html lang="en"><head>
<title>Rescue ship brings 80 migrants ashore in Sicily | IOM</title>
<meta property="og:url" content="{ORIGINAL}">
<meta property="og:site_name" content="International Organization for Migration">
<meta property="og:type" content="article">
</head><body><article>
<h1>Rescue ship brings 80 migrants ashore in Sicily</h1>
<p>CATANIA, 4 May 2024 – A rescue ship carrying 80 migrants rescued from a sinking rubber boat
in the central Mediterranean disembarked them in Catania on Saturday, IOM said.</p>
<p>The migrants had spent two days at sea before the rescue ship reached them.</p>
</article></body></html>"""
TEXT = """Mobile clinics vaccinate displaced children against measles

MAIDUGURI, 6 May 2024 – Mobile clinics vaccinated 4,000 displaced children against measles
and screened them for malnutrition and malaria this week.

Source: https://www.iom.int/news/mobile-clinics-vaccinate-children
"""


def extracted(text: str, suffix: str) -> list[Release]:
    day = dt.date(2024, 5, 8)
    return extract_text(text, suffix, source=f"page{suffix}", file_date=day, today=day)


def test_a_saved_page_names_its_address_and_publisher() -> None:
    (release,) = extracted(PAGE, ".html")
    assert release.source_url == ORIGINAL
    assert release.organisation == "International Organization for Migration"


def test_a_source_line_gives_the_address_and_leaves_the_body() -> None:
    (release,) = extracted(TEXT, ".txt")
    assert release.source_url == "https://www.iom.int/news/mobile-clinics-vaccinate-children"
    assert not any("Source" in p for p in (*release.paragraphs, *release.contacts))


def test_only_web_addresses_are_cited() -> None:
    assert citable_url("javascript:alert(1)") is None
    assert citable_url("data:text/html,<b>x</b>") is None
    assert citable_url("https://example.org/a b") is None
    assert citable_url("ftp://example.org/file") is None
    assert citable_url(" http://example.org/news?id=3 ") == "http://example.org/news?id=3"
    hostile = PAGE.replace(ORIGINAL, "javascript:alert(1)")
    (release,) = extracted(hostile, ".html")
    assert release.source_url is None


def published(settings: Settings, engine: Engine) -> Settings:
    (settings.content_dir / "rescue.html").write_text(PAGE, encoding="utf-8")
    (settings.content_dir / "clinic.txt").write_text(TEXT, encoding="utf-8")
    cited = dataclasses.replace(settings, organisation="IOM")
    scan_content(cited, engine, now=NOW)
    publish(cited, engine, now=NOW)
    return cited


def test_feeds_link_the_original_and_name_the_publisher(settings: Settings, engine: Engine) -> None:
    out = published(settings, engine).output_dir
    atom = {e.title: e for e in feedparser.parse((out / "all.atom").read_bytes()).entries}
    rescue = atom["Rescue ship brings 80 migrants ashore in Sicily"]
    assert {(link.rel, link.href) for link in rescue.links} >= {("via", ORIGINAL)}
    assert rescue.author == "International Organization for Migration"
    clinic = atom["Mobile clinics vaccinate displaced children against measles"]
    assert clinic.author == "IOM"  # the configured publisher, for a page that names none
    rss = {e.title: e for e in feedparser.parse((out / "all.rss").read_bytes()).entries}
    assert rss["Rescue ship brings 80 migrants ashore in Sicily"].source.href == ORIGINAL
    items = {i["title"]: i for i in json.loads((out / "all.json").read_text())["items"]}
    item = items["Rescue ship brings 80 migrants ashore in Sicily"]
    assert item["external_url"] == ORIGINAL
    assert item["authors"] == [{"name": "International Organization for Migration"}]
    assert f'Source: <a href="{ORIGINAL}">International' in item["content_html"]


def test_the_store_keeps_the_source_and_the_release_page_cites_it(
    settings: Settings, engine: Engine
) -> None:
    cited = published(settings, engine)
    with engine.connect() as connection:
        stored = store.feed_releases(connection, None, limit=10)
    rescue = next(s for s in stored if s.release.source_url == ORIGINAL)
    assert rescue.release.organisation == "International Organization for Migration"
    page = (cited.output_dir / "releases" / f"{rescue.release.id}.html").read_text()
    assert f'Source: <a href="{ORIGINAL}">International Organization for Migration</a>' in page
    sections = digest_sections(cited, (), stored, NOW.date())
    items = {i.title: i for section in sections for i in section.items}
    clinic = items["Mobile clinics vaccinate displaced children against measles"]
    assert clinic.organisation == "IOM"
    assert clinic.source_url == "https://www.iom.int/news/mobile-clinics-vaccinate-children"


def test_a_bare_address_at_the_end_is_a_contact_not_the_source() -> None:
    text = TEXT.replace(
        "Source: https://www.iom.int/news/mobile-clinics-vaccinate-children",
        "For more information, please contact: Jane Doe, jane@example.org\n\n"
        "https://twitter.com/example",
    )
    (release,) = extracted(text, ".txt")
    assert release.source_url is None
    assert release.contacts[-1] == "https://twitter.com/example"
