"""Feed documents as bytes: Atom and RSS through feedgen, JSON Feed 1.1 and OPML 2.0 by hand.

`FEED_FORMATS` is the one table of the formats every feed is published in: publishing, the web
server and the pages read everything that differs per format from it, so a new format is one
entry there (and its renderer).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import html
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, is_dataclass, replace
from functools import cache, partial
from typing import Any, TypeVar, cast

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from feedgen.util import xml_elem

from pressfeed import __version__
from pressfeed.models import ArchiveLinks, FeedDoc, FeedEntry, FeedLinks
from pressfeed.templating import long_date

ATOM_TYPE = "application/atom+xml"
RSS_TYPE = "application/rss+xml"
JSON_FEED_TYPE = "application/feed+json"
ATOM_NS = "http://www.w3.org/2005/Atom"
HISTORY_NS = "http://purl.org/syndication/history/1.0"
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
RSS_DOCS = "https://www.rssboard.org/rss-specification"
GENERATOR = "pressfeed"
BRIEF_WORDS = 70  # an archive entry's summary: the opening of the release, as long as a teaser

# What XML 1.0 forbids (feedgen raises on it rather than dropping it), plus the DEL and C1
# controls it discourages: the W3C validator warns on those, and in a release they are mojibake.
_NOT_XML = re.compile("[^\t\n\r\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

_T = TypeVar("_T")


@dataclass(frozen=True)
class FeedFormat:
    """One format every feed is published in, with all that differs from one format to another."""

    name: str  # what a feed of topic combinations ends with: /a+b.<name>
    suffix: str  # of its files and URLs
    media_type: str  # without parameters: every format is served as UTF-8
    render: Callable[[FeedDoc], bytes]
    label: str  # what the pages call it: "Atom"
    hidden_label: str  # what screen readers hear between the label and the feed's title
    archived: bool = True  # also written for each archive page
    brief: bool = True  # also offered where a page lists feeds in brief (a release's topics)

    @property
    def content_type(self) -> str:
        return f"{self.media_type}; charset=utf-8"


def feed_formats() -> tuple[FeedFormat, ...]:
    """`FEED_FORMATS`, read when asked: the order pages list them in, Atom first."""
    return FEED_FORMATS


def archive_formats() -> tuple[FeedFormat, ...]:
    """The formats archive pages are written in."""
    return tuple(f for f in feed_formats() if f.archived)


def feed_format(name: str) -> FeedFormat | None:
    """The format called `name`, or None."""
    return next((f for f in feed_formats() if f.name == name), None)


def atom_bytes(doc: FeedDoc) -> bytes:
    """The document as an Atom 1.0 feed, with RFC 5005 links when it has any."""
    doc = _xml_safe_doc(doc)
    fg = FeedGenerator()
    history = partial(_AtomHistory, doc.archive)
    fg.register_extension(GENERATOR, history, _EntryLinks, atom=True, rss=False)
    fg.id(doc.id)
    fg.title(_feed_title(doc))
    fg.link(href=doc.base_url + ATOM.suffix + doc.url_query, rel="self", type=ATOM.media_type)
    if doc.hub:
        fg.link(href=doc.hub, rel="hub")  # WebSub: the hub that pushes this feed
    fg.link(href=doc.home_url, rel="alternate", type="text/html")
    fg.subtitle(doc.subtitle)
    fg.author(name=doc.author or _feed_title(doc))
    fg.language(doc.language)
    fg.updated(_utc(doc.updated))
    fg.generator(GENERATOR, version=__version__)
    # An archive page lists releases by summary and link: their text is on the release pages.
    in_full = not (doc.archive and doc.archive.is_archive)
    for entry in doc.entries:
        _add_atom_entry(fg, entry, in_full=in_full)
    return _xml_bytes(fg.atom_str(pretty=True))


def rss_bytes(doc: FeedDoc) -> bytes:
    """The document as an RSS 2.0 channel."""
    doc = _xml_safe_doc(doc)
    fg = FeedGenerator()
    fg.register_extension(GENERATOR, partial(_RssAtomLinks, _rss_atom_links(doc)), None, atom=False)
    fg.title(_feed_title(doc))
    # RSS keeps the first rel=self link and takes <link> from the last call.
    fg.link(href=doc.base_url + RSS.suffix + doc.url_query, rel="self", type=RSS.media_type)
    fg.link(href=doc.home_url, rel="alternate", type="text/html")
    fg.description(doc.subtitle or _feed_title(doc))
    fg.language(doc.language)
    fg.lastBuildDate(_utc(doc.updated))
    fg.generator(f"{GENERATOR} {__version__}")
    fg.docs(RSS_DOCS)
    for entry in doc.entries:
        _add_rss_item(fg, entry)
    return _xml_bytes(fg.rss_str(pretty=True))


def json_bytes(doc: FeedDoc) -> bytes:
    """The document as a JSON Feed 1.1, UTF-8 with a trailing newline."""
    doc = _xml_safe_doc(doc)  # lone surrogates cannot be encoded as UTF-8 either
    feed: dict[str, object] = {
        "version": JSON_FEED_VERSION,
        "title": _feed_title(doc),
        "home_page_url": doc.home_url,
        "feed_url": doc.base_url + JSON_FEED.suffix + doc.url_query,
        "description": doc.subtitle or _feed_title(doc),
    }
    if doc.hub:
        feed["hubs"] = [{"type": "WebSub", "url": doc.hub}]
    if doc.archive and doc.archive.prev:
        # Older releases are in the Atom archive pages; JSON Feed's next_url would have to name
        # a JSON Feed, so the link is an extension, as RSS carries it in an atom:link.
        feed["_pressfeed"] = {"prev_archive": doc.archive.prev + ATOM.suffix}
    feed["authors"] = [{"name": doc.author or _feed_title(doc)}]
    if doc.language:
        feed["language"] = doc.language
    feed["items"] = [_json_item(entry) for entry in doc.entries]
    # JSON holds "<", ">" and "&" only inside strings: escaped, a feed shown as HTML by mistake
    # (or pasted into a <script>) runs no markup a release carried.
    text = json.dumps(feed, ensure_ascii=False)
    for character, escaped in _JSON_HTML_ESCAPES:
        text = text.replace(character, escaped)  # far quicker than str.translate on long text
    return (text + "\n").encode("utf-8")


_JSON_HTML_ESCAPES = tuple((c, f"\\u{ord(c):04x}") for c in "<>&")

ATOM = FeedFormat("atom", ".atom", ATOM_TYPE, atom_bytes, "Atom", "feed of")
RSS = FeedFormat("rss", ".rss", RSS_TYPE, rss_bytes, "RSS", "feed of", archived=False)
JSON_FEED = FeedFormat(
    "json", ".json", JSON_FEED_TYPE, json_bytes, "JSON Feed", "of", archived=False, brief=False
)
FEED_FORMATS: tuple[FeedFormat, ...] = (ATOM, RSS, JSON_FEED)


def opml_bytes(title: str, feeds: Sequence[FeedLinks], created: dt.datetime) -> bytes:
    """An OPML 2.0 subscription list of the feeds, each by its Atom URL."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = _xml_safe(title)
    ET.SubElement(head, "dateCreated").text = email.utils.format_datetime(_utc(created))
    body = ET.SubElement(root, "body")
    for links in _xml_safe(tuple(feeds)):
        ET.SubElement(body, "outline", _outline(links))
    ET.indent(root)
    return _xml_bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True)) + b"\n"


