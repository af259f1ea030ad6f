"""WebSub (W3C Recommendation): the hub's rules, verification of intent, and pushing feeds.

A publish records in the store which current feeds it rewrote, as tasks with no callback.
`Pusher` works through the tasks due: with an outside hub (`service.websub_hub`) it pings the
hub for each topic; with our own (`service.websub`) it turns each into one delivery per live
subscription, and POSTs the feed as published to each callback, signed when the subscriber gave
a secret. A failed attempt is tried again later with a growing wait; the tasks live in the
store, so what was not pushed when the service stopped is pushed when it starts again.

Subscriptions are accepted (202) and stored only once the callback has echoed a challenge, and
only for the site's own current feeds.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import hmac
import ipaddress
import logging
import secrets
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from sqlalchemy import Engine

from pressfeed import __version__, store
from pressfeed.errors import HubBusyError, HubRequestError
from pressfeed.models import Settings
from pressfeed.outbox import Backoff
from pressfeed.site import hub_url, topic_feeds

log = logging.getLogger(__name__)

MODES = ("subscribe", "unsubscribe")
LEASE_DEFAULT = 10 * 86_400  # seconds a subscription lasts when the subscriber asks no lease
LEASE_MIN = 300
LEASE_MAX = 30 * 86_400
MAX_CALLBACK = 2_048  # characters of a callback URL
MAX_SECRET = 199  # bytes: the Recommendation asks for less than 200
MAX_SUBSCRIPTIONS = 10_000  # live ones, all topics together
MAX_VERIFYING = 64  # verifications of intent in flight at once
MAX_CHALLENGE_REPLY = 1_024  # bytes of a verification answer read
TIMEOUT = 10.0  # seconds for one request to a callback or a hub
CONNECTIONS = 8  # requests out at once
BATCH = 100  # tasks read from the store at a time
DELIVERY_ATTEMPTS = 10  # then a delivery is dropped: the next change of the feed comes anyway
IDLE = 60.0  # seconds at most between two looks at the store for tasks due
RETRY = Backoff(first=dt.timedelta(seconds=30), longest=dt.timedelta(hours=1))
# What a request to a callback or a hub can fail with: no answer, or a URL httpx cannot send to.
_FAILED = (httpx.HTTPError, httpx.InvalidURL)

Clock = Callable[[], dt.datetime]


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# --- requests to the hub ------------------------------------------------------------------------


@dataclass(frozen=True)
class HubRequest:
    """A checked subscribe or unsubscribe request."""

    mode: str
    callback: str
    topic: str
    lease_seconds: int
    secret: str | None


def hub_request(fields: Mapping[str, str], settings: Settings) -> HubRequest:
    """The request the form fields make; HubRequestError naming the first field at fault."""
    mode = fields.get("hub.mode", "")
    if mode not in MODES:
        raise HubRequestError("hub.mode", f"must be subscribe or unsubscribe, got {mode!r}")
    return HubRequest(
        mode=mode,
        callback=_callback(fields.get("hub.callback", "")),
        topic=_topic(fields.get("hub.topic", ""), settings),
        lease_seconds=_lease(fields.get("hub.lease_seconds", "")),
        secret=_secret(fields.get("hub.secret")),
    )


def _callback(url: str) -> str:
    if not url:
        raise HubRequestError("hub.callback", "is missing")
    if len(url) > MAX_CALLBACK:
        raise HubRequestError("hub.callback", f"is longer than {MAX_CALLBACK} characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError on a port that is no number)
    except ValueError as error:
        raise HubRequestError("hub.callback", f"is not a URL ({error})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HubRequestError("hub.callback", f"must be an http:// or https:// URL, got {url!r}")
    if parts.fragment or any(c.isspace() or not c.isprintable() for c in url):
        raise HubRequestError("hub.callback", "must hold no fragment, space or control character")
    return url


def _topic(url: str, settings: Settings) -> str:
    if not url:
        raise HubRequestError("hub.topic", "is missing")
    if url not in topic_feeds(settings):
        raise HubRequestError(
            "hub.topic",
            f"{url[:200]!r} is not one of this site's feeds (such as {_example(settings)})",
        )
    return url


def _example(settings: Settings) -> str:
    return next(iter(topic_feeds(settings)))


def _lease(text: str) -> int:
    """The lease asked for, within the hub's bounds; the default when none is asked."""
    if not text:
        return LEASE_DEFAULT
    if not text.isascii() or not text.isdigit() or len(text) > 12:
        raise HubRequestError("hub.lease_seconds", f"must be a number of seconds, got {text!r}")
    return min(max(int(text), LEASE_MIN), LEASE_MAX)


