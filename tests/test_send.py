"""Delivery over real SMTP servers on loopback, and to a directory of .eml files."""

# The SMTP fixtures are imported by name, and pytest passes them back as same-named arguments.
# ruff: noqa: F811

from __future__ import annotations

import asyncio
import datetime as dt
import email.policy
import email.utils
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from pressfeed.models import EmailSettings, Outgoing, SmtpSettings
from pressfeed.send import (
    DirectoryTransport,
    Outcome,
    Result,
    SmtpTransport,
    Transport,
    transport_for,
)
from tests.smtp_servers import (  # noqa: F401  (fixtures are used as arguments)
    REJECTED,
    SmtpServer,
    dropping,
    false_starttls,
    flaky,
    sink,
    slow,
    smtp_down_port,
    smtp_reject,
    smtp_silent_port,
    smtp_sink,
    start_smtp,
)

SENDER = "news@pressfeed.test"
StartSmtp = Callable[[SmtpServer], SmtpServer]


def outgoing(key: str, recipient: str = "") -> Outgoing:
    """A finished message as the outbox holds it: CRLF bytes, 8-bit UTF-8 body, a dot line."""
    recipient = recipient or f"{key}@example.org"
    message = EmailMessage()
    message["From"] = f"pressfeed <{SENDER}>"
    message["To"] = recipient
    message["Subject"] = f"Your digest {key}"
    message["Date"] = email.utils.format_datetime(dt.datetime(2026, 11, 23, 9, tzinfo=dt.UTC))
    message["Message-ID"] = f"<{key}@pressfeed.test>"
    message.set_content(f"News for {key}.\n.A line that starts with a dot.\nCafé, Straße, Łódź.\n")
    return Outgoing(key, SENDER, recipient, message.as_bytes(policy=email.policy.SMTP))


def batch(count: int) -> list[Outgoing]:
    return [outgoing(f"m{n:02}") for n in range(count)]


def settings_for(server: SmtpServer | int, **changes: Any) -> SmtpSettings:
    port = server if isinstance(server, int) else server.port
    return replace(SmtpSettings(host="127.0.0.1", port=port, timeout=5.0), **changes)


def deliver(transport: Transport, messages: Sequence[Outgoing]) -> dict[str, Result]:
    """Run one delivery; check on_result came exactly once per message; results by key."""
    results: list[Result] = []
    asyncio.run(transport.deliver(messages, results.append))
    assert Counter(r.key for r in results) == Counter(m.key for m in messages)
    return {r.key: r for r in results}


def outcomes(results: dict[str, Result]) -> dict[str, Outcome]:
    return {key: result.outcome for key, result in results.items()}


# --- SMTP ---------------------------------------------------------------------------------------


def test_every_message_arrives_with_its_bytes_unchanged(smtp_sink: SmtpServer) -> None:
    messages = batch(6)
    results = deliver(SmtpTransport(settings_for(smtp_sink), connections=2), messages)
    assert set(outcomes(results).values()) == {Outcome.SENT}
    assert all(r.detail.startswith("250 ") for r in results.values())
    received = {r.message["Message-ID"]: r for r in smtp_sink.wait_for(6)}
    for message in messages:
        got = received[f"<{message.key}@pressfeed.test>"]
        assert got.data == message.data  # dot-stuffing undone, 8-bit body intact
        assert (got.mail_from, got.rcpt_tos) == (SENDER, (message.recipient,))
        assert "Łódź" in got.message.get_content()


def test_a_few_connections_carry_many_messages(smtp_sink: SmtpServer) -> None:
    results = deliver(SmtpTransport(settings_for(smtp_sink), connections=2), batch(12))
    assert set(outcomes(results).values()) == {Outcome.SENT}
    smtp_sink.wait_for(12)
    assert smtp_sink.sessions == 2


def test_one_connection_per_message_at_most(smtp_sink: SmtpServer) -> None:
    results = deliver(SmtpTransport(settings_for(smtp_sink), connections=8), batch(2))
    assert set(outcomes(results).values()) == {Outcome.SENT}
    assert smtp_sink.sessions == 2


def test_nothing_to_send_opens_no_connection(smtp_sink: SmtpServer) -> None:
    assert deliver(SmtpTransport(settings_for(smtp_sink)), []) == {}
    assert smtp_sink.sessions == 0


