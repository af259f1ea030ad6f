"""The full-text index on a real SQLite file: what it finds, and that it stays in step with the
releases as they are saved, corrected, withdrawn and deleted."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterator, Sequence

import httpx
import lxml.html
import pytest
from sqlalchemy import Connection, Engine, func, select, text

from pressfeed import store
from pressfeed.config import load_settings
from pressfeed.digest import send_due_digests
from pressfeed.errors import SearchTimeoutError
from pressfeed.feeds import feed_formats
from pressfeed.models import Release, Settings
from pressfeed.query import MAX_LENGTH, MAX_TERMS, parse_query
from pressfeed.scan import scan_content
from pressfeed.search import search_index
from pressfeed.site import stable_id
from pressfeed.subscriptions import Choice, add_subscriber, subscriber_from
from pressfeed.web import search as web_search
from pressfeed.web.static import FEED_CACHE
from tests.conftest import NOW, drop_outbox_claims, write_settings
from tests.feedcheck import W3C_SOURCE, atom_problems, rss_problems, w3c_problems
from tests.smtp_servers import Received, SmtpServer, smtp_sink
from tests.test_digest_delivery import SIGNED_UP, by_recipient, smtp, with_news
from tests.test_store import make_release
from tests.test_web import Served, parse_feed, served, serving

__all__ = ["served", "smtp_sink"]  # fixtures, used below by name

T0 = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
T1 = T0 + dt.timedelta(hours=1)

TOPICS = ("health", "libya", "sea-rescue")


def save(engine: Engine, releases: Sequence[Release], now: dt.datetime = T0) -> None:
    with engine.begin() as connection:
        previous = store.releases_by_id(connection, [r.id for r in releases])
        store.save_releases(connection, [(r, r.paragraphs[0]) for r in releases], previous, now)


def found(engine: Engine, text: str, *, ranked: bool = False, limit: int = 50) -> list[str]:
    with store.snapshot(engine) as connection:
        return search_index(connection).search(parse_query(text, TOPICS), limit, ranked=ranked)


def indexed_ids(connection: Connection) -> list[str]:
    """The releases the full-text index holds, SQLite's or PostgreSQL's."""
    if connection.dialect.name == "postgresql":
        column = store.search_vectors.c.release_id
    else:
        column = store.search_docs.c.release_id
        rows = connection.execute(select(func.count()).select_from(store.search_text)).scalar()
        assert rows == connection.execute(select(func.count(column))).scalar()
    return sorted(connection.execute(select(column)).scalars())


def indexed(connection: Connection) -> int:
    return len(indexed_ids(connection))


CORPUS = (
    make_release(
        "tripoli",
        "Return flights from Libya resumed for 150 migrants in Tripoli.",
        title="Return flights resume",
        date=dt.date(2024, 3, 20),
    ),
    make_release(
        "benghazi",
        "A clinic opened in Bénghazi, Libya (Libyé en français), for new arrivals.",
        title="Clinic opens",
        place="Bénghazi",
        date=dt.date(2024, 5, 2),
    ),
    make_release(
        "boat",
        "Sixty survivors of a boat off Libya were brought ashore by the rescue ship.",
        title="Rescue ship waits",
        date=dt.date(2023, 8, 1),
    ),
    make_release(
        "flights",
        "Flights from Niger carried migrants home; return was voluntary.",
        title="Niger flights",
        date=dt.date(2024, 1, 10),
    ),
)


@pytest.fixture
def corpus(engine: Engine) -> Engine:
    save(engine, CORPUS)
    with engine.begin() as connection:
        store.set_topics(
            connection,
            {
                "tripoli": {"libya": 9.0},
                "benghazi": {"health": 7.0, "libya": 6.0},
                "boat": {"sea-rescue": 8.0, "libya": 6.5},
            },
        )
    return engine


def test_every_word_must_match_in_any_field(corpus: Engine) -> None:
    assert found(corpus, "migrants flights") == ["tripoli", "flights"]
    assert found(corpus, "migrants flights tripoli") == ["tripoli"]
    assert found(corpus, "ship waits survivors") == ["boat"]  # headline and body together


def test_a_phrase_matches_its_words_next_to_each_other_in_order(corpus: Engine) -> None:
    assert found(corpus, '"return flights"') == ["tripoli"]
    assert found(corpus, '"flights return"') == []
    assert set(found(corpus, "return flights")) == {"tripoli", "flights"}


def test_or_and_exclusions(corpus: Engine) -> None:
    assert found(corpus, "tripoli OR niger") == ["tripoli", "flights"]
    assert found(corpus, "libya -boat") == ["benghazi", "tripoli"]
    assert found(corpus, 'libya -"rescue ship"') == ["benghazi", "tripoli"]
    assert found(corpus, 'libya -"ship rescue"') == ["benghazi", "tripoli", "boat"]


def test_topic_and_date_filters(corpus: Engine) -> None:
    assert found(corpus, "topic:libya") == ["benghazi", "tripoli", "boat"]
    assert found(corpus, "topic:health OR topic:sea-rescue") == ["benghazi", "boat"]
    assert found(corpus, "topic:libya -topic:health") == ["tripoli", "boat"]
    assert found(corpus, "migrants -topic:libya") == ["flights"]
    assert found(corpus, "after:2024-01-10") == ["benghazi", "tripoli"]  # the 10th is not after
    assert found(corpus, "before:2024-03-20 after:2023-08-01") == ["flights"]


def test_case_and_accents_do_not_count(corpus: Engine) -> None:
    assert found(corpus, "BENGHAZI") == ["benghazi"]
    assert found(corpus, "libye") == ["benghazi"]
    assert found(corpus, "Libyé") == ["benghazi"]
    assert found(corpus, "bénghazi") == ["benghazi"]


def test_punctuation_in_a_word_is_not_query_syntax(corpus: Engine) -> None:
    assert found(corpus, "home; voluntary.") == ["flights"]
    assert found(corpus, "e-mail c++ 10% it's") == []  # FTS5 syntax, were it not quoted


def test_words_are_split_at_punctuation_as_in_the_text(corpus: Engine) -> None:
    save(corpus, [make_release("mail", "Write an e mail to the office’s desk.", title="Contacts")])
    assert found(corpus, "e-mail") == ["mail"]
    assert found(corpus, '"office s desk"') == ["mail"]
    assert found(corpus, "office’s") == ["mail"]


def test_a_release_with_no_body_is_found_by_its_headline(corpus: Engine) -> None:
    teaser = make_release("teaser", title="Teaser of a rescue in Lampedusa", paragraphs=())
    with corpus.begin() as connection:
        store.save_releases(connection, [(teaser, "h")], {}, T0)
    assert found(corpus, "lampedusa") == ["teaser"]


def test_ranked_puts_the_best_match_first_newest_otherwise(corpus: Engine) -> None:
    fillers = [
        make_release(
            f"filler{n}",
            f"Filler release {n} about other matters.",
            title="Other",
            date=dt.date(2020, 1, 1),
        )
        for n in range(20)
    ]  # bm25 needs a corpus where "flights" is rare
    save(corpus, fillers)
    assert found(corpus, "flights") == ["tripoli", "flights"]  # newest first
    assert found(corpus, "flights niger OR tripoli", ranked=True) == ["flights", "tripoli"]
    assert found(corpus, "voluntary OR ship") == ["flights", "boat"]
    assert found(corpus, "voluntary OR ship", ranked=True) == ["boat", "flights"]  # the title
    assert found(corpus, "migrants OR other", limit=3) == ["tripoli", "flights", "filler0"]


def test_a_correction_replaces_the_text_found(corpus: Engine) -> None:
    corrected = make_release(
        "tripoli",
        "Return flights from Libya resumed for 175 migrants in Misrata.",
        title="Return flights resume",
        date=dt.date(2024, 3, 20),
    )
    save(corpus, [corrected], T1)
    assert found(corpus, "tripoli") == []
    assert found(corpus, "misrata 175") == ["tripoli"]
    with corpus.connect() as connection:
        assert indexed(connection) == len(CORPUS)


def test_withdrawn_releases_leave_the_index_and_come_back_when_saved(corpus: Engine) -> None:
    with corpus.begin() as connection:
        store.withdraw_releases(connection, ["tripoli", "boat"], T1)
        assert indexed(connection) == len(CORPUS) - 2
    assert found(corpus, "libya") == ["benghazi"]
    assert found(corpus, "topic:libya") == ["benghazi"]  # the filters alone too
    save(corpus, [CORPUS[0]], T1)
    assert found(corpus, "libya") == ["benghazi", "tripoli"]


def test_deleted_releases_leave_the_index(corpus: Engine) -> None:
    with corpus.begin() as connection:
        connection.execute(text("DELETE FROM releases WHERE id = 'tripoli'"))
        assert indexed(connection) == len(CORPUS) - 1
        assert indexed_ids(connection) == ["benghazi", "boat", "flights"]
    assert found(corpus, "migrants") == ["flights"]


def test_the_version_moves_with_every_change_of_releases_and_topics(corpus: Engine) -> None:
    def version() -> int:
        with corpus.connect() as connection:
            return search_index(connection).version()

    before = version()
    found(corpus, "libya")
    assert version() == before
    save(corpus, [CORPUS[0]], T1)  # saved unchanged: still a write, and a new version
    after_save = version()
    assert after_save > before
    with corpus.begin() as connection:
        store.set_topics(connection, {"flights": {"health": 6.0}})
    after_topics = version()
    assert after_topics > after_save
    with corpus.begin() as connection:
        store.withdraw_releases(connection, ["flights"], T1)
    assert version() > after_topics


def test_matching_tells_which_of_some_releases_match(corpus: Engine) -> None:
    with corpus.connect() as connection:
        index = search_index(connection)
        query = parse_query("libya", TOPICS)
        assert index.matching(query, ["tripoli", "flights", "nope"]) == {"tripoli"}
        assert index.matching(query, []) == set()


def test_a_search_past_its_time_bound_stops(corpus: Engine) -> None:
    # Enough releases for the search to take many times PostgreSQL's shortest bound (1 ms).
    save(corpus, [make_release(f"more{n}", f"Migrants {n} in Libya.") for n in range(2000)])
    query = parse_query("libya OR migrants -boat", TOPICS)
    with corpus.connect() as connection:
        with pytest.raises(SearchTimeoutError, match="longer than 0 s"):
            search_index(connection, timeout=0.0).search(query, 50)
        # the connection is usable again, with no bound left behind
        assert len(search_index(connection).search(query, 50)) == 50


def drop_search(connection: Connection) -> None:
    """Take out what searching added to the schema (its tables, triggers and column) and what
    migrations after it added (the table of release links, the outbox's claims, PostgreSQL's
    own index, the index of update times)."""
    connection.execute(text("DROP INDEX releases_updated"))
    drop_outbox_claims(connection)
    connection.execute(text("DROP TABLE release_links"))
    if connection.dialect.name == "sqlite":
        triggers = connection.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'"))
        for name in list(triggers.scalars()):
            connection.execute(text(f"DROP TRIGGER {name}"))
        for table in ("search_text", "search_docs", "search_changes"):
            connection.execute(text(f"DROP TABLE {table}"))
    else:  # PostgreSQL's index, from a migration after those dropped here
        connection.execute(text("DROP TRIGGER releases_indexed ON releases"))
        connection.execute(text("DROP TRIGGER releases_changed ON releases"))
        connection.execute(text("DROP TRIGGER release_topics_changed ON release_topics"))
        for table in ("search_vectors", "search_changes"):
            connection.execute(text(f"DROP TABLE {table}"))
        for function in ("pressfeed_index_release()", "pressfeed_count_change()"):
            connection.execute(text(f"DROP FUNCTION {function}"))
        connection.execute(text("DROP FUNCTION pressfeed_fold(text)"))
    connection.execute(text("ALTER TABLE subscribers DROP COLUMN query"))


SEARCH_INDEX = store.MIGRATIONS.index(store._create_search_index)


def test_an_existing_database_gets_its_live_releases_indexed(corpus: Engine) -> None:
    with corpus.begin() as connection:
        store.withdraw_releases(connection, ["boat"], T1)
    with corpus.begin() as connection:
        drop_search(connection)
        connection.execute(text("UPDATE schema_version SET version = :v"), {"v": SEARCH_INDEX})
    url = corpus.url.render_as_string(hide_password=False)
    corpus.dispose()
    migrated = store.open_store(url)
    try:
        assert found(migrated, "libya") == ["benghazi", "tripoli"]
        assert found(migrated, "Libye") == ["benghazi"]
        save(migrated, [make_release("new", "Libya again.")], T1)  # the triggers are there
        assert "new" in found(migrated, "libya")
    finally:
        migrated.dispose()


# --- the search page and feeds, served over HTTP -------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One server shared by the tests that only search."""
    root = tmp_path_factory.mktemp("search")
    settings = load_settings(write_settings(root), environ={})
    engine = store.open_store(settings.database)
    try:
        with serving(settings, engine) as running:
            yield running
    finally:
        engine.dispose()


