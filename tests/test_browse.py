"""The pages people browse: a topic's page of its newest releases leading on to its archive
months, the archive index, and release pages linked to their topics and to the releases before
and after them; written as the feeds are, and only where a change shows."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import random
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from pressfeed import store
from pressfeed.config import load_settings
from pressfeed.feeds import feed_formats
from pressfeed.models import Settings
from pressfeed.publish import PublishReport, publish
from pressfeed.scan import scan_content
from tests.conftest import NOW, write_settings
from tests.test_pages import Node, parse
from tests.test_publish import HEALTH, UNDATED, outputs
from tests.test_web import serving

LENGTH = 2  # page_length here: a few releases are more than a topic's page shows


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[Settings, Engine]]:
    settings = load_settings(write_settings(tmp_path, f"page_length = {LENGTH}\n"), environ={})
    engine = store.open_store(settings.database)
    yield settings, engine
    engine.dispose()


def health(
    settings: Settings, day: int, month: str = "March", *, title: str = "", name: str = ""
) -> Path:
    """A health release dated `day` `month` 2024, in a file of its own (by default)."""
    headline = title or f"Clinic {month} {day} opens"
    text = HEALTH.replace("2 April", f"{day} {month}").replace("Clinic opens", headline)
    path = settings.content_dir / (name or f"health-{month}-{day}.txt")
    path.write_text(text, encoding="utf-8")
    return path


def undated(settings: Settings, name: str, when: dt.datetime, more: str = "") -> Path:
    """A release that prints no date: its file's time, `when`, stands in."""
    path = settings.content_dir / f"{name}.txt"
    text = UNDATED.replace("Volunteers train", f"Volunteers {name} train") + more
    path.write_text(text, "utf-8")
    os.utime(path, (when.timestamp(), when.timestamp()))
    return path


def update(settings: Settings, engine: Engine, step: int, *, full: bool = False) -> PublishReport:
    scan_content(settings, engine, now=NOW + dt.timedelta(minutes=step))
    return publish(settings, engine, full=full)


def page(settings: Settings, url: str) -> Node:
    """The page published at `url`, parsed."""
    assert url.startswith(settings.site_url), url
    path = url.removeprefix(settings.site_url)
    return parse(
        (settings.output_dir / (path + "index.html" if path.endswith("/") else path)).read_text()
    )


def pager(node: Node, rel: str) -> str | None:
    """Where the page's link with `rel` goes, in its navigation and in its head alike."""
    found = [a.attrs["href"] for nav in node.all("nav") for a in nav.all("a", rel=rel)]
    heads = [link.attrs["href"] for link in node.one("head").all("link", rel=rel)]
    assert len(found) <= 1, found
    if node.all("nav", **{"aria-label": "Releases before and after"}) == []:
        assert heads == found  # pages of releases carry their links in the head too
    return found[0] if found else None


def follow(settings: Settings, url: str, rel: str) -> list[tuple[str, Node]]:
    """The pages from `url` on, following `rel` links until there is none."""
    pages: list[tuple[str, Node]] = []
    next_url: str | None = url
    while next_url is not None:
        assert next_url not in [u for u, _ in pages], f"{next_url} twice"
        node = page(settings, next_url)
        pages.append((next_url, node))
        next_url = pager(node, rel)
    return pages


def browse(settings: Settings, url: str) -> tuple[list[str], list[str]]:
    """The headlines a topic's page at `url` lists, and those of the archive pages it leads to
    (the one its "Older releases" names, and every page before and after that), newest first."""
    first = page(settings, url)
    older = pager(first, "next")
    if older is None:
        return listed(first), []
    assert older.startswith(f"{settings.site_url}archive/"), older
    back = follow(settings, older, "prev")
    ahead = follow(settings, older, "next")[1:]
    pages = [node for _, node in reversed(ahead)] + [node for _, node in back]
    return listed(first), [title for node in pages for title in listed(node)]


def assert_reaches_every_release(settings: Settings, engine: Engine, slug: str) -> None:
    """A topic's page shows its newest releases; its older link goes to the archive page of the
    next one, and the archive pages hold every release once."""
    folder = "releases" if slug == "all" else f"topics/{slug}"
    shown, archived = browse(settings, f"{settings.site_url}{folder}/")
    order = feed_order(settings, engine, None if slug == "all" else slug)
    length = settings.page_length
    assert shown == order[:length]
    if len(order) > length:
        older = pager(page(settings, f"{settings.site_url}{folder}/"), "next") or ""
        assert order[length] in listed(page(settings, older))
    else:
        assert archived == []
        return
    assert sorted(archived) == sorted(order)


