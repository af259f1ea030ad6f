"""Leadership among `pressfeed run` processes sharing one database: the locks, and real processes.

The SMTP fixtures are imported by name, and pytest passes them back as same-named arguments.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import feedparser
import httpx
import pytest
from sqlalchemy import Engine, text

from pressfeed import service, store
from pressfeed.leadership import (
    AdvisoryLeadership,
    FileLeadership,
    Leadership,
    SoleLeadership,
    leadership_for,
)
from pressfeed.models import Settings
from tests.conftest import ROOT, on_postgres
from tests.smtp_servers import SmtpServer, free_port, slow, smtp_sink
from tests.test_publish import HEALTH
from tests.test_service import START, Running, mailing_config, news_and_subscribers

__all__ = ["smtp_sink"]

# A follower takes over within one look for the lock, plus the start of a thread and a process's
# own slowness on a busy machine: the lock itself goes the moment its holder dies.
TAKEOVER = service.LEADER_LOOK + 3.0

HOLDER = """
import sys
from pressfeed import store
from pressfeed.leadership import leadership_for
lock = leadership_for(store.open_store(sys.argv[1]))
print("held" if lock.acquire() else "not held", flush=True)
sys.stdin.read()
"""


# --- the locks ----------------------------------------------------------------------------------


@pytest.fixture
def lock(engine: Engine) -> Iterator[Leadership]:
    taken = leadership_for(engine)
    yield taken
    taken.release()


@pytest.fixture
def rival(settings: Settings) -> Iterator[Leadership]:
    """The same lock as another process would take it: its own store, its own lock."""
    other = store.open_store(settings.database)
    taken = leadership_for(other)
    yield taken
    taken.release()
    other.dispose()


def test_each_database_gets_its_kind_of_lock(engine: Engine) -> None:
    kind = AdvisoryLeadership if on_postgres() else FileLeadership
    assert isinstance(leadership_for(engine), kind)
    memory = store.open_store("sqlite://")
    assert isinstance(leadership_for(memory), SoleLeadership)
    memory.dispose()


def test_one_holder_at_a_time_until_it_lets_go(lock: Leadership, rival: Leadership) -> None:
    assert lock.acquire()
    assert lock.acquire()  # taking it again while holding it is holding it
    assert lock.held()
    assert not rival.acquire()
    assert not rival.held()
    lock.release()
    assert not lock.held()
    assert rival.acquire()
    assert rival.held()
    assert not lock.acquire()


def test_a_dead_holder_lets_the_lock_go(lock: Leadership, settings: Settings) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, settings.database],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        assert not lock.acquire()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=START)
        for stream in (holder.stdin, holder.stdout):
            assert stream is not None
            stream.close()
    # The kernel closes the dead process's file or socket; the server may need a moment after.
    deadline = time.monotonic() + TAKEOVER
    while not lock.acquire():
        assert time.monotonic() < deadline, "the dead holder's lock was not let go"
        time.sleep(0.05)
    assert lock.held()


@pytest.mark.sqlite_only("the lock file beside the SQLite database")
def test_a_lock_file_replaced_is_a_lock_lost(settings: Settings, lock: Leadership) -> None:
    assert isinstance(lock, FileLeadership)
    assert lock.acquire()
    assert lock.path.read_text(encoding="utf-8") == f"{os.getpid()}\n"
    lock.path.unlink()
    assert not lock.held()
    assert lock.acquire()  # a new file, a new lock
    assert lock.held()


def test_a_dropped_lock_connection_is_a_lock_lost(
    lock: Leadership, rival: Leadership, engine: Engine
) -> None:
    if not isinstance(lock, AdvisoryLeadership):
        pytest.skip("PostgreSQL's advisory lock")
    assert lock.acquire()
    with engine.connect() as connection:
        # As a server restart or a network cut would: the session ends, its locks with it.
        connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'"
                " AND objid::bigint = :key"
            ),
            {"key": store.LEADER_LOCK},
        )
        connection.commit()
    assert not lock.held()
    assert rival.acquire()


# --- processes ----------------------------------------------------------------------------------


@pytest.fixture
def shared_config(tmp_path: Path, smtp_sink: SmtpServer) -> Path:
    """Settings that two processes share: one database, one content folder, one output."""
    return mailing_config(tmp_path, smtp_sink, connections=4)


def started(config: Path, role: str) -> Running:
    """A `pressfeed run` process, once it serves and has said which role it took."""
    process = Running(config, free_port())
    process.wait_for_log(rf"service: {role}: ")
    process.wait_for_log(r"service: serving http://")
    return process


def role(process: Running) -> str:
    answer: str = httpx.get(process.url + "healthz", timeout=10).json()["role"]
    return answer


def titles(process: Running, name: str) -> list[str]:
    response = httpx.get(process.url + name, timeout=10)
    if response.status_code != 200:
        return []
    return [entry.title for entry in feedparser.parse(response.content).entries]


def count(process: Running, pattern: str) -> int:
    return sum(1 for line in process.drain() if re.search(pattern, line))


def test_one_of_two_processes_scans_and_the_other_takes_over_when_it_dies(
    shared_config: Path,
) -> None:
    content = shared_config.parent / "content"
    leader = started(shared_config, "leader")
    follower = started(shared_config, "follower")
    try:
        assert (role(leader), role(follower)) == ("leader", "follower")
        (content / "health.txt").write_text(HEALTH, encoding="utf-8")
        # The follower serves what the leader published.
        follower.wait_until(lambda: "Clinic opens for new arrivals" in titles(follower, "all.atom"))
        leader.wait_for_log(r"release added: Clinic opens for new arrivals")
        assert count(follower, r"release added|scan done|published:|first scan") == 0
        assert count(leader, r"release added: Clinic opens") == 1

        leader.stop(signal.SIGKILL)
        killed = time.monotonic()
        follower.wait_for_log(r"service: leader: ", timeout=TAKEOVER)
        took = time.monotonic() - killed
        follower.wait_for_log(r"scan done \(start\): 0 added, 0 updated, 0 withdrawn")
        assert role(follower) == "leader"
        (content / "late.txt").write_text(
            HEALTH.replace("Clinic opens", "Second clinic opens"), encoding="utf-8"
        )
        follower.wait_until(
            lambda: "Second clinic opens for new arrivals" in titles(follower, "health.atom")
        )
        assert count(follower, r"release added: Clinic opens") == 0  # read once, by the first
        assert count(follower, r"release added: Second clinic opens") == 1
    finally:
        follower.stop()
        leader.stop(signal.SIGKILL)
    print(f"takeover after SIGKILL: {took:.2f} s")  # shown with -s
    assert took < TAKEOVER


def test_a_follower_sends_the_confirmation_its_own_page_recorded(
    shared_config: Path, smtp_sink: SmtpServer
) -> None:
    leader = started(shared_config, "leader")
    follower = started(shared_config, "follower")
    try:
        leader.process.send_signal(signal.SIGSTOP)  # it keeps the lock and sends nothing
        try:
            answer = httpx.post(
                follower.url + "subscribe",
                data={"address": "ana@example.org", "topics": "health"},
                timeout=10,
            )
            assert answer.status_code == 200
            (mail,) = smtp_sink.wait_for(1)
            follower.wait_for_log(r"outbox: 1 sent")
            assert role(follower) == "follower"
        finally:
            leader.process.send_signal(signal.SIGCONT)
    finally:
        follower.stop()
        leader.stop()
    assert mail.rcpt_tos == ("ana@example.org",)
    assert mail.message["Subject"].startswith("Confirm")
    assert count(leader, r"outbox: [1-9]") == 0
    assert len(smtp_sink.messages) == 1


def test_a_follower_that_takes_over_mid_send_sends_the_rest_once(tmp_path: Path) -> None:
    subscribers, connections = 60, 2
    with slow(0.2) as server:
        config = mailing_config(tmp_path, server, connections)
        news_and_subscribers(config, subscribers)
        leader = Running(config, free_port())
        try:
            leader.wait_for_log(r"service: leader: ")
            follower = started(config, "follower")
            try:
                at_kill = len(server.wait_for(5, timeout=START))
                leader.stop(signal.SIGKILL)
                assert at_kill < subscribers, "the leader sent everything before it was killed"
                follower.wait_for_log(r"service: leader: ", timeout=TAKEOVER)
                server.wait_for(subscribers, timeout=START * 2)
                follower.wait_for_log(r"digests: 0 recorded, \d+ sent")
                # Counted once the follower has sent all it will: a repeat may have made up
                # the count while the last recipient was still on its way.
                received = server.messages
            finally:
                follower.stop()
        finally:
            leader.stop(signal.SIGKILL)
    by_recipient = Counter(r.rcpt_tos[0] for r in received)
    assert len(by_recipient) == subscribers  # nothing lost
    # Only what was in flight at the kill can arrive twice, with its Message-ID unchanged.
    repeated = [r for r, n in by_recipient.items() if n > 1]
    assert len(repeated) <= connections
    for recipient in repeated:
        ids = {m.message["Message-ID"] for m in received if m.rcpt_tos[0] == recipient}
        assert len(ids) == 1
    assert count(follower, r"digests: [1-9]\d* recorded") == 0  # planned once, by the first
