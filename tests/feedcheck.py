"""The W3C Feed Validation Service's rules for Atom 1.0 and RSS 2.0: its own code, and ours.

`w3c_problems` runs the W3C validator itself (https://validator.w3.org/feed/, source in
w3c/feedvalidator, which has no package: `make test` clones it at a fixed commit into
build/feedvalidator, see `W3C_SOURCE`) on a document's bytes, offline, at the level of the online
service; its errors and warnings both count. The rest of this module states the validator's main
rules with lxml, quick enough for every unit test and with no checkout needed: `atom_problems` and
`rss_problems` take a document's bytes (and, to check its self link, its file name) and return
one line per problem found: an empty list means the document passes. What the W3C service calls a
warning counts as a problem here.

Atom (RFC 4287, with RFC 5005 feed history), implemented:
- well-formed XML; the root is atom:feed; no feed metadata after the first entry;
- the feed has exactly one id, title and updated, and at most one subtitle, rights, generator;
- an author with a name on the feed, or on every entry;
- ids are absolute IRIs: `urn:uuid:` plus a UUID, or an http(s) URL;
- updated and published are RFC 3339 date-times with a time zone (Z or +hh:mm);
- at most one link rel="alternate" per type and hreflang, in the feed and in each entry;
- a feed link rel="self" whose href's last path segment is the document's name, when given;
- each link has an absolute http(s) href and a relation W3C knows (IANA's list) or a URI;
- each entry has exactly one id, title and updated, at most one published, summary and content,
  and a link rel="alternate" or a content; entry ids are unique, and so are their updated
  (W3C "DuplicateUpdated");
- text constructs and content of type text or html hold text only (no child elements), and
  the HTML they carry has no element or attribute the W3C calls a security risk (script,
  style, iframe, object, embed, on* attributes...) and no javascript: or relative URL;
- xml:lang values are well-formed language tags;
- fh:archive only in a feed that has a link rel="current"; no RFC 5005 relation in an entry;
- no C1 control characters (U+0080-U+009F) in text or attributes (W3C "BadCharacters").

RSS 2.0, implemented:
- well-formed XML; the root is rss with version="2.0"; exactly one channel;
- the channel has exactly one non-empty title, link and description, and at most one of each
  other core element (language, lastBuildDate, pubDate, generator, docs...);
- an atom:link rel="self" (W3C warns without it) ending with the document's name, when given;
- lastBuildDate and pubDate are RFC 822 dates with a four-digit year and a correct weekday, which
  `email.utils.parsedate_to_datetime` reads;
- the language is a well-formed language tag;
- every item has a title or a description, at most one of each core element; guids are unique,
  and a guid that is not an http(s) URL has isPermaLink="false";
- link elements and atom:link hrefs are absolute http(s) URLs, with W3C-known relations;
- item descriptions, read as HTML, pass the same security and relative-URL rules as Atom HTML;
- no C1 control characters.

Left out: character encoding and HTTP checks (content type, BOM, the self URL matching the URL
fetched), language codes against the ISO 639 registry (syntax only), canonical-form URIs, type
xhtml and base64 content, atom:source, e-mail and URI syntax of person constructs, category
schemes and domains, RSS image, cloud, textInput, skipHours and skipDays, enclosures, plausible
(not future) dates, U+FFFD warnings, RFC 5005 complete feeds (fh:complete) and the warning for an
archive page with neither prev-archive nor next-archive, iTunes, Media RSS and other extensions.
Two rules are stricter than W3C: entry ids must be unique even when their updated differ, and
every href must be absolute (we never use xml:base).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import importlib
import re
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from functools import cache
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from lxml import etree

from tests.conftest import ROOT

ATOM = "{http://www.w3.org/2005/Atom}"
HISTORY = "{http://purl.org/syndication/history/1.0}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# W3C's validRelations (src/feedvalidator/link.py).
LINK_RELATIONS = _words(
    "alternate current describedby edit edit-media enclosure first hub last license next "
    "next-archive payment prev-archive previous related replies search self service up via"
)
HISTORY_RELATIONS = _words("current first last next next-archive prev-archive previous")
# Elements the W3C's HTML check knows but does not accept (SecurityRisk).
RISKY_TAGS = _words(
    "applet base basefont body embed frame frameset head html iframe isindex link meta noframes "
    "object param plaintext script style title xmp"
)
URL_ATTRIBUTES = frozenset(("href", "src", "action", "poster", "background", "longdesc", "cite"))

_UUID_URN = re.compile(r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")
_RFC822 = re.compile(
    r"((?P<dow>[A-Z][a-z]{2}), )?\d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d(:\d\d)? "
    r"([+-]\d{4}|UT|GMT|[ECMP][SD]T|Z)"
)
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*|[ix](-[A-Za-z0-9]{1,8})+")
_C1 = re.compile("[\x80-\x9f]")

ATOM_REQUIRED = ("id", "title", "updated")
ATOM_FEED_OPTIONAL = ("subtitle", "rights", "generator", "icon", "logo")
ATOM_ENTRY_OPTIONAL = ("published", "summary", "content", "rights", "source")
ATOM_TEXT_CONSTRUCTS = ("title", "subtitle", "summary", "rights", "content")
RSS_CHANNEL_OPTIONAL = _words(
    "language copyright managingEditor webMaster pubDate lastBuildDate generator docs "
    "cloud ttl image rating textInput skipHours skipDays"
)
RSS_ITEM_SINGLETONS = ("title", "link", "description", "guid", "pubDate", "comments", "source")


# Where `make test` puts the W3C validator's source (`make build/feedvalidator`).
W3C_SOURCE = ROOT / "build" / "feedvalidator"


def w3c_problems(data: bytes, url: str, source: Path = W3C_SOURCE) -> list[str]:
    """What the W3C validator reports, errors and warnings, for the document served at `url`."""
    validator = _w3c_validator(source)
    try:
        events = validator.validateString(data, firstOccurrenceOnly=1, base=url)["loggedEvents"]
    except validator.logging.ValidationFailure as failure:
        events = [failure.event]
    compatibility = importlib.import_module("feedvalidator.compatibility")
    formatter = importlib.import_module("feedvalidator.formatter.text_plain")
    return [str(line) for line in formatter.Formatter(compatibility.AA(events))]


@cache
def _w3c_validator(source: Path) -> Any:
    """The `feedvalidator` package of a checkout of w3c/feedvalidator (its code is under src/)."""
    sys.path.insert(0, str(source / "src"))
    return importlib.import_module("feedvalidator")


def atom_problems(data: bytes, name: str | None = None) -> list[str]:
    """What the W3C validator would object to in an Atom document called `name`."""
    root, problems = _parse(data)
    if root is None:
        return problems
    if root.tag != ATOM + "feed":
        return [f"root element is {root.tag}, not atom:feed"]
    entries = root.findall(ATOM + "entry")
    return [
        *_atom_feed_problems(root, name),
        *_author_problems(root, entries),
        *(p for i, entry in enumerate(entries, 1) for p in _atom_entry_problems(entry, i)),
        *_duplicates("entry id", (_text(e.find(ATOM + "id")) for e in entries)),
        *_duplicates("entry updated", (_text(e.find(ATOM + "updated")) for e in entries)),
        *_text_construct_problems(root),
        *_language_problems(root),
        *_c1_problems(root),
    ]


def rss_problems(data: bytes, name: str | None = None) -> list[str]:
    """What the W3C validator would object to in an RSS 2.0 document called `name`."""
    root, problems = _parse(data)
    if root is None:
        return problems
    if root.tag != "rss" or root.get("version") != "2.0":
        return [f"root element is {root.tag} version {root.get('version')!r}, not rss 2.0"]
    channels = root.findall("channel")
    if len(channels) != 1:
        return [f"{len(channels)} channel elements, expected exactly one"]
    channel = channels[0]
    items = channel.findall("item")
    return [
        *_rss_channel_problems(channel, name),
        *(p for i, item in enumerate(items, 1) for p in _rss_item_problems(item, i)),
        *_duplicates("guid", (_text(g) for g in channel.findall("item/guid"))),
        *_c1_problems(root),
    ]


def _parse(data: bytes) -> tuple[etree._Element | None, list[str]]:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        return etree.fromstring(data, parser), []
    except etree.XMLSyntaxError as error:
        return None, [f"not well-formed XML: {error}"]


def _atom_feed_problems(feed: etree._Element, name: str | None) -> Iterator[str]:
    yield from _counts(feed, ATOM, ATOM_REQUIRED, "feed", exactly=True)
    yield from _counts(feed, ATOM, ATOM_FEED_OPTIONAL, "feed", exactly=False)
    yield from _id_problems(feed.find(ATOM + "id"), "feed")
    yield from _rfc3339_problems(feed.find(ATOM + "updated"), "feed")
    yield from _metadata_order_problems(feed)
    links = feed.findall(ATOM + "link")
    yield from _link_problems(links, "feed")
    yield from _self_problems(
        [link.get("href", "") for link in links if _rel(link) == "self"], name
    )
    yield from _history_problems(feed, links)


def _atom_entry_problems(entry: etree._Element, index: int) -> Iterator[str]:
    where = f"entry {index}"
    yield from _counts(entry, ATOM, ATOM_REQUIRED, where, exactly=True)
    yield from _counts(entry, ATOM, ATOM_ENTRY_OPTIONAL, where, exactly=False)
    yield from _id_problems(entry.find(ATOM + "id"), where)
    yield from _rfc3339_problems(entry.find(ATOM + "updated"), where)
    yield from _rfc3339_problems(entry.find(ATOM + "published"), where)
    links = entry.findall(ATOM + "link")
    yield from _link_problems(links, where)
    if entry.find(ATOM + "content") is None and not any(_rel(x) == "alternate" for x in links):
        yield f"{where}: has neither a link rel='alternate' nor a content"
    for link in links:
        if _rel(link) in HISTORY_RELATIONS:
            yield f"{where}: RFC 5005 relation {_rel(link)!r} belongs on the feed, not an entry"


def _author_problems(feed: etree._Element, entries: list[etree._Element]) -> Iterator[str]:
    if _has_author(feed):
        return
    for index, entry in enumerate(entries, 1):
        if not _has_author(entry):
            yield f"entry {index}: no author, and the feed has none"


def _has_author(element: etree._Element) -> bool:
    return any(_text(a.find(ATOM + "name")) for a in element.findall(ATOM + "author"))


def _counts(
    parent: etree._Element, ns: str, names: Iterable[str], where: str, *, exactly: bool
) -> Iterator[str]:
    for name in names:
        count = len(parent.findall(ns + name))
        if count > 1 or (exactly and count == 0):
            expected = "exactly one" if exactly else "at most one"
            yield f"{where}: {count} <{name}> elements, expected {expected}"


def _id_problems(element: etree._Element | None, where: str) -> Iterator[str]:
    if element is None:
        return
    value = _text(element)
    if not (_UUID_URN.fullmatch(value) or _is_absolute_url(value)):
        yield f"{where}: id {value!r} is not an absolute IRI (urn:uuid: or http(s):)"


def _rfc3339_problems(element: etree._Element | None, where: str) -> Iterator[str]:
    if element is None:
        return
    value = _text(element)
    if not (_RFC3339.fullmatch(value) and _parses_iso(value)):
        yield f"{where}: <{_local(element)}> {value!r} is not an RFC 3339 date-time with a zone"


def _parses_iso(value: str) -> bool:
    try:
        dt.datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _metadata_order_problems(feed: etree._Element) -> Iterator[str]:
    seen_entry = False
    for child in feed:
        if not isinstance(child.tag, str):
            continue
        if child.tag == ATOM + "entry":
            seen_entry = True
        elif seen_entry:
            yield f"feed: <{_local(child)}> comes after the entries"


def _link_problems(links: list[etree._Element], where: str) -> Iterator[str]:
    alternates = Counter(
        (x.get("type"), x.get("hreflang")) for x in links if _rel(x) == "alternate"
    )
    for (kind, lang), count in alternates.items():
        if count > 1:
            yield f"{where}: {count} links rel='alternate' with type {kind!r} hreflang {lang!r}"
    for link in links:
        yield from _href_problems(link.get("href"), f"{where}: link rel={_rel(link)!r}")
        if _rel(link) not in LINK_RELATIONS and not _is_absolute_url(_rel(link)):
            yield f"{where}: link relation {_rel(link)!r} is not registered"


def _href_problems(href: str | None, where: str) -> Iterator[str]:
    if not href:
        yield f"{where}: no href"
    elif not _is_absolute_url(href):
        yield f"{where}: href {href!r} is not an absolute http(s) URL"


def _self_problems(hrefs: list[str], name: str | None) -> Iterator[str]:
    if not hrefs:
        yield "no link rel='self'"
    for href in hrefs:
        if name is not None and urlsplit(href).path.rsplit("/", 1)[-1] != name:
            yield f"link rel='self' {href!r} does not end with the document name {name!r}"


def _history_problems(feed: etree._Element, links: list[etree._Element]) -> Iterator[str]:
    if feed.find(HISTORY + "archive") is not None and not any(_rel(x) == "current" for x in links):
        yield "feed: fh:archive without a link rel='current'"


def _text_construct_problems(root: etree._Element) -> Iterator[str]:
    for name in ATOM_TEXT_CONSTRUCTS:
        for element in root.iter(ATOM + name):
            kind = element.get("type", "text")
            where = f"<{name}> type {kind!r}"
            if kind in ("text", "html") and len(element):
                yield f"{where} holds child elements; it must hold escaped text"
            if kind == "html":
                yield from _html_problems(_text(element), where)


def _html_problems(markup: str, where: str) -> list[str]:
    scanner = _HtmlScanner()
    scanner.feed(markup)
    scanner.close()
    return [f"{where}: {problem}" for problem in scanner.problems]


class _HtmlScanner(HTMLParser):
    """Collects the tags, attributes and URLs in HTML that a feed reader should not trust."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in RISKY_TAGS:
            self.problems.append(f"HTML element <{tag}> is a security risk")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"HTML attribute {name} on <{tag}> is a security risk")
            elif name in URL_ATTRIBUTES and value is not None:
                self.problems.extend(_html_url_problems(tag, name, value.strip()))


