"""A content file's text (plain, Markdown or HTML) as a list of paragraph blocks."""

from __future__ import annotations

import itertools
import re
import statistics
import unicodedata
from dataclasses import replace
from html.parser import HTMLParser

from pressfeed.models import Block

# Characters XML 1.0 forbids or discourages (C1 controls, which feeds drop too), plus invisible
# ones that break words apart.
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff\ud800-\udfff]")
# Bidi embeddings, overrides and isolates can reverse the text shown after them, in a feed
# reader's list or a mail's subject; the direction marks (LRM, RLM, ALM) are harmless and kept.
_INVISIBLE = dict.fromkeys(
    map(
        ord,
        "\u00ad\u200b\u200c\u200d\u2060\ufeff\u202a\u202b\u202c\u202d\u202e"
        "\u2066\u2067\u2068\u2069",
    ),
    None,
)
_INVISIBLE_RE = re.compile("[" + "".join(map(chr, _INVISIBLE)) + "]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")


def clean_text(text: str) -> str:
    """Normalise Unicode, line ends and spaces; drop characters XML forbids."""
    # A regex, not str.translate: translate copies long non-ASCII text character by character.
    text = _INVISIBLE_RE.sub("", unicodedata.normalize("NFC", text))
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n")
    return _FORBIDDEN.sub("", text)


_CITABLE = re.compile(r"https?://[^\s/?#<>\"]+\.[^\s/?#<>\"]+(?:[/?#][^\s<>\"]*)?", re.IGNORECASE)
_URL_LIMIT = 2000


def citable_url(text: str | None) -> str | None:
    """The text as a link a reader may follow to the original (http or https, with a host
    name), or None: never a javascript: or data: link."""
    url = (text or "").strip()
    if len(url) > _URL_LIMIT or not _CITABLE.fullmatch(url):
        return None
    return url


def clean_line(line: str) -> str:
    """Collapse runs of spaces within one line."""
    if line.isascii() and "  " not in line and "\t" not in line:
        return line.strip()  # nothing to collapse, and this is the common line
    return _SPACES.sub(" ", line).strip()


def blocks_for(text: str, suffix: str) -> list[Block]:
    """Blocks of a file's decoded text, by its kind (".txt", ".md" or ".html")."""
    text = clean_text(text)
    if suffix in (".html", ".htm"):
        return html_blocks(text)
    if suffix in (".md", ".markdown"):
        return markdown_blocks(text)
    return text_blocks(text)


# --- plain text ---------------------------------------------------------------------------------


_PARAGRAPH_END = re.compile(r"[.!?:][\"'”’»)]*$")


def text_blocks(text: str) -> list[Block]:
    """One block per line; hard-wrapped text has its lines joined into paragraphs."""
    lines = [clean_line(raw) for raw in text.split("\n")]
    width = _wrap_width(lines)
    blocks: list[Block] = []
    gap = 0
    for number, line in enumerate(lines, start=1):
        if not line:
            gap += 1
            continue
        previous = blocks[-1] if blocks else None
        # The line above decides, not the paragraph so far: a short line ends a paragraph.
        if width and previous and gap == 0 and _continues(lines[number - 2], width):
            blocks[-1] = Block(f"{previous.text} {line}", previous.line, previous.gap)
        else:
            blocks.append(Block(line, number, gap))
        gap = 0
    return blocks


def _wrap_width(lines: list[str]) -> int:
    """The column a hard-wrapped file breaks at, or 0 when lines are whole paragraphs."""
    followed = [a for a, b in itertools.pairwise(lines) if a and b]
    if len(followed) < 4 or max(len(line) for line in lines) > 100:
        return 0
    # Wrapped lines mostly stop mid-sentence; whole paragraphs mostly end with a full stop.
    ended = sum(bool(_PARAGRAPH_END.search(line)) for line in followed)
    if ended > 0.4 * len(followed):
        return 0
    lengths = [len(line) for line in followed]
    return max(lengths) if statistics.median(lengths) >= 50 else 0


def _continues(previous: str, width: int) -> bool:
    return len(previous) >= 0.6 * width and not previous.endswith(":")


# --- Markdown -----------------------------------------------------------------------------------

_MD_HEADING = re.compile(r"^#{1,6}\s+")
_MD_RULE = re.compile(r"^(?:[-*_]\s*){3,}$")
_MD_SETEXT = re.compile(r"^(?:=+|-+)$")  # underlines the line above as a heading
_MD_LIST = re.compile(r"^(?:[-*+]|\d+[.)])\s+")
# Bracket text stops at the next bracket, a target at a space or an unpaired parenthesis: a long
# line of "[" or "(" with no closing mark is then scanned once, not once per opening mark.
_MD_TARGET = r"\((?:[^()\s]|\([^()\s]*\))*\)"
_MD_IMAGE = re.compile(rf"!\[[^\[\]]*\]{_MD_TARGET}")
_MD_LINK = re.compile(rf"\[([^\[\]]+)\]{_MD_TARGET}")
_MD_EMPHASIS = re.compile(r"(\*\*|__|\*|`)(.+?)\1")


