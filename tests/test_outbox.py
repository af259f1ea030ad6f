"""The outbox: any recorded mail delivered, each outcome recorded, with a report of its own."""

from __future__ import annotations

import datetime as dt
import logging
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import Engine, update

from pressfeed import store
from pressfeed.mail import built
from pressfeed.models import Outgoing
from pressfeed.outbox import (
    Backoff,
    DeliveryReport,
    backoff,
    deliver_outbox,
    forget_old_digests,
)
from pressfeed.send import DirectoryTransport
from tests.conftest import NOW


def confirmation(key: str, to: str = "Ana <ana@example.org>") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Press Office <news@example.org>"
    message["To"] = to
    message["Subject"] = "Confirm your subscription"
    message["Message-ID"] = f"<{key}@example.org>"
    message.set_content("Press the button.\n")
    return message


def record(
    engine: Engine, message: EmailMessage, key: str, kind: str = "confirm", at: dt.datetime = NOW
) -> None:
    made = built(message)
    with engine.begin() as connection:
        store.add_to_outbox(
            connection,
            Outgoing(key, made.sender, made.recipient, made.data),
            subscriber_id=key,
            kind=kind,
            message_id=made.message_id,
            now=at,
        )


def test_backoff_grows_to_an_hour() -> None:
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 7, 30)] == [60, 120, 240, 3600, 3600]
    quick = Backoff(first=dt.timedelta(seconds=1), longest=dt.timedelta(seconds=5))
    assert [quick.delay(n).total_seconds() for n in (1, 2, 3, 4)] == [1, 2, 4, 5]


def test_a_confirmation_is_delivered_and_reported_as_a_delivery(
    engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    record(engine, confirmation("s1-confirm-1"), "s1-confirm-1")
    mails = tmp_path / "mails"
    with caplog.at_level(logging.INFO, "pressfeed.outbox"):
        report = deliver_outbox(engine, DirectoryTransport(mails), now=NOW)
    assert report == DeliveryReport(sent=1)
    assert "outbox: 1 sent, 0 to be tried again, 0 failed" in caplog.messages
    assert (mails / "s1-confirm-1.eml").read_bytes().startswith(b"From: Press Office")
    with engine.connect() as connection:
        (row,) = store.outbox_rows(connection)
    assert (row.kind, row.status) == ("confirm", "sent")
    assert deliver_outbox(engine, DirectoryTransport(mails), now=NOW) == DeliveryReport()


def test_a_refused_message_is_deferred_with_the_back_off(engine: Engine, tmp_path: Path) -> None:
    record(engine, confirmation("s1-confirm-1"), "s1-confirm-1")
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the directory should be", encoding="utf-8")
    retry = Backoff(first=dt.timedelta(minutes=5))
    report = deliver_outbox(
        engine, DirectoryTransport(blocked), now=NOW, retry=retry, clock=lambda: NOW
    )
    assert report == DeliveryReport(deferred=1)
    with engine.connect() as connection:
        (row,) = store.outbox_rows(connection)
    assert (row.status, row.attempts, row.next_attempt) == ("pending", 1, NOW + retry.first)
    early = deliver_outbox(engine, DirectoryTransport(tmp_path / "mails"), now=NOW)
    assert early == DeliveryReport()  # not due yet
    later = deliver_outbox(engine, DirectoryTransport(tmp_path / "mails"), now=row.next_attempt)
    assert later == DeliveryReport(sent=1)


def test_digests_done_over_30_days_ago_are_forgotten_and_nothing_else(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    old, recent = NOW - dt.timedelta(days=31), NOW - dt.timedelta(days=29)
    rows = [
        ("old-sent", "digest", old, "sent"),
        ("old-failed", "digest", old, "failed"),
        ("old-pending", "digest", old, "pending"),
        ("old-claimed", "digest", old, "claimed"),
        ("recent-sent", "digest", recent, "sent"),
        ("old-confirm", "confirm", old, "sent"),
    ]
    for key, kind, created, status in rows:
        record(engine, confirmation(key), key, kind, at=created)
        with engine.begin() as connection:
            connection.execute(
                update(store.outbox).where(store.outbox.c.key == key).values(status=status)
            )
    with caplog.at_level(logging.INFO, "pressfeed.outbox"):
        assert forget_old_digests(engine, NOW) == 2
    assert "outbox: 2 digests done more than 30 days ago forgotten" in caplog.messages
    with engine.connect() as connection:
        left = {row.key for row in store.outbox_rows(connection)}
    assert left == {"old-pending", "old-claimed", "recent-sent", "old-confirm"}
    assert forget_old_digests(engine, NOW) == 0
