"""The full-text index on a real SQLite file: what it finds, and that it stays in step with the
releases as they are saved, corrected, withdrawn and deleted."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pytest
from sqlalchemy import Connection, Engine, func, select, text

from pressfeed import store
from pressfeed.errors import SearchTimeoutError
from pressfeed.models import Release
from pressfeed.query import parse_query
from pressfeed.search import search_index
from tests.test_store import make_release

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


def indexed(connection: Connection) -> int:
    return int(connection.execute(select(func.count()).select_from(store.search_text)).scalar())


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
        docs = connection.execute(select(store.search_docs.c.release_id)).scalars()
        assert sorted(docs) == ["benghazi", "boat", "flights"]
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
    save(corpus, [make_release(f"more{n}", f"Migrants {n} in Libya.") for n in range(300)])
    query = parse_query("libya OR migrants -boat", TOPICS)
    with corpus.connect() as connection:
        with pytest.raises(SearchTimeoutError, match="longer than 0 s"):
            search_index(connection, timeout=0.0).search(query, 50)
        # the connection is usable again, with no bound left behind
        assert len(search_index(connection).search(query, 50)) == 50


def drop_search(connection: Connection) -> None:
    """Take out what searching added to the schema: its tables, triggers and column."""
    triggers = connection.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'"))
    for name in list(triggers.scalars()):
        connection.execute(text(f"DROP TRIGGER {name}"))
    for table in ("search_text", "search_docs", "search_changes"):
        connection.execute(text(f"DROP TABLE {table}"))
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