def markdown_blocks(text: str) -> list[Block]:
    """Paragraphs of a Markdown file, inline markup reduced to its text."""
    blocks: list[Block] = []
    gap = 0
    joinable = False
    for number, raw in enumerate(text.split("\n"), start=1):
        line = clean_line(raw.lstrip("> "))
        if joinable and _MD_SETEXT.match(line) and blocks[-1].line == number - 1:
            blocks[-1] = replace(blocks[-1], heading=True)
            gap, joinable = 0, False
            continue
        if not line or _MD_RULE.match(line):
            gap, joinable = gap + 1, False
            continue
        heading = _MD_HEADING.match(line)
        item = _MD_LIST.match(line)
        line = _md_inline(_heading_text(line, heading.end()) if heading else line)
        if not line:
            continue
        if joinable and not heading and not item:
            last = blocks[-1]
            blocks[-1] = Block(f"{last.text} {line}", last.line, last.gap)
        else:
            blocks.append(Block(line, number, gap, heading=bool(heading)))
        gap, joinable = 0, not heading
    return blocks


def _heading_text(line: str, start: int) -> str:
    """An ATX heading's text without its closing hashes ("## Title ##")."""
    return line[start:].rstrip().rstrip("#").rstrip()


def _md_inline(line: str) -> str:
    line = _MD_IMAGE.sub("", line)
    line = _MD_LINK.sub(r"\1", line)
    return clean_line(_MD_EMPHASIS.sub(r"\2", line))


# --- HTML ---------------------------------------------------------------------------------------

# Elements whose content is never part of a story: scripts, site chrome, forms, captions.
_SKIPPED = frozenset(
    [
        "script",
        "style",
        "noscript",
        "template",
        "svg",
        "head",
        "title",
        "nav",
        "header",
        "footer",
        "aside",
        "form",
        "button",
        "select",
        "textarea",
        "iframe",
        "figcaption",
        "object",
        "canvas",
        "dialog",
    ]
)
# What a <head> may hold: any other start tag ends a <head> its page never closed.
_HEAD_CONTENT = frozenset(
    ["title", "meta", "link", "style", "script", "base", "noscript", "template"]
)
# Inside these, a <header> holds the story's own headline and dateline.
_STORY = frozenset({"article", "main"})
_BLOCK = frozenset(
    [
        "p",
        "div",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "li",
        "ul",
        "ol",
        "dl",
        "dt",
        "dd",
        "blockquote",
        "section",
        "article",
        "main",
        "br",
        "tr",
        "td",
        "th",
        "table",
        "pre",
        "address",
        "figure",
        "hr",
        "body",
        "html",
    ]
)
_HEADINGS = frozenset({"h1", "h2", "h3"})
_VOID = frozenset(
    [
        "br",
        "hr",
        "img",
        "input",
        "meta",
        "link",
        "area",
        "base",
        "col",
        "embed",
        "source",
        "track",
        "wbr",
    ]
)
# Elements whose end tag may be left out: one of these marked hidden could not be closed reliably.
_OPTIONAL_END = frozenset(
    [
        "p",
        "li",
        "dt",
        "dd",
        "tr",
        "td",
        "th",
        "thead",
        "tbody",
        "tfoot",
        "option",
        "optgroup",
        "colgroup",
    ]
)


def _is_hidden(tag: str, attrs: list[tuple[str, str | None]]) -> bool:
    """An element the browser does not render (the `hidden` attribute), e.g. a cookie notice."""
    closable = tag not in _VOID and tag not in _OPTIONAL_END
    return closable and any(name == "hidden" for name, _ in attrs)


class _BlockParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[Block] = []
        self._parts: list[str] = []
        self._line = 0
        self._skip: list[str] = []
        self._heading = 0
        self._story = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._skip == ["head"] and tag not in _HEAD_CONTENT:
            self._skip = []  # a page that never closed its <head>
        if self._skip:
            if tag not in _VOID and (tag in _SKIPPED or tag in self._skip):
                self._skip.append(tag)  # nested: its end tag must not end the skipping
            return
        if _is_hidden(tag, attrs):
            self._skip.append(tag)
            return
        if tag in _STORY:
            self._story += 1
        if tag in _SKIPPED and not (tag == "header" and self._story):
            self._skip.append(tag)
        elif tag in _BLOCK:
            self._flush()
            self._heading += tag in _HEADINGS

    def handle_endtag(self, tag: str) -> None:
        if self._skip:
            if tag in self._skip:
                while self._skip.pop() != tag:
                    pass
            return
        if tag in _STORY:
            self._story = max(0, self._story - 1)
        if tag in _BLOCK:
            self._flush()
            self._heading = max(0, self._heading - (tag in _HEADINGS))

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if not self._parts:
            self._line = self.getpos()[0]
        self._parts.append(data)

    def _flush(self) -> None:
        # Entities are decoded only now, so &shy; and &#8203; need cleaning here too.
        text = clean_line(" ".join(clean_text("".join(self._parts)).split("\n")))
        self._parts = []
        if text:
            self.blocks.append(Block(text, self._line, 1, heading=self._heading > 0))


