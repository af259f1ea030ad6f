"""An HTML page -> the paragraphs a browser shows, each with where it sits in the page.

Parsing is lxml's (libxml2, in C). The page arrives as `str`, already decoded, so a wrong
`<meta charset>` cannot mislead the parser. libxml2 stops reading a page nested deeper than
its limit and drops the rest without a word: such a page is flattened and parsed again.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import TypeAlias

from lxml import etree

from pressfeed.markup import clean_text, simplify_html

# Never shown as text: scripts, styles, embedded objects, form controls.
_SKIPPED = frozenset(
    {
        "script", "style", "noscript", "template", "svg", "math", "iframe", "object", "embed",
        "canvas", "select", "option", "textarea", "button", "video", "audio", "map", "head",
        "title"
    }
)  # fmt: skip
# Elements that only style the text they hold: without attributes, nothing to look at.
_INLINE = frozenset(
    {
        "span", "a", "em", "strong", "b", "i", "u", "small", "sup", "sub", "abbr", "cite", "q",
        "mark", "s", "font", "code"
    }
)  # fmt: skip
# The site's own menus, and outside the article its sidebars and footer: never read.
_SITE_MENUS = frozenset({"nav", "menu"})
_NO_TEXT = frozenset(
    {"img", "input", "meta", "link", "source", "picture", "wbr", "col", "area", "track", "param"}
)
_SITE_PARTS = frozenset({"aside", "footer"})
_ITEM_DATES = etree.XPath(".//*[contains(@itemprop, 'date')]")
_BLOCK = frozenset(
    {
        "p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul", "ol", "dl", "dt", "dd",
        "blockquote", "section", "article", "main", "header", "footer", "nav", "aside", "br",
        "tr", "td", "th", "table", "thead", "tbody", "tfoot", "caption", "pre", "address",
        "figure", "figcaption", "hr", "body", "html", "form", "fieldset", "legend", "details",
        "summary", "center", "menu", "dialog"
    }
)  # fmt: skip
_STORY = frozenset({"article", "main"})
_HEADING = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
# Site chrome by element and by ARIA role; not <form>: some sites wrap the whole page in one.
_CHROME_TAGS = frozenset({"nav", "footer", "aside", "menu", "dialog", "figcaption"})
_CHROME_ROLES = frozenset(
    {"navigation", "banner", "contentinfo", "complementary", "search", "menu", "dialog", "alert"}
)
# Words of class and id names that mark chrome: whole words only ("share" in "share-bar",
# never "shareholders"), so a story container named "article-body" is not caught by "body".
_CHROME_WORDS = frozenset(
    {
        "nav", "navbar", "navigation", "menu", "menubar", "footer", "sidebar", "breadcrumb",
        "breadcrumbs", "crumbs", "share", "shares", "sharing", "sharebar", "social", "socials",
        "related", "recommended", "recommendations", "newsletter", "subscribe", "subscription",
        "signup", "comment", "comments", "disqus", "promo", "promotion", "advert", "adverts",
        "advertisement", "advertising", "ad", "ads", "adslot", "sponsor", "sponsored", "cookie",
        "cookies", "consent", "popup", "modal", "banner", "toolbar", "widget", "widgets",
        "tags", "taglist", "keywords", "outbrain", "taboola", "trending", "popular", "mostread",
        "byline", "bylines", "author", "authors", "meta", "metadata", "dateline", "timestamp",
        "caption", "captions", "credit", "credits", "figcaption", "pagination", "pager", "rail",
        "masthead", "topbar", "skip", "print", "email", "follow", "donate", "jump", "toc"
    }
)  # fmt: skip
# Whole class names only: "hidden-xs" hides on small screens and shows on large ones.
_HIDDEN_CLASSES = frozenset(
    {"hidden", "hide", "is-hidden", "sr-only", "visually-hidden", "visuallyhidden",
     "screen-reader-text", "screenreader", "offscreen", "invisible", "d-none", "u-hidden"}
)  # fmt: skip
_NAME_WORD = re.compile(r"[a-z]+")
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*>", re.IGNORECASE)
# No table of ids: nothing looks elements up by id, and filling it costs 5% of the parse.
_PARSER = etree.HTMLParser(
    huge_tree=True, remove_comments=True, remove_pis=True, encoding="utf-8", collect_ids=False
)
Element: TypeAlias = etree._Element
_FLAT_DEPTH = 200


@dataclass(slots=True)
class Chunk:
    """A paragraph as shown: its text and what the page's structure says about it."""

    text: str
    tag: str  # the element that holds it as a block
    element: Element
    depth: int  # of `element`, from the root
    line: int
    link_chars: int  # characters inside links
    heading: int  # 1 to 6 for h1-h6, else 0
    chrome_depth: int  # depth of the innermost chrome element around it; -1 for none
    headline_hint: bool  # inside an element named or marked as a headline


