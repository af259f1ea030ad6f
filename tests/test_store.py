"""The store on a real SQLite file: migrations, pragmas, releases and their history."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from pressfeed import store
from pressfeed.errors import StoreError
from pressfeed.models import DateKind, FileRecord, Release, StoredRelease, TopicReason

T0 = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
T1 = T0 + dt.timedelta(hours=1)


def make_release(rid: str = "r1", body: str = "Geneva – Text.", **changes: object) -> Release:
    values: dict[str, object] = {
        "id": rid,
        "title": "A headline",
        "title_derived": False,
        "date": dt.date(2026, 1, 1),
        "date_kind": DateKind.STATED,
        "place": "Geneva",
        "paragraphs": (body,),
        "contacts": (),
        "source": "a.txt",
        "position": 0,
    }
    values.update(changes)
    return Release(**values)  # type: ignore[arg-type]


def test_fresh_database_is_migrated_to_the_latest_version(engine: Engine) -> None:
    with engine.connect() as connection:
        assert store.schema_version(connection) == len(store.MIGRATIONS)


def test_reopening_does_not_migrate_again(engine: Engine, tmp_path: Path) -> None:
    url = str(engine.url)
    with engine.begin() as connection:
        store.save_files(connection, [FileRecord("a.txt", 1, 2, "x")])
    engine.dispose()
    again = store.open_store(url)
    with again.connect() as connection:
        assert store.file_records(connection) == {"a.txt": FileRecord("a.txt", 1, 2, "x")}
        assert store.schema_version(connection) == len(store.MIGRATIONS)
    again.dispose()


def test_files_asked_to_be_read_again_keep_their_hashes_until_saved(engine: Engine) -> None:
    with engine.begin() as connection:
        records = [FileRecord("a.txt", 1, 2, "x"), FileRecord("b.txt", 3, 4, "y")]
        store.save_files(connection, records)
        store.mark_files_to_read_again(connection)
        assert store.file_records(connection) == {
            "a.txt": FileRecord("a.txt", 1, 2, "x", reread=True),
            "b.txt": FileRecord("b.txt", 3, 4, "y", reread=True),
        }
        store.save_files(connection, [FileRecord("a.txt", 1, 2, "x")])
        assert store.file_records(connection)["a.txt"].reread is False


@pytest.mark.sqlite_only("the pragmas it sets")
def test_sqlite_runs_in_wal_mode_with_full_sync(engine: Engine) -> None:
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL


def test_database_directory_is_created(tmp_path: Path) -> None:
    engine = store.open_store(f"sqlite:///{tmp_path / 'deep' / 'er' / 'db.sqlite'}")
    engine.dispose()
    assert (tmp_path / "deep" / "er" / "db.sqlite").is_file()


def test_bad_url_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="not a database URL"):
        store.open_store("::nonsense::")


def save(engine: Engine, release: Release, hash_: str, now: dt.datetime) -> StoredRelease:
    with engine.begin() as connection:
        previous = store.releases_by_id(connection, [release.id])
        store.save_releases(connection, [(release, hash_)], previous, now)
        stored = store.release_by_id(connection, release.id)
    assert stored is not None
    return stored


def test_new_release_gets_arrival_and_update_times(engine: Engine) -> None:
    stored = save(engine, make_release(), "h1", T0)
    assert stored.first_seen == T0
    assert stored.updated == T0
    assert stored.first_seen.tzinfo is not None
    assert stored.withdrawn_at is None


def test_updated_moves_only_when_the_text_changes(engine: Engine) -> None:
    save(engine, make_release(), "h1", T0)
    assert save(engine, make_release(), "h1", T1).updated == T0
    changed = save(engine, make_release(body="Longer."), "h2", T1)
    assert changed.updated == T1
    assert changed.first_seen == T0
    assert changed.release.paragraphs == ("Longer.",)


def test_naive_datetimes_are_refused(engine: Engine) -> None:
    with pytest.raises(Exception, match="naive datetime"):
        save(engine, make_release(), "h1", dt.datetime(2026, 1, 1))


def test_withdrawal_keeps_its_first_time_and_a_new_save_undoes_it(engine: Engine) -> None:
    save(engine, make_release(), "h1", T0)
    with engine.begin() as connection:
        store.withdraw_releases(connection, ["r1"], T0)
        store.withdraw_releases(connection, ["r1"], T1)
        assert store.release_count(connection) == 0
        assert store.release_count(connection, withdrawn=True) == 1
        withdrawn = store.release_by_id(connection, "r1")
    assert withdrawn is not None
    assert withdrawn.withdrawn_at == T0
    assert save(engine, make_release(), "h1", T1).withdrawn_at is None


def test_the_last_change_is_the_latest_save_or_withdrawal(engine: Engine) -> None:
    with engine.connect() as connection:
        assert store.last_change(connection) is None
    save(engine, make_release(), "h1", T0)
    save(engine, make_release("r2"), "h2", T1)
    with engine.begin() as connection:
        assert store.last_change(connection) == T1
        store.withdraw_releases(connection, ["r1"], T1 + dt.timedelta(hours=1))
        assert store.last_change(connection) == T1 + dt.timedelta(hours=1)


@pytest.mark.sqlite_only("SQLite's query plans")
def test_the_last_change_is_read_off_indexes_not_the_table(engine: Engine) -> None:
    """Every publish asks when the releases last changed: a scan of the table would cost it
    tens of milliseconds at 50,000 releases."""
    plans: list[str] = []
    with engine.connect() as connection:
        raw = connection.connection.dbapi_connection
        assert raw is not None
        statements: list[str] = []
        raw.set_trace_callback(statements.append)
        store.last_change(connection)
        raw.set_trace_callback(None)
        for statement in statements:
            if statement.lstrip().upper().startswith("SELECT"):
                found = raw.execute("EXPLAIN QUERY PLAN " + statement).fetchall()
                plans += [row[3] for row in found]
    assert plans
    assert all("INDEX" in plan for plan in plans), plans


def test_sources_are_replaced_per_file_and_report_affected_ids(engine: Engine) -> None:
    with engine.begin() as connection:
        two = [make_release("r1"), make_release("r2", position=1)]
        assert store.replace_sources(connection, {"a.txt": two}) == {"r1", "r2"}
        second = store.replace_sources(connection, {"a.txt": [make_release("r3")]})
        assert second == {"r1", "r2", "r3"}
        assert store.sources_of(connection, ["r1", "r3"]) == {"r3": [make_release("r3")]}


def test_versions_of_a_release_come_in_path_order(engine: Engine) -> None:
    teaser = make_release(source="b.txt")
    full = make_release(source="a.txt", body="Full text.")
    with engine.begin() as connection:
        store.replace_sources(connection, {"b.txt": [teaser], "a.txt": [full]})
        assert store.sources_of(connection, ["r1"]) == {"r1": [full, teaser]}


def test_sources_round_trip_every_field(engine: Engine) -> None:
    release = make_release(
        date_kind=DateKind.YEAR_INFERRED, place=None, contacts=("Jo, +41 22 000 00 00",)
    )
    with engine.begin() as connection:
        store.replace_sources(connection, {"a.txt": [release]})
        assert store.sources_of(connection, ["r1"]) == {"r1": [release]}


def test_live_releases_are_newest_first_with_topics(engine: Engine) -> None:
    save(engine, make_release("old", date=dt.date(2020, 1, 1)), "h", T0)
    save(engine, make_release("new", date=dt.date(2024, 1, 1)), "h", T0)
    with engine.begin() as connection:
        store.set_topics(connection, {"old": {"libya": 6.0, "health": 4.5}, "new": {}})
    with engine.connect() as connection:
        live = list(store.live_releases(connection))
    assert [s.release.id for s in live] == ["new", "old"]
    assert live[1].topics == ("health", "libya")
    assert live[0].topics == ()


def test_topics_keep_their_reasons(engine: Engine) -> None:
    save(engine, make_release("r1"), "h", T0)
    reason = TopicReason("libya", 7.5, (("Tripoli", "headline"), ("coast guard", "lead")))
    with engine.begin() as connection:
        store.set_topics(connection, {"r1": {"libya": reason, "health": 6.0}})
    with engine.connect() as connection:
        (stored,) = store.feed_releases(connection, "libya")
        assert store.releases_by_id(connection, ["r1"])["r1"] == stored
    assert stored.topics == ("health", "libya")
    assert stored.reasons == (TopicReason("health", 6.0), reason)  # a bare score: no reason


def test_a_release_signature_changes_with_whatever_its_page_shows(engine: Engine) -> None:
    save(engine, make_release("r1"), "h1", T0)
    save(engine, make_release("r2", position=1), "h1", T0)

    def signature() -> store.ReleaseSignature:
        with engine.connect() as connection:
            return store.release_signatures(connection, ["r1", "missing"])["r1"]

    seen = [signature()]
    assert signature() == seen[0]  # read again, nothing changed
    save(engine, make_release("r1", body="Geneva – Other text."), "h2", T1)
    seen.append(signature())
    save(engine, make_release("r1", body="Geneva – Other text.", place="Tripoli"), "h2", T1)
    seen.append(signature())
    steps: list[dict[str, dict[str, float | TopicReason]]] = [
        {"r1": {"libya": 6.0}},
        {"r1": {"libya": TopicReason("libya", 6.0, (("Tripoli", "headline"),))}},
        {"r1": {"libya": TopicReason("libya", 6.0, (("Tripoli", "lead"),))}},
        {"r2": {"health": 6.0}},  # another release's topics: r1's page is the same
    ]
    for scores in steps:
        with engine.begin() as connection:
            store.set_topics(connection, scores)
        seen.append(signature())
    assert not seen[-1].withdrawn
    with engine.begin() as connection:
        store.withdraw_releases(connection, ["r1"], T1)
    seen.append(signature())
    assert seen[-1].withdrawn
    assert len(set(seen)) == len(seen) - 1  # each change told apart; r2's left r1's alone
    assert seen[-2] == seen[-3]


def test_meta_values_are_replaced(engine: Engine) -> None:
    with engine.begin() as connection:
        assert store.meta_value(connection, "k") is None
        store.set_meta_value(connection, "k", "1")
        store.set_meta_value(connection, "k", "2")
        assert store.meta_value(connection, "k") == "2"


def test_a_version_one_database_is_migrated_and_backfilled(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE schema_version (version INTEGER NOT NULL)"))
        connection.execute(text("INSERT INTO schema_version VALUES (1)"))
        store.apply_migration(connection, store.MIGRATIONS[0])
        connection.execute(
            text(
                "INSERT INTO releases VALUES ('r1', 'Safe Harbour – Needed!', 0, '2026-01-01',"
                " 'stated', NULL, '[]', '[]', 'a.txt', 0, 'h', '2026-01-01 00:00:00',"
                " '2026-01-01 00:00:00', NULL)"
            )
        )
    engine.dispose()
    migrated = store.open_store(url)
    with migrated.connect() as connection:
        assert store.schema_version(connection) == len(store.MIGRATIONS)
        assert store.namesakes(connection, ["safe harbour needed"]) == {
            "safe harbour needed": [("r1", dt.date(2026, 1, 1))]
        }
    migrated.dispose()


def test_a_snapshot_reads_without_holding_writers_up(engine: Engine, tmp_path: Path) -> None:
    with engine.begin() as connection:
        store.mark_pending(connection, "feed", {"libya"})
    writer = store.open_store(str(engine.url), busy_timeout=0.2)
    with store.snapshot(engine) as reading:
        assert store.pending_keys(reading)["feed"] == {"libya"}
        with writer.begin() as connection:  # would wait, then fail, behind a write lock
            store.mark_pending(connection, "feed", {"health"})
        assert store.pending_keys(reading)["feed"] == {"libya"}  # one consistent state
    writer.dispose()
    with engine.connect() as connection:
        assert store.pending_keys(connection)["feed"] == {"libya", "health"}


def test_keys_marked_again_after_a_mark_stay_pending(engine: Engine) -> None:
    with engine.begin() as connection:
        store.mark_pending(connection, "feed", {"libya", "health"})
        mark = store.pending_mark(connection)
        store.mark_pending(connection, "feed", {"libya"})  # changed again meanwhile
        store.clear_pending(connection, {"feed": {"libya", "health"}}, up_to=mark)
        assert store.pending_keys(connection)["feed"] == {"libya"}
        store.clear_pending(connection, {"feed": {"libya"}})
        assert "feed" not in store.pending_keys(connection)
