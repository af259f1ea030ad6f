"""A visitor in headless Chromium: the index, browsing topics and releases, signing up,
confirming, managing, unsubscribing.

Screenshots of the index page, of a digest and of every form page, narrow and wide, are saved
under build/screenshots/ for a person to look at.
"""

# The SMTP fixtures are imported by name, and pytest passes them back as same-named arguments.

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from pressfeed import store
from pressfeed.config import load_settings
from pressfeed.site import stop_topic_url
from tests.conftest import ROOT, write_settings
from tests.form_pages import form_page_urls
from tests.smtp_servers import SmtpServer, free_port, smtp_sink
from tests.test_publish import HEALTH
from tests.test_service import (
    Running,
    news_and_subscribers,
    running,
    service_config,
    service_port,
)
from tests.test_web import Served, served, serving

__all__ = ["running", "served", "service_config", "service_port", "smtp_sink"]

CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT / "build" / "screenshots"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = 390  # px, the narrowest screen the pages are made for
DESKTOP = 1280  # px


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        if os.environ.get("PRESSFEED_REQUIRE_BROWSER") == "1":
            pytest.fail("PRESSFEED_REQUIRE_BROWSER=1 but /usr/bin/chromium is missing")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1100, "height": 900})  # type: ignore[attr-defined]
    yield context.new_page()
    context.close()


def link_in(text: str, path: str) -> str:
    match = re.search(rf"https?://\S+/{path}\?token=[\w\-.%=]+", text)
    assert match, text
    return match.group()


def test_index_lists_topics_and_subscribe_links(page: object, running: Running) -> None:
    page.goto(running.url)  # type: ignore[attr-defined]
    headings = page.locator("section h2").all_inner_texts()  # type: ignore[attr-defined]
    for title in ("Libya", "Sea rescue", "Health", "Governance"):
        assert title in headings
    atom = page.locator("section#health a[href$='health.atom']")  # type: ignore[attr-defined]
    assert atom.count() >= 1
    alternates = page.locator("head link[rel=alternate]").count()  # type: ignore[attr-defined]
    assert alternates >= 5
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "index.png"), full_page=True)  # type: ignore[attr-defined]


def test_a_visitor_subscribes_confirms_manages_and_unsubscribes(
    page: object, running: Running, service_config: Path, smtp_sink: SmtpServer
) -> None:
    p = page
    p.goto(running.url)  # type: ignore[attr-defined]
    p.fill("#digest-address", "visitor@example.org")  # type: ignore[attr-defined]
    p.check("#digest-topic-health")  # type: ignore[attr-defined]
    p.check("#digest-frequency-weekly")  # type: ignore[attr-defined]
    p.click("form button[type=submit]")  # type: ignore[attr-defined]
    assert p.locator("h1").inner_text() == "Check your inbox"  # type: ignore[attr-defined]

    (mail,) = smtp_sink.wait_for(1)
    assert list(mail.rcpt_tos) == ["visitor@example.org"]
    text = mail.message.get_body(("plain",)).get_content()
    p.goto(link_in(text, "confirm"))  # type: ignore[attr-defined]
    assert p.locator("h1").inner_text() == "Confirm your subscription"  # type: ignore[attr-defined]
    p.click("form button[type=submit]")  # type: ignore[attr-defined]  # only the button confirms
    assert p.locator("h1").inner_text() == "Your subscription is confirmed"  # type: ignore[attr-defined]

    p.click("text=Change your topics")  # type: ignore[attr-defined]
    assert p.locator("h1").inner_text() == "Your subscription"  # type: ignore[attr-defined]
    assert p.is_checked("#topic-health")  # type: ignore[attr-defined]
    p.check("#topic-libya")  # type: ignore[attr-defined]
    p.check("#frequency-daily")  # type: ignore[attr-defined]
    p.click("form button[type=submit]")  # type: ignore[attr-defined]

    settings = load_settings(service_config, environ={})
    engine = store.open_store(settings.database)
    with engine.connect() as connection:
        visitor = store.subscriber_by_address(connection, "visitor@example.org")
    assert visitor is not None
    assert visitor.confirmed
    assert set(visitor.topics) == {"libya", "health"}
    assert visitor.frequency.value == "daily"

    p.goto(f"{running.url}unsubscribe?token={visitor.token}")  # type: ignore[attr-defined]
    with engine.connect() as connection:  # looking at the page unsubscribes nobody
        assert store.subscriber_by_address(connection, "visitor@example.org") is not None
    p.click("form button[type=submit]")  # type: ignore[attr-defined]
    assert p.locator("h1").inner_text() == "You are unsubscribed"  # type: ignore[attr-defined]
    with engine.connect() as connection:
        assert store.subscriber_by_address(connection, "visitor@example.org") is None
    engine.dispose()


