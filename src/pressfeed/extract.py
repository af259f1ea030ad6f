"""A content file's blocks -> its press releases: chrome, listings, headlines, datelines, contacts.

The rules are general shapes of news pages, not strings of one site:
- chrome: lone punctuation, breadcrumbs, a menu label repeated or glued to its blurb, photo
  captions and copyright lines, runs of short menu lines at the top and bottom of the page;
- a release starts at a dateline paragraph ("Rome, 30 July 2019 – ...", "Geneva – ..."); the
  paragraph just before it is its headline when it reads like one, unless the dateline is a date
  alone on its line with a headline under it;
- a page without datelines is one release; its first block is the headline if it reads like one.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from pressfeed.dates import infer_years, parse_dateline
from pressfeed.identity import release_id
from pressfeed.languages import CAPITALS, Language, alternation, built_from_languages, is_capital
from pressfeed.markup import blocks_for, citable_url
from pressfeed.models import Block, DateKind, Dateline, Release
from pressfeed.webpage import WebPage, read_webpage

HTML_SUFFIXES = (".html", ".htm")
_NO_DATELINE = Dateline(place=None, date=None, year_stated=False, end=0)

_PUNCT_ONLY = re.compile(r"^[\W_]+$")
_BREADCRUMB = re.compile(r"^[^.!?]{1,40}(?:\s(?:/|>|»|›|\|)\s[^.!?]{1,40}){1,5}$")
_BULLET = re.compile(r"^[-•*·–]\s+\S")
_SENTENCE_END = re.compile(r"[.!?…][\"'”’»)\]]*$")
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_PHONE = re.compile(r"\+?\d[\d ()./-]{7,}\d")
_FIRST_SENTENCE = re.compile(rf"^(.+?[.!?])(?=\s+[{CAPITALS}“\"‘'(]|$)")

_MENU_WORDS = 4
_GLUED_LABEL_WORDS = 6
_HEADLINE_WORDS = 35
_PROSE_WORDS = 12
_DERIVED_TITLE_WORDS = 12
_ANY_TODAY = dt.date(dt.MAXYEAR - 1, 12, 31)  # accepts any printed year, to tell datelines apart


@dataclass(frozen=True)
class _Words:
    """The patterns of the registered languages' words."""

    contact_intro: re.Pattern[str]
    read_more: re.Pattern[str]
    caption: _Caption
    source_line: re.Pattern[str]


def _words_of(languages: tuple[Language, ...]) -> _Words:
    return _Words(
        _contact_intro(languages),
        _read_more(languages),
        _caption(languages),
        _source_line(languages),
    )


def _source_line(languages: Sequence[Language]) -> re.Pattern[str]:
    """A line giving the original page: "Source: https://...", its address as group 1."""
    labels = alternation(w for language in languages for w in language.source_labels)
    return re.compile(rf"(?:{labels})\s*:\s*(\S+)", re.IGNORECASE)


@dataclass(frozen=True)
class _Caption:
    """A photo caption or credit, or a copyright line, anywhere in a paragraph."""

    anywhere: re.Pattern[str]  # "©", "(c) 2020", "All rights reserved"
    labelled: re.Pattern[str]  # "Photo: ...", "... Credit: Jane Doe"; only with a colon

    def search(self, text: str) -> bool:
        # Most paragraphs have no colon: the labels are not looked for at each of their words.
        return bool(self.anywhere.search(text)) or (
            ":" in text and bool(self.labelled.search(text))
        )


def _caption(languages: Sequence[Language]) -> _Caption:
    labels = alternation((w for lang in languages for w in lang.caption_labels), space=r"\s*")
    credits = alternation(w for language in languages for w in language.credit_labels)
    rights = alternation(w for language in languages for w in language.rights_reserved)
    return _Caption(
        re.compile(rf"©|\(c\)\s*\d{{4}}|{rights}", re.IGNORECASE),
        re.compile(rf"^(?:{labels})\s*:|\b(?:{credits})\s*:\s*[^.]{{2,60}}$", re.IGNORECASE),
    )


def _contact_intro(languages: Sequence[Language]) -> re.Pattern[str]:
    headings = alternation(h for language in languages for h in language.contact_headings)
    labels = alternation(w for language in languages for w in language.contact_labels)
    return re.compile(rf"^(?:{headings}|(?:{labels})\s*(?::|$))", re.IGNORECASE)


def _read_more(languages: Sequence[Language]) -> re.Pattern[str]:
    """A link after a paragraph's last sentence: "... said. Read the full story »"."""
    links = alternation(w for language in languages for w in language.read_more)
    ends = alternation(w for language in languages for w in language.read_more_ends)
    return re.compile(rf"(?<=[.!?”\"'])\s+(?:{links})(?:\s+(?:{ends}))?[\s.…»›→>]*$", re.IGNORECASE)


