"""Release x topics -> the topics it carries, with the evidence for each.

A topic's score adds up its terms' weights where they occur, counted by zone:
- headline: each match times the topic's `headline_weight`;
- lead (the first sentence of the body): each match times `lead_weight`;
- body (the rest): each match times min(1, length_norm / words in the rest), so a long release
  needs proportionally more mentions than a short one for the topic to be its subject.
A proper noun inside an enumeration ("Libya, Tunisia, Niger and Mali") counts a quarter: a name
in a list of places is a passing mention. Any `exclude` term vetoes the topic.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache

from pressfeed.models import Evidence, Release, Term, Topic, TopicScore

LIST_FACTOR = 0.25

_UPPER = "A-ZÀ-ÖØ-Þ"  # capitals of the Latin-1 languages whose datelines pressfeed reads
# A listed name may follow articles or prepositions: "du Niger, de la Libye et de l'Égypte",
# "dalla Libia e dalla Tunisia"; short words only, so that "Morocco, where IOM" is no list.
_NAME = (
    r"(?<!\w)(?:(?:[a-zà-ÿ]{1,3}|[a-z]{1,2}(?:ll|gl)[aeio]{1,2})\s+){0,2}(?:[a-zà-ÿ]{1,4}['’])?"
    rf"[{_UPPER}][\w'’.-]*(?:\s+[{_UPPER}][\w'’.-]*){{0,2}}"
)
_ENUMERATION = re.compile(
    rf"{_NAME}(?:\s*,\s*{_NAME}){{2,}}(?:\s*,?\s+(?:and|or|et|ou|e|o|y|und|oder)\s+{_NAME})?"
    rf"|{_NAME}(?:\s*,\s*{_NAME})+\s*,?\s+(?:and|or|et|ou|e|o|y|und|oder)\s+{_NAME}"
)
_SENTENCE_BREAK = re.compile(rf"(?<=[.!?])[\"'”’)]*\s+(?=[{_UPPER}“\"‘'(])")


_WORD = re.compile(r"\w+")
# What may stand between the words of a phrase: spaces, line breaks, hyphens, an apostrophe.
_JOINER = re.compile(r"[\s\-‐‑]+|['’]")
_PLURALS = ("", "s", "es")
_CACHE_LIMIT = 20_000  # words; a scan must not grow with the corpus


@dataclass(frozen=True, slots=True)
class _Pattern:
    """A term as the words to look for, and whose it is."""

    words: tuple[str, ...]  # case-folded, unless the term is in capitals
    prefix: bool  # the last word may go on ("libya*")
    cased: bool
    topic: int  # index of the topic
    slot: int  # index of the term in the topic, or -1 - k for its k-th exclude term


def _pattern(text: str, topic: int, slot: int) -> _Pattern:
    text = unicodedata.normalize("NFC", text)  # release text is NFC (markup.clean_text)
    cased = text.isupper() and any(c.isalpha() for c in text)
    words = tuple(w if cased else w.casefold() for w in _WORD.findall(text))
    return _Pattern(words, text.endswith("*"), cased, topic, slot)


class Lexicon:
    """Every term of every topic, looked up by the word it starts with."""

    def __init__(self, patterns: Iterable[_Pattern]) -> None:
        self._by_word: dict[str, list[_Pattern]] = defaultdict(list)
        self._by_prefix: dict[str, list[_Pattern]] = defaultdict(list)
        for p in patterns:
            first = p.words[0]
            if len(p.words) == 1 and p.prefix:
                self._by_prefix[first].append(p)
            elif len(p.words) == 1:
                for ending in _PLURALS:
                    self._by_word[first + ending].append(p)
            else:
                self._by_word[first].append(p)
        self._prefix_lengths = sorted({len(k) for k in self._by_prefix})
        self._cache: dict[str, tuple[_Pattern, ...]] = {}

    def starting_with(self, word: str) -> tuple[_Pattern, ...]:
        """The terms whose first word can be `word`, as written in the text."""
        found = self._cache.get(word)
        if found is None:
            if len(self._cache) > _CACHE_LIMIT:
                self._cache.clear()
            found = self._cache[word] = self._look_up(word)
        return found

    def _look_up(self, word: str) -> tuple[_Pattern, ...]:
        folded = word.casefold()
        found = [p for p in self._by_word.get(folded, ()) if not p.cased]
        found += [p for p in self._by_word.get(word, ()) if p.cased]
        for length in self._prefix_lengths:
            if length > len(folded):
                break
            found += [p for p in self._by_prefix.get(folded[:length], ()) if not p.cased]
            found += [p for p in self._by_prefix.get(word[:length], ()) if p.cased]
        return tuple(found)


@dataclass(frozen=True)
class Rules:
    """The topics, with all their terms compiled into one lexicon."""

    topics: tuple[Topic, ...]
    lexicon: Lexicon


def compile_rules(topics: Iterable[Topic]) -> Rules:
    """Compile the topics' terms once, for classifying many releases."""
    topics = tuple(topics)
    return _compile(topics)


