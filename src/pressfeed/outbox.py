"""The outbox: mail recorded in the database, sent, and each outcome recorded as it comes.

Whoever makes a message records it in the outbox (a digest together with its subscriber's new
period, a confirmation together with its subscriber) before anything is sent. `deliver_outbox`
claims what is due in batches, sends each batch outside any transaction, and marks each message
sent right after the server accepts it, deferred with a growing wait, or failed. Any number of
senders, in any number of processes and hosts, can deliver one outbox: a claim is a lease, and
only the sender holding it records an outcome. A claim whose sender died is due again when its
lease runs out, or at the next batch any sender of its host claims when that sender's process no
longer exists.
Only messages in flight at a crash can arrive twice, with their original bytes and Message-ID.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Engine

from pressfeed import store
from pressfeed.send import Outcome, Result, Transport

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 20  # with back-off doubling from a minute up to an hour: about half a day
BATCH = 200  # messages a sender claims at a time
# A claim's lease outlasts the longest wait for one server reply (send.DATA_REPLY_TIMEOUT is 10
# minutes), and each outcome recorded renews it: a live sender never loses its claim.
LEASE = dt.timedelta(minutes=15)
# Sent digests are kept this long (for an operator to look into), then deleted: 100,000 daily
# subscribers would otherwise add gigabytes a day.
KEEP_DONE = dt.timedelta(days=30)

Clock = Callable[[], dt.datetime]


@dataclass
class DeliveryReport:
    """What one delivery of the outbox did."""

    sent: int = 0
    deferred: int = 0  # to be tried again later
    failed: int = 0  # rejected for good, or out of attempts


@dataclass(frozen=True)
class Backoff:
    """When a deferred message is tried again: `first`, doubling to `longest`; `attempts` in all."""

    first: dt.timedelta = dt.timedelta(minutes=1)
    longest: dt.timedelta = dt.timedelta(hours=1)
    attempts: int = MAX_ATTEMPTS

    def delay(self, tries: int) -> dt.timedelta:
        """The wait after the `tries`-th failed attempt."""
        doubled = self.first.total_seconds() * 2.0 ** min(tries - 1, 62)
        return dt.timedelta(seconds=min(doubled, self.longest.total_seconds()))


RETRY = Backoff()


def backoff(attempts: int) -> dt.timedelta:
    """How long to wait before the next try: one minute, doubling, at most an hour."""
    return RETRY.delay(attempts)


def deliver_outbox(
    engine: Engine,
    transport: Transport,
    *,
    now: dt.datetime,
    retry: Backoff | None = None,
    clock: Clock | None = None,
    batch: int = BATCH,
    lease: dt.timedelta = LEASE,
    sender: str | None = None,
) -> DeliveryReport:
    """Send every message in the outbox due at `now` and record each outcome as it comes.

    Messages are claimed `batch` at a time for `lease`, as `sender` (by default a new
    `sender_id()`), until none is due. Outcomes are stamped with `clock()`, by default `now`
    plus the time the run has taken: a run held up by a slow server must not leave next
    attempts that are already past.
    """
    report = DeliveryReport()
    claim = _Claim(engine, sender or sender_id(), batch, lease)
    first = claim.take(now, now)
    if not first:
        return report
    ledger = _Ledger(engine, claim, clock or _elapsed_since(now), retry or RETRY, report)
    asyncio.run(ledger.deliver(transport, first, now))
    log.info(
        "outbox: %d sent, %d to be tried again, %d failed",
        report.sent,
        report.deferred,
        report.failed,
    )
    return report


def _elapsed_since(now: dt.datetime) -> Clock:
    started = time.monotonic()
    return lambda: now + dt.timedelta(seconds=time.monotonic() - started)


def forget_old_digests(engine: Engine, now: dt.datetime) -> int:
    """Delete the digests sent or failed that were recorded more than KEEP_DONE before `now`.

    A digest's key names its subscriber and period, which never come round again, so nothing
    needs the row once it is done. Confirmations stay: their keys count a subscriber's
    confirmations, and they are few."""
    with engine.begin() as connection:
        count = store.forget_done(connection, "digest", now - KEEP_DONE)
    if count:
        log.info("outbox: %d digests done more than %d days ago forgotten", count, KEEP_DONE.days)
    return count


def sender_id() -> str:
    """A name no other sender has: this host, this process and a random part."""
    return f"{_HOST}/{os.getpid()}/{secrets.token_hex(4)}"


def _this_host() -> str:
    # Containers may share a host name but not their process numbers: the pid namespace tells
    # them apart, so a sender never takes another container's process for a dead one of its own.
    try:
        namespace = os.readlink("/proc/self/ns/pid").strip("pid:[]")
    except OSError:
        namespace = ""
    return f"{socket.gethostname()}:{namespace}" if namespace else socket.gethostname()


_HOST = _this_host()


def gone(sender: str) -> bool:
    """Whether `sender` ran on this host in a process that has ended."""
    host, _, rest = sender.partition("/")
    pid = rest.partition("/")[0]
    if host != _HOST or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # it exists, as another user's process
        return False
    return False


class _Claim:
    """This sender's hold on outbox rows: taken a batch at a time, renewed while in use."""

    def __init__(self, engine: Engine, sender: str, batch: int, lease: dt.timedelta) -> None:
        if batch < 1:
            raise ValueError(f"batch must be at least 1, not {batch}")
        self.engine = engine
        self.sender = sender
        self.batch = batch
        self.lease = lease
        self.renew_at: dt.datetime | None = None

    def recover(self) -> None:
        """Give back at once the claims of senders of this host whose process has ended."""
        with self.engine.connect() as connection:
            dead = {s for s in store.claimants(connection) if gone(s)}
        if dead:
            with store.outbox_transaction(self.engine) as connection:
                count = store.release_claims(connection, dead)
            log.warning("outbox: %d messages of ended senders taken back", count)

    def take(self, due: dt.datetime, at: dt.datetime) -> list[store.OutboxRow]:
        """Claim the next batch of messages due at `due`, from `at` on, in one transaction.

        A run claims only what was due when it started: what it defers waits for the next run.
        The claims of ended senders of this host are given back first, so that the senders
        still running take them on at their next batch.
        """
        self.recover()
        with store.outbox_transaction(self.engine) as connection:
            rows = store.claim_messages(
                connection, self.sender, now=due, until=at + self.lease, limit=self.batch
            )
        self.renew_at = at + self.lease / 2
        return rows

    def renew(self, connection: Connection, at: dt.datetime) -> None:
        """Extend the lease of what is still held, once half of it has gone by."""
        if self.renew_at is not None and at >= self.renew_at:
            store.extend_claims(connection, self.sender, at + self.lease)
            self.renew_at = at + self.lease / 2


