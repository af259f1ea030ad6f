"""A minimal SMTP sink for benchmarks: aiosmtpd on loopback that counts what it accepts.

Run as its own process. It prints `port N` once it listens; each line `count` on its standard
input is answered with `messages M bytes B recipients R span S` (R: distinct recipients; S:
seconds from the first message accepted to the last); it stops when its standard input closes.
With `--delay S` it answers each message S seconds after its final dot, as a distant or busy
server does. `Sink` runs it from another script.

    python benchmarks/smtp_sink.py [--delay 0.05]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from aiosmtpd.smtp import SMTP, Envelope, Session

HOST = "127.0.0.1"


class Counter:
    """An aiosmtpd handler that accepts every message and keeps only counts."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.messages = 0
        self.bytes = 0
        self.recipients: set[str] = set()
        self.first = self.last = 0.0

    async def handle_DATA(  # noqa: N802 (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        self.last = time.monotonic()
        if not self.messages:
            self.first = self.last
        self.messages += 1
        self.bytes += len(envelope.original_content or b"")
        self.recipients.update(envelope.rcpt_tos)
        return "250 2.0.0 OK"


async def serve(delay: float) -> None:
    """Listen on a free port, answer `count` requests, stop when standard input closes."""
    loop = asyncio.get_running_loop()
    counter = Counter(delay)
    server = await loop.create_server(
        lambda: SMTP(counter, hostname="sink.test", ident="bench sink"), HOST, 0
    )
    port = server.sockets[0].getsockname()[1]
    print(f"port {port}", flush=True)
    commands = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(commands), sys.stdin)
    while line := await commands.readline():
        if line.strip() == b"count":
            counts = f"messages {counter.messages} bytes {counter.bytes}"
            span = counter.last - counter.first
            print(f"{counts} recipients {len(counter.recipients)} span {span:.6f}", flush=True)
    server.close()


@dataclass(frozen=True)
class Counts:
    messages: int
    bytes: int
    recipients: int
    span: float  # seconds from the first message accepted to the last


class Sink:
    """This script in its own process (context manager): its port and its counts."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.process: subprocess.Popen[str] | None = None
        self.port = 0

    def __enter__(self) -> Sink:
        command = [sys.executable, str(Path(__file__).resolve()), "--delay", str(self.delay)]
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        first = self._pipe(self.process.stdout).readline()
        if not first.startswith("port "):
            raise RuntimeError(f"the SMTP sink did not start: {first!r}")
        self.port = int(first.split()[1])
        return self

    def counts(self) -> Counts:
        """What the sink has accepted so far."""
        assert self.process is not None
        self._pipe(self.process.stdin).write("count\n")
        self._pipe(self.process.stdin).flush()
        words = self._pipe(self.process.stdout).readline().split()
        return Counts(int(words[1]), int(words[3]), int(words[5]), float(words[7]))

    def messages(self) -> int:
        """How many messages the sink has accepted so far."""
        return self.counts().messages

    def __exit__(self, *exc: object) -> None:
        assert self.process is not None
        self._pipe(self.process.stdin).close()
        self.process.wait(timeout=30)

    @staticmethod
    def _pipe(pipe: IO[str] | None) -> IO[str]:
        assert pipe is not None
        return pipe


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each reply")
    asyncio.run(serve(parser.parse_args().delay))
