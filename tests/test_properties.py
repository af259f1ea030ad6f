"""Properties that hold for any input: extraction, dates, classification, config and feeds.

Examples per property come from the hypothesis profile that tests/conftest.py loads: 100 in
`make test`, 10,000 in `make test-slow` (HYPOTHESIS_PROFILE=long).
"""

from __future__ import annotations

import datetime as dt
import html
import json
import random
import re
import tempfile
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import feedparser
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pressfeed import publish as publishing
from pressfeed import store
from pressfeed.classify import classify, compile_rules, release_parts, term_matches
from pressfeed.config import load_settings
from pressfeed.dates import infer_years, parse_dateline
from pressfeed.errors import PressfeedError
from pressfeed.extract import extract_text
from pressfeed.feeds import atom_bytes, json_bytes, rss_bytes
from pressfeed.models import DateKind, Release, Settings, StoredRelease, Term, Topic
from pressfeed.publish import publish
from pressfeed.scan import scan_content
from tests.conftest import write_settings

TODAY = dt.date(2026, 11, 23)
NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
EARLIEST = dt.date(1900, 1, 1)  # no dateline printed in a press release is older
SUFFIXES = (".txt", ".md", ".html")


def extract(text: str, suffix: str = ".txt", file_date: dt.date = TODAY) -> list[Release]:
    return extract_text(text, suffix, source=f"page{suffix}", file_date=file_date, today=TODAY)


