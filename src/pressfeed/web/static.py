"""The output directory as `publish` wrote it: content types, caching, conditional requests
and gzip with an entity tag of its own."""

from __future__ import annotations

import datetime as dt
import gzip
import os
from collections import OrderedDict
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from pathlib import Path

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    Response,
)
from starlette.staticfiles import NotModifiedResponse, StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pressfeed.feeds import FeedFormat, feed_formats
from pressfeed.models import Settings

# Content types of the output files that are not feeds; feeds take theirs from the format table
# (every .json the publisher writes is a JSON Feed).
OTHER_TYPES = {
    ".opml": "text/x-opml; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
FEED_CACHE = "public, max-age=60"  # for the feeds and the OPML list
SMALL_FILE = 1024 * 1024  # bytes; a smaller output file is sent from one read
GZIP_MINIMUM = 500  # bytes; smaller responses go out as they are


GZIP_SUFFIX = "-gzip"  # appended inside the quotes of a tag: "abc" becomes "abc-gzip"


def gzip_tag(etag: str) -> str:
    """The entity tag of the gzip coding of the representation tagged `etag`."""
    return f'{etag[:-1]}{GZIP_SUFFIX}"' if etag.endswith('"') else etag


class CodingTags:
    """Gives the gzip coding of a response an entity tag of its own, and takes either tag back.

    RFC 9110 8.8.3: the gzip bytes and the plain bytes are two representations, and a cache
    given one tag for both may serve one for the other. Handlers tag the plain bytes: on the
    way in, If-None-Match loses the gzip suffix; on the way out, a gzip response, or a 304
    answering a gzip tag, gets it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        asked = _gzip_tags_asked(Headers(scope=scope).get("if-none-match", ""))
        if asked:
            scope = {**scope, "headers": _without_gzip_tags(scope["headers"])}

        async def send_tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                _tag_coding(MutableHeaders(raw=message["headers"]), message["status"], asked)
            await send(message)

        await self.app(scope, receive, send_tagged)


def _gzip_tags_asked(if_none_match: str) -> set[str]:
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return {tag for tag in tags if tag.endswith(f'{GZIP_SUFFIX}"')}


def _without_gzip_tags(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    suffix = f'{GZIP_SUFFIX}"'.encode()
    return [
        (name, value.replace(suffix, b'"') if name == b"if-none-match" else value)
        for name, value in headers
    ]


def _tag_coding(headers: MutableHeaders, status: int, asked: set[str]) -> None:
    """Suffixes the tag of a gzip response, or of a 304 that matched a gzip tag; sets Vary."""
    etag = headers.get("etag")
    if etag is None:
        return
    gzipped = headers.get("content-encoding") == "gzip"
    if gzipped or (status == 304 and gzip_tag(etag.removeprefix("W/")) in asked):
        headers["etag"] = gzip_tag(etag)
    if "accept-encoding" not in headers.get("vary", "").lower():
        headers.add_vary_header("Accept-Encoding")  # the tag depends on it, even for the plain


# --- static files -------------------------------------------------------------------------------


class _SmallFileResponse(FileResponse):
    """A whole small file, read at once on the event loop, sent in one message.

    FileResponse reads in a worker thread per 64 KB and watches for the client leaving in a
    task of its own: for a feed of a few hundred KB that costs more than the request itself.
    Ranges, HEAD and a file replaced since its stat go FileResponse's way.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = self._whole_body(scope)
        if body is None:
            await super().__call__(scope, receive, send)
            return
        headers = self.raw_headers
        if self._gzip_wanted(scope, body):
            assert self.stat_result is not None
            body = _GZIPPED.get((str(self.path), *_stat_key(self.stat_result)), body)
            headers = [(k, v) for k, v in headers if k != b"content-length"] + [
                (b"content-length", str(len(body)).encode()),
                (b"content-encoding", b"gzip"),
                (b"vary", b"Accept-Encoding"),
            ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _gzip_wanted(self, scope: Scope, body: bytes) -> bool:
        kind = (self.media_type or "").partition(";")[0].strip()
        text = kind.startswith("text/") or kind.endswith(("xml", "json"))
        accepts = "gzip" in Headers(scope=scope).get("accept-encoding", "")
        return text and accepts and len(body) >= GZIP_MINIMUM

    def _whole_body(self, scope: Scope) -> bytes | None:
        """The file's bytes when it is small, unchanged since its stat, and wanted whole."""
        known = self.stat_result
        plain = scope["method"] == "GET" and "range" not in Headers(scope=scope)
        if known is None or self.status_code != 200 or not plain or known.st_size > SMALL_FILE:
            return None
        with open(self.path, "rb") as stream:
            if _stat_key(os.fstat(stream.fileno())) != _stat_key(known):
                return None
            body = stream.read(SMALL_FILE + 1)
        return body if len(body) == known.st_size else None


def _stat_key(found: os.stat_result) -> tuple[int, int, int]:
    return found.st_ino, found.st_size, found.st_mtime_ns


class _GzipCache:
    """Each version of an output file compressed once, not once per request.

    A file is rewritten by replacing it, so its path, inode, size and modification time name
    one version; the least recently used versions go when the cache holds too many bytes."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self.entries: OrderedDict[tuple[str, int, int, int], bytes] = OrderedDict()

    def get(self, key: tuple[str, int, int, int], body: bytes) -> bytes:
        found = self.entries.get(key)
        if found is not None:
            self.entries.move_to_end(key)
            return found
        found = gzip.compress(body, compresslevel=6, mtime=0)
        self.entries[key] = found
        self.size += len(found)
        while self.size > self.limit and len(self.entries) > 1:
            self.size -= len(self.entries.popitem(last=False)[1])
        return found


_GZIPPED = _GzipCache(limit=32 * 1024 * 1024)


class _OutputFiles(StaticFiles):
    """StaticFiles with our content types and feed caching; a missing directory serves 404s."""

    async def check_config(self) -> None:
        return None  # the output directory appears with the first publish

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        suffix = Path(full_path).suffix.lower()
        form = format_with_suffix(suffix)
        cached = form is not None or suffix == ".opml"
        response = _SmallFileResponse(
            full_path,
            status_code=status_code,
            stat_result=stat_result,
            media_type=form.content_type if form else OTHER_TYPES.get(suffix),
            headers={"Cache-Control": FEED_CACHE} if cached else None,
        )
        if self.is_not_modified(response.headers, Headers(scope=scope)):
            return NotModifiedResponse(response.headers)
        return response


class Output:
    """The output directory of the current settings; a reload may move it."""

    def __init__(self, get_settings: Callable[[], Settings]) -> None:
        self.get_settings = get_settings
        self.served: tuple[Path, _OutputFiles] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        directory = self.get_settings().output_dir
        if self.served is None or self.served[0] != directory:
            self.served = (directory, _OutputFiles(directory=directory, html=True, check_dir=False))
        await self.served[1](scope, receive, send)


def format_with_suffix(suffix: str) -> FeedFormat | None:
    return next((f for f in feed_formats() if f.suffix == suffix), None)


def not_modified(request: Request, etag: str, updated: dt.datetime) -> bool:
    """RFC 9110 13.1: If-None-Match decides when sent, else If-Modified-Since."""
    if tags := request.headers.get("if-none-match"):
        listed = {tag.strip().removeprefix("W/") for tag in tags.split(",")}
        return "*" in listed or etag in listed
    try:
        since = parsedate_to_datetime(request.headers.get("if-modified-since", ""))
    except (TypeError, ValueError):
        return False
    if since.tzinfo is None:
        since = since.replace(tzinfo=dt.UTC)  # "-0000" parses naive; HTTP dates are GMT
    return updated.replace(microsecond=0) <= since
