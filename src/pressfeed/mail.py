"""A digest or a confirmation request as an email message: values in, EmailMessage out.

Every text that reaches a header passes through `header_text` first: Python 3.11.7 lacks the
fix for CVE-2024-6923, so a line break in a title or an address could otherwise add a header.
Addresses that still do not parse as exactly one mailbox raise ValueError.

Domain rule, for Message-ID and List-Id: the host of the site URL when it is a dotted domain
name (not "localhost", not an IP address), else the domain of the sender's address under the
same test, else none; then Message-IDs end in "pressfeed.invalid" (RFC 2606: never a real
host) and List-Ids in "localhost" (what RFC 2919 prescribes for lists without a domain).
"""

from __future__ import annotations

import datetime as dt
import email.policy
import hashlib
import hmac
import re
import unicodedata
from collections.abc import Mapping, Sequence
from email.headerregistry import Address, AddressHeader, HeaderRegistry
from email.message import EmailMessage
from email.policy import Policy
from email.utils import format_datetime
from typing import Any, Self
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

import css_inline

from pressfeed.models import Digest, MailSettings, Subscriber
from pressfeed.templating import environment, long_date, render

ID_DOMAIN = "pressfeed.invalid"  # Message-ID domain when neither site nor sender has one
LIST_DOMAIN = "localhost"  # List-Id domain when neither site nor sender has one
SUBJECT_TOPICS = 4  # topics a subject names; with more, it names one fewer and counts the rest

_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]+")
_DOMAIN = re.compile(r"(?:[a-z0-9-]+\.)+[a-z][a-z0-9-]*")  # a final label of digits is an IP
_SPECIALS = frozenset('()<>[]:;@\\,."')
_URL_SAFE = ":/?#[]@!$&'()*+,;=%~"  # what a URL may keep when made ASCII for a header
_HEADERS = HeaderRegistry()
_INLINER = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)


class _FoldedList(str):
    """A header of <...> items that folds after each comma and is never RFC 2047 encoded.

    Python's folder turns any word longer than a line into encoded words, which breaks the
    URLs of List-Unsubscribe. `email` writes a value that has a `name` by calling its `fold`.
    """

    name: str
    items: tuple[str, ...]

    def __new__(cls, name: str, items: Sequence[str]) -> Self:
        header = super().__new__(cls, ", ".join(items))
        header.name = name
        header.items = tuple(items)
        return header

    def fold(self, *, policy: Policy) -> str:
        """The header as it goes on the wire, one item a line."""
        return f"{self.name}: {f',{policy.linesep} '.join(self.items)}{policy.linesep}"


def digest_message(digest: Digest, settings: MailSettings, *, now: dt.datetime) -> EmailMessage:
    """The mail bringing `digest` to its subscriber, with one-click unsubscribe headers.

    The footer names the topics of every section, so sections should include the subscriber's
    topics that have no new items too.
    """
    if digest.count == 0:
        raise ValueError(f"digest for subscriber {digest.subscriber.id} has no releases")
    subscriber = digest.subscriber
    parts = (subscriber.id, _utc_iso(digest.period_end, "period_end"))
    message = _message(settings, subscriber, digest_subject(digest), now, parts)
    _add_list_headers(message, settings, subscriber)
    _add_body(message, settings, "digest", _digest_values(digest, settings))
    return message


def confirmation_message(
    subscriber: Subscriber, settings: MailSettings, *, confirm_url: str, now: dt.datetime
) -> EmailMessage:
    """The mail asking `subscriber` to confirm their address before anything else is sent."""
    subject = f"Confirm your subscription to {settings.site_title}"
    parts = (subscriber.id, "confirm", _utc_iso(subscriber.created, "created"))
    message = _message(settings, subscriber, subject, now, parts)
    values = {
        **_site_values(settings, subject),
        "address": subscriber.address,
        "confirm_url": confirm_url,
    }
    _add_body(message, settings, "confirm", values)
    return message


def message_bytes(message: EmailMessage) -> bytes:
    """The message as SMTP carries it (CRLF line ends): what the outbox stores and resends."""
    return message.as_bytes(policy=email.policy.SMTP)


def digest_subject(digest: Digest) -> str:
    """What is inside: "3 new releases on Libya and Health"."""
    count = digest.count
    if count == 0:
        return "No new releases"
    titles = [header_text(s.title) for s in digest.sections if s.items]
    if len(titles) > SUBJECT_TOPICS:
        named = SUBJECT_TOPICS - 1
        titles = [*titles[:named], f"{len(titles) - named} more topics"]
    return f"{count} new release{'' if count == 1 else 's'} on {_and_list(titles)}"


def message_id(settings: MailSettings, *parts: str) -> str:
    """A Message-ID only the secret's holder can predict; the same parts give the same id."""
    if not settings.secret:
        raise ValueError("MailSettings.secret is empty: Message-IDs would be predictable")
    key = hmac.new(settings.secret, "|".join(parts).encode(), hashlib.sha256).hexdigest()[:32]
    return f"<{key}@{_domain(settings) or ID_DOMAIN}>"


def manage_url(settings: MailSettings, subscriber: Subscriber) -> str:
    """The page where the subscriber changes topics and frequency."""
    return f"{settings.site_url}subscription?token={quote(subscriber.token, safe='')}"