_words = built_from_languages(_words_of)


@dataclass(frozen=True)
class _Start:
    """Where one release begins: its dateline block and its headline block, if any."""

    dateline_at: int
    headline_at: int | None
    dateline: Dateline


def extract_text(
    text: str, suffix: str, *, source: str, file_date: dt.date, today: dt.date
) -> list[Release]:
    """The releases in a file's decoded text; `suffix` names its kind (".txt", ".md", ".html")."""
    if suffix in HTML_SUFFIXES:
        return extract_webpage(text, source=source, file_date=file_date, today=today)
    blocks = blocks_for(text, suffix)
    return extract_releases(blocks, source=source, file_date=file_date, today=today)


def extract_webpage(text: str, *, source: str, file_date: dt.date, today: dt.date) -> list[Release]:
    """The releases of an HTML page: its article, or each release of a listing page."""
    page = read_webpage(text, today=today)
    if page is None:
        return []
    if not page.article:
        listed = extract_releases(page.blocks, source=source, file_date=file_date, today=today)
        if is_listing(listed, page):
            # The page's address is the listing's, not a release's: only its publisher holds.
            return [replace(r, organisation=r.organisation or page.site_name) for r in listed]
    article = _article(page, source=source, file_date=file_date, today=today)
    return [article] if article else []


def is_listing(releases: Sequence[Release], page: WebPage) -> bool:
    """A newsroom page: several releases, each with its own printed headline and date, that
    make up the page's text; not one article beside a list of other news."""
    headed = [r for r in releases if not r.title_derived and not r.date_inferred]
    if len(headed) < 2 or any(r.title == page.headline for r in releases):
        return False
    listed = sum(len(p) for r in releases for p in r.paragraphs)
    return 2 * listed >= sum(len(p) for p in page.paragraphs)


def _article(page: WebPage, *, source: str, file_date: dt.date, today: dt.date) -> Release | None:
    body = [p for p in page.paragraphs if not _is_noise(p)]
    dateline = parse_dateline(body[0], today=today) if body else None
    date, kind = page.date, DateKind.STATED
    if date is None and dateline is not None and dateline.date and dateline.year_stated:
        date = dateline.date
    if date is None:
        date, kind = file_date, DateKind.FILE_TIME
    headline = page.headline
    if headline is None and body and reads_as_headline(body[0]) and len(body) > 1:
        headline, body = body[0], body[1:]
    release = _build(headline, body, dateline or _NO_DATELINE, date, kind, source, 0)
    if release is None:
        return None
    return replace(
        release,
        date_declared=page.date_source == "meta" and kind is DateKind.STATED,
        source_url=release.source_url or page.url,
        organisation=page.site_name,
    )


def extract_releases(
    blocks: Sequence[Block], *, source: str, file_date: dt.date, today: dt.date
) -> list[Release]:
    """The releases on one page, in page order; `file_date` stands in for missing dates."""
    story = strip_chrome(blocks)
    datelines = [parse_dateline(b.text, today=today) for b in story]
    starts = find_starts(story, datelines)
    if not starts:
        return _single_release(story, source=source, file_date=file_date)
    spans = _spans(starts, len(story))
    dates = infer_years([_page_date(s.dateline) for s in starts], reference=file_date)
    releases = _story_before(story, starts[0], source=source, file_date=file_date)
    for position, (start, (begin, end), date) in enumerate(zip(starts, spans, dates, strict=True)):
        headline = story[start.headline_at].text if start.headline_at is not None else None
        body = [b.text for b in story[begin:end]]
        kind = _date_kind(start.dateline, date)
        release = _build(headline, body, start.dateline, date or file_date, kind, source, position)
        if release:
            releases.append(release)
    return _renumber(releases)


# --- chrome -------------------------------------------------------------------------------------


def strip_chrome(blocks: Sequence[Block]) -> list[Block]:
    """The blocks that may belong to a story: site navigation and captions removed."""
    kept = [b for b in _without_repeated_labels(blocks) if not _is_noise(b.text)]
    begin = _menu_run_end(kept)
    end = _footer_start(kept)
    return kept[begin:end] if begin < end else []


def _is_noise(text: str) -> bool:
    return bool(_PUNCT_ONLY.match(text)) or _is_breadcrumb(text) or _words().caption.search(text)


def _is_breadcrumb(text: str) -> bool:
    # "Rome, 3 May 2019 | The agency said" has the shape of a trail but is a dateline.
    return bool(_BREADCRUMB.match(text)) and parse_dateline(text, today=_ANY_TODAY) is None


