"""Unsubscribing by mail: a digest's mailto, answered into a real maildir, read back."""

# The SMTP fixture is imported by name, and pytest passes it back as a same-named argument.

from __future__ import annotations

import logging
import mailbox
from collections.abc import Iterator
from email.header import Header
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine

from pressfeed import store
from pressfeed.cli import main
from pressfeed.config import load_settings
from pressfeed.digest import send_due_digests
from pressfeed.models import Settings
from pressfeed.unsubscribes import MAX_MAIL_BYTES, mail_token, read_unsubscribes
from tests.conftest import NOW, write_settings
from tests.smtp_servers import SmtpServer, free_port, smtp_sink
from tests.test_digest_delivery import smtp, subscribe, with_news
from tests.test_service import Running

__all__ = ["smtp_sink"]


@pytest.fixture
def reading(tmp_path: Path) -> Settings:
    """Settings whose digests offer a mailto read from tmp_path/unsubscribes."""
    config = write_settings(tmp_path, '[email]\nunsubscribe_maildir = "unsubscribes"\n')
    return load_settings(config, environ={})


@pytest.fixture
def engine(reading: Settings) -> Iterator[Engine]:
    """The store of `reading`, on a real SQLite file."""
    engine = store.open_store(reading.database)
    yield engine
    engine.dispose()


def mailto_of(server: SmtpServer, settings: Settings, engine: Engine) -> str:
    with_news(settings, engine)
    subscribe(settings, engine, "ana@example.org")
    send_due_digests(settings, engine, now=NOW, transport=smtp(server, settings))
    header = server.wait_for(1)[0].message["List-Unsubscribe"]
    return next(i.strip(" <>") for i in header.split(",") if "mailto:" in i)


def request(to: str, subject: str, sender: str = "ana@example.org") -> bytes:
    """A mail as a client writes it and an MTA delivers it (with Delivered-To)."""
    message = EmailMessage()
    message["Delivered-To"] = to
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message.set_content("please remove me\n")
    return message.as_bytes()


def addresses(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return [s.address for s in store.all_subscribers(connection)]


def test_answering_the_mailto_unsubscribes_and_moves_the_mail(
    reading: Settings, engine: Engine, smtp_sink: SmtpServer, capsys: pytest.CaptureFixture[str]
) -> None:
    link = urlsplit(mailto_of(smtp_sink, reading, engine))
    assert link.path.startswith("unsubscribe+")
    assert link.path.endswith("@localhost")
    box = mailbox.Maildir(reading.email.unsubscribe_maildir, create=True)
    box.add(request(link.path, unquote(link.query.removeprefix("subject="))))
    assert main(["--config", str(reading.config_file), "unsubscribes", "read"]) == 0
    said = "1 unsubscribed, 0 with an unknown token, 0 skipped and kept\n"
    assert capsys.readouterr().out == said
    assert addresses(engine) == []
    assert box.keys() == []
    assert len(box.get_folder("processed")) == 1


def test_a_token_in_the_subject_alone_is_enough(
    reading: Settings, smtp_sink: SmtpServer, engine: Engine
) -> None:
    token = urlsplit(mailto_of(smtp_sink, reading, engine)).path[12:44]
    box = mailbox.Maildir(reading.email.unsubscribe_maildir, create=True)
    box.add(request("someone@localhost", f"Re: unsubscribe {token}"))
    report = read_unsubscribes(reading.email.unsubscribe_maildir or Path(), engine)
    assert (report.unsubscribed, addresses(engine)) == (1, [])


def test_from_alone_wrong_tokens_and_huge_mails_unsubscribe_nobody(
    reading: Settings, smtp_sink: SmtpServer, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    token = urlsplit(mailto_of(smtp_sink, reading, engine)).path[12:44]
    folder = reading.email.unsubscribe_maildir or Path()
    box = mailbox.Maildir(folder, create=True)
    forged = box.add(request("unsubscribe@localhost", "unsubscribe"))  # From: ana, no token
    wrong = token[:-1] + ("y" if token.endswith("x") else "x")  # one character off
    box.add(request(f"unsubscribe+{wrong}@localhost", "unsubscribe"))
    huge = box.add(request(f"unsubscribe+{token}@localhost", "x" * MAX_MAIL_BYTES))
    odd = box.add(b"Cc: :;.:\r\nTo: B:qbb@;q>?\r\nSubject: =?x?b?!!?=\r\n\r\nbody\r\n")
    # Base64 encoded words: in Q encoding a token's "_" would read as a space.
    subject = f"Subject: {Header(f'unsubscribe {wrong}', 'utf-8').encode()}\r\n\r\n"
    encoded = box.add(f"To: x@localhost\r\n{subject}".encode())
    with caplog.at_level(logging.WARNING, "pressfeed.unsubscribes"):
        report = read_unsubscribes(folder, engine)
    assert (report.unsubscribed, report.unknown, report.skipped) == (0, 2, 3)
    assert addresses(engine) == ["ana@example.org"]
    assert sorted(box.keys()) == sorted([forged, huge, odd])
    assert encoded not in box
    assert f"unsubscribe mail {forged} skipped and kept: no unsubscribe token" in caplog.text
    assert f"unsubscribe mail {huge} skipped and kept: over {MAX_MAIL_BYTES} bytes" in caplog.text
    again = read_unsubscribes(folder, engine)
    assert (again.unknown, again.skipped, len(box.get_folder("processed"))) == (0, 3, 2)


def test_without_a_maildir_digests_carry_no_mailto(
    settings: Settings, smtp_sink: SmtpServer
) -> None:
    engine = store.open_store(settings.database)
    with_news(settings, engine)
    subscribe(settings, engine, "ana@example.org")
    send_due_digests(settings, engine, now=NOW, transport=smtp(smtp_sink, settings))
    header = smtp_sink.wait_for(1)[0].message["List-Unsubscribe"]
    assert "unsubscribe?token=" in header
    assert "mailto:" not in header
    engine.dispose()


def test_the_service_reads_the_maildir(reading: Settings, engine: Engine) -> None:
    subscribe(reading, engine, "ana@example.org")
    with engine.connect() as connection:
        token = store.all_subscribers(connection)[0].token
    folder = reading.email.unsubscribe_maildir or Path()
    mailbox.Maildir(folder, create=True).add(request(f"unsubscribe+{token}@localhost", "x"))
    config = reading.config_file
    config.write_text(config.read_text("utf-8") + "[service]\nscan_interval = 3600\n", "utf-8")
    service = Running(config, free_port())
    try:
        service.wait_for_log(r"unsubscribe mails: 1 unsubscribed, 0 unknown tokens, 0 kept")
    finally:
        service.stop()
    assert addresses(engine) == []
    assert len(mailbox.Maildir(folder).get_folder("processed")) == 1


HEADER_NAMES = st.sampled_from(["To", "Cc", "Delivered-To", "X-Original-To", "Subject", "From"])


@given(
    st.lists(st.tuples(HEADER_NAMES, st.binary(max_size=80)), max_size=6), st.binary(max_size=40)
)
def test_no_header_value_stops_the_read(headers: list[tuple[str, bytes]], body: bytes) -> None:
    raw = b"".join(
        name.encode() + b": " + value.replace(b"\n", b" ") + b"\r\n" for name, value in headers
    )
    token = mail_token(raw + b"\r\n" + body)
    assert token is None or token.isascii()
