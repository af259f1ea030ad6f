"""A digest or a confirmation request as an email message: values in, EmailMessage out.

Every text that reaches a header passes through `header_text` first: Python 3.11.7 lacks the
fix for CVE-2024-6923, so a line break in a title or an address could otherwise add a header.
Addresses that still do not parse as exactly one mailbox raise MailAddressError.

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
import secrets
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email import quoprimime
from email.message import EmailMessage
from email.policy import Policy
from email.utils import format_datetime, parseaddr
from typing import Any, Self
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

import css_inline

from pressfeed.addresses import header_text, mailbox
from pressfeed.models import Digest, Frequency, MailSettings, Subscriber
from pressfeed.site import manage_url, stop_topic_base, unsubscribe_url
from pressfeed.templating import environment, long_date, prints_plainly, render, schedule

ID_DOMAIN = "pressfeed.invalid"  # Message-ID domain when neither site nor sender has one
LIST_DOMAIN = "localhost"  # List-Id domain when neither site nor sender has one
UNSUBSCRIBE_LOCAL = "unsubscribe"  # local part of the mailto unsubscribe address, before "+"
SUBJECT_TOPICS = 4  # topics a subject names; with more, it names one fewer and counts the rest

_DOMAIN = re.compile(r"(?:[a-z0-9-]+\.)+[a-z][a-z0-9-]*")  # a final label of digits is an IP
_SPECIALS = frozenset('()<>[]:;@\\,."')
_URL_SAFE = ":/?#[]@!$&'()*+,;=%~"  # what a URL may keep when made ASCII for a header
_INLINER = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)
_DIGEST_TEMPLATES = ("digest.txt", "digest.html")
_QP_WIDTH = email.policy.default.max_line_length or 78  # where set_content wraps encoded lines
_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # where bytes.splitlines() breaks, as `email` does
# An address or token that HTML escaping, the CSS inliner and URL quoting all leave alone, and
# that fits on the To line unfolded: a shared body can take it in place of a stand-in.
_PLAIN_ADDRESS = re.compile(r"(?=.{1,74}$)[\w+-]+(?:\.[\w+-]+)*@[a-z0-9-]+(?:\.[a-z0-9-]+)+", re.A)
_PLAIN_TOKEN = re.compile(r"[\w-]+", re.ASCII)
# A subject that `email` writes as it is, on one line: no encoded words, no folding.
_PLAIN_SUBJECT = re.compile(r"(?=.{1,69}$)[\w,.()'-]+(?: [\w,.()'-]+)*", re.ASCII)


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
    subscriber: Subscriber,
    settings: MailSettings,
    *,
    confirm_url: str,
    now: dt.datetime,
    topic_titles: Mapping[str, str] | None = None,
) -> EmailMessage:
    """The mail asking `subscriber` to confirm their address before anything else is sent; it
    restates the topics (named by `topic_titles`, slug to title) and the schedule chosen."""
    subject = f"Confirm your subscription to {settings.site_title}"
    parts = (subscriber.id, "confirm", _utc_iso(subscriber.created, "created"))
    message = _message(settings, subscriber, subject, now, parts)
    values = {
        **_site_values(settings, subject),
        "address": subscriber.address,
        "confirm_url": confirm_url,
        "topics": chosen_topics(subscriber, topic_titles or {}),
        "when": schedule(
            subscriber.frequency.value, subscriber.hour, subscriber.weekday, subscriber.timezone
        ),
    }
    _add_body(message, settings, "confirm", values)
    return message


def chosen_topics(subscriber: Subscriber, titles: Mapping[str, str]) -> str:
    """The subscriber's topics in words: "Health and Libya", or "every topic"."""
    if not subscriber.topics:
        return "every topic, including topics added later"
    return _and_list([titles.get(slug, slug) for slug in subscriber.topics])


def message_bytes(message: EmailMessage) -> bytes:
    """The message as SMTP carries it (CRLF line ends): what the outbox stores and resends."""
    return message.as_bytes(policy=email.policy.SMTP)


def digest_subject(digest: Digest) -> str:
    """What is inside: "3 new releases on Libya and Health"."""
    if digest.count == 0:
        return "No new releases"
    titles = [header_text(s.title) for s in digest.sections if s.items]
    if len(titles) > SUBJECT_TOPICS:
        named = SUBJECT_TOPICS - 1
        titles = [*titles[:named], f"{len(titles) - named} more topics"]
    return f"{releases_phrase(digest)} on {_and_list(titles)}"


def releases_phrase(digest: Digest) -> str:
    """ "3 new releases", "2 releases newly added" (dated long ago), or "1 new release and 2
    newly added": old releases dropped into the folder are not called new."""
    old = digest.newly_added
    new = digest.count - old
    fresh = f"{new} new release{'' if new == 1 else 's'}"
    if not old:
        return fresh
    if not new:
        return f"{old} release{'' if old == 1 else 's'} newly added"
    return f"{fresh} and {old} newly added"


