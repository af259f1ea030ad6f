"""Digest and confirmation mails, serialised as SMTP sends them and parsed back."""

from __future__ import annotations

import dataclasses
import datetime as dt
import email.policy
import hashlib
import hmac
import re
from email.message import EmailMessage
from email.parser import BytesParser
from html.parser import HTMLParser
from pathlib import Path

import pytest

from pressfeed.errors import MailAddressError
from pressfeed.mail import (
    confirmation_message,
    digest_message,
    digest_subject,
    message_bytes,
    message_id,
)
from pressfeed.models import (
    Digest,
    DigestItem,
    DigestSection,
    Frequency,
    MailSettings,
    Subscriber,
)
from pressfeed.site import manage_url, unsubscribe_url
from tests.conftest import ROOT

SITE = "https://press.example.org/news/"
NOW = dt.datetime(2026, 11, 23, 7, 0, 5, tzinfo=dt.UTC)
START = dt.datetime(2026, 11, 22, 7, 0, tzinfo=dt.UTC)
END = dt.datetime(2026, 11, 23, 7, 0, tzinfo=dt.UTC)
TOKEN = "Zq3+/x=" + "k" * 40  # long, and with characters a URL must encode
CONFIRM_URL = f"{SITE}confirm?token=Zq3%2B%2Fx%3Dkkk"
INJECTION = "\r\nBcc: evil@example.com"
EXPECTED_HEADERS = [
    "From",
    "To",
    "Reply-To",
    "Subject",
    "Date",
    "Message-ID",
    "Auto-Submitted",
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "MIME-Version",
    "Content-Type",
]

# --- values -------------------------------------------------------------------------------------


def mail_settings(**changes: object) -> MailSettings:
    settings = MailSettings(
        sender="Press Office <news@example.org>",
        reply_to="desk@example.org",
        site_title="Press Office",
        site_url=SITE,
        secret=b"a secret for tests",
        template_dirs=(ROOT / "templates",),
    )
    return dataclasses.replace(settings, **changes)  # type: ignore[arg-type]


def subscriber(**changes: object) -> Subscriber:
    reader = Subscriber(
        id="sub-1",
        address="reader@example.com",
        topics=("libya", "health"),
        frequency=Frequency.DAILY,
        hour=8,
        weekday=0,
        timezone="Europe/Rome",
        confirmed=True,
        token=TOKEN,
        created=dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC),
    )
    return dataclasses.replace(reader, **changes)  # type: ignore[arg-type]


def item(n: int, title: str | None = None) -> DigestItem:
    return DigestItem(
        release_id=f"r{n}",
        title=title or f"Release number {n}",
        url=f"{SITE}releases/r{n}.html",
        date=dt.date(2026, 11, 22),
        place="Tripoli" if n % 2 else None,
        summary=f"What release {n} says first.",
    )


def section(slug: str, title: str, *items: DigestItem) -> DigestSection:
    return DigestSection(slug=slug, title=title, items=items)


def digest(*sections: DigestSection, reader: Subscriber | None = None, **changes: object) -> Digest:
    made = Digest(
        subscriber=reader or subscriber(),
        period_start=START,
        period_end=END,
        sections=sections or (section("libya", "Libya", item(1), item(2)),),
    )
    return dataclasses.replace(made, **changes)  # type: ignore[arg-type]


# --- reading a message back ---------------------------------------------------------------------


def parsed(message: EmailMessage) -> EmailMessage:
    """The message as a receiving server sees it."""
    data = message_bytes(message)
    assert data == message.as_bytes(policy=email.policy.SMTP)
    result = BytesParser(policy=email.policy.default).parsebytes(data)
    assert isinstance(result, EmailMessage)
    return result


def header_block(message: EmailMessage) -> list[str]:
    """The top-level header lines on the wire, folded lines kept apart."""
    head = message_bytes(message).split(b"\r\n\r\n", 1)[0].decode("ascii")
    return head.split("\r\n")