def _without_repeated_labels(blocks: Sequence[Block]) -> list[Block]:
    """Drop menu labels shown twice, or glued to their blurb ("Our Work" / "Our WorkAs ...")."""
    dropped: set[int] = set()
    for i in range(len(blocks) - 1):
        label, following = blocks[i].text, blocks[i + 1].text
        if _is_label(label) and _repeats(label, following):
            dropped.update((i, i + 1))
    return [b for i, b in enumerate(blocks) if i not in dropped]


def _repeats(label: str, following: str) -> bool:
    """`following` is `label` again, or `label` glued to a blurb without a space."""
    head, rest = following[: len(label)], following[len(label) :]
    return head.casefold() == label.casefold() and not rest[:1].isspace()


def _is_label(text: str) -> bool:
    return len(text.split()) <= _GLUED_LABEL_WORDS and not _SENTENCE_END.search(text)


def _is_menu_item(block: Block) -> bool:
    text = block.text
    if _BULLET.match(text):
        return len(text.split()) <= _GLUED_LABEL_WORDS + 1
    short = len(text.split()) <= _MENU_WORDS and len(text) <= 40
    return short and not block.heading and not re.search(r"[.!?]$|\d{4}", text)


def _menu_run_end(blocks: Sequence[Block]) -> int:
    """Index of the first block after the top menu; a last short line before prose is kept."""
    end = 0
    while end < len(blocks) and _is_menu_item(blocks[end]):
        end += 1
    last = blocks[end - 1].text if end else ""
    if 0 < end < len(blocks) and not _BULLET.match(last) and reads_as_headline(last):
        # May be a short headline, unless the markup marks the next block as the headline.
        end -= 0 if blocks[end].heading else 1
    return end


def _footer_start(blocks: Sequence[Block]) -> int:
    """Index where a closing run of two or more short menu lines begins."""
    start = len(blocks)
    while start > 0 and _is_footer_item(blocks[start - 1]):
        start -= 1
    return start if len(blocks) - start >= 2 else len(blocks)


def _is_footer_item(block: Block) -> bool:
    if _EMAIL.search(block.text) or _PHONE.search(block.text):
        return False
    short_label = len(block.text.split()) <= 3 and block.text.endswith(":")
    return _is_menu_item(block) or short_label


# --- releases on the page -----------------------------------------------------------------------


def find_starts(story: Sequence[Block], datelines: Sequence[Dateline | None]) -> list[_Start]:
    """The dateline blocks that begin a release, each with its headline block if any."""
    starts: list[_Start] = []
    for i, dateline in enumerate(datelines):
        if dateline is None:
            continue
        floor = starts[-1].dateline_at if starts else -1
        headline = i - 1 if i - 1 > floor and _is_headline(story, datelines, i - 1) else None
        if _headline_below(story, datelines, i):
            headline = None  # a date printed above its headline: `_build` takes it from the body
        if dateline.date is not None or headline is not None or not starts:
            starts.append(_Start(i, headline, dateline))
    return starts


def _headline_below(story: Sequence[Block], datelines: Sequence[Dateline | None], i: int) -> bool:
    """A dateline alone on its line, then a line that reads as a headline, then story text."""
    dateline = datelines[i]
    alone = dateline is not None and dateline.end >= len(story[i].text)
    if not alone or i + 2 >= len(story) or datelines[i + 2] is not None:
        return False
    return reads_as_headline(story[i + 1].text) and not _is_contact(story[i + 1].text)


def _is_headline(story: Sequence[Block], datelines: Sequence[Dateline | None], i: int) -> bool:
    block = story[i]
    if datelines[i] is not None or _is_contact(block.text):
        return False
    return block.heading or reads_as_headline(block.text)


def reads_as_headline(text: str) -> bool:
    """Short, no closing full stop or colon, starts like a title."""
    words = len(text.split())
    if not 2 <= words <= _HEADLINE_WORDS or len(text) > 300:
        return False
    if text[-1] in ".:;," or text.endswith("..."):
        return False
    return is_capital(text[0]) or text[0].isdigit() or text[0] in "“\"‘'«¿¡"


def _spans(starts: Sequence[_Start], total: int) -> list[tuple[int, int]]:
    """For each start, the block range of its body: up to the next headline or dateline."""
    spans = []
    for k, start in enumerate(starts):
        if k + 1 < len(starts):
            following = starts[k + 1]
            end = (
                following.headline_at
                if following.headline_at is not None
                else following.dateline_at
            )
        else:
            end = total
        spans.append((start.dateline_at, end))
    return spans