def listed(node: Node) -> list[str]:
    """The headlines a page of releases lists, in its order."""
    (items,) = node.all("ul", **{"class": "latest"})
    return [li.all("a")[0].text() for li in items.all("li")]


def feed_order(settings: Settings, engine: Engine, slug: str | None) -> list[str]:
    with engine.connect() as connection:
        return [h.title for h in store.feed_headlines(connection, slug)]


def changed_since(before: dict[str, int], after: dict[str, int]) -> set[str]:
    return {name for name in after if before.get(name) != after[name]}


@pytest.fixture
def seven(site: tuple[Settings, Engine]) -> tuple[Settings, Engine]:
    """Seven health releases in March 2024 and one undated, published."""
    settings, engine = site
    for day in range(1, 8):
        health(settings, day)
    undated(settings, "early", dt.datetime(2024, 1, 15, 12, tzinfo=dt.UTC))
    update(settings, engine, 0)
    return settings, engine


# --- a topic's pages ----------------------------------------------------------------------------


def test_a_topic_s_page_shows_its_newest_and_leads_on_to_every_older_release(
    seven: tuple[Settings, Engine],
) -> None:
    settings, engine = seven
    assert_reaches_every_release(settings, engine, "health")
    shown, archived = browse(settings, f"{settings.site_url}topics/health/")
    assert shown == [
        "Clinic March 7 opens for new arrivals",
        "Clinic March 6 opens for new arrivals",
    ]
    assert archived[-1] == "Volunteers early train in first aid"  # its file's month: January
    first = page(settings, f"{settings.site_url}topics/health/")
    assert first.one("p", **{"class": "count"}).text() == "The newest 2 of 8 releases"
    assert pager(first, "next") == f"{settings.site_url}archive/health/2024-03/"


def test_older_releases_is_the_page_of_a_busy_month_that_holds_the_next_one(
    tmp_path: Path,
) -> None:
    config = write_settings(tmp_path, f"page_length = {LENGTH}\narchive_length = 3\n")
    settings = load_settings(config, environ={})
    engine = store.open_store(settings.database)
    for day in range(1, 8):
        health(settings, day)  # March pages: 1-3, 4-6, 7
    update(settings, engine, 0)
    first = page(settings, f"{settings.site_url}topics/health/")
    older = pager(first, "next")
    assert older == f"{settings.site_url}archive/health/2024-03-2/"  # March 5 is on page 2
    assert listed(page(settings, older))[1] == "Clinic March 5 opens for new arrivals"
    assert_reaches_every_release(settings, engine, "health")
    engine.dispose()


def test_every_page_of_a_topic_offers_its_feeds_in_every_format(
    seven: tuple[Settings, Engine],
) -> None:
    settings, _ = seven
    feeds = {f"{settings.site_url}health{form.suffix}" for form in feed_formats()}
    first = f"{settings.site_url}topics/health/"
    archive = pager(page(settings, first), "next") or ""
    for url, node in [(first, page(settings, first)), *follow(settings, archive, "prev")]:
        main = node.one("main")
        assert feeds <= {a.attrs["href"] for a in main.all("a")}, url
        alternates = [link.attrs["href"] for link in node.one("head").all("link", rel="alternate")]
        assert alternates[0] == f"{settings.site_url}health.atom", url
        assert node.one("link", rel="canonical").attrs["href"] == url
        assert node.one("h1").text().startswith("Health"), url


def test_every_release_is_reached_from_releases(seven: tuple[Settings, Engine]) -> None:
    settings, engine = seven
    assert_reaches_every_release(settings, engine, "all")
    first = page(settings, f"{settings.site_url}releases/")
    assert f"{settings.site_url}all.atom" in {a.attrs["href"] for a in first.all("a")}


def test_the_index_links_each_topic_s_full_list(seven: tuple[Settings, Engine]) -> None:
    settings, _ = seven
    index = parse((settings.output_dir / "index.html").read_text())
    count = index.one("section", id="health").one("p", **{"class": "count"})
    (link,) = count.all("a")
    assert link.attrs["href"] == f"{settings.site_url}topics/health/"
    assert link.words().startswith("8 releases")
    assert len(listed(page(settings, link.attrs["href"]))) >= LENGTH
    every = index.one("section", id="all").links()["Every release, newest first"]
    assert every == f"{settings.site_url}releases/"