def message_id(settings: MailSettings, *parts: str) -> str:
    """A Message-ID only the secret's holder can predict; the same parts give the same id."""
    return f"<{_id_key(settings, parts)}@{_domain(settings) or ID_DOMAIN}>"


def _id_key(settings: MailSettings, parts: Sequence[str]) -> str:
    """The part of a Message-ID before the "@"."""
    if not settings.secret:
        raise ValueError("MailSettings.secret is empty: Message-IDs would be predictable")
    return hmac.new(settings.secret, "|".join(parts).encode(), hashlib.sha256).hexdigest()[:32]


def unsubscribe_mailto(settings: MailSettings, subscriber: Subscriber) -> str | None:
    """`mailto:unsubscribe+TOKEN@DOMAIN?subject=unsubscribe TOKEN`, or None when nothing reads it.

    The domain is the sender's; a token that is not plain URL-safe text gets no mailto.
    """
    token = subscriber.token
    if not settings.unsubscribe_mailto or not _PLAIN_TOKEN.fullmatch(token):
        return None
    domain = mailbox(settings.sender, "sender").domain
    return f"mailto:{UNSUBSCRIBE_LOCAL}+{token}@{quote(domain)}?subject=unsubscribe%20{token}"


def _message(
    settings: MailSettings,
    subscriber: Subscriber,
    subject: str,
    now: dt.datetime,
    id_parts: Sequence[str],
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = mailbox(settings.sender, "sender")
    message["To"] = mailbox(subscriber.address, f"address of subscriber {subscriber.id}")
    if settings.reply_to:
        message["Reply-To"] = mailbox(settings.reply_to, "reply_to")
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
    web = _ascii_url(unsubscribe_url(settings, subscriber.token))
    items = [f"<{web}>"]
    mailto = unsubscribe_mailto(settings, subscriber)
    if mailto:
        items.append(f"<{mailto}>")
    message["List-Unsubscribe"] = _FoldedList("List-Unsubscribe", items)
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
    return {**_shared_values(digest, settings), **_personal_values(settings, digest.subscriber)}


def _shared_values(digest: Digest, settings: MailSettings) -> dict[str, Any]:
    """What a digest's templates get that other subscribers' digests may have too."""
    subscriber = digest.subscriber
    zone = ZoneInfo(subscriber.timezone)
    return {
        **_site_values(settings, digest_subject(digest)),
        "count": digest.count,
        "releases_phrase": releases_phrase(digest),
        "sections": [s for s in digest.sections if s.items],
        "period": _period(digest.period_start, digest.period_end, zone),
        "frequency": subscriber.frequency.value,
        "every_topic": not subscriber.topics,
        "topics": _and_list([s.title for s in digest.sections]),
        "search": subscriber.query,
    }


def _personal_values(settings: MailSettings, subscriber: Subscriber) -> dict[str, Any]:
    """What a digest's templates get that is the subscriber's own."""
    return {
        "address": subscriber.address,
        "manage_url": manage_url(settings, subscriber.token),
        "unsubscribe_url": unsubscribe_url(settings, subscriber.token),
        "stop_topic_url": stop_topic_base(settings, subscriber.token),
    }


def _period(start: dt.datetime, end: dt.datetime, zone: ZoneInfo) -> str:
    """The period on the subscriber's clock: "22 November 2026, 08:00 to 14:00 (Europe/Rome)"."""
    start, end = start.astimezone(zone), end.astimezone(zone)
    first = f"{long_date(start.date())}, {start:%H:%M}"
    last = f"{end:%H:%M}" if start.date() == end.date() else f"{long_date(end.date())}, {end:%H:%M}"
    return f"{first} to {last} ({zone.key})"


def _domain(settings: MailSettings) -> str | None:
    site = urlsplit(settings.site_url).hostname or ""
    sender = mailbox(settings.sender, "sender").domain.lower()
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


# --- many digests, each distinct body rendered once ---------------------------------------------


@dataclass(frozen=True)
class BuiltMessage:
    """A message as final bytes, with its envelope and Message-ID."""

    sender: str  # envelope sender (bare address)
    recipient: str  # envelope recipient (bare address)
    message_id: str
    data: bytes  # what `message_bytes` gives: CRLF line ends, 7-bit


class DigestMailer:
    """Builds digests for many subscribers, rendering each distinct body once.

    Digests with the same releases, period, rhythm and topics differ only in the subscriber's
    address, links and Message-ID. Such a body is rendered, CSS-inlined and quoted-printable
    encoded once with stand-in values; each copy then gets its own values, and only the lines
    holding them are encoded again. A copy is the same message `digest_message` makes, but for
    its MIME boundary. Digests outside this shortcut (an address or token with characters a
    template could escape, templates that change the personal values rather than print them)
    are built one at a time by `digest_message`.
    """

    def __init__(self, settings: MailSettings, *, now: dt.datetime) -> None:
        self.settings = settings
        self.now = now
        nonce = secrets.token_hex(8)  # stand-ins no release text can contain by chance
        self._first = _StandIn(f"a{nonce}.x+y-z_w@a{nonce}.invalid", f"t{nonce}-_a", nonce)
        self._second = _StandIn(f"bb{nonce}.xx+y@bb{nonce}.invalid", f"tt{nonce}_-bb", nonce)
        self._subject = f"subject {nonce}"
        self._env = environment(settings.template_dirs)
        # Templates that only print the personal values need no check with other stand-ins.
        personal = frozenset(_personal_values(settings, self._first.subscriber(now)))
        self._plain = all(prints_plainly(self._env, n, personal) for n in _DIGEST_TEMPLATES)
        self._bodies: dict[tuple[Any, ...], _Body | None] = {}
        self._heads: dict[str, _Head | None] = {}
        self._lines: dict[str, str] = {}  # encoded lines, shared by every body

    @property
    def bodies(self) -> int:
        """How many distinct bodies were rendered."""
        return len(self._bodies)

    def build(self, digest: Digest) -> BuiltMessage:
        """The digest as final bytes; MailAddressError for an address mail cannot carry."""
        if digest.count == 0:
            raise ValueError(f"digest for subscriber {digest.subscriber.id} has no releases")
        subscriber = digest.subscriber
        if _PLAIN_ADDRESS.fullmatch(subscriber.address) and _PLAIN_TOKEN.fullmatch(
            subscriber.token
        ):
            values = _shared_values(digest, self.settings)
            body = self._body(values)
            head = self._head(values["subject"])
            if body is not None and head is not None:
                return self._copy(digest, values["subject"], head, body)
        return built(digest_message(digest, self.settings, now=self.now))

    def _copy(self, digest: Digest, subject: str, head: _Head, body: _Body) -> BuiltMessage:
        subscriber = digest.subscriber
        parts = (subscriber.id, _utc_iso(digest.period_end, "period_end"))
        key = _id_key(self.settings, parts)
        own = {
            "subject": f"Subject: {subject}\r\n",
            "address": subscriber.address,
            "token": subscriber.token,
            "key": key,
            "text": body.text.fill(self._first, subscriber),
            "html": body.html.fill(self._first, subscriber),
        }
        data = head.fill(own).encode("ascii")
        return BuiltMessage(head.sender, subscriber.address, head.message_id(key), data)

    def _body(self, values: dict[str, Any]) -> _Body | None:
        key = tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in sorted(values.items()))
        if key not in self._bodies:
            self._bodies[key] = self._render(values)
        return self._bodies[key]

    def _render(self, values: dict[str, Any]) -> _Body | None:
        """Both parts with stand-ins; None when the templates do more than print them."""
        env, first = self._env, self._personal(self._first)
        text, html = (render(env, name, **values, **first) for name in _DIGEST_TEMPLATES)
        if not self._plain:  # then other stand-ins must give the same text, but for themselves
            second = self._personal(self._second)
            for name, rendered in zip(_DIGEST_TEMPLATES, (text, html), strict=True):
                if self._first.swap(rendered, self._second) != render(
                    env, name, **values, **second
                ):
                    return None
        inlined = _INLINER.inline(html)
        if not all(inlined.count(v) == html.count(v) for v in self._first.values):
            return None
        return _Body(self._part(text), self._part(inlined))

    def _personal(self, stand_in: _StandIn) -> dict[str, Any]:
        return _personal_values(self.settings, stand_in.subscriber(self.now))

    def _part(self, content: str) -> _Part:
        """`content` encoded as `set_content` encodes it, the stand-ins' lines left raw."""
        lines = _LINE_BREAK.split(content)
        if lines[-1] == "" and len(lines) > 1:
            lines.pop()  # a final line break ends the last line: it starts no new one
        pieces: list[str] = []
        done: list[str] = []
        for line in lines:
            if self._first.holds(line):
                pieces += ["".join(done), line]
                done = []
            else:
                done.append(self._encoded(line))
        return _Part((*pieces, "".join(done)))

    def _encoded(self, line: str) -> str:
        if line not in self._lines:
            self._lines[line] = _quoted_printable(line)
        return self._lines[line]

    def _head(self, subject: str) -> _Head | None:
        """The headers and MIME frame of digests with this subject, with stand-ins.

        A plain subject fits on its line unfolded and unencoded: one frame serves them all.
        """
        plain = _PLAIN_SUBJECT.fullmatch(subject) is not None
        key = "" if plain else subject
        if key not in self._heads:
            self._heads[key] = self._frame(self._subject if plain else subject)
        return self._heads[key]

    def _frame(self, subject: str) -> _Head | None:
        stand_in = self._first.subscriber(self.now)
        parts = (stand_in.id, "frame")
        message = _message(self.settings, stand_in, subject, self.now, parts)
        _add_list_headers(message, self.settings, stand_in)
        marks = {"text": f"text{self._first.nonce}", "html": f"html{self._first.nonce}"}
        message.set_content(marks["text"], cte="quoted-printable")
        message.add_alternative(marks["html"], subtype="html", cte="quoted-printable")
        data = message_bytes(message).decode("ascii")
        if data.count(self._first.address) != 1 or f"To: {self._first.address}\r\n" not in data:
            return None  # the address is folded or written elsewhere: copies would differ
        slots = {
            f"Subject: {self._subject}\r\n": "subject",
            self._first.address: "address",
            self._first.token: "token",
            _id_key(self.settings, parts): "key",
            f"{marks['text']}\r\n": "text",
            f"{marks['html']}\r\n": "html",
        }
        found = re.compile("|".join(re.escape(s) for s in slots))
        names = tuple(slots[m.group()] for m in found.finditer(data))
        if sorted(n for n in names if n not in ("token", "subject")) != [
            "address",
            "html",
            "key",
            "text",
        ]:
            return None
        domain = _domain(self.settings) or ID_DOMAIN
        sender = parseaddr(str(message["From"]))[1]
        return _Head(tuple(found.split(data)), names, sender, domain)