def release_id(served: Served, title: str) -> str:
    with served.engine.connect() as connection:
        return next(
            s.release.id for s in store.live_releases(connection) if s.release.title == title
        )


def feed_ids(served: Served, path: str, **headers: str) -> list[str]:
    response = served.client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    return [entry.id for entry in parse_feed(response.content).entries]


def ids_in(response: httpx.Response) -> list[str]:
    """The entry ids of a feed in any format: feedparser reads Atom and RSS, not JSON Feed."""
    if response.headers["content-type"].startswith("application/feed+json"):
        return [item["id"] for item in json.loads(response.content)["items"]]
    return [entry.id for entry in parse_feed(response.content).entries]


def entry_id(served: Served, title: str) -> str:
    return stable_id("release", release_id(served, title))


CLINIC = "Clinic opens for new arrivals"
SCREEN = "Health workers screen new arrivals for tuberculosis"
FLIGHTS = "Return flights from Libya resume"


def test_the_search_page_lists_the_releases_found_and_links_their_feeds(site: Served) -> None:
    response = site.client.get("search", params={"q": "new  arrivals"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    page = lxml.html.fromstring(response.text)
    found = [a.text for a in page.cssselect("ul.latest a")]
    assert sorted(found) == [CLINIC, SCREEN]  # the best match first: in the headline, twice
    assert found == [SCREEN, CLINIC]
    assert page.cssselect("h2")[0].text == "2 releases match"
    assert page.cssselect("input#q")[0].get("value") == "new  arrivals"  # as typed
    alternates = {
        link.get("type"): link.get("href") for link in page.cssselect('link[rel="alternate"]')
    }
    assert alternates == {
        f.media_type: f"{site.url}search{f.suffix}?q=arrivals+new"
        for f in feed_formats()  # normal form
    }


def test_the_search_page_without_a_query_is_the_form(site: Served) -> None:
    response = site.client.get("search")
    assert response.status_code == 200
    page = lxml.html.fromstring(response.text)
    assert page.cssselect('form[role="search"] input[name="q"]')
    assert not page.cssselect("ul.latest")


def test_each_feed_format_answers_a_search_newest_first(site: Served) -> None:
    for form in feed_formats():
        path = f"search{form.suffix}?q=arrivals"
        response = site.client.get(path)
        assert response.headers["content-type"] == form.content_type
        assert ids_in(response) == [entry_id(site, CLINIC), entry_id(site, SCREEN)]
        assert f"{site.url}search{form.suffix}?q=arrivals" in response.text.replace("&amp;", "&")


def test_a_search_feed_of_the_query_language(site: Served) -> None:
    assert feed_ids(site, 'search.atom?q="new arrivals" -clinic') == [entry_id(site, SCREEN)]
    assert feed_ids(site, "search.atom?q=libya OR tuberculosis") == [
        entry_id(site, FLIGHTS),
        entry_id(site, SCREEN),
    ]
    assert feed_ids(site, "search.atom?q=arrivals after:2024-03-02") == [entry_id(site, CLINIC)]
    assert feed_ids(site, "search.atom?q=topic:health -clinic") == [entry_id(site, SCREEN)]
    assert feed_ids(site, "search.atom?q=LIBYE OR libya") == [entry_id(site, FLIGHTS)]


def test_a_feed_names_its_search_in_the_normal_form(site: Served) -> None:
    one = parse_feed(site.client.get("search.atom?q=Tuberculosis OR libya").content)
    other = parse_feed(site.client.get("search.atom?q=libya  OR tuberculosis").content)
    assert one.feed.id == other.feed.id == stable_id("search", "libya OR tuberculosis")


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ('"sea rescue', "unbalanced quote"),
        ("topic:nope", "unknown topic 'nope'"),
        ("after:2024-02-30", "bad date '2024-02-30'"),
        ("-libya", "the query only excludes"),
        ("x" * (MAX_LENGTH + 1), "characters long"),
        (" ".join(["x"] * (MAX_TERMS + 1)), "terms; at most"),
        ("", "the query is empty"),
    ],
)
def test_a_bad_query_is_400_saying_why(site: Served, query: str, reason: str) -> None:
    for form in feed_formats():
        response = site.client.get(f"search{form.suffix}", params={"q": query})
        assert response.status_code == 400
        assert response.headers["content-type"] == "text/plain; charset=utf-8"
        assert response.text.startswith("bad search query: ")
        assert reason in response.text
    if query:
        page = site.client.get("search", params={"q": query})
        assert page.status_code == 400
        alert = lxml.html.fromstring(page.text).cssselect("#q-error")[0].text_content()
        assert reason in alert
        assert 'aria-invalid="true"' in page.text


