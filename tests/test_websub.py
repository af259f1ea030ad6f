"""WebSub: the hub verifies subscribers, honours leases and pushes changed feeds to real
callback servers on loopback; an outside hub is pinged, and pinged again when it was down."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import feedparser
import httpx
import pytest
from sqlalchemy import Engine

from pressfeed import store, websub
from pressfeed.config import load_settings
from pressfeed.models import Settings
from pressfeed.outbox import Backoff
from pressfeed.publish import publish
from pressfeed.scan import scan_content
from pressfeed.web import create_app
from pressfeed.web.hub import Hub
from pressfeed.websub import Pusher
from tests.conftest import NOW, write_settings
from tests.smtp_servers import free_port
from tests.test_publish import HEALTH
from tests.test_scan import LISTING
from tests.test_service import Running

SITE = "http://press.test/"
WAIT = 30.0  # seconds a real server may take to answer or a service to react
SECRET = "s3cret-of-the-subscriber"
RETRY = Backoff(first=dt.timedelta(seconds=30), longest=dt.timedelta(minutes=5))


# --- a real HTTP server on loopback, as subscriber callback or as an outside hub ----------------


@dataclass
class Seen:
    """One request the server received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


@dataclass
class Server:
    """A threaded HTTP server on 127.0.0.1 recording every request.

    A GET echoes `hub.challenge` when `echo` is true; a POST gets the next of `statuses`
    (then 204)."""

    echo: bool = True
    statuses: list[int] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)
    httpd: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.httpd is not None
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/callback?user=7"

    def requests(self, method: str) -> list[Seen]:
        with self.changed:
            return [s for s in self.seen if s.method == method]

    def wait_for(self, method: str, count: int, timeout: float = WAIT) -> list[Seen]:
        """The first `count` requests of `method`, waiting for them at most `timeout` s."""
        with self.changed:
            done = self.changed.wait_for(lambda: len(self.requests(method)) >= count, timeout)
            assert done, f"{count} {method} requests expected, got {self.requests(method)}"
            return self.requests(method)[:count]

    def wait_for_body(self, text: bytes, timeout: float = WAIT) -> Seen:
        """The first POST whose body holds `text`, waiting for it at most `timeout` s."""

        def found() -> Seen | None:
            return next((s for s in self.requests("POST") if text in s.body), None)

        with self.changed:
            assert self.changed.wait_for(found, timeout), f"no POST with {text!r}: {self.seen}"
            seen = found()
            assert seen is not None
            return seen

    def answer(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(handler.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length)
        with self.changed:
            seen = Seen(method, parts.path, query, dict(handler.headers.items()), body)
            self.seen.append(seen)
            status = self.statuses.pop(0) if method == "POST" and self.statuses else 204
            self.changed.notify_all()
        reply = b""
        if method == "GET":
            status = 200 if self.echo else 404
            reply = query.get("hub.challenge", "").encode() if self.echo else b"no"
        handler.send_response(status)
        handler.send_header("Content-Length", str(len(reply)))
        handler.end_headers()
        handler.wfile.write(reply)


def serve(server: Server) -> Iterator[Server]:
    recorder = server

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            recorder.answer(self, "GET")

        def do_POST(self) -> None:
            recorder.answer(self, "POST")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
        thread.join(WAIT)


@pytest.fixture
def callback() -> Iterator[Server]:
    yield from serve(Server())


@pytest.fixture
def other_callback() -> Iterator[Server]:
    yield from serve(Server())


# --- the hub in process, with its clock in the test's hands --------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@dataclass
class Site:
    """A site with the hub on, its store, the web app and the pusher, on one clock."""

    settings: Settings
    engine: Engine
    clock: Clock
    pusher: Pusher
    app: Any
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)

    @property
    def content(self) -> Path:
        return self.settings.content_dir

    def publish(self) -> list[str]:
        """Scan and publish; the feed URLs the publish rewrote."""
        scan_content(self.settings, self.engine, now=self.clock())
        return publish(self.settings, self.engine, now=self.clock()).feeds

    def drop(self, name: str, text: str) -> list[str]:
        (self.content / name).write_text(text, encoding="utf-8")
        return self.publish()

    def hub(self, **fields: str) -> httpx.Response:
        """POST to the hub as a subscriber would; the verification is over when it returns."""
        return self.loop.run_until_complete(self._post({f"hub.{k}": v for k, v in fields.items()}))

    async def _post(self, data: dict[str, str]) -> httpx.Response:
        transport = httpx.ASGITransport(app=self.app)
        async with httpx.AsyncClient(transport=transport, base_url=SITE) as client:
            response = await client.post("/hub", data=data)
        await self.pusher.verified()
        return response

    def push(self) -> int:
        return self.loop.run_until_complete(self.pusher.push_due())

    def close(self) -> None:
        self.loop.run_until_complete(self.pusher.close())
        self.loop.close()

    def tasks(self) -> list[store.WebSubTask]:
        with self.engine.connect() as connection:
            return store.websub_tasks_waiting(connection)

    def subscriptions(self, topic: str) -> list[store.WebSubSubscription]:
        with self.engine.connect() as connection:
            return store.websub_subscribers(connection, topic, self.clock())