def _html_url_problems(tag: str, attribute: str, url: str) -> list[str]:
    if url.lower().startswith("javascript:"):
        return [f"javascript: URL in {attribute} of <{tag}>"]
    if not urlsplit(url).scheme:
        return [f"relative URL {url!r} in {attribute} of <{tag}>"]
    return []


def _language_problems(root: etree._Element) -> Iterator[str]:
    for element in root.iter():
        lang = element.get(XML_LANG) if isinstance(element.tag, str) else None
        if lang is not None and lang and not _LANGUAGE_TAG.fullmatch(lang):
            yield f"<{_local(element)}>: xml:lang {lang!r} is not a well-formed language tag"


def _c1_problems(root: etree._Element) -> Iterator[str]:
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        values = [element.text or "", element.tail or "", *element.attrib.values()]
        if any(_C1.search(value) for value in values):
            yield f"<{_local(element)}>: C1 control characters (U+0080-U+009F)"


def _rss_channel_problems(channel: etree._Element, name: str | None) -> Iterator[str]:
    for required in ("title", "link", "description"):
        elements = channel.findall(required)
        if len(elements) != 1 or not _text(elements[0]):
            yield f"channel: {len(elements)} <{required}> elements, expected one, not empty"
    yield from _counts(channel, "", RSS_CHANNEL_OPTIONAL, "channel", exactly=False)
    yield from _href_problems(_text(channel.find("link")), "channel <link>")
    atom_links = channel.findall(ATOM + "link")
    yield from _link_problems(atom_links, "channel atom:link")
    self_hrefs = [x.get("href", "") for x in atom_links if _rel(x) == "self"]
    yield from (f"channel: {problem}" for problem in _self_problems(self_hrefs, name))
    for date in ("lastBuildDate", "pubDate"):
        yield from _rfc822_problems(channel.find(date), "channel")
    language = channel.find("language")
    if language is not None and not _LANGUAGE_TAG.fullmatch(_text(language)):
        yield f"channel: language {_text(language)!r} is not a well-formed language tag"


