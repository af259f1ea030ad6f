"""HTTP: the output directory, feeds of topic combinations, and the subscription pages.

Static files come from the output directory as `publish` wrote them; everything else is built
per request from the store. Settings are asked for on every request, so a config reload takes
effect at once. Subscription pages never tell whether an address is subscribed: a sign-up gets
the same page whatever the address's state, and mail goes only to the address itself. Every
request is bounded before it is read: its head, its URL and its body.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import logging
import os
import zoneinfo
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from sqlalchemy import Connection, Engine
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.convertors import Convertor, register_url_convertor
from starlette.datastructures import FormData, Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    Response,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import NotModifiedResponse, StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pressfeed import store, tokens
from pressfeed.digest import mail_settings
from pressfeed.errors import MailAddressError
from pressfeed.feeds import FeedFormat, feed_format, feed_formats
from pressfeed.mail import chosen_topics
from pressfeed.models import FeedDoc, MailSettings, Settings, StoredRelease, Subscriber
from pressfeed.pages import render_stylesheet
from pressfeed.publish import EPOCH, last_change
from pressfeed.site import (
    CONFIRM_PATH,
    MANAGE_PATH,
    STYLESHEET_PATH,
    SUBSCRIBE_PATH,
    UNSUBSCRIBE_PATH,
    combined_doc,
    feed_links,
    feed_path,
    manage_url,
    page_url,
    site_for,
    unsubscribe_url,
)
from pressfeed.subscriptions import (
    CONFIRM,
    CONFIRM_VALID,
    SIGN_UP_WINDOW,
    WEEKDAYS,
    Choice,
    SignUpLimits,
    SignUpOutcome,
    SubscriptionError,
    choice_problems,
    sign_up,
    subscriber_from,
    with_choices,
)
from pressfeed.templating import environment, render, schedule

log = logging.getLogger(__name__)

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
# Pages answering a person: never cached (they hold per-subscriber state), never framed (a
# framed form invites clickjacking), and their token-bearing URL never sent to another site.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self' 'unsafe-inline'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
}
TIMEZONES = tuple(sorted(zoneinfo.available_timezones()))  # the manage form's choices
RETRY_SIGN_UP = int(SIGN_UP_WINDOW.total_seconds())  # the Retry-After of a refused sign-up
FORM_FIELDS = 200  # more than any of our forms can send
# What one request may hold. The server (h11) refuses a head over MAX_HEAD_BYTES that arrives in
# pieces; _Limits checks the head that arrived whole, the URL and the body.
MAX_HEAD_BYTES = 16 * 1024
MAX_HEADERS = 100
MAX_TARGET_BYTES = 4 * 1024  # path and query; a token link is about 100 bytes
MAX_BODY_BYTES = 64 * 1024  # our largest form, every topic ticked, is under 4 KB


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _nothing() -> None:
    return None


def create_app(
    get_settings: Callable[[], Settings],
    engine: Engine,
    *,
    now: Callable[[], dt.datetime] = _utc_now,
    on_mail: Callable[[], None] = _nothing,
) -> Starlette:
    """The web app: dynamic routes first, then the output directory at "/".

    `get_settings` is called on every request. `on_mail` is called on the server's event loop
    after a confirmation mail is recorded in the outbox, once the page answering the sign-up has
    gone out: it should start delivery, not wait for it.
    """
    web = _Web(get_settings, engine, now, on_mail)
    routes = [
        Route("/healthz", web.health, methods=["GET"]),
        Route("/{slugs:pressfeed_topics}.{kind:pressfeed_feed}", web.combination, methods=["GET"]),
        Route(f"/{STYLESHEET_PATH}", web.stylesheet, methods=["GET"]),
        Route(f"/{SUBSCRIBE_PATH}", web.sign_up_page, methods=["GET"]),
        Route(f"/{SUBSCRIBE_PATH}", web.subscribe, methods=["POST"]),
        Route(f"/{CONFIRM_PATH}", web.confirm_page, methods=["GET"]),
        Route(f"/{CONFIRM_PATH}", web.confirm, methods=["POST"]),
        Route(f"/{MANAGE_PATH}", web.manage, methods=["GET"]),
        Route(f"/{MANAGE_PATH}", web.change, methods=["POST"]),
        Route(f"/{UNSUBSCRIBE_PATH}", web.unsubscribe_page, methods=["GET"]),
        Route(f"/{UNSUBSCRIBE_PATH}", web.unsubscribe, methods=["POST"]),
        Mount("/", app=_Output(get_settings)),
    ]
    middleware = [
        Middleware(_Limits),
        Middleware(_CodingTags),
        Middleware(GZipMiddleware, minimum_size=GZIP_MINIMUM),
    ]
    return Starlette(routes=routes, middleware=middleware, exception_handlers={404: web.not_found})


# --- limits -------------------------------------------------------------------------------------


class _BodyTooLargeError(Exception):
    """The request body went past MAX_BODY_BYTES while it was read."""


class _Limits:
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


# --- entity tags of codings ---------------------------------------------------------------------

GZIP_SUFFIX = "-gzip"  # appended inside the quotes of a tag: "abc" becomes "abc-gzip"


def gzip_tag(etag: str) -> str:
    """The entity tag of the gzip coding of the representation tagged `etag`."""
    return f'{etag[:-1]}{GZIP_SUFFIX}"' if etag.endswith('"') else etag


class _CodingTags:
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
        form = _format_with_suffix(suffix)
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


class _Output:
    """The output directory of the current settings; a reload may move it."""

    def __init__(self, get_settings: Callable[[], Settings]) -> None:
        self.get_settings = get_settings
        self.served: tuple[Path, _OutputFiles] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        directory = self.get_settings().output_dir
        if self.served is None or self.served[0] != directory:
            self.served = (directory, _OutputFiles(directory=directory, html=True, check_dir=False))
        await self.served[1](scope, receive, send)


# --- feeds of topic combinations ----------------------------------------------------------------


class _TopicList(Convertor[tuple[str, ...]]):
    """Two or more topic slugs joined by "+": one slug alone is a static file."""

    regex = r"[a-z0-9][a-z0-9-]*(?:\+[a-z0-9][a-z0-9-]*)+"

    def convert(self, value: str) -> tuple[str, ...]:
        return tuple(value.split("+"))

    def to_string(self, value: tuple[str, ...]) -> str:
        return "+".join(value)


def _format_with_suffix(suffix: str) -> FeedFormat | None:
    return next((f for f in feed_formats() if f.suffix == suffix), None)


class _FeedKind(Convertor[str]):
    """Any name a format could have: the handler answers the format table's only."""

    regex = "[a-z0-9]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("pressfeed_topics", _TopicList())
