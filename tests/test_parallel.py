"""Large scans and publishes in worker processes end exactly as when done in one process."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine

from pressfeed import publish as publishing
from pressfeed import reading, store
from pressfeed import scan as scanning
from pressfeed.config import load_settings
from pressfeed.errors import WriteError
from pressfeed.models import Settings
from pressfeed.publish import publish
from pressfeed.scan import scan_content
from tests.conftest import NOW, ROOT, write_settings

PAGES = 40


@pytest.fixture(scope="module")
def content(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("content")
    generate = [sys.executable, str(ROOT / "benchmarks" / "generate.py"), str(PAGES), str(root)]
    subprocess.run(generate, check=True)
    return root


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Thresholds low enough that a few dozen files already go to worker processes."""
    monkeypatch.setattr(scanning, "BATCH_FILES", 8)
    monkeypatch.setattr(reading, "POOL_FROM", 8)
    monkeypatch.setattr(publishing, "PARALLEL_RELEASES", 10)
    monkeypatch.setattr(publishing, "PAGE_BATCH", 16)
    monkeypatch.setattr(publishing, "ARCHIVE_BATCH", 5)


def site(tmp_path: Path, content: Path, workers: int) -> tuple[Settings, Engine]:
    folder = tmp_path / f"workers-{workers}"
    folder.mkdir()
    settings = load_settings(write_settings(folder, f"workers = {workers}\n"), environ={})
    settings = dataclasses.replace(settings, content_dir=content)
    return settings, store.open_store(settings.database)


def state(settings: Settings, engine: Engine) -> tuple[object, dict[str, bytes]]:
    with engine.connect() as connection:
        ids = store.all_release_ids(connection)
        releases = store.releases_by_id(connection, ids)
    files = {
        p.relative_to(settings.output_dir).as_posix(): p.read_bytes()
        for p in sorted(settings.output_dir.rglob("*"))
        if p.is_file()
    }
    return releases, files


@pytest.mark.usefixtures("small_batches")
def test_workers_give_the_same_store_and_files_as_one_process(
    tmp_path: Path, content: Path
) -> None:
    results = []
    for workers in (1, 2):
        settings, engine = site(tmp_path, content, workers)
        report = scan_content(settings, engine, now=NOW)
        assert report.files_read == PAGES
        assert not report.problems
        written = publish(settings, engine).written
        results.append((report.added, written, state(settings, engine)))
        engine.dispose()
    (added_one, written_one, one), (added_two, written_two, two) = results
    assert added_one == added_two > PAGES
    assert written_one == written_two
    assert one[0] == two[0]
    assert one[1].keys() == two[1].keys()
    assert [name for name in one[1] if one[1][name] != two[1][name]] == []


@pytest.mark.usefixtures("small_batches")
def test_a_failed_task_in_a_worker_fails_the_publish_and_keeps_the_work(
    tmp_path: Path, content: Path
) -> None:
    settings, engine = site(tmp_path, content, 2)
    scan_content(settings, engine, now=NOW)
    settings.output_dir.mkdir(parents=True)
    (settings.output_dir / "releases").write_text("a file where a folder must be")
    with pytest.raises(WriteError, match="releases"):
        publish(settings, engine)
    with engine.connect() as connection:
        assert store.pending_keys(connection)
    (settings.output_dir / "releases").unlink()
    assert publish(settings, engine).written > 0
    with engine.connect() as connection:
        assert not store.pending_keys(connection)
    engine.dispose()