@lru_cache(maxsize=16)
def _compile(topics: tuple[Topic, ...]) -> Rules:
    patterns = [
        _pattern(text, index, slot)
        for index, topic in enumerate(topics)
        for slot, text in [
            *enumerate(t.text for t in topic.terms),
            *((-1 - k, e) for k, e in enumerate(topic.exclude)),
        ]
    ]
    return Rules(topics, Lexicon(patterns))


def term_matches(term: str, text: str) -> list[str]:
    """The words a single term finds in a text, as written there."""
    zone = Zone("body", text)
    matches = _matches(compile_rules([_probe(term)]), zone)
    return [text[start:end] for start, end, _ in matches.get(0, [])]


def _probe(term: str) -> Topic:
    return Topic("probe", "probe", "probe", (Term(term, 1.0),))


def classify(release: Release, rules: Rules) -> list[TopicScore]:
    """Every topic's verdict on a release, in topic order."""
    zones = release_zones(release)
    found = [_matches(rules, zone) for zone in zones.all]
    return [score_topic(t, i, zones, found) for i, t in enumerate(rules.topics)]


def assigned_topics(release: Release, rules: Rules) -> list[str]:
    """The slugs of the topics a release carries."""
    return [s.slug for s in classify(release, rules) if s.assigned]


@dataclass(frozen=True)
class Zone:
    """A part of a release: the headline, the lead or the body."""

    name: str
    text: str

    @cached_property
    def enumerations(self) -> list[tuple[int, int]]:
        """Where the text lists names ("Libya, Tunisia, Niger and Mali")."""
        return [m.span() for m in _ENUMERATION.finditer(self.text)]


@dataclass(frozen=True)
class Zones:
    headline: str
    lead: str
    body: str
    body_words: int

    @cached_property
    def all(self) -> tuple[Zone, ...]:
        return (Zone("headline", self.headline), Zone("lead", self.lead), Zone("body", self.body))


def release_zones(release: Release) -> Zones:
    """Split a release into headline, lead sentence and the rest."""
    paragraphs = list(release.paragraphs)
    # A date alone on its line is no lead: the lead is the first paragraph with a sentence.
    opening = next((i for i, p in enumerate(paragraphs) if not _is_date_line(p)), 0)
    first = paragraphs[opening] if paragraphs else ""
    lead, _, rest_of_first = _split_first_sentence(first)
    body = "\n".join([*paragraphs[:opening], rest_of_first, *paragraphs[opening + 1 :]])
    headline = "" if release.title_derived else release.title
    return Zones(headline, lead, body.strip("\n"), len(body.split()))


def _is_date_line(paragraph: str) -> bool:
    return len(paragraph.split()) <= _DATE_LINE_WORDS and not paragraph.endswith((".", "!", "?"))


def _split_first_sentence(text: str) -> tuple[str, str, str]:
    match = _SENTENCE_BREAK.search(text)
    if not match:
        return text, "", ""
    return text[: match.start()], " ", text[match.end() :]


Match = tuple[int, int, int]  # start, end, slot
_DATE_LINE_WORDS = 5