register_url_convertor("pressfeed_feed", _FeedKind())


def combination_doc(settings: Settings, connection: Connection, slugs: Sequence[str]) -> FeedDoc:
    """The releases carrying any of `slugs`, newest first; the id ignores the slugs' order."""
    releases = _newest_first(
        {
            stored.release.id: stored
            for slug in slugs
            for stored in store.feed_releases(connection, slug, limit=settings.feed_length)
        }.values()
    )[: settings.feed_length]
    ranks = store.arrival_ranks(connection, [stored.release.id for stored in releases])
    empty = EPOCH if releases else last_change(connection, _utc_now())
    return combined_doc(settings, slugs, releases, ranks, empty=empty)


def _newest_first(releases: Iterable[StoredRelease]) -> list[StoredRelease]:
    """The store's feed order: dated before dated by the file, then date, then arrival, newest
    first; ties by id."""
    ordered = sorted(releases, key=lambda s: s.release.id)
    # stable: ids stay
    ordered.sort(
        key=lambda s: (not s.release.date_inferred, s.release.date, s.first_seen), reverse=True
    )
    return ordered


def _not_modified(request: Request, etag: str, updated: dt.datetime) -> bool:
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


# --- pages --------------------------------------------------------------------------------------


def _page(settings: Settings, name: str, path: str, status: int = 200, **values: Any) -> Response:
    """Template `name` as the page at `path` (its canonical URL leaves out the token)."""
    site = site_for(settings)
    env = environment([settings.templates_dir])
    html = render(
        env, name, site=site, feeds=(site.all_links,), canonical=page_url(settings, path), **values
    )
    return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)


def _invalid_link(settings: Settings, path: str) -> Response:
    """One answer for every link that does not work: forged, cut short, expired or used up."""
    return _page(settings, "link_invalid.html", path, 404)


