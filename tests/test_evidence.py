"""The "Why:" line of feed entries and release pages: what `classify --explain` says, in brief."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import re
from pathlib import Path

import feedparser
import lxml.html
import pytest
from sqlalchemy import Engine, text

from pressfeed import store
from pressfeed.cli import main
from pressfeed.models import Settings, Term
from pressfeed.publish import publish
from pressfeed.scan import scan_content
from tests.conftest import NOW
from tests.feedcheck import atom_problems, rss_problems
from tests.test_search import drop_search

RESCUE = """Coast guard rescues 40 migrants off Libya

Tripoli, 3 March 2024 – The Libyan coast guard rescued 40 migrants from a sinking rubber boat \
off Zuwara today and brought them back to Tripoli, where they were taken to detention.

Survivors said the boat had left Sabratha two days before with 45 people on board; five are \
missing at sea.
"""
CLINIC = """Clinic opens for new arrivals

Athens, 2 April 2024 – A clinic for newly arrived migrants opened today, offering medical \
screening, vaccination and mental health support to 200 people a day.
"""
FORMATS = ("atom", "rss", "json")
WHY = re.compile(r"Why: [^<\n]*")


def scanned(settings: Settings, engine: Engine, *texts: tuple[str, str]) -> Settings:
    for name, body in texts:
        (settings.content_dir / name).write_text(body, encoding="utf-8")
    scan_content(settings, engine, now=NOW)
    publish(settings, engine, now=NOW)
    return settings


@pytest.fixture
def site(settings: Settings, engine: Engine) -> Settings:
    return scanned(settings, engine, ("rescue.txt", RESCUE), ("clinic.txt", CLINIC))


def feed(settings: Settings, name: str) -> feedparser.FeedParserDict:
    parsed = feedparser.parse((settings.output_dir / name).read_bytes())
    assert not parsed.bozo, (name, parsed.get("bozo_exception"))
    return parsed


@dataclasses.dataclass(frozen=True)
class Read:
    """An entry as a reader gets it: its topics and its HTML content."""

    tags: set[str]
    content: str


def entry_titled(settings: Settings, name: str, title: str) -> Read:
    """The entry as feedparser reads an Atom or RSS feed; a JSON Feed as JSON (feedparser 6.0
    reads no JSON Feed)."""
    if name.endswith(".json"):
        items = json.loads((settings.output_dir / name).read_bytes())["items"]
        item = next(i for i in items if i["title"] == title)
        return Read(set(item["tags"]), item["content_html"])
    entry = next(e for e in feed(settings, name).entries if e.title == title)
    content = entry.content[0].value if "content" in entry else entry.description
    return Read({t.term for t in entry.tags}, content)


def why_in(entry: Read) -> str | None:
    """The entry's "Why:" line, as a reader shows its content (HTML entities decoded)."""
    found = WHY.search(entry.content)
    return lxml.html.fromstring(found.group()).text_content() if found else None


def release_page(settings: Settings, engine: Engine, title: str) -> lxml.html.HtmlElement:
    with engine.connect() as connection:
        stored = next(s for s in store.live_releases(connection) if s.release.title == title)
    path = settings.output_dir / "releases" / f"{stored.release.id}.html"
    return lxml.html.fromstring(path.read_text(encoding="utf-8"))


def page_why(page: lxml.html.HtmlElement) -> list[str]:
    return [p.text_content() for p in page.cssselect("p.why")]


def explained(path: Path) -> dict[str, str]:
    """`pressfeed classify --explain` on one file: each carried topic's "why:" phrase."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["classify", "--explain", str(path)]) == 0
    found: dict[str, str] = {}
    topic = ""
    for line in out.getvalue().splitlines():
        if head := re.match(r"  ([a-z-]+): yes;", line):
            topic = head[1]
        elif line.startswith("    why: "):
            found[topic] = line.removeprefix("    why: ")
    return found


def test_every_format_carries_the_topics_as_categories(site: Settings) -> None:
    # Atom gives each topic's slug as the term and its title as the label; RSS and JSON Feed
    # have room for one word: the title.
    named = {"atom": {"libya", "sea-rescue"}, "rss": {"Libya", "Sea rescue"}}
    named["json"] = named["rss"]
    for form in FORMATS:
        rescue = entry_titled(site, f"all.{form}", "Coast guard rescues 40 migrants off Libya")
        clinic = entry_titled(site, f"all.{form}", "Clinic opens for new arrivals")
        assert rescue.tags == named[form], form
        assert clinic.tags == {"health" if form == "atom" else "Health"}, form
    atom = feed(site, "libya.atom").entries[0]
    labels = {(t.term, t.label) for t in atom.tags}
    assert labels == {("libya", "Libya"), ("sea-rescue", "Sea rescue")}


def test_every_format_says_why_in_the_entry_content(site: Settings) -> None:
    lines = {
        form: why_in(entry_titled(site, f"all.{form}", "Coast guard rescues 40 migrants off Libya"))
        for form in FORMATS
    }
    line = lines["atom"]
    assert line is not None
    assert lines == dict.fromkeys(FORMATS, line)
    assert line.startswith("Why: Libya: matched ")
    assert ". Sea rescue: matched " in line
    assert "in the headline" in line
    assert "in the lead" in line
    sea = line.split("Sea rescue: matched ")[1]
    assert len(re.split(r", |; ", sea.split(" in the ")[0])) <= 3  # the strongest few only
    clinic = why_in(entry_titled(site, "health.atom", "Clinic opens for new arrivals"))
    assert clinic is not None
    assert clinic.startswith("Why: Health: matched ")
    # JSON Feed's plain text says it too, as its last paragraph.
    items = json.loads((site.output_dir / "all.json").read_bytes())["items"]
    item = next(i for i in items if i["title"].startswith("Coast"))
    assert item["content_text"].split("\n\n")[-1] == line


def test_the_release_page_says_the_same(site: Settings, engine: Engine) -> None:
    page = release_page(site, engine, "Coast guard rescues 40 migrants off Libya")
    feed_line = why_in(entry_titled(site, "all.atom", "Coast guard rescues 40 migrants off Libya"))
    assert page_why(page) == [feed_line]


def test_explain_and_the_feed_line_agree(site: Settings) -> None:
    phrases = explained(site.content_dir / "rescue.txt")
    titles = {t.slug: t.title for t in site.topics}
    line = why_in(entry_titled(site, "all.rss", "Coast guard rescues 40 migrants off Libya"))
    expected = ". ".join(f"{titles[slug]}: {phrase}" for slug, phrase in sorted(phrases.items()))
    assert set(phrases) == {"libya", "sea-rescue"}
    assert line == f"Why: {expected}."


def test_with_the_setting_off_no_line_anywhere(settings: Settings, engine: Engine) -> None:
    site = scanned(settings, engine, ("rescue.txt", RESCUE))
    assert page_why(release_page(site, engine, "Coast guard rescues 40 migrants off Libya"))
    quiet = dataclasses.replace(site, explain_topics=False)
    publish(quiet, engine, now=NOW)  # not a full publish: the setting alone must do it
    for form in FORMATS:
        entry = entry_titled(quiet, f"all.{form}", "Coast guard rescues 40 migrants off Libya")
        assert why_in(entry) is None
        assert entry.tags  # the topics stay
    assert "Why:" not in (quiet.output_dir / "all.json").read_text(encoding="utf-8")
    page = release_page(quiet, engine, "Coast guard rescues 40 migrants off Libya")
    assert page_why(page) == []
    assert page.cssselect("ul.topic-list li")


def test_the_line_is_published_from_the_store_without_the_file(
    settings: Settings, engine: Engine
) -> None:
    site = scanned(settings, engine, ("rescue.txt", RESCUE))
    before = why_in(entry_titled(site, "libya.atom", "Coast guard rescues 40 migrants off Libya"))
    (site.content_dir / "rescue.txt").unlink()  # no scan follows: the store still has it
    for path in site.output_dir.rglob("*.atom"):
        path.unlink()
    publish(site, engine, now=NOW, full=True)
    after = why_in(entry_titled(site, "libya.atom", "Coast guard rescues 40 migrants off Libya"))
    assert before is not None
    assert after == before


def test_retuned_topics_change_the_line_at_the_next_scan(
    settings: Settings, engine: Engine
) -> None:
    site = scanned(settings, engine, ("rescue.txt", RESCUE))
    before = why_in(entry_titled(site, "libya.atom", "Coast guard rescues 40 migrants off Libya"))
    assert before is not None
    assert "detention" not in before
    libya = next(t for t in site.topics if t.slug == "libya")
    heavier = dataclasses.replace(libya, terms=(*libya.terms, Term("detention", 40.0)))
    retuned = dataclasses.replace(
        site, topics=tuple(heavier if t is libya else t for t in site.topics)
    )
    report = scan_content(retuned, engine, now=NOW)
    assert report.reclassified == 0  # the same topics: only why changed
    publish(retuned, engine, now=NOW)
    after = why_in(entry_titled(site, "libya.atom", "Coast guard rescues 40 migrants off Libya"))
    assert after is not None
    assert after.startswith("Why: Libya: matched Libya in the headline; ")
    assert "; detention, " in after  # the strongest term of the lead now, named first there
    page = release_page(site, engine, "Coast guard rescues 40 migrants off Libya")
    assert page_why(page) == [after]


def test_an_upgraded_database_gets_the_line_at_its_next_scan(
    settings: Settings, engine: Engine
) -> None:
    site = scanned(settings, engine, ("rescue.txt", RESCUE))
    expected = why_in(entry_titled(site, "all.atom", "Coast guard rescues 40 migrants off Libya"))
    with engine.begin() as connection:  # as the version before stored it: no evidence column
        drop_search(connection)  # added later
        connection.execute(text("ALTER TABLE release_topics DROP COLUMN evidence"))
        version = next(
            number
            for number, migration in enumerate(store.MIGRATIONS)
            if not callable(migration) and any("COLUMN evidence" in str(s) for s in migration)
        )
        connection.execute(text("UPDATE schema_version SET version = :v"), {"v": version})
    engine.dispose()
    upgraded = store.open_store(site.database)
    try:
        publish(site, upgraded, now=NOW, full=True)  # nothing known yet: no line, no error
        assert (
            why_in(entry_titled(site, "all.atom", "Coast guard rescues 40 migrants off Libya"))
            is None
        )
        scan_content(site, upgraded, now=NOW)  # reads no file, classifies the stored releases
        publish(site, upgraded, now=NOW)
    finally:
        upgraded.dispose()
    assert (
        why_in(entry_titled(site, "all.atom", "Coast guard rescues 40 migrants off Libya"))
        == expected
    )


def test_topic_titles_in_the_line_are_escaped_and_the_feeds_stay_valid(
    settings: Settings, engine: Engine
) -> None:
    odd = tuple(
        dataclasses.replace(t, title="Libya & <b>co</b>") if t.slug == "libya" else t
        for t in settings.topics
    )
    site = scanned(dataclasses.replace(settings, topics=odd), engine, ("rescue.txt", RESCUE))
    for form in FORMATS:
        entry = entry_titled(site, f"all.{form}", "Coast guard rescues 40 migrants off Libya")
        assert (why_in(entry) or "").startswith("Why: Libya & <b>co</b>: matched ")
    atom = (site.output_dir / "all.atom").read_bytes()
    assert b"Why: Libya &amp;amp; &amp;lt;b&amp;gt;co" in atom  # escaped HTML, escaped as XML
    assert atom_problems(atom) == []
    assert rss_problems((site.output_dir / "all.rss").read_bytes()) == []
    page = release_page(site, engine, "Coast guard rescues 40 migrants off Libya")
    assert page_why(page)[0].startswith("Why: Libya & <b>co</b>: matched ")
    assert not page.cssselect("p.why b")
