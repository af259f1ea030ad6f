"""Dateline parsing and year inference."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pressfeed.languages import (
    CAPITALS,
    NOTHING,
    Language,
    built_from_languages,
    dateline_languages,
    fold,
    month_names,
    weekday_names,
)
from pressfeed.models import Dateline

# Words of place names, not of the release's language: "Rio de Janeiro", "Dar es Salaam".
_CONNECTORS = ("de", "del", "da", "di", "es", "el", "al", "la", "le", "of", "au", "sur")


def _alternation(words: Iterable[str]) -> str:
    """A regex alternation of `words` and their unaccented forms, longest first."""
    variants = {form for word in words for form in (word, fold(word))}
    ordered = sorted(variants, key=lambda w: (-len(w), w))
    return "|".join(re.escape(w) for w in ordered) or NOTHING


# Written as escapes: these look alike but are different characters.
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"  # hyphen to minus sign
_LONG_DASHES = "\u2013\u2014"  # en and em dash
_APOSTROPHES = "'\u2019"
_OPENING_QUOTES = "\"'\u201c\u2018\u00ab\u201e"
_CLOSING_QUOTES = "\"'\u201d\u2019\u00bb"

_UPPER = f"[{CAPITALS}]"
_LETTER = r"[^\W\d_]"
_ORDINAL_MARKS = ("º", "°", "ª")
_DAY = r"(?<!\d)[0-3]?\d(?!\d)"
_YEAR = r"\d{4}(?!\d)"
_INNER = rf"[{_APOSTROPHES}.\-](?={_LETTER})"  # Cox's, U.S, Port-au-Prince
_LINK = rf"(?:,\s*|\s+)(?:(?:{'|'.join(_CONNECTORS)})\s+)*"


@dataclass(frozen=True)
class _Patterns:
    """The dateline patterns of the registered languages."""

    months: dict[str, int]  # a month's name, folded -> its number
    dated: re.Pattern[str]
    place_only: re.Pattern[str]


def _patterns_of(languages: tuple[Language, ...]) -> _Patterns:
    readable = dateline_languages(languages)
    names = month_names(readable)
    weekdays = weekday_names(readable)
    months = {fold(name): month for month, written in names.items() for name in written}
    blocked = _alternation([*weekdays, *_pooled(lang.never_places for lang in readable)])
    word = rf"(?!(?i:{blocked})(?!{_LETTER})){_UPPER}(?:{_LETTER}|{_INNER})*+\.?"
    group = rf"{word}(?:/{word})*+"
    written = [name for found in names.values() for name in found]
    dated = _dated(readable, group, _date(readable, written, weekdays))
    return _Patterns(months, dated, _place_only(group))


def _pooled(lists: Iterable[Sequence[str]]) -> list[str]:
    """The words of one field of every language."""
    return [word for words in lists for word in words]


def _date(languages: Sequence[Language], months: Sequence[str], weekdays: Sequence[str]) -> str:
    """A date as a dateline prints it: ISO, or a day and a month name, perhaps with a year."""
    month = rf"(?i:{_alternation(months)})\.?(?!{_LETTER})"
    weekday = rf"(?i:{_alternation(weekdays)})\.?,?\s+"
    article = rf"(?:(?i:{_alternation(_pooled(lang.date_articles for lang in languages))})\s+)"
    of = _alternation(_pooled(lang.month_joiners for lang in languages))
    year_of = _alternation(_pooled(lang.year_joiners for lang in languages))
    suffixes = [*_pooled(lang.ordinals for lang in languages), *_ORDINAL_MARKS]
    ordinal = rf"(?:{_alternation(suffixes)})?\.?"
    return rf"""
        (?P<iy>{_YEAR})-(?P<im>[01]?\d)-(?P<id>{_DAY})
      | {article}?(?:{weekday})?{article}?
        (?:
            (?P<dd>{_DAY}){ordinal}\s*(?:(?i:{of})\s+)?(?P<dm>{month})
            (?:,?\s+(?:(?i:{year_of})\s+)?(?P<dy>{_YEAR}))?
          | (?P<mm>{month})\s*(?P<md>{_DAY}){ordinal}(?:,?\s+(?P<my>{_YEAR}))?
        )
    """


def _dated(languages: Sequence[Language], group: str, date: str) -> re.Pattern[str]:
    """A dateline with a date: a label or a place, the date, then a separator or the end."""
    labels = _alternation(_pooled(lang.date_labels for lang in languages))
    label_ends = _alternation(_pooled(lang.date_label_ends for lang in languages))
    return re.compile(
        rf"""
        \s*
        (?:(?P<label>(?i:{labels}))(?:\s+(?i:{label_ends}))?\s*:?\s*
          | (?P<place>{group}(?:{_LINK}{group}){{0,4}}),?\s+
        )?
        (?:{date})
        (?:
            (?P<sep>,?\s*(?:--|[\-{_DASHES}|:])\s*)
          | (?P<close>\s*$)
          | (?P<bare>\s+)(?=[{CAPITALS}\d{_OPENING_QUOTES}])
        )
        """,
        re.VERBOSE,
    )


def _place_only(group: str) -> re.Pattern[str]:
    """A dateline of a place and a long dash (or a spaced hyphen), with text after it."""
    return re.compile(
        rf"\s*(?P<place>{group}(?:{_LINK}{group}){{0,2}})(?:\s*[{_LONG_DASHES}]\s*|\s+-\s+)(?=\S)"
    )


_patterns = built_from_languages(_patterns_of)
_TWELVE_WORDS = re.compile(r"(?:\S+\s+){11}\S")
_SENTENCE_END = re.compile(rf"[.!?][{_CLOSING_QUOTES})\]]*(?:\s|$)")
# A dated dateline has a digit early on; a place-only one has a dash early on.
_HINT = re.compile(rf"[0-9\-{_LONG_DASHES}]")
_HINT_SPAN = 160
FIRST_YEAR = 1900  # no press release printed a date before it


def parse_dateline(paragraph: str, *, today: dt.date) -> Dateline | None:
    """The dateline at the start of `paragraph`, or None when it has none."""
    if not paragraph[:1].isalnum() and not paragraph[:1].isspace():
        return None
    if _HINT.search(paragraph, 0, _HINT_SPAN) is None:
        return None
    match = _patterns().dated.match(paragraph)
    if match is not None:
        return _dated_dateline(match, today)
    return _place_only_dateline(paragraph)


def _dated_dateline(match: re.Match[str], today: dt.date) -> Dateline | None:
    """The dateline a `dated` match describes, or None if the match is not one."""
    parsed = _match_date(match, today)
    if parsed is None:
        return None
    if match["bare"] is not None and not (match["my"] and match["mm"]):
        return None  # without a separator only "April 25, 2016 Text" is safe
    if match["label"] is not None and match["close"] is None:
        return None
    date, year_stated = parsed
    end = len(match.string) if match["close"] is not None else match.end()
    return Dateline(place=match["place"], date=date, year_stated=year_stated, end=end)


def _match_date(match: re.Match[str], today: dt.date) -> tuple[dt.date, bool] | None:
    """The date and whether its year is stated, or None for an impossible date."""
    if match["iy"]:
        year, month, day = match["iy"], int(match["im"]), match["id"]
    elif match["dd"]:
        year, month, day = match["dy"], _patterns().months[fold(match["dm"])], match["dd"]
    else:
        year, month, day = match["my"], _patterns().months[fold(match["mm"])], match["md"]
    return _checked_date(int(year) if year else None, month, int(day), today)


def _checked_date(
    year: int | None, month: int, day: int, today: dt.date
) -> tuple[dt.date, bool] | None:
    """A valid, plausible date; a missing year becomes `today`'s as a placeholder."""
    if year is not None and not FIRST_YEAR <= year <= today.year + 1:
        return None
    stated = year is not None
    if year is None:
        # The caller replaces the year; 29 February needs a leap year to exist at all.
        year = _leap_year_on_or_before(today.year) if (month, day) == (2, 29) else today.year
    try:
        return dt.date(year, month, day), stated
    except ValueError:
        return None