def _matches(rules: Rules, zone: Zone) -> dict[int, list[Match]]:
    """Each topic's matches in a zone: leftmost, longest, not overlapping."""
    candidates: dict[int, list[Match]] = defaultdict(list)
    text = zone.text
    for word in _WORD.finditer(text):
        for pattern in rules.lexicon.starting_with(word.group()):
            end = _match_end(pattern, text, word.end())
            if end is not None:
                candidates[pattern.topic].append((word.start(), end, pattern.slot))
    return {topic: _leftmost_longest(found) for topic, found in candidates.items()}


def _match_end(pattern: _Pattern, text: str, end: int) -> int | None:
    """Where a term whose first word ends at `end` ends in the text, or None if it does not."""
    for k in range(1, len(pattern.words)):
        joiner = _JOINER.match(text, end)
        word = _WORD.match(text, joiner.end()) if joiner else None
        if word is None:
            return None
        found = word.group() if pattern.cased else word.group().casefold()
        if not _word_fits(pattern, k, found):
            return None
        end = word.end()
    if not pattern.prefix and text[end : end + 2] in ("'s", "’s"):
        after = text[end + 2 : end + 3]
        end += 2 if not (after.isalnum() or after == "_") else 0
    return end


def _word_fits(pattern: _Pattern, k: int, word: str) -> bool:
    expected = pattern.words[k]
    if k < len(pattern.words) - 1:
        return word == expected
    if pattern.prefix:
        return word.startswith(expected)
    return word in (expected, expected + "s", expected + "es")


def _leftmost_longest(found: list[Match]) -> list[Match]:
    found.sort(key=lambda m: (m[0], -m[1]))
    kept: list[Match] = []
    # Exclude terms are matched apart: a longer term over the same words must not hide one.
    vetoes: list[Match] = []
    for match in found:
        chosen = kept if match[2] >= 0 else vetoes
        if not chosen or match[0] >= chosen[-1][1]:
            chosen.append(match)
    return kept + vetoes


def score_topic(
    topic: Topic, index: int, zones: Zones, found: Sequence[dict[int, list[Match]]]
) -> TopicScore:
    """One topic's score from the matches in each zone, and whether it clears the threshold."""
    body_factor = min(1.0, topic.length_norm / zones.body_words) if zones.body_words else 1.0
    factors = (topic.headline_weight, topic.lead_weight, body_factor)
    evidence: list[Evidence] = []
    excluded = None
    for zone, factor, matches in zip(zones.all, factors, found, strict=True):
        mine = matches.get(index, [])
        evidence += _zone_evidence(topic, zone, factor, [m for m in mine if m[2] >= 0])
        vetoes = [zone.text[s:e] for s, e, slot in mine if slot < 0]
        excluded = excluded or (vetoes[0] if vetoes else None)
    score = round(sum(e.points for e in evidence), 3)
    assigned = score >= topic.threshold and excluded is None
    return TopicScore(topic.slug, score, topic.threshold, assigned, tuple(evidence), excluded)


def _zone_evidence(topic: Topic, zone: Zone, factor: float, matches: list[Match]) -> list[Evidence]:
    if not matches or factor == 0:
        return []
    found: dict[tuple[int, bool], list[str]] = defaultdict(list)
    for start, end, slot in matches:
        words = zone.text[start:end]
        listed = False
        if words[0].isupper():
            listed = _inside((start, end), zone.enumerations)
        found[(slot, listed)].append(words)
    evidence = []
    for (slot, listed), words_found in sorted(found.items()):
        term = topic.terms[slot]
        zone_factor = factor * (LIST_FACTOR if listed else 1.0)
        points = round(term.weight * zone_factor * len(words_found), 3)
        name = f"{zone.name} (in a list)" if listed else zone.name
        evidence.append(
            Evidence(term.text, name, tuple(words_found), term.weight, zone_factor, points)
        )
    return evidence


def _inside(span: tuple[int, int], spans: Sequence[tuple[int, int]]) -> bool:
    return any(start <= span[0] and span[1] <= end for start, end in spans)