def _secret(text: str | None) -> str | None:
    if text is None:
        return None
    if not text or len(text.encode()) > MAX_SECRET:
        raise HubRequestError("hub.secret", f"must be 1 to {MAX_SECRET} bytes long")
    return text


def signature(secret: str, body: bytes) -> str:
    """The X-Hub-Signature of a delivery: the method, "=", and the HMAC of the body in hex."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def link_header(hub: str, topic: str) -> str:
    """The Link header of a delivery: where to subscribe, and what was delivered."""
    return f'<{hub}>; rel="hub", <{topic}>; rel="self"'


# --- the pusher ---------------------------------------------------------------------------------


class Pusher:
    """Verifies subscriptions, and pings the hub or delivers feeds as the store asks.

    `run` works until `stop` is set, woken by `wake` after a publish; `push_due` is one pass.
    """

    def __init__(
        self,
        get_settings: Callable[[], Settings],
        engine: Engine,
        *,
        clock: Clock = _utc_now,
        retry: Backoff = RETRY,
        timeout: float = TIMEOUT,
    ) -> None:
        self.get_settings = get_settings
        self.engine = engine
        self.clock = clock
        self.retry = retry
        self.client = httpx.AsyncClient(
            timeout=timeout,
            follow_redirects=False,
            headers={"User-Agent": f"pressfeed/{__version__} (WebSub hub)"},
            limits=httpx.Limits(max_connections=CONNECTIONS),
        )
        self.woken = asyncio.Event()
        self.verifying: set[asyncio.Task[bool]] = set()

    async def close(self) -> None:
        """Stop the verifications in progress and close the connections."""
        for task in self.verifying:
            task.cancel()
        await self.verified()
        await self.client.aclose()

    def wake(self) -> None:
        """Look for tasks now: a publish has recorded some."""
        self.woken.set()

    # --- subscribing -----------------------------------------------------------------------

    async def subscribe(self, request: HubRequest) -> None:
        """Start verifying the request's intent, in the background; HubBusyError when the hub
        holds as many subscriptions, or verifies as many requests, as it takes."""
        if len(self.verifying) >= MAX_VERIFYING:
            raise HubBusyError("hub.callback", "too many verifications in progress; try later")
        await self.ensure_public(request.callback)
        if request.mode == "subscribe":
            await asyncio.to_thread(self._room_for, request)
        task = asyncio.get_running_loop().create_task(self.verify(request))
        self.verifying.add(task)
        task.add_done_callback(self.verifying.discard)

    async def verified(self) -> None:
        """Wait for the verifications in progress to end."""
        await asyncio.gather(*self.verifying, return_exceptions=True)

    async def ensure_public(self, callback: str) -> None:
        """HubRequestError unless every address the callback's host has is a public one, or
        the settings let the hub call this host and private networks.

        Anyone may subscribe: without this, anyone could have the hub send requests to the
        machines behind it (an intranet, a cloud's metadata service)."""
        if self.get_settings().service.websub_private_callbacks:
            return
        host = httpx.URL(callback).host
        try:
            found = await asyncio.get_running_loop().getaddrinfo(
                host, None, type=socket.SOCK_STREAM
            )
        except OSError as error:
            raise HubRequestError("hub.callback", f"{host} does not resolve ({error})") from None
        for *_, address in found:
            ip = ipaddress.ip_address(str(address[0]).partition("%")[0])
            if not ip.is_global:
                raise HubRequestError(
                    "hub.callback",
                    f"{host} is at {ip}, not a public address "
                    "(service.websub_private_callbacks lets the hub call those)",
                )

    def _room_for(self, request: HubRequest) -> None:
        now = self.clock()
        with self.engine.connect() as connection:
            known = store.websub_subscription(connection, request.callback, request.topic, now)
            count = store.websub_subscription_count(connection, now)
        if known is None and count >= MAX_SUBSCRIPTIONS:
            reason = f"the hub holds its most subscriptions ({MAX_SUBSCRIPTIONS}); try later"
            raise HubBusyError("hub.topic", reason)

    async def verify(self, request: HubRequest) -> bool:
        """Verify the subscriber's intent, then store or end the subscription; whether it was."""
        if not await self._intent(request):
            return False
        try:
            await asyncio.to_thread(self._apply, request)
        except Exception:  # a task of its own: nobody else would see it
            log.exception("websub %s verified but not stored: %s", request.mode, request.callback)
            return False
        log.info("websub %s verified: %s for %s", request.mode, request.callback, request.topic)
        return True

    async def _intent(self, request: HubRequest) -> bool:
        challenge = secrets.token_urlsafe(24)
        params = {"hub.mode": request.mode, "hub.topic": request.topic, "hub.challenge": challenge}
        if request.mode == "subscribe":
            params["hub.lease_seconds"] = str(request.lease_seconds)
        try:
            await self.ensure_public(request.callback)  # again: its name may point elsewhere by now
        except HubRequestError as error:
            log.warning("websub %s not verified: %s", request.mode, error)
            return False
        try:
            # The callback's own query stays: httpx's params= would replace it.
            url = httpx.URL(request.callback).copy_merge_params(params)
            async with self.client.stream("GET", url) as response:
                answer = await _read_at_most(response, MAX_CHALLENGE_REPLY)
        except _FAILED as error:
            log.warning("websub %s not verified: %s: %s", request.mode, request.callback, error)
            return False
        if not response.is_success or answer.strip() != challenge.encode():
            log.warning(
                "websub %s not verified: %s answered %d without the challenge",
                request.mode,
                request.callback,
                response.status_code,
            )
            return False
        return True

    def _apply(self, request: HubRequest) -> None:
        now = self.clock()
        with self.engine.begin() as connection:
            if request.mode == "unsubscribe":
                store.delete_websub_subscription(connection, request.callback, request.topic)
                return
            expires = now + dt.timedelta(seconds=request.lease_seconds)
            subscription = store.WebSubSubscription(
                request.callback, request.topic, request.secret, request.lease_seconds, expires
            )
            store.save_websub_subscription(connection, subscription, now)

    # --- pushing ---------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Push what is due until `stop` is set; a failure is logged and the loop goes on."""
        while not stop.is_set():
            self.woken.clear()
            try:
                await self.push_due()
                wait = await asyncio.to_thread(self._seconds_to_next)
            except Exception:
                log.exception("websub push failed; tried again in %g s", IDLE)
                wait = IDLE
            await _first_of(stop, self.woken, wait)

    def _seconds_to_next(self) -> float:
        with self.engine.connect() as connection:
            due = store.next_websub_due(connection)
        if due is None:
            return IDLE
        return min(max((due - self.clock()).total_seconds(), 0.0), IDLE)

    async def push_due(self) -> int:
        """Do every task due now, until none is left due; how many were tried."""
        await asyncio.to_thread(self._expire)
        tried = 0
        while tasks := await asyncio.to_thread(self._due):
            settings = self.get_settings()
            hub = hub_url(settings)
            # Our own hub turns every changed topic into deliveries in one transaction.
            fan_out = hub is not None and not settings.service.websub_hub
            topics = [t for t in tasks if fan_out and not t.callback]
            if topics:
                await asyncio.to_thread(self._fan_out, topics)
            rest = [t for t in tasks if t not in topics]
            await asyncio.gather(*(self._do(settings, hub, task) for task in rest))
            tried += len(tasks)
        return tried

    def _expire(self) -> None:
        with self.engine.begin() as connection:
            if gone := store.delete_expired_websub_subscriptions(connection, self.clock()):
                log.info("websub: %d subscriptions expired", gone)

    def _due(self) -> list[store.WebSubTask]:
        with self.engine.connect() as connection:
            return store.due_websub_tasks(connection, self.clock(), BATCH)

    async def _do(self, settings: Settings, hub: str | None, task: store.WebSubTask) -> None:
        if hub is None:  # WebSub turned off: nothing to push any more
            await asyncio.to_thread(self._finish, task)
        elif task.callback:
            await self._deliver(settings, hub, task)
        else:
            await self._ping(hub, task)

    def _fan_out(self, topics: list[store.WebSubTask]) -> None:
        """Topics changed: one delivery to each of their live subscribers."""
        now = self.clock()
        with self.engine.begin() as connection:
            for task in topics:
                subscribers = store.websub_subscribers(connection, task.topic, now)
                store.add_websub_tasks(
                    connection, ((task.topic, s.callback) for s in subscribers), now
                )
                store.finish_websub_task(connection, task)

    async def _ping(self, hub: str, task: store.WebSubTask) -> None:
        """Tell the outside hub the topic changed; a hub that is down is pinged again later."""
        try:
            response = await self.client.post(
                hub, data={"hub.mode": "publish", "hub.url": task.topic}
            )
        except _FAILED as error:
            await self._defer(task, f"{type(error).__name__}: {error}", give_up=False)
            return
        if response.is_success:
            await asyncio.to_thread(self._finish, task)
            log.info("websub hub pinged for %s", task.topic)
        else:
            await self._defer(task, f"hub answered {response.status_code}", give_up=False)

    async def _deliver(self, settings: Settings, hub: str, task: store.WebSubTask) -> None:
        found = await asyncio.to_thread(self._content, settings, task)
        if found is None:
            await asyncio.to_thread(self._finish, task)
            return
        body, content_type, secret = found
        try:
            await self.ensure_public(task.callback)
        except HubRequestError as error:
            await self._defer(task, str(error), give_up=True)
            return
        headers = {"Content-Type": content_type, "Link": link_header(hub, task.topic)}
        if secret:
            headers["X-Hub-Signature"] = signature(secret, body)
        try:
            async with self.client.stream(
                "POST", task.callback, content=body, headers=headers
            ) as response:
                status = response.status_code
        except _FAILED as error:
            await self._defer(task, f"{type(error).__name__}: {error}", give_up=True)
            return
        if 200 <= status < 300:
            await asyncio.to_thread(self._finish, task)
            log.info("websub delivered %s to %s", task.topic, task.callback)
        elif status == 410:  # the subscriber says it is gone for good
            await asyncio.to_thread(self._end, task)
            log.info("websub subscription ended by its callback (410): %s", task.callback)
        else:
            await self._defer(task, f"callback answered {status}", give_up=True)

    def _content(
        self, settings: Settings, task: store.WebSubTask
    ) -> tuple[bytes, str, str | None] | None:
        """The feed as published, its content type and the subscriber's secret; None when the
        subscription or the feed is no more."""
        feed = topic_feeds(settings).get(task.topic)
        with self.engine.connect() as connection:
            live = store.websub_subscription(connection, task.callback, task.topic, self.clock())
        if feed is None or live is None:
            return None
        path, form = feed
        try:
            body = (settings.output_dir / path).read_bytes()
        except OSError as error:
            log.warning("websub: %s not delivered, its file cannot be read: %s", task.topic, error)
            return None
        return body, form.content_type, live.secret

    async def _defer(self, task: store.WebSubTask, error: str, *, give_up: bool) -> None:
        tries = task.attempts + 1
        target = task.callback or "the hub"
        if give_up and tries >= DELIVERY_ATTEMPTS:
            log.warning(
                "websub: %s for %s dropped after %d tries: %s", task.topic, target, tries, error
            )
            await asyncio.to_thread(self._finish, task)
            return
        wait = self.retry.delay(tries)
        log.warning(
            "websub: %s for %s failed (%s); tried again in %s", task.topic, target, error, wait
        )
        await asyncio.to_thread(self._defer_in_store, task, wait, error)

    def _defer_in_store(self, task: store.WebSubTask, wait: dt.timedelta, error: str) -> None:
        with self.engine.begin() as connection:
            store.defer_websub_task(connection, task, self.clock() + wait, error[:500])

    def _finish(self, task: store.WebSubTask) -> None:
        with self.engine.begin() as connection:
            store.finish_websub_task(connection, task)

    def _end(self, task: store.WebSubTask) -> None:
        with self.engine.begin() as connection:
            store.delete_websub_subscription(connection, task.callback, task.topic)


async def _read_at_most(response: httpx.Response, limit: int) -> bytes:
    read = b""
    async for chunk in response.aiter_bytes():
        read += chunk
        if len(read) > limit:
            break
    return read[: limit + 1]


async def _first_of(stop: asyncio.Event, woken: asyncio.Event, timeout: float) -> None:
    """Wait until either event is set, or `timeout` seconds."""
    waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(woken.wait())]
    with contextlib.suppress(TimeoutError):
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    for waiting in waits:
        waiting.cancel()
