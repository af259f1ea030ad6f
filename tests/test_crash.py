"""Crash tests: `pressfeed scan`, `publish` and `digest` killed with SIGKILL at seeded points.

Each kill point is drawn from `random.Random` seeded with its number, as a count of events the
test observes (releases logged as added, files in the output directory, rows in the outbox,
messages at the SMTP server), so a failing point can be run again alone. After each kill the
store must be consistent and every feed on disk must parse; the next run must then end exactly
where an uninterrupted run ends (scan, publish) or deliver every digest, repeating at most one
message per SMTP connection and always with its original Message-ID (digest).

`make test` runs 3 kill points of `scan` (over 220 generated pages: enough for a pool of reader
processes, small enough to stay quick) and 3 of `digest` (to 100 subscribers, fewer than the
1,000 the slow suite uses, for the same reason). `make test-slow` runs 20 more of each over 2,000
pages and 1,000 subscribers, and 5 of a `publish` killed on its own.
"""

from __future__ import annotations

import datetime as dt
import random
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from pressfeed import publish, scan, store
from pressfeed.config import load_settings
from pressfeed.digest import dry_run
from pressfeed.models import Settings
from pressfeed.scan import scan_content
from pressfeed.subscriptions import Choice, subscriber_from
from tests.conftest import ROOT, TOPICS
from tests.crashing import (
    Child,
    count_files,
    feed_entry_ids,
    feed_problems,
    outbox,
    outbox_count,
    reap,
    run,
    store_problems,
    store_state,
)
from tests.smtp_servers import SmtpServer, sink

FAST_PAGES, SLOW_PAGES = 220, 2000
FAST_SUBSCRIBERS, SLOW_SUBSCRIBERS = 100, 1000
FAST_POINTS, SLOW_POINTS = range(3), range(3, 23)
PUBLISH_POINTS = range(3, 8)  # slow only: the scan's points already stop some publishes
CONNECTIONS = (1, 2, 3, 4, 8)
FEEDPARSER_NEWEST = 25  # files written last, read with feedparser after each kill
ADDED = b"release added:"


@pytest.fixture(autouse=True)
def no_child_left() -> Iterator[None]:
    """A test that fails while a command runs does not leave it running."""
    yield
    reap()


def kill_points(fast: range, slow: range) -> list[Any]:
    return [*fast, *(pytest.param(point, marks=pytest.mark.slow) for point in slow)]


def write_config(directory: Path, content: Path, extra: str = "") -> Path:
    """Settings for one run: its own store and output, the shared content."""
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "pressfeed.toml"
    config.write_text(
        f'content_dir = "{content.as_posix()}"\noutput_dir = "feeds"\n'
        f'database = "pressfeed.db"\ntopics_file = "{TOPICS.as_posix()}"\n'
        f'templates_dir = "{(ROOT / "templates").as_posix()}"\n{extra}',
        encoding="utf-8",
    )
    return config


def generate(count: int, directory: Path, seed: int) -> None:
    script = ROOT / "benchmarks" / "generate.py"
    command = [sys.executable, str(script), str(count), str(directory), "--seed", str(seed)]
    subprocess.run(command, check=True)


# --- scan and publish ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Corpus:
    """Generated content and the end state of one uninterrupted `pressfeed scan` of it."""

    content: Path
    reference: Path  # the uninterrupted run's directory: config, store, feeds
    state: dict[str, list[tuple[Any, ...]]]
    entries: dict[str, list[str]]
    added: int  # releases the scan logged as added
    written: int  # files the publish wrote


def make_corpus(root: Path, pages: int) -> Corpus:
    content = root / "content"
    generate(pages, content, seed=6)
    reference = root / "reference"
    config = write_config(reference, content)
    child = Child(config, ["scan"], reference / "logs", verbose=True)
    child.finish()
    added = child.log_count(ADDED)
    output = reference / "feeds"
    database = reference / "pressfeed.db"
    assert store_problems(database) == []
    assert feed_problems(output, with_feedparser=FEEDPARSER_NEWEST) == []
    entries = feed_entry_ids(output)
    return Corpus(content, reference, store_state(database), entries, added, count_files(output))


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    return make_corpus(tmp_path_factory.mktemp("small"), FAST_PAGES)


