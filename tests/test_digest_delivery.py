"""Digests over real SMTP servers on loopback: content, faults, and a run killed midway."""

# The SMTP fixtures are imported by name, and pytest passes them back as same-named arguments.

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

from sqlalchemy import Engine

from pressfeed import store
from pressfeed.config import load_settings
from pressfeed.digest import send_due_digests
from pressfeed.models import Settings
from pressfeed.scan import scan_content
from pressfeed.send import SmtpTransport
from pressfeed.subscriptions import Choice, add_subscriber, subscriber_from
from tests.conftest import NOW, ROOT, write_settings
from tests.smtp_servers import (
    REJECTED,
    Received,
    SmtpServer,
    sink,
    smtp_down_port,
    smtp_dropping,
    smtp_flaky,
    smtp_reject,
    smtp_sink,
    start_smtp,
)
from tests.test_publish import HEALTH
from tests.test_scan import LISTING

SIGNED_UP = NOW - dt.timedelta(days=3)

__all__ = [  # fixtures used below by name
    "smtp_down_port",
    "smtp_dropping",
    "smtp_flaky",
    "smtp_reject",
    "smtp_sink",
    "start_smtp",
]


def with_news(settings: Settings, engine: Engine) -> None:
    """The archive scanned two days ago, then news: two releases twelve hours ago."""
    (settings.content_dir / "old.txt").write_text(LISTING, encoding="utf-8")
    scan_content(settings, engine, now=NOW - dt.timedelta(days=2))
    (settings.content_dir / "health.txt").write_text(HEALTH, encoding="utf-8")
    rescue = LISTING.replace("60 survivors", "75 survivors").replace("Sixty", "Seventy-five")
    (settings.content_dir / "rescue.txt").write_text(rescue.split("Health workers")[0], "utf-8")
    scan_content(settings, engine, now=NOW - dt.timedelta(hours=12))


def subscribe(settings: Settings, engine: Engine, address: str, topics: str = "all") -> None:
    made = subscriber_from(Choice(address, topics), settings, now=SIGNED_UP, confirmed=True)
    add_subscriber(engine, made)


def smtp(server: SmtpServer, settings: Settings, connections: int = 2) -> SmtpTransport:
    config = settings.smtp.__class__(host=server.host, port=server.port, timeout=5.0)
    return SmtpTransport(config, connections=connections)


def by_recipient(received: list[Received]) -> dict[str, Received]:
    return {r.rcpt_tos[0]: r for r in received}


def test_each_subscriber_gets_their_topics_over_smtp(
    settings: Settings, engine: Engine, smtp_sink: SmtpServer
) -> None:
    with_news(settings, engine)
    subscribe(settings, engine, "ana@example.org", "health")
    subscribe(settings, engine, "bo@example.org", "sea-rescue,health")
    subscribe(settings, engine, "cy@example.org", "governance")
    report = send_due_digests(settings, engine, now=NOW, transport=smtp(smtp_sink, settings))
    assert (report.planned, report.empty, report.delivery.sent) == (2, 1, 2)
    mails = by_recipient(smtp_sink.wait_for(2))
    assert set(mails) == {"ana@example.org", "bo@example.org"}
    ana = mails["ana@example.org"].message
    assert ana.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in ana.iter_parts()] == ["text/plain", "text/html"]
    assert ana["Subject"] == "1 release newly added on Health"  # dated 2024
    assert ana["List-Unsubscribe-Post"] is None or "One-Click" in ana["List-Unsubscribe-Post"]
    assert "unsubscribe?token=" in ana["List-Unsubscribe"]
    bo = mails["bo@example.org"].message
    assert bo["Subject"] == "2 releases newly added on Sea rescue and Health"
    text = bo.get_body(("plain",)).get_content()
    assert text.index("Sea rescue") < text.index("Rescue ship waits") < text.index("Health")
    assert "Clinic opens for new arrivals" in text
    assert mails["bo@example.org"].mail_from == "pressfeed@localhost"


def test_temporary_refusal_is_retried_after_the_back_off(
    settings: Settings, engine: Engine, smtp_flaky: SmtpServer
) -> None:
    with_news(settings, engine)
    subscribe(settings, engine, "ana@example.org")
    first = send_due_digests(settings, engine, now=NOW, transport=smtp(smtp_flaky, settings))
    assert (first.delivery.sent, first.delivery.deferred) == (0, 1)
    early = send_due_digests(
        settings, engine, now=NOW + dt.timedelta(seconds=30), transport=smtp(smtp_flaky, settings)
    )
    assert early.delivery.sent == 0  # the back-off holds it a minute
    later = send_due_digests(
        settings, engine, now=NOW + dt.timedelta(minutes=2), transport=smtp(smtp_flaky, settings)
    )
    assert later.delivery.sent == 1
    assert len(smtp_flaky.wait_for(1)) == 1


