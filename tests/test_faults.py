"""Faults: mail servers that refuse, crawl or are down, a full disk, a database held by another.

Delivery is driven round by round as the service's digest tick drives it: each round sends what
the outbox says is due, and the next round comes when the earliest deferred message is due
again. Most tests inject the clock, so an hour of back-off costs nothing; the `realtime` ones
wait the back-off out on the wall clock, with the same code. Full-length versions (a server down
for a real minute, 5 s per reply) are marked slow: `make test-slow`.
"""

# The SMTP fixtures are imported by name, and pytest passes them back as same-named arguments.
# ruff: noqa: F811

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import errno
import io
import itertools
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import feedparser
import pytest
from sqlalchemy import Engine

from pressfeed import files, store
from pressfeed.cli import main
from pressfeed.config import load_settings
from pressfeed.digest import send_due_digests
from pressfeed.errors import StoreError, WriteError
from pressfeed.models import Outgoing, Settings, SmtpSettings
from pressfeed.outbox import Backoff, deliver_outbox
from pressfeed.publish import publish
from pressfeed.scan import scan_content
from pressfeed.send import DirectoryTransport, SmtpTransport, Transport
from tests.conftest import NOW, write_settings
from tests.smtp_servers import (  # noqa: F401  (fixtures are used as arguments)
    SmtpServer,
    free_port,
    sink,
    slow_replies,
    smtp_down_port,
    start_smtp,
    unreliable,
)
from tests.test_digest_delivery import subscribe, with_news
from tests.test_publish import HEALTH
from tests.test_scan import LISTING
from tests.test_send import outgoing

StartSmtp = Callable[[SmtpServer], SmtpServer]
MINUTE = dt.timedelta(minutes=1)
QUICK = Backoff(first=dt.timedelta(seconds=0.05), longest=dt.timedelta(seconds=2))


# --- driving delivery round by round ------------------------------------------------------------


class Clock(Protocol):
    def __call__(self) -> dt.datetime: ...

    def wait_until(self, moment: dt.datetime) -> None: ...


@dataclasses.dataclass
class FakeClock:
    """Time that moves only when a round waits; `on_move` sees each new time."""

    now: dt.datetime = NOW
    on_move: Callable[[dt.datetime], None] = lambda moment: None

    def __call__(self) -> dt.datetime:
        return self.now

    def wait_until(self, moment: dt.datetime) -> None:
        self.now = max(self.now, moment)
        self.on_move(self.now)


