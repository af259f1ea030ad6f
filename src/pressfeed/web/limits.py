"""What one request may hold: a request larger than any of ours is refused before it is read."""

from __future__ import annotations

import logging

from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect
from starlette.responses import (
    PlainTextResponse,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)


# What one request may hold. The server (h11) refuses a head over MAX_HEAD_BYTES that arrives in
# pieces; Limits checks the head that arrived whole, the URL and the body.
MAX_HEAD_BYTES = 16 * 1024
MAX_HEADERS = 100
MAX_TARGET_BYTES = 4 * 1024  # path and query; a token link is about 100 bytes
MAX_BODY_BYTES = 64 * 1024  # our largest form, every topic ticked, is under 4 KB


class _BodyTooLargeError(Exception):
    """The request body went past MAX_BODY_BYTES while it was read."""


class Limits:
    """Refuses requests larger than any of ours, before reading them; a body is counted as read.

    A refusal closes the connection: the client may still be sending, and what it sends next
    must not be taken for a new request. A client that goes away mid-request is no error.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = _oversized(scope)
        if status is not None:
            await _refuse(status, scope, receive, send)
            return
        counted = 0
        started = False

        async def receive_counted() -> Message:
            nonlocal counted
            message = await receive()
            counted += len(message.get("body", b""))
            if counted > MAX_BODY_BYTES:
                raise _BodyTooLargeError
            return message

        async def send_watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive_counted, send_watched)
        except _BodyTooLargeError:
            if started:
                raise
            await _refuse(413, scope, receive, send)
        except ClientDisconnect:
            log.debug("client went away mid-request: %s %s", scope["method"], scope["path"])


def _oversized(scope: Scope) -> int | None:
    """The status refusing a request whose head, URL or declared body is too large, or None."""
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    target = len(scope.get("raw_path", b"")) + len(scope["query_string"])
    head = target + sum(len(name) + len(value) + 4 for name, value in headers)
    if len(headers) > MAX_HEADERS or head > MAX_HEAD_BYTES:
        return 431
    if target > MAX_TARGET_BYTES:
        return 414
    length = Headers(scope=scope).get("content-length", "0")
    return 413 if length.isdigit() and int(length) > MAX_BODY_BYTES else None


async def _refuse(status: int, scope: Scope, receive: Receive, send: Send) -> None:
    log.warning("request refused (%d): %s %s", status, scope["method"], scope["path"][:200])
    headers = {"Connection": "close", "Cache-Control": "no-store"}
    response = PlainTextResponse(_REFUSALS[status], status_code=status, headers=headers)
    await response(scope, receive, send)


_REFUSALS = {
    413: "Request body too large.\n",
    414: "URL too long.\n",
    431: "Request headers too large.\n",
}
