"""Stopping one topic from a digest: the links the mail carries (sent over SMTP to aiosmtpd on
loopback), the page they open and its button (a real server over a socket), and the digests
that follow."""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage

import lxml.html
import pytest

from pressfeed import store
from pressfeed.digest import send_due_digests
from pressfeed.models import Subscriber
from pressfeed.scan import scan_content
from pressfeed.site import stop_topic_url, unsubscribe_url
from pressfeed.subscriptions import Choice, add_subscriber, subscriber_from
from tests.conftest import NOW
from tests.smtp_servers import SmtpServer, smtp_sink
from tests.test_digest_delivery import smtp
from tests.test_web import LINK_INVALID, UNSUBSCRIBED, Served, form_parts, served

__all__ = ["served", "smtp_sink"]

RESCUE = """Coast guard rescues 40 migrants off Libya

Tripoli, 3 May 2024 – The Libyan coast guard rescued 40 migrants from a sinking rubber boat \
off Zuwara today and brought them back to Tripoli.
"""
CLINIC = """Mobile clinic vaccinates new arrivals

Athens, 5 May 2024 – A mobile clinic offered medical screening, vaccination and mental health \
support to 150 newly arrived migrants on Lesbos today.
"""
MISRATA = """Registration centre for migrants opens in Misrata

Misrata, 4 May 2024 – Libyan authorities opened a registration centre for migrants stranded in \
Misrata, Libya, where 300 people from Niger and Chad wait for papers.
"""
WRECK = """Shipwreck off Lampedusa leaves 12 missing

Lampedusa, 6 May 2024 – Twelve migrants are missing after their boat capsized off Lampedusa; \
rescuers saved 30 people from the water.
"""
ZAWIYA = """Aid ship rescues 60 people off Zawiya

Zawiya, 7 May 2024 – An aid ship rescued 60 migrants from an overcrowded boat off Zawiya, \
Libya, today; the Libyan coast guard had left them adrift.
"""
ASKED = "Stop getting"
STOPPED = "Topic stopped"
ALREADY = "Already stopped"
ONLY = "Your only topic"


def subscribe(served: Served, address: str, topics: str) -> Subscriber:
    chosen = Choice(address, topics, frequency="immediate")
    made = subscriber_from(chosen, served.settings, now=NOW, confirmed=True)
    return add_subscriber(served.engine, made)[0]


def arrive(served: Served, when: dt.datetime, **files: str) -> None:
    for name, text in files.items():
        (served.settings.content_dir / f"{name}.txt").write_text(text, encoding="utf-8")
    scan_content(served.settings, served.engine, now=when)


def digest(served: Served, server: SmtpServer, when: dt.datetime) -> EmailMessage:
    """The one digest due at `when`, as the SMTP server received it."""
    before = len(server.messages)
    transport = smtp(server, served.settings)
    report = send_due_digests(served.settings, served.engine, now=when, transport=transport)
    assert report.planned == 1
    received = server.wait_for(before + 1)
    assert len(received) == before + 1
    return received[-1].message


def sections(message: EmailMessage) -> dict[str, list[str]]:
    """Each section of the HTML part: its title -> the headlines under it."""
    html = message.get_body(("html",))
    assert html is not None
    tree = lxml.html.fromstring(html.get_content())
    found: dict[str, list[str]] = {}
    for heading in tree.cssselect("h2"):
        items = []
        for sibling in heading.itersiblings():
            if sibling.tag == "h2":
                break
            items += [p.text_content().strip() for p in sibling.cssselect("p.item-title")]
        found[heading.text_content().strip()] = items
    return found


def html_links(message: EmailMessage) -> dict[str, str]:
    """The "Stop getting ..." links of the HTML part: their text -> their address."""
    html = message.get_body(("html",))
    assert html is not None
    tree = lxml.html.fromstring(html.get_content())
    return {
        a.text_content(): a.get("href")
        for a in tree.cssselect("a")
        if a.text_content().startswith(ASKED)
    }


def text_links(message: EmailMessage) -> dict[str, str]:
    """The same links in the plain-text part: "Stop getting Libya: URL" lines."""
    text = message.get_body(("plain",))
    assert text is not None
    lines = [line for line in text.get_content().splitlines() if line.startswith(ASKED)]
    return dict(line.split(": ", 1) for line in lines)