def test_a_digest_looks_right_in_the_browser(
    page: object, service_config: Path, smtp_sink: SmtpServer, tmp_path: Path
) -> None:
    news_and_subscribers(service_config, 1)
    running = Running(service_config, free_port())
    try:
        (mail,) = smtp_sink.wait_for(1, timeout=30)
    finally:
        running.stop()
    html = mail.message.get_body(("html",)).get_content()
    assert "Clinic opens for new arrivals" in html
    digest = tmp_path / "digest.html"
    digest.write_text(html, encoding="utf-8")
    page.goto(digest.as_uri())  # type: ignore[attr-defined]
    assert page.locator("text=Clinic opens for new arrivals").count() >= 1  # type: ignore[attr-defined]
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "digest.png"), full_page=True)  # type: ignore[attr-defined]
    page.set_viewport_size({"width": 380, "height": 800})  # type: ignore[attr-defined]
    page.screenshot(path=str(SHOTS / "digest-narrow.png"), full_page=True)  # type: ignore[attr-defined]


def test_form_pages_fit_a_phone_and_are_saved_narrow_and_wide(
    browser: object, served: Served
) -> None:
    urls = form_page_urls(served)
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width in (PHONE, DESKTOP):
        context = browser.new_context(viewport={"width": width, "height": 800})  # type: ignore[attr-defined]
        page = context.new_page()
        for name, url in urls.items():
            page.goto(url)
            assert page.locator("form button[type=submit]").count() >= 1, name
            page.screenshot(path=str(SHOTS / f"form-{name}-{width}.png"), full_page=True)
            if width == PHONE:
                scroll_width = page.evaluate("document.documentElement.scrollWidth")
                assert scroll_width <= PHONE, f"{name} is {scroll_width} px wide"
        context.close()


def test_subscribe_in_every_page_s_navigation_opens_the_form_at_the_top(
    browser: object, served: Served
) -> None:
    release = next((served.settings.output_dir / "releases").glob("*.html")).name
    token = served.confirmed_subscriber("ana@example.org").token
    context = browser.new_context(viewport={"width": PHONE, "height": 800})  # type: ignore[attr-defined]
    page = context.new_page()
    for path in ("", f"releases/{release}", f"subscription?token={token}"):
        page.goto(f"{served.url}{path}")
        page.get_by_role("navigation", name="Site").get_by_role("link", name="Subscribe").click()
        assert page.url == f"{served.url}subscribe", path
        address = page.get_by_label("Email address")
        address.focus()  # a visitor can type at once, nothing scrolled
        assert page.evaluate("window.scrollY") == 0, path
        box = address.bounding_box()
        assert box is not None
        assert box["y"] + box["height"] <= 800, f"from {path}: the form starts below the screen"
    context.close()


def test_a_refused_change_is_shown_beside_its_field(page: object, served: Served) -> None:
    subscriber = served.confirmed_subscriber("ana@example.org", "health")
    p = page
    p.goto(f"{served.url}subscription?token={subscriber.token}")  # type: ignore[attr-defined]
    p.check("#topic-libya")  # type: ignore[attr-defined]
    p.check("#frequency-weekly")  # type: ignore[attr-defined]
    p.select_option("#weekday", "friday")  # type: ignore[attr-defined]
    # A zone the list no longer offers, as a page left open across an upgrade would send.
    p.eval_on_selector("#timezone option[value='Europe/Rome']", "o => o.value = 'Mars/Olympus'")  # type: ignore[attr-defined]
    p.select_option("#timezone", "Mars/Olympus")  # type: ignore[attr-defined]
    p.click("form button[type=submit]")  # type: ignore[attr-defined]

    assert p.is_checked("#topic-libya")  # type: ignore[attr-defined]
    assert p.is_checked("#topic-health")  # type: ignore[attr-defined]
    assert p.is_checked("#frequency-weekly")  # type: ignore[attr-defined]
    assert p.input_value("#weekday") == "friday"  # type: ignore[attr-defined]
    zone, error = p.locator("#timezone"), p.locator("#timezone-error")  # type: ignore[attr-defined]
    assert error.is_visible()
    assert "unknown time zone" in error.inner_text()
    assert "timezone-error" in (zone.get_attribute("aria-describedby") or "").split()
    field, message = zone.bounding_box(), error.bounding_box()
    assert field is not None
    assert message is not None
    assert 0 <= message["y"] - (field["y"] + field["height"]) <= 60  # right under the field
    SHOTS.mkdir(parents=True, exist_ok=True)
    p.screenshot(path=str(SHOTS / "form-manage-refused.png"), full_page=True)  # type: ignore[attr-defined]