# --- release pages ------------------------------------------------------------------------------


def test_release_pages_lead_to_the_release_before_and_after_and_to_their_topics(
    seven: tuple[Settings, Engine],
) -> None:
    settings, engine = seven
    order = feed_order(settings, engine, None)
    newest = page(settings, f"{settings.site_url}releases/").all("ul", **{"class": "latest"})[0]
    start = newest.all("a")[0].attrs["href"]
    older = follow(settings, start, "prev")  # "previous" is the release before it in time
    assert [node.one("h1").text() for _, node in older] == order
    newer = follow(settings, older[-1][0], "next")
    assert [node.one("h1").text() for _, node in newer] == order[::-1]
    for url, node in older:
        topics = node.one("ul", **{"class": "topic-list"}).links()
        assert topics["Health"] == f"{settings.site_url}topics/health/", url


# --- archives -----------------------------------------------------------------------------------


def test_the_archive_index_lists_months_newest_first_with_counts(
    seven: tuple[Settings, Engine],
) -> None:
    settings, _ = seven
    archive = page(settings, f"{settings.site_url}archive/health/")
    months = archive.one("ul", **{"class": "latest months"}).all("li")
    assert [(li.all("a")[0].text(), li.one("span").text()) for li in months] == [
        ("March 2024", "7 releases"),
        ("January 2024", "1 release"),
    ]
    march = page(settings, months[0].all("a")[0].attrs["href"])
    assert march.one("h1").text() == "Health: March 2024"
    assert listed(march) == [
        f"Clinic March {day} opens for new arrivals" for day in range(7, 0, -1)
    ]
    assert pager(march, "prev") == f"{settings.site_url}archive/health/2024-01/"
    assert pager(march, "next") is None
    atom = march.one("main").links()["This page as an Atom archive"]
    assert (settings.output_dir / atom.removeprefix(settings.site_url)).is_file()
    january = page(settings, pager(march, "prev") or "")
    assert listed(january) == ["Volunteers early train in first aid"]
    assert pager(january, "next") == f"{settings.site_url}archive/health/2024-03/"


def test_a_busy_month_has_html_pages_as_its_atom_archive_does(tmp_path: Path) -> None:
    config = write_settings(tmp_path, "archive_length = 3\n")
    settings = load_settings(config, environ={})
    engine = store.open_store(settings.database)
    for day in range(1, 8):
        health(settings, day)
    update(settings, engine, 0)
    engine.dispose()
    archive = page(settings, f"{settings.site_url}archive/health/")
    (march,) = archive.one("ul", **{"class": "latest months"}).all("li")
    urls = [a.attrs["href"] for a in march.all("a")]
    base = f"{settings.site_url}archive/health/2024-03"
    assert urls == [f"{base}/", f"{base}/", f"{base}-2/", f"{base}-3/"]
    titles = [listed(page(settings, url)) for url in urls[1:]]
    clinics = [
        [f"Clinic March {day} opens for new arrivals" for day in days]
        for days in ([3, 2, 1], [6, 5, 4], [7])
    ]
    assert titles == clinics  # each page as the Atom page of that name holds it, newest first
    assert page(settings, urls[2]).one("h1").text() == "Health: March 2024, page 2"


def test_the_server_answers_the_addresses_that_were_not_found(
    settings: Settings, engine: Engine
) -> None:
    with serving(settings, engine) as served:
        for path in ("releases/", "archive/libya/", "topics/libya/", "archive/all/2024-03/"):
            answer = served.client.get(path)
            assert answer.status_code == 200, path
            assert answer.headers["content-type"] == "text/html; charset=utf-8"
            assert "<h1>" in answer.text
        # Without the slash, as nginx does: a redirect to the folder.
        answer = served.client.get("archive/libya")
        assert answer.is_redirect
        assert answer.headers["location"] == f"{served.url}archive/libya/"
        assert served.client.get("topics/nope/").status_code == 404


# --- writing only what changed ------------------------------------------------------------------