@dataclass(frozen=True)
class _Origin:
    scheme: str
    host: str
    port: int | None

    @classmethod
    def of(cls, url: str) -> _Origin:
        parts = urlsplit(url.strip())
        try:
            port = parts.port
        except ValueError:
            return cls("", "", None)
        scheme = parts.scheme.lower()
        return cls(scheme, (parts.hostname or "").lower(), port or _DEFAULT_PORTS.get(scheme))


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _from_our_site(request: Request, settings: Settings) -> bool:
    """False when the browser says the form was posted from another origin.

    Browsers send Origin with every cross-site POST ("null" from opaque origins, which fails);
    with neither Origin nor Referer the request is not a browser's cross-site form.
    """
    claimed = request.headers.get("origin") or request.headers.get("referer")
    return claimed is None or _Origin.of(claimed) == _Origin.of(settings.site_url)


def _form_values(form: FormData, name: str) -> list[str]:
    return [value for value in form.getlist(name) if isinstance(value, str)]


def _form_text(form: FormData, name: str, default: str = "") -> str:
    value = form.get(name, default)
    return value if isinstance(value, str) else default


def _saved_choice(subscriber: Subscriber) -> Choice:
    """A subscriber's choices as the manage form sends them."""
    return Choice(
        address=subscriber.address,
        topics=",".join(subscriber.topics),
        frequency=subscriber.frequency.value,
        hour=str(subscriber.hour),
        weekday=WEEKDAYS[subscriber.weekday],
        timezone=subscriber.timezone,
    )


def _choice(form: FormData, address: str) -> Choice:
    """What a subscription form asks for; unchecked topic boxes mean every topic."""
    return Choice(
        address=address,
        topics=",".join(_form_values(form, "topics")),
        frequency=_form_text(form, "frequency", "daily"),
        hour=_form_text(form, "hour"),
        weekday=_form_text(form, "weekday", "monday"),
        timezone=_form_text(form, "timezone"),
    )


# --- the application ----------------------------------------------------------------------------


