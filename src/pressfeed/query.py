"""The search query language: text typed by a person -> a `SearchQuery`, or a `QueryError`.

    libya rescue            every word (in any order, anywhere in the release)
    "return flights"        the words next to each other, in this order
    libya OR tunisia        either (OR in capitals; it binds tighter than the space)
    -mediterranean          not this word; -"sea rescue" not this phrase
    topic:health            releases on a topic; topic:a OR topic:b either; -topic:a not it
    after:2024-03-01        dated after that day; before:2024-04-01 dated before it

Case and accents do not count ("Libye" finds "libyé"). A query is bounded: at most
`MAX_LENGTH` characters and `MAX_TERMS` terms. The grammar, over the tokens below:

    query   = group { group }
    group   = atom { "OR" atom }
    atom    = [ "-" ] ( WORD | PHRASE | FILTER )
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import Enum

from pressfeed.errors import QueryError
from pressfeed.models import SearchQuery, SearchTerm

MAX_LENGTH = 200  # characters of a query
MAX_TERMS = 10  # words, phrases and filters of a query
FILTERS = ("topic", "after", "before")
_FILTER = re.compile(r"([A-Za-z]+):(.*)", re.DOTALL)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_OR = "OR"


class _Kind(Enum):
    WORD = "word"
    PHRASE = "phrase"
    OR = "or"


@dataclass(frozen=True)
class _Token:
    kind: _Kind
    text: str
    position: int  # of its first character, "-" included
    negated: bool = False


@dataclass(frozen=True)
class _Atom:
    """One term of the query: text to find, a topic, or a date bound."""

    kind: str  # "text", "topic", "after" or "before"
    position: int
    negated: bool
    term: SearchTerm | None = None
    slug: str = ""
    date: dt.date | None = None


# --- tokens -------------------------------------------------------------------------------------


def _tokens(text: str) -> Iterator[_Token]:
    """Words, "phrases" and OR, each perhaps after a "-", left to right."""
    at = 0
    while at < len(text):
        if text[at].isspace():
            at += 1
            continue
        start, negated = at, text[at] == "-"
        if negated:
            at += 1
            if at == len(text) or text[at].isspace():
                raise QueryError(text, "nothing to exclude after '-'", start)
        if text[at] == '"':
            token, at = _phrase(text, start, at, negated)
        else:
            token, at = _word(text, start, at, negated)
        yield token


def _phrase(text: str, start: int, at: int, negated: bool) -> tuple[_Token, int]:
    end = text.find('"', at + 1)
    if end < 0:
        raise QueryError(text, 'unbalanced quote: a phrase has no closing "', at)
    inside = " ".join(text[at + 1 : end].split())
    if not _searchable(inside):
        raise QueryError(text, "a phrase has no letter or digit to search for", at)
    return _Token(_Kind.PHRASE, inside, start, negated), end + 1


def _word(text: str, start: int, at: int, negated: bool) -> tuple[_Token, int]:
    end = at
    while end < len(text) and not text[end].isspace() and text[end] != '"':
        end += 1
    word = text[at:end]
    if word == _OR:
        if negated:
            raise QueryError(text, "OR cannot be excluded", start)
        return _Token(_Kind.OR, word, start), end
    return _Token(_Kind.WORD, word, start, negated), end


def _searchable(text: str) -> bool:
    return any(char.isalnum() for char in text)


# --- atoms --------------------------------------------------------------------------------------


@dataclass
class _Reader:
    """Turns tokens into atoms, knowing the query (for errors) and the topics there are."""

    text: str
    topics: Collection[str]
    seen: set[str] = field(default_factory=set)  # the date filters given so far

    def atom(self, token: _Token) -> _Atom:
        if token.kind is _Kind.PHRASE:
            term = SearchTerm(token.text.lower(), phrase=True)
            return _Atom("text", token.position, token.negated, term)
        found = _FILTER.fullmatch(token.text)
        if found is None:
            return self._word(token)
        name, value = found[1].lower(), found[2]
        if name not in FILTERS:
            filters = ", ".join(f"{f}:" for f in FILTERS)
            reason = f"unknown filter {name + ':'!r}; filters are {filters} (quote a word with ':')"
            raise QueryError(self.text, reason, token.position)
        if not value:
            raise QueryError(self.text, f"{name}: needs a value", token.position)
        if name == "topic":
            return _Atom("topic", token.position, token.negated, slug=self._topic(token, value))
        return self._date(token, name, value)

    def _word(self, token: _Token) -> _Atom:
        if not _searchable(token.text):
            reason = f"{token.text!r} has no letter or digit to search for"
            raise QueryError(self.text, reason, token.position)
        return _Atom("text", token.position, token.negated, SearchTerm(token.text.lower()))

    def _topic(self, token: _Token, value: str) -> str:
        slug = value.lower()
        if slug not in self.topics:
            known = ", ".join(sorted(self.topics)) or "none"
            reason = f"unknown topic {value!r}; topics are {known}"
            raise QueryError(self.text, reason, token.position)
        return slug

    def _date(self, token: _Token, name: str, value: str) -> _Atom:
        if token.negated:
            other = "after" if name == "before" else "before"
            reason = f"{name}: cannot be excluded; use {other}:"
            raise QueryError(self.text, reason, token.position)
        if name in self.seen:
            raise QueryError(self.text, f"{name}: given twice", token.position)
        self.seen.add(name)
        try:
            if not _DATE.fullmatch(value):
                raise ValueError(value)
            day = dt.date.fromisoformat(value)
        except ValueError:
            reason = f"bad date {value!r} for {name}:; dates are YYYY-MM-DD"
            raise QueryError(self.text, reason, token.position) from None
        return _Atom(name, token.position, False, date=day)


# --- the grammar --------------------------------------------------------------------------------


def _groups(text: str, tokens: Sequence[_Token], reader: _Reader) -> list[list[_Atom]]:
    """query = group { group }; group = atom { OR atom }."""
    groups: list[list[_Atom]] = []
    joining = False
    for token in tokens:
        if token.kind is _Kind.OR:
            if not groups or joining:
                raise QueryError(text, "OR needs a term before it", token.position)
            joining = True
        elif joining:
            groups[-1].append(reader.atom(token))
            joining = False
        else:
            groups.append([reader.atom(token)])
    if joining:
        raise QueryError(text, "OR needs a term after it", tokens[-1].position)
    return groups


def _alternatives(text: str, group: Sequence[_Atom]) -> str:
    """The kind every atom of an OR group shares: "text" or "topic"."""
    for atom in group:
        if atom.negated:
            raise QueryError(text, "an excluded term cannot be part of OR", atom.position)
        if atom.kind not in ("text", "topic"):
            raise QueryError(text, f"{atom.kind}: cannot be part of OR", atom.position)
    if len({atom.kind for atom in group}) > 1:
        reason = "OR joins words and phrases, or topic: filters, not both"
        raise QueryError(text, reason, group[0].position)
    return group[0].kind


@dataclass
class _Parts:
    groups: list[tuple[SearchTerm, ...]] = field(default_factory=list)
    excluded: list[SearchTerm] = field(default_factory=list)
    topics: list[tuple[str, ...]] = field(default_factory=list)
    excluded_topics: list[str] = field(default_factory=list)
    dates: dict[str, dt.date] = field(default_factory=dict)

    def add(self, text: str, group: Sequence[_Atom]) -> None:
        kind = _alternatives(text, group) if len(group) > 1 else group[0].kind
        first = group[0]
        if kind == "text" and first.negated:
            self.excluded.append(_term(first))
        elif kind == "text":
            self.groups.append(tuple(_term(atom) for atom in group))
        elif kind == "topic" and first.negated:
            self.excluded_topics.append(first.slug)
        elif kind == "topic":
            self.topics.append(tuple(atom.slug for atom in group))
        elif first.date is not None:
            self.dates[kind] = first.date

    def query(self) -> SearchQuery:
        return SearchQuery(
            groups=tuple(self.groups),
            excluded=tuple(self.excluded),
            topics=tuple(self.topics),
            excluded_topics=tuple(self.excluded_topics),
            after=self.dates.get("after"),
            before=self.dates.get("before"),
        )


def _term(atom: _Atom) -> SearchTerm:
    assert atom.term is not None
    return atom.term


def parse_query(text: str, topics: Collection[str]) -> SearchQuery:
    """The query `text` asks for; QueryError saying what is wrong and where.

    `topics` are the slugs `topic:` may name."""
    if len(text) > MAX_LENGTH:
        raise QueryError(text, f"the query is {len(text)} characters long; at most {MAX_LENGTH}")
    tokens = list(_tokens(text))
    if not tokens:
        raise QueryError(text, "the query is empty")
    terms = sum(token.kind is not _Kind.OR for token in tokens)
    if terms > MAX_TERMS:
        raise QueryError(text, f"the query has {terms} terms; at most {MAX_TERMS}")
    parts = _Parts()
    for group in _groups(text, tokens, _Reader(text, topics)):
        parts.add(text, group)
    query = parts.query()
    _check_dates(text, query)
    if not (query.groups or query.topics or query.after or query.before):
        raise QueryError(text, "the query only excludes: add a word, a phrase or a filter to find")
    return query


def _check_dates(text: str, query: SearchQuery) -> None:
    if query.after and query.before and query.before - query.after <= dt.timedelta(days=1):
        reason = f"no day is after {query.after} and before {query.before}"
        raise QueryError(text, reason)


# --- back to text -------------------------------------------------------------------------------


def query_text(query: SearchQuery) -> str:
    """The query in a normal form, which `parse_query` reads back as the same releases: queries
    that ask for the same releases in another order or case share it."""
    parts = _sorted(" OR ".join(sorted(_shown(t) for t in group)) for group in query.groups)
    parts += _sorted(" OR ".join(sorted(f"topic:{s}" for s in group)) for group in query.topics)
    parts += _sorted(f"-{_shown(term)}" for term in query.excluded)
    parts += _sorted(f"-topic:{slug}" for slug in query.excluded_topics)
    if query.after:
        parts.append(f"after:{query.after.isoformat()}")
    if query.before:
        parts.append(f"before:{query.before.isoformat()}")
    return " ".join(parts)


def _sorted(parts: Iterable[str]) -> list[str]:
    return sorted(set(parts))


def _shown(term: SearchTerm) -> str:
    return f'"{term.text}"' if term.phrase else term.text
