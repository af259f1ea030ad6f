"""The web app served by uvicorn on a loopback port and spoken to over the socket with httpx."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import email
import email.policy
import gzip
import http.client
import json
import re
import socket
import threading
import time
import zoneinfo
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import feedparser
import httpx
import lxml.html
import pytest
import uvicorn
from sqlalchemy import Engine

from pressfeed import store, tokens
from pressfeed.config import load_settings
from pressfeed.digest import mail_settings
from pressfeed.files import write_if_changed
from pressfeed.models import Frequency, Settings, Subscriber
from pressfeed.outbox import deliver_outbox
from pressfeed.publish import publish
from pressfeed.scan import scan_content
from pressfeed.send import DirectoryTransport
from pressfeed.site import stable_id
from pressfeed.subscriptions import (
    CONFIRMATION_GAP,
    Choice,
    add_subscriber,
    record_sign_up,
    subscriber_from,
)
from pressfeed.web import create_app
from tests.conftest import NOW, write_settings
from tests.test_publish import HEALTH
from tests.test_scan import LISTING

LIBYA = """Return flights from Libya resume

Tripoli, 20 March 2024 – Voluntary return flights from Libya resumed today for 150 migrants \
stranded in Tripoli and Benghazi.
"""
START_TIMEOUT = 10.0
CHECK_INBOX = "Check your inbox"
LINK_INVALID = "This link does not work"
UNSUBSCRIBED = "You are unsubscribed"


@dataclass
class Served:
    """The app running on a loopback port, with what it serves and a client to ask it."""

    url: str
    settings: Settings
    engine: Engine
    client: httpx.Client
    mail_dir: Path

    def subscriber(self, address: str) -> Subscriber | None:
        with self.engine.connect() as connection:
            return store.subscriber_by_address(connection, address)

    def confirmations(self) -> list[store.OutboxRow]:
        with self.engine.connect() as connection:
            return [row for row in store.outbox_rows(connection) if row.kind == "confirm"]

    def sign_up(self, address: str, **fields: str | list[str]) -> httpx.Response:
        return self.client.post("subscribe", data={"address": address, **fields})

    def confirmed_subscriber(self, address: str, topics: str = "health") -> Subscriber:
        made = subscriber_from(Choice(address, topics), self.settings, now=NOW, confirmed=True)
        return add_subscriber(self.engine, made)[0]


def wait_until(condition: Callable[[], bool], what: str, alive: threading.Thread) -> None:
    """Poll `condition` until it holds; fail at the deadline or as soon as `alive` dies."""
    deadline = time.monotonic() + START_TIMEOUT
    while not condition():
        assert alive.is_alive(), f"the server thread died before {what}"
        assert time.monotonic() < deadline, f"no {what} within {START_TIMEOUT} s"
        time.sleep(0.01)


def deliver_now(engine: Engine, directory: Path) -> None:
    """on_mail for the tests: deliver before the response goes out.

    on_mail runs on the server's event loop, where asyncio.run cannot nest: a worker thread
    runs the delivery and its exceptions come back here.
    """
    transport = DirectoryTransport(directory)
    now = dt.datetime.now(dt.UTC)
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(deliver_outbox, engine, transport, now=now).result()


@contextlib.contextmanager
def serving(settings: Settings, engine: Engine) -> Iterator[Served]:
    """Sample releases scanned and published, then served on a loopback port until the end."""
    # IPPROTO_TCP spelled out: asyncio turns Nagle off only on sockets that say so, and with
    # Nagle on every keep-alive request waits 40 ms for a delayed ACK.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP) as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/"
        live = dataclasses.replace(settings, site_url=url)
        for name, text in (("listing.txt", LISTING), ("health.txt", HEALTH), ("libya.txt", LIBYA)):
            (live.content_dir / name).write_text(text, encoding="utf-8")
        scan_content(live, engine, now=NOW)
        publish(live, engine)
        mail_dir = live.output_dir.parent / "mails"
        app = create_app(lambda: live, engine, on_mail=lambda: deliver_now(engine, mail_dir))
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]})
        thread.start()
        try:
            wait_until(lambda: server.started, "server start", thread)
            with httpx.Client(base_url=url, timeout=5.0) as client:
                yield Served(url, live, engine, client, mail_dir)
        finally:
            server.should_exit = True
            thread.join(timeout=START_TIMEOUT)
    assert not thread.is_alive(), "the server did not stop"


@pytest.fixture
def served(settings: Settings, engine: Engine) -> Iterator[Served]:
    """A server of its own, for tests that change subscribers."""
    with serving(settings, engine) as running:
        yield running


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One server shared by the tests that only read feeds and files."""
    root = tmp_path_factory.mktemp("site")
    settings = load_settings(write_settings(root), environ={})
    engine = store.open_store(settings.database)
    try:
        with serving(settings, engine) as running:
            yield running
    finally:
        engine.dispose()