def test_451_is_retried_and_the_connection_goes_on(start_smtp: StartSmtp) -> None:
    server = start_smtp(flaky(refuse_first=1))
    transport = SmtpTransport(settings_for(server), connections=1)
    first = deliver(transport, batch(3))
    assert outcomes(first) == {"m00": Outcome.RETRY, "m01": Outcome.SENT, "m02": Outcome.SENT}
    assert first["m00"].detail == "451 4.3.0 try again later"
    assert server.sessions == 1  # RSET, not a new connection

    again = deliver(transport, [outgoing("m00")])
    assert outcomes(again) == {"m00": Outcome.SENT}
    assert sorted(r.message["Message-ID"] for r in server.wait_for(3)) == [
        "<m00@pressfeed.test>",
        "<m01@pressfeed.test>",
        "<m02@pressfeed.test>",
    ]


def test_550_fails_that_recipient_only(
    smtp_reject: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="pressfeed.send")
    messages = [outgoing("a"), outgoing("refused", REJECTED), outgoing("b")]
    results = deliver(SmtpTransport(settings_for(smtp_reject), connections=1), messages)
    assert outcomes(results) == {"a": Outcome.SENT, "refused": Outcome.FAILED, "b": Outcome.SENT}
    assert results["refused"].detail == f"550 5.1.1 <{REJECTED}>: no such user"
    assert [r.rcpt_tos for r in smtp_reject.wait_for(2)] == [
        ("a@example.org",),
        ("b@example.org",),
    ]
    assert smtp_reject.sessions == 1
    lines = [r.getMessage() for r in caplog.records if r.name == "pressfeed.send"]
    assert len(lines) == 3
    assert lines[1].startswith(f"message failed: key=refused recipient={REJECTED} reply=550")
    assert all(line.startswith("message sent: ") for line in (lines[0], lines[2]))


def test_a_connection_lost_mid_data_is_retried_and_the_worker_reconnects(
    start_smtp: StartSmtp,
) -> None:
    server = start_smtp(dropping(times=1))
    results = deliver(SmtpTransport(settings_for(server), connections=1), batch(4))
    assert outcomes(results) == {
        "m00": Outcome.RETRY,
        "m01": Outcome.SENT,
        "m02": Outcome.SENT,
        "m03": Outcome.SENT,
    }
    assert "SMTPServerDisconnected" in results["m00"].detail
    assert len(server.wait_for(3)) == 3
    assert server.sessions == 2


def test_a_server_that_is_down_defers_everything_quickly_then_takes_it(
    smtp_down_port: int, start_smtp: StartSmtp
) -> None:
    settings = settings_for(smtp_down_port)
    transport = SmtpTransport(settings, connections=4)
    messages = batch(10)
    started = time.monotonic()
    down = deliver(transport, messages)
    assert time.monotonic() - started < settings.timeout  # nothing waited for a timeout
    assert set(outcomes(down).values()) == {Outcome.RETRY}
    assert all(f"cannot connect to 127.0.0.1:{smtp_down_port}" in r.detail for r in down.values())

    server = start_smtp(sink(smtp_down_port))
    up = deliver(transport, messages)
    assert set(outcomes(up).values()) == {Outcome.SENT}
    assert len(server.wait_for(10)) == 10


def test_a_server_that_never_answers_costs_one_timeout_per_connection(
    smtp_silent_port: int,
) -> None:
    settings = settings_for(smtp_silent_port, timeout=0.3)
    started = time.monotonic()
    results = deliver(SmtpTransport(settings, connections=2), batch(8))
    # Each worker waits out one timeout, then gives up: not one timeout per message.
    assert time.monotonic() - started < 3 * settings.timeout
    assert set(outcomes(results).values()) == {Outcome.RETRY}
    assert all("SMTPConnectTimeoutError" in r.detail for r in results.values())


def test_the_reply_to_the_final_dot_gets_a_long_wait(start_smtp: StartSmtp) -> None:
    # A timeout there would leave us not knowing whether the server took the message.
    server = start_smtp(slow(delay=0.3))
    settings = settings_for(server, timeout=0.1)
    results = deliver(SmtpTransport(settings, connections=1), batch(1))
    assert outcomes(results) == {"m00": Outcome.SENT}