def test_a_release_dated_today_rewrites_the_first_page_and_its_neighbours_only(
    seven: tuple[Settings, Engine],
) -> None:
    settings, engine = seven
    before = outputs(settings)
    health(settings, 8)
    update(settings, engine, 1)
    after = outputs(settings)
    changed = changed_since(before, after)
    assert {n for n in changed if n.startswith("topics/")} == {"topics/health/index.html"}
    assert {n for n in changed if n.startswith("archive/health/")} == {
        "archive/health/2024-03.atom",
        "archive/health/2024-03/index.html",
        "archive/health/index.html",
    }
    health(settings, 9)
    update(settings, engine, 2)
    again = outputs(settings)
    changed = changed_since(after, again)
    assert {n for n in changed if n.startswith("topics/")} == {"topics/health/index.html"}
    # The new release's page, and the page of the one before it, which now has a next release.
    releases = {n for n in changed if re.fullmatch(r"releases/[0-9a-f]+\.html", n)}
    (new,) = {n for n in releases if n not in after}
    (neighbour,) = releases - {new}
    assert (
        "<h1>Clinic March 8 opens for new arrivals</h1>"
        in (settings.output_dir / neighbour).read_text()
    )


def test_whatever_changes_an_incremental_publish_leaves_a_full_one_nothing_to_do(
    seven: tuple[Settings, Engine],
) -> None:
    settings, engine = seven
    steps = [
        lambda: health(settings, 20),  # dated today
        lambda: health(settings, 9, "February"),  # dated in the past
        lambda: undated(settings, "late", dt.datetime(2024, 5, 1, tzinfo=dt.UTC)),
        lambda: undated(settings, "mid", dt.datetime(2024, 3, 1, tzinfo=dt.UTC)),
        # Under the same id, a new date: the releases it stood between are neighbours now.
        lambda: undated(settings, "early", dt.datetime(2024, 6, 1, tzinfo=dt.UTC), "\nMore.\n"),
        lambda: health(settings, 3, title="Clinic March 3 opens at last"),  # a new headline
        lambda: (settings.content_dir / "health-March-5.txt").unlink(),  # withdrawn
        lambda: (settings.content_dir / "health-March-1.txt").write_text(  # leaves the topic
            "Return flights from Libya resume\n\nTripoli, 1 March 2024 – Voluntary return "
            "flights from Libya resumed today for 150 migrants stranded in Tripoli.\n"
        ),
        lambda: [p.unlink() for p in sorted(settings.content_dir.glob("health-March-[2-7].txt"))],
    ]
    for number, step in enumerate(steps, start=1):
        step()
        update(settings, engine, number)
        before = outputs(settings)
        assert publish(settings, engine, full=True).removed == 0, f"step {number}"
        pages = {n for n in changed_since(before, outputs(settings)) if n.endswith(".html")}
        assert pages == set(), f"step {number}"
        assert_reaches_every_release(settings, engine, "health")


def test_a_release_dated_in_the_past_rewrites_its_month_not_the_newer_ones(
    seven: tuple[Settings, Engine],
) -> None:
    settings, engine = seven
    for month in ("April", "May", "June"):
        health(settings, 1, month)
    update(settings, engine, 1)
    before = outputs(settings)
    health(settings, 9, "February")
    update(settings, engine, 2)
    changed = {n for n in changed_since(before, outputs(settings)) if n.endswith(".html")}
    browsing = {n for n in changed if not re.fullmatch(r"releases/[0-9a-f]+\.html", n)}
    assert browsing == {
        "archive/health/2024-02/index.html",  # its month, new
        "archive/health/2024-03/index.html",  # links to the new month before it
        "archive/health/2024-01/index.html",  # and so does the month after it
        "archive/health/index.html",
        "archive/all/2024-02/index.html",
        "archive/all/2024-03/index.html",
        "archive/all/2024-01/index.html",
        "archive/all/index.html",
        "topics/health/index.html",  # its count
        "releases/index.html",
        "index.html",  # the counts on the front page
    }
    assert_reaches_every_release(settings, engine, "health")