def test_the_stop_topic_button_works_without_javascript(browser: object, served: Served) -> None:
    reader = served.confirmed_subscriber("reader@example.org", "libya,health")
    context = browser.new_context(java_script_enabled=False)  # type: ignore[attr-defined]
    p = context.new_page()
    p.goto(stop_topic_url(served.settings, reader.token, "libya"))
    assert p.locator("h1").inner_text() == "Stop getting Libya"
    assert served.subscriber("reader@example.org") == reader  # looking changes nothing
    p.get_by_role("button", name="Stop getting Libya").click()
    assert p.locator("h1").inner_text() == "Topic stopped"
    stopped = served.subscriber("reader@example.org")
    assert stopped is not None
    assert stopped.topics == ("health",)

    p.goto(stop_topic_url(served.settings, reader.token, "health"))  # the last one left
    assert p.locator("h1").inner_text() == "Your only topic"
    p.get_by_role("button", name="Unsubscribe").click()
    assert p.locator("h1").inner_text() == "You are unsubscribed"
    assert served.subscriber("reader@example.org") is None


@pytest.fixture
def browsable(tmp_path: Path) -> Iterator[Served]:
    """A site whose topics hold more releases than a topic's page of two shows."""
    settings = load_settings(write_settings(tmp_path, "page_length = 2\n"), environ={})
    for day in range(1, 6):
        text = HEALTH.replace("2 April", f"{day} March").replace("Clinic", f"Clinic {day}")
        (settings.content_dir / f"health-{day}.txt").write_text(text, encoding="utf-8")
    engine = store.open_store(settings.database)
    with serving(settings, engine) as running:
        yield running
    engine.dispose()


def test_a_reader_goes_from_the_index_to_a_topic_its_archive_and_release_to_release(
    browser: object, browsable: Served
) -> None:
    with browsable.engine.connect() as connection:
        stream = [h.title for h in store.feed_headlines(connection, None)]
        topic_stream = [h.title for h in store.feed_headlines(connection, "health")]
    url = browsable.url
    context = browser.new_context(viewport={"width": PHONE, "height": 800})  # type: ignore[attr-defined]
    p = context.new_page()
    p.goto(url)
    p.locator("section#health p.count a").click()  # its count leads to the topic's page
    assert p.url == f"{url}topics/health/"
    assert p.locator("h1").inner_text() == "Health"
    newest = p.locator("ul.latest li > a").all_inner_texts()
    SHOTS.mkdir(parents=True, exist_ok=True)
    p.screenshot(path=str(SHOTS / f"topic-{PHONE}.png"), full_page=True)
    assert p.evaluate("document.documentElement.scrollWidth") <= PHONE

    assert newest == topic_stream[:2]
    pages = p.get_by_role("navigation", name="Older releases of Health")
    pages.get_by_role("link", name="Older releases").click()
    assert p.url == f"{url}archive/health/2024-03/"  # the month of the next older release
    assert p.locator("h1").inner_text() == "Health: March 2024"
    next_one = topic_stream[2]
    assert next_one in p.locator("ul.latest li > a").all_inner_texts()

    p.locator("ul.latest li > a", has_text=next_one).click()
    assert p.locator("h1").inner_text() == next_one
    around = p.get_by_role("navigation", name="Releases before and after")
    around.locator("a[rel=next]").click()  # the release after it in time, of any topic
    after = stream[stream.index(next_one) - 1]
    assert p.locator("h1").inner_text() == after

    topic = p.locator("ul.topic-list > li > a").first
    title, href = topic.inner_text(), topic.get_attribute("href")
    topic.click()
    assert p.url == href
    assert p.locator("h1").inner_text() == title
    assert after in p.locator("ul.latest li > a").all_inner_texts()
    context.close()