def test_permanent_rejection_fails_one_and_spares_the_others(
    settings: Settings, engine: Engine, smtp_reject: SmtpServer
) -> None:
    with_news(settings, engine)
    subscribe(settings, engine, REJECTED)
    subscribe(settings, engine, "ana@example.org")
    subscribe(settings, engine, "bo@example.org")
    report = send_due_digests(settings, engine, now=NOW, transport=smtp(smtp_reject, settings))
    assert (report.delivery.sent, report.delivery.failed) == (2, 1)
    assert set(by_recipient(smtp_reject.wait_for(2))) == {"ana@example.org", "bo@example.org"}
    with engine.connect() as connection:
        statuses = {
            r.message.recipient: (r.status, r.last_error) for r in store.outbox_rows(connection)
        }
    assert statuses[REJECTED][0] == "failed"
    assert "550" in (statuses[REJECTED][1] or "")


def test_connection_dropped_in_data_is_resent_with_the_same_message_id(
    settings: Settings, engine: Engine, smtp_dropping: SmtpServer
) -> None:
    with_news(settings, engine)
    for name in ("ana", "bo", "cy"):
        subscribe(settings, engine, f"{name}@example.org")
    send_due_digests(settings, engine, now=NOW, transport=smtp(smtp_dropping, settings, 1))
    send_due_digests(
        settings, engine, now=NOW + dt.timedelta(minutes=5), transport=smtp(smtp_dropping, settings)
    )
    received = smtp_dropping.messages
    assert {r.rcpt_tos[0] for r in received} == {
        "ana@example.org",
        "bo@example.org",
        "cy@example.org",
    }
    counts = Counter(r.message["Message-ID"] for r in received)
    assert len(counts) == 3
    assert sum(counts.values()) - 3 <= 1  # only the message in flight may come twice
    with engine.connect() as connection:
        assert {r.status for r in store.outbox_rows(connection)} == {"sent"}


def test_server_down_then_back_delivers_everything_once(
    settings: Settings, engine: Engine, smtp_down_port: int, start_smtp: object
) -> None:
    with_news(settings, engine)
    for name in ("ana", "bo"):
        subscribe(settings, engine, f"{name}@example.org")
    down = settings.smtp.__class__(host="127.0.0.1", port=smtp_down_port, timeout=2.0)
    report = send_due_digests(settings, engine, now=NOW, transport=SmtpTransport(down, 2))
    assert (report.planned, report.delivery.deferred) == (2, 2)
    server = start_smtp(sink(smtp_down_port))  # type: ignore[operator]
    later = send_due_digests(
        settings, engine, now=NOW + dt.timedelta(minutes=2), transport=SmtpTransport(down, 2)
    )
    assert later.delivery.sent == 2
    received = server.wait_for(2)
    assert sorted(r.rcpt_tos[0] for r in received) == ["ana@example.org", "bo@example.org"]


def test_killed_run_resumes_without_skipping_anyone(tmp_path: Path) -> None:
    """SIGKILL a digest run in the middle of sending; the next run finishes the work."""
    subscribers, connections, kill_after = 60, 3, 20
    with sink() as server:
        config = write_settings(
            tmp_path,
            f'[email]\ntransport = "smtp"\n[smtp]\nhost = "{server.host}"\nport = {server.port}\n'
            f"[digest]\nconnections = {connections}\n",
        )
        settings = load_settings(config, environ={})
        engine = store.open_store(settings.database)
        with_news(settings, engine)
        for n in range(subscribers):
            made = subscriber_from(
                Choice(f"reader{n:03d}@example.org", "all", "immediate"),
                settings,
                now=SIGNED_UP,
                confirmed=True,
            )
            add_subscriber(engine, made)
        engine.dispose()
        command = [sys.executable, "-m", "pressfeed.cli", "--config", str(config), "digest"]
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        server.wait_for(kill_after, timeout=60)
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=30)
        assert first.returncode == -signal.SIGKILL
        second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        assert second.returncode == 0, second.stderr
        received = server.wait_for(subscribers, timeout=60)
    recipients = Counter(r.rcpt_tos[0] for r in received)
    assert len(recipients) == subscribers  # nobody skipped
    repeats = sum(recipients.values()) - subscribers
    assert repeats <= connections
    ids = Counter(r.message["Message-ID"] for r in received)
    assert len(ids) == subscribers  # a repeat is the same message