def press(served: Served, page_html: str) -> tuple[int, str]:
    """Press the one button of a page, as a browser sends its form."""
    parts = form_parts(page_html)
    forms = [p for p in parts if p["tag"] == "form"]
    assert len(forms) == 1, page_html
    assert forms[0]["method"] == "post"
    fields = {p["name"]: p["value"] or "" for p in parts if p["tag"] == "input" and p["name"]}
    answer = served.client.post(
        str(forms[0]["action"]), data=fields, headers={"Origin": served.url.rstrip("/")}
    )
    return answer.status_code, answer.text


def topics_of(served: Served, address: str) -> tuple[str, ...] | None:
    found = served.subscriber(address)
    return None if found is None else found.topics


def test_each_section_links_to_stopping_its_topic_and_later_digests_leave_it_out(
    served: Served, smtp_sink: SmtpServer
) -> None:
    ana = subscribe(served, "ana@example.org", "libya,sea-rescue,health")
    first_at, second_at = NOW + dt.timedelta(hours=1), NOW + dt.timedelta(hours=2)
    arrive(served, first_at, rescue=RESCUE, clinic=CLINIC)
    first = digest(served, smtp_sink, first_at)
    assert sections(first) == {"Libya": [RESCUE.split("\n")[0]], "Health": [CLINIC.split("\n")[0]]}
    expected = {
        f"{ASKED} {title}": stop_topic_url(served.settings, ana.token, slug)
        for slug, title in (("libya", "Libya"), ("health", "Health"))
    }
    assert html_links(first) == expected
    assert text_links(first) == expected

    page = served.client.get(expected[f"{ASKED} Libya"])
    assert page.status_code == 200
    assert f"{ASKED} Libya" in page.text
    assert "You will still get Sea rescue and Health." in page.text
    assert topics_of(served, "ana@example.org") == (
        "libya",
        "sea-rescue",
        "health",
    )  # fetched: no change
    status, answer = press(served, page.text)
    assert status == 200
    assert STOPPED in answer
    assert topics_of(served, "ana@example.org") == ("sea-rescue", "health")

    # A release of Libya and sea rescue now comes under Sea rescue; one of Libya alone not at
    # all; nothing of the first digest comes again.
    arrive(served, second_at, misrata=MISRATA, wreck=WRECK, zawiya=ZAWIYA)
    second = digest(served, smtp_sink, second_at)
    assert sections(second) == {
        "Sea rescue": [
            "Aid ship rescues 60 people off Zawiya",
            "Shipwreck off Lampedusa leaves 12 missing",
        ]
    }
    assert set(text_links(second)) == {f"{ASKED} Sea rescue"}


def test_one_who_follows_every_topic_keeps_every_other_topic_by_name(served: Served) -> None:
    subscribe(served, "bo@example.org", "")
    bo = served.subscriber("bo@example.org")
    assert bo is not None
    page = served.client.get(stop_topic_url(served.settings, bo.token, "health"))
    assert "You will still get Libya, Sea rescue and Governance." in page.text
    assert "topics added later, will not come" in page.text
    status, answer = press(served, page.text)
    assert status == 200
    assert STOPPED in answer
    assert topics_of(served, "bo@example.org") == ("libya", "sea-rescue", "governance")


def test_the_other_releases_section_of_every_topic_can_be_stopped_too(served: Served) -> None:
    cy = subscribe(served, "cy@example.org", "")
    page = served.client.get(stop_topic_url(served.settings, cy.token, "all"))
    assert f"{ASKED} releases that no topic carries" in page.text
    press(served, page.text)
    every = tuple(t.slug for t in served.settings.topics)
    assert topics_of(served, "cy@example.org") == every


def test_the_last_topic_is_not_stopped_but_unsubscribing_is_offered(served: Served) -> None:
    dee = subscribe(served, "dee@example.org", "health")
    link = stop_topic_url(served.settings, dee.token, "health")
    page = served.client.get(link)
    assert page.status_code == 200
    assert ONLY in page.text
    tree = lxml.html.fromstring(page.text)
    assert tree.cssselect("form")[0].get("action") == unsubscribe_url(served.settings, dee.token)
    assert tree.cssselect(f'a[href="{served.url}subscription?token={dee.token}"]')
    # Posting to the link itself (a crafted request) changes nothing: no topic would mean every
    # topic, the opposite of what was asked.
    forced = served.client.post(link, headers={"Origin": served.url.rstrip("/")})
    assert ONLY in forced.text
    assert topics_of(served, "dee@example.org") == ("health",)
    _status, answer = press(served, page.text)
    assert UNSUBSCRIBED in answer
    assert served.subscriber("dee@example.org") is None