def make_site(tmp_path: Path, service: str, private: bool = True) -> Iterator[Site]:
    """A site whose hub may call back loopback addresses (the test servers), unless `private`
    is False."""
    allowed = f"websub_private_callbacks = {str(private).lower()}"
    config = write_settings(tmp_path, f'site_url = "{SITE}"\n[service]\n{service}\n{allowed}\n')
    settings = load_settings(config, environ={})
    engine = store.open_store(settings.database)
    clock = Clock()
    pusher = Pusher(lambda: settings, engine, clock=clock, retry=RETRY, timeout=5.0)
    app = create_app(lambda: settings, engine, now=clock, hub=Hub(lambda: settings, pusher))
    (settings.content_dir / "listing.txt").write_text(LISTING, encoding="utf-8")
    site = Site(settings, engine, clock, pusher, app)
    site.publish()
    site.push()  # the first publish wrote every feed, before anyone subscribed
    try:
        yield site
    finally:
        site.close()
        engine.dispose()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    yield from make_site(tmp_path, "websub = true")


HEALTH_ATOM = f"{SITE}health.atom"


def subscribe(site: Site, callback: Server, topic: str = HEALTH_ATOM, **more: str) -> None:
    response = site.hub(mode="subscribe", callback=callback.url, topic=topic, **more)
    assert response.status_code == 202, response.text