@dataclass(slots=True)
class TimeTag:
    """A `<time>` element: its machine-readable value and the paragraph it is in."""

    value: str
    chunk: int  # index of the chunk that follows or holds it
    chrome: bool


@dataclass
class Page:
    root: Element
    chunks: list[Chunk] = field(default_factory=list)
    times: list[TimeTag] = field(default_factory=list)
    item_dates: list[tuple[str, str]] = field(default_factory=list)  # (itemprop, value)


def parse_page(text: str) -> Element | None:
    """The page's element tree, or None for a page with no elements."""
    text = _XML_DECLARATION.sub("", text, count=1)
    if not text.strip():
        return None
    root = _parse(text)
    if root is not None and any(e.type_name == "ERR_RESOURCE_LIMIT" for e in _PARSER.error_log):
        root = _parse(flatten(text))
    return root


def _parse(text: str) -> Element | None:
    # As UTF-8 bytes with the encoding fixed: the page's <meta charset> is not looked at, and a
    # lone surrogate (which would end libxml2's reading of a str) is dropped.
    try:
        return etree.fromstring(text.encode("utf-8", "ignore"), _PARSER)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError):
        return None


_PLAIN_TAG = re.compile(r"<(/?)([a-z0-9:_.-]+)[^>]*>")
_VOID = frozenset(
    {
        "br", "hr", "img", "input", "meta", "link", "area", "base", "col", "embed", "source",
        "track", "wbr"
    }
)  # fmt: skip


def flatten(text: str) -> str:
    """The page with the wrappers nested deeper than a browser-sane limit taken out.

    Paragraphs and headings stay (they do not nest without end); the `<div>`s and `<span>`s
    around them go.
    """
    depth = 0
    dropped: dict[str, int] = {}

    def keep(tag: re.Match[str]) -> str:
        nonlocal depth
        end, name = tag.group(1), tag.group(2)
        if name in _VOID:
            return tag.group()
        limit = _FLAT_DEPTH + (_FLAT_DEPTH if name in _LEAF_BLOCKS else 0)
        if not end:
            if depth >= limit:
                dropped[name] = dropped.get(name, 0) + 1
                return ""
            depth += 1
            return tag.group()
        if dropped.get(name):
            dropped[name] -= 1
            return ""
        depth = max(0, depth - 1)
        return tag.group()

    return _PLAIN_TAG.sub(keep, simplify_html(text))