def test_a_topic_stopped_before_is_said_so_and_nothing_changes(served: Served) -> None:
    eve = subscribe(served, "eve@example.org", "libya,health")
    link = stop_topic_url(served.settings, eve.token, "libya")
    press(served, served.client.get(link).text)
    assert topics_of(served, "eve@example.org") == ("health",)
    again = served.client.get(link)
    assert again.status_code == 200
    assert ALREADY in again.text
    assert not lxml.html.fromstring(again.text).cssselect("form")
    posted = served.client.post(link)
    assert ALREADY in posted.text
    assert topics_of(served, "eve@example.org") == ("health",)


@pytest.mark.parametrize(
    ("token", "topic"),
    [("forged", "libya"), ("", "libya"), (None, "nope"), (None, ""), (None, "libya+health")],
)
def test_links_that_name_no_subscriber_or_no_topic_change_nothing(
    served: Served, token: str | None, topic: str
) -> None:
    fay = subscribe(served, "fay@example.org", "libya,health")
    subscribe(served, "gus@example.org", "libya,health")
    params = {"token": fay.token if token is None else token, "topic": topic}
    for answer in (
        served.client.get("stop-topic", params=params),
        served.client.post("stop-topic", params=params),
    ):
        assert answer.status_code == 404
        assert LINK_INVALID in answer.text
    assert topics_of(served, "fay@example.org") == ("libya", "health")
    assert topics_of(served, "gus@example.org") == ("libya", "health")


def test_a_link_stops_its_own_subscriber_s_topic_only(served: Served) -> None:
    hal = subscribe(served, "hal@example.org", "libya,health")
    subscribe(served, "ida@example.org", "libya,health")
    press(served, served.client.get(stop_topic_url(served.settings, hal.token, "libya")).text)
    assert topics_of(served, "hal@example.org") == ("health",)
    assert topics_of(served, "ida@example.org") == ("libya", "health")


def test_a_button_pressed_on_another_site_changes_nothing(served: Served) -> None:
    jo = subscribe(served, "jo@example.org", "libya,health")
    link = stop_topic_url(served.settings, jo.token, "libya")
    answer = served.client.post(link, headers={"Origin": "https://evil.example"})
    assert answer.status_code == 403
    assert topics_of(served, "jo@example.org") == ("libya", "health")


def test_one_click_unsubscribe_still_ends_everything(served: Served, smtp_sink: SmtpServer) -> None:
    kim = subscribe(served, "kim@example.org", "libya,sea-rescue,health")
    when = NOW + dt.timedelta(hours=1)
    arrive(served, when, rescue=RESCUE, clinic=CLINIC)
    message = digest(served, smtp_sink, when)
    press(served, served.client.get(text_links(message)[f"{ASKED} Libya"]).text)
    assert topics_of(served, "kim@example.org") == ("sea-rescue", "health")
    header = str(message["List-Unsubscribe"])
    web = header.split("<", 1)[1].split(">", 1)[0]
    assert web == unsubscribe_url(served.settings, kim.token)
    answer = served.client.post(
        web,
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert UNSUBSCRIBED in answer.text
    assert served.subscriber("kim@example.org") is None
    with served.engine.connect() as connection:
        assert store.subscriber_by_token(connection, kim.token) is None


def test_digests_that_share_a_body_each_link_their_own_subscriber(
    served: Served, smtp_sink: SmtpServer
) -> None:
    lee = subscribe(served, "lee@example.org", "libya,health")
    max_ = subscribe(served, "max@example.org", "libya,health")
    when = NOW + dt.timedelta(hours=1)
    arrive(served, when, rescue=RESCUE, clinic=CLINIC)
    transport = smtp(smtp_sink, served.settings)
    report = send_due_digests(served.settings, served.engine, now=when, transport=transport)
    assert report.planned == 2
    received = {r.rcpt_tos[0]: r.message for r in smtp_sink.wait_for(2)}
    for who in (lee, max_):
        expected = stop_topic_url(served.settings, who.token, "libya")
        assert text_links(received[who.address])[f"{ASKED} Libya"] == expected
        assert html_links(received[who.address])[f"{ASKED} Libya"] == expected
