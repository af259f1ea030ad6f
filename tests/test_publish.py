"""Publishing over a real store and real files: what is written, when, and what readers see."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import shutil
from collections.abc import Iterable
from pathlib import Path

import feedparser
import pytest
from sqlalchemy import Engine

from pressfeed import files, store
from pressfeed import publish as publishing
from pressfeed.config import load_settings
from pressfeed.evaluate import read_labels
from pressfeed.models import Settings
from pressfeed.publish import publish
from pressfeed.scan import scan_content
from tests.conftest import NOW, ROOT, write_settings
from tests.feedcheck import atom_problems, rss_problems
from tests.test_scan import LISTING

HEALTH = """Clinic opens for new arrivals

Athens, 2 April 2024 – A clinic for newly arrived migrants opened today, offering medical \
screening, vaccination and mental health support to 200 people a day.
"""

HOSTILE = """Statement on <script>alert("x")</script> & other "tags"

Geneva, 1 February 2024 – The text holds <b>markup</b> & ampersands \x07 and a bell, which \
readers must see as text: <script>alert(1)</script>.
"""


def scan(settings: Settings, engine: Engine, minutes: int = 0) -> None:
    scan_content(settings, engine, now=NOW + dt.timedelta(minutes=minutes))


def outputs(settings: Settings) -> dict[str, int]:
    """Every output file with its modification time."""
    root = settings.output_dir
    return {
        p.relative_to(root).as_posix(): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()
    }


def release_pages(settings: Settings) -> list[Path]:
    """The page of each release (the folder also holds the list of every release)."""
    pages = (settings.output_dir / "releases").glob("*.html")
    return sorted(p for p in pages if p.name != "index.html")


def parse(settings: Settings, name: str) -> feedparser.FeedParserDict:
    parsed = feedparser.parse((settings.output_dir / name).read_bytes())
    assert not parsed.bozo, (name, parsed.get("bozo_exception"))
    return parsed


def local(settings: Settings, url: str) -> Path:
    assert url.startswith(settings.site_url)
    return settings.output_dir / url.removeprefix(settings.site_url).split("#")[0]


@pytest.fixture
def published(settings: Settings, engine: Engine) -> Settings:
    (settings.content_dir / "listing.txt").write_text(LISTING, encoding="utf-8")
    (settings.content_dir / "health.txt").write_text(HEALTH, encoding="utf-8")
    scan(settings, engine)
    publish(settings, engine)
    return settings


def test_every_output_is_written(published: Settings) -> None:
    names = set(outputs(published))
    for slug in ("all", "libya", "sea-rescue", "health", "governance"):
        assert {f"{slug}.atom", f"{slug}.rss", f"{slug}.json"} <= names
    assert {"index.html", "topics.opml"} <= names
    assert len([n for n in names if re.fullmatch(r"releases/[0-9a-f]+\.html", n)]) == 3
    assert {"archive/all/2024-03.atom", "archive/health/2024-04.atom"} <= names
    # Archive feeds are Atom only (RSS and JSON Feed point to them); people get HTML pages.
    archived = {n for n in names if n.startswith("archive/") and not n.endswith("index.html")}
    assert {n.rpartition(".")[2] for n in archived} == {"atom"}


def test_feeds_parse_as_a_reader_sees_them(published: Settings) -> None:
    for slug in ("all", "sea-rescue", "health"):
        for suffix in ("atom", "rss"):
            feed = parse(published, f"{slug}.{suffix}")
            assert feed.entries, slug
            for entry in feed.entries:
                assert entry.id.startswith("urn:uuid:")
                assert local(published, entry.link).is_file()
                assert entry.published_parsed is not None
    health = parse(published, "health.atom")
    assert len(health.entries) == 2
    entry = health.entries[0]
    assert entry.title == "Clinic opens for new arrivals"
    assert [t.term for t in entry.tags] == ["health"]
    assert entry.published.startswith("2024-04-02")
    assert health.feed.title == "Health"


def test_all_feed_is_newest_first(published: Settings) -> None:
    titles = [e.title for e in parse(published, "all.atom").entries]
    assert titles == [
        "Clinic opens for new arrivals",
        "Rescue ship waits for a safe port with 60 survivors on board",
        "Health workers screen new arrivals for tuberculosis",
    ]


def test_feeds_follow_the_specifications(published: Settings) -> None:
    for slug in ("all", "libya", "sea-rescue", "health", "governance"):
        assert atom_problems((published.output_dir / f"{slug}.atom").read_bytes()) == []
        assert rss_problems((published.output_dir / f"{slug}.rss").read_bytes()) == []
    for archive in (published.output_dir / "archive").rglob("*.atom"):
        assert atom_problems(archive.read_bytes()) == [], archive


def test_json_feed_has_the_required_fields(published: Settings) -> None:
    feed = json.loads((published.output_dir / "health.json").read_text(encoding="utf-8"))
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert feed["feed_url"] == f"{published.site_url}health.json"
    item = feed["items"][0]
    assert item["id"].startswith("urn:uuid:")
    assert item["url"].startswith(published.site_url)
    assert dt.datetime.fromisoformat(item["date_published"]).tzinfo is not None


def test_index_links_every_feed_and_release_page(published: Settings) -> None:
    html = (published.output_dir / "index.html").read_text(encoding="utf-8")
    for slug in ("libya", "sea-rescue", "health", "governance"):
        assert f'href="{published.site_url}{slug}.atom"' in html
    assert f"{published.site_url}topics.opml" in html
    assert "Clinic opens for new arrivals" in html


def test_a_publish_with_no_change_rewrites_no_file(published: Settings, engine: Engine) -> None:
    before = outputs(published)
    scan(published, engine, minutes=5)
    report = publish(published, engine)
    assert report.written == 0
    assert publish(published, engine, full=True).written == 0
    assert outputs(published) == before


def test_a_change_in_one_topic_rewrites_that_topic_and_all(
    published: Settings, engine: Engine
) -> None:
    before = outputs(published)
    more = HEALTH.replace("Clinic opens", "Second clinic opens").replace("2 April", "3 April")
    (published.content_dir / "health-2.txt").write_text(more, encoding="utf-8")
    scan(published, engine, minutes=5)
    publish(published, engine)
    after = outputs(published)
    changed = {name for name in after if before.get(name) != after[name]}
    assert {"health.atom", "health.rss", "health.json", "all.atom", "index.html"} <= changed
    untouched = {
        f"{slug}.{s}"
        for slug in ("libya", "sea-rescue", "governance")
        for s in ("atom", "rss", "json")
    }
    assert not changed & untouched
    assert {"topics/health/index.html", "releases/index.html"} <= changed
    assert not {n for n in changed if n.startswith(("topics/libya/", "archive/libya/"))}
    # The new release's page, and the page of the release before it, which now links to it.
    new = {n for n in after if n not in before}
    pages = {n for n in changed if re.fullmatch(r"releases/[0-9a-f]+\.html", n)} - new
    (neighbour,) = pages
    assert "Clinic opens for new arrivals" in (published.output_dir / neighbour).read_text()


def test_ids_are_the_same_across_clean_rebuilds(published: Settings, tmp_path: Path) -> None:
    first = [e.id for e in parse(published, "all.atom").entries]
    (tmp_path / "again").mkdir()
    other = load_settings(write_settings(tmp_path / "again"), environ={})
    shutil.copytree(published.content_dir, other.content_dir, dirs_exist_ok=True)
    engine = store.open_store(other.database)
    scan_content(other, engine, now=NOW + dt.timedelta(days=3))
    publish(other, engine)
    engine.dispose()
    assert [e.id for e in parse(other, "all.atom").entries] == first


def test_markup_and_control_characters_are_shown_as_text(
    settings: Settings, engine: Engine
) -> None:
    (settings.content_dir / "hostile.txt").write_text(HOSTILE, encoding="utf-8")
    scan(settings, engine)
    publish(settings, engine)
    for suffix in ("atom", "rss"):
        (entry,) = parse(settings, f"all.{suffix}").entries
        assert entry.title == 'Statement on <script>alert("x")</script> & other "tags"'
        content = entry.get("content", [{"value": entry.get("description", "")}])[0]["value"]
        assert "&lt;script&gt;" in content
        assert "<script>" not in content
        assert "\x07" not in content
    page = release_pages(settings)[0].read_text(encoding="utf-8")
    assert "<script>" not in page
    assert "&lt;b&gt;markup&lt;/b&gt;" in page


def test_archive_chain_reaches_the_oldest_release(tmp_path: Path) -> None:
    config = write_settings(tmp_path, "feed_length = 2\n")
    settings = load_settings(config, environ={})
    for month in range(1, 7):
        page = (
            LISTING.replace("12 March 2024", f"12 {month_name(month)} 2024")
            .replace("2 March 2024", f"2 {month_name(month)} 2024")
            .replace("60 survivors", f"{60 + month} survivors")
            .replace("for tuberculosis", f"for tuberculosis, round {month}")
        )
        (settings.content_dir / f"listing-{month}.txt").write_text(page, encoding="utf-8")
    engine = store.open_store(settings.database)
    scan_content(settings, engine, now=NOW)
    publish(settings, engine)
    engine.dispose()
    seen: set[str] = set()
    feed = parse(settings, "all.atom")
    assert len(feed.entries) == 2
    pages = 0
    while True:
        seen |= {e.id for e in feed.entries}
        older = [link.href for link in feed.feed.links if link.rel == "prev-archive"]
        if not older:
            break
        name = older[0].removeprefix(settings.site_url)
        feed = parse(settings, name)
        pages += 1
        assert any(link.rel == "current" for link in feed.feed.links)
    assert pages == 6
    assert len(seen) == 12
    oldest = parse(settings, "archive/all/2024-01.atom").entries
    assert {e.title for e in oldest} >= {
        "Health workers screen new arrivals for tuberculosis, round 1"
    }


def test_a_new_release_in_a_known_month_rebuilds_that_archive_month_only(
    tmp_path: Path,
) -> None:
    settings = load_settings(write_settings(tmp_path), environ={})
    for month in (1, 3, 5):
        page = HEALTH.replace("2 April", f"2 {month_name(month)}").replace(
            "Clinic opens", f"Clinic {month} opens"
        )
        (settings.content_dir / f"health-{month}.txt").write_text(page, encoding="utf-8")
    engine = store.open_store(settings.database)
    scan(settings, engine)
    publish(settings, engine)

    def archives_changed_by(name: str, day: str) -> set[str]:
        before = outputs(settings)
        page = HEALTH.replace("2 April", day).replace("Clinic opens", f"Clinic {name} opens")
        (settings.content_dir / f"{name}.txt").write_text(page, encoding="utf-8")
        scan(settings, engine, minutes=len(before))
        publish(settings, engine)
        after = outputs(settings)
        changed = {n for n in after if before.get(n) != after[n]}
        return {n.removeprefix("archive/health/") for n in changed if "archive/health/" in n}

    # The month's page in Atom and in HTML, and the index of months, which counts it.
    assert archives_changed_by("march-again", "9 March") == {
        "2024-03.atom",
        "2024-03/index.html",
        "index.html",
    }
    # A new month moves the archive links of the months on each side.
    assert archives_changed_by("april", "9 April") == {
        "2024-03.atom",
        "2024-04.atom",
        "2024-05.atom",
        "2024-03/index.html",
        "2024-04/index.html",
        "2024-05/index.html",
        "index.html",
    }
    engine.dispose()


def health_releases(settings: Settings, days: Iterable[int], month: str = "March") -> None:
    """One health release per day of `month` 2024, each in a file of its own."""
    for day in days:
        page = HEALTH.replace("2 April", f"{day} {month}").replace(
            "Clinic opens", f"Clinic {month} {day} opens"
        )
        (settings.content_dir / f"health-{month}-{day}.txt").write_text(page, encoding="utf-8")


def archive_chain(settings: Settings, slug: str) -> list[tuple[str, list[str]]]:
    """Each archive page from the newest to the oldest, following prev-archive from the
    current feed, with its entries' titles; checks the links back and the page's rules."""
    pages: list[tuple[str, list[str]]] = []
    feed = parse(settings, f"{slug}.atom")
    newer = f"{settings.site_url}{slug}.atom"
    while older := [link.href for link in feed.feed.links if link.rel == "prev-archive"]:
        name = older[0].removeprefix(settings.site_url)
        feed = parse(settings, name)
        rels = {link.rel: link.href for link in feed.feed.links}
        assert rels["current"] == f"{settings.site_url}{slug}.atom"
        if pages:
            assert rels["next-archive"] == newer
        assert atom_problems((settings.output_dir / name).read_bytes(), Path(name).name) == []
        pages.append((name.removeprefix(f"archive/{slug}/"), [e.title for e in feed.entries]))
        newer = older[0]
    return pages


def test_a_busy_month_is_archived_in_pages_of_archive_length_oldest_first(
    tmp_path: Path,
) -> None:
    settings = load_settings(write_settings(tmp_path, "archive_length = 2\n"), environ={})
    health_releases(settings, [1, 2, 3, 4, 5])
    health_releases(settings, [7], month="April")
    engine = store.open_store(settings.database)
    scan(settings, engine)
    publish(settings, engine)
    engine.dispose()
    chain = archive_chain(settings, "health")
    assert [name for name, _ in chain] == [
        "2024-04.atom",
        "2024-03-3.atom",
        "2024-03-2.atom",
        "2024-03.atom",
    ]
    titles = dict(chain)
    assert titles["2024-03.atom"] == [
        "Clinic March 2 opens for new arrivals",
        "Clinic March 1 opens for new arrivals",
    ]
    assert titles["2024-03-3.atom"] == ["Clinic March 5 opens for new arrivals"]
    assert sum(len(entries) for _, entries in chain) == 6
    archived = feedparser.parse(
        (settings.output_dir / "archive/health/2024-03-2.atom").read_bytes()
    )
    assert archived.feed.title == "Health (2024-03, page 2)"
    assert all("content" not in entry and entry.summary for entry in archived.entries)


def test_a_release_dated_today_rewrites_the_last_page_of_its_month_only(tmp_path: Path) -> None:
    settings = load_settings(write_settings(tmp_path, "archive_length = 2\n"), environ={})
    health_releases(settings, [1, 2, 3])
    health_releases(settings, [7], month="February")
    engine = store.open_store(settings.database)
    scan(settings, engine)
    publish(settings, engine)
    before = outputs(settings)
    health_releases(settings, [20])
    scan(settings, engine, minutes=5)
    publish(settings, engine)
    after = outputs(settings)
    engine.dispose()
    changed = {n for n in after if before.get(n) != after[n] and n.startswith("archive/health/")}
    assert changed == {
        "archive/health/2024-03-2.atom",
        "archive/health/2024-03-2/index.html",
        "archive/health/index.html",
    }
    health_releases(settings, [21])  # the month's pages grow: the new one and its neighbour
    engine = store.open_store(settings.database)
    scan(settings, engine, minutes=10)
    publish(settings, engine)
    engine.dispose()
    again = outputs(settings)
    changed = {n for n in again if after.get(n) != again[n] and n.startswith("archive/health/")}
    assert changed == {
        "archive/health/2024-03-2.atom",
        "archive/health/2024-03-3.atom",
        "archive/health/2024-03-2/index.html",
        "archive/health/2024-03-3/index.html",
        "archive/health/index.html",
    }


def test_archive_files_that_are_no_page_any_more_are_removed(
    published: Settings, engine: Engine
) -> None:
    folder = published.output_dir / "archive" / "health"
    (folder / "2024-04.json").write_text("{}", encoding="utf-8")  # as an older version wrote
    (folder / "2024-04-2.atom").write_text("<feed/>", encoding="utf-8")
    (folder / "notes.txt").write_text("mine", encoding="utf-8")
    publish(published, engine, full=True)
    pages = ["2024-03", "2024-03.atom", "2024-04", "2024-04.atom", "index.html", "notes.txt"]
    assert sorted(p.name for p in folder.iterdir()) == pages
    (published.content_dir / "health.txt").unlink()
    scan(published, engine, minutes=5)
    publish(published, engine)  # April has no health release left, in Atom or in HTML
    left = ["2024-03", "2024-03.atom", "index.html", "notes.txt"]
    assert sorted(p.name for p in folder.iterdir()) == left


def test_json_feed_points_to_the_atom_archive(published: Settings) -> None:
    feed = json.loads((published.output_dir / "health.json").read_text(encoding="utf-8"))
    archive = feed["_pressfeed"]["prev_archive"]
    assert archive == f"{published.site_url}archive/health/2024-04.atom"
    assert local(published, archive).is_file()


def test_a_full_publish_with_nothing_changed_renders_nothing_and_waits_for_no_disk(
    published: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[Path] = []
    real_sync = files._sync_file_system
    monkeypatch.setattr(files, "_sync_file_system", lambda d: synced.append(d) or real_sync(d))
    before = outputs(published)
    again = publish(published, engine, full=True)
    assert (again.written, again.rendered, synced) == (0, [], [])
    assert again.unchanged >= len([n for n in before if n.startswith(("releases/", "archive/"))])
    assert outputs(published) == before
    (published.output_dir / "health.atom").unlink()
    publish(published, engine, full=True)
    assert synced == [published.output_dir]


def refuse_reading_releases(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any reading of what a release page or a feed is rendered from fail."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a release was read")

    for name in ("release_signatures", "releases_by_id", "feed_signatures", "feed_headlines"):
        monkeypatch.setattr(store, name, refuse)


def test_a_full_publish_of_an_unchanged_store_checks_the_files_and_reads_no_release(
    published: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish(published, engine, full=True)
    before = outputs(published)
    with monkeypatch.context() as patched:
        refuse_reading_releases(patched)
        again = publish(published, engine, full=True)
    assert (again.written, again.rendered) == (0, [])
    assert outputs(published) == before
    (published.output_dir / "archive" / "health" / "2024-04-2.atom").write_text("<feed/>")
    with monkeypatch.context() as patched:
        refuse_reading_releases(patched)
        tidied = publish(published, engine, full=True)  # a stray file is no reason to read
    assert tidied.removed == 1
    assert outputs(published) == before


def test_a_change_no_publish_went_over_is_found_by_the_next_full_one(
    published: Settings, engine: Engine
) -> None:
    publish(published, engine, full=True)
    archive = published.output_dir / "archive" / "all" / "2024-03.atom"
    before = archive.read_bytes()
    with engine.begin() as connection:  # changed in the store, marked nowhere
        stored = next(s for s in store.live_releases(connection) if s.release.date.month == 3)
        store.set_topics(connection, {stored.release.id: {"health": 5.0, "governance": 5.0}})
    publish(published, engine)  # a publish of what was marked: nothing
    assert archive.read_bytes() == before
    publish(published, engine, full=True)
    assert archive.read_bytes() != before


def test_files_a_publish_removed_are_not_taken_for_files_removed_by_hand(
    published: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = published.output_dir / "archive" / "health"
    assert (folder / "2024-04.atom").is_file()
    (published.content_dir / "health.txt").unlink()
    scan(published, engine, minutes=5)
    publish(published, engine)  # April loses its health release: its pages go
    assert not (folder / "2024-04.atom").exists()
    publish(published, engine, full=True)
    with monkeypatch.context() as patched:
        refuse_reading_releases(patched)
        again = publish(published, engine, full=True)
    assert (again.written, again.removed) == (0, 0)
    assert not (folder / "2024-04.atom").exists()


def test_a_hub_named_in_the_settings_reaches_every_feed_at_the_next_publish(
    published: Settings, engine: Engine
) -> None:
    hubbed = dataclasses.replace(
        published, service=dataclasses.replace(published.service, websub=True)
    )
    publish(hubbed, engine)
    feed = parse(hubbed, "health.atom")
    assert f"{hubbed.site_url}hub" in [link.href for link in feed.feed.links if link.rel == "hub"]
    archive = parse(hubbed, "archive/health/2024-03.atom")
    assert "hub" not in [link.rel for link in archive.feed.links]  # archives are not pushed


def test_a_full_publish_rewrites_what_was_changed_or_removed_by_hand(
    published: Settings, engine: Engine
) -> None:
    page = release_pages(published)[0]
    good = page.read_bytes()
    page.write_bytes(good.replace(b"</h1>", b" (edited)</h1>"))
    feed = published.output_dir / "health.atom"
    feed.unlink()
    archive = published.output_dir / "archive" / "all" / "2024-03.atom"
    archived = archive.read_bytes()
    archive.write_bytes(b"")
    report = publish(published, engine, full=True)
    assert page.read_bytes() == good
    assert feed.is_file()
    assert archive.read_bytes() == archived
    assert report.written == 3
    assert sorted(r.path for r in report.rendered) == sorted(
        [
            page.relative_to(published.output_dir).as_posix(),
            "health.atom",
            "archive/all/2024-03.atom",
        ]
    )


def test_an_archive_page_is_rendered_again_when_what_it_shows_beside_the_text_changes(
    published: Settings, engine: Engine
) -> None:
    archive = published.output_dir / "archive" / "all" / "2024-03.atom"
    assert "governance" not in {
        t.term for e in parse(published, "archive/all/2024-03.atom").entries for t in e.tags
    }
    with engine.begin() as connection:
        (stored,) = [
            s
            for s in store.live_releases(connection)
            if s.release.date.month == 3 and "health" in s.topics
        ]
        store.set_topics(connection, {stored.release.id: {"health": 5.0, "governance": 5.0}})
    before = archive.read_bytes()
    publish(published, engine, full=True)  # nothing marked: only the inputs tell
    assert archive.read_bytes() != before
    tagged = {
        e.title: {t.term for t in e.tags}
        for e in parse(published, "archive/all/2024-03.atom").entries
    }
    assert tagged[stored.release.title] == {"health", "governance"}


def test_what_a_file_shows_changing_renders_it_again(published: Settings, engine: Engine) -> None:
    (published.content_dir / "health.txt").write_text(
        HEALTH.replace("200 people a day", "300 people a day"), encoding="utf-8"
    )
    scan(published, engine, minutes=5)
    publish(published, engine, full=True)
    page = next(p for p in release_pages(published) if "Clinic opens" in p.read_text())
    assert "300 people a day" in page.read_text(encoding="utf-8")
    assert "300 people a day" in (published.output_dir / "health.atom").read_text(encoding="utf-8")


def month_name(month: int) -> str:
    return dt.date(2024, month, 1).strftime("%B")


def test_withdrawn_release_leaves_the_feeds_and_its_page_says_so(
    published: Settings, engine: Engine
) -> None:
    (published.content_dir / "health.txt").unlink()
    scan(published, engine, minutes=5)
    publish(published, engine)
    assert [e.title for e in parse(published, "health.atom").entries] == [
        "Health workers screen new arrivals for tuberculosis"
    ]
    titles = [e.title for e in parse(published, "all.atom").entries]
    assert "Clinic opens for new arrivals" not in titles
    pages = [p.read_text(encoding="utf-8") for p in release_pages(published)]
    assert sum("withdrawn" in page.lower() for page in pages) == 1


def test_a_failed_publish_is_finished_by_the_next(
    settings: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    (settings.content_dir / "listing.txt").write_text(LISTING, encoding="utf-8")
    scan(settings, engine)
    real = publishing.write_if_changed
    calls = {"n": 0}

    def failing(path: Path, data: bytes) -> bool:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(28, "No space left on device")
        return real(path, data)

    monkeypatch.setattr(publishing, "write_if_changed", failing)
    with pytest.raises(OSError, match="No space left"):
        publish(settings, engine)
    monkeypatch.setattr(publishing, "write_if_changed", real)
    with engine.connect() as connection:
        assert store.pending_keys(connection)  # nothing was lost
    publish(settings, engine)
    with engine.connect() as connection:
        assert store.pending_keys(connection) == {}
    assert len(parse(settings, "all.atom").entries) == 2
    assert len(release_pages(settings)) == 2


def test_seed_feeds_hold_what_the_labels_require(shared_dir: Path, tmp_path: Path) -> None:
    settings = load_settings(write_settings(tmp_path), environ={})
    settings = dataclasses.replace(settings, content_dir=shared_dir / "seeds")
    engine = store.open_store(settings.database)
    scan_content(settings, engine, now=NOW)
    publish(settings, engine)
    engine.dispose()
    slugs, labels = read_labels(shared_dir / "seeds-golden.json")
    titled = [label for label in labels if label.title]
    all_titles = [e.title for e in parse(settings, "all.atom").entries]
    assert len(all_titles) == 17
    assert len({e.id for e in parse(settings, "all.atom").entries}) == 17
    for slug in slugs:
        feed_titles = {e.title for e in parse(settings, f"{slug}.atom").entries}
        required = {lb.title for lb in titled if slug in lb.topics}
        allowed = {lb.title for lb in titled if slug in lb.topics | lb.optional}
        assert required <= feed_titles, slug
        untitled = [lb for lb in labels if not lb.title and slug in lb.topics | lb.optional]
        untitled_required = [lb for lb in untitled if slug in lb.topics]
        others = feed_titles - allowed  # releases printed without a headline: derived titles
        assert len(untitled_required) <= len(others) <= len(untitled), slug


def test_project_config_points_at_the_project_templates() -> None:
    settings = load_settings(ROOT / "config" / "pressfeed.toml", environ={})
    assert (settings.templates_dir / "index.html").is_file()


def test_a_topic_dropped_from_the_config_takes_its_feeds_along(
    published: Settings, engine: Engine
) -> None:
    kept = tuple(t for t in published.topics if t.slug != "governance")
    settings = dataclasses.replace(published, topics=kept)
    scan_content(settings, engine, now=NOW)
    report = publish(settings, engine)
    names = set(outputs(settings))
    assert report.removed >= 3
    assert not {n for n in names if n.startswith("governance.") or "/governance/" in n}
    assert "health.atom" in names


def test_entries_are_updated_at_their_release_date_until_their_text_changes(
    published: Settings, engine: Engine
) -> None:
    entries = parse(published, "all.atom").entries
    assert [e.updated[:10] for e in entries] == ["2024-04-02", "2024-03-12", "2024-03-02"]
    assert [e.updated for e in entries] == [e.published for e in entries]
    path = published.content_dir / "listing.txt"
    path.write_text(LISTING.replace("Sixty people", "Sixty-one people"), encoding="utf-8")
    scan(published, engine, minutes=5)
    publish(published, engine)
    changed = {e.title: e.updated for e in parse(published, "all.atom").entries}
    assert changed["Rescue ship waits for a safe port with 60 survivors on board"] == (
        "2026-11-23T09:05:00+00:00"
    )
    assert changed["Clinic opens for new arrivals"].startswith("2024-04-02")


def test_an_empty_feed_is_updated_at_the_last_change_not_in_1970(
    published: Settings, engine: Engine
) -> None:
    empty = parse(published, "governance.atom")
    assert empty.entries == []
    assert empty.feed.updated == "2026-11-23T09:00:00+00:00"  # when the releases arrived
    assert "1970" not in (published.output_dir / "governance.rss").read_text(encoding="utf-8")


def test_an_empty_store_publishes_feeds_updated_at_the_first_publish(
    settings: Settings, engine: Engine
) -> None:
    publish(settings, engine, now=NOW)
    assert parse(settings, "all.atom").feed.updated == "2026-11-23T09:00:00+00:00"
    before = outputs(settings)
    assert publish(settings, engine, full=True, now=NOW + dt.timedelta(hours=1)).written == 0
    assert outputs(settings) == before


def test_page_times_have_no_fraction_of_a_second(settings: Settings, engine: Engine) -> None:
    (settings.content_dir / "listing.txt").write_text(LISTING, encoding="utf-8")
    scan_content(settings, engine, now=NOW.replace(microsecond=123456))
    publish(settings, engine)
    pages = [settings.output_dir / "index.html", *release_pages(settings)]
    valid = re.compile(r"\d{4}-\d\d-\d\d(T\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d))?")
    for page in pages:
        times = re.findall(r'datetime="([^"]*)"', page.read_text(encoding="utf-8"))
        assert times, page
        assert all(valid.fullmatch(t) for t in times), (page, times)


def test_releases_of_one_date_have_distinct_updated_kept_as_more_arrive(
    settings: Settings, engine: Engine
) -> None:
    for name in ("a", "b"):
        text = HEALTH.replace("Clinic opens", f"Clinic {name} opens")
        (settings.content_dir / f"{name}.txt").write_text(text, encoding="utf-8")
    scan(settings, engine)
    publish(settings, engine)
    first = {e.title: e.updated for e in parse(settings, "all.atom").entries}
    assert sorted(first.values()) == ["2024-04-02T00:00:00+00:00", "2024-04-02T00:00:01+00:00"]
    (settings.content_dir / "c.txt").write_text(HEALTH, encoding="utf-8")
    scan(settings, engine, minutes=10)
    publish(settings, engine)
    later = {e.title: e.updated for e in parse(settings, "all.atom").entries}
    assert later == first | {"Clinic opens for new arrivals": "2024-04-02T00:00:02+00:00"}
    assert atom_problems((settings.output_dir / "all.atom").read_bytes()) == []


UNDATED = """Volunteers train in first aid

A measles vaccination campaign for migrants began in Misrata, with health workers screening \
children for measles and tuberculosis in the city's clinics.
"""


def test_a_release_dated_by_its_file_is_marked_and_never_the_newest(
    settings: Settings, engine: Engine
) -> None:
    (settings.content_dir / "health.txt").write_text(HEALTH, encoding="utf-8")
    (settings.content_dir / "undated.txt").write_text(UNDATED, encoding="utf-8")
    scan(settings, engine)
    publish(settings, engine)
    entries = parse(settings, "all.atom").entries
    assert [e.title for e in entries] == [
        "Clinic opens for new arrivals",
        "Volunteers train in first aid",
    ]  # the file's time is later than 2024, yet the dated release comes first
    assert "date from the file" in entries[1].content[0].value
    assert "date from the file" not in entries[0].content[0].value
    index = (settings.output_dir / "index.html").read_text(encoding="utf-8")
    line = next(x for x in index.splitlines() if "Volunteers train in first aid" in x)
    assert "(date from the file)" in line
    json_items = json.loads((settings.output_dir / "all.json").read_bytes())["items"]
    assert [i["_pressfeed"]["date_inferred"] for i in json_items] == [False, True]