def test_starttls_is_never_skipped_when_the_server_does_not_offer_it(
    smtp_sink: SmtpServer,
) -> None:
    # Deferred, not failed: the messages are fine, the configuration or the server is not, and
    # once that is fixed they should go; the caller's attempt limit ends it if it never is.
    settings = settings_for(smtp_sink, starttls=True)
    results = deliver(SmtpTransport(settings, connections=2), batch(3))
    assert set(outcomes(results).values()) == {Outcome.RETRY}
    assert all("STARTTLS extension not supported" in r.detail for r in results.values())
    assert smtp_sink.messages == []  # nothing went out in plain text


def test_tls_follows_the_settings_not_the_servers_offer(start_smtp: StartSmtp) -> None:
    server = start_smtp(false_starttls())
    plain = deliver(SmtpTransport(settings_for(server), connections=1), batch(1))
    assert outcomes(plain) == {"m00": Outcome.SENT}  # not offered a chance to fail halfway
    wanted = deliver(SmtpTransport(settings_for(server, starttls=True), connections=1), batch(1))
    assert outcomes(wanted) == {"m00": Outcome.RETRY}
    assert "454" in wanted["m00"].detail
    assert len(server.messages) == 1


def test_implicit_tls_against_a_plain_server_sends_nothing(smtp_sink: SmtpServer) -> None:
    settings = settings_for(smtp_sink, tls=True)
    results = deliver(SmtpTransport(settings, connections=1), batch(2))
    assert set(outcomes(results).values()) == {Outcome.RETRY}
    assert all("cannot connect" in r.detail for r in results.values())
    assert smtp_sink.messages == []


def test_an_address_that_cannot_go_on_a_command_line_fails(smtp_sink: SmtpServer) -> None:
    messages = [outgoing("bad", "two words@example.org"), outgoing("good")]
    results = deliver(SmtpTransport(settings_for(smtp_sink), connections=1), messages)
    assert outcomes(results) == {"bad": Outcome.FAILED, "good": Outcome.SENT}
    assert [r.rcpt_tos for r in smtp_sink.wait_for(1)] == [("good@example.org",)]


def test_conflicting_tls_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="cannot both be true"):
        SmtpTransport(SmtpSettings(host="h", tls=True, starttls=True))
    with pytest.raises(ValueError, match="at least 1"):
        SmtpTransport(SmtpSettings(host="h"), connections=0)


# --- a directory --------------------------------------------------------------------------------


def test_directory_transport_writes_exact_bytes_once(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    messages = batch(2)
    results = deliver(DirectoryTransport(outbox), messages)
    path = outbox / "m00.eml"
    assert results["m00"] == Result("m00", Outcome.SENT, f"written to {path}")
    assert path.read_bytes() == messages[0].data
    assert (outbox / "m01.eml").read_bytes() == messages[1].data
    before = path.stat().st_mtime_ns

    again = deliver(DirectoryTransport(outbox), messages)
    assert set(outcomes(again).values()) == {Outcome.SENT}
    assert path.stat().st_mtime_ns == before  # unchanged bytes are not rewritten
    assert sorted(p.name for p in outbox.iterdir()) == ["m00.eml", "m01.eml"]


def test_directory_transport_defers_when_it_cannot_write(tmp_path: Path) -> None:
    blocked = tmp_path / "outbox"
    blocked.write_text("a file where the directory should be", encoding="utf-8")
    results = deliver(DirectoryTransport(blocked), [outgoing("m")])
    assert results["m"].outcome is Outcome.RETRY
    assert "cannot write" in results["m"].detail


def test_directory_transport_keeps_keys_inside_the_directory(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    results = deliver(DirectoryTransport(outbox), [outgoing("../escape"), outgoing(".hidden")])
    assert set(outcomes(results).values()) == {Outcome.FAILED}
    assert list(tmp_path.iterdir()) == []


# --- choosing -----------------------------------------------------------------------------------


def test_transport_for_picks_the_configured_transport(tmp_path: Path) -> None:
    smtp = SmtpSettings(host="mail.example.org")
    directory = transport_for(EmailSettings(outbox_dir=tmp_path), smtp, 3)
    assert isinstance(directory, DirectoryTransport)
    assert directory.directory == tmp_path
    chosen = transport_for(EmailSettings(transport="smtp"), smtp, 3)
    assert isinstance(chosen, SmtpTransport)
    assert (chosen.settings, chosen.connections) == (smtp, 3)
    with pytest.raises(ValueError, match="unknown email transport"):
        transport_for(EmailSettings(transport="carrier-pigeon"), smtp, 3)
