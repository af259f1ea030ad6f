"""Real SMTP servers on loopback for tests: a sink and servers that misbehave on purpose.

Each server runs aiosmtpd in its own thread on 127.0.0.1, records what it receives and lets a
test wait (with a deadline) until N messages have arrived. Use the context managers
(`with sink() as server:`) or the pytest fixtures; a test module imports the fixtures it uses
(and tells ruff that a fixture argument shadowing the import is intended):

    # ruff: noqa: F811
    from tests.smtp_servers import smtp_sink  # noqa: F401
"""

from __future__ import annotations

import asyncio
import email.policy
import random
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesParser
from types import TracebackType
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

HOST = "127.0.0.1"
WAIT = 5.0  # seconds a test waits for mail before it fails
REJECTED = "nobody@example.org"  # the recipient the `smtp_reject` fixture refuses
TRY_AGAIN = "451 4.3.0 try again later"


@dataclass(frozen=True)
class Received:
    """One message as the server got it."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes  # exactly the bytes after DATA, dot-unstuffed, without the final dot line
    message: EmailMessage
    peer: Any  # the client's (address, port): one per SMTP session


class Recorder:
    """An aiosmtpd handler that accepts every message and records it; faults subclass it."""

    reply_delay = 0.0  # seconds the server holds back each reply (see SlowReplies)
    probing = False  # the controller's start-up probe is connected: its greeting is not held

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._messages: list[Received] = []
        self._sessions: list[Any] = []

    @property
    def messages(self) -> list[Received]:
        with self._changed:
            return list(self._messages)

    @property
    def sessions(self) -> int:
        """SMTP sessions that said EHLO or HELO (the controller's own probe does not)."""
        with self._changed:
            return len(self._sessions)

    def wait_for(self, count: int, timeout: float = WAIT) -> list[Received]:
        """The messages, once at least `count` have arrived; AssertionError at the deadline."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._messages) >= count, timeout):
                got = len(self._messages)
                raise AssertionError(f"expected {count} messages within {timeout}s, got {got}")
            return list(self._messages)

    async def handle_EHLO(  # noqa: N802 (aiosmtpd's hook names)
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        self._greeted(session, hostname)
        return responses

    async def handle_HELO(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str
    ) -> str:
        self._greeted(session, hostname)
        return f"250 {server.hostname}"

    async def handle_DATA(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        return self.accept(session, envelope)

    def accept(self, session: Session, envelope: Envelope) -> str:
        """Record the envelope's message and answer 250."""
        data = envelope.original_content or b""
        message = BytesParser(policy=email.policy.default).parsebytes(data)
        assert isinstance(message, EmailMessage)
        received = Received(
            envelope.mail_from or "", tuple(envelope.rcpt_tos), data, message, session.peer
        )
        with self._changed:
            self._messages.append(received)
            self._changed.notify_all()
        return "250 2.0.0 OK queued"

    def _greeted(self, session: Session, hostname: str) -> None:
        session.host_name = hostname  # aiosmtpd leaves this to a handler that takes the hook
        with self._changed:
            if not any(s is session for s in self._sessions):
                self._sessions.append(session)


class Flaky(Recorder):
    """Answers 451 to the first `refuse_first` messages at the end of DATA, then accepts."""

    def __init__(self, refuse_first: int = 1) -> None:
        super().__init__()
        self.refusals_left = refuse_first

    async def handle_DATA(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        with self._changed:
            if self.refusals_left > 0:
                self.refusals_left -= 1
                return TRY_AGAIN
        return self.accept(session, envelope)


class Reject(Recorder):
    """Answers 550 at RCPT for one recipient and accepts every other."""

    def __init__(self, recipient: str = REJECTED) -> None:
        super().__init__()
        self.recipient = recipient

    async def handle_RCPT(  # noqa: N802
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if address.lower() == self.recipient.lower():
            return f"550 5.1.1 <{address}>: no such user"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"


class Dropping(Recorder):
    """Hangs up after the message data, before replying, the first `times` times; then accepts.

    The client cannot tell whether such a message was delivered: it is not recorded here.
    """

    def __init__(self, times: int = 1) -> None:
        super().__init__()
        self.drops_left = times

    async def handle_DATA(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        with self._changed:
            drop = self.drops_left > 0
            if drop:
                self.drops_left -= 1
        if not drop:
            return self.accept(session, envelope)
        assert server.transport is not None
        server.transport.close()
        # connection_lost() cancels this coroutine: no reply is ever written.
        await asyncio.Event().wait()
        raise AssertionError("unreachable: the connection is closed")


class Slow(Recorder):
    """Takes `delay` seconds to answer the final dot of every message, then accepts it."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay

    async def handle_DATA(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        await asyncio.sleep(self.delay)  # a busy server filtering the message, not a sync point
        return self.accept(session, envelope)


class SlowReplies(Recorder):
    """Holds back every reply, the greeting included, by `delay` seconds; accepts every message."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.reply_delay = delay


class Unreliable(Recorder):
    """Refuses a share of messages with 451 at random (seeded), at RCPT or at the final dot."""

    def __init__(self, rate: float, seed: int) -> None:
        super().__init__()
        self.rate = rate
        self.random = random.Random(seed)
        self.transactions = 0
        self.refusals = 0

    async def handle_RCPT(  # noqa: N802
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        with self._changed:
            self.transactions += 1
            roll = self.random.random()
            if roll < self.rate:
                self.refusals += 1
        if roll < self.rate / 2:
            return "451 4.7.1 greylisted, try again later"
        session.refuse_data = roll < self.rate  # the other half is refused after the data
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        if getattr(session, "refuse_data", False):
            return TRY_AGAIN
        return self.accept(session, envelope)


class FalseStarttls(Recorder):
    """Offers STARTTLS in its EHLO reply but has no certificate: STARTTLS gets 454."""

    async def handle_EHLO(  # noqa: N802
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        offered = await super().handle_EHLO(server, session, envelope, hostname, responses)
        return [*offered[:-1], "250-STARTTLS", offered[-1]]


class _Server(SMTP):
    """aiosmtpd's server, holding each reply back by its handler's `reply_delay`."""

    async def push(self, status: Any) -> None:
        handler = self.event_handler
        line = status.decode() if isinstance(status, bytes) else str(status)
        last_line = line[3:4] != "-"  # a multi-line reply (EHLO) is held back once
        if handler.reply_delay and last_line and not handler.probing:
            await asyncio.sleep(handler.reply_delay)  # the fault itself, not a sync point
        await super().push(status)

    def eof_received(self) -> bool | None:
        closing = super().eof_received()
        if self.event_handler.reply_delay and self.transport is not None:
            self.transport.close()  # a client that gave up waiting has gone: so do we
        return closing


class _Controller(Controller):
    def factory(self) -> SMTP:
        return _Server(self.handler, **self.SMTP_kwargs)

    def _trigger_server(self) -> None:
        # Bound to port 0, the server learns its real port only now; the probe needs it.
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        # The probe gives up after a second: a slow server greets it at once.
        self.handler.probing = True
        try:
            super()._trigger_server()  # type: ignore[no-untyped-call]
        finally:
            self.handler.probing = False


class SmtpServer:
    """A running server: `host`, `port`, and its handler's records (context manager)."""

    def __init__(self, handler: Recorder, port: int = 0) -> None:
        self.handler = handler
        self.host = HOST
        self.port = port
        self._controller: _Controller | None = None

    @property
    def messages(self) -> list[Received]:
        return self.handler.messages

    @property
    def sessions(self) -> int:
        return self.handler.sessions

    def wait_for(self, count: int, timeout: float = WAIT) -> list[Received]:
        return self.handler.wait_for(count, timeout)

    def start(self) -> SmtpServer:
        controller = _Controller(
            self.handler, hostname=HOST, port=self.port, server_hostname="smtp.test"
        )
        controller.start()
        self._controller = controller
        self.port = controller.port
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def sink(port: int = 0) -> SmtpServer:
    """A server that accepts everything (`port` 0: any free port)."""
    return SmtpServer(Recorder(), port)


def flaky(refuse_first: int = 1, port: int = 0) -> SmtpServer:
    """A server that answers 451 to the first `refuse_first` messages."""
    return SmtpServer(Flaky(refuse_first), port)


def reject(recipient: str = REJECTED, port: int = 0) -> SmtpServer:
    """A server that refuses `recipient` with 550 at RCPT."""
    return SmtpServer(Reject(recipient), port)


def dropping(times: int = 1, port: int = 0) -> SmtpServer:
    """A server that hangs up mid-DATA the first `times` times."""
    return SmtpServer(Dropping(times), port)


def slow(delay: float, port: int = 0) -> SmtpServer:
    """A server that takes `delay` seconds to accept each message's data."""
    return SmtpServer(Slow(delay), port)


def slow_replies(delay: float, port: int = 0) -> SmtpServer:
    """A server that takes `delay` seconds over every reply, from the greeting to QUIT."""
    return SmtpServer(SlowReplies(delay), port)


def unreliable(rate: float = 0.3, seed: int = 0, port: int = 0) -> SmtpServer:
    """A server that refuses a share `rate` of messages with 451, picked at random from `seed`."""
    return SmtpServer(Unreliable(rate, seed), port)


def false_starttls(port: int = 0) -> SmtpServer:
    """A server that offers STARTTLS, then answers 454 when asked for it."""
    return SmtpServer(FalseStarttls(), port)


def free_port() -> int:
    """A loopback port where nothing listens (a server that is down); start one on it later."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def silent() -> Iterator[int]:
    """A port that takes connections (in the kernel's backlog) but never says a word."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind((HOST, 0))
        listener.listen(64)
        port: int = listener.getsockname()[1]
        yield port


# --- pytest fixtures ----------------------------------------------------------------------------


@pytest.fixture
def start_smtp() -> Iterator[Callable[[SmtpServer], SmtpServer]]:
    """Starts any server (e.g. `start_smtp(flaky(3))`); every one is stopped after the test."""
    started: list[SmtpServer] = []

    def start(server: SmtpServer) -> SmtpServer:
        started.append(server.start())
        return server

    yield start
    for server in reversed(started):
        server.stop()


@pytest.fixture
def smtp_sink() -> Iterator[SmtpServer]:
    with sink() as server:
        yield server


@pytest.fixture
def smtp_flaky() -> Iterator[SmtpServer]:
    """Answers 451 to the first message only."""
    with flaky(refuse_first=1) as server:
        yield server


@pytest.fixture
def smtp_reject() -> Iterator[SmtpServer]:
    """Refuses REJECTED with 550."""
    with reject(REJECTED) as server:
        yield server


@pytest.fixture
def smtp_dropping() -> Iterator[SmtpServer]:
    """Hangs up mid-DATA on the first message only."""
    with dropping(times=1) as server:
        yield server


@pytest.fixture
def smtp_silent_port() -> Iterator[int]:
    """A port whose server never greets: every connection attempt times out."""
    with silent() as port:
        yield port


@pytest.fixture
def smtp_down_port() -> int:
    """A port where nothing listens; `start_smtp(sink(port))` brings a server up on it."""
    return free_port()
