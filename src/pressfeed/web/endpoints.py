"""The web app: its routes, and the pages answering the subscription forms.

Subscription pages never tell whether an address is subscribed: a sign-up gets the same page
whatever the address's state, and mail goes only to the address itself."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from email.utils import format_datetime
from typing import Any
from urllib.parse import quote

from sqlalchemy import Connection, Engine
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    Response,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import NotModifiedResponse

from pressfeed import store, tokens
from pressfeed.digest import mail_settings
from pressfeed.errors import MailAddressError
from pressfeed.feeds import feed_format, feed_formats
from pressfeed.mail import chosen_topics
from pressfeed.models import ALL_FEED, MailSettings, Settings, Subscriber
from pressfeed.pages import render_stylesheet
from pressfeed.publish import EPOCH
from pressfeed.site import (
    CONFIRM_PATH,
    HUB_PATH,
    MANAGE_PATH,
    STOP_TOPIC_PATH,
    STYLESHEET_PATH,
    SUBSCRIBE_PATH,
    UNSUBSCRIBE_PATH,
    feed_links,
    feed_path,
    manage_url,
    page_url,
    site_for,
    stop_topic_url,
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
    TopicStop,
    choice_problems,
    sign_up,
    stop_topic,
    subscriber_from,
    topics_without,
    with_choices,
)
from pressfeed.templating import environment, render, schedule
from pressfeed.web.combinations import combination_doc
from pressfeed.web.forms import (
    FORM_FIELDS,
    TIMEZONES,
    form_choice,
    form_text,
    from_our_site,
    saved_choice,
)
from pressfeed.web.hub import Hub
from pressfeed.web.limits import Limits
from pressfeed.web.search import search_routes
from pressfeed.web.static import FEED_CACHE, GZIP_MINIMUM, CodingTags, Output, not_modified

log = logging.getLogger(__name__)


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
RETRY_SIGN_UP = int(SIGN_UP_WINDOW.total_seconds())  # the Retry-After of a refused sign-up


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
    hub: Hub | None = None,
    role: Callable[[], str] | None = None,
) -> Starlette:
    """The web app: dynamic routes first, then the output directory at "/".

    `get_settings` is called on every request. `on_mail` is called on the server's event loop
    after a confirmation mail is recorded in the outbox, once the page answering the sign-up has
    gone out: it should start delivery, not wait for it. `hub` answers at /hub when given.
    `role` says whether this process leads (`leader` or `follower`), for /healthz to tell.
    """
    web = _Web(get_settings, engine, now, on_mail, role)
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
        *([Route(f"/{HUB_PATH}", hub.endpoint, methods=["POST"])] if hub else []),
        Route(f"/{STOP_TOPIC_PATH}", web.stop_topic_page, methods=["GET"]),
        Route(f"/{STOP_TOPIC_PATH}", web.stop_topic, methods=["POST"]),
        *search_routes(get_settings, engine),
        Mount("/", app=Output(get_settings)),
    ]
    middleware = [
        Middleware(Limits),
        Middleware(CodingTags),
        Middleware(GZipMiddleware, minimum_size=GZIP_MINIMUM),
    ]
    return Starlette(routes=routes, middleware=middleware, exception_handlers={404: web.not_found})


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


# --- the application ----------------------------------------------------------------------------


class _Web:
    """The endpoints, sharing the settings source, the store, the clock and the rate limit."""

    def __init__(
        self,
        get_settings: Callable[[], Settings],
        engine: Engine,
        now: Callable[[], dt.datetime],
        on_mail: Callable[[], None],
        role: Callable[[], str] | None = None,
    ) -> None:
        self.get_settings = get_settings
        self.engine = engine
        self.now = now
        self.on_mail = on_mail
        self.role = role
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
        answer: dict[str, object] = {"status": "ok", "releases": count}
        if self.role is not None:
            answer["role"] = self.role()
        return JSONResponse(answer)

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
        if not_modified(request, etag, doc.updated):
            return NotModifiedResponse(response.headers)
        return response

    def stylesheet(self, request: Request) -> Response:
        """The site's stylesheet, as publish writes it, so that it exists before a publish."""
        css = render_stylesheet(environment([self.get_settings().templates_dir]))
        etag = f'"{hashlib.sha256(css.encode()).hexdigest()[:32]}"'
        headers = {"ETag": etag, "Cache-Control": FEED_CACHE}
        response = Response(css, media_type="text/css; charset=utf-8", headers=headers)
        if not_modified(request, etag, EPOCH):
            return NotModifiedResponse(response.headers)
        return response

    def sign_up_page(self, request: Request) -> Response:
        settings = self.get_settings()
        return _page(settings, "sign_up.html", SUBSCRIBE_PATH, topics=settings.topics)

    async def subscribe(self, request: Request) -> Response:
        settings = self.get_settings()
        if not from_our_site(request, settings):
            problem = "The form was sent from another site. Please use the form on our index page."
            return _page(settings, "subscribed.html", SUBSCRIBE_PATH, 403, problem=problem)
        form = await request.form(max_files=0, max_fields=FORM_FIELDS)
        choice = form_choice(form, form_text(form, "address"))
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
        token = form_text(form, "token") or request.query_params.get("token", "")
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
        token = form_text(form, "token")
        return await run_in_threadpool(self._change, settings, request, form, token)

    def _change(self, settings: Settings, request: Request, form: FormData, token: str) -> Response:
        with self.engine.begin() as connection:
            subscriber = store.subscriber_by_token(connection, token) if token else None
            if subscriber is None:
                return _invalid_link(settings, MANAGE_PATH)
            if not from_our_site(request, settings):
                problem = "The form was sent from another site; nothing was changed."
                return self._manage_page(settings, subscriber, 403, problem=problem)
            choice = form_choice(form, subscriber.address)
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
            chosen=chosen or saved_choice(subscriber),
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
        token = request.query_params.get("token") or form_text(form, "token")
        await run_in_threadpool(self._unsubscribe, token)
        return _page(settings, "unsubscribed.html", UNSUBSCRIBE_PATH)

    def _unsubscribe(self, token: str) -> None:
        with self.engine.begin() as connection:
            subscriber = store.subscriber_by_token(connection, token) if token else None
            if subscriber is not None:
                store.delete_subscriber(connection, subscriber.id)
        if subscriber is not None:
            log.info("unsubscribed: subscriber %s", subscriber.id)

    def stop_topic_page(self, request: Request) -> Response:
        """A button to press, as for unsubscribing; the last topic gets the unsubscribe button."""
        settings = self.get_settings()
        token, slug = request.query_params.get("token", ""), request.query_params.get("topic", "")
        with self.engine.connect() as connection:
            subscriber = store.subscriber_by_token(connection, token) if token else None
        if subscriber is None or not _stoppable(settings, slug):
            return _invalid_link(settings, STOP_TOPIC_PATH)
        outcome, _ = stop_topic(subscriber, slug, settings)
        state = "ask" if outcome is TopicStop.STOPPED else _STOP_STATES[outcome]
        return self._stop_topic_answer(settings, subscriber, slug, state)

    async def stop_topic(self, request: Request) -> Response:
        """The button of the stop-topic page: the only request that stops a topic."""
        settings = self.get_settings()
        form = await request.form(max_files=0, max_fields=FORM_FIELDS)
        token = request.query_params.get("token") or form_text(form, "token")
        slug = request.query_params.get("topic") or form_text(form, "topic")
        return await run_in_threadpool(self._stop_topic, settings, request, token, slug)

    def _stop_topic(self, settings: Settings, request: Request, token: str, slug: str) -> Response:
        with self.engine.begin() as connection:
            subscriber = store.subscriber_by_token(connection, token) if token else None
            if subscriber is None or not _stoppable(settings, slug):
                return _invalid_link(settings, STOP_TOPIC_PATH)
            if not from_our_site(request, settings):
                problem = "The form was sent from another site; nothing was changed."
                return self._manage_page(settings, subscriber, 403, problem=problem)
            outcome, changed = stop_topic(subscriber, slug, settings)
            if outcome is TopicStop.STOPPED:
                store.save_subscriber(connection, changed)
        if outcome is TopicStop.STOPPED:
            log.info("topic %s stopped: subscriber %s", slug, subscriber.id)
        return self._stop_topic_answer(settings, subscriber, slug, _STOP_STATES[outcome])

    def _stop_topic_answer(
        self, settings: Settings, subscriber: Subscriber, slug: str, state: str
    ) -> Response:
        """The stop-topic page in `state`, for the subscriber as they were before stopping."""
        titles = {t.slug: t.title for t in settings.topics} | {ALL_FEED: NO_TOPIC}
        kept = replace(subscriber, topics=topics_without(subscriber, slug, settings))
        token = subscriber.token
        last = state == "last"  # its button unsubscribes: see templates/stop_topic.html
        return _page(
            settings,
            "stop_topic.html",
            STOP_TOPIC_PATH,
            state=state,
            topic=titles[slug],
            kept=chosen_topics(kept, titles) if kept.topics else "",
            every_topic=not subscriber.topics,
            action=unsubscribe_url(settings, token)
            if last
            else stop_topic_url(settings, token, slug),
            manage_url=manage_url(settings, token),
        )


NO_TOPIC = "releases that no topic carries"  # what the stop-topic page calls ALL_FEED
# The stop-topic page after its button was pressed; before, STOPPED shows the button ("ask").
_STOP_STATES = {
    TopicStop.STOPPED: "stopped",
    TopicStop.NOT_FOLLOWED: "not_followed",
    TopicStop.LAST_TOPIC: "last",
}


def _stoppable(settings: Settings, slug: str) -> bool:
    """Whether a stop-topic link names a section a digest can have."""
    return slug == ALL_FEED or settings.topic(slug) is not None