class WallClock:
    """The real time; waiting out a back-off takes that long."""

    def __call__(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def wait_until(self, moment: dt.datetime) -> None:
        # The product's schedule, not a sync point: the test runs the service's tick itself.
        time.sleep(max(0.0, (moment - self()).total_seconds()))


@dataclasses.dataclass(frozen=True)
class Round:
    at: dt.datetime
    sent: int
    deferred: int
    failed: int
    tried: frozenset[str]  # the keys of the messages this round tried


def deliver_until_done(
    engine: Engine,
    transport: Transport,
    clock: Clock,
    retry: Backoff,
    *,
    max_rounds: int = 30,
) -> list[Round]:
    """Delivery rounds, each when the outbox's earliest deferred message is due, until none is."""
    rounds: list[Round] = []
    attempts = {r.key: r.attempts for r in outbox(engine)}
    while True:
        at = clock()
        report = deliver_outbox(engine, transport, now=at, retry=retry, clock=clock)
        rows = outbox(engine)
        tried = frozenset(r.key for r in rows if r.attempts > attempts[r.key])
        attempts = {r.key: r.attempts for r in rows}
        rounds.append(Round(at, report.sent, report.deferred, report.failed, tried))
        waiting = [r for r in rows if r.status == "pending"]
        if not waiting:
            return rounds
        assert len(rounds) < max_rounds, f"still {len(waiting)} pending after {max_rounds} rounds"
        clock.wait_until(min(r.next_attempt for r in waiting))


def outbox(engine: Engine) -> list[store.OutboxRow]:
    with engine.connect() as connection:
        return store.outbox_rows(connection)


def queue(engine: Engine, count: int, at: dt.datetime = NOW) -> list[Outgoing]:
    """`count` finished messages recorded in the outbox, due at `at`."""
    messages = [outgoing(f"m{n:03}") for n in range(count)]
    with engine.begin() as connection:
        for message in messages:
            store.add_to_outbox(
                connection,
                message,
                subscriber_id=message.key,
                kind="digest",
                message_id=f"<{message.key}@pressfeed.test>",
                now=at,
            )
    return messages


def smtp_to(port: int, *, timeout: float = 5.0, connections: int = 4) -> SmtpTransport:
    return SmtpTransport(SmtpSettings(host="127.0.0.1", port=port, timeout=timeout), connections)


def gaps(rounds: list[Round]) -> list[float]:
    """Seconds between one round and the next."""
    return [(b.at - a.at).total_seconds() for a, b in itertools.pairwise(rounds)]


def waits_of(rounds: list[Round], key: str) -> list[float]:
    """Seconds between one try of a message and the next."""
    return gaps([r for r in rounds if key in r.tried])


def arrived_once(server: SmtpServer, messages: list[Outgoing]) -> None:
    ids = Counter(r.message["Message-ID"] for r in server.wait_for(len(messages)))
    assert ids == Counter(f"<{m.key}@pressfeed.test>" for m in messages)


# --- a server that refuses 30% of messages with 451 ---------------------------------------------


def refused_until_delivered(engine: Engine, start_smtp: StartSmtp, count: int, seed: int) -> None:
    server = start_smtp(unreliable(rate=0.3, seed=seed))
    messages = queue(engine, count)
    clock = FakeClock()
    rounds = deliver_until_done(engine, smtp_to(server.port), clock, Backoff())

    arrived_once(server, messages)  # a 451 after the data is no delivery: nothing twice
    assert 0.15 < server.handler.refusals / server.handler.transactions < 0.45
    assert sum(r.sent for r in rounds) == count
    assert sum(r.failed for r in rounds) == 0
    # Each round retries the messages refused in the one before, after twice the wait.
    assert gaps(rounds) == [60.0 * 2**n for n in range(len(rounds) - 1)]
    tries = max(r.attempts for r in outbox(engine))
    assert tries == len(rounds)
    # Bounded: the last message went after the waits of its own failed tries, no later.
    assert clock.now - NOW == sum((Backoff().delay(n) for n in range(1, tries)), dt.timedelta())


def test_thirty_percent_refused_is_all_delivered_with_doubling_waits(
    engine: Engine, start_smtp: StartSmtp
) -> None:
    refused_until_delivered(engine, start_smtp, count=40, seed=6)


@pytest.mark.slow
def test_thirty_percent_refused_of_a_thousand(engine: Engine, start_smtp: StartSmtp) -> None:
    refused_until_delivered(engine, start_smtp, count=1000, seed=7)


def test_digests_through_a_refusing_server_all_arrive(
    settings: Settings, engine: Engine, start_smtp: StartSmtp
) -> None:
    server = start_smtp(unreliable(rate=0.3, seed=3))
    with_news(settings, engine)
    for n in range(12):
        subscribe(settings, engine, f"reader{n:02}@example.org")
    transport = smtp_to(server.port, connections=3)
    clock = FakeClock()
    reports = []
    while True:  # the service's digest tick, at the moments the outbox asks for
        reports.append(
            send_due_digests(settings, engine, now=clock(), transport=transport, clock=clock)
        )
        waiting = [r.next_attempt for r in outbox(engine) if r.status == "pending"]
        if not waiting:
            break
        assert len(reports) < 20
        clock.wait_until(min(waiting))
    assert len(reports) > 1  # some were refused at first
    assert reports[0].planned == 12
    assert sum(r.delivery.sent for r in reports) == 12
    received = server.wait_for(12)
    assert sorted(r.rcpt_tos[0] for r in received) == [
        f"reader{n:02}@example.org" for n in range(12)
    ]
    assert len({r.message["Message-ID"] for r in received}) == 12


# --- a server that takes its time over every reply ----------------------------------------------


def crawl(
    start_smtp: StartSmtp, engine: Engine, delay: float, count: int, connections: int
) -> None:
    """`count` messages over `connections` sessions to a server taking `delay` s per reply."""
    server = start_smtp(slow_replies(delay))
    messages = queue(engine, count, at=dt.datetime.now(dt.UTC))
    transport = smtp_to(server.port, timeout=max(5.0, 4 * delay), connections=connections)
    started = time.monotonic()
    rounds = deliver_until_done(engine, transport, WallClock(), QUICK)
    took = time.monotonic() - started
    arrived_once(server, messages)
    assert [r.sent for r in rounds] == [count]  # slow is not failed: one round, nothing retried
    # Per session: greeting, EHLO, QUIT, and MAIL, RCPT, DATA and the final dot per message.
    replies = 3 + 4 * -(-count // connections)
    assert replies * delay <= took < replies * delay + 2.0 + 0.5 * replies * delay


def test_a_slow_server_is_waited_for_reply_by_reply(engine: Engine, start_smtp: StartSmtp) -> None:
    crawl(start_smtp, engine, delay=0.05, count=12, connections=4)


@pytest.mark.slow
def test_five_seconds_per_reply(engine: Engine, start_smtp: StartSmtp) -> None:
    crawl(start_smtp, engine, delay=5.0, count=8, connections=4)


def test_a_server_slower_than_the_timeout_costs_one_timeout_per_connection(
    engine: Engine, start_smtp: StartSmtp
) -> None:
    server = start_smtp(slow_replies(2.0))
    queue(engine, 10)
    transport = smtp_to(server.port, timeout=0.2, connections=2)
    started = time.monotonic()
    report = deliver_outbox(engine, transport, now=NOW, retry=QUICK)
    took = time.monotonic() - started
    assert (report.sent, report.deferred) == (0, 10)
    assert took < 1.5  # each session gives up after one timeout, not one per message
    for row in outbox(engine):
        assert (row.last_error or "").startswith(f"cannot connect to 127.0.0.1:{server.port}")
        assert "Timeout" in (row.last_error or "")


# --- a server that is down for a while ----------------------------------------------------------


def test_a_server_down_for_an_hour_gets_everything_at_the_first_try_after(
    engine: Engine, smtp_down_port: int, start_smtp: StartSmtp
) -> None:
    messages = queue(engine, 6)
    back = NOW + dt.timedelta(hours=1)
    servers: list[SmtpServer] = []

    def bring_up(moment: dt.datetime) -> None:
        if moment >= back and not servers:
            servers.append(start_smtp(sink(smtp_down_port)))

    clock = FakeClock(on_move=bring_up)
    rounds = deliver_until_done(engine, smtp_to(smtp_down_port), clock, Backoff())
    assert gaps(rounds) == [60 * 2**n for n in range(6)]  # 1, 2, 4 ... 32 minutes
    assert [r.deferred for r in rounds] == [6] * 6 + [0]
    assert rounds[-1].at - NOW == 63 * MINUTE  # the first try after the hour
    arrived_once(servers[0], messages)


def down_for(engine: Engine, start_smtp: StartSmtp, outage: float, retry: Backoff) -> None:
    """A server down for `outage` real seconds, with rounds on the wall clock."""
    port = free_port()
    messages = queue(engine, 5, at=dt.datetime.now(dt.UTC))
    server = sink(port)
    coming = threading.Timer(outage, lambda: start_smtp(server))
    started = time.monotonic()
    coming.start()
    try:
        rounds = deliver_until_done(engine, smtp_to(port), WallClock(), retry, max_rounds=40)
    finally:
        coming.cancel()
        coming.join()
    took = time.monotonic() - started
    arrived_once(server, messages)
    longest = 0.0
    for message in messages:
        waits = waits_of(rounds, message.key)
        assert len(waits) >= 2
        for tries, wait in enumerate(waits, start=1):  # each wait is at least twice the last
            assert wait >= retry.delay(tries).total_seconds()
        assert all(b > a for a, b in itertools.pairwise(waits)), waits
        longest = max(longest, *waits)
    # Bounded: at most one (the longest) wait after the server came back.
    assert outage <= took < outage + longest + 1.0


def test_a_server_down_for_a_moment_is_retried_with_growing_waits(
    engine: Engine, start_smtp: StartSmtp
) -> None:
    down_for(engine, start_smtp, outage=0.4, retry=QUICK)


@pytest.mark.slow
def test_a_server_down_for_a_minute(engine: Engine, start_smtp: StartSmtp) -> None:
    down_for(engine, start_smtp, outage=60.0, retry=Backoff(first=dt.timedelta(seconds=1)))


def test_a_message_that_never_goes_fails_after_the_last_attempt(
    engine: Engine, smtp_down_port: int
) -> None:
    queue(engine, 2)
    retry = Backoff(attempts=5)
    rounds = deliver_until_done(engine, smtp_to(smtp_down_port), FakeClock(), retry)
    assert [(r.deferred, r.failed) for r in rounds] == [(2, 0)] * 4 + [(0, 2)]
    assert {(r.status, r.attempts) for r in outbox(engine)} == {("failed", 5)}


def test_the_back_off_counts_from_when_a_slow_round_ends(
    engine: Engine, start_smtp: StartSmtp
) -> None:
    # A round held up by a slow server must not stamp next attempts that are already past.
    server = start_smtp(slow_replies(0.3))
    queue(engine, 1)
    deliver_outbox(engine, smtp_to(server.port, timeout=0.1), now=NOW, retry=QUICK)
    row = outbox(engine)[0]
    assert row.status == "pending"
    assert row.next_attempt - NOW >= QUICK.first + dt.timedelta(seconds=0.09)


# --- a full disk --------------------------------------------------------------------------------


class Disk(Protocol):
    def fill(self) -> None: ...

    def free(self) -> None: ...


class Tmpfs:
    """A real, small tmpfs mounted at `root`; full when a file takes all its space."""

    def __init__(self, root: Path) -> None:
        self.filler = root / ".filler"

    def fill(self) -> None:
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * 4096)
        finally:
            os.close(fd)
        assert os.statvfs(self.filler.parent).f_bavail == 0

    def free(self) -> None:
        self.filler.unlink()


class Injected:
    """Where mounting is not allowed: every file write stops half way with ENOSPC."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch

    def fill(self) -> None:
        self.monkeypatch.setattr(files, "open", _half_then_full, raising=False)

    def free(self) -> None:
        self.monkeypatch.undo()


class _HalfWriter(io.FileIO):
    def write(self, data: Any) -> int:
        super().write(bytes(data)[: len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _half_then_full(fd: int, mode: str) -> io.FileIO:
    return _HalfWriter(fd, mode)


@pytest.fixture(params=["tmpfs", "injected"])
def disk(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Disk]:
    """The output directory, tmp_path/feeds, on a disk the test can fill and free."""
    root = tmp_path / "feeds"
    root.mkdir(exist_ok=True)
    if request.param == "injected":
        yield Injected(request.getfixturevalue("monkeypatch"))
        return
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(root)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield Tmpfs(root)
    finally:
        subprocess.run(["umount", str(root)], check=True)


def assert_whole(output: Path) -> None:
    """No temporary file is left, every feed parses and every page and JSON file is complete."""
    names = [p for p in output.rglob("*") if p.is_file() and p.name != ".filler"]
    assert names
    assert [p.name for p in names if p.name.startswith(".")] == []
    for path in names:
        data = path.read_bytes()
        if path.suffix in (".atom", ".rss"):
            parsed = feedparser.parse(data)
            assert not parsed.bozo, (path, parsed.get("bozo_exception"))
        elif path.suffix == ".json":
            json.loads(data)
        elif path.suffix in (".html", ".opml"):
            assert data.rstrip().endswith((b"</html>", b"</opml>")), path


def test_a_full_disk_leaves_every_feed_whole_and_the_work_pending(
    settings: Settings, engine: Engine, disk: Disk, capsys: pytest.CaptureFixture[str]
) -> None:
    (settings.content_dir / "listing.txt").write_text(LISTING, encoding="utf-8")
    scan_content(settings, engine, now=NOW)
    publish(settings, engine)
    before = {p: p.read_bytes() for p in settings.output_dir.rglob("*") if p.is_file()}

    disk.fill()
    (settings.content_dir / "health.txt").write_text(HEALTH, encoding="utf-8")
    scan_content(settings, engine, now=NOW + MINUTE)
    with pytest.raises(WriteError) as caught:
        publish(settings, engine)
    error = caught.value
    assert error.path.is_relative_to(settings.output_dir)
    assert str(error) == f"cannot write {error.path}: the disk is full (No space left on device)"
    assert_whole(settings.output_dir)
    assert {p: p.read_bytes() for p in before} == before  # nothing was overwritten
    with engine.connect() as connection:
        assert store.pending_keys(connection)  # the work waits for space

    # The command line says it in one line.
    assert main(["--config", str(settings.config_file), "publish"]) == 1
    _, err = capsys.readouterr()
    assert err.startswith("pressfeed: cannot write ")
    assert err.endswith(": the disk is full (No space left on device)\n")  # one line

    disk.free()
    publish(settings, engine)
    assert_whole(settings.output_dir)
    with engine.connect() as connection:
        assert store.pending_keys(connection) == {}
    titles = [
        e.title for e in feedparser.parse((settings.output_dir / "all.atom").read_bytes()).entries
    ]
    assert "Clinic opens for new arrivals" in titles


def test_a_first_publish_onto_a_full_disk_writes_nothing_half(
    settings: Settings, engine: Engine, disk: Disk
) -> None:
    (settings.content_dir / "listing.txt").write_text(LISTING, encoding="utf-8")
    scan_content(settings, engine, now=NOW)
    disk.fill()
    with pytest.raises(WriteError, match="the disk is full"):
        publish(settings, engine)  # every file at once: the one-sync path
    assert [p.name for p in settings.output_dir.rglob("*") if p.is_file()] in ([], [".filler"])
    disk.free()
    publish(settings, engine)
    assert_whole(settings.output_dir)


def test_mail_to_a_full_disk_waits_for_space(tmp_path: Path, disk: Disk) -> None:
    outbox_dir = tmp_path / "feeds" / "outbox"
    messages = [outgoing("a"), outgoing("b")]
    results: list[Any] = []
    disk.fill()
    asyncio.run(DirectoryTransport(outbox_dir).deliver(messages, results.append))
    assert {r.outcome.value for r in results} == {"retry"}
    assert all("the disk is full" in r.detail for r in results)
    assert not outbox_dir.exists() or [p.name for p in outbox_dir.iterdir()] == []
    disk.free()
    results.clear()
    asyncio.run(DirectoryTransport(outbox_dir).deliver(messages, results.append))
    assert {r.outcome.value for r in results} == {"sent"}
    assert (outbox_dir / "a.eml").read_bytes() == messages[0].data


# --- the database held by another writer --------------------------------------------------------

HOLDER = """
import sys, time
from pressfeed import store
engine = store.open_store(sys.argv[1])
with engine.begin() as connection:  # a writing transaction takes the write lock at once
    print("locked", flush=True)
    hold = float(sys.argv[2])
    time.sleep(hold) if hold else sys.stdin.read()  # how long the other writer keeps the lock
"""


@contextlib.contextmanager
def another_writer(database: str, hold: float = 0.0) -> Iterator[None]:
    """A process holding the database's write lock for `hold` s (0: until the block ends)."""
    command = [sys.executable, "-c", HOLDER, database, str(hold)]
    with subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as holder:
        assert holder.stdout is not None
        assert holder.stdin is not None
        try:
            assert holder.stdout.readline() == "locked\n"
            yield
        finally:
            holder.stdin.close()
            assert holder.wait(timeout=10) == 0


@pytest.fixture
def patient(tmp_path: Path) -> Settings:
    """Settings whose writes wait half a second for a lock; the database exists."""
    settings = load_settings(write_settings(tmp_path, "database_timeout = 0.5\n"), environ={})
    store.open_store(settings.database).dispose()
    return settings


@pytest.mark.parametrize(
    "command", [["scan"], ["subscribers", "add", "ana@example.org"]], ids=["scan", "subscribe"]
)
def test_a_locked_database_is_waited_for_then_one_clear_line(
    patient: Settings, command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    (patient.content_dir / "listing.txt").write_text(LISTING, encoding="utf-8")
    with another_writer(patient.database):
        started = time.monotonic()
        code = main(["--config", str(patient.config_file), *command])
        took = time.monotonic() - started
    _, err = capsys.readouterr()
    assert code == 1
    assert err == (
        f"pressfeed: database {patient.database}: locked by another writer; "
        "gave up after waiting 0.5 s\n"
    )
    assert 0.45 <= took < 3.0


def test_a_lock_released_in_time_is_waited_for(patient: Settings) -> None:
    engine = store.open_store(patient.database, busy_timeout=5.0)
    (patient.content_dir / "listing.txt").write_text(LISTING, encoding="utf-8")
    try:
        with another_writer(patient.database, hold=0.3):
            started = time.monotonic()
            report = scan_content(patient, engine, now=NOW)
            took = time.monotonic() - started
    finally:
        engine.dispose()
    assert report.added == 2
    assert 0.2 <= took < 5.0  # it waited for the other writer, not for its own timeout


def test_store_raises_store_error_not_a_driver_error(patient: Settings) -> None:
    engine = store.open_store(patient.database, busy_timeout=0.1)
    try:
        with (
            another_writer(patient.database),
            pytest.raises(StoreError) as caught,
            engine.begin() as connection,
        ):
            store.set_meta_value(connection, "k", "v")
    finally:
        engine.dispose()
    assert caught.value.url == patient.database
    assert "locked by another writer" in caught.value.reason
    with (
        pytest.raises(StoreError, match="locked by another writer"),
        another_writer(patient.database),
    ):
        store.open_store(patient.database, busy_timeout=0.1)