def scaled(divisor: int) -> Callable[[Any], Any]:
    """Run a costly property on a fraction of the profile's examples."""
    return settings(max_examples=max(5, settings.default.max_examples // divisor))


# --- the shapes of real pages -------------------------------------------------------------------

PLACES = ["Rome", "Roma", "Geneva", "Cox's Bazar", "Port-au-Prince", "Dar es Salaam", "Tripoli"]
MONTHS = ["January", "July", "April", "mars", "gennaio", "Dezember", "Sept.", "May", "ago"]
DASHES = ["–", "—", "-", "--", ":", "|"]
NAVIGATION = ["Home", "News", "About us", "Skip to content", "Donate", "Home / News", "Share this:"]
SENTENCE_WORDS = [
    "the", "agency", "said", "that", "more", "than", "people", "had", "arrived", "in", "camps",
    "near", "border", "on", "Monday", "after", "heavy", "rain", "water", "clinics", "opened",
    "families", "received", "food", "and", "shelter", "while", "teams", "counted", "children",
    "Libya", "Niger", "Sahel", "IOM", "UNHCR", "migrants", "boat", "sea", "health", "schools",
    "réfugiés", "città", "Überfahrt", "навчання", "難民", "2,000", "40", "per", "cent",
]  # fmt: skip
HEADLINE_WORDS = [
    "Clinic", "Opens", "Rescue", "Ship", "Waits", "Drought", "Deepens", "Funding", "Keeps",
    "School", "Meals", "Going", "Migrants", "Reach", "Border", "Floods", "Hit", "Sahel", "Libya",
]  # fmt: skip


def _sentence(rng: random.Random) -> str:
    """An ordinary prose sentence: capitalised, words and commas, a full stop at the end."""
    body = rng.choices(SENTENCE_WORDS, k=rng.randint(5, 18))
    for i in rng.sample(range(1, len(body) - 1), k=rng.randint(0, 2)):
        body[i] += ","
    text = " ".join(body)
    return text[0].upper() + text[1:] + rng.choice(".!?.")


def _dateline(rng: random.Random, shape: str) -> str:
    """A dateline as pages print them, from "Rome, 30 July 2019 –" to "April 25, 2016"."""
    place, month, dash = rng.choice(PLACES), rng.choice(MONTHS), rng.choice(DASHES)
    day, year = rng.randint(1, 28), rng.randint(1990, 2026)
    return {
        "place date year": f"{place}, {day} {month} {year} {dash} ",
        "place date": f"{place} {day} {month} {dash} ",
        "us": f"{month} {day}, {year} ",
        "iso": f"{place}, {year}-{rng.randint(1, 12):02d}-{day:02d} {dash} ",
        "place": f"{place} – ",
    }[shape]


def pool(make: Callable[[random.Random], str], size: int) -> st.SearchStrategy[str]:
    """Values drawn from a fixed, seeded pool: one choice per value keeps examples cheap."""
    rng = random.Random(size)
    return st.sampled_from(sorted({make(rng) for _ in range(size)}))


SHAPES = ["place date year", "place date", "us", "iso", "place"]
paragraphs = pool(lambda rng: " ".join(_sentence(rng) for _ in range(rng.randint(1, 4))), 3000)
headlines = pool(lambda rng: " ".join(rng.choices(HEADLINE_WORDS, k=rng.randint(3, 9))), 1000)
datelines = pool(lambda rng: _dateline(rng, rng.choice(SHAPES)), 2000)
dated_datelines = pool(lambda rng: _dateline(rng, "place date year"), 1000)


# Any line a content file may hold: real shapes, markup, control characters, huge lines.
wild_lines = st.one_of(
    st.text(max_size=80),
    st.text(st.characters(codec="utf-8"), max_size=40),
    st.text(st.characters(max_codepoint=0x9F), max_size=40),
    datelines,
    st.builds(lambda d, p: d + p, datelines, st.text(max_size=40)),
    st.builds(lambda d, p: d + p, datelines, paragraphs),
    st.sampled_from(NAVIGATION),
    headlines,
    paragraphs,
    st.sampled_from(["<p>", "</div>", "<h1>", "<script>", "&amp;", "&#0;", "# ", "* ", ">"]),
    st.sampled_from(["\x00", "\x0b", "\x1b[0m", "\u2028", "\ufeff", "\ud800", "\u00ad"]),
    st.builds(lambda c, n: c * n, st.sampled_from("a .-<["), st.integers(1000, 20_000)),
)


wild_pages = st.lists(wild_lines, max_size=20).flatmap(
    lambda lines: st.sampled_from(["\n", "\n\n", "\r\n", "\r"]).map(lambda end: end.join(lines))
)


HTML_TAGS = ["p", "div", "h1", "h2", "li", "span", "article", "nav", "script", "br", "td", "b"]
html_elements = st.tuples(
    st.sampled_from(HTML_TAGS),
    wild_lines,
    st.booleans(),
    st.sampled_from(["", "</p>", "</div>", "</same>"]),
).map(lambda e: f"<{e[0]}>{html.escape(e[1]) if e[2] else e[1]}{e[3].replace('same', e[0])}")
html_pages = st.lists(html_elements, max_size=20).map(lambda p: "<html><body>" + "".join(p))


@st.composite
def any_page(draw: st.DrawFn) -> tuple[str, str]:
    """A page of any text, in any of the kinds a content file may be."""
    suffix = draw(st.sampled_from(SUFFIXES))
    if suffix == ".html" and draw(st.booleans()):
        return draw(html_pages), suffix
    return draw(st.one_of(wild_pages, st.text())), suffix


# --- extraction ---------------------------------------------------------------------------------


def check_release(release: Release, file_date: dt.date) -> None:
    """What every extracted release holds, whatever the page was."""
    assert release.title.strip()
    assert all(p.strip() for p in release.paragraphs)
    if release.date_kind is DateKind.FILE_TIME:
        assert release.date == file_date
    if release.date_kind is DateKind.STATED:
        assert EARLIEST <= release.date <= dt.date(TODAY.year + 1, 12, 31)
    if release.date_kind is DateKind.YEAR_INFERRED:
        latest = max(TODAY.year, file_date.year) + 1
        assert EARLIEST <= release.date <= dt.date(latest, 12, 31)


@given(any_page(), st.dates(dt.date(1990, 1, 1), dt.date(2030, 12, 31)))
@example(("Rome, 29 February –\n\nRome, 1 March –", ".txt"), dt.date(2026, 1, 1))
@example(("<html><head><title>x</title><body><p>\ud800" + "<div>" * 5000, ".html"), TODAY)
def test_extraction_never_raises(page: tuple[str, str], file_date: dt.date) -> None:
    text, suffix = page
    releases = extract(text, suffix, file_date)
    for position, release in enumerate(releases):
        assert release.position == position
        check_release(release, file_date)


@dataclass(frozen=True)
class OneRelease:
    """A page holding one release, and the paragraphs its body must keep."""

    text: str
    suffix: str
    headline: str
    paragraphs: tuple[str, ...]


def _page_text(suffix: str, head: Sequence[str], headline: str, body: Sequence[str]) -> str:
    if suffix == ".html":
        nav = "".join(f"<li><a href='/x'>{html.escape(n)}</a></li>" for n in head)
        story = "".join(f"<p>{html.escape(p)}</p>" for p in body)
        return (
            f"<nav><ul>{nav}</ul></nav><article><h1>{html.escape(headline)}</h1>{story}</article>"
        )
    if suffix == ".md":
        return "\n\n".join([*head, f"# {headline}", *body]) + "\n"
    return "\n\n".join([*head, headline, *body]) + "\n"


navigation_runs = st.lists(st.sampled_from(NAVIGATION), max_size=5)


@st.composite
def one_release_pages(draw: st.DrawFn, suffixes: Sequence[str] = SUFFIXES) -> OneRelease:
    """Navigation, a headline, a dateline and paragraphs of prose; in text, Markdown or HTML."""
    suffix = draw(st.sampled_from(suffixes))
    head = draw(navigation_runs)
    headline = draw(headlines)
    body = draw(st.lists(paragraphs, min_size=1, max_size=6))
    dateline = draw(st.one_of(st.just(""), datelines))
    text = _page_text(suffix, head, headline, [dateline + body[0], *body[1:]])
    return OneRelease(text, suffix, headline, tuple(body))


def squeezed(text: str) -> str:
    return " ".join(text.split())


@given(one_release_pages())
@example(
    OneRelease(
        "Home\n\nClinic Opens\n\nRome, 3 May 2019 – The agency said that people had arrived.\n",
        ".txt",
        "Clinic Opens",
        ("The agency said that people had arrived.",),
    )
)
def test_one_release_page_keeps_every_paragraph(page: OneRelease) -> None:
    (release,) = extract(page.text, page.suffix)
    body = "\n".join(release.paragraphs)
    if page.suffix == ".txt":
        # Plain text cannot tell a short menu line from a short headline: neither is lost.
        assert release.title == page.headline or page.headline in body
    else:
        assert release.title == page.headline  # marked as a heading
    for paragraph in page.paragraphs:
        assert paragraph in body


@given(one_release_pages([".txt"]), st.integers(60, 90))
def test_hard_wrapped_release_keeps_every_word_in_order(page: OneRelease, width: int) -> None:
    # Files wrapped under 60 columns are not recognised as wrapped (markup._wrap_width).
    wrapped = "\n\n".join(textwrap.fill(block, width) for block in page.text.split("\n\n"))
    (release,) = extract(wrapped)
    body = squeezed(" ".join(release.paragraphs))
    for paragraph in page.paragraphs:
        assert squeezed(paragraph) in body


def test_dateline_with_a_bar_is_not_taken_for_a_breadcrumb_trail() -> None:
    """A short hard-wrapped page: the dateline's line has a bar and no full stop."""
    text = "Clinic Opens In Rome\n\nRome, 1 July 2019 | The agency said that\nclinics opened.\n"
    (release,) = extract(text)
    assert release.date == dt.date(2019, 7, 1)
    assert (
        " ".join(release.paragraphs) == "Rome, 1 July 2019 | The agency said that clinics opened."
    )


def test_one_word_menu_line_is_not_kept_as_a_title() -> None:
    page = "Home\n\nDrought Deepens Across The Sahel\n\nThe agency said that rain failed.\n"
    release = extract(page)[0]
    assert (release.title, release.paragraphs) == (
        "Drought Deepens Across The Sahel",
        ("The agency said that rain failed.",),
    )


def test_heading_under_a_short_menu_line_is_the_title() -> None:
    page = "About us\n\n# Clinic Opens\n\nThe agency said that people had arrived.\n"
    assert extract(page, ".md")[0].title == "Clinic Opens"


@given(
    st.lists(
        st.tuples(headlines, dated_datelines, st.lists(paragraphs, min_size=1, max_size=3)),
        min_size=2,
        max_size=6,
    ),
    st.sampled_from(SUFFIXES),
)
def test_listing_page_keeps_every_release_and_paragraph(
    stories: list[tuple[str, str, list[str]]], suffix: str
) -> None:
    blocks = []
    for headline, dateline, body in stories:
        blocks += [headline, dateline + body[0], *body[1:]]
    text = _page_text(suffix, ["Home", "News"], "Latest Releases From The Agency", blocks)
    releases = extract(text, suffix)
    assert [r.title for r in releases] == [headline for headline, _, _ in stories]
    for release, (_, _, body) in zip(releases, stories, strict=True):
        assert release.date_kind is DateKind.STATED
        kept = "\n".join(release.paragraphs)
        assert all(paragraph in kept for paragraph in body)


# --- dates --------------------------------------------------------------------------------------


@given(
    st.one_of(
        st.text(),
        st.builds(lambda d, t: d + t, datelines, st.text(max_size=30)),
        st.from_regex(
            r"[A-Z][a-z]{2,9},? \d{1,5} [A-Za-z]{3,9}\.? \d{1,6} [-–:|] \w+", fullmatch=True
        ),
        st.from_regex(r"\d{1,5}-\d{1,3}-\d{1,3} [-–] \w+", fullmatch=True),
        st.from_regex(r"[A-Za-z]{3,9} \d{1,3}, \d{1,6} [A-Z]\w+", fullmatch=True),
    ),
    st.dates(dt.date(1990, 1, 1), dt.date(2100, 12, 31)),
)
@example("Rome, 30 July 2019 – Today", TODAY)
@example("Roma 26 January - The agency", TODAY)
@example("April 25, 2016 The agency", TODAY)
@example("Rome, 29 February – Boats", dt.date(2025, 6, 1))
@example("Geneva, 0001-02-03 – Text", TODAY)
def test_parsed_dates_fall_in_a_plausible_window(paragraph: str, today: dt.date) -> None:
    dateline = parse_dateline(paragraph, today=today)
    if dateline is None:
        return
    assert 0 <= dateline.end <= len(paragraph)
    if dateline.date is not None:
        latest = dt.date(today.year + 1, 12, 31)
        assert EARLIEST <= dateline.date <= latest


month_days = st.dates(dt.date(2024, 1, 1), dt.date(2024, 12, 31)).map(lambda d: (d.month, d.day))


@given(
    st.lists(
        st.one_of(st.none(), month_days, st.dates(dt.date(1900, 1, 1), dt.date(2027, 12, 31))),
        max_size=40,
    ),
    st.dates(dt.date(1900, 1, 1), dt.date(2026, 12, 31)),
)
@example([(1, day) for day in range(1, 29)], dt.date(1910, 1, 1))
@example([(12, 31), (1, 1), (12, 30), dt.date(2026, 11, 20)], dt.date(2026, 11, 23))
def test_inferred_years_fall_in_a_plausible_window(
    dates: list[tuple[int, int] | dt.date | None], reference: dt.date
) -> None:
    inferred = infer_years(dates, reference=reference)
    assert len(inferred) == len(dates)
    stated = [d for d in dates if isinstance(d, dt.date)]
    latest = dt.date(max([reference, *stated]).year + 1, 12, 31)
    for given_date, found in zip(dates, inferred, strict=True):
        if given_date is None or isinstance(given_date, dt.date):
            assert found == given_date
        elif found is not None:
            assert (found.month, found.day) == given_date
            assert EARLIEST <= found <= latest


@given(
    st.dates(dt.date(1901, 1, 1), dt.date(2026, 11, 23)),
    st.lists(st.integers(0, 364), max_size=30),
    st.integers(0, 364),
)
def test_a_newest_first_page_gets_its_years_back(
    newest: dt.date, gaps: list[int], age: int
) -> None:
    """Releases under a year apart, the newest at most a year old: every year is found."""
    days = [newest]
    for gap in gaps:
        if days[-1] - dt.timedelta(days=gap) < EARLIEST:
            break
        days.append(days[-1] - dt.timedelta(days=gap))
    reference = newest + dt.timedelta(days=age)
    year_less = [(d.month, d.day) for d in days]
    assert infer_years(year_less, reference=reference) == days
    assert infer_years([days[0], *year_less[1:]], reference=reference) == days


def test_a_long_page_of_dates_without_years_does_not_run_out_of_years() -> None:
    """2,100 year-less datelines in rising order once walked back past year 1 and raised."""
    names = ["January", "March", "May", "July", "September", "November"]
    lines = [
        f"Rome, {day} {month} – The agency said that people arrived in the camps today."
        for _ in range(13)
        for month in names
        for day in range(1, 28)
    ]
    releases = extract("\n\n".join(lines), file_date=dt.date(2026, 1, 1))
    assert len(releases) == len(lines)
    for release in releases:
        assert EARLIEST <= release.date <= dt.date(2027, 12, 31)


# --- classification -----------------------------------------------------------------------------

TERM_WORDS = [
    "libya", "niger", "boat", "sea", "health", "clinic", "migrant", "people", "rescue", "school",
    "meal", "water", "camp", "border", "child", "réfugié", "città",
]  # fmt: skip


def _term(rng: random.Random) -> str:
    text = " ".join(rng.choices(TERM_WORDS, k=rng.randint(1, 3)))
    return (text.upper() if rng.random() < 0.2 else text) + ("*" if rng.random() < 0.4 else "")


RELEASE_WORDS = [
    *TERM_WORDS, *(w.capitalize() for w in TERM_WORDS), *(w.upper() for w in TERM_WORDS),
    *(w + "s" for w in TERM_WORDS), "and", "the", "of", ",", ".", "-", "'s",
    "Libya, Niger and Mali", "\n", "Mali", "Sahel", "Niger's", "sea-rescue", "boat\u2011people",
    "ÉCOLE", "\ufb01",
]  # fmt: skip
term_texts = pool(_term, 1000)
release_texts = st.one_of(
    pool(lambda rng: " ".join(rng.choices(RELEASE_WORDS, k=rng.randint(0, 30))), 3000),
    st.text(max_size=30),
)
weights = st.one_of(st.floats(0.5, 6), st.floats(-4, -0.5), st.sampled_from([1.0, 2.0, 3.0]))


weighted_terms = st.lists(st.tuples(term_texts, weights), min_size=1, max_size=6)
excludes = st.lists(term_texts, max_size=2)


@st.composite
def topics(draw: st.DrawFn, slug: str) -> Topic:
    terms = draw(weighted_terms)
    return Topic(
        slug=slug,
        title=slug.title(),
        description=f"about {slug}",
        terms=tuple(Term(text, weight) for text, weight in terms),
        exclude=tuple(draw(excludes)),
        threshold=draw(st.floats(0.5, 10)),
        headline_weight=draw(st.floats(0, 4)),
        lead_weight=draw(st.floats(0, 3)),
        passage_points=draw(st.floats(0.5, 6)),
        min_share=draw(st.floats(0, 1)),
        min_passages=draw(st.integers(1, 4)),
        near_words=draw(st.integers(1, 20)),
    )


topic_sets = st.integers(1, 4).flatmap(
    lambda n: st.tuples(*(topics(f"topic-{i}") for i in range(n)))
)


@st.composite
def releases(draw: st.DrawFn) -> Release:
    title = draw(release_texts) or "Untitled"
    return Release(
        id="0123456789abcdef",
        title=title,
        title_derived=draw(st.booleans()),
        date=dt.date(2024, 3, 5),
        date_kind=DateKind.STATED,
        place=None,
        paragraphs=tuple(draw(st.lists(release_texts, max_size=3))),
        contacts=(),
        source="case.txt",
        position=0,
    )


@given(topic_sets, releases(), st.lists(releases(), max_size=2))
def test_classification_is_deterministic(
    topic_set: tuple[Topic, ...], release: Release, others: list[Release]
) -> None:
    rules = compile_rules(topic_set)
    first = classify(release, rules)
    for other in others:
        classify(other, rules)
    assert classify(release, rules) == first
    assert classify(release, compile_rules(list(topic_set))) == first
    # A topic's verdict does not depend on the other topics beside it.
    for topic, verdict in zip(topic_set, first, strict=True):
        assert classify(release, compile_rules([topic])) == [verdict]


@given(topic_sets, releases(), st.data())
def test_an_exclude_term_never_adds_a_topic(
    topic_set: tuple[Topic, ...], release: Release, data: st.DataObject
) -> None:
    before = {s.slug for s in classify(release, compile_rules(topic_set)) if s.assigned}
    index = data.draw(st.integers(0, len(topic_set) - 1))
    extra = data.draw(term_texts)
    changed = list(topic_set)
    changed[index] = replace(topic_set[index], exclude=(*topic_set[index].exclude, extra))
    after = {s.slug for s in classify(release, compile_rules(changed)) if s.assigned}
    assert after <= before


@given(topic_sets, releases())
@example(
    (
        Topic(
            "t", "T", "about t", (Term("migrant workers", 5.0),), exclude=("migrant*",), threshold=1
        ),
    ),
    Release(
        "0123456789abcdef", "Migrant workers", False, dt.date(2024, 3, 5), DateKind.STATED,
        None, ("Migrant workers are paid.",), (), "case.txt", 0,
    ),
)  # fmt: skip
def test_a_release_holding_an_exclude_term_never_carries_the_topic(
    topic_set: tuple[Topic, ...], release: Release
) -> None:
    texts = [part.text for part in release_parts(release)]
    for verdict, topic in zip(classify(release, compile_rules(topic_set)), topic_set, strict=True):
        if any(term_matches(term, text) for term in topic.exclude for text in texts):
            assert not verdict.assigned, (topic.slug, verdict)


# --- configuration ------------------------------------------------------------------------------

CONFIG_KEYS = [
    "content_dir", "output_dir", "database", "database_timeout", "site_url", "site_title",
    "feed_length", "language", "max_file_bytes", "fallback_encoding", "workers", "topics_file",
    "templates_dir", "secret", "email", "smtp", "digest", "service", "bogus",
]  # fmt: skip
SECTION_KEYS = [
    "transport", "from", "reply_to", "outbox_dir", "host", "port", "starttls", "tls", "username",
    "password", "timeout", "connections", "max_age_days", "timezone", "hour", "scan_interval",
    "poll", "bogus",
]  # fmt: skip
TOPIC_KEYS = [
    "title", "description", "terms", "exclude", "threshold", "headline_weight", "lead_weight",
    "passage_points", "min_share", "min_passages", "near_words", "requires", "bogus",
]  # fmt: skip
SLUGS = ["libya", "health", "all", "Bad Slug", "-x", "a", "sea-rescue"]

scalars = st.one_of(
    st.text(max_size=20),
    st.sampled_from(
        ["", "~", "utf-8", "cp1252", "rot13", "Europe/Rome", "../../etc", "http://x/", "smtp",
         "directory", "sqlite:///:memory:", "a" * 300, "x\x00y", "/dev/null", "/", "."]
    ),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.dates(),
    st.datetimes(),
    st.times(),
)  # fmt: skip
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=5,
)


def toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def toml_value(value: object) -> str:
    """A value as TOML text; strings as JSON, whose escapes TOML shares."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return {"inf": "inf", "-inf": "-inf", "nan": "nan"}.get(str(value), repr(value))
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    return str(value)


def toml_document(tables: dict[str, dict[str, object]]) -> str:
    lines = []
    for table, entries in tables.items():
        if table:
            lines.append(f"[{'.'.join(toml_key(k) for k in table.split('/'))}]")
        lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in entries.items()]
    return "\n".join(lines) + "\n"


settings_documents = st.builds(
    toml_document,
    st.dictionaries(
        st.sampled_from(["", "email", "smtp", "digest", "service", "bogus"]),
        st.dictionaries(st.sampled_from(CONFIG_KEYS + SECTION_KEYS), values, max_size=5),
        max_size=4,
    ),
)
term_tables = st.dictionaries(
    st.one_of(term_texts, st.text(max_size=8)), st.one_of(weights, values), max_size=4
)
topic_tables = st.fixed_dictionaries(
    {"title": st.one_of(st.just("Libya"), values), "description": st.just("About Libya")},
    optional=dict.fromkeys(TOPIC_KEYS[2:], values),
)


slug_lists = st.lists(st.sampled_from(SLUGS), max_size=3, unique=True)
defaults_tables = st.dictionaries(st.sampled_from(TOPIC_KEYS), values, max_size=3)


@st.composite
def topics_documents(draw: st.DrawFn) -> str:
    tables: dict[str, dict[str, object]] = {}
    if draw(st.booleans()):
        tables["defaults"] = draw(defaults_tables)
    for slug in draw(slug_lists):
        tables[f"topics/{slug}"] = draw(topic_tables)
        tables[f"topics/{slug}/terms"] = draw(term_tables)
    return toml_document(tables)


manglings = st.sampled_from(["as is", "as is", "cut", "splice", "utf-16", "latin-1"])


def mangled(documents: st.SearchStrategy[str]) -> st.SearchStrategy[bytes]:
    """A document as bytes, maybe broken: cut, spliced, re-encoded or with stray bytes."""

    @st.composite
    def build(draw: st.DrawFn) -> bytes:
        data = draw(documents).encode("utf-8", "surrogatepass")
        how = draw(manglings)
        if how == "cut":
            return data[: draw(st.integers(0, len(data)))]
        if how == "splice":
            at = draw(st.integers(0, len(data)))
            return data[:at] + draw(st.binary(max_size=8)) + data[at:]
        if how == "utf-16":
            return data.decode("utf-8", "replace").encode("utf-16")
        if how == "latin-1":
            return data.decode("utf-8", "replace").encode("latin-1", "replace")
        return data

    return build()


config_files = st.one_of(
    mangled(settings_documents),
    st.binary(max_size=200),
    st.text(max_size=200).map(str.encode),
    st.sampled_from([b"[" * 5000, b"a = " + b"[" * 5000, b"a = {" * 2000, b"\xef\xbb\xbf"]),
)
environments = st.dictionaries(
    st.sampled_from(
        ["PRESSFEED_FEED_LENGTH", "PRESSFEED_SMTP_PORT", "PRESSFEED_SMTP_TLS", "PRESSFEED_SITE_URL",
         "PRESSFEED_DIGEST_TIMEZONE", "PRESSFEED_TOPICS_FILE", "PRESSFEED_FEED_LENGHT", "HOME"]
    ),
    st.text(st.characters(exclude_characters="\x00"), max_size=12),
    max_size=3,
)  # fmt: skip


def load_in(directory: Path, config: bytes, topics: bytes, environ: dict[str, str]) -> object:
    (directory / "pressfeed.toml").write_bytes(config)
    (directory / "topics.toml").write_bytes(topics)
    try:
        return load_settings(directory / "pressfeed.toml", environ=environ)
    except PressfeedError as error:
        return error


@given(config_files, mangled(topics_documents()), environments)
@example(b'topics_file = "x\\u0000y"\n', b"", {})
@example(b'[digest]\ntimezone = "' + b"a" * 300 + b'"\n', b"", {})
@example(b"", b"", {"PRESSFEED_DIGEST_TIMEZONE": "Europe/" + "x" * 300})
@example(b'[digest]\ntimezone = "Europe"\n', b"", {})
@example(b"a = " + b"[" * 5000, b"", {})
@example(b"\n", b"\n", {"PRESSFEED_TOPICS_FILE": "~0"})  # a user no machine has
def test_config_loader_returns_settings_or_a_pressfeed_error(
    config: bytes, topics: bytes, environ: dict[str, str]
) -> None:
    with tempfile.TemporaryDirectory() as name:
        loaded = load_in(Path(name), config, topics, environ)
    assert isinstance(loaded, Settings | PressfeedError)
    assert str(loaded)
    if isinstance(loaded, Settings):
        assert loaded.topics
        assert loaded.feed_length >= 1
        assert loaded.site_url.endswith("/")


@given(settings_documents, topics_documents())
def test_valid_toml_is_either_loaded_or_every_problem_named(config: str, topics: str) -> None:
    with tempfile.TemporaryDirectory() as name:
        loaded = load_in(Path(name), config.encode(), topics.encode(), {})
    if isinstance(loaded, PressfeedError):
        assert str(loaded).startswith("invalid configuration")
    else:
        assert isinstance(loaded, Settings)


# --- feeds --------------------------------------------------------------------------------------

FEED_SETTINGS: Settings | None = None


def feed_settings() -> Settings:
    global FEED_SETTINGS
    if FEED_SETTINGS is None:
        directory = Path(tempfile.mkdtemp(prefix="pressfeed-properties-"))
        FEED_SETTINGS = load_settings(write_settings(directory), environ={})
    return FEED_SETTINGS


hostile_text = st.one_of(
    st.text(),
    st.text(st.characters(max_codepoint=0xA0)),
    st.sampled_from(["<script>alert(1)</script>", "]]>", "&amp;", "\x00\x07\x1b", "\ud800x"]),
    st.builds(lambda a, b: a + b, st.text(max_size=10), st.sampled_from(["<b>", "&", "\x0c"])),
)


hostile_lists = st.lists(hostile_text, max_size=3)
picks = st.lists(st.integers(0, 99), max_size=2)


@st.composite
def stored_releases(draw: st.DrawFn) -> StoredRelease:
    settings = feed_settings()
    release = Release(
        id=f"{draw(st.integers(0, 2**64 - 1)):016x}",
        title=draw(hostile_text),
        title_derived=draw(st.booleans()),
        date=draw(st.dates(dt.date(1900, 1, 1), dt.date(2027, 12, 31))),
        date_kind=draw(st.sampled_from(DateKind)),
        place=draw(st.one_of(st.none(), hostile_text)),
        paragraphs=tuple(draw(hostile_lists)),
        contacts=tuple(draw(hostile_lists)),
        source="page.txt",
        position=0,
    )
    slugs = [t.slug for t in settings.topics]
    return StoredRelease(
        release=release,
        text_hash="0" * 64,
        first_seen=NOW,
        updated=draw(st.datetimes(timezones=st.just(dt.UTC))),
        withdrawn_at=None,
        topics=tuple(dict.fromkeys(slugs[i % len(slugs)] for i in draw(picks))),
    )


XML_TEXT = re.compile("[^\t\n\r\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _stored_titled(title: str) -> StoredRelease:
    """A release with only a title, for regression examples."""
    release = Release(
        "0" * 16, title, False, dt.date(2000, 1, 1), DateKind.STATED, None, (), (), "page.txt", 0
    )
    return StoredRelease(release, "0" * 64, NOW, NOW, None, ())


def feed_bytes(stored: Sequence[StoredRelease]) -> dict[str, bytes]:
    settings = feed_settings()
    engine = store.open_store("sqlite://")  # no release stored: every entry ranks first
    store.migrate(engine)
    with engine.connect() as connection:
        doc = publishing._feed_doc(connection, settings, "all", stored, None, empty=NOW)
    engine.dispose()
    return {"atom": atom_bytes(doc), "rss": rss_bytes(doc), "json": json_bytes(doc)}


def check_feed(data: bytes, stored: Sequence[StoredRelease]) -> Any:
    parsed = feedparser.parse(data)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert len(parsed.entries) == len(stored)
    for entry, item in zip(parsed.entries, stored, strict=True):
        assert squeezed(entry.title) == shown_title(item)
    return parsed


def shown_summary(stored: StoredRelease) -> str:
    release = stored.release
    summary = release.paragraphs[0] if release.paragraphs else release.title
    return squeezed(as_feedparser_reads(XML_TEXT.sub("", summary)))


def shown_title(stored: StoredRelease, reader: bool = True) -> str:
    """The title a reader shows: the release id when nothing of the title can be written."""
    title = XML_TEXT.sub("", stored.release.title) or stored.release.id
    # feedparser undoes what looks double-encoded before spaces are squeezed (a no-break space
    # is part of the pattern it undoes), so that comes first here too.
    return squeezed(as_feedparser_reads(title) if reader else title)


def as_feedparser_reads(text: str) -> str:
    """feedparser takes Latin-1 text that is also valid UTF-8 for double-encoded, and undoes it."""
    try:
        return text.encode("iso-8859-1").decode("utf-8")
    except UnicodeError:
        return text


@given(st.lists(stored_releases(), min_size=1, max_size=3))
@example([])
@example([_stored_titled("Â\xa00")])
def test_any_release_text_yields_feeds_a_reader_parses(stored: list[StoredRelease]) -> None:
    built = feed_bytes(stored)
    atom = check_feed(built["atom"], stored)
    for entry, item in zip(atom.entries, stored, strict=True):
        if summary := shown_summary(item):
            assert squeezed(entry.summary) == summary
    check_feed(built["rss"], stored)
    items = json.loads(built["json"])["items"]
    assert [squeezed(i["title"]) for i in items] == [shown_title(s, reader=False) for s in stored]


def published_feeds(text: str, suffix: str) -> tuple[list[Release], dict[str, bytes]]:
    """The page scanned and published into a fresh site; its releases and every feed written."""
    with tempfile.TemporaryDirectory() as name:
        settings = load_settings(write_settings(Path(name)), environ={})
        page = settings.content_dir / f"page{suffix}"
        page.write_text(text, encoding="utf-8", errors="surrogatepass")
        engine = store.open_store(settings.database)
        try:
            scan_content(settings, engine, now=NOW)
            publish(settings, engine)
            with engine.connect() as connection:
                found = [s.release for s in store.feed_releases(connection, None, limit=1000)]
        finally:
            engine.dispose()
        out = settings.output_dir
        feeds = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*.atom")}
        feeds |= {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*.rss")}
    return found, feeds


@scaled(20)  # a fresh store and site per example
@given(st.one_of(any_page(), one_release_pages().map(lambda p: (p.text, p.suffix))))
@example(("Statement on <script>alert(1)</script> \x07\n\nRome, 1 May 2024 – A & B.\n", ".txt"))
def test_any_page_scanned_and_published_gives_feeds_a_reader_parses(page: tuple[str, str]) -> None:
    releases, feeds = published_feeds(*page)
    assert "all.atom" in feeds
    assert "all.rss" in feeds
    for name, data in feeds.items():
        parsed = feedparser.parse(data)
        assert parsed.bozo == 0, (name, parsed.get("bozo_exception"))
    titles = {squeezed(e.title) for e in feedparser.parse(feeds["all.atom"]).entries}
    assert titles == {as_feedparser_reads(squeezed(r.title)) for r in releases}