_LEAF_BLOCKS = frozenset(
    ["p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "dt", "dd", "td", "th", "pre"]
)


def read_chunks(root: Element) -> Page:
    """The page's visible paragraphs in reading order, with links, headings and chrome marked."""
    etree.strip_elements(root, *_SKIPPED, with_tail=False)
    reader = _ChunkReader(root)
    reader.walk()
    return reader.page


# What an open element changed, undone when it closes.
_SKIP, _CHROME, _HINT, _LINK, _STORY_OPEN, _HEAD, _BLOCK_OPEN = 1, 2, 4, 8, 16, 32, 64
_KICKER, _DATED = 128, 256  # a kicker's own line; an itemprop date


class _ChunkReader:
    def __init__(self, root: Element) -> None:
        self.page = Page(root)
        self.parts: list[str] = []
        self.link_chars = 0
        self.links = 0
        self.block: list[tuple[Element, int]] = [(root, 0)]
        self.chrome: list[int] = []  # depths of the chrome elements open around the text
        self.headings: list[int] = []  # levels of the headings open around the text
        self.hints = 0
        self.story = 0  # open <article> and <main> elements
        self.depth = 0

    def walk(self) -> None:
        walker = etree.iterwalk(self.page.root, events=("start", "end"))
        marks: list[int] = []
        open_element, close_element, add = self._open, self._close, self._add
        for event, element in walker:
            if event == "start":
                mark = open_element(element)
                marks.append(mark)
                if mark & _SKIP:
                    walker.skip_subtree()
                    continue
                text = element.text  # the text before the element's first child
            else:
                mark = marks.pop()
                if mark & ~_SKIP:
                    close_element(mark)
                else:
                    self.depth -= 1
                text = element.tail
            if text:
                add(text)
        self._flush()

    def _open(self, element: Element) -> int:
        self.depth += 1
        tag = element.tag
        if not isinstance(tag, str):
            return _SKIP  # an entity or a processing instruction
        kind = _TAG_KINDS.get(tag, 0)
        if kind & _K_NO_TEXT:
            return _SKIP  # whatever its attributes say
        attributes = element.items()
        if attributes:
            names = _attribute_marks(tag, attributes)
            if names & _SKIP:
                return _SKIP
        elif kind & _K_INLINE:
            return 0
        else:
            names = 0
        if kind & _K_MENU or (kind & _K_SITE_PART and not self.story):
            self._skip_site_part(element)
            return _SKIP
        mark = 0
        if kind & _K_BLOCK or names & _KICKER:
            if self.parts:
                self._flush()
            self.block.append((element, self.depth))
            mark |= _BLOCK_OPEN
            level = _HEADING.get(tag)
            if level:
                self.headings.append(level)
                mark |= _HEAD
        if kind & _K_STORY:
            self.story += 1
            mark |= _STORY_OPEN
        if names & _CHROME or kind & _K_CHROME or (kind & _K_HEADER and not self.story):
            self.chrome.append(self.depth)
            mark |= _CHROME
        if names & _HINT:
            self.hints += 1
            mark |= _HINT
        if kind & _K_LINK:
            self.links += 1
            mark |= _LINK
        elif kind & _K_TIME:
            self._add_time(element)
        if names & _DATED:
            value = element.get("content") or element.get("datetime")
            if value:
                self.page.item_dates.append((element.get("itemprop") or "", value))
        return mark

    def _add_time(self, element: Element) -> None:
        value = element.get("datetime")
        if value:
            chunk = len(self.page.chunks)
            self.page.times.append(TimeTag(value.strip(), chunk, bool(self.chrome)))

    def _skip_site_part(self, element: Element) -> None:
        """Menus and sidebars are not read; a date marked up in one still counts (some sites
        put the byline in their navigation bar)."""
        for item in _ITEM_DATES(element):
            value = item.get("content") or item.get("datetime")
            if value:
                self.page.item_dates.append((item.get("itemprop") or "", value))

    def _close(self, mark: int) -> None:
        self.depth -= 1
        if mark & _BLOCK_OPEN:
            if self.parts:
                self._flush()
            self.block.pop()
            if mark & _HEAD:
                self.headings.pop()
        if mark & _CHROME:
            self.chrome.pop()
        if mark & _STORY_OPEN:
            self.story -= 1
        if mark & _HINT:
            self.hints -= 1
        if mark & _LINK:
            self.links -= 1

    def _add(self, text: str) -> None:
        # Spaces before a paragraph's first word are no part of it: most texts between
        # blocks are such spaces, and a paragraph is not started for them.
        if self.parts or not text.isspace():
            self.parts.append(text)
            if self.links:
                self.link_chars += len(text.strip())

    def _flush(self) -> None:
        if not self.parts:
            return
        text = _cleaned("".join(self.parts))
        self.parts = []
        link_chars, self.link_chars = self.link_chars, 0
        if not text:
            return
        element, depth = self.block[-1]
        self.page.chunks.append(
            Chunk(
                text=text,
                tag=str(element.tag),
                element=element,
                depth=depth,
                line=element.sourceline or 0,
                link_chars=min(link_chars, len(text)),
                heading=min(self.headings) if self.headings else 0,
                chrome_depth=self.chrome[-1] if self.chrome else -1,
                headline_hint=self.hints > 0,
            )
        )


def _cleaned(text: str) -> str:
    """One paragraph's text with spaces squeezed and invisible or forbidden characters gone."""
    text = " ".join(text.split())
    if text.isascii() and text.isprintable():
        return text
    return " ".join(clean_text(text).split())


def _attribute_marks(tag: str, attributes: list[tuple[str, str]]) -> int:
    """What an element's attributes say: hidden (_SKIP), chrome, headline, kicker."""
    hidden = False
    style = names = ident = role = itemprop = None
    for key, value in attributes:  # one call into lxml, not one per attribute looked at
        if key not in _MARKING_ATTRIBUTES:
            continue
        if key == "class":
            names = value
        elif key == "id":
            ident = value
        elif key == "style":
            style = value
        elif key == "role":
            role = value
        elif key == "itemprop":
            itemprop = value
        else:
            hidden = hidden or key == "hidden" or value == "true"
    marks = _class_marks(names) if names else 0
    if not (hidden or style or ident or role or itemprop):
        return marks & ~_CHROME if marks & _CHROME and tag in _NEVER_CHROME else marks
    if hidden and tag not in ("body", "html"):
        return _SKIP
    if style and _HIDDEN_STYLE.search(style):
        return _SKIP
    if ident:
        marks |= _id_marks(ident)
    if marks & _CHROME and tag in _NEVER_CHROME:
        marks &= ~_CHROME
    if role in _CHROME_ROLES and tag not in _STORY:
        marks |= _CHROME
    if itemprop in ("author", "creator"):
        marks |= _CHROME
    elif itemprop in ("headline", "name"):
        marks |= _HINT
    elif itemprop and "date" in itemprop:
        marks |= _DATED
    return marks


_MARKING_ATTRIBUTES = frozenset(
    {"class", "id", "style", "role", "itemprop", "hidden", "aria-hidden"}
)


@functools.lru_cache(maxsize=8192)
def _class_marks(names: str) -> int:
    """Marks of a class attribute: class names repeat across a page, so they are cached."""
    text = names.lower()
    classes = text.split()
    marks = _SKIP if not _HIDDEN_CLASSES.isdisjoint(classes) else 0
    words = _NAME_WORD.findall(text)
    if _WORD_MARKS.keys().isdisjoint(words) and _WORD_MARKS.keys().isdisjoint(classes):
        return marks  # most class names mark nothing
    for word in (*words, *classes):
        marks |= _WORD_MARKS.get(word, 0)
    return marks


def _id_marks(ident: str) -> int:
    """Marks of an id, which is unique to its element: not worth a cache entry. An id never
    marks a headline."""
    marks = 0
    for word in _NAME_WORD.findall(ident.lower()):
        marks |= _WORD_MARKS.get(word, 0)
    return marks & (_CHROME | _KICKER)


_NEVER_CHROME = frozenset({"body", "html", "article", "main"})
_HEADLINE_WORDS = frozenset(
    {"headline", "title", "entry-title", "article-title", "post-title", "story-title", "heading"}
)
# A label printed above or before the headline ("Genetik", "Press release"): its own line.
_KICKER_WORDS = frozenset(
    {
        "kicker", "overline", "topline", "dachzeile", "eyebrow", "roofline", "supertitle",
        "superline", "preheadline", "pretitle", "spitzmarke", "overhead", "strapline", "intro",
        "label", "rubric", "category", "flag", "overtitle"
    }
)  # fmt: skip


def _word_marks() -> dict[str, int]:
    marks: dict[str, int] = {}
    sets = ((_CHROME, _CHROME_WORDS), (_HINT, _HEADLINE_WORDS), (_KICKER, _KICKER_WORDS))
    for mark, words in sets:
        for word in words:
            marks[word] = marks.get(word, 0) | mark
    return marks


_WORD_MARKS = _word_marks()  # a class or id word -> the marks it gives

# What a tag is, looked up once per element instead of in one set after another.
_K_INLINE, _K_NO_TEXT, _K_MENU, _K_SITE_PART, _K_BLOCK, _K_STORY = 1, 2, 4, 8, 16, 32
_K_CHROME, _K_HEADER, _K_LINK, _K_TIME = 64, 128, 256, 512


def _tag_kinds() -> dict[str, int]:
    kinds: dict[str, int] = {}
    for kind, tags in (
        (_K_INLINE, _INLINE),
        (_K_NO_TEXT, _NO_TEXT),
        (_K_MENU, _SITE_MENUS),
        (_K_SITE_PART, _SITE_PARTS),
        (_K_BLOCK, _BLOCK),
        (_K_STORY, _STORY),
        (_K_CHROME, _CHROME_TAGS),
        (_K_HEADER, {"header"}),
        (_K_LINK, {"a"}),
        (_K_TIME, {"time"}),
    ):
        for tag in tags:
            kinds[tag] = kinds.get(tag, 0) | kind
    return kinds


_TAG_KINDS = _tag_kinds()
