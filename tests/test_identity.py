"""Release ids, text hashes and merging the versions of one release."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from pressfeed.identity import (
    adopt_id,
    adopt_ids,
    merge_versions,
    release_id,
    text_hash,
    title_key,
)
from pressfeed.models import DateKind, Release

TITLE = "Shipwreck off Lampedusa: 40 people missing"
DAY = dt.date(2023, 1, 3)


def version(
    *paragraphs: str,
    title: str = TITLE,
    date: dt.date = DAY,
    kind: DateKind = DateKind.STATED,
    place: str | None = None,
    contacts: tuple[str, ...] = (),
    source: str = "a.txt",
) -> Release:
    stated = None if kind is DateKind.FILE_TIME else date
    return Release(
        id=release_id(title, stated),
        title=title,
        title_derived=False,
        date=date,
        date_kind=kind,
        place=place,
        paragraphs=paragraphs or ("Forty people are missing after a boat sank.",),
        contacts=contacts,
        source=source,
        position=0,
    )


# --- title_key ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "again"),
    [
        ("IOM Welcomes Malta's Decision", "iom welcomes MALTA'S decision"),
        ("IOM Welcomes Malta’s Decision", "IOM Welcomes Malta's Decision"),
        ("“Safe harbour” needed", '"Safe harbour" needed'),
        ("Safe harbour needed!", "Safe harbour needed"),
        ("Rescue – 40 saved: a report", "Rescue - 40 saved, a report."),
        ("  Rescue   at\tsea ", "Rescue at sea"),
        ("ＩＯＭ ｒｅｓｃｕｅ", "IOM rescue"),  # full-width letters (NFKC)
        ("Eﬃcient ﬁeld teams", "Efficient field teams"),  # ligatures (NFKC)
        ("Straße", "STRASSE"),  # casefold, not lower
    ],
)
def test_title_key_matches_the_same_headline_typed_differently(typed: str, again: str) -> None:
    assert title_key(typed) == title_key(again)


def test_title_key_is_lower_case_words_separated_by_single_spaces() -> None:
    assert title_key("IOM: “Safe Harbour” – Now!") == "iom safe harbour now"


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("40 people missing", "41 people missing"),
        ("Rescue in Malta", "Rescue in Italy"),
        ("Talks in Malta", "Talks on Malta"),
    ],
)
def test_title_key_tells_different_headlines_apart(one: str, other: str) -> None:
    assert title_key(one) != title_key(other)


# --- release_id ---------------------------------------------------------------------------------


def test_release_id_is_pinned() -> None:
    # A literal on purpose: changing the id scheme renames every stored release and feed entry.
    assert release_id(TITLE, DAY) == "204fbf2ac571523f"
    assert release_id(TITLE, None) == "a429dc240bff2104"


def test_release_id_is_sixteen_hex_digits() -> None:
    rid = release_id(TITLE, DAY)
    assert len(rid) == 16
    assert int(rid, 16) >= 0


def test_release_id_ignores_how_the_headline_was_typed() -> None:
    assert release_id("SHIPWRECK off Lampedusa – 40 people missing!", DAY) == release_id(TITLE, DAY)


def test_release_id_differs_by_date() -> None:
    ids = {release_id(TITLE, DAY), release_id(TITLE, DAY.replace(day=4)), release_id(TITLE, None)}
    assert len(ids) == 3


def test_release_id_differs_by_headline() -> None:
    assert release_id(TITLE, DAY) != release_id("Shipwreck off Malta: 40 people missing", DAY)


def test_teaser_and_full_text_share_an_id() -> None:
    teaser = version("Forty people are missing after a boat sank. Read more")
    full = version("Forty people are missing after a boat sank.", "Survivors were taken ashore.")
    assert teaser.id == full.id


# --- text_hash ----------------------------------------------------------------------------------


def test_text_hash_is_sha256_hex() -> None:
    digest = text_hash(version())
    assert len(digest) == 64
    assert int(digest, 16) >= 0


def test_text_hash_changes_with_the_text() -> None:
    base = version("One.", "Two.", contacts=("press@example.org",))
    changed = [
        replace(base, title="Shipwreck off Lampedusa: 41 people missing"),
        replace(base, paragraphs=("One.", "Two!")),
        replace(base, paragraphs=("One.", "Two.", "Three.")),
        replace(base, paragraphs=("Two.", "One.")),
        replace(base, contacts=("media@example.org",)),
        replace(base, contacts=()),
    ]
    hashes = {text_hash(base), *(text_hash(r) for r in changed)}
    assert len(hashes) == len(changed) + 1


def test_text_hash_tells_a_paragraph_from_a_contact() -> None:
    as_paragraph = version("One.", "press@example.org")
    as_contact = version("One.", contacts=("press@example.org",))
    assert text_hash(as_paragraph) != text_hash(as_contact)


def test_text_hash_ignores_date_source_and_position() -> None:
    base = version("One.", "Two.")
    moved = replace(
        base,
        date=dt.date(2024, 5, 1),
        date_kind=DateKind.FILE_TIME,
        source="other/b.txt",
        position=3,
        place="Valletta",
    )
    assert text_hash(moved) == text_hash(base)


# --- merge_versions -----------------------------------------------------------------------------


def test_merge_keeps_the_fullest_body() -> None:
    teaser = version("Forty people are missing.", source="listing.txt")
    full = version("Forty people are missing.", "Survivors were taken ashore.", source="full.txt")
    merged = merge_versions([teaser, full])
    assert merged.paragraphs == full.paragraphs
    assert merged.source == "full.txt"
    assert merge_versions([full, teaser]).paragraphs == full.paragraphs


def test_merge_takes_the_first_of_equally_full_versions() -> None:
    first = version("Forty people are missing.", source="a.txt")
    second = version("Forty people are missing!", source="b.txt")
    assert merge_versions([first, second]).source == "a.txt"
    assert merge_versions([second, first]).source == "b.txt"


def test_merge_prefers_a_stated_date_over_a_file_time() -> None:
    full = version("Long text.", "More text.", date=dt.date(2024, 6, 1), kind=DateKind.FILE_TIME)
    dated = version("Short.", date=DAY, kind=DateKind.STATED)
    merged = merge_versions([full, dated])
    assert (merged.date, merged.date_kind) == (DAY, DateKind.STATED)
    assert merged.paragraphs == full.paragraphs


def test_merge_prefers_a_stated_year_over_an_inferred_one() -> None:
    inferred = version("Long text.", "More.", date=DAY, kind=DateKind.YEAR_INFERRED)
    stated = version("Short.", date=DAY, kind=DateKind.STATED)
    merged = merge_versions([inferred, stated])
    assert merged.date_kind is DateKind.STATED
    assert merged.paragraphs == inferred.paragraphs


def test_merge_keeps_an_inferred_year_over_a_file_time() -> None:
    file_time = version("Long text.", "More.", date=dt.date(2024, 6, 1), kind=DateKind.FILE_TIME)
    inferred = version("Short.", date=DAY, kind=DateKind.YEAR_INFERRED)
    merged = merge_versions([file_time, inferred])
    assert (merged.date, merged.date_kind) == (DAY, DateKind.YEAR_INFERRED)


def test_merge_of_undated_versions_keeps_the_fullest_file_time() -> None:
    short = version("Short.", date=dt.date(2024, 1, 1), kind=DateKind.FILE_TIME)
    full = version("Long text.", "More.", date=dt.date(2024, 6, 1), kind=DateKind.FILE_TIME)
    merged = merge_versions([short, full])
    assert (merged.date, merged.date_kind) == (dt.date(2024, 6, 1), DateKind.FILE_TIME)


def test_merge_fills_place_and_contacts_from_other_versions() -> None:
    full = version("Long text.", "More text.", place=None, contacts=())
    with_place = version("Short.", place="Valletta", source="b.txt")
    with_contacts = version("Short.", contacts=("press@example.org",), source="c.txt")
    with_more = version("Short.", contacts=("a@example.org", "+356 1234"), source="d.txt")
    merged = merge_versions([full, with_place, with_contacts, with_more])
    assert merged.place == "Valletta"
    assert merged.contacts == ("a@example.org", "+356 1234")
    assert merged.paragraphs == full.paragraphs


def test_merge_keeps_the_fullest_versions_own_place_and_contacts() -> None:
    full = version("Long text.", "More.", place="Rome", contacts=("rome@example.org",))
    other = version("Short.", place="Valletta", contacts=("a@example.org", "b@example.org"))
    merged = merge_versions([other, full])
    assert (merged.place, merged.contacts) == ("Rome", ("rome@example.org",))


def test_merge_of_one_version_is_that_version() -> None:
    only = version("Text.", place="Rome", contacts=("rome@example.org",))
    assert merge_versions([only]) == only


# --- adopting the id of a namesake --------------------------------------------------------------


def test_undated_full_text_joins_the_dated_teaser() -> None:
    teaser = version()
    full = version("Full text.", kind=DateKind.FILE_TIME, date=dt.date(2026, 1, 1))
    assert full.id != teaser.id
    assert adopt_id(full, [(teaser.id, DAY)]).id == teaser.id


def test_dated_teaser_joins_the_undated_full_text_stored_first() -> None:
    full = version("Full text.", kind=DateKind.FILE_TIME, date=dt.date(2026, 1, 1))
    assert adopt_id(version(), [(full.id, None)]).id == full.id


def test_namesake_with_another_date_is_another_release() -> None:
    older = version(date=dt.date(2019, 1, 3))
    assert adopt_id(version(), [(older.id, older.date)]).id == version().id


def test_ambiguous_namesakes_leave_the_id_alone() -> None:
    undated = version(kind=DateKind.FILE_TIME)
    known = [("a" * 16, dt.date(2019, 1, 3)), ("b" * 16, dt.date(2020, 1, 3))]
    assert adopt_id(undated, known) == undated


def test_derived_titles_never_adopt() -> None:
    derived = replace(version(kind=DateKind.FILE_TIME), title_derived=True)
    assert adopt_id(derived, [("a" * 16, DAY)]) == derived


def test_adopt_ids_lets_releases_of_one_scan_find_each_other() -> None:
    full = version("Full text.", kind=DateKind.FILE_TIME, date=dt.date(2026, 1, 1))
    other_year = version(date=dt.date(2019, 1, 3))
    namesakes: dict[str, list[tuple[str, dt.date | None]]] = {}
    placed = adopt_ids([full, version(), other_year], namesakes)
    assert [r.id for r in placed] == [full.id, full.id, other_year.id]
    # the undated story took the teaser's date, so another year's namesake stays apart
    assert namesakes[title_key(TITLE)] == [(full.id, DAY), (other_year.id, other_year.date)]