def header_names(message: EmailMessage) -> list[str]:
    return [line.split(":", 1)[0] for line in header_block(message) if not line[:1].isspace()]


def parts(message: EmailMessage) -> tuple[str, str]:
    """The text and the HTML of a multipart/alternative message, checking their order.

    Line ends come back as CRLF, as they travelled; they are made "\n" for the checks.
    """
    assert message.get_content_type() == "multipart/alternative"
    text, html = message.iter_parts()
    assert isinstance(text, EmailMessage)
    assert isinstance(html, EmailMessage)
    assert text.get_content_type() == "text/plain"
    assert html.get_content_type() == "text/html"
    assert text.get_content_charset() == html.get_content_charset() == "utf-8"
    return _lf(text.get_content()), _lf(html.get_content())


def _lf(content: str) -> str:
    return content.replace("\r\n", "\n")


class Html(HTMLParser):
    """The links, styled elements and <style> blocks of an HTML document."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str]] = []  # (href, text)
        self.styled: dict[str, str] = {}  # first tag with a style attribute -> the style
        self.link_styles: dict[str, str] = {}  # href -> style of its first link
        self.styles: list[str] = []
        self.metas: list[dict[str, str]] = []
        self._href: str | None = None
        self._text: list[str] = []
        self._in_style = False
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if "style" in values:
            self.styled.setdefault(tag, values["style"])
        if tag == "a":
            self._href, self._text = values.get("href", ""), []
            self.link_styles.setdefault(self._href, values.get("style", ""))
        self._in_style = tag == "style"
        if tag == "meta":
            self.metas.append(values)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.links.append((self._href, " ".join("".join(self._text).split())))
            self._href = None
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles.append(data)
        if self._href is not None:
            self._text.append(data)


# --- structure and headers ----------------------------------------------------------------------


def test_digest_is_text_then_html_alternative() -> None:
    text, html = parts(parsed(digest_message(digest(), mail_settings(), now=NOW)))
    assert "Release number 1" in text
    assert "<html" in html


def test_digest_headers() -> None:
    message = parsed(digest_message(digest(), mail_settings(), now=NOW))
    assert message["From"] == "Press Office <news@example.org>"
    assert message["To"] == "reader@example.com"
    assert message["Reply-To"] == "desk@example.org"
    assert message["Subject"] == "2 new releases on Libya"
    assert message["Date"] == "Mon, 23 Nov 2026 07:00:05 +0000"
    assert message["Date"].datetime == NOW
    assert re.fullmatch(r"<[0-9a-f]{32}@press\.example\.org>", message["Message-ID"])
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["List-Id"] == "Press Office <press-office.press.example.org>"
    token = "Zq3%2B%2Fx%3D" + "k" * 40
    assert message["List-Unsubscribe"] == f"<{SITE}unsubscribe?token={token}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert header_names(message) == EXPECTED_HEADERS


def test_long_list_unsubscribe_is_folded_not_encoded() -> None:
    lines = header_block(digest_message(digest(), mail_settings(), now=NOW))
    start = next(i for i, line in enumerate(lines) if line.startswith("List-Unsubscribe:"))
    assert lines[start] == f"List-Unsubscribe: <{SITE}unsubscribe?token=Zq3%2B%2Fx%3D{'k' * 40}>"
    assert not any("=?" in line for line in lines)


def test_mailto_unsubscribe_only_when_a_maildir_reads_it() -> None:
    reader = subscriber(token="Ab_-" + "k" * 28)
    off = parsed(digest_message(digest(reader=reader), mail_settings(), now=NOW))
    assert "mailto:" not in off["List-Unsubscribe"]
    on = mail_settings(unsubscribe_mailto=True)
    lines = header_block(digest_message(digest(reader=reader), on, now=NOW))
    start = next(i for i, line in enumerate(lines) if line.startswith("List-Unsubscribe:"))
    mailto = f"mailto:unsubscribe+{reader.token}@example.org?subject=unsubscribe%20{reader.token}"
    assert lines[start + 1] == f" <{mailto}>"


def test_a_token_unfit_for_an_address_gets_no_mailto() -> None:
    message = parsed(digest_message(digest(), mail_settings(unsubscribe_mailto=True), now=NOW))
    assert "mailto:" not in message["List-Unsubscribe"]


def test_one_click_post_only_for_https() -> None:
    plain = mail_settings(site_url="http://127.0.0.1:8080/")
    message = parsed(digest_message(digest(), plain, now=NOW))
    assert message["List-Unsubscribe-Post"] is None


def test_bytes_are_seven_bit_with_crlf_and_short_lines() -> None:
    sections = (section("libya", "Libyé – ‘quotes’", item(1, "Café € " * 40)),)
    data = message_bytes(digest_message(digest(*sections), mail_settings(), now=NOW))
    assert data.isascii()
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert max(len(line) for line in data.split(b"\r\n")) <= 998


def test_reply_to_only_when_set() -> None:
    message = parsed(digest_message(digest(), mail_settings(reply_to=""), now=NOW))
    assert "Reply-To" not in message
    assert header_names(message) == [h for h in EXPECTED_HEADERS if h != "Reply-To"]


def test_one_click_only_over_https() -> None:
    settings = mail_settings(site_url="http://press.example.org/news/")
    message = parsed(digest_message(digest(), settings, now=NOW))
    assert message["List-Unsubscribe"].startswith("<http://press.example.org/news/unsubscribe?")
    assert "List-Unsubscribe-Post" not in message


# --- Message-ID ---------------------------------------------------------------------------------


def test_message_id_is_an_hmac_of_its_parts() -> None:
    settings = mail_settings()
    key = hmac.new(settings.secret, b"sub-1|2026-11-23T07:00:00+00:00", hashlib.sha256)
    expected = f"<{key.hexdigest()[:32]}@press.example.org>"
    assert message_id(settings, "sub-1", "2026-11-23T07:00:00+00:00") == expected
    assert parsed(digest_message(digest(), settings, now=NOW))["Message-ID"] == expected


def test_same_digest_same_message_id_other_digest_other_id() -> None:
    settings = mail_settings()

    def mid(made: Digest, now: dt.datetime = NOW) -> str:
        return str(parsed(digest_message(made, settings, now=now))["Message-ID"])

    first = mid(digest())
    assert mid(digest(), now=NOW + dt.timedelta(hours=1)) == first  # a resend is the same mail
    rome = END.astimezone(dt.timezone(dt.timedelta(hours=1)))
    assert mid(digest(period_end=rome)) == first  # the same instant in another zone
    assert mid(digest(period_end=END + dt.timedelta(days=1))) != first
    assert mid(digest(reader=subscriber(id="sub-2"))) != first
    other_key = dataclasses.replace(settings, secret=b"another secret")
    assert parsed(digest_message(digest(), other_key, now=NOW))["Message-ID"] != first


def test_confirmation_id_differs_from_digest_id_and_is_stable() -> None:
    settings = mail_settings()
    reader = subscriber()

    def mid(now: dt.datetime) -> str:
        message = confirmation_message(reader, settings, confirm_url=CONFIRM_URL, now=now)
        return str(parsed(message)["Message-ID"])

    created = "2026-11-01T12:00:00+00:00"
    assert (
        mid(NOW)
        == mid(NOW + dt.timedelta(minutes=5))
        == message_id(settings, "sub-1", "confirm", created)
    )
    assert mid(NOW) != parsed(digest_message(digest(), settings, now=NOW))["Message-ID"]


@pytest.mark.parametrize(
    ("site_url", "sender", "domain"),
    [
        ("https://Press.Example.org:8443/news/", "a <news@example.net>", "press.example.org"),
        ("http://localhost:8000/", "a <news@mail.example.net>", "mail.example.net"),
        ("http://127.0.0.1:8000/", "news@localhost", "pressfeed.invalid"),
        ("http://[::1]:8000/", "news@192.168.1.2", "pressfeed.invalid"),
    ],
)
def test_message_id_domain(site_url: str, sender: str, domain: str) -> None:
    settings = mail_settings(site_url=site_url, sender=sender)
    assert message_id(settings, "x").endswith(f"@{domain}>")


def test_list_id_without_a_domain_uses_localhost() -> None:
    settings = mail_settings(site_url="http://localhost:8000/", sender="news@localhost")
    message = parsed(digest_message(digest(), settings, now=NOW))
    assert message["List-Id"] == "Press Office <press-office.localhost>"


def test_list_id_quotes_a_title_with_specials() -> None:
    settings = mail_settings(site_title='Ministry of Health, "Press" Office')
    message = parsed(digest_message(digest(), settings, now=NOW))
    assert message["List-Id"] == (
        '"Ministry of Health, \\"Press\\" Office" '
        "<ministry-of-health-press-office.press.example.org>"
    )


# --- subjects -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("counts", "subject"),
    [
        ((1,), "1 new release on Libya"),
        ((2, 1), "3 new releases on Libya and Health"),
        ((3, 0, 2, 2), "7 new releases on Libya, Governance and Migration"),
        ((1, 1, 1, 1), "4 new releases on Libya, Health, Governance and Migration"),
        ((1, 1, 1, 1, 1, 1), "6 new releases on Libya, Health, Governance and 3 more topics"),
        ((0, 0), "No new releases"),
    ],
)
def test_digest_subject(counts: tuple[int, ...], subject: str) -> None:
    titles = ["Libya", "Health", "Governance", "Migration", "Water", "Trade"]
    numbers = iter(range(100))
    sections = [
        section(title.lower(), title, *(item(next(numbers)) for _ in range(count)))
        for title, count in zip(titles, counts, strict=False)
    ]
    assert digest_subject(digest(*sections)) == subject


def test_empty_digest_is_refused() -> None:
    with pytest.raises(ValueError, match="sub-1 has no releases"):
        digest_message(digest(section("libya", "Libya")), mail_settings(), now=NOW)


# --- bodies -------------------------------------------------------------------------------------


def test_every_release_is_linked_in_both_parts() -> None:
    items = [item(n) for n in range(1, 6)]
    made = digest(section("libya", "Libya", *items[:3]), section("health", "Health", *items[3:]))
    text, html = parts(parsed(digest_message(made, mail_settings(), now=NOW)))
    links = Html(html).links
    for release in items:
        assert (release.url, release.title) in links
        assert f"{release.title}\n22 November 2026" in text
        assert release.url in text
        assert release.summary in text
        assert release.summary in html
    assert text.index("Libya\n=====") < text.index("Health\n======")
    assert "22 November 2026 · Tripoli" in text


def test_titles_are_escaped_in_html_and_plain_in_text() -> None:
    title = "Aid & <script>alert(1)</script> for Sirte"
    made = digest(section("libya", "Libya & <b>Co</b>", item(1, title)))
    text, html = parts(parsed(digest_message(made, mail_settings(), now=NOW)))
    assert "<script>" not in html
    assert "<b>" not in html
    assert "Aid &amp; &lt;script&gt;alert(1)&lt;/script&gt; for Sirte" in html
    assert "Libya &amp; &lt;b&gt;Co&lt;/b&gt;" in html
    assert (item(1).url, title) in Html(html).links
    assert f"\n{title}\n" in text
    assert "Libya & <b>Co</b>\n" in text
    assert "&amp;" not in text
    assert "&lt;" not in text


def test_css_is_inlined_and_media_rules_stay_in_a_style_block() -> None:
    _, html = parts(parsed(digest_message(digest(), mail_settings(), now=NOW)))
    page = Html(html)
    assert "color: #0a52c4" in page.link_styles[item(1).url]
    assert "color: #1b1b1b" in page.link_styles[SITE]  # ".site a" beats "a"
    assert "background-color: #efefea" in page.styled["body"]
    assert "font-size: 19px" in page.styled["h2"]
    (style,) = page.styles
    assert "@media (max-width: 620px)" in style
    assert "@media (prefers-color-scheme: dark)" in style
    outside_media = re.sub(r"@media[^{]*\{(?:[^{}]*\{[^{}]*\})*[^{}]*\}", "", style)
    assert outside_media.strip() == ""  # every plain rule went into style attributes
    assert {"name": "color-scheme", "content": "light dark"} in page.metas


def test_header_shows_site_and_period_on_the_subscribers_clock() -> None:
    text, html = parts(parsed(digest_message(digest(), mail_settings(), now=NOW)))
    period = "2 new releases from 22 November 2026, 08:00 to 23 November 2026, 08:00 (Europe/Rome)"
    assert text.startswith(f"Press Office\nYour daily digest\n{period}\n")
    assert period in html
    assert (SITE, "Press Office") in Html(html).links


def test_footer_has_manage_and_unsubscribe_links_and_the_reason() -> None:
    settings = mail_settings()
    text, html = parts(parsed(digest_message(digest(), settings, now=NOW)))
    token = subscriber().token
    manage, leave = manage_url(settings, token), unsubscribe_url(settings, token)
    links = Html(html).links
    assert (manage, "Change your topics or frequency") in links
    assert (leave, "Unsubscribe") in links
    assert f"Change your topics or frequency: {manage}\nUnsubscribe: {leave}\n" in text
    reason = "You get this email because reader@example.com is subscribed to Libya at"
    assert reason in text
    assert reason in html
    assert "once a day." in text


def test_footer_for_every_topic_weekly() -> None:
    reader = subscriber(topics=(), frequency=Frequency.WEEKLY)
    text, html = parts(parsed(digest_message(digest(reader=reader), mail_settings(), now=NOW)))
    assert "is subscribed to every topic at Press Office" in text
    assert "once a week." in text
    assert "Your weekly digest" in text
    assert "Your weekly digest" in html


def test_user_template_folder_overrides_digest_txt(tmp_path: Path) -> None:
    (tmp_path / "digest.txt").write_text(
        "{{ count }} for {{ address }} <{{ sections[0].items[0].title }}>\n", encoding="utf-8"
    )
    settings = mail_settings(template_dirs=(tmp_path, ROOT / "templates"))
    made = digest(section("libya", "Libya", item(1, "Water & power")))
    text, html = parts(parsed(digest_message(made, settings, now=NOW)))
    assert text == "1 for reader@example.com <Water & power>\n"
    assert "Change your topics or frequency" in html  # digest.html still from the project


# --- header injection ---------------------------------------------------------------------------


def test_site_title_cannot_add_headers() -> None:
    settings = mail_settings(site_title=f"Press Office{INJECTION}")
    reader = subscriber()
    for message in (
        digest_message(digest(), settings, now=NOW),
        confirmation_message(reader, settings, confirm_url=CONFIRM_URL, now=NOW),
    ):
        back = parsed(message)
        assert "Bcc" not in back
        assert not any(line.lower().startswith("bcc") for line in header_block(message))
        assert "Bcc" not in header_names(message)
    digest_mail = parsed(digest_message(digest(), settings, now=NOW))
    assert digest_mail["List-Id"] == (
        '"Press Office Bcc: evil@example.com" <press-office-bcc-evil-example-com.press.example.org>'
    )
    confirm = parsed(confirmation_message(reader, settings, confirm_url=CONFIRM_URL, now=NOW))
    assert confirm["Subject"] == "Confirm your subscription to Press Office Bcc: evil@example.com"


def test_topic_title_cannot_add_headers() -> None:
    made = digest(section("libya", f"Libya{INJECTION}", item(1)))
    message = digest_message(made, mail_settings(), now=NOW)
    assert parsed(message)["Subject"] == "1 new release on Libya Bcc: evil@example.com"
    assert header_names(message) == EXPECTED_HEADERS


@pytest.mark.parametrize(
    "address",
    [
        f"reader@example.com{INJECTION}",
        "reader@example.com\nBcc: evil@example.com",
        "reader@example.com, evil@example.com",
        "alice@example.org)<evil@example.com>",
        "not an address",
        "reader@",
    ],
)
def test_bad_subscriber_address_is_refused(address: str) -> None:
    reader = subscriber(address=address)
    with pytest.raises(MailAddressError, match="address of subscriber sub-1") as made:
        digest_message(digest(reader=reader), mail_settings(), now=NOW)
    assert (made.value.what, made.value.address) == ("address of subscriber sub-1", address)
    with pytest.raises(MailAddressError, match="address of subscriber sub-1"):
        confirmation_message(reader, mail_settings(), confirm_url=CONFIRM_URL, now=NOW)


def test_stray_whitespace_around_an_address_is_dropped() -> None:
    reader = subscriber(address=" reader@example.com\r\n")
    message = parsed(digest_message(digest(reader=reader), mail_settings(), now=NOW))
    assert message["To"] == "reader@example.com"


@pytest.mark.parametrize("field", ["sender", "reply_to"])
def test_injected_sender_or_reply_to_is_refused(field: str) -> None:
    settings = mail_settings(**{field: f"Press <news@example.org>{INJECTION}"})
    with pytest.raises(MailAddressError, match=field):
        digest_message(digest(), settings, now=NOW)


# --- confirmation -------------------------------------------------------------------------------


def test_confirmation_mail() -> None:
    settings = mail_settings()
    message = confirmation_message(subscriber(), settings, confirm_url=CONFIRM_URL, now=NOW)
    back = parsed(message)
    text, html = parts(back)
    assert back["Subject"] == "Confirm your subscription to Press Office"
    assert back["To"] == "reader@example.com"
    assert back["From"] == "Press Office <news@example.org>"
    assert back["Auto-Submitted"] == "auto-generated"
    assert f"\n{CONFIRM_URL}\n" in text
    links = Html(html).links
    assert (CONFIRM_URL, "Confirm my subscription") in links
    assert (CONFIRM_URL, CONFIRM_URL) in links
    for body in (text, " ".join(html.split())):
        assert "Nothing else will be sent to this address until it is confirmed" in body
        assert "you can ignore this email" in body
    # Not a list message: no list headers, so no unsubscribe button for a pending address.
    assert header_names(message) == [
        "From",
        "To",
        "Reply-To",
        "Subject",
        "Date",
        "Message-ID",
        "Auto-Submitted",
        "MIME-Version",
        "Content-Type",
    ]


# --- refused values -----------------------------------------------------------------------------


def test_naive_times_are_refused() -> None:
    naive = dt.datetime(2026, 11, 23, 7, 0)
    with pytest.raises(ValueError, match="now must be an aware datetime"):
        digest_message(digest(), mail_settings(), now=naive)
    with pytest.raises(ValueError, match="period_end must be an aware datetime"):
        digest_message(digest(period_end=naive), mail_settings(), now=NOW)


def test_empty_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="secret is empty"):
        digest_message(digest(), mail_settings(secret=b""), now=NOW)


def test_a_digest_cites_each_release_s_source() -> None:
    cited = dataclasses.replace(
        item(1), organisation="IOM", source_url="https://www.iom.int/news/r1?a=1&b=2"
    )
    unnamed = dataclasses.replace(item(2), source_url="https://example.org/r2")
    made = digest(section("libya", "Libya", cited, unnamed, item(3)))
    text, html = parts(parsed(digest_message(made, mail_settings(), now=NOW)))
    assert "Source: IOM https://www.iom.int/news/r1?a=1&b=2" in text
    assert "Source: original page https://example.org/r2" in text
    assert text.count("Source:") == 2
    assert re.search(r'<a href="https://www.iom.int/news/r1\?a=1&amp;b=2"[^>]*>IOM</a>', html)
    assert html.count("Source:") == 2