@dataclass(frozen=True)
class _StandIn:
    """Personal values that stand in for a subscriber's own while a shared body is made."""

    address: str
    token: str
    nonce: str

    @property
    def values(self) -> tuple[str, str]:
        return (self.address, self.token)

    def subscriber(self, now: dt.datetime) -> Subscriber:
        return Subscriber(
            id=f"s{self.nonce}",
            address=self.address,
            topics=(),
            frequency=Frequency.DAILY,
            hour=0,
            weekday=0,
            timezone="UTC",
            confirmed=True,
            token=self.token,
            created=now,
        )

    def holds(self, line: str) -> bool:
        return self.address in line or self.token in line

    def swap(self, text: str, other: _StandIn) -> str:
        return text.replace(self.address, other.address).replace(self.token, other.token)

    def fill(self, text: str, subscriber: Subscriber) -> str:
        # Plain addresses and tokens read the same escaped, quoted or not (see _PLAIN_*).
        return text.replace(self.address, subscriber.address).replace(self.token, subscriber.token)


@dataclass(frozen=True)
class _Part:
    """A body part: encoded runs of lines, and between them raw lines holding stand-ins."""

    pieces: tuple[str, ...]  # encoded, raw, encoded, ..., encoded

    def fill(self, stand_in: _StandIn, subscriber: Subscriber) -> str:
        own = (_quoted_printable(stand_in.fill(p, subscriber)) for p in self.pieces[1::2])
        return "".join(_interleave(self.pieces[::2], tuple(own)))


