"""Feed documents as a feed reader and the W3C rules see them: Atom, RSS, JSON Feed, OPML."""

from __future__ import annotations

import datetime as dt
import email.utils
import html
import json
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import replace
from html.parser import HTMLParser
from typing import Any

import feedparser
import pytest
from lxml import etree

from pressfeed import __version__
from pressfeed.feeds import atom_bytes, brief, dateline, json_bytes, opml_bytes, rss_bytes
from pressfeed.models import ArchiveLinks, FeedDoc, FeedEntry, FeedLinks
from pressfeed.site import format_links
from tests.feedcheck import atom_problems, rss_problems

SITE = "https://press.example.org"
HOSTILE = "<script>alert(1)</script> & \x07 \ud800"
NS = {
    "a": "http://www.w3.org/2005/Atom",
    "fh": "http://purl.org/syndication/history/1.0",
    "atom": "http://www.w3.org/2005/Atom",
}
CEST = dt.timezone(dt.timedelta(hours=2))
FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")

Build = Callable[[FeedDoc], bytes]
Change = Callable[[Any], None]


def at(day: int, hour: int = 9, tz: dt.tzinfo = dt.UTC) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, tzinfo=tz)


def entry(number: int, title: str, day: int, **changes: Any) -> FeedEntry:
    """A release as a feed entry, published on `day` of November 2026 and updated that evening."""
    first = f"Story {number} begins here."
    plain = FeedEntry(
        id=f"urn:uuid:00000000-0000-4000-8000-{number:012d}",
        release_id=f"r{number}",
        title=title,
        url=f"{SITE}/releases/r{number}.html",
        published=at(day),
        updated=at(day, 18),
        summary=first,
        paragraphs=(first, f"Story {number} goes on."),
        contacts=(),
        place=None,
        categories=(),
    )
    return replace(plain, **changes)


def make_entries() -> tuple[FeedEntry, ...]:
    """Three releases, newest first: markup and forbidden characters, a bare one, a plain one."""
    lead = f"GENEVA – {HOSTILE}"
    return (
        entry(
            3,
            f"Clinic {HOSTILE} opens",
            20,
            updated=at(21, 10, CEST),  # 08:00 UTC: an offset other than UTC
            summary=lead,
            paragraphs=(lead, "A vertical\x0b tab and a C1\x85 control, “quoted”."),
            contacts=("Media: Ana Ruiz", "+41 22 000 00 00", "press@example.org"),
            place="Genève",
            categories=(("health", "Health & care"), ("sea-rescue", "Sea rescue")),
        ),
        entry(
            2, "Rescue ship waits for a safe port", 18, categories=(("sea-rescue", "Sea rescue"),)
        ),
        entry(
            1,
            "Tuberculosis screening begins",
            15,
            contacts=("Omar Haddad",),
            place="Tripoli",
            categories=(("health", "Health & care"), ("libya", "Libya")),
        ),
    )


def make_doc(**changes: Any) -> FeedDoc:
    plain = FeedDoc(
        id="urn:uuid:00000000-0000-4000-8000-00000000f001",
        slug="health",
        title="Health",
        subtitle="Press releases about health",
        language="en",
        updated=at(21, 10, CEST),
        base_url=f"{SITE}/feeds/health",
        home_url=f"{SITE}/#health",
        author="Example Press Office",
        entries=make_entries(),
    )
    return replace(plain, **changes)


ENTRIES = make_entries()
DOC = make_doc()
EMPTY = make_doc(entries=())
CURRENT = f"{SITE}/feeds/health"
OCTOBER = f"{SITE}/feeds/archive/health/2026-10"
SEPTEMBER = f"{SITE}/feeds/archive/health/2026-09"
SUBSCRIPTION = make_doc(archive=ArchiveLinks(current=CURRENT, prev=OCTOBER))
ARCHIVE_PAGE = make_doc(
    base_url=OCTOBER,
    entries=ENTRIES[2:],
    updated=at(15, 18),
    archive=ArchiveLinks(
        current=CURRENT, prev=SEPTEMBER, next=f"{SITE}/x/2026-11", is_archive=True
    ),
)
HUB = "https://hub.example.org/"
PUSHED = make_doc(hub=HUB, archive=ArchiveLinks(current=CURRENT, prev=OCTOBER))
FORMATS: dict[str, Build] = {"atom": atom_bytes, "rss": rss_bytes, "json": json_bytes}
FEED_LINKS = tuple(
    FeedLinks(slug, title, about, format_links(base), f"{SITE}/#{slug}")
    for slug, title, about, base in (
        ("health", "Health", "Clinics & care", CURRENT),
        ("libya", "Libya", "", f"{SITE}/feeds/libya"),
    )
)
# The hostile entry's HTML: every character of the text escaped, forbidden ones gone.
HOSTILE_HTML = (
    "<p>Genève, 20 November 2026</p>\n"
    "<p>GENEVA – &lt;script&gt;alert(1)&lt;/script&gt; &amp;  </p>\n"
    "<p>A vertical tab and a C1 control, “quoted”.</p>\n"
    "<p>Media: Ana Ruiz<br/>+41 22 000 00 00<br/>press@example.org</p>"
)


def dropped(text: str) -> str:
    """The text without the characters the feeds must drop."""
    return re.sub("[\x07\x0b\x85\ud800]", "", text)


def read(data: bytes) -> Any:
    """The document as feedparser reads it, which must be without complaint."""
    parsed = feedparser.parse(data)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    return parsed


def utc(parsed: time.struct_time) -> dt.datetime:
    return dt.datetime(*parsed[:6], tzinfo=dt.UTC)


def xml(data: bytes) -> Any:
    return etree.fromstring(data)


def links(root: Any, path: str = "a:link") -> dict[str, str]:
    return {link.get("rel"): link.get("href") for link in root.xpath(path, namespaces=NS)}


def name_of(doc: FeedDoc, extension: str) -> str:
    return doc.base_url.rsplit("/", 1)[-1] + extension


class Tags(HTMLParser):
    """The start tags of an HTML fragment, in order."""

    def __init__(self, markup: str) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)


# --- what a feed reader sees ----------------------------------------------------------------------


def test_atom_reads_back_in_a_feed_reader() -> None:
    parsed = read(atom_bytes(DOC))
    feed = parsed.feed
    assert parsed.version == "atom10"
    assert (feed.id, feed.title, feed.subtitle) == (DOC.id, DOC.title, DOC.subtitle)
    assert feed.link == DOC.home_url
    assert feed.author == DOC.author
    assert feed.language == "en"
    assert utc(feed.updated_parsed) == DOC.updated
    assert (feed.generator, feed.generator_detail.version) == ("pressfeed", __version__)
    assert [e.id for e in parsed.entries] == [e.id for e in ENTRIES]
    assert [e.title for e in parsed.entries] == [dropped(e.title) for e in ENTRIES]
    assert [e.link for e in parsed.entries] == [e.url for e in ENTRIES]
    assert [utc(e.published_parsed) for e in parsed.entries] == [e.published for e in ENTRIES]
    assert [utc(e.updated_parsed) for e in parsed.entries] == [e.updated for e in ENTRIES]
    assert [e.summary for e in parsed.entries] == [dropped(e.summary).strip() for e in ENTRIES]
    tags = [[(t.term, t.label) for t in e.tags] for e in parsed.entries]
    assert tags == [list(e.categories) for e in ENTRIES]