@pytest.mark.parametrize("seed", range(3))
def test_random_arrivals_and_removals_keep_every_release_reachable(
    tmp_path: Path, seed: int
) -> None:
    """Dated and undated releases in any order, some removed, pages and archive pages of any
    size: after each incremental publish every release is reached, and a full publish finds
    every page as it would write it."""
    chance = random.Random(seed)
    length, archive = chance.randint(1, 4), chance.randint(1, 4)
    extra = f"page_length = {length}\narchive_length = {archive}\n"
    settings = load_settings(write_settings(tmp_path, extra), environ={})
    engine = store.open_store(settings.database)
    made = 0
    for step in range(1, 7):
        for _ in range(chance.randint(1, 4)):
            made += 1
            day, month = chance.randint(1, 28), chance.randint(1, 4)
            if chance.random() < 0.4:
                when = dt.datetime(2024, month, day, 12, tzinfo=dt.UTC)
                undated(settings, f"u{made}", when)
            else:
                name = ("January", "February", "March", "April")[month - 1]
                health(settings, day, name, title=f"Clinic {made} opens", name=f"h{made}.txt")
        if step > 3 and chance.random() < 0.5:
            chance.choice(sorted(settings.content_dir.glob("*.txt"))).unlink()
        update(settings, engine, step)
        for slug in ("health", "all"):
            assert_reaches_every_release(settings, engine, slug)
        before = outputs(settings)
        publish(settings, engine, full=True)
        changed = {n for n in changed_since(before, outputs(settings)) if n.endswith(".html")}
        assert changed == set(), f"step {step}"
    engine.dispose()


def test_numbered_pages_of_an_older_version_go_with_a_full_publish(
    seven: tuple[Settings, Engine],
) -> None:
    settings, engine = seven
    folder = settings.output_dir / "topics" / "health" / "page"
    for number in (1, 2):
        (folder / str(number)).mkdir(parents=True)
        (folder / str(number) / "index.html").write_text("<p>an older page</p>")
    assert publish(settings, engine, full=True).removed == 2  # the short path too
    assert not folder.exists()
    (folder / "3").mkdir(parents=True)
    (folder / "3" / "index.html").write_text("<p>an older page</p>")
    scan_content(settings, engine, now=NOW)
    assert publish(dataclasses.replace(settings, page_length=3), engine, full=True).removed == 1
    assert not folder.exists()


def test_a_new_page_length_lays_the_topic_page_out_again(seven: tuple[Settings, Engine]) -> None:
    settings, engine = seven
    longer = dataclasses.replace(settings, page_length=3)
    publish(longer, engine)
    first = page(longer, f"{settings.site_url}topics/health/")
    assert len(listed(first)) == 3
    older = pager(first, "next") or ""
    assert "Clinic March 4 opens for new arrivals" in listed(page(longer, older))


def test_a_dropped_topic_takes_its_pages_along(seven: tuple[Settings, Engine]) -> None:
    settings, engine = seven
    kept = tuple(t for t in settings.topics if t.slug != "health")
    update(dataclasses.replace(settings, topics=kept), engine, 1)
    assert not (settings.output_dir / "topics" / "health").exists()
    assert not (settings.output_dir / "archive" / "health").exists()
    assert (settings.output_dir / "releases" / "index.html").is_file()


# --- the store's light queries ------------------------------------------------------------------


def test_neighbours_walked_or_asked_one_by_one_agree(
    seven: tuple[Settings, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, engine = seven
    health(settings, 4, title="Second clinic of March 4 opens", name="second.txt")  # same date
    undated(settings, "later", dt.datetime(2024, 6, 1, tzinfo=dt.UTC))
    (settings.content_dir / "health-March-6.txt").unlink()
    update(settings, engine, 1)
    with engine.connect() as connection:
        ids = store.all_release_ids(connection)
        listed_ids = [h.id for h in store.feed_headlines(connection, None)]
        monkeypatch.setattr(store, "NEIGHBOUR_WALK", 0)
        walked = store.stream_neighbours(connection, ids)
        monkeypatch.setattr(store, "NEIGHBOUR_WALK", 10_000)
        asked = store.stream_neighbours(connection, ids)
    assert walked == asked
    expected = {
        rid: (
            listed_ids[at - 1] if at else None,
            listed_ids[at + 1] if at + 1 < len(listed_ids) else None,
        )
        for at, rid in enumerate(listed_ids)
    }
    assert {rid: asked[rid] for rid in listed_ids} == expected
    withdrawn = set(ids) - set(listed_ids)
    assert len(withdrawn) == 1
    (gone,) = withdrawn
    newer, older = asked[gone]  # where it stood: between March 7 and March 5
    assert (newer, older) == (listed_ids[0], listed_ids[1])
