"""The search page (`/search?q=...`) and a search feed per format (`/search.atom?q=...`).

Answers are kept per query in its normal form, format and store version: a search asked again
before the releases change costs one read of the version, and a client holding its ETag gets
304. A search is bounded: the query's length and terms (`query`), `MAX_RESULTS` releases and
`SEARCH_SECONDS` of work, past which the answer is 503.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import format_datetime

from sqlalchemy import Connection, Engine
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.staticfiles import NotModifiedResponse

from pressfeed import store
from pressfeed.errors import QueryError, SearchTimeoutError, SearchUnavailableError
from pressfeed.feeds import FeedFormat, feed_formats
from pressfeed.models import FeedDoc, SearchQuery, Settings
from pressfeed.publish import EPOCH, last_change
from pressfeed.query import MAX_LENGTH, MAX_TERMS, parse_query, query_text
from pressfeed.search import search_index
from pressfeed.site import SEARCH_PATH, page_url, search_doc, search_links, site_for
from pressfeed.templating import environment, render
from pressfeed.web.static import FEED_CACHE, not_modified

log = logging.getLogger(__name__)

MAX_RESULTS = 50  # releases a search page or feed lists
SEARCH_SECONDS = 2.0  # of database work per search, past which it stops with 503
RETRY_AFTER = 30  # seconds, after a search stopped for taking too long
CACHED_ANSWERS = 256  # searches kept, the least recently asked dropped first
PAGE_KIND = "html"
# As the other pages of the service, but the same for everyone: cacheable.
PAGE_HEADERS = {
    "Cache-Control": FEED_CACHE,
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self' 'unsafe-inline'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
}


@dataclass(frozen=True)
class _Answer:
    """A search's response body as it goes out, and what tags it."""

    settings: Settings  # the settings it was made with (held, so its id stays its own)
    body: bytes
    etag: str
    updated: dt.datetime


class _Answers:
    """The latest searches' answers, by (kind, normal query, store version, settings id)."""

    def __init__(self, size: int = CACHED_ANSWERS) -> None:
        self.size = size
        self._kept: OrderedDict[tuple[str, str, int, int], _Answer] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str, int, int]) -> _Answer | None:
        with self._lock:
            found = self._kept.get(key)
            if found is not None:
                self._kept.move_to_end(key)
            return found

    def put(self, key: tuple[str, str, int, int], answer: _Answer) -> None:
        with self._lock:
            self._kept[key] = answer
            self._kept.move_to_end(key)
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)


def search_routes(get_settings: Callable[[], Settings], engine: Engine) -> list[BaseRoute]:
    """The search page's route and one route per feed format."""
    search = _Search(get_settings, engine)
    routes: list[BaseRoute] = [Route(f"/{SEARCH_PATH}", search.page, methods=["GET"])]
    for form in feed_formats():
        routes.append(Route(f"/{SEARCH_PATH}{form.suffix}", search.feed_of(form), methods=["GET"]))
    return routes


