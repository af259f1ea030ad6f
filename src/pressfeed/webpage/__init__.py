"""A saved web page read as a browser shows it: headline, publication date and main text."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from pressfeed.languages import Language, alternation, built_from_languages
from pressfeed.markup import citable_url
from pressfeed.models import Block
from pressfeed.webpage.headline import find_headline, is_not_a_headline
from pressfeed.webpage.maintext import main_text
from pressfeed.webpage.metadata import Metadata, add_item_date, read_metadata
from pressfeed.webpage.pubdate import (
    DATE_GLUE,
    at_edge,
    day_comes_first,
    find_dates,
    publication_date,
)
from pressfeed.webpage.tree import Chunk, parse_page, read_chunks

_LINE_WORDS = 12
_DATE_LINE_CHARS = 150
_SENTENCE_END = re.compile(r"[.!?…][\"'”’»)]*$")


@dataclass(frozen=True)
class WebPage:
    """What a reader sees of a page's article."""

    headline: str | None
    date: dt.date | None
    date_source: str | None  # "page" (printed) or "meta" (declared only); None without a date
    paragraphs: tuple[str, ...]  # the main text
    blocks: tuple[Block, ...]  # every visible paragraph outside site chrome, in page order
    article: bool  # the page declares itself one article (og:type, JSON-LD)
    url: str | None = None  # the page's own address (og:url, canonical link), http(s) only
    site_name: str | None = None  # og:site_name, the JSON-LD publisher


def read_webpage(text: str, *, today: dt.date) -> WebPage | None:
    """The article of an HTML page, or None when the page has no elements at all."""
    root = parse_page(text)
    if root is None:
        return None
    meta = read_metadata(root)  # first: reading the text drops the head and the scripts
    page = read_chunks(root)
    for itemprop, value in page.item_dates:
        add_item_date(meta, itemprop, value)
    chunks = page.chunks
    headline = find_headline(chunks, meta)
    headline_at = headline.chunk if headline else None
    dated = publication_date(chunks, page.times, meta, headline_at, today)
    skip = _around_headline(chunks, headline_at, dated[2] if dated else None)
    body = main_text(chunks, skip)
    return WebPage(
        headline=without_dates(headline.text, meta, today) if headline else None,
        date=dated[0] if dated else None,
        date_source=dated[1] if dated else None,
        paragraphs=tuple(chunks[i].text for i in body),
        blocks=tuple(_block(c) for c in chunks if c.chrome_depth < 0),
        article=meta.article,
        url=citable_url(meta.url),
        site_name=meta.site_names[0] if meta.site_names else None,
    )


def without_dates(headline: str, meta: Metadata, today: dt.date) -> str:
    """The headline without a date printed at its start or end ("27.01.2020 | Clinics open")."""
    day_first = day_comes_first(meta.language, meta.url)
    for found in find_dates(headline, day_first=day_first, today=today):
        rest = (headline[: found.start] + " " + headline[found.end :]).strip(DATE_GLUE)
        if at_edge(headline, found) and len(rest.split()) >= 3:
            return " ".join(rest.split())
    return headline


def _around_headline(chunks: list[Chunk], headline_at: int | None, date_at: int | None) -> set[int]:
    """The headline and the short lines printed with it (kicker, byline, date, share bar)."""
    skip = set()
    if date_at is not None and _is_date_line(chunks[date_at].text):
        skip.add(date_at)
    if headline_at is None:
        return skip
    skip.add(headline_at)
    skip.update(i for i in range(max(0, headline_at - 3), headline_at) if _is_line(chunks[i].text))
    if date_at is not None and date_at in skip:
        skip.update(i for i in range(headline_at, date_at) if _is_line(chunks[i].text))
    for index in range(headline_at + 1, min(len(chunks), headline_at + 6)):
        if is_not_a_headline(chunks[index].text) or _byline_line().search(chunks[index].text):
            skip.add(index)
    return skip


def _is_date_line(text: str) -> bool:
    """The line the date was read from, when it is a byline or a date line, not a dateline
    opening the story ("Geneva, 4 June 2024 – The agency said ...")."""
    return _is_line(text) or (len(text) < _DATE_LINE_CHARS and not _SENTENCE_END.search(text))


def _is_line(text: str) -> bool:
    """A line of a few words: a label, byline or date rather than a sentence of the story."""
    words = len(text.split())
    return words <= 5 or (words <= _LINE_WORDS and not _SENTENCE_END.search(text))


def _byline_line_of(languages: tuple[Language, ...]) -> re.Pattern[str]:
    """A short line opening with a byline word: "By Jane Doe and John Roe"."""
    words = alternation(w for language in languages for w in language.bylines)
    return re.compile(rf"^(?:{words})\s+\S.{{0,80}}$", re.IGNORECASE)


_byline_line = built_from_languages(_byline_line_of)


def _block(chunk: Chunk) -> Block:
    return Block(chunk.text, chunk.line, 1, heading=chunk.heading in (1, 2, 3))
