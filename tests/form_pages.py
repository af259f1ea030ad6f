"""The pages of the site that hold a form, as a visitor reaches them on a served site."""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

from pressfeed import tokens
from pressfeed.digest import mail_settings
from pressfeed.site import stop_topic_url
from pressfeed.subscriptions import CONFIRM, Choice, add_subscriber, subscriber_from
from tests.test_web import Served


def form_page_urls(served: Served) -> dict[str, str]:
    """Name to URL of each form page: sign-up, confirm, manage, unsubscribe, stopping a
    topic (one of two, and the last one, which offers to unsubscribe), and search (with
    results, and refusing a query).

    It stores one address waiting for confirmation and one confirmed subscriber, whose links
    the pages need; the confirmation token is signed now, as the server checks it against
    the real clock.
    """
    now = dt.datetime.now(dt.UTC)
    waiting = subscriber_from(
        Choice("waiting@example.org", "health"), served.settings, now=now, confirmed=False
    )
    add_subscriber(served.engine, waiting)
    secret = mail_settings(served.settings, served.engine).secret
    confirm_token = quote(tokens.sign(secret, CONFIRM, waiting.id, issued=now), safe="")
    member = quote(served.confirmed_subscriber("member@example.org").token, safe="")
    reader = served.confirmed_subscriber("reader@example.org", "libya,health").token
    return {
        "sign-up": f"{served.url}subscribe",
        "confirm": f"{served.url}confirm?token={confirm_token}",
        "manage": f"{served.url}subscription?token={member}",
        "unsubscribe": f"{served.url}unsubscribe?token={member}",
        "stop-topic": stop_topic_url(served.settings, reader, "libya"),
        "stop-last-topic": f"{served.url}stop-topic?token={member}&topic=health",
        "search": f"{served.url}search",
        "search-results": f"{served.url}search?q=new+arrivals",
        "search-refused": f"{served.url}search?q=topic%3Anope",
    }