def _content_html(entry: FeedEntry) -> str:
    """The dateline, a <p> per paragraph, one for the contacts, the source; all escaped."""
    parts = [f"<p>{html.escape(text)}</p>" for text in _texts(entry)]
    if entry.contacts:
        parts.append("<p>" + "<br/>".join(html.escape(line) for line in entry.contacts) + "</p>")
    if cited := _source_html(entry):
        parts.append(f"<p>Source: {cited}</p>")
    if entry.why:
        parts.append(f"<p>{html.escape(entry.why)}</p>")
    return "\n".join(parts)


def _source_html(entry: FeedEntry) -> str:
    """Who published the release, linked to the original page when it is known."""
    name = html.escape(entry.organisation or "original page")
    if entry.source_url:
        return f'<a href="{html.escape(entry.source_url)}">{name}</a>'
    return name if entry.organisation else ""


def brief(text: str, words: int = BRIEF_WORDS) -> str:
    """The text's first `words` words, and an ellipsis when it had more."""
    found = text.split()
    return text if len(found) <= words else " ".join(found[:words]) + " …"


def dateline(entry: FeedEntry) -> str:
    """Where and when, as a release opens: "Tripoli, 4 March 2026"; a date that is only the
    file's is said to be so."""
    day = long_date(entry.published.date())
    if entry.date_inferred:
        day += " (date from the file: the page gives none)"
    return f"{entry.place}, {day}" if entry.place else day


