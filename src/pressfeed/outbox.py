"""The outbox: mail recorded in the database, sent, and each outcome recorded as it comes.

Whoever makes a message records it in the outbox (a digest together with its subscriber's new
period, a confirmation together with its subscriber) before anything is sent. `deliver_outbox`
sends what is due and marks each message sent right after the server accepts it, deferred with
a growing wait, or failed. After a crash at any point the next delivery resends what is still
pending: only messages in flight at the crash can arrive twice, with their original Message-ID.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Engine

from pressfeed import store
from pressfeed.models import Outgoing
from pressfeed.send import Outcome, Result, Transport

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 20  # with back-off doubling from a minute up to an hour: about half a day

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
) -> DeliveryReport:
    """Send every message in the outbox due at `now` and record each outcome as it comes.

    Outcomes are stamped with `clock()`, by default `now` plus the time the run has taken: a
    run held up by a slow server must not leave next attempts that are already past.
    """
    report = DeliveryReport()
    with engine.connect() as connection:
        due = store.due_messages(connection, now)
    if not due:
        return report
    attempts = {row.key: row.attempts for row in due}
    ledger = _Ledger(engine, attempts, clock or _elapsed_since(now), retry or RETRY, report)
    asyncio.run(ledger.deliver(transport, [row.message for row in due]))
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
        attempts: dict[str, int],
        clock: Clock,
        retry: Backoff,
        report: DeliveryReport,
    ) -> None:
        self.engine = engine
        self.attempts = attempts
        self.clock = clock
        self.retry = retry
        self.report = report
        self._gathered: list[tuple[Result, dt.datetime, asyncio.Future[None]]] = []
        self._writing: asyncio.Task[None] | None = None
        self._in_thread = store.same_database_in_threads(engine)

    async def deliver(self, transport: Transport, messages: Sequence[Outgoing]) -> None:
        """Send `messages`, then wait until every outcome is recorded."""
        await transport.deliver(messages, self.record)
        while self._writing is not None:
            await self._writing

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
        with self.engine.begin() as connection:
            store.mark_sent_many(connection, sent)
            for result, at in batch:
                if result.outcome is not Outcome.SENT:
                    self._record_unsent(connection, result, at)
        self.report.sent += len(sent)

    def _record_unsent(self, connection: Connection, result: Result, at: dt.datetime) -> None:
        report, retry = self.report, self.retry
        tries = self.attempts[result.key] + 1
        failed = result.outcome is Outcome.FAILED or tries >= retry.attempts
        store.mark_deferred(
            connection, result.key, at + retry.delay(tries), result.detail, failed=failed
        )
        if failed:
            report.failed += 1
            log.warning("message failed: %s: %s", result.key, result.detail)
        else:
            report.deferred += 1