@pytest.fixture(scope="module")
def large_corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    return make_corpus(tmp_path_factory.mktemp("large"), SLOW_PAGES)


@pytest.fixture
def corpus(request: pytest.FixtureRequest) -> Corpus:
    """The small corpus for the fast kill points, the large one for the slow ones."""
    slow = request.node.get_closest_marker("slow") is not None
    return request.getfixturevalue("large_corpus" if slow else "small_corpus")  # type: ignore[no-any-return]


def assert_crash_left_no_damage(child: Child, run_dir: Path) -> None:
    left = child.kill()
    assert left == [], f"processes of the killed command still running: {left}"
    database = run_dir / "pressfeed.db"
    if database.exists():
        assert store_problems(database) == []
    output = run_dir / "feeds"
    if output.is_dir():
        assert feed_problems(output, with_feedparser=FEEDPARSER_NEWEST) == []


def assert_same_end_state(run_dir: Path, corpus: Corpus) -> None:
    state = store_state(run_dir / "pressfeed.db")
    for table, rows in corpus.state.items():
        missing = sorted(set(rows) - set(state[table]))[:3]
        extra = sorted(set(state[table]) - set(rows))[:3]
        assert state[table] == rows, f"{table}: missing {missing}, extra {extra}"
    entries = feed_entry_ids(run_dir / "feeds")
    assert sorted(entries) == sorted(corpus.entries)
    differ = [name for name in sorted(entries) if entries[name] != corpus.entries[name]]
    assert differ == [], f"{len(differ)} feeds hold other entries than after one scan"


@pytest.mark.parametrize("point", kill_points(FAST_POINTS, SLOW_POINTS))
def test_killed_scan_resumes_to_the_state_of_an_uninterrupted_one(
    point: int, corpus: Corpus, tmp_path: Path
) -> None:
    """Killed while storing releases or while publishing them; the next scan completes it."""
    rng = random.Random(f"scan {point}")
    kill_at = rng.randint(1, corpus.added + corpus.written - 1)
    config = write_config(tmp_path, corpus.content)
    child = Child(config, ["scan"], tmp_path / "killed", verbose=True)
    if kill_at <= corpus.added:
        phase = "scanning"
        child.wait_until(lambda: child.log_count(ADDED) >= kill_at, f"{kill_at} releases added")
    else:
        phase, files = "publishing", kill_at - corpus.added
        output = tmp_path / "feeds"
        child.wait_until(lambda: output.is_dir() and count_files(output) >= files, f"{files} files")
    assert_crash_left_no_damage(child, tmp_path)
    print(f"scan kill point {point}: {phase}, event {kill_at} of {corpus.added + corpus.written}")
    run(config, ["scan", "--quiet"], tmp_path / "resumed")
    assert_same_end_state(tmp_path, corpus)