def test_a_search_answers_304_to_its_etag(site: Served) -> None:
    for path in ("search.atom?q=arrivals", "search.json?q=arrivals", "search?q=arrivals"):
        first = site.client.get(path)
        etag = first.headers["etag"]
        assert first.headers["cache-control"] == FEED_CACHE
        again = site.client.get(path, headers={"If-None-Match": etag})
        assert again.status_code == 304, path
        assert again.headers["etag"] == etag
        assert site.client.get(path, headers={"If-None-Match": '"other"'}).status_code == 200


def test_a_change_of_the_releases_changes_the_answer(served: Served) -> None:
    path = "search.atom?q=arrivals"
    first = served.client.get(path)
    etag = first.headers["etag"]
    assert served.client.get(path, headers={"If-None-Match": etag}).status_code == 304
    content = served.settings.content_dir
    (content / "more.txt").write_text(
        "Shelter opens for new arrivals\n\nLampedusa, 5 April 2024 – A shelter for new arrivals"
        " opened on the island.\n",
        encoding="utf-8",
    )
    (content / "health.txt").unlink()  # the clinic is withdrawn
    scan_content(served.settings, served.engine, now=NOW + dt.timedelta(hours=1))
    changed = served.client.get(path, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    titles = [e.title for e in parse_feed(changed.content).entries]
    assert titles == ["Shelter opens for new arrivals", SCREEN]


def test_a_search_past_its_time_bound_is_503(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    many = [make_release(f"more{n}", f"Migrants {n} arrived in Libya.") for n in range(2000)]
    save(served.engine, many)
    monkeypatch.setattr(web_search, "SEARCH_SECONDS", 0.0)
    for path in ("search.atom?q=libya OR migrants", "search?q=libya OR migrants"):
        response = served.client.get(path)
        assert response.status_code == 503
        assert response.headers["retry-after"] == str(web_search.RETRY_AFTER)
        assert "the search took longer than 0 s and was stopped" in response.text


# --- following a search by mail -----------------------------------------------------------------


def follow(engine: Engine, settings: Settings, address: str, query: str, topics: str = "") -> None:
    choice = Choice(address, topics, query=query)
    add_subscriber(engine, subscriber_from(choice, settings, now=SIGNED_UP, confirmed=True))


def titles_mailed(received: Received) -> list[str]:
    body = received.message.get_body(("plain",))
    assert body is not None
    text_part = body.get_content()
    news = ["Clinic opens for new arrivals", "Rescue ship waits for a safe port with 75 survivors"]
    return [title for title in news if title in text_part]


def test_a_saved_search_picks_the_releases_of_a_digest(
    settings: Settings, engine: Engine, smtp_sink: SmtpServer
) -> None:
    with_news(settings, engine)  # news: the clinic (health) and the rescue of 75 (sea rescue)
    follow(engine, settings, "ana@example.org", "clinic")
    follow(engine, settings, "bo@example.org", "survivors OR tuberculosis")  # the latter is old
    follow(engine, settings, "cy@example.org", "rescue", topics="health")  # both: none
    follow(engine, settings, "di@example.org", "")  # everything
    report = send_due_digests(settings, engine, now=NOW, transport=smtp(smtp_sink, settings))
    assert (report.planned, report.empty, report.delivery.sent) == (3, 1, 3)
    mails = by_recipient(smtp_sink.wait_for(3))
    assert titles_mailed(mails["ana@example.org"]) == ["Clinic opens for new arrivals"]
    assert titles_mailed(mails["bo@example.org"]) == [
        "Rescue ship waits for a safe port with 75 survivors"
    ]
    assert len(titles_mailed(mails["di@example.org"])) == 2
    text_part = mails["ana@example.org"].message.get_body(("plain",))
    assert text_part is not None
    assert "every topic, releases matching “clinic”" in text_part.get_content()

    again = send_due_digests(settings, engine, now=NOW, transport=smtp(smtp_sink, settings))
    assert (again.planned, again.delivery.sent) == (0, 0)  # nothing twice


def test_a_saved_search_that_cannot_run_keeps_the_period_open(
    settings: Settings, engine: Engine, smtp_sink: SmtpServer
) -> None:
    with_news(settings, engine)
    follow(engine, settings, "ana@example.org", "clinic OR survivors")
    with engine.begin() as connection:  # as if the topic it names left the topics file
        ana = store.subscriber_by_address(connection, "ana@example.org")
        assert ana is not None
        store.save_subscriber(connection, dataclasses.replace(ana, query="topic:gone clinic"))
    report = send_due_digests(settings, engine, now=NOW, transport=smtp(smtp_sink, settings))
    assert (report.planned, report.empty) == (0, 0)
    with engine.begin() as connection:
        ana = store.subscriber_by_address(connection, "ana@example.org")
        assert ana is not None
        assert ana.covered_until is None
        store.save_subscriber(connection, dataclasses.replace(ana, query="clinic OR survivors"))
    later = NOW + dt.timedelta(days=1)
    report = send_due_digests(settings, engine, now=later, transport=smtp(smtp_sink, settings))
    assert report.planned == 1
    (mail,) = smtp_sink.wait_for(1)
    assert len(titles_mailed(mail)) == 2  # what arrived while it could not run: not lost


def test_the_manage_page_saves_a_search_or_says_what_is_wrong_with_it(served: Served) -> None:
    subscriber = served.confirmed_subscriber("ana@example.org", "health")
    page = lxml.html.fromstring(
        served.client.get("subscription", params={"token": subscriber.token}).text
    )
    assert page.xpath("//input[@id='query']/@value") == [""]
    assert page.xpath("//a[.='The search page']/@href") == [f"{served.url}search"]
    sent = {"token": subscriber.token, "topics": ["health"], "frequency": "daily"}
    saved = served.client.post("subscription", data={**sent, "query": ' clinic  -"sea rescue" '})
    assert saved.status_code == 200
    after = served.subscriber("ana@example.org")
    assert after is not None
    assert after.query == 'clinic -"sea rescue"'
    shown = lxml.html.fromstring(saved.text)
    assert shown.xpath("//input[@id='query']/@value") == ['clinic -"sea rescue"']

    refused = served.client.post("subscription", data={**sent, "query": "topic:nope"})
    assert refused.status_code == 400
    assert served.subscriber("ana@example.org") == after
    page = lxml.html.fromstring(refused.text)
    (error,) = page.xpath("//*[@id='query-error']")
    assert "unknown topic 'nope'" in error.text_content()
    assert page.xpath("//input[@id='query']/@value") == ["topic:nope"]
    assert page.xpath("//input[@id='query']/@aria-invalid") == ["true"]

    cleared = served.client.post("subscription", data={**sent, "query": ""})
    assert cleared.status_code == 200
    assert served.subscriber("ana@example.org").query == ""  # type: ignore[union-attr]


def test_search_feeds_pass_the_feed_checks(site: Served) -> None:
    for form, problems in (("atom", atom_problems), ("rss", rss_problems)):
        path = f"search.{form}?q=arrivals+OR+libya+-boat"
        body = site.client.get(path).content
        assert problems(body, f"search.{form}") == [], form
        if (W3C_SOURCE / "src").is_dir():
            assert w3c_problems(body, site.url + path) == [], form