def unsubscribe_url(settings: MailSettings, subscriber: Subscriber) -> str:
    """The page that ends the subscription; also the RFC 8058 one-click POST target."""
    return f"{settings.site_url}unsubscribe?token={quote(subscriber.token, safe='')}"


def header_text(value: str) -> str:
    """`value` without line breaks, control characters or lone surrogates, spaces collapsed."""
    return " ".join(_UNSAFE.sub(" ", value).split())


def _message(
    settings: MailSettings,
    subscriber: Subscriber,
    subject: str,
    now: dt.datetime,
    id_parts: Sequence[str],
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = _mailbox(settings.sender, "sender")
    message["To"] = _mailbox(subscriber.address, f"address of subscriber {subscriber.id}")
    if settings.reply_to:
        message["Reply-To"] = _mailbox(settings.reply_to, "reply_to")
    message["Subject"] = header_text(subject)
    message["Date"] = format_datetime(_aware(now, "now"))
    message["Message-ID"] = message_id(settings, *id_parts)
    # A program wrote it and it answers no message (RFC 3834): vacation responders stay quiet.
    message["Auto-Submitted"] = "auto-generated"
    return message


def _add_list_headers(
    message: EmailMessage, settings: MailSettings, subscriber: Subscriber
) -> None:
    title = header_text(settings.site_title)
    list_id = f"{_slug(title)}.{_domain(settings) or LIST_DOMAIN}"
    message["List-Id"] = f"{_phrase(title)} <{list_id}>"
    web = _ascii_url(unsubscribe_url(settings, subscriber))
    sender = _mailbox(settings.sender, "sender").addr_spec
    token = quote(subscriber.token, safe="")
    mailto = f"mailto:{quote(sender, safe='@+')}?subject=unsubscribe%20{token}"
    message["List-Unsubscribe"] = _FoldedList("List-Unsubscribe", (f"<{web}>", f"<{mailto}>"))
    if web.startswith("https://"):  # RFC 8058 one-click requires an HTTPS URI
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"


def _add_body(
    message: EmailMessage, settings: MailSettings, name: str, values: Mapping[str, Any]
) -> None:
    """The text part, then the HTML part with its CSS inlined, from templates `name`.txt/.html."""
    env = environment(settings.template_dirs)
    text = render(env, f"{name}.txt", **values)
    html = _INLINER.inline(render(env, f"{name}.html", **values))
    message.set_content(text, cte="quoted-printable")
    message.add_alternative(html, subtype="html", cte="quoted-printable")


def _site_values(settings: MailSettings, subject: str) -> dict[str, Any]:
    return {"site_title": settings.site_title, "site_url": settings.site_url, "subject": subject}


def _digest_values(digest: Digest, settings: MailSettings) -> dict[str, Any]:
    subscriber = digest.subscriber
    zone = ZoneInfo(subscriber.timezone)
    return {
        **_site_values(settings, digest_subject(digest)),
        "count": digest.count,
        "sections": [s for s in digest.sections if s.items],
        "period": _period(digest.period_start, digest.period_end, zone),
        "frequency": subscriber.frequency.value,
        "every_topic": not subscriber.topics,
        "topics": _and_list([s.title for s in digest.sections]),
        "address": subscriber.address,
        "manage_url": manage_url(settings, subscriber),
        "unsubscribe_url": unsubscribe_url(settings, subscriber),
    }


def _period(start: dt.datetime, end: dt.datetime, zone: ZoneInfo) -> str:
    """The period on the subscriber's clock: "22 November 2026, 08:00 to 14:00 (Europe/Rome)"."""
    start, end = start.astimezone(zone), end.astimezone(zone)
    first = f"{long_date(start.date())}, {start:%H:%M}"
    last = f"{end:%H:%M}" if start.date() == end.date() else f"{long_date(end.date())}, {end:%H:%M}"
    return f"{first} to {last} ({zone.key})"


def _mailbox(value: str, what: str) -> Address:
    """The one address in `value`; ValueError naming `what` when there is not exactly one."""
    try:
        header = _HEADERS("To", header_text(value))
    except (IndexError, ValueError) as error:  # "x@" raises IndexError inside 3.11's parser
        raise ValueError(f"{what} is not an email address: {value!r}") from error
    assert isinstance(header, AddressHeader)
    found = header.addresses
    if header.defects or len(found) != 1 or not found[0].username or not found[0].domain:
        raise ValueError(f"{what} is not one email address: {value!r}")
    return found[0]


def _domain(settings: MailSettings) -> str | None:
    site = urlsplit(settings.site_url).hostname or ""
    sender = _mailbox(settings.sender, "sender").domain.lower()
    return next((host for host in (site, sender) if _DOMAIN.fullmatch(host)), None)


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-") or "pressfeed"


def _phrase(text: str) -> str:
    """`text` as a display name: quoted when plain ASCII needs it; `email` encodes the rest."""
    if text.isascii() and not _SPECIALS.isdisjoint(text):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def _ascii_url(url: str) -> str:
    return quote(header_text(url), safe=_URL_SAFE)


def _and_list(items: Sequence[str]) -> str:
    if len(items) < 2:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"


def _aware(when: dt.datetime, what: str) -> dt.datetime:
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"{what} must be an aware datetime, got {when.isoformat()}")
    return when


def _utc_iso(when: dt.datetime, what: str) -> str:
    """The instant in UTC, so the same moment in any zone gives the same Message-ID."""
    return _aware(when, what).astimezone(dt.UTC).isoformat()