class _Web:
    """The endpoints, sharing the settings source, the store, the clock and the rate limit."""

    def __init__(
        self,
        get_settings: Callable[[], Settings],
        engine: Engine,
        now: Callable[[], dt.datetime],
        on_mail: Callable[[], None],
    ) -> None:
        self.get_settings = get_settings
        self.engine = engine
        self.now = now
        self.on_mail = on_mail
        self.sign_up_limits = SignUpLimits()

    def not_found(self, request: Request, exc: Exception) -> Response:
        """Every 404 as a page of the site; a missing feed lists the topics there are."""
        settings = self.get_settings()
        name = request.url.path.removeprefix("/")
        stem, _, kind = name.rpartition(".")
        is_feed = feed_format(kind) is not None
        asked = stem.split("+") if is_feed and stem and "/" not in stem else []
        known = {t.slug for t in settings.topics}
        topics = [feed_links(settings, t.slug) for t in settings.topics] if asked else []
        unknown = [slug for slug in asked if slug not in known]
        example = feed_path("+".join(t.slug for t in settings.topics[:2]), feed_formats()[0])
        path = quote(name, safe="/+.")
        return _page(
            settings,
            "not_found.html",
            path,
            404,
            topics=topics,
            unknown=unknown,
            example=example,
            example_url=page_url(settings, example),
        )

    def health(self, request: Request) -> Response:
        with self.engine.connect() as connection:
            count = store.release_count(connection)
        return JSONResponse({"status": "ok", "releases": count})

    def combination(self, request: Request) -> Response:
        settings = self.get_settings()
        slugs: tuple[str, ...] = request.path_params["slugs"]
        form = feed_format(request.path_params["kind"])
        known = {t.slug for t in settings.topics}
        if form is None or len(set(slugs)) != len(slugs) or not known.issuperset(slugs):
            raise HTTPException(404)
        with self.engine.connect() as connection:
            doc = combination_doc(settings, connection, slugs)
        body = form.render(doc)
        etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
        headers = {
            "ETag": etag,
            "Last-Modified": format_datetime(doc.updated.astimezone(dt.UTC), usegmt=True),
            "Cache-Control": FEED_CACHE,
        }
        response = Response(body, media_type=form.content_type, headers=headers)
        if _not_modified(request, etag, doc.updated):
            return NotModifiedResponse(response.headers)
        return response

    def stylesheet(self, request: Request) -> Response:
        """The site's stylesheet, as publish writes it, so that it exists before a publish."""
        css = render_stylesheet(environment([self.get_settings().templates_dir]))
        etag = f'"{hashlib.sha256(css.encode()).hexdigest()[:32]}"'
        headers = {"ETag": etag, "Cache-Control": FEED_CACHE}
        response = Response(css, media_type="text/css; charset=utf-8", headers=headers)
        if _not_modified(request, etag, EPOCH):
            return NotModifiedResponse(response.headers)
        return response

    def sign_up_page(self, request: Request) -> Response:
        settings = self.get_settings()
        return _page(settings, "sign_up.html", SUBSCRIBE_PATH, topics=settings.topics)

    async def subscribe(self, request: Request) -> Response:
        settings = self.get_settings()
        if not _from_our_site(request, settings):
            problem = "The form was sent from another site. Please use the form on our index page."
            return _page(settings, "subscribed.html", SUBSCRIBE_PATH, 403, problem=problem)
        form = await request.form(max_files=0, max_fields=FORM_FIELDS)
        choice = _choice(form, _form_text(form, "address"))
        client = request.client.host if request.client else "unknown"
        try:
            outcome = await run_in_threadpool(self._sign_up, settings, choice, client)
        except SubscriptionError as error:
            return _page(settings, "subscribed.html", SUBSCRIBE_PATH, 400, problem=str(error))
        except MailAddressError as error:  # passed our checks, but the mail cannot carry it
            problem = f"We cannot send mail to {error.address!r}."
            return _page(settings, "subscribed.html", SUBSCRIBE_PATH, 400, problem=problem)
        if outcome is SignUpOutcome.LIMITED:
            limited = _page(settings, "sign_up_limited.html", SUBSCRIBE_PATH, 429)
            limited.headers["Retry-After"] = str(RETRY_SIGN_UP)
            return limited
        page = _page(settings, "subscribed.html", SUBSCRIBE_PATH, problem=None)
        if outcome is SignUpOutcome.MAILED:  # once the page is sent, not to slow the answer
            page.background = BackgroundTask(self._mail)
        return page

    def _sign_up(self, settings: Settings, choice: Choice, client: str) -> SignUpOutcome:
        mail = mail_settings(settings, self.engine)
        limits = self.sign_up_limits
        return sign_up(self.engine, settings, mail, limits, choice, client=client, now=self.now())

    async def _mail(self) -> None:
        self.on_mail()  # on the event loop, as create_app promises

    def confirm_page(self, request: Request) -> Response:
        """A button to press: link scanners fetch URLs in mail, and must not confirm anybody."""
        settings = self.get_settings()
        mail = mail_settings(settings, self.engine)
        token = request.query_params.get("token", "")
        with self.engine.connect() as connection:
            if self._to_confirm(mail, connection, token) is None:
                return _invalid_link(settings, CONFIRM_PATH)
        action = page_url(settings, CONFIRM_PATH)
        return _page(settings, "confirm_page.html", CONFIRM_PATH, action=action, token=token)

    async def confirm(self, request: Request) -> Response:
        """The button of the confirmation page; the only request that confirms."""
        settings = self.get_settings()
        form = await request.form(max_files=0, max_fields=FORM_FIELDS)
        token = _form_text(form, "token") or request.query_params.get("token", "")
        return await run_in_threadpool(self._confirm, settings, token)

    def _confirm(self, settings: Settings, token: str) -> Response:
        mail = mail_settings(settings, self.engine)  # before the write lock: it may take it
        with self.engine.begin() as connection:
            subscriber = self._to_confirm(mail, connection, token)
            if subscriber is None:
                return _invalid_link(settings, CONFIRM_PATH)
            # covered_until stays empty: the first digest covers everything since sign-up.
            store.save_subscriber(connection, replace(subscriber, confirmed=True))
        log.info("subscriber confirmed: %s", subscriber.id)
        titles = {t.slug: t.title for t in settings.topics}
        return _page(
            settings,
            "confirmed.html",
            CONFIRM_PATH,
            manage_url=manage_url(mail, subscriber.token),
            topics=chosen_topics(subscriber, titles),
            when=schedule(
                subscriber.frequency.value, subscriber.hour, subscriber.weekday, subscriber.timezone
            ),
        )

    def _to_confirm(
        self, mail: MailSettings, connection: Connection, token: str
    ) -> Subscriber | None:
        """The unconfirmed subscriber a live confirmation token names, or None.

        A confirmed subscriber gives None too: a link used once and opened again gets the
        answer a forged one gets, and changes nothing.
        """
        subscriber_id = tokens.verify(
            mail.secret, CONFIRM, token, now=self.now(), max_age=CONFIRM_VALID
        )
        if subscriber_id is None:
            return None
        subscriber = store.subscriber_by_id(connection, subscriber_id)
        return subscriber if subscriber is not None and not subscriber.confirmed else None

    def manage(self, request: Request) -> Response:
        settings = self.get_settings()
        with self.engine.connect() as connection:
            subscriber = store.subscriber_by_token(
                connection, request.query_params.get("token", "")
            )
        if subscriber is None:
            return _invalid_link(settings, MANAGE_PATH)
        return self._manage_page(settings, subscriber)

    async def change(self, request: Request) -> Response:
        settings = self.get_settings()
        form = await request.form(max_files=0, max_fields=FORM_FIELDS)
        token = _form_text(form, "token")
        return await run_in_threadpool(self._change, settings, request, form, token)

    def _change(self, settings: Settings, request: Request, form: FormData, token: str) -> Response:
        with self.engine.begin() as connection:
            subscriber = store.subscriber_by_token(connection, token) if token else None
            if subscriber is None:
                return _invalid_link(settings, MANAGE_PATH)
            if not _from_our_site(request, settings):
                problem = "The form was sent from another site; nothing was changed."
                return self._manage_page(settings, subscriber, 403, problem=problem)
            choice = _choice(form, subscriber.address)
            try:
                wanted = subscriber_from(choice, settings, now=self.now(), confirmed=True)
            except SubscriptionError:
                problems = choice_problems(choice, settings)
                return self._manage_page(
                    settings, subscriber, 400, chosen=choice, problems=problems
                )
            changed = with_choices(subscriber, wanted)
            store.save_subscriber(connection, changed)
        log.info("subscription changed: subscriber %s", subscriber.id)
        return self._manage_page(settings, changed, saved=True)

    def _manage_page(
        self,
        settings: Settings,
        subscriber: Subscriber,
        status: int = 200,
        *,
        saved: bool = False,
        problem: str | None = None,
        chosen: Choice | None = None,
        problems: Mapping[str, str] | None = None,
    ) -> Response:
        """The manage form showing `chosen` (else the saved choices), each problem by its field."""
        return _page(
            settings,
            "manage.html",
            MANAGE_PATH,
            status,
            subscriber=subscriber,
            topics=settings.topics,
            weekdays=WEEKDAYS,
            timezones=TIMEZONES,
            chosen=chosen or _saved_choice(subscriber),
            problems=problems or {},
            action=page_url(settings, MANAGE_PATH),
            unsubscribe_url=unsubscribe_url(settings, subscriber.token),
            saved=saved,
            problem=problem,
        )

    def unsubscribe_page(self, request: Request) -> Response:
        """A button to press: link scanners fetch URLs in mail, and must not end subscriptions."""
        settings = self.get_settings()
        token = request.query_params.get("token", "")
        with self.engine.connect() as connection:
            subscriber = store.subscriber_by_token(connection, token) if token else None
        if subscriber is None:
            return _invalid_link(settings, UNSUBSCRIBE_PATH)
        action = unsubscribe_url(settings, token)
        return _page(settings, "unsubscribe.html", UNSUBSCRIBE_PATH, action=action)

    async def unsubscribe(self, request: Request) -> Response:
        """RFC 8058 one-click, or the button of our page; an unknown token is already gone."""
        settings = self.get_settings()
        form = await request.form(max_files=0, max_fields=FORM_FIELDS)
        token = request.query_params.get("token") or _form_text(form, "token")
        await run_in_threadpool(self._unsubscribe, token)
        return _page(settings, "unsubscribed.html", UNSUBSCRIBE_PATH)

    def _unsubscribe(self, token: str) -> None:
        with self.engine.begin() as connection:
            subscriber = store.subscriber_by_token(connection, token) if token else None
            if subscriber is not None:
                store.delete_subscriber(connection, subscriber.id)
        if subscriber is not None:
            log.info("unsubscribed: subscriber %s", subscriber.id)