# Markup, matched left to right without backtracking: a tag or comment left open at the end of
# the page runs to the end, as in HTML5, instead of being looked for again at every "<".
_ATTRS = r"""(?:=\s*"[^"]*(?:"|\Z)|=\s*'[^']*(?:'|\Z)|[^>])*"""
_MARKUP = re.compile(
    rf"""<(?P<raw>script|style|textarea|title|iframe|noembed|noframes)(?=[\t\n\f\r />])
      (?P<rattrs>{_ATTRS})(?P<rclose>>|\Z)
      (?P<content>.*?)(?:</(?P=raw)(?=[\t\n\f\r />])[^>]*(?:>|\Z)|\Z)
    |<(?P<end>/)?(?P<name>[a-zA-Z][^\t\n\f\r />\x00]*)(?P<attrs>{_ATTRS})(?P<close>>|\Z)
    |<!--.*?(?:--!?>|\Z)
    |<[!?/][^>]*(?:>|\Z)
    |<""",
    re.DOTALL | re.VERBOSE | re.IGNORECASE,
)
_ATTR_VALUE = re.compile(r"""=\s*(?:"[^"]*"?|'[^']*'?|[^\s>]*)""")
_HIDDEN_ATTR = re.compile(r"(?:^|[\s/])hidden(?![^\s/])", re.IGNORECASE)
_TAG_NAME_JUNK = re.compile(r"[^a-zA-Z0-9:_.-]")


def simplify_html(text: str, *, keep_meta: bool = False) -> str:
    """The page with plain tags only: the shape Python's HTML parser reads in linear time.

    Python 3.11's parser looks for the end of an unclosed tag again at every "<" and can
    backtrack without end on odd attributes, so a hostile page could hold a scan for hours.
    Each tag keeps its name and the one attribute pressfeed reads (`hidden`; with `keep_meta`,
    a `<meta>` keeps all of them, for a page head of bounded size); comments, declarations and
    the content of scripts and styles go; a "<" that opens nothing becomes "&lt;"; line breaks
    stay where they were, so blocks keep their line numbers.
    """
    return _MARKUP.sub(lambda token: _simplified(token, keep_meta), text)


def _simplified(token: re.Match[str], keep_meta: bool) -> str:
    name, attrs = token.group("name", "attrs")
    if name is not None and token.group("close"):
        if not attrs and name.isalnum():
            return token.group()  # "<p>", "</p>": already plain
        return _plain_tag(name, token.group("end"), attrs, keep_meta)
    raw = token.group("raw")
    if raw is not None and token.group("rclose"):
        breaks = "\n" * (token.group("rattrs").count("\n") + token.group("content").count("\n"))
        return f"<{raw.lower()}>{breaks}</{raw.lower()}>"
    whole = token.group()
    return "&lt;" if whole == "<" else _breaks_as_comment(whole)  # left open at the end: dropped


def _plain_tag(name: str, end: str | None, attrs: str, keep_meta: bool) -> str:
    name = _TAG_NAME_JUNK.sub("", name).lower() or "x"
    breaks = "\n" * attrs.count("\n")
    if end:
        return f"</{name}{breaks}>"
    if keep_meta and name == "meta":
        return f"<meta {attrs.rstrip('/')}>"
    hidden = " hidden" if _HIDDEN_ATTR.search(_ATTR_VALUE.sub(" ", attrs)) else ""
    closed = "/" if attrs.rstrip().endswith("/") else ""
    return f"<{name}{hidden}{breaks}{closed}>"


def _breaks_as_comment(raw: str) -> str:
    breaks = "\n" * raw.count("\n")
    return f"<!--{breaks}-->" if breaks else ""


def html_blocks(text: str) -> list[Block]:
    """Paragraphs of an HTML page's visible story text, through a real HTML parser."""
    parser = _BlockParser()
    parser.feed(simplify_html(text))
    parser.close()
    parser._flush()
    return parser.blocks


class _CharsetParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.charset: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "meta" or self.charset:
            return
        values = {k.lower(): (v or "") for k, v in attrs}
        if values.get("charset"):
            self.charset = values["charset"].strip()
        elif values.get("http-equiv", "").lower() == "content-type":
            _, _, charset = values.get("content", "").partition("charset=")
            self.charset = charset.strip(" ;\"'") or None


def declared_charset(head: bytes) -> str | None:
    """The charset an HTML page declares in a <meta> tag, if any."""
    parser = _CharsetParser()
    parser.feed(simplify_html(head.decode("latin-1"), keep_meta=True))
    return parser.charset