def _texts(entry: FeedEntry) -> tuple[str, ...]:
    """The dateline, then the paragraphs."""
    return (dateline(entry), *entry.paragraphs)


def _add_atom_entry(fg: Any, entry: FeedEntry, *, in_full: bool = True) -> None:
    fe = fg.add_entry(order="append")  # feedgen prepends by default
    fe.id(entry.id)
    fe.title(_entry_title(entry))
    fe.link(href=entry.url, rel="alternate", type="text/html")
    fe.published(_utc(entry.published))
    fe.updated(_utc(entry.updated))
    if entry.summary:
        fe.summary(entry.summary if in_full else brief(entry.summary), type="text")
    if in_full and (body := _content_html(entry)):
        fe.content(body, type="html")
    fe.category([{"term": slug, "label": title or slug} for slug, title in entry.categories])
    if entry.source_url:
        fe.link(href=entry.source_url, rel="via", type="text/html")
        getattr(fe, GENERATOR).via = entry.source_url
    if entry.organisation:
        fe.author(name=entry.organisation)


def _add_rss_item(fg: Any, entry: FeedEntry) -> None:
    fe = fg.add_entry(order="append")  # feedgen prepends by default
    fe.title(_entry_title(entry))
    fe.link(href=entry.url)
    fe.guid(entry.id, permalink=False)
    fe.published(_utc(entry.published))
    # RSS description is HTML by convention, so the plain summary cannot go there unescaped.
    fe.description(_content_html(entry))
    fe.category([{"term": slug, "label": title or slug} for slug, title in entry.categories])
    if entry.source_url:
        fe.source(url=entry.source_url, title=entry.organisation or entry.source_url)


def _json_item(entry: FeedEntry) -> dict[str, object]:
    return _json_source(entry) | {
        "id": entry.id,
        "url": entry.url,
        "title": _entry_title(entry),
        "content_html": _content_html(entry),
        "content_text": "\n\n".join((*_texts(entry), *([entry.why] if entry.why else []))),
        "summary": entry.summary,
        "date_published": _utc(entry.published).isoformat(),
        "date_modified": _utc(entry.updated).isoformat(),
        "tags": [title or slug for slug, title in entry.categories],
        "_pressfeed": {
            "release_id": entry.release_id,
            "place": entry.place,
            "contacts": list(entry.contacts),
            "date_inferred": entry.date_inferred,
        },
    }


def _json_source(entry: FeedEntry) -> dict[str, object]:
    cited: dict[str, object] = {}
    if entry.source_url:
        cited["external_url"] = entry.source_url
    if entry.organisation:
        cited["authors"] = [{"name": entry.organisation}]
    return cited


def _outline(links: FeedLinks) -> dict[str, str]:
    return {
        "type": "rss",
        "text": links.title or links.slug,
        "title": links.title or links.slug,
        "description": links.description,
        "xmlUrl": links.atom,
        "htmlUrl": links.html,
    }


def _history_links(archive: ArchiveLinks) -> list[tuple[str, str]]:
    """RFC 5005 relations and the URLs they point to, without extension."""
    links = [("current", archive.current)]
    if archive.prev:
        links.append(("prev-archive", archive.prev))
    if archive.next:
        links.append(("next-archive", archive.next))
    return links