def test_a_first_scan_cut_short_and_resumed_is_one_backfill(
    settings: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Its releases share the first scan's time: feeds order same-day releases as after one
    uninterrupted scan (they differed before, in hundreds of feeds per resumed scan)."""
    generate(3, settings.content_dir, seed=3)
    monkeypatch.setattr(scan, "BATCH_FILES", 1)
    single = replace(settings, workers=1)
    started = dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.UTC)
    cut = scan_content(single, engine, now=started, should_stop=lambda: True)
    assert cut.stopped
    scan_content(single, engine, now=started + dt.timedelta(days=1))
    with engine.connect() as connection:
        stored = list(store.live_releases(connection))
        assert store.news_since(connection) == started
    assert len(stored) > cut.added > 0
    assert {s.first_seen for s in stored} == {started}


def test_the_index_is_written_after_every_other_file(
    settings: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A publish killed once index.html exists has written everything else: a missing index is
    what makes the next publish write everything. (The index used to be written while worker
    processes still wrote pages and archives; a kill then left them missing for good.)"""
    generate(6, settings.content_dir, seed=4)
    scan_content(settings, engine, now=dt.datetime(2026, 11, 20, tzinfo=dt.UTC))
    monkeypatch.setattr(publish, "PARALLEL_RELEASES", 1)  # worker processes even for a few
    missing_when_indexed: list[Path] = []
    write_front = publish._write_front

    def checked_front(connection: Any, settings: Settings, report: Any, *rest: Any) -> None:
        with engine.connect() as reading:
            ids = store.all_release_ids(reading)
        pages = [settings.output_dir / "releases" / f"{i}.html" for i in ids]
        missing_when_indexed.extend(p for p in pages if not p.exists())
        write_front(connection, settings, report, *rest)

    monkeypatch.setattr(publish, "_write_front", checked_front)
    publish.publish(replace(settings, workers=2), engine)
    assert (settings.output_dir / "index.html").exists()
    assert missing_when_indexed == []


@pytest.mark.parametrize("point", kill_points(range(0), PUBLISH_POINTS))
def test_killed_publish_resumes_to_the_same_files(
    point: int, corpus: Corpus, tmp_path: Path
) -> None:
    """A first publish of a scanned store, killed after some files; the next one completes it."""
    rng = random.Random(f"publish {point}")
    kill_at = rng.randint(1, corpus.written - 1)
    config = write_config(tmp_path, corpus.content)
    shutil.copy(corpus.reference / "pressfeed.db", tmp_path / "pressfeed.db")
    child = Child(config, ["publish"], tmp_path / "killed", verbose=False)
    output = tmp_path / "feeds"
    child.wait_until(lambda: output.is_dir() and count_files(output) >= kill_at, "files written")
    assert_crash_left_no_damage(child, tmp_path)
    print(f"publish kill point {point}: file {kill_at} of {corpus.written}")
    run(config, ["publish"], tmp_path / "resumed")
    assert_same_end_state(tmp_path, corpus)
    reference = corpus.reference / "feeds"
    written = sorted(p.relative_to(reference) for p in reference.rglob("*") if p.is_file())
    changed = [p for p in written if (output / p).read_bytes() != (reference / p).read_bytes()]
    assert changed == [], f"{len(changed)} files differ from one uninterrupted publish"


# --- digests ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Audience:
    """A store with news and subscribers, ready to copy; who must get a digest from it."""

    database: Path
    content: Path
    expected: frozenset[str]  # addresses with something new on their topics: one digest each


TOPIC_CHOICES = (
    "all",
    "libya",
    "sea-rescue",
    "health",
    "governance",
    "libya,sea-rescue",
    "health,governance",
    "sea-rescue,health",
)
FREQUENCIES = ("immediate", "daily", "weekly")
TIMEZONES = ("UTC", "Europe/Rome", "America/New_York", "Asia/Manila")


def make_audience(root: Path, subscribers: int) -> Audience:
    """An archive scanned nine days ago, news eight days ago, subscribers since before it."""
    content = root / "content"
    config = write_config(root, content)
    settings = load_settings(config, environ={})
    engine = store.open_store(settings.database)
    now = dt.datetime.now(dt.UTC)
    generate(40, content / "archive", seed=11)
    scan_content(settings, engine, now=now - dt.timedelta(days=9))
    generate(25, content / "news", seed=12)
    scan_content(settings, engine, now=now - dt.timedelta(days=8))
    add_subscribers(settings, engine, subscribers, since=now - dt.timedelta(days=8, hours=12))
    expected = {d.subscriber.address for d in dry_run(settings, engine, now=now) if d.count}
    engine.dispose()
    assert len(expected) > subscribers // 2
    return Audience(root / "pressfeed.db", content, frozenset(expected))


def add_subscribers(settings: Settings, engine: Engine, count: int, since: dt.datetime) -> None:
    rng = random.Random(count)
    with engine.begin() as connection:
        for n in range(count):
            choice = Choice(
                f"reader{n:04d}@example.org",
                rng.choice(TOPIC_CHOICES),
                rng.choice(FREQUENCIES),
                str(rng.randrange(24)),
                rng.choice(("monday", "thursday", "sunday")),
                rng.choice(TIMEZONES),
            )
            made = subscriber_from(choice, settings, now=since, confirmed=True)
            store.save_subscriber(connection, made)


@pytest.fixture(scope="module")
def small_audience(tmp_path_factory: pytest.TempPathFactory) -> Audience:
    return make_audience(tmp_path_factory.mktemp("audience"), FAST_SUBSCRIBERS)


@pytest.fixture(scope="module")
def large_audience(tmp_path_factory: pytest.TempPathFactory) -> Audience:
    return make_audience(tmp_path_factory.mktemp("audience"), SLOW_SUBSCRIBERS)


@pytest.fixture
def audience(request: pytest.FixtureRequest) -> Audience:
    """100 subscribers for the fast kill points, 1,000 for the slow ones."""
    slow = request.node.get_closest_marker("slow") is not None
    return request.getfixturevalue("large_audience" if slow else "small_audience")  # type: ignore[no-any-return]


def kill_digest_run(
    audience: Audience, server: SmtpServer, tmp_path: Path, point: int
) -> tuple[Path, int]:
    """Start a digest run, kill it at the point's event; the store and its connection count."""
    rng = random.Random(f"digest {point}")
    connections = rng.choice(CONNECTIONS)
    planned = len(audience.expected)
    config = write_config(
        tmp_path,
        audience.content,
        f'[email]\ntransport = "smtp"\n[smtp]\nhost = "{server.host}"\nport = {server.port}\n'
        f"[digest]\nconnections = {connections}\n",
    )
    database = tmp_path / "pressfeed.db"
    shutil.copy(audience.database, database)
    child = Child(config, ["digest"], tmp_path / "killed", verbose=False)
    # One point in four stops the planning, the others the sending (fast points 0 and 2).
    if point % 4 == 1:
        phase, kill_at = "planning", rng.randint(1, planned)
        child.wait_until(lambda: outbox_count(database) >= kill_at, f"{kill_at} digests planned")
    else:
        phase, kill_at = "sending", rng.randint(1, planned - 1)
        child.wait_until(lambda: len(server.messages) >= kill_at, f"{kill_at} messages received")
    left = child.kill()
    assert left == [], f"processes of the killed command still running: {left}"
    assert store_problems(database) == []
    at_kill = len(server.messages)
    print(
        f"digest kill point {point}: {phase}, after {kill_at} of {planned}, "
        f"{connections} connections, {at_kill} received at the kill",
        end="",
    )
    run(config, ["digest"], tmp_path / "resumed")
    return database, connections


@pytest.mark.parametrize("point", kill_points(FAST_POINTS, SLOW_POINTS))
def test_killed_digest_run_delivers_every_digest_repeating_only_in_flight_ones(
    point: int, audience: Audience, tmp_path: Path
) -> None:
    """Killed while planning or sending; the next run delivers the rest."""
    with sink() as server:
        database, connections = kill_digest_run(audience, server, tmp_path, point)
        received = server.messages
    rows = outbox(database)
    assert {status for _, _, status in rows} == {"sent"}
    original = {recipient: message_id for recipient, message_id, _ in rows}
    assert set(original) == audience.expected  # every due digest planned, once
    arrived = Counter(r.rcpt_tos[0] for r in received)
    assert set(arrived) == audience.expected  # every digest arrived
    repeats = len(received) - len(arrived)
    print(f", {repeats} repeated")
    assert repeats <= connections
    for message in received:
        assert message.message["Message-ID"] == original[message.rcpt_tos[0]]
