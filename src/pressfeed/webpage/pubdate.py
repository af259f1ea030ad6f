"""Dates as pages print them, and the one date that is the page's publication date.

Printed forms: ISO 8601, numeric day-month-year in the order of the page's language (`27.01.2020`
is always day first; `01/02/2020` is month first on US English pages, day first elsewhere, unless
the page's metadata date settles it), and month names in English, French, Italian, Spanish,
German, Portuguese, Dutch and the Nordic languages.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

from pressfeed.languages import (
    CAPITALS,
    Language,
    alternation,
    built_from_languages,
    fold,
    month_names,
)
from pressfeed.webpage.metadata import Metadata
from pressfeed.webpage.timezone import instant, local_day, printed_offset
from pressfeed.webpage.tree import Chunk, Element, TimeTag

_T = TypeVar("_T")
_ORDINAL_MARKS = ("º", "°", "ª")


@dataclass(frozen=True)
class _Patterns:
    """The printed dates of the registered languages."""

    months: dict[str, int]  # a month's name, folded -> its number
    dates: re.Pattern[str]
    update_words: re.Pattern[str]  # a label just before a date
    published_words: re.Pattern[str]


def _patterns_of(languages: tuple[Language, ...]) -> _Patterns:
    names = month_names(languages)
    months = {fold(n): m for m, written in names.items() for n in written}
    words = sorted(
        {w for written in names.values() for n in written for w in (n, fold(n))},
        key=lambda w: (-len(w), w),
    )
    month = r"(?:" + "|".join(re.escape(w.rstrip(".")) for w in words) + r")(?![^\W\d_])\.?"
    of = alternation((w for lang in languages for w in lang.month_joiners), space=r"\ ")
    suffixes = [*(w for language in languages for w in language.ordinals), *_ORDINAL_MARKS]
    ordinal = rf"(?:{alternation(suffixes)})?\.?"
    year_of = alternation((w for lang in languages for w in lang.year_joiners), space=r"\ ")
    dates = re.compile(
        rf"""
          (?<![\d.])(?P<iy>(?:19|20)\d\d)(?P<is>[-/.])(?P<im>[01]?\d)(?P=is)(?P<id>[0-3]?\d)(?!\d)
        | (?<![\d.,])(?P<na>[0-3]?\d)\s?(?P<ns>[./-])\s?(?P<nb>[0-3]?\d)\s?(?P=ns)\s?
          (?P<ny>(?:19|20)\d\d|\d\d)(?![\d])
        | (?<![\d.])(?P<dd>[0-3]?\d){ordinal}(?:\s*|-)(?:(?:{of})\s+)?(?P<dm>{month})(?:,?\s*|-)
          (?:(?:{year_of})\s+)?(?P<dy>(?:19|20)\d\d)(?!\d)
        | (?P<mm>{month})\s*(?P<md>[0-3]?\d)(?:st|nd|rd|th)?(?!\d),?\s+(?P<my>(?:19|20)\d\d)(?!\d)
        | (?P<cy>(?:19|20)\d\d)\s*年\s*(?P<cm>[01]?\d)\s*月\s*(?P<cd>[0-3]?\d)\s*日
        """,
        re.VERBOSE | re.IGNORECASE,
    )
    return _Patterns(months, dates, *_labels(languages))


def _labels(languages: Sequence[Language]) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """The words that label a date as an update, and as the publication date."""
    updates = alternation((w for lang in languages for w in lang.update_words), space=r"\s+")
    published = alternation(w for language in languages for w in language.published_words)
    return (
        re.compile(rf"\b(?:{updates})\W{{0,3}}(?:\w+\W+){{0,3}}$", re.IGNORECASE),
        re.compile(rf"\b(?:{published})\b\W{{0,3}}(?:\w+\W+){{0,3}}$", re.IGNORECASE),
    )


_patterns = built_from_languages(_patterns_of)
_ISO_START = re.compile(r"\s*((?:19|20)\d\d)-(\d\d)-(\d\d)")
# ISO 8601's basic format, without separators: "20180619T055000+0900", "20141120".
_ISO_BASIC = re.compile(r"\s*((?:19|20)\d\d)([01]\d)([0-3]\d)(?:T\d|\s*$)")
FIRST_YEAR = 1995  # no saved web page is older


@dataclass(frozen=True)
class Found:
    """A date printed in a text, and where."""

    date: dt.date
    start: int
    end: int
    numeric: bool  # written in digits only, where the day-month order was a guess


def find_dates(
    text: str,
    *,
    day_first: bool,
    today: dt.date,
    near: dt.date | None = None,
    starting_within: int | None = None,
) -> Iterator[Found]:
    """Every plausible full date printed in `text`, in order; with `starting_within`, only
    those that start at or before that index."""
    if not _TWO_DIGITS.search(text):
        return  # every printed date has a year of two digits or more
    for match in _matches(_patterns().dates, text, starting_within):
        date = _match_date(match, day_first, today, near)
        if date is not None:
            numeric = match["na"] is not None
            yield Found(date, match.start(), match.end(), numeric)


_TWO_DIGITS = re.compile(r"\d\d")


def _matches(
    pattern: re.Pattern[str], text: str, last_start: int | None
) -> Iterator[re.Match[str]]:
    """`pattern.finditer(text)`, stopped at the matches that start after `last_start`: the
    pattern is tried at those first positions only, not searched for through a long text."""
    if last_start is None:
        yield from pattern.finditer(text)
        return
    position = 0
    while position <= min(last_start, len(text)):
        match = pattern.match(text, position)  # sees the text before `position`, as search does
        if match is None:
            position += 1
        else:
            yield match
            position = max(match.end(), position + 1)  # a date is never an empty match


def _match_date(
    match: re.Match[str], day_first: bool, today: dt.date, near: dt.date | None
) -> dt.date | None:
    if match["iy"]:
        return _date(int(match["iy"]), int(match["im"]), int(match["id"]), today)
    if match["na"]:
        return _numeric(match, day_first, today, near)
    months = _patterns().months
    if match["dd"]:
        return _date(int(match["dy"]), months[fold(match["dm"])], int(match["dd"]), today)
    if match["mm"]:
        return _date(int(match["my"]), months[fold(match["mm"])], int(match["md"]), today)
    return _date(int(match["cy"]), int(match["cm"]), int(match["cd"]), today)


def _numeric(
    match: re.Match[str], day_first: bool, today: dt.date, near: dt.date | None
) -> dt.date | None:
    """`a.b.y`, `a/b/y` or `a-b-y`; dots put the day first except where the page writes the
    month first (US sites print "12.29.14")."""
    a, b, year = int(match["na"]), int(match["nb"]), _full_year(match["ny"], today)
    day_month = _date(year, b, a, today)
    month_day = _date(year, a, b, today)
    if match["ns"] == "." and day_first:
        return day_month
    if day_month is None or month_day is None:
        return day_month or month_day
    if near is not None:
        # The metadata's date decides an order the language leaves open.
        return min((day_month, month_day), key=lambda d: abs((d - near).days))
    return day_month if day_first else month_day


def _full_year(digits: str, today: dt.date) -> int:
    year = int(digits)
    if len(digits) == 4:
        return year
    return 2000 + year if 2000 + year <= today.year + 1 else 1900 + year


def _date(year: int, month: int, day: int, today: dt.date) -> dt.date | None:
    if not FIRST_YEAR <= year <= today.year + 1:
        return None
    try:
        date = dt.date(year, month, day)
    except ValueError:
        return None
    return date if date <= today + dt.timedelta(days=2) else None


def value_date(value: str, *, day_first: bool, today: dt.date) -> dt.date | None:
    """The date of a metadata value: ISO 8601 as written (the page's own day), else printed."""
    iso = _ISO_START.match(value) or _ISO_BASIC.match(value)
    if iso:
        return _date(int(iso[1]), int(iso[2]), int(iso[3]), today)
    if value.strip().isdigit() and len(value.strip()) >= 10:
        return _epoch(int(value.strip()[:10]), today)
    return next((f.date for f in find_dates(value, day_first=day_first, today=today)), None)


def _epoch(seconds: int, today: dt.date) -> dt.date | None:
    date = dt.datetime.fromtimestamp(seconds, dt.UTC).date()
    return date if date.year >= FIRST_YEAR and date <= today else None


# English US and a few other locales write the month first.
_MONTH_FIRST_REGIONS = frozenset({"us", "ph", "fm", "pw", "mh"})
_DAY_FIRST_ENGLISH = frozenset({"gb", "uk", "au", "nz", "ie", "in", "za", "sg", "ng", "ke", "pk"})
_DAY_FIRST_DOMAINS = re.compile(
    r"\.(?:uk|au|nz|ie|in|za|sg|de|fr|it|es|at|ch|nl|be|fi|no|se|dk|pt|br|ar|mx|cz)(?:[/:]|$)"
)


def day_comes_first(language: str, url: str = "") -> bool:
    """Whether the page writes numeric dates day first, from its language, locale and address."""
    code = language.strip().lower().replace("_", "-")
    base, _, region = code.partition("-")
    if base and base != "en":
        return True
    if region:
        return region[:2] not in _MONTH_FIRST_REGIONS
    host = url.split("//", 1)[-1].split("/", 1)[0].lower()
    return bool(host and _DAY_FIRST_DOMAINS.search(host + "/"))


def is_update(text: str, found: Found) -> bool:
    """The date is labelled as an update or modification ("Updated 3 May 2020")."""
    before = _label_before(text, found)
    patterns = _patterns()
    updated = patterns.update_words.search(before)
    return bool(updated) and not patterns.published_words.search(before[-12:])


def is_published(text: str, found: Found) -> bool:
    """The date is labelled as the publication date ("Published on 3 May 2020")."""
    return bool(_patterns().published_words.search(_label_before(text, found)))


# A clock time and its zone between a label and its date ("Updated 9:22 PM EST, Tue Nov 7").
_CLOCK_TIME = re.compile(
    r"\b\d{1,2}[:.h]\d{2}(?::\d{2})?(?:\s*[ap]\.?\s?m\b\.?)?(?:\s+[A-Z]{2,5}\b)?", re.IGNORECASE
)


def _label_before(text: str, found: Found) -> str:
    """The 40 characters before a date where its label is, clock times left out."""
    return _CLOCK_TIME.sub(" ", text[max(0, found.start - 70) : found.start])[-40:]


def closest(dates: Sequence[dt.date], to: dt.date) -> dt.date:
    return min(dates, key=lambda d: abs((d - to).days))


_WINDOW_AFTER = 12  # chunks after the headline where a byline or dateline may be
_WINDOW_BEFORE = 3
_LONG = 150  # a paragraph this long is story text: only a dateline at its start counts
_DATELINE_SPAN = 40
_LOWER_WORD = re.compile(rf"(?:^|\s)[^\W\d_{CAPITALS}]*[a-z]\w*")


DATE_GLUE = " |·•–—-:,()[]"


def at_edge(text: str, found: Found) -> bool:
    """The date opens or closes the text, punctuation aside."""
    return not text[: found.start].strip(DATE_GLUE) or not text[found.end :].strip(DATE_GLUE)


_CAPTION_TAGS = frozenset({"figure", "figcaption"})
_CAPTION_NAMES = re.compile(r"(?<![^\W_])captions?(?![^\W_])", re.IGNORECASE)
_TEASER_NAMES = re.compile(
    r"(?<![^\W_])(?:related|recommended|recommendations|trending|popular|most-?read|"
    r"more-?stories|teasers?|outbrain|taboola)(?![^\W_])",
    re.IGNORECASE,
)
_BOX_LEVELS = 4  # the chunk's element and the elements just around it


def _is_caption(chunk: Chunk) -> bool:
    """A picture's caption: its dates tell when the picture was taken."""
    return any(e.tag in _CAPTION_TAGS or _CAPTION_NAMES.search(_names(e)) for e in _box(chunk))


def _is_teaser(chunk: Chunk) -> bool:
    """A line of a related-stories box: its date is another article's."""
    return any(_TEASER_NAMES.search(_names(e)) for e in _box(chunk))


def _box(chunk: Chunk) -> list[Element]:
    return [chunk.element, *itertools.islice(chunk.element.iterancestors(), _BOX_LEVELS - 1)]


def _names(element: Element) -> str:
    return f"{element.get('class') or ''} {element.get('id') or ''}"


def _starts_dateline(text: str, found: Found) -> bool:
    """The date opens the paragraph, after a place name at most ("BERLIN, Nov. 18, 2019 --")."""
    before = text[: found.start]
    return found.start <= _DATELINE_SPAN and not _LOWER_WORD.search(before)


def publication_date(
    chunks: Sequence[Chunk],
    times: Sequence[TimeTag],
    meta: Metadata,
    headline_at: int | None,
    today: dt.date,
) -> tuple[dt.date, str, int | None] | None:
    """The publication date, "page" or "meta" for where it was read, and the chunk printing it.

    A date printed next to the headline wins: metadata is often in UTC, a day after the
    page's own date, or an update time.
    """
    day_first = day_comes_first(meta.language, meta.url)
    declared = metadata_date(meta, times, headline_at, day_first=day_first, today=today)
    printed = printed_date(chunks, headline_at, day_first=day_first, today=today, near=declared)
    if printed is not None and not _doubtful(printed, headline_at, declared, meta.url):
        return printed[0], "page", printed[1]
    if declared is not None:
        shown = _shown_by_time_element(chunks, times, declared, day_first=day_first, today=today)
        if shown is not None:
            return shown[0], "page", shown[1]
        return _in_page_zone(declared, meta, chunks, times, day_first, today), "meta", None
    # No publication date anywhere: a date in the title, then the last update, printed or not.
    titled = _first(
        value_date(t, day_first=day_first, today=today) for t in [meta.title, *meta.titles]
    )
    if titled is not None:
        return titled, "meta", None
    updated = printed_date(
        chunks, headline_at, day_first=day_first, today=today, near=None, updates=True
    )
    if updated is not None:
        return updated[0], "page", updated[1]
    modified = _first(value_date(v, day_first=day_first, today=today) for v in meta.modified)
    return (modified, "meta", None) if modified is not None else None


def _doubtful(
    printed: tuple[dt.date, int], headline_at: int | None, declared: dt.date | None, url: str
) -> bool:
    """A date above the headline that the metadata contradicts: a header's "today", most
    likely, not the byline; unless the page's address dates the story to the printed month
    and not to the declared one (the metadata is then what is wrong)."""
    above = headline_at is not None and printed[1] < headline_at
    if not above or declared is None or abs((printed[0] - declared).days) <= _MAX_SKEW:
        return False
    month = address_month(url)
    return (
        month is None
        or month != (printed[0].year, printed[0].month)
        or month
        == (
            declared.year,
            declared.month,
        )
    )


_ADDRESS_MONTH = re.compile(r"/((?:19|20)\d\d)[/-]([01]?\d)(?:[/-][0-3]?\d)?/")


def address_month(url: str) -> tuple[int, int] | None:
    """The year and month a page's address files it under ("/2014/05/", "/2014-05-23/")."""
    path = url.split("//", 1)[-1].partition("/")[2]
    match = _ADDRESS_MONTH.search("/" + path)
    if match is None or not 1 <= int(match[2]) <= 12:
        return None
    return int(match[1]), int(match[2])


def _in_page_zone(
    declared: dt.date,
    meta: Metadata,
    chunks: Sequence[Chunk],
    times: Sequence[TimeTag],
    day_first: bool,
    today: dt.date,
) -> dt.date:
    """The declared date read in the page's own time zone, where a `<time>` element shows it."""
    values = [v for _, v in meta.dates] + [t.value for t in times]
    moment = _first(
        instant(v) for v in values if value_date(v, day_first=day_first, today=today) == declared
    )
    offset = _first(_time_element_offset(chunks, t, day_first, today) for t in times)
    return declared if moment is None or offset is None else local_day(moment, offset)


def _time_element_offset(
    chunks: Sequence[Chunk], tag: TimeTag, day_first: bool, today: dt.date
) -> dt.timedelta | None:
    moment = instant(tag.value)
    if moment is None:
        return None
    text = chunks[tag.chunk].text
    for found in find_dates(text, day_first=day_first, today=today, near=moment.date()):
        if abs((found.date - moment.date()).days) <= 1:
            return printed_offset(moment, text, found.date)
    return None


def _shown_by_time_element(
    chunks: Sequence[Chunk],
    times: Sequence[TimeTag],
    declared: dt.date,
    *,
    day_first: bool,
    today: dt.date,
) -> tuple[dt.date, int] | None:
    """The date a `<time>` element prints for the declared instant: the page's own day where
    the declared value is in UTC ("2014-12-18T01:01Z" shown as "December 17, 2014 8:01 PM")."""
    for tag in times:
        value = value_date(tag.value, day_first=day_first, today=today)
        if value is None or abs((value - declared).days) > 1:
            continue
        chunk = chunks[tag.chunk]
        date = _chunk_date(chunk, day_first=day_first, today=today, near=declared, updates=False)
        if date is not None and abs((date - declared).days) <= 1:
            return date, tag.chunk
    return None


_MAX_SKEW = 2  # days between a page's printed date and its metadata's (time zones, late edits)


def _first(values: Iterable[_T | None]) -> _T | None:
    return next((v for v in values if v is not None), None)


def metadata_date(
    meta: Metadata,
    times: Sequence[TimeTag],
    headline_at: int | None,
    *,
    day_first: bool,
    today: dt.date,
) -> dt.date | None:
    """The publication date the page declares: meta tags and JSON-LD, else a `<time>` value."""
    for _, value in meta.dates:
        date = value_date(value, day_first=day_first, today=today)
        if date is not None:
            return date
    anchor = headline_at or 0
    for tag in sorted(times, key=lambda t: (t.chunk < anchor, abs(t.chunk - anchor))):
        date = value_date(tag.value, day_first=day_first, today=today)
        if date is not None:
            return date
    return None


def printed_date(
    chunks: Sequence[Chunk],
    headline_at: int | None,
    *,
    day_first: bool,
    today: dt.date,
    near: dt.date | None,
    updates: bool = False,
) -> tuple[dt.date, int] | None:
    """The first publication date printed after the headline (else just before it); with
    `updates`, an update date counts too."""
    start = 0 if headline_at is None else headline_at
    after = _window_after(chunks, start + (headline_at is not None))
    before = range(start - 1, max(-1, start - 1 - _WINDOW_BEFORE), -1) if headline_at else ()
    own = (headline_at,) if headline_at is not None else ()
    for index in (*after, *own, *before):
        date = _chunk_date(
            chunks[index],
            day_first=day_first,
            today=today,
            near=near,
            updates=updates,
            edge_only=index == headline_at,
        )
        if date is not None:
            return date, index
    return None


def _window_after(chunks: Sequence[Chunk], start: int) -> list[int]:
    """The chunks after the headline up to the story's second long paragraph; links (tags,
    share buttons) between the headline and the byline do not use the window up."""
    window: list[int] = []
    long_paragraphs = lines = 0
    for index in range(start, min(len(chunks), start + _WINDOW_AFTER * 3)):
        window.append(index)
        chunk = chunks[index]
        long_paragraphs += len(chunk.text) >= _LONG
        lines += not _is_link(chunk)
        if long_paragraphs >= 2 or lines >= _WINDOW_AFTER:
            break
    return window


def _is_link(chunk: Chunk) -> bool:
    return chunk.link_chars > 0.8 * len(chunk.text)


def _chunk_date(
    chunk: Chunk,
    *,
    day_first: bool,
    today: dt.date,
    near: dt.date | None,
    updates: bool,
    edge_only: bool = False,
) -> dt.date | None:
    """The publication date a line prints; in a headline only one at its start or end counts,
    as a date inside it is what the story is about."""
    text = chunk.text
    if _is_link(chunk):
        return None  # a teaser: a link to another article
    if _is_caption(chunk) or _is_teaser(chunk):
        return None
    story = len(text) >= _LONG
    within = _DATELINE_SPAN if story else None
    found = [
        f
        for f in find_dates(
            text, day_first=day_first, today=today, near=near, starting_within=within
        )
        if (updates or not is_update(text, f))
        and (not story or _starts_dateline(text, f))
        and (not edge_only or at_edge(text, f))
    ]
    labelled = [f for f in found if is_published(text, f)]
    chosen = labelled or found
    return chosen[0].date if chosen else None