class _AtomHistory(BaseExtension):  # type: ignore[misc]
    """RFC 5005 links of an Atom document, and fh:archive on archive pages."""

    def __init__(self, archive: ArchiveLinks | None) -> None:
        self.archive = archive

    def extend_ns(self) -> dict[str, str]:
        return {"fh": HISTORY_NS} if self.archive and self.archive.is_archive else {}

    def extend_atom(self, feed: Any) -> Any:
        if self.archive is None:
            return feed
        for rel, url in _history_links(self.archive):
            xml_elem("link", feed, href=url + ATOM.suffix, rel=rel, type=ATOM.media_type)
        if self.archive.is_archive:
            xml_elem(f"{{{HISTORY_NS}}}archive", feed)
        return feed


class _EntryLinks(BaseEntryExtension):  # type: ignore[misc]
    """Puts back the rel and type that feedgen 1.0 drops from entry links (its issue #135):
    the link to the original page is `via`, the release's own page `alternate`."""

    via: str | None = None

    def extend_atom(self, entry: Any) -> Any:
        for link in entry.findall("link"):
            if link.get("rel") is None:
                link.set("rel", "via" if link.get("href") == self.via else "alternate")
                link.set("type", "text/html")
        return entry


def _rss_atom_links(doc: FeedDoc) -> tuple[dict[str, str], ...]:
    """The atom:links of an RSS channel besides rel=self: its WebSub hub, and the newest Atom
    archive page (RSS has no archives of its own)."""
    links = []
    if doc.hub:
        links.append({"rel": "hub", "href": doc.hub})
    if doc.archive and doc.archive.prev:
        prev = doc.archive.prev + ATOM.suffix
        links.append({"rel": "prev-archive", "href": prev, "type": ATOM.media_type})
    return tuple(links)


class _RssAtomLinks(BaseExtension):  # type: ignore[misc]
    """Adds atom:links to an RSS channel: feedgen writes only the first rel=self one."""

    def __init__(self, links: Sequence[dict[str, str]]) -> None:
        self.links = links

    def extend_rss(self, rss: Any) -> Any:
        channel = rss.find("channel")
        for link in self.links:
            xml_elem(f"{{{ATOM_NS}}}link", channel, **link)
        return rss


def _feed_title(doc: FeedDoc) -> str:
    return doc.title or doc.slug


def _entry_title(entry: FeedEntry) -> str:
    return entry.title or entry.release_id


def _utc(moment: dt.datetime) -> dt.datetime:
    """The moment in UTC to the second, so every format spells it alike."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"feeds need aware times, got naive {moment.isoformat()}")
    return moment.astimezone(dt.UTC).replace(microsecond=0)


def _xml_bytes(serialised: Any) -> bytes:
    if not isinstance(serialised, bytes):
        raise TypeError(f"XML serialiser returned {type(serialised).__name__}, not bytes")
    return serialised


def _xml_safe_doc(doc: FeedDoc) -> FeedDoc:
    """`_xml_safe` of a feed document, quick for entries that hold nothing to drop."""
    entries = tuple(e if _is_xml_safe(e) else _xml_safe(e) for e in doc.entries)
    return replace(_xml_safe(replace(doc, entries=())), entries=entries)


def _is_xml_safe(entry: FeedEntry) -> bool:
    texts = [entry.id, entry.release_id, entry.title, entry.url, entry.summary, entry.place or ""]
    texts.append(entry.why)
    texts += entry.paragraphs
    texts += entry.contacts
    texts += [text for pair in entry.categories for text in pair]
    return not _NOT_XML.search("\n".join(texts))


def _xml_safe(value: _T) -> _T:
    """The value with the characters `_NOT_XML` matches dropped from every string inside it.

    Clean values come back as they are, so the common case allocates nothing."""
    cleaned: Any = value
    if isinstance(value, str):
        if _NOT_XML.search(value):
            cleaned = _NOT_XML.sub("", value)
    elif isinstance(value, tuple):
        items = tuple(_xml_safe(item) for item in value)
        if any(new is not old for new, old in zip(items, value, strict=True)):
            cleaned = items
    elif is_dataclass(value) and not isinstance(value, type):
        changes = {}
        for name in _field_names(type(value)):
            old = getattr(value, name)
            new = _xml_safe(old)
            if new is not old:
                changes[name] = new
        if changes:
            cleaned = replace(value, **changes)
    return cast(_T, cleaned)


@cache
def _field_names(kind: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(kind))
