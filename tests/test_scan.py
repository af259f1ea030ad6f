"""Scans over real files and a real SQLite store: ingest, rescan, merge, withdraw, bad files."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from pathlib import Path

import pytest
from sqlalchemy import Engine

from pressfeed import store
from pressfeed.config import load_settings
from pressfeed.errors import ContentDirectoryError
from pressfeed.models import Settings, StoredRelease
from pressfeed.scan import ScanReport, scan_content
from tests.conftest import NOW, write_settings

LISTING = """Home / News

Rescue ship waits for a safe port with 60 survivors on board

Valletta, 12 March 2024 – Sixty people rescued from a sinking rubber boat in the central \
Mediterranean are still waiting on board the rescue ship for a port of disembarkation.

Health workers screen new arrivals for tuberculosis

Rome, 2 March 2024 – Teams at the landing points screened 300 new arrivals for tuberculosis \
and other diseases and referred 12 patients to local hospitals for medical care.
"""

TEASER = """Council session ends with new members

Geneva – Member states closed the Council session by welcoming two new members. Read here
"""

FULL = """-
Who we are
WHO WE AREThe Organization works for orderly migration.
Council session ends with new members
Geneva – Member states closed the Council session by welcoming two new members.
The session also discussed the Global Compact for Migration and the next regional \
consultative process meetings, with ministers from forty states taking part.
For further information please contact
Ana Lopez, Tel: +41 22 717 9111, Email: alopez@example.org
"""


def later(engine: Engine, settings: Settings, minutes: int = 10) -> ScanReport:
    return scan_content(settings, engine, now=NOW + dt.timedelta(minutes=minutes))


def write(settings: Settings, name: str, text: str) -> Path:
    path = settings.content_dir / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def live(engine: Engine) -> dict[str, StoredRelease]:
    with engine.connect() as connection:
        return {s.release.title: s for s in store.live_releases(connection)}


def test_cold_scan_stores_each_release_with_its_topics(settings: Settings, engine: Engine) -> None:
    write(settings, "news/listing.txt", LISTING)
    report = scan_content(settings, engine, now=NOW)
    releases = live(engine)
    assert report.files_seen == 1
    assert report.added == 2
    rescue = releases["Rescue ship waits for a safe port with 60 survivors on board"]
    assert rescue.release.date == dt.date(2024, 3, 12)
    assert rescue.release.source == "news/listing.txt"
    assert rescue.topics == ("sea-rescue",)
    assert rescue.first_seen == NOW
    assert releases["Health workers screen new arrivals for tuberculosis"].topics == ("health",)


def test_rescan_of_unchanged_files_reads_nothing(settings: Settings, engine: Engine) -> None:
    write(settings, "listing.txt", LISTING)
    scan_content(settings, engine, now=NOW)
    report = later(engine, settings)
    assert (report.files_seen, report.files_read) == (1, 0)
    assert not report.changed


def test_touched_file_with_same_bytes_is_not_extracted_again(
    settings: Settings, engine: Engine
) -> None:
    path = write(settings, "listing.txt", LISTING)
    scan_content(settings, engine, now=NOW)
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    report = later(engine, settings)
    assert report.files_read == 0
    assert not report.changed


def test_changed_file_updates_its_release_and_keeps_arrival(
    settings: Settings, engine: Engine
) -> None:
    path = write(settings, "listing.txt", LISTING)
    scan_content(settings, engine, now=NOW)
    path.write_text(LISTING.replace("Sixty people", "Sixty-one people"), encoding="utf-8")
    report = later(engine, settings, minutes=5)
    title = "Rescue ship waits for a safe port with 60 survivors on board"
    rescue = live(engine)[title]
    assert report.updated == 1
    assert rescue.first_seen == NOW
    assert rescue.updated == NOW + dt.timedelta(minutes=5)
    assert "Sixty-one people" in rescue.release.paragraphs[0]


def test_teaser_and_full_text_are_one_release_with_the_fuller_body(
    settings: Settings, engine: Engine
) -> None:
    write(settings, "a-listing.txt", TEASER)
    write(settings, "b-full.txt", FULL)
    report = scan_content(settings, engine, now=NOW)
    releases = live(engine)
    assert report.added == 1
    council = releases["Council session ends with new members"]
    assert len(council.release.paragraphs) == 2
    assert council.release.source == "b-full.txt"
    assert council.release.contacts[-1].endswith("alopez@example.org")
    assert council.topics == ("governance",)


def test_release_falls_back_to_the_teaser_then_is_withdrawn_when_all_files_go(
    settings: Settings, engine: Engine
) -> None:
    teaser = write(settings, "a-listing.txt", TEASER)
    full = write(settings, "b-full.txt", FULL)
    scan_content(settings, engine, now=NOW)
    full.unlink()
    report = later(engine, settings)
    council = live(engine)["Council session ends with new members"]
    assert report.updated == 1
    assert council.release.source == "a-listing.txt"
    assert council.release.paragraphs[0].endswith("two new members.")  # "Read here" dropped
    teaser.unlink()
    report = later(engine, settings, minutes=20)
    assert report.withdrawn == 1
    assert live(engine) == {}


def test_release_dropped_from_a_changed_listing_is_withdrawn(
    settings: Settings, engine: Engine
) -> None:
    path = write(settings, "listing.txt", LISTING)
    scan_content(settings, engine, now=NOW)
    path.write_text(LISTING.split("Health workers")[0], encoding="utf-8")
    report = later(engine, settings)
    assert report.withdrawn == 1
    assert list(live(engine)) == ["Rescue ship waits for a safe port with 60 survivors on board"]


def test_withdrawn_release_comes_back_when_its_file_returns(
    settings: Settings, engine: Engine
) -> None:
    path = write(settings, "listing.txt", LISTING)
    scan_content(settings, engine, now=NOW)
    path.unlink()
    later(engine, settings)
    write(settings, "listing.txt", LISTING)
    report = later(engine, settings, minutes=20)
    assert report.added == 2
    assert len(live(engine)) == 2


def test_a_content_directory_that_goes_away_withdraws_nothing(
    settings: Settings, engine: Engine
) -> None:
    (settings.content_dir / "listing.txt").write_text(LISTING, encoding="utf-8")
    scan_content(settings, engine, now=NOW)
    settings.content_dir.rename(settings.content_dir.with_name("unmounted"))
    with pytest.raises(ContentDirectoryError, match="content directory not found"):
        scan_content(settings, engine, now=NOW)
    with engine.connect() as connection:
        assert store.release_count(connection) == 2


def test_bad_files_are_reported_by_name_and_the_rest_is_scanned(
    settings: Settings, engine: Engine
) -> None:
    write(settings, "good.txt", LISTING)
    (settings.content_dir / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    (settings.content_dir / "latin1.txt").write_bytes("Caf\xe9 cr\xe8me\n".encode("latin-1"))
    (settings.content_dir / "empty.md").write_bytes(b"")
    (settings.content_dir / "huge.txt").write_bytes(b"x" * (settings.max_file_bytes + 1))
    report = scan_content(settings, engine, now=NOW)
    problems = {str(p.path): p.reason for p in report.problems}
    assert set(problems) == {"binary.txt", "latin1.txt", "empty.md", "huge.txt"}
    assert "binary" in problems["binary.txt"]
    assert "UTF-8" in problems["latin1.txt"]
    assert "empty" in problems["empty.md"]
    assert "max_file_bytes" in problems["huge.txt"]
    assert report.added == 2


def test_a_file_that_turns_unreadable_keeps_its_releases(
    settings: Settings, engine: Engine
) -> None:
    path = write(settings, "listing.txt", LISTING)
    scan_content(settings, engine, now=NOW)
    path.write_bytes(LISTING.encode() + b"\xff\xfe broken")
    report = later(engine, settings)
    assert len(report.problems) == 1
    assert not report.withdrawn
    assert len(live(engine)) == 2


def test_fallback_encoding_reads_legacy_files(tmp_path: Path, engine: Engine) -> None:
    config = write_settings(tmp_path, 'fallback_encoding = "cp1252"\n')
    settings = load_settings(config, environ={})
    legacy = LISTING.replace("Sixty people", "Sixty people – “all safe”")
    (settings.content_dir / "legacy.txt").write_bytes(legacy.encode("cp1252"))
    report = scan_content(settings, engine, now=NOW)
    assert not report.problems
    rescue = live(engine)["Rescue ship waits for a safe port with 60 survivors on board"]
    assert "“all safe”" in "".join(rescue.release.paragraphs)


def test_changed_topics_reclassify_the_stored_releases(settings: Settings, engine: Engine) -> None:
    write(settings, "listing.txt", LISTING)
    scan_content(settings, engine, now=NOW)
    health = settings.topic("health")
    assert health is not None
    stricter = dataclasses.replace(health, threshold=1000.0)
    topics = tuple(stricter if t.slug == "health" else t for t in settings.topics)
    report = scan_content(dataclasses.replace(settings, topics=topics), engine, now=NOW)
    assert report.reclassified == 1
    assert live(engine)["Health workers screen new arrivals for tuberculosis"].topics == ()


def test_hidden_and_temporary_files_are_ignored(settings: Settings, engine: Engine) -> None:
    write(settings, ".draft.txt", LISTING)
    write(settings, "listing.txt.part", LISTING)
    write(settings, "notes.docx", LISTING)
    report = scan_content(settings, engine, now=NOW)
    assert report.files_seen == 0


def test_scan_of_the_seeds_stores_seventeen_releases(
    shared_dir: Path, tmp_path: Path, engine: Engine
) -> None:
    settings = load_settings(write_settings(tmp_path), environ={})
    settings = dataclasses.replace(settings, content_dir=shared_dir / "seeds")
    report = scan_content(settings, engine, now=NOW)
    assert report.added == 17
    assert not report.problems
    with engine.connect() as connection:
        assert store.release_count(connection) == 17


DATED_TEASER = """Council session ends with new members

Geneva, 30 November 2018 – Member states closed the Council session by welcoming two new members.
"""


def test_dated_teaser_and_undated_full_text_are_one_release(
    settings: Settings, engine: Engine
) -> None:
    write(settings, "a-listing.txt", DATED_TEASER)
    write(settings, "b-full.txt", FULL)
    report = scan_content(settings, engine, now=NOW)
    council = live(engine)["Council session ends with new members"]
    assert report.added == 1
    assert council.release.date == dt.date(2018, 11, 30)
    assert council.release.source == "b-full.txt"


def test_undated_full_text_scanned_first_then_dated_teaser_stay_one_release(
    settings: Settings, engine: Engine
) -> None:
    write(settings, "b-full.txt", FULL)
    scan_content(settings, engine, now=NOW)
    first_id = live(engine)["Council session ends with new members"].release.id
    write(settings, "a-listing.txt", DATED_TEASER)
    report = later(engine, settings)
    council = live(engine)["Council session ends with new members"]
    assert council.release.id == first_id  # a published id never changes
    assert council.release.date == dt.date(2018, 11, 30)
    assert report.added == 0
