"""The search query language: every construct, every error, and the normal form."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pressfeed.errors import QueryError
from pressfeed.models import SearchQuery, SearchTerm
from pressfeed.query import MAX_LENGTH, MAX_TERMS, parse_query, query_text

TOPICS = ("health", "libya", "sea-rescue")


def parse(text: str) -> SearchQuery:
    return parse_query(text, TOPICS)


def word(text: str) -> SearchTerm:
    return SearchTerm(text)


def phrase(text: str) -> SearchTerm:
    return SearchTerm(text, phrase=True)


def test_words_must_all_match_each_a_group_of_its_own() -> None:
    assert parse("Libya  rescue") == SearchQuery(groups=((word("libya"),), (word("rescue"),)))


def test_a_quoted_phrase_is_one_term_with_its_spaces_normalised() -> None:
    assert parse('"Return   flights" Libya') == SearchQuery(
        groups=((phrase("return flights"),), (word("libya"),))
    )


def test_a_phrase_ends_a_word_and_a_word_may_follow_a_phrase() -> None:
    assert parse('a"b c"d') == SearchQuery(groups=((word("a"),), (phrase("b c"),), (word("d"),)))


def test_or_joins_its_neighbours_into_one_group() -> None:
    assert parse('libya OR "sea rescue" OR tunisia health') == SearchQuery(
        groups=((word("libya"), phrase("sea rescue"), word("tunisia")), (word("health"),))
    )


def test_lowercase_or_is_a_word() -> None:
    assert parse("libya or tunisia").groups == ((word("libya"),), (word("or"),), (word("tunisia"),))


def test_exclusions_of_words_phrases_and_topics() -> None:
    query = parse('libya -boat -"sea rescue" -topic:health')
    assert query == SearchQuery(
        groups=((word("libya"),),),
        excluded=(word("boat"), phrase("sea rescue")),
        excluded_topics=("health",),
    )


def test_a_hyphen_inside_a_word_is_part_of_it() -> None:
    assert parse("e-mail c++ 10%").groups == ((word("e-mail"),), (word("c++"),), (word("10%"),))


def test_topic_filters_and_or_between_them() -> None:
    query = parse("topic:Health topic:libya OR topic:sea-rescue")
    assert query.topics == (("health",), ("libya", "sea-rescue"))
    assert query.groups == ()


def test_date_filters() -> None:
    query = parse("libya after:2024-03-01 BEFORE:2024-04-01")
    assert (query.after, query.before) == (dt.date(2024, 3, 1), dt.date(2024, 4, 1))


def test_a_filter_alone_is_a_query() -> None:
    assert parse("topic:health") == SearchQuery(topics=(("health",),))
    assert parse("after:2024-01-01 -boat").excluded == (word("boat"),)


def test_a_word_with_a_colon_after_digits_is_a_word() -> None:
    assert parse("10:30").groups == ((word("10:30"),),)


@pytest.mark.parametrize(
    ("text", "reason", "position"),
    [
        ("", "the query is empty", None),
        ("   ", "the query is empty", None),
        ('libya "sea rescue', 'unbalanced quote: a phrase has no closing "', 6),
        ('"  "', "a phrase has no letter or digit to search for", 0),
        ("libya –", "'–' has no letter or digit to search for", 6),
        ("libya -", "nothing to exclude after '-'", 6),
        ("- libya", "nothing to exclude after '-'", 0),
        ("OR libya", "OR needs a term before it", 0),
        ("libya OR", "OR needs a term after it", 6),
        ("libya OR OR tunisia", "OR needs a term before it", 9),
        ("libya -OR tunisia", "OR cannot be excluded", 6),
        ("libya OR -tunisia", "an excluded term cannot be part of OR", 9),
        ("libya OR topic:health", "OR joins words and phrases, or topic: filters, not both", 0),
        ("libya OR after:2024-01-01", "after: cannot be part of OR", 9),
        ("topic:nope", "unknown topic 'nope'; topics are health, libya, sea-rescue", 0),
        ("topic:", "topic: needs a value", 0),
        (
            "libya topc:health",
            "unknown filter 'topc:'; filters are topic:, after:, before: (quote a word with ':')",
            6,
        ),
        ("after:2024-13-01", "bad date '2024-13-01' for after:; dates are YYYY-MM-DD", 0),
        ("before:1/2/2024", "bad date '1/2/2024' for before:; dates are YYYY-MM-DD", 0),
        ("after:2024-01-01 after:2024-02-01", "after: given twice", 17),
        ("libya -before:2024-01-01", "before: cannot be excluded; use after:", 6),
        (
            "after:2024-03-01 before:2024-03-02",
            "no day is after 2024-03-01 and before 2024-03-02",
            None,
        ),
        ("-libya", "the query only excludes: add a word, a phrase or a filter to find", None),
        (
            '-libya -"sea rescue" -topic:health',
            "the query only excludes: add a word, a phrase or a filter to find",
            None,
        ),
    ],
)
def test_bad_queries_say_what_is_wrong_and_where(
    text: str, reason: str, position: int | None
) -> None:
    with pytest.raises(QueryError) as raised:
        parse(text)
    assert (raised.value.reason, raised.value.position) == (reason, position)
    where = f" (at character {position + 1})" if position is not None else ""
    assert str(raised.value) == f"bad search query: {reason}{where}"


def test_a_query_too_long_is_refused_before_it_is_read() -> None:
    parse("a" * MAX_LENGTH)
    with pytest.raises(QueryError, match=f"{MAX_LENGTH + 1} characters long; at most"):
        parse('"' + "a" * MAX_LENGTH)  # unbalanced too: the length is checked first


def test_a_query_with_too_many_terms_is_refused() -> None:
    parse(" OR ".join(["a"] * MAX_TERMS))  # OR is not a term
    with pytest.raises(QueryError, match=f"has {MAX_TERMS + 1} terms; at most {MAX_TERMS}"):
        parse(" ".join(["a"] * (MAX_TERMS + 1)))


def test_the_normal_form_sorts_and_lowercases() -> None:
    one = parse('Tunisia OR libya -"Sea Rescue" topic:health before:2025-01-01 after:2024-01-01')
    other = parse('after:2024-01-01 -"sea rescue" before:2025-01-01 topic:health libya OR tunisia')
    assert query_text(one) == query_text(other)
    assert query_text(one) == (
        'libya OR tunisia topic:health -"sea rescue" after:2024-01-01 before:2025-01-01'
    )


_ATOMS = st.one_of(
    st.from_regex(r"-?[A-Za-zé0-9][a-z0-9+%'-]{0,5}", fullmatch=True).filter(
        lambda w: w not in ("OR",)
    ),
    st.from_regex(r'-?"[a-zé ]{0,4}[a-z][a-z ]{0,4}"', fullmatch=True),
    st.sampled_from(["topic:health", "-topic:libya", "topic:sea-rescue"]),
)


@given(st.lists(_ATOMS, min_size=1, max_size=MAX_TERMS), st.lists(st.booleans(), max_size=9))
def test_the_normal_form_reads_back_as_the_same_query(atoms: list[str], ors: list[bool]) -> None:
    text = atoms[0]
    for atom, joined in zip(atoms[1:], ors + [False] * len(atoms), strict=False):
        text += f" OR {atom}" if joined else f" {atom}"
    try:
        query = parse(text)
    except QueryError:
        return  # OR beside an exclusion, only exclusions: refused, and tested above
    normal = query_text(query)
    assert query_text(parse(normal)) == normal
    again = parse(normal)
    assert {frozenset(g) for g in again.groups} == {frozenset(g) for g in query.groups}
    assert set(again.excluded) == set(query.excluded)