def raw_get(served: Served, path: str) -> tuple[int, bytes]:
    """GET `path` byte for byte: httpx would resolve the dot segments before sending."""
    parts = urlsplit(served.url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=5)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def parse_feed(body: bytes) -> feedparser.FeedParserDict:
    parsed = feedparser.parse(body)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    return parsed


def entry_ids(served: Served, path: str) -> list[str]:
    return [entry.id for entry in parse_feed(served.client.get(path).content).entries]


def mail_of(row: store.OutboxRow) -> EmailMessage:
    message = email.message_from_bytes(row.message.data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def confirm_link(served: Served, row: store.OutboxRow) -> str:
    body = mail_of(row).get_body(("plain",))
    assert body is not None
    found = re.search(re.escape(served.url) + r"confirm\?token=\S+", body.get_content())
    assert found, body.get_content()
    return found.group(0)


class _Inputs(HTMLParser):
    """Every input and option of a page, as attribute dictionaries."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("input", "option", "form"):
            self.found.append({"tag": tag, **dict(attrs)})


def form_parts(html: str) -> list[dict[str, str | None]]:
    parser = _Inputs()
    parser.feed(html)
    return parser.found


def checked(html: str, name: str) -> set[str | None]:
    return {i["value"] for i in form_parts(html) if i.get("name") == name and "checked" in i}


# --- health and static files --------------------------------------------------------------------


def test_healthz_counts_the_live_releases(site: Served) -> None:
    response = site.client.get("healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "releases": 4}


CONTENT_TYPES = {
    "all.atom": "application/atom+xml; charset=utf-8",
    "health.rss": "application/rss+xml; charset=utf-8",
    "libya.json": "application/feed+json; charset=utf-8",
    "archive/health/2024-04.atom": "application/atom+xml; charset=utf-8",
    "topics.opml": "text/x-opml; charset=utf-8",
    "": "text/html; charset=utf-8",
    "index.html": "text/html; charset=utf-8",
}


def test_static_files_have_explicit_content_types(site: Served) -> None:
    for path, content_type in CONTENT_TYPES.items():
        response = site.client.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"] == content_type, path
        if path.endswith((".atom", ".rss", ".json")):
            assert response.headers["cache-control"] == "public, max-age=60", path


def test_release_pages_are_html(site: Served) -> None:
    with site.engine.connect() as connection:
        release_id = store.live_release_ids(connection)[0]
    response = site.client.get(f"releases/{release_id}.html")
    assert response.headers["content-type"] == "text/html; charset=utf-8"


def test_index_has_the_subscribe_form(site: Served) -> None:
    html = site.client.get("").text
    form = next(p for p in form_parts(html) if p["tag"] == "form")
    assert form["action"] == f"{site.url}subscribe"
    assert form["method"] == "post"
    topics = {p["value"] for p in form_parts(html) if p.get("name") == "topics"}
    assert topics == {t.slug for t in site.settings.topics}
    assert checked(html, "topics") == set()  # none checked: every topic, new ones too
    assert checked(html, "frequency") == {"daily"}


def test_every_page_leads_to_the_sign_up_form_and_its_stylesheet(site: Served) -> None:
    release = next((site.settings.output_dir / "releases").glob("*.html")).name
    for path in ("", f"releases/{release}", "subscribe"):
        page = lxml.html.fromstring(site.client.get(path).text)
        (subscribe,) = page.xpath("//header//nav//a[normalize-space()='Subscribe']/@href")
        assert subscribe == f"{site.url}subscribe", path
        assert page.xpath("//link[@rel='stylesheet']/@href") == [f"{site.url}site.css"], path
    form = lxml.html.fromstring(site.client.get("subscribe").text)
    assert form.xpath("//form[@action=$url]//input[@type='email']", url=f"{site.url}subscribe")
    daily = form.xpath("//label[@for='digest-frequency-daily']")[0].text_content()
    assert daily == "Once a day, at 08:00 (UTC time)"
    css = site.client.get("site.css")
    assert css.headers["content-type"].startswith("text/css")
    assert ":focus-visible" in css.text
    assert (site.settings.output_dir / "site.css").read_text(encoding="utf-8") == css.text


def test_static_feed_answers_304_to_its_etag_and_date(site: Served) -> None:
    first = site.client.get("health.atom")
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    again = site.client.get("health.atom", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    dated = site.client.get("health.atom", headers={"If-Modified-Since": modified})
    assert dated.status_code == 304
    other = site.client.get("health.atom", headers={"If-None-Match": '"other"'})
    assert other.status_code == 200


def test_head_gives_headers_without_a_body(site: Served) -> None:
    for path in ("all.atom", "health+libya.atom"):
        response = site.client.head(path)
        assert response.status_code == 200
        assert response.headers["etag"]
        assert response.content == b""


def test_static_files_come_byte_for_byte_whole_and_in_ranges(site: Served) -> None:
    on_disk = (site.settings.output_dir / "all.atom").read_bytes()
    plain = {"Accept-Encoding": "identity"}
    whole = site.client.get("all.atom", headers=plain)
    assert whole.content == on_disk
    assert whole.headers["content-length"] == str(len(on_disk))
    assert whole.headers["accept-ranges"] == "bytes"
    part = site.client.get("all.atom", headers={**plain, "Range": "bytes=10-19"})
    assert part.status_code == 206
    assert part.content == on_disk[10:20]


def test_feeds_are_gzipped_when_the_client_accepts_it(site: Served) -> None:
    for path in ("all.atom", "health+libya.rss", ""):
        zipped = site.client.get(path, headers={"Accept-Encoding": "gzip"})
        assert zipped.headers["content-encoding"] == "gzip"
        plain = site.client.get(path, headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers
        assert zipped.content == plain.content  # httpx unzipped it


def test_gzip_and_plain_bytes_have_their_own_etags_and_each_answers_304(site: Served) -> None:
    for path in ("all.atom", "health+libya.rss", "site.css"):
        zipped = site.client.get(path, headers={"Accept-Encoding": "gzip"})
        plain = site.client.get(path, headers={"Accept-Encoding": "identity"})
        assert zipped.headers["content-encoding"] == "gzip", path
        assert zipped.headers["etag"] != plain.headers["etag"], path  # RFC 9110 8.8.3
        for response in (zipped, plain):
            assert "Accept-Encoding" in response.headers["vary"], path
        for coding, tag in (("gzip", zipped.headers["etag"]), ("identity", plain.headers["etag"])):
            again = site.client.get(path, headers={"Accept-Encoding": coding, "If-None-Match": tag})
            assert again.status_code == 304, (path, coding)
            assert again.headers["etag"] == tag, (path, coding)
        other = site.client.get(
            path, headers={"Accept-Encoding": "gzip", "If-None-Match": '"other-gzip"'}
        )
        assert other.status_code == 200, path


def test_a_feed_version_is_compressed_once_and_a_new_version_anew(site: Served) -> None:
    path = site.settings.output_dir / "all.atom"
    compressions = []
    real = gzip.compress

    def counting(data: bytes, *args: object, **kwargs: object) -> bytes:
        compressions.append(len(data))
        return real(data, *args, **kwargs)  # type: ignore[arg-type]

    original = path.read_bytes()
    wanted = {"Accept-Encoding": "gzip"}
    sizes = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(gzip, "compress", counting)
        for version in (b"first", b"second"):
            text = original.replace(b"</feed>", b"<!-- " + version + b" --></feed>")
            write_if_changed(path, text)
            sizes.append(len(text))
            first = site.client.get("all.atom", headers=wanted)
            again = site.client.get("all.atom", headers=wanted)
            assert first.content == again.content == text  # httpx unzipped them
            assert first.headers["content-encoding"] == "gzip"
            assert first.headers["vary"] == "Accept-Encoding"
            assert int(first.headers["content-length"]) < len(text)
        assert compressions == sizes  # once per version, not once per request
    write_if_changed(path, original)


# --- combination feeds --------------------------------------------------------------------------


def test_combination_feed_holds_exactly_the_releases_of_either_topic(site: Served) -> None:
    health, libya = entry_ids(site, "health.atom"), entry_ids(site, "libya.atom")
    assert health
    assert libya
    assert not set(health) & set(libya)
    response = site.client.get("libya+health.atom")
    assert response.headers["content-type"] == "application/atom+xml; charset=utf-8"
    assert response.headers["cache-control"] == "public, max-age=60"
    feed = parse_feed(response.content)
    assert {e.id for e in feed.entries} == {*health, *libya}
    assert feed.feed.title == "Libya + Health"
    assert feed.feed.id == stable_id("feed", "health+libya")
    self_links = [link.href for link in feed.feed.links if link.rel == "self"]
    assert self_links == [f"{site.url}libya+health.atom"]
    dates = [e.published_parsed for e in feed.entries]
    assert dates == sorted(dates, reverse=True)


def test_combination_feed_in_rss_and_json(site: Served) -> None:
    expected = set(entry_ids(site, "health.atom")) | set(entry_ids(site, "sea-rescue.atom"))
    rss = site.client.get("sea-rescue+health.rss")
    assert rss.headers["content-type"] == "application/rss+xml; charset=utf-8"
    assert {e.id for e in parse_feed(rss.content).entries} == expected
    feed = site.client.get("sea-rescue+health.json")
    assert feed.headers["content-type"] == "application/feed+json; charset=utf-8"
    items = json.loads(feed.content)["items"]
    assert {item["id"] for item in items} == expected


def test_combination_feed_id_ignores_the_order_of_slugs(site: Served) -> None:
    one = parse_feed(site.client.get("libya+health.atom").content).feed
    other = parse_feed(site.client.get("health+libya.atom").content).feed
    assert one.id == other.id
    assert other.title == "Health + Libya"


def test_combination_feed_answers_304_to_its_etag_and_date(site: Served) -> None:
    first = site.client.get("health+libya.atom")
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert site.client.get("health+libya.atom").headers["etag"] == etag  # the same bytes
    assert site.client.get("health+libya.json").headers["etag"] != etag
    again = site.client.get("health+libya.atom", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    dated = site.client.get("health+libya.atom", headers={"If-Modified-Since": modified})
    assert dated.status_code == 304
    older = "Mon, 01 Jan 2024 00:00:00 GMT"
    assert site.client.get("health+libya.atom", headers={"If-Modified-Since": older}).is_success


def test_unknown_feeds_are_404(site: Served) -> None:
    for path in (
        "libya+nope.atom",
        "all+libya.atom",
        "libya+libya.atom",
        "Libya+Health.atom",
        "nope.atom",
        "libya+health.xml",
    ):
        assert site.client.get(path).status_code == 404, path


def test_a_feed_of_topics_that_do_not_exist_lists_those_that_do(site: Served) -> None:
    response = site.client.get("libya+nope.atom")
    assert response.status_code == 404
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    page = lxml.html.fromstring(response.text)
    assert page.xpath("//h1")[0].text_content() == "Page not found"
    assert "There is no topic named nope." in page.text_content()
    listed = page.xpath("//main//ul/li/a/@href")
    assert listed == [f"{site.url}{topic.slug}.atom" for topic in site.settings.topics]
    assert site.client.get(listed[0]).status_code == 200


def test_every_404_is_a_page_of_the_site(site: Served) -> None:
    for path in ("nothing-here.html", "releases/nope.html", "archive/", "nope.atom"):
        response = site.client.get(path)
        assert response.status_code == 404, path
        page = lxml.html.fromstring(response.text)
        assert page.xpath("//h1")[0].text_content() == "Page not found", path
        assert page.xpath("//nav[@aria-label='Site']//a[.='Subscribe']"), path
        assert page.xpath("//link[@rel='stylesheet']/@href") == [f"{site.url}site.css"], path


# --- the output directory stays closed ----------------------------------------------------------


def test_paths_cannot_leave_the_output_directory(site: Served) -> None:
    config = site.settings.config_file
    secret = config.read_bytes()
    output = site.settings.output_dir
    (output / "leak.toml").symlink_to(config)
    (output / "outside").symlink_to(config.parent, target_is_directory=True)
    for path in (
        "/../pressfeed.toml",
        "/%2e%2e/pressfeed.toml",
        "/..%2fpressfeed.toml",
        "/releases/../../pressfeed.toml",
        "/releases/%2e%2e/%2e%2e/pressfeed.toml",
        "/leak.toml",
        "/outside/pressfeed.toml",
    ):
        status, body = raw_get(site, path)
        assert status == 404, path
        assert secret not in body, path
        assert b"content_dir" not in body, path


# --- signing up and confirming ------------------------------------------------------------------


def test_sign_up_mails_a_link_that_confirms(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="pressfeed.web")
    caplog.set_level("INFO", logger="pressfeed.subscriptions")
    response = served.sign_up("ana@example.org", topics=["health", "libya"], frequency="weekly")
    assert response.status_code == 200
    assert CHECK_INBOX in response.text
    subscriber = served.subscriber("ana@example.org")
    assert subscriber is not None
    assert not subscriber.confirmed
    assert subscriber.topics == ("health", "libya")
    assert subscriber.frequency is Frequency.WEEKLY
    [row] = served.confirmations()
    assert row.key == f"{subscriber.id}-confirm-1"
    mailed = served.mail_dir / f"{row.key}.eml"  # on_mail runs once the page has gone out
    wait_until(mailed.is_file, "confirmation mail", threading.current_thread())
    link = confirm_link(served, row)

    page = served.client.get(link)
    assert page.status_code == 200
    waiting = served.subscriber("ana@example.org")
    assert waiting is not None
    assert not waiting.confirmed  # opening the link (a link scanner, say) confirms nothing
    form = next(p for p in form_parts(page.text) if p["tag"] == "form")
    assert (form["method"], form["action"]) == ("post", f"{served.url}confirm")
    fields = {p["name"]: p["value"] for p in form_parts(page.text) if p["tag"] == "input"}
    pressed = served.client.post(str(form["action"]), data=fields)
    assert pressed.status_code == 200
    assert "confirmed" in pressed.text
    assert f"{served.url}subscription?token={subscriber.token}" in pressed.text
    after = served.subscriber("ana@example.org")
    assert after is not None
    assert after.confirmed
    assert after.covered_until is None  # the first digest covers everything since sign-up
    again = served.client.post(str(form["action"]), data=fields)
    assert again.status_code == 404  # a link works once; a second press changes nothing
    assert LINK_INVALID in again.text
    assert served.subscriber("ana@example.org") == after

    messages = caplog.text
    for line in ("subscriber added", "confirmation recorded", "subscriber confirmed"):
        assert line in messages
    assert subscriber.token not in messages
    assert link.split("token=")[1] not in messages


def test_sign_up_page_is_the_same_whatever_the_address(served: Served) -> None:
    served.confirmed_subscriber("old@example.org")
    new = served.sign_up("new@example.org")
    waiting = served.sign_up("new@example.org")
    confirmed = served.sign_up("old@example.org")
    assert new.status_code == waiting.status_code == confirmed.status_code == 200
    assert new.content == waiting.content == confirmed.content
    assert CHECK_INBOX in new.text
    recipients = [row.message.recipient for row in served.confirmations()]
    assert recipients == ["new@example.org"]  # once in ten minutes; the confirmed one: nothing
    old = served.subscriber("old@example.org")
    assert old is not None
    assert old.confirmed
    assert old.topics == ("health",)  # left as it was


def sign_ups_at(served: Served, address: str, times: list[dt.datetime]) -> list[bool]:
    """Sign `address` up at each time, as the sign-up form does; True where a mail was recorded."""
    mail = mail_settings(served.settings, served.engine)
    wanted = subscriber_from(Choice(address), served.settings, now=times[0], confirmed=False)
    return [record_sign_up(served.engine, mail, wanted, now=t) for t in times]


def test_confirmation_mail_and_confirmed_page_restate_the_choices(served: Served) -> None:
    served.sign_up("ana@example.org", topics=["health", "libya"], frequency="weekly")
    [row] = served.confirmations()
    mailed = served.mail_dir / f"{row.key}.eml"
    wait_until(mailed.is_file, "confirmation mail", threading.current_thread())
    message = email.message_from_bytes(mailed.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    titles = {t.slug: t.title for t in served.settings.topics}
    topics = f"{titles['health']} and {titles['libya']}"
    when = "once a week, on Monday at 08:00 (UTC time)"
    for kind in ("plain", "html"):
        body = message.get_body((kind,))
        assert body is not None
        text = " ".join(body.get_content().split())
        assert topics in text, kind
        assert when in text, kind
    page = served.client.get(confirm_link(served, row))
    token = next(p["value"] for p in form_parts(page.text) if p.get("name") == "token")
    confirmed = served.client.post("confirm", data={"token": str(token)})
    assert confirmed.status_code == 200
    shown = " ".join(lxml.html.fromstring(confirmed.text).text_content().split())
    assert f"Topics: {topics}" in shown
    assert f"How often: {when}" in shown


def test_each_confirmation_mail_has_its_own_message_id(served: Served) -> None:
    sign_ups_at(served, "ana@example.org", [NOW, NOW + CONFIRMATION_GAP])
    first, second = served.confirmations()
    assert mail_of(first)["Message-ID"] != mail_of(second)["Message-ID"]
    assert confirm_link(served, first) != confirm_link(served, second)  # issued at each time


def test_at_most_one_confirmation_mail_in_ten_minutes_and_three_a_day(served: Served) -> None:
    minute = dt.timedelta(minutes=1)
    times = [NOW, NOW + 9 * minute, NOW + 10 * minute, NOW + 30 * minute, NOW + 60 * minute]
    assert sign_ups_at(served, "ana@example.org", times) == [True, False, True, True, False]
    assert sign_ups_at(served, "ana@example.org", [NOW + dt.timedelta(days=1)]) == [True]
    assert len(served.confirmations()) == 4


def test_at_most_twenty_sign_ups_a_client_an_hour(served: Served) -> None:
    responses = [served.sign_up(f"reader{n}@example.org") for n in range(21)]
    assert len({r.content for r in responses[:20]}) == 1
    refused = responses[20]
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "3600"
    assert "Too many sign-ups" in refused.text
    assert served.subscriber("reader19@example.org") is not None
    assert served.subscriber("reader20@example.org") is None
    assert len(served.confirmations()) == 20


def test_at_most_five_sign_ups_an_address_an_hour(served: Served) -> None:
    statuses = [served.sign_up("ana@example.org").status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]
    assert len(served.confirmations()) == 1


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"address": "not an address"}, "not an e-mail address"),
        ({"address": "ana@example.org", "topics": ["health", "cooking"]}, "unknown topic"),
        ({"address": "ana@example.org", "frequency": "hourly"}, "unknown frequency"),
    ],
)
def test_invalid_sign_ups_get_400_saying_why(
    served: Served, fields: dict[str, str | list[str]], problem: str
) -> None:
    response = served.client.post("subscribe", data=fields)
    assert response.status_code == 400
    assert problem in response.text
    assert served.subscriber("ana@example.org") is None
    assert served.confirmations() == []


def test_an_address_mail_cannot_carry_gets_400_saying_so(served: Served) -> None:
    response = served.sign_up("a..b@example.org")  # passes the checks; not one mailbox
    assert response.status_code == 400
    assert "We cannot send mail to" in response.text
    assert "a..b@example.org" in response.text
    assert served.subscriber("a..b@example.org") is None
    assert served.confirmations() == []


def test_a_bug_while_making_the_confirmation_is_an_error_not_a_bad_address(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    # A broken template override: str.format raises ValueError while the mail is made.
    (mine / "confirm.txt").write_text('{{ "{:d}".format(address) }}\n', encoding="utf-8")
    with serving(dataclasses.replace(settings, templates_dir=mine), engine) as served:
        response = served.sign_up("ana@example.org")
        assert response.status_code == 500
        assert "We cannot send mail" not in response.text
        assert served.subscriber("ana@example.org") is None
        assert served.confirmations() == []


def test_sign_ups_from_another_site_are_refused(served: Served) -> None:
    for header in (
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Referer": "https://evil.example/form.html"},
    ):
        response = served.client.post(
            "subscribe", data={"address": "ana@example.org"}, headers=header
        )
        assert response.status_code == 403, header
    assert served.subscriber("ana@example.org") is None
    ours = {"Origin": served.url.rstrip("/")}
    assert served.client.post(
        "subscribe", data={"address": "ana@example.org"}, headers=ours
    ).is_success
    assert served.subscriber("ana@example.org") is not None


def test_forged_confirmation_tokens_confirm_nobody(served: Served) -> None:
    served.sign_up("ana@example.org")
    subscriber = served.subscriber("ana@example.org")
    assert subscriber is not None
    secret = mail_settings(served.settings, served.engine).secret
    now = dt.datetime.now(dt.UTC)
    good = tokens.sign(secret, "confirm", subscriber.id, issued=now)
    flipped = good[:-1] + ("A" if good[-1] != "A" else "B")
    for token in (
        flipped,
        tokens.sign(secret, "unsubscribe", subscriber.id, issued=now),
        tokens.sign(b"another secret", "confirm", subscriber.id, issued=now),
        tokens.sign(secret, "confirm", subscriber.id, issued=now - dt.timedelta(days=8)),
        "garbage",
        "",
        "%%%.***",
        tokens.sign(secret, "confirm", "no-such-subscriber", issued=now),
    ):
        for response in (
            served.client.get("confirm", params={"token": token}),
            served.client.post("confirm", data={"token": token}),
        ):
            assert response.status_code == 404, token
            assert LINK_INVALID in response.text
    still = served.subscriber("ana@example.org")
    assert still is not None
    assert not still.confirmed


# --- managing and leaving -----------------------------------------------------------------------


def test_manage_page_is_prefilled_and_saves_changes(served: Served) -> None:
    subscriber = served.confirmed_subscriber("ana@example.org", "health")
    page = served.client.get("subscription", params={"token": subscriber.token})
    assert page.status_code == 200
    assert checked(page.text, "topics") == {"health"}
    assert checked(page.text, "frequency") == {"daily"}

    changes = {
        "token": subscriber.token,
        "topics": ["libya", "sea-rescue"],
        "frequency": "weekly",
        "hour": "7",
        "weekday": "friday",
        "timezone": "Europe/Rome",
    }
    saved = served.client.post("subscription", data=changes)
    assert saved.status_code == 200
    assert "saved" in saved.text
    after = served.subscriber("ana@example.org")
    assert after is not None
    assert (after.topics, after.frequency, after.hour, after.weekday, after.timezone) == (
        ("libya", "sea-rescue"),
        Frequency.WEEKLY,
        7,
        4,
        "Europe/Rome",
    )
    assert (after.token, after.confirmed) == (subscriber.token, True)
    shown = served.client.get("subscription", params={"token": subscriber.token}).text
    assert checked(shown, "topics") == {"libya", "sea-rescue"}
    assert checked(shown, "frequency") == {"weekly"}


def test_manage_page_refuses_bad_choices_and_keeps_the_old_ones(served: Served) -> None:
    subscriber = served.confirmed_subscriber("ana@example.org", "health")
    bad = {"token": subscriber.token, "frequency": "daily", "timezone": "Mars/Olympus"}
    response = served.client.post("subscription", data=bad)
    assert response.status_code == 400
    assert "unknown time zone" in response.text
    assert served.subscriber("ana@example.org") == subscriber


def test_a_refused_change_keeps_every_choice_and_shows_each_error_by_its_field(
    served: Served,
) -> None:
    subscriber = served.confirmed_subscriber("ana@example.org", "health")
    sent = {
        "token": subscriber.token,
        "topics": ["libya", "sea-rescue"],
        "frequency": "weekly",
        "hour": "25",
        "weekday": "friday",
        "timezone": "Mars/Olympus",
    }
    response = served.client.post("subscription", data=sent)
    assert response.status_code == 400
    assert served.subscriber("ana@example.org") == subscriber
    assert checked(response.text, "topics") == {"libya", "sea-rescue"}
    assert checked(response.text, "frequency") == {"weekly"}
    page = lxml.html.fromstring(response.text)
    assert page.xpath("//select[@id='weekday']/option[@selected]/@value") == ["friday"]
    assert page.xpath("//select[@id='timezone']/option[@selected]/@value") == ["Mars/Olympus"]
    for name, reason in (("hour", "hour must be 0 to 23"), ("timezone", "unknown time zone")):
        (control,) = page.xpath(f"//select[@id='{name}']")
        assert f"{name}-error" in control.get("aria-describedby", "").split(), name
        assert control.get("aria-invalid") == "true"
        (error,) = page.xpath(f"//*[@id='{name}-error']")
        assert reason in error.text_content()
        assert error.getparent() is control.getparent(), f"{name}: error away from its field"
    assert not page.xpath("//*[@id='weekday-error' or @id='topics-error']")


def test_the_time_zone_is_chosen_from_every_iana_zone(served: Served) -> None:
    subscriber = served.confirmed_subscriber("ana@example.org", "health")
    response = served.client.get("subscription", params={"token": subscriber.token})
    page = lxml.html.fromstring(response.text)
    assert not page.xpath("//input[@name='timezone']")
    zones = page.xpath("//select[@name='timezone']/option/@value")
    assert set(zones) == zoneinfo.available_timezones()
    assert page.xpath("//select[@name='timezone']/option[@selected]/@value") == ["UTC"]


def test_unknown_manage_tokens_get_the_invalid_link_page(served: Served) -> None:
    served.confirmed_subscriber("ana@example.org")
    for response in (
        served.client.get("subscription", params={"token": "nobody"}),
        served.client.get("subscription"),
        served.client.post("subscription", data={"token": "nobody", "frequency": "weekly"}),
    ):
        assert response.status_code == 404
        assert LINK_INVALID in response.text


def test_one_click_post_unsubscribes(served: Served) -> None:
    subscriber = served.confirmed_subscriber("ana@example.org")
    response = served.client.post(
        "unsubscribe",
        params={"token": subscriber.token},
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert UNSUBSCRIBED in response.text
    assert served.subscriber("ana@example.org") is None


def test_get_unsubscribe_only_shows_a_button_that_works(served: Served) -> None:
    subscriber = served.confirmed_subscriber("ana@example.org")
    page = served.client.get("unsubscribe", params={"token": subscriber.token})
    assert page.status_code == 200
    assert served.subscriber("ana@example.org") is not None  # fetching it ended nothing
    form = next(p for p in form_parts(page.text) if p["tag"] == "form")
    assert form["method"] == "post"
    fields = {p["name"]: p["value"] for p in form_parts(page.text) if p["tag"] == "input"}
    pressed = served.client.post(str(form["action"]), data=fields)
    assert UNSUBSCRIBED in pressed.text
    assert served.subscriber("ana@example.org") is None


def test_a_plain_post_unsubscribes_too(served: Served) -> None:
    subscriber = served.confirmed_subscriber("ana@example.org")
    served.client.post("unsubscribe", params={"token": subscriber.token})
    assert served.subscriber("ana@example.org") is None


def test_unsubscribing_again_says_unsubscribed_but_the_page_says_invalid(served: Served) -> None:
    subscriber = served.confirmed_subscriber("ana@example.org")
    for _ in range(2):
        response = served.client.post("unsubscribe", params={"token": subscriber.token})
        assert response.status_code == 200
        assert UNSUBSCRIBED in response.text
    page = served.client.get("unsubscribe", params={"token": subscriber.token})
    assert page.status_code == 404
    assert LINK_INVALID in page.text


def test_pages_with_tokens_are_private(served: Served) -> None:
    subscriber = served.confirmed_subscriber("ana@example.org")
    page = served.client.get("subscription", params={"token": subscriber.token})
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "same-origin"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert '<meta name="robots" content="noindex">' in page.text
    assert f'href="{served.url}subscription"' in page.text  # canonical, without the token