def signed(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# --- the flow -----------------------------------------------------------------------------------


def test_a_verified_subscriber_gets_the_new_feed_signed_and_then_unsubscribes(
    site: Site, callback: Server
) -> None:
    subscribe(site, callback, secret=SECRET, lease_seconds="3600")

    (check,) = callback.wait_for("GET", 1)
    assert (check.path, check.query["user"]) == ("/callback", "7")  # its own query kept
    assert (check.query["hub.mode"], check.query["hub.topic"]) == ("subscribe", HEALTH_ATOM)
    assert check.query["hub.lease_seconds"] == "3600"
    assert [s.callback for s in site.subscriptions(HEALTH_ATOM)] == [callback.url]

    changed = site.drop("health.txt", HEALTH)
    assert HEALTH_ATOM in changed
    site.push()

    (delivery,) = callback.wait_for("POST", 1)
    body = (site.settings.output_dir / "health.atom").read_bytes()
    assert delivery.body == body
    assert delivery.headers["X-Hub-Signature"] == signed(SECRET, body)
    assert delivery.headers["Content-Type"] == "application/atom+xml; charset=utf-8"
    assert delivery.headers["Link"] == f'<{SITE}hub>; rel="hub", <{HEALTH_ATOM}>; rel="self"'
    parsed = feedparser.parse(delivery.body)
    assert "Clinic opens for new arrivals" in [e.title for e in parsed.entries]
    assert site.tasks() == []

    farewell_asked = site.hub(mode="unsubscribe", callback=callback.url, topic=HEALTH_ATOM)
    assert farewell_asked.status_code == 202
    (_, farewell) = callback.wait_for("GET", 2)
    assert farewell.query["hub.mode"] == "unsubscribe"
    assert "hub.lease_seconds" not in farewell.query
    assert site.subscriptions(HEALTH_ATOM) == []
    site.drop("health-2.txt", HEALTH.replace("Clinic opens", "Second clinic opens"))
    site.push()
    assert len(callback.requests("POST")) == 1
    assert site.tasks() == []


def test_only_the_subscribers_of_a_changed_feed_get_it(
    site: Site, callback: Server, other_callback: Server
) -> None:
    subscribe(site, callback)
    subscribe(site, other_callback, topic=f"{SITE}libya.json")

    changed = site.drop("health.txt", HEALTH)
    site.push()

    assert f"{SITE}libya.json" not in changed
    (delivery,) = callback.wait_for("POST", 1)
    assert "X-Hub-Signature" not in delivery.headers  # no secret given, no signature
    assert other_callback.requests("POST") == []


def test_publish_reports_exactly_the_current_feeds_it_rewrote(site: Site) -> None:
    changed = site.drop("health.txt", HEALTH)

    assert sorted(changed) == sorted(
        f"{SITE}{slug}.{kind}" for slug in ("all", "health") for kind in ("atom", "rss", "json")
    )
    assert {t.topic for t in site.tasks()} == set(changed)  # recorded for the hub, to fan out
    site.push()
    assert site.tasks() == []  # nobody subscribed: nothing to deliver
    assert site.publish() == []


def test_current_feeds_name_the_hub_and_archive_pages_do_not(site: Site) -> None:
    out = site.settings.output_dir
    hub = f'href="{SITE}hub"'.encode()
    assert hub in (out / "health.atom").read_bytes()
    assert hub in (out / "health.rss").read_bytes()
    assert (
        b'"hubs": [{"type": "WebSub", "url": "http://press.test/hub"}]'
        in (out / "health.json").read_bytes()
    )
    archives = list((out / "archive").rglob("*.atom"))
    assert archives
    assert not any(hub in page.read_bytes() for page in archives)


# --- verification and leases --------------------------------------------------------------------


def test_a_callback_that_does_not_echo_the_challenge_is_not_subscribed(
    site: Site, callback: Server
) -> None:
    callback.echo = False
    subscribe(site, callback)

    callback.wait_for("GET", 1)
    assert site.subscriptions(HEALTH_ATOM) == []


@pytest.mark.parametrize(
    ("asked", "granted"),
    [("", websub.LEASE_DEFAULT), ("1", websub.LEASE_MIN), ("99999999999", websub.LEASE_MAX)],
)
def test_the_lease_is_the_default_or_held_within_bounds(
    site: Site, callback: Server, asked: str, granted: int
) -> None:
    subscribe(site, callback, **({"lease_seconds": asked} if asked else {}))

    (check,) = callback.wait_for("GET", 1)
    assert check.query["hub.lease_seconds"] == str(granted)
    (subscription,) = site.subscriptions(HEALTH_ATOM)
    assert subscription.expires == NOW + dt.timedelta(seconds=granted)


def test_a_subscription_whose_lease_ran_out_gets_nothing_and_is_removed(
    site: Site, callback: Server, other_callback: Server
) -> None:
    subscribe(site, callback, lease_seconds="300")
    site.clock.advance(200)
    subscribe(site, other_callback, lease_seconds="300")
    site.clock.advance(101)  # the first lease is over, the second is not

    site.drop("health.txt", HEALTH)
    site.push()

    other_callback.wait_for("POST", 1)
    assert callback.requests("POST") == []
    assert [s.callback for s in site.subscriptions(HEALTH_ATOM)] == [other_callback.url]
    with site.engine.connect() as connection:  # removed, not merely skipped
        assert store.websub_subscription_count(connection, NOW) == 1


def test_subscribing_again_renews_the_lease(site: Site, callback: Server) -> None:
    subscribe(site, callback, lease_seconds="300")
    site.clock.advance(250)
    subscribe(site, callback, lease_seconds="300")
    site.clock.advance(100)

    (subscription,) = site.subscriptions(HEALTH_ATOM)
    assert subscription.expires == NOW + dt.timedelta(seconds=550)


# --- bad requests -------------------------------------------------------------------------------

CALLBACK = "http://127.0.0.1:9/callback"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"callback": CALLBACK, "topic": HEALTH_ATOM}, "hub.mode: must be subscribe or"),
        ({"mode": "publish", "callback": CALLBACK, "topic": HEALTH_ATOM}, "hub.mode: must be"),
        ({"mode": "subscribe", "topic": HEALTH_ATOM}, "hub.callback: is missing"),
        (
            {"mode": "subscribe", "callback": "ftp://127.0.0.1/cb", "topic": HEALTH_ATOM},
            "hub.callback: must be an http:// or https:// URL",
        ),
        (
            {"mode": "subscribe", "callback": "javascript:alert(1)", "topic": HEALTH_ATOM},
            "hub.callback: must be an http:// or https:// URL",
        ),
        (
            {"mode": "subscribe", "callback": "http://a/" + "x" * 3000, "topic": HEALTH_ATOM},
            "hub.callback: is longer than 2048 characters",
        ),
        (
            {"mode": "subscribe", "callback": "http://a:port/", "topic": HEALTH_ATOM},
            "hub.callback: is not a URL",
        ),
        ({"mode": "subscribe", "callback": CALLBACK}, "hub.topic: is missing"),
        (
            {"mode": "subscribe", "callback": CALLBACK, "topic": "http://other.test/feed.atom"},
            "is not one of this site's feeds",
        ),
        (
            {"mode": "subscribe", "callback": CALLBACK, "topic": f"{SITE}health+libya.atom"},
            "is not one of this site's feeds",
        ),
        (
            {"mode": "subscribe", "callback": CALLBACK, "topic": f"{SITE}archive/all/2024-03.atom"},
            "is not one of this site's feeds",
        ),
        (
            {"mode": "subscribe", "callback": CALLBACK, "topic": HEALTH_ATOM, "lease_seconds": "x"},
            "hub.lease_seconds: must be a number of seconds, got 'x'",
        ),
        (
            {"mode": "subscribe", "callback": CALLBACK, "topic": HEALTH_ATOM, "secret": "s" * 200},
            "hub.secret: must be 1 to 199 bytes long",
        ),
    ],
)
def test_a_bad_request_gets_400_saying_what_is_wrong(
    site: Site, fields: dict[str, str], message: str
) -> None:
    response = site.hub(**fields)

    assert response.status_code == 400
    assert message in response.text
    assert site.subscriptions(HEALTH_ATOM) == []