def _page_date(dateline: Dateline) -> dt.date | tuple[int, int] | None:
    if dateline.date is None:
        return None
    if dateline.year_stated:
        return dateline.date
    return (dateline.date.month, dateline.date.day)


def _date_kind(dateline: Dateline, date: dt.date | None) -> DateKind:
    if date is None:
        return DateKind.FILE_TIME
    return DateKind.STATED if dateline.year_stated else DateKind.YEAR_INFERRED


_STORY_WORDS = 40  # a paragraph this long is story text, not a menu or a page's introduction


def _story_before(
    story: Sequence[Block], first: _Start, *, source: str, file_date: dt.date
) -> list[Release]:
    """Story text above the first dateline (a report that names no place until its notes) is
    a release of its own, not chrome to drop."""
    begin = first.headline_at if first.headline_at is not None else first.dateline_at
    before = story[:begin]
    if not any(len(b.text.split()) >= _STORY_WORDS for b in before):
        return []
    return _single_release(before, source=source, file_date=file_date)


def _single_release(story: Sequence[Block], *, source: str, file_date: dt.date) -> list[Release]:
    """A page without datelines: one release, headed by its first block if that is a headline."""
    texts = [b.text for b in story]
    headline = None
    if len(story) > 1 and (story[0].heading or reads_as_headline(texts[0])):
        headline, texts = texts[0], texts[1:]
    release = _build(headline, texts, _NO_DATELINE, file_date, DateKind.FILE_TIME, source, 0)
    return [release] if release else []


# --- one release --------------------------------------------------------------------------------


def _build(
    headline: str | None,
    body: list[str],
    dateline: Dateline,
    date: dt.date,
    kind: DateKind,
    source: str,
    position: int,
) -> Release | None:
    read_more = _words().read_more
    body = [read_more.sub("", text) for text in body]
    date_alone = bool(body) and dateline.end >= len(body[0])
    # A date alone on its line, and the headline printed under it.
    if date_alone and headline is None and len(body) > 2 and reads_as_headline(body[1]):
        headline, body = body[1], [body[0], *body[2:]]
    body, source_url = _take_source_line(body)
    paragraphs, contacts = split_contacts(body)
    if headline is None and not paragraphs:
        return None
    title = headline or derive_title(paragraphs, dateline)
    if not title:
        return None
    stated = date if kind is not DateKind.FILE_TIME else None
    return Release(
        id=release_id(title, stated),
        title=title,
        title_derived=headline is None,
        date=date,
        date_kind=kind,
        place=dateline.place,
        paragraphs=tuple(p for p in paragraphs if p),
        contacts=tuple(contacts),
        source=source,
        position=position,
        source_url=source_url,
    )


def _take_source_line(body: Sequence[str]) -> tuple[list[str], str | None]:
    """The body without the line that gives the original page ("Source: https://..."), and
    that page's address. A bare address is no source: contact blocks end with social links."""
    for i, text in enumerate(body):
        label = _words().source_line.fullmatch(text.strip())
        url = citable_url(label.group(1)) if label else None
        if url:
            return [*body[:i], *body[i + 1 :]], url
    return list(body), None


def split_contacts(body: Sequence[str]) -> tuple[list[str], list[str]]:
    """The body without its closing contact block, and that block."""
    for i in range(1, len(body)):
        if _words().contact_intro.match(body[i]):
            return list(body[:i]), list(body[i:])
    i = len(body)
    while i > 1 and _is_contact(body[i - 1]) and len(body[i - 1].split()) <= 30:
        i -= 1
    return list(body[:i]), list(body[i:])


def _is_contact(text: str) -> bool:
    return bool(_EMAIL.search(text) or (_PHONE.search(text) and "tel" in text.casefold()))


def derive_title(paragraphs: Sequence[str], dateline: Dateline) -> str:
    """A title for a release printed without one: its first sentence, cut to a dozen words."""
    first = next((p for p in paragraphs if p), "")
    text = first[dateline.end :].strip(" –—-:|") or first
    if not text and len(paragraphs) > 1:
        text = paragraphs[1]
    match = _FIRST_SENTENCE.match(text)
    sentence = (match.group(1) if match else text).rstrip(".")
    words = sentence.split()
    if len(words) > _DERIVED_TITLE_WORDS + 2:
        sentence = " ".join(words[:_DERIVED_TITLE_WORDS]).rstrip(",;:") + "…"
    return sentence[:1].upper() + sentence[1:]


def _renumber(releases: list[Release]) -> list[Release]:
    """Positions count the releases kept, from 0."""
    return [r if r.position == i else replace(r, position=i) for i, r in enumerate(releases)]