class _Search:
    def __init__(self, get_settings: Callable[[], Settings], engine: Engine) -> None:
        self.get_settings = get_settings
        self.engine = engine
        self.answers = _Answers()

    def feed_of(self, form: FeedFormat) -> Callable[[Request], Response]:
        def feed(request: Request) -> Response:
            return self.feed(request, form)

        return feed

    def feed(self, request: Request, form: FeedFormat) -> Response:
        settings = self.get_settings()
        asked = request.query_params.get("q", "")
        try:
            query = parse_query(asked, [t.slug for t in settings.topics])
            answer = self._answer(settings, (form.name, query_text(query)), query, form.render)
        except QueryError as error:
            return PlainTextResponse(f"{error}\n", status_code=400)
        except (SearchTimeoutError, SearchUnavailableError) as error:
            headers = {"Retry-After": str(RETRY_AFTER)}
            return PlainTextResponse(f"{error}\n", status_code=503, headers=headers)
        return _tagged(request, answer, form.content_type)

    def page(self, request: Request) -> Response:
        settings = self.get_settings()
        asked = request.query_params.get("q", "")
        if not asked.strip():
            return _untagged_page(settings, asked)
        try:
            query = parse_query(asked, [t.slug for t in settings.topics])
            answer = self._answer(
                settings,
                (PAGE_KIND, asked),  # the page shows the query as typed
                query,
                lambda doc: _page_bytes(settings, asked, doc, normal=query_text(query)),
                ranked=True,
            )
        except QueryError as error:
            return _untagged_page(settings, asked, str(error), status=400)
        except (SearchTimeoutError, SearchUnavailableError) as error:
            page = _untagged_page(settings, asked, str(error), status=503)
            page.headers["Retry-After"] = str(RETRY_AFTER)
            return page
        return _tagged(request, answer, "text/html; charset=utf-8", PAGE_HEADERS)

    def _answer(
        self,
        settings: Settings,
        asked: tuple[str, str],
        query: SearchQuery,
        rendered: Callable[[FeedDoc], bytes],
        *,
        ranked: bool = False,
    ) -> _Answer:
        """The answer to a search, from the kept ones while the store has not changed.

        `asked` is what tells answers apart besides the store: the kind of answer and a text
        of the query."""
        normal = query_text(query)
        with store.snapshot(self.engine) as connection:
            index = search_index(connection, timeout=SEARCH_SECONDS)
            key = (*asked, index.version(), id(settings))
            kept = self.answers.get(key)
            if kept is not None and kept.settings is settings:
                return kept
            ids = index.search(query, MAX_RESULTS, ranked=ranked)
            doc = _found_doc(settings, connection, normal, ids)
        body = rendered(doc)
        etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
        answer = _Answer(settings, body, etag, doc.updated)
        self.answers.put(key, answer)
        log.debug("search %r answered with %d releases", normal, len(ids))
        return answer


def _found_doc(settings: Settings, connection: Connection, normal: str, ids: list[str]) -> FeedDoc:
    """The releases found, in the order found, as a feed document."""
    found = store.releases_by_id(connection, ids)
    releases = [found[rid] for rid in ids if rid in found]
    ranks = store.arrival_ranks(connection, ids)
    empty = EPOCH if releases else last_change(connection, dt.datetime.now(dt.UTC))
    return search_doc(settings, normal, releases, ranks, empty=empty)


def _untagged_page(
    settings: Settings, asked: str, problem: str | None = None, *, status: int = 200
) -> Response:
    """The search page with no search run: the form alone, or saying why the query cannot."""
    body = _page_bytes(settings, asked, None, problem)
    headers = PAGE_HEADERS if status == 200 else {**PAGE_HEADERS, "Cache-Control": "no-store"}
    return HTMLResponse(body, status_code=status, headers=headers)


def _page_bytes(
    settings: Settings,
    asked: str,
    doc: FeedDoc | None,
    problem: str | None = None,
    *,
    normal: str = "",
) -> bytes:
    """The search page: the form holding what was asked, and the releases found (a search for
    `normal`, the query's normal form) or why not."""
    site = site_for(settings)
    links = search_links(settings, normal) if doc else None
    html = render(
        environment([settings.templates_dir]),
        "search.html",
        site=site,
        feeds=(links,) if links else (site.all_links,),
        canonical=links.html if links else page_url(settings, SEARCH_PATH),
        action=page_url(settings, SEARCH_PATH),
        asked=asked,
        search_feeds=links,
        entries=doc.entries if doc else None,
        max_results=MAX_RESULTS,
        max_length=MAX_LENGTH,
        max_terms=MAX_TERMS,
        problem=problem,
    )
    return html.encode()


def _tagged(
    request: Request, answer: _Answer, media_type: str, headers: dict[str, str] | None = None
) -> Response:
    tags = {
        **(headers or {"Cache-Control": FEED_CACHE}),
        "ETag": answer.etag,
        "Last-Modified": format_datetime(answer.updated.astimezone(dt.UTC), usegmt=True),
    }
    response = Response(answer.body, media_type=media_type, headers=tags)
    if not_modified(request, answer.etag, answer.updated):
        return NotModifiedResponse(response.headers)
    return response