@dataclass(frozen=True)
class _Body:
    text: _Part
    html: _Part


@dataclass(frozen=True)
class _Head:
    """A message's bytes as text, cut where the personal values and the two bodies go."""

    pieces: tuple[str, ...]
    names: tuple[str, ...]  # what goes between pieces[i] and pieces[i + 1]
    sender: str
    domain: str

    def fill(self, values: Mapping[str, str]) -> str:
        return "".join(_interleave(self.pieces, tuple(values[n] for n in self.names)))

    def message_id(self, key: str) -> str:
        return f"<{key}@{self.domain}>"


def built(message: EmailMessage) -> BuiltMessage:
    """A finished EmailMessage as bytes with its envelope."""
    sender = parseaddr(str(message["From"]))[1]
    recipient = parseaddr(str(message["To"]))[1]
    return BuiltMessage(sender, recipient, str(message["Message-ID"]), message_bytes(message))


def _interleave(outer: Sequence[str], inner: Sequence[str]) -> list[str]:
    joined = [outer[0]]
    for between, after in zip(inner, outer[1:], strict=True):
        joined += [between, after]
    return joined


def _quoted_printable(line: str) -> str:
    """One line as `set_content(cte="quoted-printable")` encodes it, with its CRLF."""
    latin = line.encode("utf-8").decode("latin-1")
    encoded = quoprimime.body_encode(latin + "\n", _QP_WIDTH)
    return encoded.replace("\n", "\r\n")