def _place_only_dateline(paragraph: str) -> Dateline | None:
    """A dateline of a place and a dash, told from a headline by the story after it."""
    match = _patterns().place_only.match(paragraph)
    if match is None:
        return None
    story = paragraph[match.end() :]
    if _TWELVE_WORDS.match(story) is None or _SENTENCE_END.search(story) is None:
        return None
    return Dateline(place=match["place"], date=None, year_stated=False, end=match.end())


def infer_years(
    dates: Sequence[tuple[int, int] | dt.date | None], *, reference: dt.date
) -> list[dt.date | None]:
    """Give each (month, day) of a newest-first page the year its neighbours imply.

    A year the chain would push before FIRST_YEAR or more than a year past `reference` (and the
    newest stated date) is no year at all: that date is None."""
    stated = ((i, d) for i, d in enumerate(dates) if isinstance(d, dt.date))
    first, anchor = next(stated, (0, reference))
    last_year = max(reference.year, anchor.year) + 1
    return _fill_backward(dates[:first], anchor, last_year) + _fill_forward(dates[first:], anchor)


def _fill_forward(
    dates: Sequence[tuple[int, int] | dt.date | None], anchor: dt.date
) -> list[dt.date | None]:
    """Resolve each (month, day) against the nearest newer date before it."""
    result: list[dt.date | None] = []
    for item in dates:
        resolved = _on_or_before(*item, anchor) if isinstance(item, tuple) else item
        anchor = resolved or anchor
        result.append(resolved)
    return result


def _fill_backward(
    dates: Sequence[tuple[int, int] | dt.date | None], anchor: dt.date, last_year: int
) -> list[dt.date | None]:
    """Resolve each (month, day) against the nearest older date after it."""
    result: list[dt.date | None] = []
    for item in reversed(dates):
        resolved = _on_or_after(*item, anchor, last_year) if isinstance(item, tuple) else item
        anchor = resolved or anchor
        result.append(resolved)
    return result[::-1]


def _on_or_before(month: int, day: int, limit: dt.date) -> dt.date | None:
    """The latest date with this month and day that is not after `limit`, from FIRST_YEAR."""
    year = limit.year if (month, day) <= (limit.month, limit.day) else limit.year - 1
    if (month, day) == (2, 29):
        year = _leap_year_on_or_before(year)
    return dt.date(year, month, day) if year >= FIRST_YEAR else None


def _on_or_after(month: int, day: int, limit: dt.date, last_year: int) -> dt.date | None:
    """The earliest date with this month and day that is not before `limit`, to `last_year`."""
    year = limit.year if (month, day) >= (limit.month, limit.day) else limit.year + 1
    while (month, day) == (2, 29) and not calendar.isleap(year):
        year += 1
    return dt.date(year, month, day) if year <= last_year else None


def _leap_year_on_or_before(year: int) -> int:
    """The latest leap year that is not after `year`."""
    while not calendar.isleap(year):
        year -= 1
    return year