def _rss_item_problems(item: etree._Element, index: int) -> Iterator[str]:
    where = f"item {index}"
    if not (_text(item.find("title")) or _text(item.find("description"))):
        yield f"{where}: neither a title nor a description"
    yield from _counts(item, "", RSS_ITEM_SINGLETONS, where, exactly=False)
    link = item.find("link")
    if link is not None:
        yield from _href_problems(_text(link), f"{where} <link>")
    yield from _rfc822_problems(item.find("pubDate"), where)
    guid = item.find("guid")
    permalink = guid is not None and guid.get("isPermaLink", "true") == "true"
    if guid is not None and permalink and not _is_absolute_url(_text(guid)):
        yield f"{where}: guid {_text(guid)!r} is not a URL but lacks isPermaLink='false'"
    description = item.find("description")
    if description is not None:
        yield from _html_problems(_text(description), f"{where} <description>")


def _rfc822_problems(element: etree._Element | None, where: str) -> Iterator[str]:
    if element is None:
        return
    value = _text(element)
    match = _RFC822.fullmatch(value)
    moment = _parse_rfc822(value) if match else None
    if match is None or moment is None:
        yield f"{where}: <{_local(element)}> {value!r} is not an RFC 822 date with a 4-digit year"
    elif match["dow"] and match["dow"] != moment.strftime("%a"):
        yield f"{where}: <{_local(element)}> {value!r} names the wrong day of the week"


def _parse_rfc822(value: str) -> dt.datetime | None:
    try:
        return email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None


def _duplicates(what: str, values: Iterable[str]) -> Iterator[str]:
    for value, count in Counter(values).items():
        if count > 1:
            yield f"{what} {value!r} appears {count} times"


def _is_absolute_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and not re.search(r"\s", value)


def _rel(link: etree._Element) -> str:
    return link.get("rel") or "alternate"


def _text(element: etree._Element | None) -> str:
    return (element.text or "").strip() if element is not None else ""


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname
