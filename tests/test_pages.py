"""Index, release and withdrawn pages, rendered with the project's templates and parsed as HTML."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import pickle
import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import jinja2
import pytest

from pressfeed.errors import TemplateError
from pressfeed.files import write_if_changed
from pressfeed.models import DateKind, FeedLinks, Release
from pressfeed.pages import (
    ArchiveMonth,
    Listed,
    MonthPage,
    PageLink,
    Site,
    TopicPage,
    TopicSummary,
    render_archive_index,
    render_index,
    render_month_page,
    render_release,
    render_stylesheet,
    render_topic_page,
    render_withdrawn,
)
from pressfeed.site import format_links
from pressfeed.templating import environment, long_date, render
from tests.conftest import ROOT

TEMPLATES = ROOT / "templates"
BASE = "https://press.example.org/news/"
GENERATED = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
UPDATED = dt.datetime(2026, 3, 4, 15, 30, tzinfo=dt.UTC)
VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta"})
VOID |= {"source", "track", "wbr"}

# --- a small DOM from html.parser ---------------------------------------------------------------


@dataclasses.dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node | str] = dataclasses.field(default_factory=list)

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def words(self) -> str:
        return " ".join(self.text().split())

    def walk(self) -> Iterator[Node]:
        yield self
        for child in self.children:
            if isinstance(child, Node):
                yield from child.walk()

    def all(self, tag: str, **attrs: str) -> list[Node]:
        return [
            n
            for n in self.walk()
            if n.tag == tag and all(n.attrs.get(k) == v for k, v in attrs.items())
        ]

    def one(self, tag: str, **attrs: str) -> Node:
        found = self.all(tag, **attrs)
        assert len(found) == 1, f"{len(found)} <{tag} {attrs}>"
        return found[0]

    def links(self) -> dict[str, str]:
        """Each link's visible text (without visually hidden parts) -> href."""
        return {_visible(a): a.attrs["href"] for a in self.all("a")}


def _visible(node: Node) -> str:
    parts = [
        c if isinstance(c, str) else _visible(c)
        for c in node.children
        if isinstance(c, str) or "visually-hidden" not in c.attrs.get("class", "")
    ]
    return " ".join("".join(parts).split())


class TreeBuilder(HTMLParser):
    """Builds a Node tree and fails on end tags that do not close the open element."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]
        self.declarations: list[str] = []

    def handle_decl(self, decl: str) -> None:
        self.declarations.append(decl)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Node(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        assert self.stack[-1].tag == tag, f"</{tag}> closes <{self.stack[-1].tag}>"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse(html: str) -> Node:
    builder = TreeBuilder()
    builder.feed(html)
    builder.close()
    assert builder.stack == [builder.root], "unclosed elements"
    assert builder.declarations == ["doctype html"]
    return builder.root


# --- values -------------------------------------------------------------------------------------


def feed_links(slug: str, title: str, description: str = "") -> FeedLinks:
    base = f"{BASE}{slug}"
    return FeedLinks(
        slug=slug,
        title=title,
        description=description or f"Releases about {title}.",
        formats=format_links(base),
        html=f"{BASE}releases/" if slug == "all" else f"{BASE}topics/{slug}/",
    )


SITE = Site(
    title="Newsroom",
    url=BASE,
    language="fr",
    opml_url=f"{BASE}topics.opml",
    all_links=feed_links("all", "Newsroom: all releases", "Every release, whatever its topic."),
    stylesheet_url=f"{BASE}site.css",
    subscribe_url=f"{BASE}subscribe",
)
LIBYA = feed_links("libya", "Libya")
HEALTH = feed_links("health", "Health & disease", "Outbreaks <and> vaccines.")
QUIET = feed_links("quiet", "Quiet topic")


def release_url(release_id: str) -> str:
    return f"{BASE}releases/{release_id}.html"


TOPICS = (
    TopicSummary(
        LIBYA,
        12,
        (
            ("Boat capsizes off Zuwara", release_url("r1"), dt.date(2026, 3, 4), False),
            ("Returns from Tripoli resume", release_url("r2"), dt.date(2026, 2, 27), True),
        ),
    ),
    TopicSummary(
        HEALTH, 1, (("Measles cases rise", release_url("r3"), dt.date(2026, 1, 9), False),)
    ),
    TopicSummary(QUIET, 0, ()),
)

RELEASE = Release(
    id="r1",
    title="Boat capsizes off Zuwara",
    title_derived=False,
    date=dt.date(2026, 3, 4),
    date_kind=DateKind.STATED,
    place="Geneva",
    paragraphs=(
        "Geneva – At least 40 people are missing after a boat capsized off Zuwara.",
        "Survivors were brought to shore by fishermen.",
        "Teams are providing medical care.",
    ),
    contacts=("In Geneva: Jane Doe, +41 22 000 00 00", "In Tripoli: John Roe, jroe@example.org"),
    source="2026/zuwara.html",
    position=0,
)


@pytest.fixture
def env() -> jinja2.Environment:
    return environment([TEMPLATES])


def index_page(env: jinja2.Environment) -> Node:
    return parse(render_index(env, SITE, TOPICS, GENERATED))


def release_page(env: jinja2.Environment, release: Release = RELEASE) -> Node:
    return parse(render_release(env, SITE, release, (LIBYA, HEALTH), release_url("r1"), UPDATED))


def withdrawn_page(env: jinja2.Environment) -> Node:
    return parse(render_withdrawn(env, SITE, "Old news & views", release_url("r9")))


HOSTILE = "<script>alert('x')</script> & <b>bold</b>"
LISTED = (
    Listed("Boat capsizes off Zuwara", release_url("r1"), dt.date(2026, 3, 4), False),
    Listed(f"Undated {HOSTILE}", release_url("r2"), dt.date(2026, 2, 27), True),
)
TOPIC_PAGE = TopicPage(
    links=LIBYA,
    url=f"{BASE}topics/libya/",
    releases=LISTED,
    count=40,
    pages=(PageLink("next", "Older releases", f"{BASE}archive/libya/2026-02/"),),
    archive_url=f"{BASE}archive/libya/",
)
MONTH_PAGE = MonthPage(
    links=LIBYA,
    url=f"{BASE}archive/libya/2026-03-2/",
    month="2026-03",
    number=2,
    releases=LISTED,
    pages=(PageLink("prev", "March 2026", f"{BASE}archive/libya/2026-03/"),),
    archive_url=f"{BASE}archive/libya/",
    atom_url=f"{BASE}archive/libya/2026-03-2.atom",
)
MONTHS = (
    ArchiveMonth("2026-03", 140, (f"{BASE}archive/libya/2026-03/", MONTH_PAGE.url)),
    ArchiveMonth("2026-01", 1, (f"{BASE}archive/libya/2026-01/",)),
)


def topic_page(env: jinja2.Environment, page: TopicPage = TOPIC_PAGE) -> Node:
    return parse(render_topic_page(env, SITE, page))


def month_page(env: jinja2.Environment) -> Node:
    return parse(render_month_page(env, SITE, MONTH_PAGE))


def archive_index(env: jinja2.Environment) -> Node:
    return parse(render_archive_index(env, SITE, LIBYA, f"{BASE}archive/libya/", MONTHS))


def all_pages(env: jinja2.Environment) -> list[Node]:
    return [
        index_page(env),
        release_page(env),
        withdrawn_page(env),
        topic_page(env),
        topic_page(env, dataclasses.replace(TOPIC_PAGE, count=2, pages=())),
        month_page(env),
        archive_index(env),
    ]


def autodiscovery(page: Node) -> list[tuple[str, str]]:
    links = page.one("head").all("link", rel="alternate")
    assert {link.attrs["type"] for link in links} == {"application/atom+xml"}
    return [(link.attrs["title"], link.attrs["href"]) for link in links]


# --- every page ---------------------------------------------------------------------------------


def test_pages_have_language_charset_viewport_and_landmarks(env: jinja2.Environment) -> None:
    for page in all_pages(env):
        assert page.one("html").attrs["lang"] == "fr"
        assert page.one("meta", charset="utf-8")
        assert "width=device-width" in page.one("meta", name="viewport").attrs["content"]
        assert page.one("title").text().strip()
        body = page.one("body")
        assert [n.tag for n in body.children if isinstance(n, Node)] == [
            "a",
            "header",
            "main",
            "footer",
        ]
        assert page.one("main").attrs["id"] == body.one("a", **{"class": "skip"}).attrs["href"][1:]


def test_pages_have_one_h1_and_headings_in_order(env: jinja2.Environment) -> None:
    for page in all_pages(env):
        levels = [int(n.tag[1]) for n in page.walk() if re.fullmatch(r"h[1-6]", n.tag)]
        assert levels[0] == 1
        assert levels.count(1) == 1
        assert all(b <= a + 1 for a, b in itertools.pairwise(levels))


def test_pages_have_no_javascript(env: jinja2.Environment) -> None:
    for page in all_pages(env):
        assert page.all("script") == []
        for node in page.walk():
            assert not any(name.startswith("on") for name in node.attrs), node
            assert not node.attrs.get("href", "").lower().startswith("javascript:")


def test_every_page_links_the_one_stylesheet_and_carries_none_of_its_own(
    env: jinja2.Environment,
) -> None:
    for page in all_pages(env):
        assert page.all("style") == []
        (sheet,) = page.one("head").all("link", rel="stylesheet")
        assert sheet.attrs["href"] == f"{BASE}site.css"


def test_site_css_holds_the_colours_the_layout_and_the_forms(env: jinja2.Environment) -> None:
    css = render_stylesheet(env)
    assert "@media (prefers-color-scheme: dark)" in css
    assert re.search(r"@media \(min-width: \d+rem\)", css)
    assert "--background:" in css
    assert "fieldset {" in css
    assert css.count("{") == css.count("}")


def test_pages_take_the_stylesheet_and_sign_up_urls_from_the_site(env: jinja2.Environment) -> None:
    moved = replace(SITE, stylesheet_url=f"{BASE}assets/style.css", subscribe_url=f"{BASE}join")
    pages = [
        parse(render_index(env, moved, TOPICS, GENERATED)),
        parse(render_release(env, moved, RELEASE, (LIBYA,), release_url("r1"), UPDATED)),
    ]
    for page in pages:
        (sheet,) = page.all("link", rel="stylesheet")
        assert sheet.attrs["href"] == f"{BASE}assets/style.css"
        hrefs = {link.attrs["href"] for link in page.all("a")}
        assert f"{BASE}join" in hrefs
        assert f"{BASE}subscribe" not in hrefs
    (form,) = pages[0].all("form")
    assert form.attrs["action"] == f"{BASE}join"


def test_every_link_has_text_and_an_absolute_or_anchor_href(env: jinja2.Environment) -> None:
    for page in all_pages(env):
        for link in page.all("a"):
            assert link.words(), link
            href = link.attrs["href"]
            assert href.startswith((BASE, "#")), href


# --- index --------------------------------------------------------------------------------------


def test_index_advertises_the_all_feed_and_every_topic(env: jinja2.Environment) -> None:
    assert autodiscovery(index_page(env)) == [
        ("Newsroom: all releases", f"{BASE}all.atom"),
        ("Libya", f"{BASE}libya.atom"),
        ("Health & disease", f"{BASE}health.atom"),
        ("Quiet topic", f"{BASE}quiet.atom"),
    ]


def test_index_title_and_all_releases(env: jinja2.Environment) -> None:
    page = index_page(env)
    assert page.one("title").text() == "Newsroom"
    assert page.one("h1").text() == "Newsroom"
    section = page.one("section", id="all")
    assert section.one("h2").text() == "All releases"
    assert section.links() == {
        "Atom": f"{BASE}all.atom",
        "RSS": f"{BASE}all.rss",
        "JSON Feed": f"{BASE}all.json",
        "Subscribe to every topic at once (OPML)": f"{BASE}topics.opml",
        "Every release, newest first": f"{BASE}releases/",
    }


def test_index_offers_every_topic_at_once_once(env: jinja2.Environment) -> None:
    page = index_page(env)
    opml = [a for a in page.all("a") if a.attrs.get("href") == SITE.opml_url]
    assert [a.text() for a in opml] == ["Subscribe to every topic at once (OPML)"]


@pytest.mark.parametrize("summary", TOPICS, ids=lambda s: s.links.slug)
def test_index_section_per_topic(env: jinja2.Environment, summary: TopicSummary) -> None:
    section = index_page(env).one("section", id=summary.links.slug)
    assert section.one("h2").text() == summary.links.title
    assert summary.links.description in section.text()
    noun = "release" if summary.count == 1 else "releases"
    count = section.one("p", **{"class": "count"})
    assert count.links() == {f"{summary.count} {noun}": summary.links.html}  # the full list
    assert count.words() == f"{summary.count} {noun} on {summary.links.title}"
    items = section.all("li")
    for title, url, day, guessed in summary.latest:
        item = next(i for i in items if i.links().get(title) == url)
        assert item.one("time").attrs["datetime"] == day.isoformat()
        assert item.one("time").text() == long_date(day)
        assert ("(date from the file)" in item.text()) is guessed
    links = summary.links
    expected = {title: url for title, url, _, _ in summary.latest} | {
        f"{summary.count} {noun}": links.html,
        "Atom": links.atom,
        "RSS": links.url("rss"),
        "JSON Feed": links.url("json"),
    }
    assert section.links() == expected


def test_index_feed_links_name_their_topic_for_screen_readers(env: jinja2.Environment) -> None:
    section = index_page(env).one("section", id="libya")
    names = {a.words(): a.attrs["type"] for a in section.all("a") if a.attrs.get("type")}
    assert names == {
        "Atom feed of Libya": "application/atom+xml",
        "RSS feed of Libya": "application/rss+xml",
        "JSON Feed of Libya": "application/feed+json",
    }


def test_index_says_when_a_topic_has_no_releases(env: jinja2.Environment) -> None:
    section = index_page(env).one("section", id="quiet")
    assert section.all("ul", **{"class": "latest"}) == []
    assert "No releases yet." in section.words()


def test_index_navigation_points_to_each_section(env: jinja2.Environment) -> None:
    page = index_page(env)
    anchors = [a.attrs["href"] for a in page.one("nav", **{"aria-label": "Topics"}).all("a")]
    assert anchors == ["#all", "#libya", "#health", "#quiet"]
    assert all(page.one("section", id=a[1:]) for a in anchors)


def test_index_shows_when_it_was_generated(env: jinja2.Environment) -> None:
    time = index_page(env).one("footer").one("time")
    assert time.attrs["datetime"] == "2026-11-23T09:00:00+00:00"
    assert time.text() == "23 November 2026"


# --- release ------------------------------------------------------------------------------------


def test_release_shows_headline_date_place_paragraphs_and_contacts(
    env: jinja2.Environment,
) -> None:
    page = release_page(env)
    assert page.one("title").text() == "Boat capsizes off Zuwara – Newsroom"
    article = page.one("article")
    assert article.one("h1").text() == RELEASE.title
    time = article.one("time")
    assert time.attrs["datetime"] == "2026-03-04"
    assert time.text() == "4 March 2026"
    meta = article.one("p", **{"class": "meta"}).words()
    assert "Geneva" in meta
    assert "(date from the file)" not in meta
    texts = [p.text() for p in article.all("p")]
    for paragraph in RELEASE.paragraphs:
        assert paragraph in texts
    assert [p.text() for p in article.all("p", **{"class": "contacts"})] == list(RELEASE.contacts)


def test_release_says_when_the_date_comes_from_the_file(env: jinja2.Environment) -> None:
    undated = dataclasses.replace(RELEASE, date_kind=DateKind.FILE_TIME, place=None)
    meta = release_page(env, undated).one("p", **{"class": "meta"}).words()
    assert meta == "4 March 2026 (date from the file)"


def test_release_without_contacts_has_no_contacts_heading(env: jinja2.Environment) -> None:
    page = release_page(env, dataclasses.replace(RELEASE, contacts=()))
    assert "Contacts" not in [h.text() for h in page.all("h2")]


def test_release_links_its_topics_to_index_sections_and_feeds(env: jinja2.Environment) -> None:
    page = release_page(env)
    items = page.one("ul", **{"class": "topic-list"}).children
    topics = [n for n in items if isinstance(n, Node)]
    assert len(topics) == 2
    for item, links in zip(topics, (LIBYA, HEALTH), strict=True):
        assert item.links() == {
            links.title: links.html,
            "Atom": links.atom,
            "RSS": links.url("rss"),
        }


def test_release_advertises_its_topics_feeds_then_everything(env: jinja2.Environment) -> None:
    assert autodiscovery(release_page(env)) == [
        ("Libya", f"{BASE}libya.atom"),
        ("Health & disease", f"{BASE}health.atom"),
        ("Newsroom: all releases", f"{BASE}all.atom"),
    ]


def test_release_shows_when_it_was_updated(env: jinja2.Environment) -> None:
    page = release_page(env)
    time = page.one("footer").one("time")
    assert time.attrs["datetime"] == "2026-03-04T15:30:00+00:00"
    assert page.one("link", rel="canonical").attrs["href"] == release_url("r1")


def test_release_text_is_escaped(env: jinja2.Environment) -> None:
    hostile = "<script>alert('x')</script> & <b>bold</b>"
    release = dataclasses.replace(
        RELEASE,
        title=f"Title {hostile}",
        place=f"Place {hostile}",
        paragraphs=(f"Body {hostile}",),
        contacts=(f"Contact {hostile}",),
    )
    html = render_release(env, SITE, release, (HEALTH,), release_url("r1"), UPDATED)
    page = parse(html)
    assert page.all("script") == []
    assert page.all("b") == []
    assert page.one("h1").text() == f"Title {hostile}"
    assert f"Place {hostile}" in page.one("p", **{"class": "meta"}).text()
    assert f"Body {hostile}" in [p.text() for p in page.all("p")]
    assert page.one("p", **{"class": "contacts"}).text() == f"Contact {hostile}"
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &lt;b&gt;" in html
    assert "Health &amp; disease" in html


# --- withdrawn ----------------------------------------------------------------------------------


def test_withdrawn_page_says_so_and_links_to_the_index(env: jinja2.Environment) -> None:
    page = withdrawn_page(env)
    assert page.one("h1").text() == "Withdrawn: Old news & views"
    assert "has been withdrawn" in page.one("main").words()
    assert BASE in page.one("main").links().values()
    assert page.one("meta", name="robots").attrs["content"] == "noindex"
    assert autodiscovery(page) == [("Newsroom: all releases", f"{BASE}all.atom")]


# --- templating ---------------------------------------------------------------------------------


def test_a_missing_value_names_the_template_file_and_line(env: jinja2.Environment) -> None:
    with pytest.raises(TemplateError, match="'generated' is undefined") as raised:
        render(env, "index.html", site=SITE, feeds=(), canonical=BASE, topics=TOPICS)
    assert raised.value.template == str(TEMPLATES / "index.html")
    line = raised.value.line
    assert line is not None
    assert "generated" in (TEMPLATES / "index.html").read_text().splitlines()[line - 1]


def test_a_missing_attribute_raises(env: jinja2.Environment) -> None:
    site = {"title": "no url", "language": "en"}
    with pytest.raises(TemplateError, match="url"):
        render(env, "withdrawn.html", site=site, feeds=(), canonical=BASE, title="x")


def test_a_template_of_one_s_own_that_does_not_parse_is_named(tmp_path: Path) -> None:
    (tmp_path / "topic.html").write_text("<h1>{{ page.links.title </h1>\n", encoding="utf-8")
    with pytest.raises(TemplateError) as raised:
        render(environment([tmp_path]), "topic.html", page=TOPIC_PAGE)
    assert str(raised.value).startswith(f"template {tmp_path / 'topic.html'}:1: ")
    assert pickle.loads(pickle.dumps(raised.value)).args == raised.value.args  # from workers


def test_user_folder_overrides_one_template(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text(
        '{% extends "_base.html" %}{% block main %}<p id="mine">{{ topics | length }} topics'
        "</p>{% endblock %}{% block footer %}{% endblock %}",
        encoding="utf-8",
    )
    env = environment([tmp_path, TEMPLATES])
    index = parse(render_index(env, SITE, TOPICS, GENERATED))
    assert index.one("p", id="mine").text() == "3 topics"
    assert index.one("html").attrs["lang"] == "fr"  # the project's _base.html around it
    assert release_page(env).one("h1").text() == RELEASE.title


def test_autoescape_applies_to_html_and_xml_only(tmp_path: Path) -> None:
    for name in ("page.html", "feed.xml", "mail.txt"):
        (tmp_path / name).write_text("{{ value }}", encoding="utf-8")
    env = environment([tmp_path])
    assert render(env, "page.html", value="a & b") == "a &amp; b"
    assert render(env, "feed.xml", value="a & b") == "a &amp; b"
    assert render(env, "mail.txt", value="a & b") == "a & b"


def test_environments_are_cached_per_folders(tmp_path: Path) -> None:
    assert environment([TEMPLATES]) is environment((TEMPLATES,))
    assert environment([tmp_path, TEMPLATES]) is not environment([TEMPLATES])


def test_long_date() -> None:
    assert long_date(dt.date(2026, 1, 9)) == "9 January 2026"
    assert long_date(dt.datetime(2026, 12, 31, 23, 59, tzinfo=dt.UTC)) == "31 December 2026"


# --- for a person to look at --------------------------------------------------------------------


def test_pages_render_the_same_bytes_twice(env: jinja2.Environment, tmp_path: Path) -> None:
    """Writes the pages under tmp_path (open them in a browser); a second render changes nothing."""
    pages: dict[Path, Callable[[], str]] = {
        tmp_path / "index.html": lambda: render_index(env, SITE, TOPICS, GENERATED),
        tmp_path / "releases" / "r1.html": lambda: render_release(
            env, SITE, RELEASE, (LIBYA, HEALTH), release_url("r1"), UPDATED
        ),
        tmp_path / "releases" / "r9.html": lambda: render_withdrawn(
            env, SITE, "Old news", release_url("r9")
        ),
    }
    for path, page in pages.items():
        assert write_if_changed(path, page().encode())
    for path, page in pages.items():
        assert not write_if_changed(path, page().encode())


def test_a_configured_folder_needs_only_the_templates_it_changes(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "withdrawn.html").write_text("gone: {{ title }}\n", encoding="utf-8")
    env = environment([mine])
    assert env.get_template("withdrawn.html").render(title="T") == "gone: T\n"
    assert env.get_template("index.html").filename == str(ROOT / "templates" / "index.html")


# --- browsing pages -----------------------------------------------------------------------------


def test_a_topic_page_lists_its_newest_releases_and_leads_on_to_the_archive(
    env: jinja2.Environment,
) -> None:
    page = topic_page(env)
    assert page.one("title").text() == "Libya – Newsroom"
    assert page.one("h1").text() == "Libya"
    assert page.one("p", **{"class": "count"}).text() == "The newest 2 of 40 releases"
    items = page.one("ul", **{"class": "latest"}).all("li")
    assert [i.all("a")[0].text() for i in items] == [r.title for r in LISTED]  # escaped text
    assert ["(date from the file)" in i.text() for i in items] == [False, True]
    nav = page.one("nav", **{"aria-label": "Older releases of Libya"})
    older = [("next", f"{BASE}archive/libya/2026-02/")]
    assert [(a.attrs["rel"], a.attrs["href"]) for a in nav.all("a")] == older
    heads = page.one("head").all("link")
    assert [(x.attrs["rel"], x.attrs["href"]) for x in heads if x.attrs["rel"] == "next"] == older
    assert autodiscovery(page) == [
        ("Libya", LIBYA.atom),
        ("Newsroom: all releases", f"{BASE}all.atom"),
    ]
    assert page.one("main").links()["Libya month by month"] == f"{BASE}archive/libya/"
    assert {LIBYA.atom, LIBYA.url("rss"), LIBYA.url("json")} <= set(
        page.one("main").links().values()
    )


def test_a_topic_page_with_every_release_on_it_counts_them(env: jinja2.Environment) -> None:
    every = dataclasses.replace(TOPIC_PAGE, count=1, pages=(), releases=LISTED[:1])
    page = topic_page(env, every)
    assert page.one("p", **{"class": "count"}).text() == "1 release, newest first"
    assert page.all("nav", **{"aria-label": "Older releases of Libya"}) == []
    assert page.one("head").all("link", rel="next") == []
    empty = topic_page(env, dataclasses.replace(every, count=0, releases=()))
    assert "No releases yet." in empty.one("main").words()


def test_an_archive_page_names_its_month_and_links_its_atom_twin(env: jinja2.Environment) -> None:
    page = month_page(env)
    assert page.one("h1").text() == "Libya: March 2026, page 2"
    links = page.one("main").links()
    assert links["This page as an Atom archive"] == MONTH_PAGE.atom_url
    assert links["Every month of Libya"] == f"{BASE}archive/libya/"
    assert links["← March 2026"] == f"{BASE}archive/libya/2026-03/"


def test_the_archive_index_lists_each_month_with_its_count_and_pages(
    env: jinja2.Environment,
) -> None:
    items = archive_index(env).one("ul", **{"class": "latest months"}).all("li")
    assert [i.words() for i in items] == [
        "March 2026 140 releases (pages 1 of March 2026 2 of March 2026)",
        "January 2026 1 release",
    ]
    assert items[0].links() == {
        "March 2026": f"{BASE}archive/libya/2026-03/",
        "1": f"{BASE}archive/libya/2026-03/",
        "2": MONTH_PAGE.url,
    }


def test_a_release_links_the_releases_before_and_after_it(env: jinja2.Environment) -> None:
    html = render_release(
        env, SITE, RELEASE, (LIBYA,), release_url("r1"), UPDATED, older=LISTED[1], newer=LISTED[0]
    )
    nav = parse(html).one("nav", **{"aria-label": "Releases before and after"})
    assert [(a.attrs["rel"], a.attrs["href"], a.text()) for a in nav.all("a")] == [
        ("prev", LISTED[1].url, LISTED[1].title),
        ("next", LISTED[0].url, LISTED[0].title),
    ]
    assert nav.words().startswith("Previous release:")
    alone = release_page(env)
    assert alone.all("nav", **{"aria-label": "Releases before and after"}) == []
