"""Many senders over one outbox: claims, leases, and real `pressfeed send` processes.

The SMTP fixtures are imported by name, and pytest passes them back as same-named arguments.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import Engine, select

from pressfeed import outbox, store
from pressfeed.config import load_settings
from pressfeed.mail import built
from pressfeed.models import Outgoing
from pressfeed.outbox import DeliveryReport, deliver_outbox, sender_id
from pressfeed.send import DirectoryTransport, Outcome, Result, ResultCallback
from tests.conftest import NOW, on_postgres
from tests.smtp_servers import WAIT, Recorder, SmtpServer, slow
from tests.test_outbox import confirmation
from tests.test_service import mailing_config

ELSEWHERE = "mail-2.example.org/4242/0f0f0f0f"  # a sender on another host: never known dead here
CLAIM = dt.timedelta(minutes=15)


def fill(engine: Engine, count: int, at: dt.datetime = NOW) -> list[str]:
    """`count` messages to as many recipients, recorded at `at`; their keys, oldest first."""
    entries = []
    for n in range(count):
        key = f"m{n:05d}"
        made = built(confirmation(key, to=f"reader{n:05d}@example.org"))
        entries.append(
            store.NewMessage(
                Outgoing(key, made.sender, made.recipient, made.data), key, made.message_id
            )
        )
    with engine.begin() as connection:
        for start in range(0, count, 500):
            store.add_many_to_outbox(
                connection, entries[start : start + 500], kind="confirm", now=at
            )
    return [e.message.key for e in entries]


def claim(engine: Engine, sender: str, limit: int, at: dt.datetime = NOW) -> list[str]:
    with store.outbox_transaction(engine) as connection:
        rows = store.claim_messages(connection, sender, now=at, until=at + CLAIM, limit=limit)
    return [row.key for row in rows]


def rows(engine: Engine) -> dict[str, store.OutboxRow]:
    with engine.connect() as connection:
        return {row.key: row for row in store.outbox_rows(connection)}


def delivered(folder: Path) -> list[str]:
    return sorted(path.stem for path in folder.glob("*.eml"))


# --- claims in one process ----------------------------------------------------------------------


def test_senders_claim_disjoint_batches_oldest_first_until_none_is_left(engine: Engine) -> None:
    keys = fill(engine, 250)
    first, second, third = (claim(engine, f"s{n}/1/a", 100) for n in range(3))
    assert first == keys[:100]
    assert second == keys[100:200]
    assert third == keys[200:]
    assert claim(engine, "s4/1/a", 100) == []
    held = rows(engine)
    assert {r.status for r in held.values()} == {"claimed"}
    assert held[keys[150]].claimed_by == "s1/1/a"
    assert held[keys[0]].claimed_until == NOW + CLAIM


def test_a_claim_held_elsewhere_is_left_alone_until_its_lease_runs_out(
    engine: Engine, tmp_path: Path
) -> None:
    keys = fill(engine, 5)
    assert claim(engine, ELSEWHERE, 5) == keys
    mails = tmp_path / "mails"
    second = dt.timedelta(seconds=1)
    during = deliver_outbox(engine, DirectoryTransport(mails), now=NOW + CLAIM - second)
    assert during == DeliveryReport()
    assert delivered(mails) == []
    after = deliver_outbox(engine, DirectoryTransport(mails), now=NOW + CLAIM + second)
    assert after == DeliveryReport(sent=5)
    assert delivered(mails) == keys
    # The sender that lost its claim comes back with its outcomes: none of them is recorded.
    with store.outbox_transaction(engine) as connection:
        late = [(key, NOW, "250 late") for key in keys]
        store.mark_sent_many(connection, late, by=ELSEWHERE)
        store.mark_deferred(connection, keys[0], NOW, "451 late", failed=True, by=ELSEWHERE)
    after_all = rows(engine)
    assert {r.status for r in after_all.values()} == {"sent"}
    assert {r.attempts for r in after_all.values()} == {1}
    assert all(r.last_error != "250 late" for r in after_all.values())


def test_a_live_senders_claim_on_this_host_is_not_taken(engine: Engine, tmp_path: Path) -> None:
    fill(engine, 3)
    claim(engine, sender_id(), 3)  # this very process: alive
    report = deliver_outbox(engine, DirectoryTransport(tmp_path / "mails"), now=NOW)
    assert report == DeliveryReport()
    assert {r.status for r in rows(engine).values()} == {"claimed"}


def ended_process() -> int:
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(child.stdout)


def test_the_claims_of_an_ended_sender_on_this_host_are_taken_back_at_once(
    engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    keys = fill(engine, 4)
    dead = f"{outbox._HOST}/{ended_process()}/deadbeef"
    assert outbox.gone(dead)
    claim(engine, dead, 4)
    mails = tmp_path / "mails"
    with caplog.at_level(logging.WARNING, "pressfeed.outbox"):
        report = deliver_outbox(engine, DirectoryTransport(mails), now=NOW)  # lease not over
    assert report == DeliveryReport(sent=4)
    assert delivered(mails) == keys
    assert "outbox: 4 messages of ended senders taken back" in caplog.messages


def test_only_a_sender_of_this_host_is_ever_known_to_be_gone() -> None:
    assert not outbox.gone(ELSEWHERE)
    assert not outbox.gone(f"{outbox._HOST}/1/aa")  # pid 1 exists (as another user's, maybe)
    assert not outbox.gone("not a sender id")
    assert sender_id() != sender_id()


class Stepping:
    """A transport that sends one message at a time and lets the clock move between them."""

    def __init__(self, step: Callable[[], None], look: Callable[[], None]) -> None:
        self.step, self.look = step, look

    async def deliver(self, messages: Sequence[Outgoing], on_result: ResultCallback) -> None:
        for message in messages:
            self.look()
            self.step()
            done = on_result(Result(message.key, Outcome.SENT, "250 OK"))
            if done is not None:
                await done


def test_a_long_send_renews_its_lease_so_it_never_runs_out_while_sending(engine: Engine) -> None:
    keys = fill(engine, 12)
    lease = dt.timedelta(seconds=10)
    moment = [NOW]
    seen: list[tuple[dt.datetime, dt.datetime]] = []  # (when looked, the last message's lease)

    def step() -> None:
        moment[0] += dt.timedelta(seconds=3)

    def look() -> None:
        with engine.connect() as connection:
            query = select(store.outbox.c.claimed_until).where(store.outbox.c.key == keys[-1])
            seen.append((moment[0], connection.execute(query).scalar_one()))

    report = deliver_outbox(
        engine, Stepping(step, look), now=NOW, clock=lambda: moment[0], batch=12, lease=lease
    )
    assert report == DeliveryReport(sent=12)
    # 36 seconds of sending under a 10-second lease: moved on as it went, never past.
    assert moment[0] == NOW + dt.timedelta(seconds=36)
    assert all(until > at for at, until in seen), seen
    assert seen[-1][1] > NOW + dt.timedelta(seconds=30)
    assert {r.status for r in rows(engine).values()} == {"sent"}


def test_a_batch_of_less_than_one_is_refused(engine: Engine, tmp_path: Path) -> None:
    fill(engine, 1)
    with pytest.raises(ValueError, match="batch must be at least 1"):
        deliver_outbox(engine, DirectoryTransport(tmp_path), now=NOW, batch=0)


def test_skip_locked_gives_a_second_sender_other_rows_while_the_first_claims(
    engine: Engine,
) -> None:
    if not on_postgres():
        pytest.skip("on PostgreSQL only: SQLite has one writer, so claims are serial anyway")
    keys = fill(engine, 20)
    with store.outbox_transaction(engine) as first:
        held = store.claim_messages(first, "a/1/a", now=NOW, until=NOW + CLAIM, limit=10)
        # Not committed yet: a waiting second claim would run into the lock timeout instead.
        assert claim(engine, "b/1/b", 10) == keys[10:]
    assert [row.key for row in held] == keys[:10]


# --- sender processes ---------------------------------------------------------------------------


class Gate(Recorder):
    """Holds every message until `open()`; counts the SMTP sessions waiting on it."""

    def __init__(self) -> None:
        super().__init__()
        self._open = threading.Event()

    def open(self) -> None:
        self._open.set()

    def wait_for_sessions(self, count: int, timeout: float = WAIT) -> None:
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._sessions) >= count, timeout):
                raise AssertionError(f"expected {count} SMTP sessions within {timeout}s")

    def _greeted(self, session: Session, hostname: str) -> None:
        super()._greeted(session, hostname)
        with self._changed:
            self._changed.notify_all()

    async def handle_DATA(  # noqa: N802 (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        await asyncio.to_thread(self._open.wait, WAIT)
        return self.accept(session, envelope)


@pytest.fixture
def gate() -> Iterator[SmtpServer]:
    with SmtpServer(Gate()) as server:
        yield server


def filled(config: Path, count: int) -> list[str]:
    engine = store.open_store(load_settings(config, environ={}).database)
    try:
        return fill(engine, count, at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
    finally:
        engine.dispose()


def sender(config: Path, *options: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "pressfeed", "--config", str(config), "send", *options]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


# Seconds a sender process may take to send all it can: a bound against a hang, not a
# measure, since a loaded machine takes many times its usual second or two.
FINISH = 60.0


def finished(process: subprocess.Popen[str]) -> str:
    out, err = process.communicate(timeout=FINISH)
    assert process.returncode == 0, err
    return out


SENT = re.compile(r"messages: (\d+) sent, 0 to be tried again, 0 failed")


def sent_by(output: str) -> int:
    found = SENT.search(output)
    assert found, output
    return int(found.group(1))


def test_three_sender_processes_send_300_messages_exactly_once(
    tmp_path: Path, gate: SmtpServer
) -> None:
    config = mailing_config(tmp_path, gate, connections=1)
    keys = filled(config, 300)
    processes = [sender(config, "--batch", "20") for _ in range(3)]
    try:
        # Each sender has claimed a batch and waits on its message: all three are sending.
        assert isinstance(gate.handler, Gate)
        gate.handler.wait_for_sessions(3)
        gate.handler.open()
        counts = [sent_by(finished(p)) for p in processes]
    finally:
        for process in processes:
            process.kill()
            process.communicate(timeout=WAIT)
    assert sum(counts) == 300, counts
    assert min(counts) >= 20, counts  # each sent at least the batch it held at the gate
    received = gate.messages
    by_recipient = Counter(r.rcpt_tos[0] for r in received)
    assert len(received) == 300
    assert len(by_recipient) == 300
    assert {r.message["Message-ID"] for r in received} == {f"<{k}@example.org>" for k in keys}


def test_a_sender_killed_mid_batch_loses_nothing_and_repeats_only_what_was_in_flight(
    tmp_path: Path,
) -> None:
    messages, connections = 80, 2
    with slow(0.1) as server:
        config = mailing_config(tmp_path, server, connections)
        filled(config, messages)
        first = sender(config)
        try:
            server.wait_for(10)
        finally:
            first.send_signal(signal.SIGKILL)
            first.communicate(timeout=WAIT)
        at_kill = len(server.messages)
        assert at_kill < messages, "the sender sent everything before it was killed"
        second = sender(config, "--verbose")
        try:
            out, err = second.communicate(timeout=WAIT * 2)
        finally:
            second.kill()
        assert second.returncode == 0, err
        assert "messages of ended senders taken back" in err
        received = server.messages
    by_recipient = Counter(r.rcpt_tos[0] for r in received)
    assert len(by_recipient) == messages  # nothing lost
    repeated = [r for r, n in by_recipient.items() if n > 1]
    assert len(repeated) <= connections, repeated  # at most one in flight per connection
    for recipient in repeated:
        ids = {m.message["Message-ID"] for m in received if m.rcpt_tos[0] == recipient}
        assert len(ids) == 1
    assert len(received) <= messages + connections
    assert 1 <= sent_by(out) <= messages - at_kill + connections


def test_send_with_nothing_due_says_so(tmp_path: Path, gate: SmtpServer) -> None:
    config = mailing_config(tmp_path, gate, connections=1)
    out = finished(sender(config))
    assert sent_by(out) == 0
    assert gate.messages == []