def test_rss_reads_back_in_a_feed_reader() -> None:
    parsed = read(rss_bytes(DOC))
    feed = parsed.feed
    assert parsed.version == "rss20"
    assert (feed.title, feed.subtitle, feed.link) == (DOC.title, DOC.subtitle, DOC.home_url)
    assert feed.language == "en"
    assert utc(feed.updated_parsed) == DOC.updated
    assert feed.generator == f"pressfeed {__version__}"
    assert [e.id for e in parsed.entries] == [e.id for e in ENTRIES]
    assert not any(e.guidislink for e in parsed.entries)
    assert [e.title for e in parsed.entries] == [dropped(e.title) for e in ENTRIES]
    assert [e.link for e in parsed.entries] == [e.url for e in ENTRIES]
    assert [utc(e.published_parsed) for e in parsed.entries] == [e.published for e in ENTRIES]
    tags = [[t.term for t in e.tags] for e in parsed.entries]
    assert tags == [[title for _, title in e.categories] for e in ENTRIES]


def test_rss_channel_links_home_and_to_itself() -> None:
    channel = xml(rss_bytes(DOC)).find("channel")
    assert channel.findtext("link") == DOC.home_url
    assert links(channel, "atom:link") == {"self": f"{DOC.base_url}.rss"}


def test_atom_links_itself_first_and_each_entry_to_its_page() -> None:
    root = xml(atom_bytes(DOC))
    first = root.find("a:link", NS)
    assert (first.get("rel"), first.get("href")) == ("self", f"{DOC.base_url}.atom")
    assert first.get("type") == "application/atom+xml"
    assert links(root) == {"self": f"{DOC.base_url}.atom", "alternate": DOC.home_url}
    for element, expected in zip(root.findall("a:entry", NS), ENTRIES, strict=True):
        (link,) = element.findall("a:link", NS)
        assert dict(link.attrib) == {"href": expected.url, "rel": "alternate", "type": "text/html"}


def test_a_feed_pushed_by_websub_names_its_hub_and_itself_in_every_format() -> None:
    atom = read(atom_bytes(PUSHED)).feed
    rss = read(rss_bytes(PUSHED)).feed
    for feed, suffix in ((atom, ".atom"), (rss, ".rss")):
        found = {link.rel: link.href for link in feed.links}
        assert (found["hub"], found["self"]) == (HUB, f"{CURRENT}{suffix}")
    assert links(xml(rss_bytes(PUSHED)).find("channel"), "atom:link") == {
        "self": f"{CURRENT}.rss",
        "hub": HUB,
        "prev-archive": f"{OCTOBER}.atom",
    }
    feed = json.loads(json_bytes(PUSHED))
    assert feed["hubs"] == [{"type": "WebSub", "url": HUB}]
    assert feed["feed_url"] == f"{CURRENT}.json"


def test_a_feed_without_a_hub_names_none() -> None:
    assert "hub" not in links(xml(atom_bytes(DOC)))
    assert "hub" not in links(xml(rss_bytes(DOC)).find("channel"), "atom:link")
    assert "hubs" not in json.loads(json_bytes(DOC))


def test_json_feed_has_every_field() -> None:
    data = json_bytes(DOC)
    feed = json.loads(data)
    assert data.endswith(b"}\n")
    assert "Genève".encode() in data  # not \u-escaped
    assert list(feed) == [
        "version",
        "title",
        "home_page_url",
        "feed_url",
        "description",
        "authors",
        "language",
        "items",
    ]
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert (feed["title"], feed["description"]) == (DOC.title, DOC.subtitle)
    assert (feed["home_page_url"], feed["feed_url"]) == (DOC.home_url, f"{DOC.base_url}.json")
    assert (feed["authors"], feed["language"]) == ([{"name": DOC.author}], "en")
    for item, expected in zip(feed["items"], ENTRIES, strict=True):
        assert (item["id"], item["url"]) == (expected.id, expected.url)
        assert item["title"] == dropped(expected.title)
        assert item["summary"] == dropped(expected.summary)
        assert item["content_text"] == "\n\n".join(
            (dateline(expected), *(dropped(p) for p in expected.paragraphs))
        )
        assert item["tags"] == [title for _, title in expected.categories]
        assert item["_pressfeed"] == {
            "release_id": expected.release_id,
            "place": expected.place,
            "contacts": list(expected.contacts),
            "date_inferred": False,
        }
        for key, moment in (
            ("date_published", expected.published),
            ("date_modified", expected.updated),
        ):
            assert RFC3339.fullmatch(item[key]), item[key]
            assert dt.datetime.fromisoformat(item[key]) == moment


