"""Delivers finished messages: over SMTP, or as .eml files in a directory.

Nothing here touches the database: each outcome goes to the caller's `on_result` the moment it is
known, so the caller can record "sent" right after each 250 reply.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Protocol

import aiosmtplib

from pressfeed.errors import WriteError
from pressfeed.files import write_if_changed
from pressfeed.models import EmailSettings, Outgoing, SmtpSettings

log = logging.getLogger(__name__)

# RFC 5321 4.5.3.2.6 asks clients to wait 10 minutes for the reply to the final dot: the server
# may be filtering the message, and giving up early leaves us not knowing whether it was taken.
DATA_REPLY_TIMEOUT = 600.0
_LINE_ENDING = re.compile(rb"\r\n|\r|\n")


class Outcome(StrEnum):
    SENT = "sent"  # the server took it (2xx)
    RETRY = "retry"  # try again later: 4xx, lost connection, timeout, server unreachable
    FAILED = "failed"  # the server refused it for good (5xx) or it cannot be sent as is


@dataclass(frozen=True)
class Result:
    """What became of one message."""

    key: str
    outcome: Outcome
    detail: str  # the server's reply or the error, on one line


# When the callback returns an awaitable, that connection's next message data waits for it (its
# envelope may go out meanwhile): the caller may record outcomes in batches and still have at
# most one accepted but unrecorded message per connection.
ResultCallback = Callable[[Result], Awaitable[None] | None]


class Transport(Protocol):
    async def deliver(self, messages: Sequence[Outgoing], on_result: ResultCallback) -> None:
        """Send every message; call `on_result` once for each, as soon as its outcome is known."""
        ...


def transport_for(email: EmailSettings, smtp: SmtpSettings, connections: int) -> Transport:
    """The transport `email.transport` names."""
    if email.transport == "smtp":
        return SmtpTransport(smtp, connections)
    if email.transport == "directory":
        return DirectoryTransport(email.outbox_dir)
    raise ValueError(f"unknown email transport {email.transport!r}: expected 'directory' or 'smtp'")


def _report(message: Outgoing, result: Result, on_result: ResultCallback) -> Awaitable[None] | None:
    """Log one line for the outcome, then hand it to the caller."""
    level = logging.INFO if result.outcome is Outcome.SENT else logging.WARNING
    verb = {Outcome.SENT: "sent", Outcome.RETRY: "deferred", Outcome.FAILED: "failed"}
    log.log(
        level,
        "message %s: key=%s recipient=%s reply=%s",
        verb[result.outcome],
        message.key,
        message.recipient,
        result.detail,
    )
    return on_result(result)


async def _settled(done: Awaitable[None] | None) -> None:
    """Wait for what `on_result` returned, if anything, before the next message."""
    if done is not None:
        await done


def _one_line(text: str) -> str:
    return " ".join(text.split())


# --- a directory of .eml files ------------------------------------------------------------------


class DirectoryTransport:
    """Writes each message to `<directory>/<key>.eml`, for a pickup directory or for testing."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def deliver(self, messages: Sequence[Outgoing], on_result: ResultCallback) -> None:
        for message in messages:
            await _settled(
                _report(message, await asyncio.to_thread(self._write, message), on_result)
            )

    def _write(self, message: Outgoing) -> Result:
        if not _is_file_name(message.key):
            return Result(message.key, Outcome.FAILED, "key is not a plain file name")
        path = self.directory / f"{message.key}.eml"
        try:
            write_if_changed(path, message.data)
        except WriteError as error:  # a full disk, say: the message waits for space
            return Result(message.key, Outcome.RETRY, _one_line(str(error)))
        return Result(message.key, Outcome.SENT, f"written to {path}")


def _is_file_name(key: str) -> bool:
    # A key must not climb out of the directory, nor hide as a dot file (temporary names).
    return bool(key) and not key.startswith(".") and not any(c in key for c in "/\\\0")


# --- SMTP ---------------------------------------------------------------------------------------


