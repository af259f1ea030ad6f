"""From a file to its releases: the configured publisher stands in where the page names none."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from pressfeed.classify import compile_rules
from pressfeed.models import FileRecord, FolderSource, Settings
from pressfeed.reading import Read, Reader, organisation_of, releases_of, same_bytes
from pressfeed.sources import SourceFile
from tests.conftest import NOW

UNSIGNED = """Mobile clinics vaccinate displaced children against measles

MAIDUGURI, 6 May 2024 – Mobile clinics vaccinated 4,000 displaced children against measles
and screened them for malnutrition and malaria this week.
"""
SIGNED = """<!doctype html><html><head>
<meta property="og:site_name" content="International Organization for Migration">
</head><body><article><h1>Rescue ship brings 80 migrants ashore in Sicily</h1>
<p>CATANIA, 4 May 2024 – A rescue ship disembarked 80 migrants in Catania, IOM said.</p>
</article></body></html>"""
SOURCES = (
    FolderSource("iom", "IOM"),
    FolderSource("iom/press/archive", "IOM archive"),
    FolderSource("iom/press", "IOM press office"),
    FolderSource("wire", ""),
)


def with_sources(settings: Settings) -> Settings:
    return dataclasses.replace(settings, organisation="Everyone", sources=SOURCES)


def content_file(settings: Settings, name: str, text: str = UNSIGNED) -> SourceFile:
    path = settings.content_dir / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    stat = path.stat()
    return SourceFile(path, name, stat.st_size, stat.st_mtime_ns)


def test_the_deepest_configured_folder_names_the_publisher(settings: Settings) -> None:
    cited = with_sources(settings)
    expected = {
        "iom/a.txt": "IOM",
        "iom/press/a.txt": "IOM press office",
        "iom/press/archive/2019/a.txt": "IOM archive",
        "iom/pressroom/a.txt": "IOM",  # "iom/press" is a folder, not a prefix of names
        "iomx/a.txt": "Everyone",
        "a.txt": "Everyone",
        "wire/a.txt": "",  # a folder may name no one, whatever the whole site says
    }
    found = {name: organisation_of(content_file(cited, name), cited) for name in expected}
    assert found == expected


def test_a_page_that_names_its_publisher_keeps_it(settings: Settings) -> None:
    cited = with_sources(settings)
    (release,) = releases_of(content_file(cited, "iom/rescue.html", SIGNED), cited, NOW.date())
    assert release.organisation == "International Organization for Migration"
    (release,) = releases_of(content_file(cited, "iom/clinic.txt"), cited, NOW.date())
    assert release.organisation == "IOM"
    (release,) = releases_of(content_file(cited, "wire/clinic.txt"), cited, NOW.date())
    assert release.organisation is None


def test_a_file_is_placed_by_its_path_under_the_content_directory(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cited = with_sources(settings)
    file = content_file(cited, "iom/press/clinic.txt")
    monkeypatch.chdir(tmp_path)
    # As classify names a file given on the command line: by the path typed.
    typed = Path("content/iom/press/clinic.txt")
    assert organisation_of(SourceFile(typed, str(typed), 1, 1), cited) == "IOM press office"
    # Outside the content directory a file is placed by its name, as eval's labels give it.
    elsewhere = dataclasses.replace(file, path=tmp_path / "devset" / "x.txt", name="iom/x.txt")
    assert organisation_of(elsewhere, cited) == "IOM"


def test_a_file_asked_to_be_read_again_is_read_and_said_to_hold_the_same_bytes(
    settings: Settings,
) -> None:
    file = content_file(settings, "clinic.txt")
    reader = Reader(settings, compile_rules(settings.topics), NOW)
    first = reader.read(file, None)
    assert isinstance(first, Read)
    assert (first.releases is not None, first.same_bytes) == (True, False)
    skipped = reader.read(file, first.record)
    assert isinstance(skipped, Read)
    assert (skipped.releases, skipped.same_bytes) == (None, True)
    again = reader.read(file, dataclasses.replace(first.record, reread=True))
    assert isinstance(again, Read)
    assert (again.releases, again.same_bytes) == (first.releases, True)
    assert again.record.reread is False


def test_a_record_whose_hash_was_erased_is_compared_by_size() -> None:
    found = FileRecord("a.txt", 10, 5, "abc")
    assert same_bytes(FileRecord("a.txt", 10, -1, ""), found)
    assert not same_bytes(FileRecord("a.txt", 11, -1, ""), found)
    assert not same_bytes(FileRecord("a.txt", 10, 5, "abd"), found)
    assert not same_bytes(None, found)