def test_json_feed_items_hold_the_html_content() -> None:
    items = json.loads(json_bytes(DOC))["items"]
    assert items[0]["content_html"] == HOSTILE_HTML
    assert items[1]["content_html"] == (
        "<p>18 November 2026</p>\n<p>Story 2 begins here.</p>\n<p>Story 2 goes on.</p>"
    )


# --- markup and forbidden characters --------------------------------------------------------------


def hostile_html(fmt: str) -> str:
    """The HTML of the hostile entry exactly as the document carries it."""
    data = FORMATS[fmt](DOC)
    if fmt == "json":
        return str(json.loads(data)["items"][0]["content_html"])
    path = "a:entry[1]/a:content" if fmt == "atom" else "channel/item[1]/description"
    return str(xml(data).xpath(path, namespaces=NS)[0].text)


@pytest.mark.parametrize("fmt", FORMATS)
def test_content_is_html_with_every_character_of_the_text_escaped(fmt: str) -> None:
    assert hostile_html(fmt) == HOSTILE_HTML
    assert Tags(hostile_html(fmt)).tags == ["p", "p", "p", "p", "br", "br"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_content_opens_with_the_dateline_and_says_when_the_date_is_the_files(fmt: str) -> None:
    guessed = replace(ENTRIES[2], date_inferred=True)
    shown = FORMATS[fmt](make_doc(entries=(ENTRIES[0], guessed))).decode()
    assert "Tripoli, 15 November 2026 (date from the file: the page gives none)" in shown
    assert "Genève, 20 November 2026" in shown
    assert "Genève, 20 November 2026 (date" not in shown
    assert "<p>Tripoli</p>" not in html.unescape(shown)


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_feed_reader_shows_markup_as_text(fmt: str) -> None:
    first = read(FORMATS[fmt](DOC)).entries[0]
    shown = first.content[0].value if fmt == "atom" else first.description
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp;" in shown
    assert "<script" not in shown
    assert first.title == "Clinic <script>alert(1)</script> &   opens"


def test_atom_content_is_escaped_text_not_cdata() -> None:
    data = atom_bytes(DOC)
    assert b"CDATA" not in data
    content = xml(data).find("a:entry/a:content", NS)
    assert content.get("type") == "html"
    assert len(content) == 0


def strings(value: Any) -> list[str]:
    """Every string in a JSON value, keys included."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for key, item in value.items() for s in (key, *strings(item))]
    if isinstance(value, list):
        return [s for item in value for s in strings(item)]
    return []


def xml_strings(root: Any) -> list[str]:
    """Every text and attribute value of a parsed XML document."""
    return [*root.itertext(), *(v for e in root.iter() for v in e.attrib.values())]


@pytest.mark.parametrize("fmt", FORMATS)
def test_characters_xml_forbids_are_dropped(fmt: str) -> None:
    data = FORMATS[fmt](DOC)
    # The XML parser itself refuses forbidden characters, raw or as references.
    texts = strings(json.loads(data)) if fmt == "json" else xml_strings(xml(data))
    assert not [t for t in texts if FORBIDDEN.search(t)]
    assert any("<script>alert(1)</script> &" in t for t in texts)


def test_opml_drops_characters_xml_forbids() -> None:
    hostile = FeedLinks("health", f"Health {HOSTILE}", "Care\x85", format_links(CURRENT), SITE)
    root = ET.fromstring(opml_bytes(f"Feeds {HOSTILE}", [hostile], at(21)))
    assert root.findtext("head/title") == dropped(f"Feeds {HOSTILE}")
    outline = root.find("body/outline")
    assert outline is not None
    assert (outline.get("title"), outline.get("description")) == (dropped(hostile.title), "Care")


# --- the W3C rules --------------------------------------------------------------------------------

DOCS = {
    "plain": DOC,
    "empty": EMPTY,
    "subscription": SUBSCRIPTION,
    "archive": ARCHIVE_PAGE,
    "pushed": PUSHED,
}


@pytest.mark.parametrize("doc", DOCS.values(), ids=DOCS.keys())
def test_atom_passes_the_w3c_rules(doc: FeedDoc) -> None:
    assert atom_problems(atom_bytes(doc), name_of(doc, ".atom")) == []


@pytest.mark.parametrize("doc", DOCS.values(), ids=DOCS.keys())
def test_rss_passes_the_w3c_rules(doc: FeedDoc) -> None:
    assert rss_problems(rss_bytes(doc), name_of(doc, ".rss")) == []


@pytest.mark.parametrize("doc", DOCS.values(), ids=DOCS.keys())
@pytest.mark.parametrize("fmt", FORMATS)
def test_every_document_reads_back_whole(doc: FeedDoc, fmt: str) -> None:
    data = FORMATS[fmt](doc)
    items = json.loads(data)["items"] if fmt == "json" else read(data).entries
    assert [item["id"] for item in items] == [e.id for e in doc.entries]


def drop(path: str) -> Change:
    return lambda root: [e.getparent().remove(e) for e in root.xpath(path, namespaces=NS)]


def set_text(path: str, value: str) -> Change:
    def change(root: Any) -> None:
        root.xpath(path, namespaces=NS)[0].text = value

    return change


def set_attr(path: str, name: str, value: str | None) -> Change:
    def change(root: Any) -> None:
        element = root.xpath(path, namespaces=NS)[0]
        if value is None:
            del element.attrib[name]
        else:
            element.set(name, value)

    return change


def add(path: str, markup: str) -> Change:
    def change(root: Any) -> None:
        element = etree.fromstring(markup)
        root.xpath(path, namespaces=NS)[0].append(element)

    return change


def copy(path: str) -> Change:
    def change(root: Any) -> None:
        element = root.xpath(path, namespaces=NS)[0]
        element.addnext(etree.fromstring(etree.tostring(element)))

    return change


def both(*changes: Change) -> Change:
    return lambda root: [change(root) for change in changes]


def mutated(data: bytes, change: Change) -> bytes:
    root = etree.fromstring(data)
    change(root)
    return bytes(etree.tostring(root))


ATOM_LINK = f'<link xmlns="{NS["a"]}" rel="prev-archive" href="{OCTOBER}.atom"/>'
ATOM_FAULTS: dict[str, tuple[Change, str]] = {
    "no feed id": (drop("a:id"), "0 <id> elements"),
    "two titles": (copy("a:title"), "2 <title> elements"),
    "date without zone": (set_text("a:updated", "2026-11-21T08:00:00"), "RFC 3339"),
    "date with space": (set_text("a:entry[1]/a:updated", "2026-11-21 08:00Z"), "RFC 3339"),
    "bad published": (set_text("a:entry[2]/a:published", "2026-13-01T00:00:00Z"), "RFC 3339"),
    "no author": (drop("a:author"), "no author, and the feed has none"),
    "relative id": (set_text("a:entry[1]/a:id", "r3"), "not an absolute IRI"),
    "duplicate id": (set_text("a:entry[2]/a:id", ENTRIES[0].id), "appears 2 times"),
    "self elsewhere": (set_attr("a:link[@rel='self']", "href", f"{SITE}/x.atom"), "document"),
    "no self": (drop("a:link[@rel='self']"), "no link rel='self'"),
    "two alternates": (copy("a:link[@rel='alternate']"), "2 links rel='alternate'"),
    "relative link": (set_attr("a:entry[1]/a:link", "href", "/r3.html"), "absolute"),
    "unknown rel": (set_attr("a:entry[1]/a:link", "rel", "sibling"), "not registered"),
    "neither link nor content": (
        both(drop("a:entry[1]/a:link"), drop("a:entry[1]/a:content")),
        "neither a link",
    ),
    "markup in html": (add("a:entry[1]/a:content", "<b>bold</b>"), "child elements"),
    "script in html": (set_text("a:entry[1]/a:content", "<script>x()</script>"), "security risk"),
    "handler in html": (set_text("a:entry[1]/a:content", "<p onclick='x()'/>"), "security risk"),
    "bad xml:lang": (set_attr(".", "{http://www.w3.org/XML/1998/namespace}lang", "en_GB"), "tag"),
    "history in entry": (add("a:entry[1]", ATOM_LINK), "belongs on the feed"),
    "metadata after entries": (add(".", f'<rights xmlns="{NS["a"]}">CC</rights>'), "after"),
    "C1 control": (set_text("a:title", "Health\x85"), "C1"),
}
RSS_FAULTS: dict[str, tuple[Change, str]] = {
    "version 0.91": (set_attr(".", "version", "0.91"), "not rss 2.0"),
    "no description": (drop("channel/description"), "0 <description> elements"),
    "empty title": (set_text("channel/title", ""), "<title> elements, expected one, not empty"),
    "no self": (drop("channel/atom:link[@rel='self']"), "no link rel='self'"),
    "self elsewhere": (set_attr("channel/atom:link", "href", f"{SITE}/x.rss"), "document"),
    "two-digit year": (
        set_text("channel/lastBuildDate", "Sat, 21 Nov 26 08:00:00 +0000"),
        "4-digit",
    ),
    "ISO date": (set_text("channel/item[1]/pubDate", "2026-11-20T09:00:00Z"), "RFC 822"),
    "wrong weekday": (
        set_text("channel/item[1]/pubDate", "Mon, 20 Nov 2026 09:00:00 +0000"),
        "day",
    ),
    "two links": (copy("channel/link"), "2 <link> elements"),
    "relative link": (set_text("channel/item[1]/link", "/r3.html"), "absolute"),
    "relative home": (set_text("channel/link", "/"), "absolute"),
    "no title or description": (
        both(drop("channel/item[1]/title"), drop("channel/item[1]/description")),
        "neither a title nor a description",
    ),
    "duplicate guid": (set_text("channel/item[2]/guid", ENTRIES[0].id), "appears 2 times"),
    "urn guid as permalink": (set_attr("channel/item[1]/guid", "isPermaLink", None), "isPermaLink"),
    "script in description": (
        set_text("channel/item[1]/description", "<script/>"),
        "security risk",
    ),
    "relative image": (
        set_text("channel/item[1]/description", "<img src='a.png'>"),
        "relative URL",
    ),
    "bad language": (set_text("channel/language", "English"), "language tag"),
    "C1 control": (set_text("channel/item[1]/title", "\x85"), "C1"),
}


@pytest.mark.parametrize(("change", "expected"), ATOM_FAULTS.values(), ids=ATOM_FAULTS.keys())
def test_feedcheck_finds_atom_faults(change: Change, expected: str) -> None:
    problems = atom_problems(mutated(atom_bytes(DOC), change), "health.atom")
    assert any(expected in problem for problem in problems), problems


def test_feedcheck_requires_current_beside_fh_archive() -> None:
    data = mutated(atom_bytes(ARCHIVE_PAGE), drop("a:link[@rel='current']"))
    assert atom_problems(data, "2026-10.atom") == ["feed: fh:archive without a link rel='current'"]


@pytest.mark.parametrize(("change", "expected"), RSS_FAULTS.values(), ids=RSS_FAULTS.keys())
def test_feedcheck_finds_rss_faults(change: Change, expected: str) -> None:
    problems = rss_problems(mutated(rss_bytes(DOC), change), "health.rss")
    assert any(expected in problem for problem in problems), problems


def test_feedcheck_rejects_what_is_not_xml() -> None:
    assert atom_problems(b"<feed>", "x.atom")[0].startswith("not well-formed XML")
    assert rss_problems(atom_bytes(DOC))[0].startswith("root element is")
    assert atom_problems(rss_bytes(DOC))[0].startswith("root element is")


# --- order and determinism ------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_first_entry_is_the_newest(fmt: str) -> None:
    data = FORMATS[fmt](DOC)
    if fmt == "json":
        dates = [dt.datetime.fromisoformat(i["date_published"]) for i in json.loads(data)["items"]]
    else:
        dates = [utc(e.published_parsed) for e in read(data).entries]
    assert dates[0] == max(e.published for e in ENTRIES)
    assert dates == sorted(dates, reverse=True)


@pytest.mark.parametrize("fmt", FORMATS)
def test_equal_docs_give_identical_bytes(fmt: str) -> None:
    first = FORMATS[fmt](make_doc(archive=ArchiveLinks(CURRENT, OCTOBER)))
    assert FORMATS[fmt](make_doc(archive=ArchiveLinks(CURRENT, OCTOBER))) == first


def test_equal_subscription_lists_give_identical_bytes() -> None:
    first = opml_bytes("Feeds", list(FEED_LINKS), at(21))
    assert opml_bytes("Feeds", list(FEED_LINKS), at(21)) == first


def test_times_are_the_docs_own_in_utc() -> None:
    root = xml(atom_bytes(DOC))
    assert root.findtext("a:updated", namespaces=NS) == "2026-11-21T08:00:00+00:00"
    assert root.findtext("a:entry/a:updated", namespaces=NS) == "2026-11-21T08:00:00+00:00"
    channel = xml(rss_bytes(DOC)).find("channel")
    assert channel.findtext("lastBuildDate") == "Sat, 21 Nov 2026 08:00:00 +0000"
    assert channel.findtext("item/pubDate") == "Fri, 20 Nov 2026 09:00:00 +0000"


@pytest.mark.parametrize("fmt", FORMATS)
def test_naive_times_are_refused(fmt: str) -> None:
    naive = replace(ENTRIES[0], published=dt.datetime(2026, 11, 20))
    with pytest.raises(ValueError, match="aware"):
        FORMATS[fmt](make_doc(entries=(naive,)))


# --- feed history (RFC 5005) ----------------------------------------------------------------------


def test_subscription_feed_links_its_newest_archive() -> None:
    root = xml(atom_bytes(SUBSCRIPTION))
    assert links(root) == {
        "self": f"{CURRENT}.atom",
        "alternate": DOC.home_url,
        "current": f"{CURRENT}.atom",
        "prev-archive": f"{OCTOBER}.atom",
    }
    assert root.find("fh:archive", NS) is None


def test_archive_page_is_marked_and_linked_both_ways() -> None:
    root = xml(atom_bytes(ARCHIVE_PAGE))
    assert links(root) == {
        "self": f"{OCTOBER}.atom",
        "alternate": DOC.home_url,
        "current": f"{CURRENT}.atom",
        "prev-archive": f"{SEPTEMBER}.atom",
        "next-archive": f"{SITE}/x/2026-11.atom",
    }
    assert len(root.findall("fh:archive", NS)) == 1


def test_feed_without_history_has_no_history_links() -> None:
    root = xml(atom_bytes(DOC))
    assert set(links(root)) == {"self", "alternate"}
    assert root.find("fh:archive", NS) is None
    assert b"purl.org/syndication/history" not in atom_bytes(SUBSCRIPTION)


def test_rss_points_at_the_atom_archive() -> None:
    channel = xml(rss_bytes(SUBSCRIPTION)).find("channel")
    assert links(channel, "atom:link")["prev-archive"] == f"{OCTOBER}.atom"
    assert "prev-archive" not in links(xml(rss_bytes(DOC)).find("channel"), "atom:link")


def test_json_points_at_the_atom_archive() -> None:
    feed = json.loads(json_bytes(SUBSCRIPTION))
    assert feed["_pressfeed"] == {"prev_archive": f"{OCTOBER}.atom"}
    assert "next_url" not in feed  # it would have to name a JSON Feed
    assert "_pressfeed" not in json.loads(json_bytes(DOC))


def test_brief_keeps_the_first_words_and_says_when_it_cut() -> None:
    assert brief("One two three.", words=3) == "One two three."
    assert brief("One two  three four.", words=3) == "One two three …"


def test_an_archive_entry_gives_the_opening_words_of_a_long_summary() -> None:
    long = " ".join(f"word{n}" for n in range(100))
    page = make_doc(archive=ARCHIVE_PAGE.archive, entries=(entry(1, "Long", 3, summary=long),))
    (archived,) = xml(atom_bytes(page)).findall("a:entry", NS)
    words = (archived.findtext("a:summary", namespaces=NS) or "").split()
    assert words == [f"word{n}" for n in range(70)] + ["…"]
    (current,) = xml(atom_bytes(make_doc(entries=page.entries))).findall("a:entry", NS)
    assert current.findtext("a:summary", namespaces=NS) == long


def test_archive_entries_give_summary_and_link_and_leave_the_text_to_the_page() -> None:
    archived = xml(atom_bytes(ARCHIVE_PAGE)).findall("a:entry", NS)
    current = {
        e.findtext("a:id", namespaces=NS): e
        for e in xml(atom_bytes(SUBSCRIPTION)).findall("a:entry", NS)
    }
    assert archived
    for entry in archived:
        same = current[entry.findtext("a:id", namespaces=NS)]
        assert entry.find("a:content", NS) is None
        assert same.find("a:content", NS) is not None
        summary = entry.findtext("a:summary", namespaces=NS)
        assert summary
        assert summary == brief(same.findtext("a:summary", namespaces=NS) or "")
        assert entry.find("a:link[@rel='alternate']", NS) is not None
    assert atom_problems(atom_bytes(ARCHIVE_PAGE), "2026-10.atom") == []


# --- fallbacks and the subscription list ----------------------------------------------------------


def test_empty_texts_fall_back_so_feeds_stay_valid() -> None:
    bare = make_doc(title="\x07", subtitle="", author="", entries=(replace(ENTRIES[1], title=""),))
    assert atom_problems(atom_bytes(bare), "health.atom") == []
    assert rss_problems(rss_bytes(bare), "health.rss") == []
    channel = xml(rss_bytes(bare)).find("channel")
    assert (channel.findtext("title"), channel.findtext("description")) == ("health", "health")
    assert read(atom_bytes(bare)).entries[0].title == ENTRIES[1].release_id


def test_opml_lists_every_feed() -> None:
    root = ET.fromstring(opml_bytes("Example Press Office", list(FEED_LINKS), at(21, 10, CEST)))
    assert (root.tag, root.get("version")) == ("opml", "2.0")
    assert root.findtext("head/title") == "Example Press Office"
    created = email.utils.parsedate_to_datetime(root.findtext("head/dateCreated", ""))
    assert created == at(21, 8)
    outlines = [dict(o.attrib) for o in root.findall("body/outline")]
    assert outlines == [
        {
            "type": "rss",
            "text": f.title,
            "title": f.title,
            "description": f.description,
            "xmlUrl": f.atom,
            "htmlUrl": f.html,
        }
        for f in FEED_LINKS
    ]
