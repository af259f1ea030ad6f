"""A minimal SMTP sink for benchmarks: aiosmtpd on loopback that counts what it accepts.

Run as its own process. It prints `port N` once it listens; each line `count` on its standard
input is answered with `messages M bytes B`; it stops when its standard input closes.

    python benchmarks/smtp_sink.py
"""

from __future__ import annotations

import asyncio
import sys

from aiosmtpd.smtp import SMTP, Envelope, Session

HOST = "127.0.0.1"


class Counter:
    """An aiosmtpd handler that accepts every message and keeps only counts."""

    def __init__(self) -> None:
        self.messages = 0
        self.bytes = 0

    async def handle_DATA(  # noqa: N802 (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        self.messages += 1
        self.bytes += len(envelope.original_content or b"")
        return "250 2.0.0 OK"


async def serve() -> None:
    """Listen on a free port, answer `count` requests, stop when standard input closes."""
    loop = asyncio.get_running_loop()
    counter = Counter()
    server = await loop.create_server(
        lambda: SMTP(counter, hostname="sink.test", ident="bench sink"), HOST, 0
    )
    port = server.sockets[0].getsockname()[1]
    print(f"port {port}", flush=True)
    commands = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(commands), sys.stdin)
    while line := await commands.readline():
        if line.strip() == b"count":
            print(f"messages {counter.messages} bytes {counter.bytes}", flush=True)
    server.close()


if __name__ == "__main__":
    asyncio.run(serve())