@pytest.fixture
def public_site(tmp_path: Path) -> Iterator[Site]:
    """A hub as it is by default: it calls back public addresses only."""
    yield from make_site(tmp_path, "websub = true", private=False)


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("localhost", None),  # 127.0.0.1 or ::1, as the resolver answers first
        ("[::1]", "::1"),
        ("10.1.2.3", "10.1.2.3"),
        ("169.254.169.254", "169.254.169.254"),  # a cloud's metadata service
        ("192.168.0.10", "192.168.0.10"),
        ("100.64.0.1", "100.64.0.1"),  # shared address space
    ],
)
def test_by_default_the_hub_calls_back_no_host_of_its_own_or_private_network(
    public_site: Site, callback: Server, host: str, address: str | None
) -> None:
    port = httpx.URL(callback.url).port  # the live server: nothing may reach it
    response = public_site.hub(
        mode="subscribe", callback=f"http://{host}:{port}/cb", topic=HEALTH_ATOM
    )
    assert response.status_code == 400
    assert f"is at {address or ''}" in response.text
    assert "not a public address (service.websub_private_callbacks" in response.text
    assert callback.requests("GET") == []
    assert public_site.subscriptions(HEALTH_ATOM) == []


def test_a_callback_whose_host_does_not_resolve_gets_400(public_site: Site) -> None:
    response = public_site.hub(
        mode="subscribe", callback="http://no-such-host.invalid/cb", topic=HEALTH_ATOM
    )
    assert response.status_code == 400
    assert "hub.callback: no-such-host.invalid does not resolve" in response.text