class SmtpTransport:
    """Sends over up to `connections` SMTP sessions at once, many messages per session."""

    def __init__(self, settings: SmtpSettings, connections: int = 4) -> None:
        if connections < 1:
            raise ValueError(f"connections must be at least 1, not {connections}")
        if settings.tls and settings.starttls:
            raise ValueError("smtp.tls and smtp.starttls cannot both be true")
        self.settings = settings
        self.connections = connections

    async def deliver(self, messages: Sequence[Outgoing], on_result: ResultCallback) -> None:
        run = _Run(asyncio.Queue(), on_result)
        for message in messages:
            run.queue.put_nowait(message)
        async with asyncio.TaskGroup() as workers:
            for _ in range(min(self.connections, len(messages))):
                workers.create_task(self._work(run))
        # Left over only when every worker failed to connect.
        while (left := run.next_message()) is not None:
            await _settled(run.report(left, Outcome.RETRY, run.connect_error))

    async def _work(self, run: _Run) -> None:
        """Send messages from the queue over one connection, reconnecting after a loss."""
        smtp: aiosmtplib.SMTP | None = None
        recording: asyncio.Future[None] | None = None  # on_result's work on the last message
        try:
            while (message := run.next_message()) is not None:
                if smtp is None or not smtp.is_connected:
                    smtp = await self._connect(run)
                    if smtp is None:
                        # Leave the rest to workers that are connected; see deliver().
                        await _settled(recording)
                        await _settled(run.report(message, Outcome.RETRY, run.connect_error))
                        return
                sent = await self._send(smtp, message, recording)
                await _settled(recording)
                recording = run.report(message, *sent)
            await _settled(recording)
        finally:
            if smtp is not None:
                await _quit(smtp)

    async def _connect(self, run: _Run) -> aiosmtplib.SMTP | None:
        """A connected, greeted and logged-in client; None (and `run.connect_error`) on failure."""
        settings = self.settings
        smtp = aiosmtplib.SMTP(
            hostname=settings.host,
            port=settings.port,
            username=settings.username or None,
            password=settings.password or None,
            timeout=settings.timeout,
            use_tls=settings.tls,
            # Never None: that quietly falls back to plain text when STARTTLS is not offered.
            start_tls=settings.starttls,
        )
        try:
            await smtp.connect()
            if smtp.is_ehlo_or_helo_needed:
                await _greet(smtp)
        except (aiosmtplib.SMTPException, OSError) as error:
            # A failed connection says nothing about the messages, even with a 5xx (bad
            # password, no STARTTLS): they stay RETRY, and the caller's attempt limit ends it.
            smtp.close()
            run.connect_error = _one_line(
                f"cannot connect to {settings.host}:{settings.port}: {_describe(error)}"
            )
            log.error("SMTP connection failed: %s", run.connect_error)
            return None
        return smtp

    async def _send(
        self, smtp: aiosmtplib.SMTP, message: Outgoing, previous: asyncio.Future[None] | None
    ) -> tuple[Outcome, str]:
        """One mail transaction; the connection is left ready for the next one, or closed.

        The envelope goes out while `previous` (the caller's work on the last outcome) runs;
        the data only once it is done, so only one accepted message at a time can be unrecorded.
        """
        try:
            options, encoding = _mail_options(smtp, message)
            await smtp.mail(message.sender, options=options, encoding=encoding)
            await smtp.rcpt(message.recipient, encoding=encoding)
            if previous is not None:
                await asyncio.wait([previous])  # its error, if any, is the caller's to raise
            reply = await smtp.data(
                message.data, timeout=max(self.settings.timeout, DATA_REPLY_TIMEOUT)
            )
        except aiosmtplib.SMTPResponseException as error:
            await _reset(smtp)
            return _reply_outcome(error.code), _one_line(f"{error.code} {error.message}")
        except (aiosmtplib.SMTPNotSupported, ValueError) as error:
            # The address cannot be written on this server's command line: it never will be.
            await _reset(smtp)
            return Outcome.FAILED, _one_line(_describe(error))
        except (aiosmtplib.SMTPException, OSError) as error:
            # Disconnects and timeouts land here; a loss after DATA may still have delivered it.
            smtp.close()
            return Outcome.RETRY, _one_line(_describe(error))
        return Outcome.SENT, _one_line(f"{reply.code} {reply.message}")


@dataclass
class _Run:
    """What the workers of one deliver() call share."""

    queue: asyncio.Queue[Outgoing]
    on_result: ResultCallback
    connect_error: str = "no connection to the SMTP server"

    def next_message(self) -> Outgoing | None:
        try:
            return self.queue.get_nowait()
        except asyncio.QueueEmpty:
            return None

    def report(
        self, message: Outgoing, outcome: Outcome, detail: str
    ) -> asyncio.Future[None] | None:
        done = _report(message, Result(message.key, outcome, detail), self.on_result)
        return None if done is None else asyncio.ensure_future(done)


def _reply_outcome(code: int) -> Outcome:
    """5xx is a permanent refusal; anything else short of success (4xx, garbled) is retried."""
    return Outcome.FAILED if 500 <= code <= 599 else Outcome.RETRY


def _mail_options(smtp: aiosmtplib.SMTP, message: Outgoing) -> tuple[list[str], str]:
    """MAIL FROM parameters (SIZE, BODY, SMTPUTF8) and the encoding of the addresses."""
    options: list[str] = []
    if smtp.supports_extension("size"):
        options.append(f"SIZE={_wire_size(message.data)}")
    if not message.data.isascii() and smtp.supports_extension("8bitmime"):
        options.append("BODY=8BITMIME")
    if (message.sender + message.recipient).isascii():
        return options, "ascii"
    if not smtp.supports_extension("smtputf8"):
        raise aiosmtplib.SMTPNotSupported("non-ASCII address but the server lacks SMTPUTF8")
    return [*options, "SMTPUTF8"], "utf-8"


def _wire_size(data: bytes) -> int:
    # RFC 1870: the size as transmitted, every line ending CRLF (the client normalises them).
    size = len(_LINE_ENDING.sub(b"\r\n", data))
    return size if data.endswith((b"\r", b"\n")) else size + 2


async def _greet(smtp: aiosmtplib.SMTP) -> None:
    # Done at connect time, so a refused EHLO counts against the connection, not a message.
    try:
        await smtp.ehlo()
    except aiosmtplib.SMTPHeloError:
        await smtp.helo()


async def _reset(smtp: aiosmtplib.SMTP) -> None:
    """Clear a failed transaction so the session can carry the next message; else drop it."""
    if not smtp.is_connected:
        return
    try:
        await smtp.rset()
    except (aiosmtplib.SMTPException, OSError):
        smtp.close()


async def _quit(smtp: aiosmtplib.SMTP) -> None:
    try:
        if smtp.is_connected:
            await smtp.quit()
    except (aiosmtplib.SMTPException, OSError):
        pass  # the server went first; nothing is lost
    finally:
        smtp.close()


def _describe(error: BaseException) -> str:
    text = str(error)
    if isinstance(error, aiosmtplib.SMTPResponseException):
        text = f"{error.code} {error.message}"
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