class _Ledger:
    """Records delivery outcomes in the outbox, as many to a transaction as come together.

    The transport waits for `record` before it sends another message on that connection, so at
    most one accepted message per connection is unrecorded at any moment: all that a crash can
    repeat. Transactions commit in a worker thread, so the connections go on meanwhile, and the
    outcomes that arrive during one commit go together into the next.
    """

    def __init__(
        self,
        engine: Engine,
        claim: _Claim,
        clock: Clock,
        retry: Backoff,
        report: DeliveryReport,
    ) -> None:
        self.engine = engine
        self.claim = claim
        self.attempts: dict[str, int] = {}
        self.clock = clock
        self.retry = retry
        self.report = report
        self._gathered: list[tuple[Result, dt.datetime, asyncio.Future[None]]] = []
        self._writing: asyncio.Task[None] | None = None
        self._in_thread = store.same_database_in_threads(engine)

    async def deliver(
        self, transport: Transport, rows: Sequence[store.OutboxRow], due: dt.datetime
    ) -> None:
        """Send the claimed `rows` and the batches due at `due` claimed after them."""
        while rows:
            self.attempts.update((row.key, row.attempts) for row in rows)
            await transport.deliver([row.message for row in rows], self.record)
            while self._writing is not None:
                await self._writing
            at = self.clock()
            if self._in_thread:
                rows = await asyncio.to_thread(self.claim.take, due, at)
            else:
                rows = self.claim.take(due, at)

    def record(self, result: Result) -> asyncio.Future[None]:
        """Queue an outcome; the future is done once it is committed."""
        done = asyncio.get_running_loop().create_future()
        self._gathered.append((result, self.clock(), done))
        if self._writing is None:
            self._writing = asyncio.create_task(self._write())
        return done

    async def _write(self) -> None:
        while self._gathered:
            batch, self._gathered = self._gathered, []
            outcomes = [(result, at) for result, at, _ in batch]
            try:
                if self._in_thread:
                    await asyncio.to_thread(self._commit, outcomes)
                else:
                    self._commit(outcomes)
            except Exception as error:  # each sender gets it, as if it had written itself
                for *_, done in batch:
                    if not done.done():
                        done.set_exception(error)
            else:
                for *_, done in batch:
                    if not done.done():
                        done.set_result(None)
        self._writing = None

    def _commit(self, batch: Sequence[tuple[Result, dt.datetime]]) -> None:
        sent = [(r.key, at, r.detail) for r, at in batch if r.outcome is Outcome.SENT]
        with store.outbox_transaction(self.engine) as connection:
            store.mark_sent_many(connection, sent, by=self.claim.sender)
            for result, at in batch:
                if result.outcome is not Outcome.SENT:
                    self._record_unsent(connection, result, at)
            self.claim.renew(connection, max(at for _, at in batch))
        self.report.sent += len(sent)

    def _record_unsent(self, connection: Connection, result: Result, at: dt.datetime) -> None:
        report, retry = self.report, self.retry
        tries = self.attempts[result.key] + 1
        failed = result.outcome is Outcome.FAILED or tries >= retry.attempts
        store.mark_deferred(
            connection,
            result.key,
            at + retry.delay(tries),
            result.detail,
            failed=failed,
            by=self.claim.sender,
        )
        if failed:
            report.failed += 1
            log.warning("message failed: %s: %s", result.key, result.detail)
        else:
            report.deferred += 1