@pytest.mark.parametrize(
    "url", ["http://93.184.215.14/cb", "https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]/cb"]
)
def test_a_callback_at_a_public_address_passes_the_check(public_site: Site, url: str) -> None:
    # Address literals: no resolver asked, and nothing is sent (the check alone).
    public_site.loop.run_until_complete(public_site.pusher.ensure_public(url))


def test_a_subscription_whose_callback_turned_private_gets_no_delivery(
    site: Site, callback: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    subscribe(site, callback)
    service = replace(site.settings.service, websub_private_callbacks=False)
    monkeypatch.setattr(
        site.pusher, "get_settings", lambda: replace(site.settings, service=service)
    )
    site.drop("health.txt", HEALTH)
    site.push()
    assert callback.requests("POST") == []


def test_a_request_that_is_no_form_gets_415(site: Site) -> None:
    async def post() -> httpx.Response:
        transport = httpx.ASGITransport(app=site.app)
        async with httpx.AsyncClient(transport=transport, base_url=SITE) as client:
            return await client.post("/hub", json={"hub.mode": "subscribe"})

    response = site.loop.run_until_complete(post())
    assert response.status_code == 415
    assert "application/x-www-form-urlencoded" in response.text


def test_a_full_hub_refuses_new_subscriptions_with_429(
    site: Site, callback: Server, other_callback: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(websub, "MAX_SUBSCRIPTIONS", 1)
    subscribe(site, callback)

    response = site.hub(mode="subscribe", callback=other_callback.url, topic=HEALTH_ATOM)

    assert response.status_code == 429
    assert "most subscriptions (1)" in response.text
    subscribe(site, callback)  # renewing one it holds is no new subscription
    assert other_callback.requests("GET") == []


# --- failures and retries -----------------------------------------------------------------------


def test_a_failed_delivery_is_tried_again_after_a_wait(site: Site, callback: Server) -> None:
    subscribe(site, callback)
    callback.statuses = [500, 503]

    site.drop("health.txt", HEALTH)
    site.push()
    callback.wait_for("POST", 1)
    (task,) = site.tasks()
    assert (task.callback, task.attempts) == (callback.url, 1)
    assert site.push() == 0  # not due yet

    site.clock.advance(30)
    site.push()
    site.clock.advance(59)
    assert site.push() == 0  # the second wait is twice the first
    site.clock.advance(1)
    site.push()

    first, second, third = callback.wait_for("POST", 3)
    assert first.body == second.body == third.body
    assert site.tasks() == []


def test_a_callback_answering_410_ends_its_subscription(site: Site, callback: Server) -> None:
    subscribe(site, callback)
    callback.statuses = [410]

    site.drop("health.txt", HEALTH)
    site.push()

    callback.wait_for("POST", 1)
    assert site.subscriptions(HEALTH_ATOM) == []
    assert site.tasks() == []


def test_a_delivery_that_keeps_failing_is_dropped_after_its_last_try(
    site: Site, callback: Server
) -> None:
    subscribe(site, callback)
    callback.statuses = [500] * websub.DELIVERY_ATTEMPTS

    site.drop("health.txt", HEALTH)
    for _ in range(websub.DELIVERY_ATTEMPTS):
        site.push()
        site.clock.advance(RETRY.longest.total_seconds())

    assert len(callback.wait_for("POST", websub.DELIVERY_ATTEMPTS)) == websub.DELIVERY_ATTEMPTS
    assert site.tasks() == []
    assert len(site.subscriptions(HEALTH_ATOM)) == 1  # the subscription stays


@pytest.fixture
def outside_hub() -> Iterator[Server]:
    yield from serve(Server())


def test_an_outside_hub_that_is_down_is_pinged_again_even_after_a_restart(
    tmp_path: Path, outside_hub: Server
) -> None:
    outside_hub.statuses = [503]
    sites = make_site(tmp_path, f'websub_hub = "{outside_hub.url}"')
    site = next(sites)
    assert (
        f'href="{outside_hub.url}"'.encode() in (site.settings.output_dir / "all.atom").read_bytes()
    )
    site.push()  # the first publish's pings
    outside_hub.wait_for("POST", 6)
    outside_hub.seen.clear()
    outside_hub.statuses = [503, 503]

    changed = site.drop("health.txt", HEALTH)
    site.push()
    pinged = outside_hub.wait_for("POST", len(changed))
    assert sorted(parse_qs(p.body.decode())["hub.url"][0] for p in pinged) == sorted(changed)
    assert {p.body.decode().split("&")[0] for p in pinged} == {"hub.mode=publish"}
    waiting = site.tasks()
    assert [t.attempts for t in waiting] == [1, 1]  # two of them met the hub down

    site.engine.dispose()  # the service stops; what is not pinged yet is in the store
    engine = store.open_store(site.settings.database)
    try:
        later = Pusher(lambda: site.settings, engine, clock=site.clock, retry=RETRY)
        restarted = Site(site.settings, engine, site.clock, later, site.app)
        assert restarted.push() == 0  # not due yet
        site.clock.advance(30)
        assert restarted.push() == 2
        again = outside_hub.wait_for("POST", len(changed) + 2)[len(changed) :]
        assert sorted(parse_qs(p.body.decode())["hub.url"][0] for p in again) == sorted(
            t.topic for t in waiting
        )
        assert restarted.tasks() == []
    finally:
        restarted.close()
        engine.dispose()
        sites.close()


# --- the running service ------------------------------------------------------------------------


def test_the_running_service_pushes_a_dropped_file_to_a_verified_subscriber(
    tmp_path: Path, callback: Server
) -> None:
    port = free_port()
    site_url = f"http://127.0.0.1:{port}/"
    config = write_settings(
        tmp_path,
        f'site_url = "{site_url}"\n[service]\nscan_interval = 3600\nwebsub = true\n'
        "websub_private_callbacks = true\n",
    )
    (tmp_path / "content" / "listing.txt").write_text(LISTING, encoding="utf-8")
    running = Running(config, port)
    try:
        running.wait_for_log(r"service: serving http://")
        topic = f"{site_url}health.rss"
        fields = {
            "hub.mode": "subscribe",
            "hub.callback": callback.url,
            "hub.topic": topic,
            "hub.secret": SECRET,
        }
        assert httpx.post(f"{site_url}hub", data=fields, timeout=WAIT).status_code == 202
        running.wait_for_log(r"websub subscribe verified")

        (tmp_path / "content" / "health.txt").write_text(HEALTH, encoding="utf-8")

        # The feed as first published may come first: it can be out before the subscription.
        delivery = callback.wait_for_body(b"Clinic opens for new arrivals")
        assert delivery.headers["X-Hub-Signature"] == signed(SECRET, delivery.body)
        assert delivery.headers["Content-Type"] == "application/rss+xml; charset=utf-8"
        titles = [e.title for e in feedparser.parse(delivery.body).entries]
        assert "Clinic opens for new arrivals" in titles
        assert running.stop(signal.SIGTERM) == 0
    finally:
        running.stop(signal.SIGKILL)
