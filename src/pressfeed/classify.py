"""Release x topics -> the topics it carries, with the evidence for each.

A release is read as its headline and its passages: the paragraphs of the body, long ones cut at
sentence ends into passages of at most PASSAGE_WORDS words. In each part a topic's terms add up
their weights, the headline's times `headline_weight` and the first passage's (the lead) times
`lead_weight`; a part counts at most twice `passage_points`, so that one paragraph repeating a
word cannot make a topic. A term with `near` counts only where a word of that list stands within
`near_words` words ("agreement" near a migration word). A proper noun inside an enumeration
("Libya, Tunisia, Niger and Mali") counts a quarter: a name in a list of places is a passing
mention, unless the list names another term of the same topic ("Zliten, Sabratha and Nalut").

A release carries a topic when four things hold: its score reaches `threshold`; the topic is
the subject of the headline (half of `passage_points` there), of the lead (`passage_points`
there) or of a real part of the body (`min_passages` passages, or `min_share` of them, reach
`passage_points` each); it holds a word of the `requires` list, when the topic has one; and no
`exclude` term occurs.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache, partial
from typing import NamedTuple

from pressfeed.languages import CAPITALS, Language, alternation, built_from_languages, is_capital
from pressfeed.models import Evidence, Release, Term, Topic, TopicReason, TopicScore

LIST_FACTOR = 0.25

# A listed name may follow articles or prepositions: "du Niger, de la Libye et de l'Égypte",
# "dalla Libia e dalla Tunisia"; short words only, so that "Morocco, where IOM" is no list.
_NAME = (
    r"(?<!\w)(?:(?:[a-zà-ÿ]{1,3}|[a-z]{1,2}(?:ll|gl)[aeio]{1,2})\s+){0,2}(?:[a-zà-ÿ]{1,4}['’])?"
    rf"[{CAPITALS}][\w'’.-]*(?:\s+[{CAPITALS}][\w'’.-]*){{0,2}}"
)


def _enumeration_of(languages: tuple[Language, ...]) -> re.Pattern[str]:
    """Three names or more, the last perhaps after a conjunction: "Libya, Mali and Niger"."""
    joins = alternation(w for language in languages for w in language.conjunctions)
    return re.compile(
        rf"{_NAME}(?:\s*,\s*{_NAME}){{2,}}(?:\s*,?\s+(?:{joins})\s+{_NAME})?"
        rf"|{_NAME}(?:\s*,\s*{_NAME})+\s*,?\s+(?:{joins})\s+{_NAME}"
    )


_enumeration = built_from_languages(_enumeration_of)
_SENTENCE_BREAK = re.compile(rf"(?<=[.!?])[\"'”’)]*\s+(?=[{CAPITALS}“\"‘'(])")


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
        # Longest first: of two open-ended terms that find the same word ("rettung*" and
        # "rettungsschiff*" in "Rettungsschiff"), the more specific one comes first and counts.
        self._prefix_lengths = sorted({len(k) for k in self._by_prefix}, reverse=True)
        self.cache: dict[str, _Entry] = {}  # word as written -> the terms starting with it

    def starting_with(self, word: str) -> _Entry:
        """The terms whose first word can be `word`, as written in the text."""
        found = self.cache.get(word)
        if found is None:
            if len(self.cache) > _CACHE_LIMIT:
                self.cache.clear()
            patterns = self._look_up(word)
            found = self.cache[word] = _entry(patterns) if patterns else _NOTHING
        return found

    def _look_up(self, word: str) -> tuple[_Pattern, ...]:
        folded = word.casefold()
        found = [p for p in self._by_word.get(folded, ()) if not p.cased]
        found += [p for p in self._by_word.get(word, ()) if p.cased]
        for length in self._prefix_lengths:
            if length > len(folded):
                continue
            found += [p for p in self._by_prefix.get(folded[:length], ()) if not p.cased]
            found += [p for p in self._by_prefix.get(word[:length], ()) if p.cased]
        return tuple(found)


@dataclass(frozen=True, slots=True)
class _Entry:
    """The terms that can start at one word: single words, and phrases by their second word."""

    single: tuple[_Pattern, ...]
    by_second: dict[str, tuple[_Pattern, ...]]  # the case-folded forms the second word may take
    other: tuple[_Pattern, ...]  # phrases whose second word is cased or open-ended ("ship*")
    phrases: bool = field(init=False)
    empty: bool = field(init=False)
    # The single words as (owner, slot): whole ones, that take a possessive ("Libya's"), and
    # open-ended ones ("migra*"), that end where the word does.
    whole_words: tuple[tuple[int, int], ...] = field(init=False)
    open_words: tuple[tuple[int, int], ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "phrases", bool(self.by_second or self.other))
        object.__setattr__(self, "empty", not (self.single or self.phrases))
        whole = tuple((p.topic, p.slot) for p in self.single if not p.prefix)
        object.__setattr__(self, "whole_words", whole)
        object.__setattr__(
            self, "open_words", tuple((p.topic, p.slot) for p in self.single if p.prefix)
        )


_NOTHING = _Entry((), {}, ())  # most words start no term


def _entry(patterns: Iterable[_Pattern]) -> _Entry:
    single: list[_Pattern] = []
    by_second: dict[str, list[_Pattern]] = defaultdict(list)
    other: list[_Pattern] = []
    for p in patterns:
        if len(p.words) == 1:
            single.append(p)
        elif p.cased or (len(p.words) == 2 and p.prefix):
            other.append(p)
        else:
            second = p.words[1]
            forms = [second] if len(p.words) > 2 else [second + e for e in _PLURALS]
            for form in forms:
                by_second[form].append(p)
    return _Entry(tuple(single), {k: tuple(v) for k, v in by_second.items()}, tuple(other))


@dataclass(frozen=True)
class Rules:
    """The topics, with all their terms and word lists compiled into one lexicon."""

    topics: tuple[Topic, ...]
    lexicon: Lexicon
    list_owner: dict[tuple[str, tuple[str, ...]], int]  # a word list -> its owner index


def compile_rules(topics: Iterable[Topic]) -> Rules:
    """Compile the topics' terms once, for classifying many releases."""
    return _compile(tuple(topics))


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
    owners: dict[tuple[str, tuple[str, ...]], int] = {}
    for topic in topics:
        for word_list in topic.lists:
            if word_list not in owners:
                owners[word_list] = owner = len(topics) + len(owners)
                patterns += [_pattern(text, owner, k) for k, text in enumerate(word_list[1])]
    return Rules(topics, Lexicon(patterns), owners)


def term_matches(term: str, text: str) -> list[str]:
    """The words a single term finds in a text, as written there."""
    matches = _matches(compile_rules([_probe(term)]), text)
    return [text[m.start : m.end] for m in matches.get(0, [])]


def _probe(term: str) -> Topic:
    return Topic("probe", "probe", "probe", (Term(term, 1.0),))


def classify(release: Release, rules: Rules, *, explain: bool = True) -> list[TopicScore]:
    """Every topic's verdict on a release, in topic order; without `explain`, the same
    verdicts and scores with no evidence, for a scan that stores only those."""
    parts = release_parts(release)
    read = Matched(parts, [_matches(rules, part.text) for part in parts])
    return [score_topic(t, i, rules, read, explain=explain) for i, t in enumerate(rules.topics)]


def assigned_topics(release: Release, rules: Rules) -> list[str]:
    """The slugs of the topics a release carries."""
    return [s.slug for s in classify(release, rules, explain=False) if s.assigned]


REASON_TERMS = 3  # terms a reason names: the strongest few, so it stays one short line


def topic_reason(score: TopicScore, terms: int = REASON_TERMS) -> TopicReason | None:
    """Why a release carries a topic, in brief, from the evidence `classify` gave it: the
    `terms` terms that added the most points, each where it first counted; None when the
    release does not carry the topic."""
    if not score.assigned:
        return None
    points: dict[str, float] = {}
    first: dict[str, tuple[str, str]] = {}  # term -> (the words as written, the part)
    for e in score.evidence:  # in reading order: the first is where the term first counted
        if e.points > 0:
            points[e.term] = points.get(e.term, 0.0) + e.points
            first.setdefault(e.term, (e.found[0], _reason_part(e.zone)))
    strongest = sorted(points, key=lambda term: -points[term])  # stable: ties in reading order
    kept: dict[str, tuple[str, str]] = {}  # two terms may find the same words: named once
    for term in strongest:
        kept.setdefault(first[term][0].casefold(), first[term])
        if len(kept) == terms:
            break
    return TopicReason(score.slug, score.score, tuple(kept.values()))


def _reason_part(zone: str) -> str:
    """ "headline", "lead" or "body" for an evidence zone ("passage 3 (in a list)")."""
    part = zone.split(" (")[0]
    return part if part in ("headline", "lead") else "body"


# --- the parts of a release ---------------------------------------------------------------------

PASSAGE_WORDS = 80
TOP_PASSAGES = 2  # the top of the story, that gives the headline its context
_DATE_LINE_WORDS = 5


@dataclass(frozen=True)
class Part:
    """The headline or one passage of the body."""

    name: str  # "headline", "lead" or "passage N"
    text: str

    @property
    def is_headline(self) -> bool:
        return self.name == "headline"

    @cached_property
    def enumerations(self) -> list[tuple[int, int]]:
        """Where the text lists names ("Libya, Tunisia, Niger and Mali")."""
        return [m.span() for m in _enumeration().finditer(self.text)]


def release_parts(release: Release) -> list[Part]:
    """The headline (unless derived from the body), then the passages of the body."""
    parts = [] if release.title_derived else [Part("headline", release.title)]
    passages = [
        passage
        for text in _with_date_lines_joined(release.paragraphs)
        for passage in split_passages(text)
    ]
    names = ["lead", *(f"passage {n}" for n in range(2, len(passages) + 1))]
    return parts + [Part(name, text) for name, text in zip(names, passages, strict=False)]


def _with_date_lines_joined(paragraphs: Sequence[str]) -> list[str]:
    """The paragraphs, a short line with no sentence end ("GENEVA, 3 May") joined to the next:
    it is no passage of its own, and the lead is the first paragraph with a sentence."""
    joined: list[str] = []
    waiting = ""
    for paragraph in paragraphs:
        if _is_date_line(paragraph):
            waiting = f"{waiting} {paragraph}".strip()
            continue
        joined.append(f"{waiting}\n{paragraph}" if waiting else paragraph)
        waiting = ""
    return [*joined, waiting] if waiting else joined


def _is_date_line(paragraph: str) -> bool:
    return len(paragraph.split()) <= _DATE_LINE_WORDS and not paragraph.endswith((".", "!", "?"))


def split_passages(paragraph: str) -> list[str]:
    """A paragraph as passages of whole sentences, none longer than PASSAGE_WORDS unless one
    sentence is."""
    if len(paragraph.split()) <= PASSAGE_WORDS:
        return [paragraph]
    passages: list[str] = []
    current: list[str] = []
    words = 0
    for sentence in _sentences(paragraph):
        length = len(sentence.split())
        if current and words + length > PASSAGE_WORDS:
            passages.append(" ".join(current))
            current, words = [], 0
        current.append(sentence)
        words += length
    return [*passages, " ".join(current)] if current else passages


def _sentences(text: str) -> list[str]:
    """The sentences of a text, closing quotes and brackets kept with theirs."""
    sentences, start = [], 0
    for match in _SENTENCE_BREAK.finditer(text):
        end = match.start() + len(match.group().rstrip())
        sentences.append(text[start:end])
        start = match.end()
    return [*sentences, text[start:]]


# --- matching -----------------------------------------------------------------------------------


class Match(NamedTuple):  # a tuple: a scan makes millions
    start: int
    end: int
    slot: int  # the term's index in its topic or list; below 0 for exclude terms
    word: int  # the index of the first word in the part


def _matches(rules: Rules, text: str) -> dict[int, list[Match]]:
    """Each owner's matches in a text: leftmost, longest, not overlapping."""
    candidates: dict[int, list[Match]] = defaultdict(list)
    words = list(_WORD.finditer(text))
    cached, look_up = rules.lexicon.cache.get, rules.lexicon.starting_with
    for index, word in enumerate(words):
        written = word.group()
        entry = cached(written) or look_up(written)
        if entry.empty:
            continue
        start, end = word.span()
        if entry.whole_words:
            whole_end = _possessive_end(text, end)
            for owner, slot in entry.whole_words:
                candidates[owner].append(Match(start, whole_end, slot, index))
        for owner, slot in entry.open_words:
            candidates[owner].append(Match(start, end, slot, index))
        # A phrase is looked at only when the next word can be its second one.
        following = _following(text, words, index) if entry.phrases else None
        if following is None:
            continue
        phrases = entry.by_second.get(following.casefold(), ())
        if entry.other:
            phrases += tuple(p for p in entry.other if _second_fits(p, following))
        for phrase in phrases:
            found = _match_end(phrase, text, end)
            if found is not None:
                candidates[phrase.topic].append(Match(start, found, phrase.slot, index))
    return {owner: _leftmost_longest(found) for owner, found in candidates.items()}


def _following(text: str, words: Sequence[re.Match[str]], index: int) -> str | None:
    """The word after words[index], when only a joiner stands between them."""
    if index + 1 >= len(words):
        return None
    between = text[words[index].end() : words[index + 1].start()]
    return words[index + 1].group() if _JOINER.fullmatch(between) else None


def _second_fits(pattern: _Pattern, following: str) -> bool:
    return _word_fits(pattern, 1, following if pattern.cased else following.casefold())


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
    return end if pattern.prefix else _possessive_end(text, end)


def _possessive_end(text: str, end: int) -> int:
    """Where a word ending at `end` ends with its possessive ("Libya's"), if it has one."""
    if text[end : end + 2] not in ("'s", "’s"):
        return end
    after = text[end + 2 : end + 3]
    return end if after.isalnum() or after == "_" else end + 2


def _word_fits(pattern: _Pattern, k: int, word: str) -> bool:
    expected = pattern.words[k]
    if k < len(pattern.words) - 1:
        return word == expected
    if pattern.prefix:
        return word.startswith(expected)
    return word in (expected, expected + "s", expected + "es")


def _leftmost_longest(found: list[Match]) -> list[Match]:
    if len(found) == 1:
        return found
    found.sort(key=lambda m: (m.start, -m.end))
    kept: list[Match] = []
    # Exclude terms are matched apart: a longer term over the same words must not hide one.
    vetoes: list[Match] = []
    for match in found:
        chosen = kept if match.slot >= 0 else vetoes
        if not chosen or match.start >= chosen[-1].end:
            chosen.append(match)
    return kept + vetoes


# --- scoring ------------------------------------------------------------------------------------


class NearWord(NamedTuple):
    """A word of a word list found in or beside a part."""

    text: str
    word: int
    start: int
    elsewhere: bool  # in the part that gives this one its context: near whatever its distance


@dataclass
class Matched:
    """A release's parts and every owner's matches in each, as all topics score them."""

    parts: Sequence[Part]
    found: Sequence[dict[int, list[Match]]]
    _near: dict[tuple[int, int], list[NearWord]] = field(default_factory=dict)

    @cached_property
    def passages(self) -> int:
        """How many passages the body has."""
        return sum(not p.is_headline for p in self.parts)

    def near(self, k: int, owner: int) -> list[NearWord]:
        """The words of a list that give part k its context: its own, and for the headline
        those of the top of the story too."""
        key = (k, owner)
        if key not in self._near:
            words = self._list_words(k, owner, elsewhere=False)
            if self.parts[k].is_headline:
                for j in range(k + 1, min(len(self.parts), k + 1 + TOP_PASSAGES)):
                    words += self._list_words(j, owner, elsewhere=True)
            self._near[key] = words
        return self._near[key]

    def _list_words(self, k: int, owner: int, *, elsewhere: bool) -> list[NearWord]:
        text = self.parts[k].text
        return [
            NearWord(text[m.start : m.end], m.word, m.start, elsewhere)
            for m in self.found[k].get(owner, [])
        ]


def score_topic(
    topic: Topic, index: int, rules: Rules, read: Matched, *, explain: bool = True
) -> TopicScore:
    """One topic's score from the matches in each part, and whether the release carries it."""
    tally = _Tally()
    cap = 2 * topic.passage_points
    owners = {name: rules.list_owner[(name, terms)] for name, terms in topic.lists}
    for k, matches in enumerate(read.found):
        mine = [m for m in matches.get(index, ()) if m.slot >= 0]
        part = read.parts[k]
        factor = _factor(topic, part) if mine else 0.0
        if factor == 0:
            continue
        counted = _counted(topic, part, mine, partial(_near_for, read, k, owners))
        raw = sum(_points(topic, factor, *key, len(w)) for key, (w, _) in counted.items()) / factor
        if explain:
            tally.evidence += _part_evidence(topic, part, counted)
        tally.score += factor * min(raw, cap)
        if part.is_headline:
            tally.in_headline |= raw >= topic.passage_points / 2
        else:
            tally.in_lead |= part.name == "lead" and raw >= topic.passage_points
            tally.about += raw >= topic.passage_points
    return _verdict(topic, tally, _first_veto(index, read), _anchor(topic, rules, read), read)


@dataclass(slots=True)
class _Tally:
    """What the parts of a release add up to for one topic."""

    score: float = 0.0
    about: int = 0  # passages whose points reach passage_points
    in_headline: bool = False
    in_lead: bool = False
    evidence: list[Evidence] = field(default_factory=list)


def _verdict(
    topic: Topic, tally: _Tally, excluded_by: str | None, anchor: str | None, read: Matched
) -> TopicScore:
    passages = read.passages
    why_not = _why_not(topic, tally, excluded_by, anchor, passages)
    return TopicScore(
        topic.slug,
        round(tally.score, 3),
        topic.threshold,
        why_not is None,
        tuple(tally.evidence),
        excluded_by,
        passages,
        tally.about,
        tally.in_headline,
        tally.in_lead,
        anchor,
        why_not,
    )


def _factor(topic: Topic, part: Part) -> float:
    if part.is_headline:
        return topic.headline_weight
    return topic.lead_weight if part.name == "lead" else 1.0


def _why_not(
    topic: Topic, tally: _Tally, excluded_by: str | None, anchor: str | None, passages: int
) -> str | None:
    """What keeps the topic off the release, or None when it carries it."""
    if excluded_by is not None:
        return f"excluded by {excluded_by!r}"
    if topic.requires and anchor is None:
        return f"no word of the {topic.requires!r} list"
    score = round(tally.score, 3)
    if score < topic.threshold:
        return f"score {score:g} below {topic.threshold:g}"
    share = tally.about / passages if passages else 0.0
    enough = tally.about >= topic.min_passages or share >= topic.min_share
    if not (tally.in_headline or tally.in_lead or enough):
        return (
            f"not the subject: not in the headline or the lead, {tally.about} of "
            f"{passages} passages about it (needs {topic.min_passages} "
            f"or {topic.min_share:.0%})"
        )
    return None


def _near_for(read: Matched, k: int, owners: dict[str, int], name: str) -> list[NearWord]:
    return read.near(k, owners[name])


Counted = dict[tuple[int, bool], tuple[list[str], list[str]]]  # (slot, listed) -> words, context


def _counted(
    topic: Topic, part: Part, matches: list[Match], near: Callable[[str], list[NearWord]]
) -> Counted:
    """The matches that count, by term and by whether they stand in a list of names."""
    counted: Counted = {}
    for match in matches:
        term = topic.terms[match.slot]
        close: list[str] = []
        if term.near is not None:
            close = _close_by(match, near(term.near), topic.near_words)
            if not close:
                continue
        words = part.text[match.start : match.end]
        listed = is_capital(words[0]) and _alone_in_enumeration(part, match, matches)
        found, context = counted.setdefault((match.slot, listed), ([], []))
        found.append(words)
        context += close
    return counted


def _points(topic: Topic, factor: float, slot: int, listed: bool, count: int) -> float:
    return round(topic.terms[slot].weight * factor * _list_factor(listed) * count, 3)


def _list_factor(listed: bool) -> float:
    return LIST_FACTOR if listed else 1.0


def _part_evidence(topic: Topic, part: Part, counted: Counted) -> list[Evidence]:
    factor = _factor(topic, part)
    evidence = []
    for (slot, listed), (words_found, context) in sorted(counted.items()):
        term = topic.terms[slot]
        evidence.append(
            Evidence(
                term.text,
                f"{part.name} (in a list)" if listed else part.name,
                tuple(words_found),
                term.weight,
                factor * _list_factor(listed),
                _points(topic, factor, slot, listed, len(words_found)),
                tuple(dict.fromkeys(context)),
            )
        )
    return evidence


def _close_by(match: Match, near: list[NearWord], distance: int) -> list[str]:
    """The first list word within `distance` words of a match, other than the match itself."""
    for n in near:
        if n.elsewhere or (abs(n.word - match.word) <= distance and n.start != match.start):
            return [n.text]
    return []


def _first_veto(index: int, read: Matched) -> str | None:
    for part, matches in zip(read.parts, read.found, strict=True):
        for match in matches.get(index, []):
            if match.slot < 0:
                return part.text[match.start : match.end]
    return None


def _anchor(topic: Topic, rules: Rules, read: Matched) -> str | None:
    if topic.requires is None:
        return None
    owner = rules.list_owner.get((topic.requires, topic.word_list(topic.requires)))
    for part, matches in zip(read.parts, read.found, strict=True):
        for match in matches.get(owner, []) if owner is not None else []:
            return part.text[match.start : match.end]
    return None


_LIST_REACH = 120  # characters: a name in an enumeration has a comma closer than this


def _alone_in_enumeration(part: Part, match: Match, matches: Sequence[Match]) -> bool:
    """Whether the match stands in a list of names that holds no other term of its topic: a
    list of towns of one country ("Zliten, Sabratha and Nalut") is about that country."""
    if "," not in part.text[max(0, match.start - _LIST_REACH) : match.end + _LIST_REACH]:
        return False  # no list can hold it; spares the enumeration search
    span = _enclosing((match.start, match.end), part.enumerations)
    return span is not None and not any(
        m is not match and span[0] <= m.start and m.end <= span[1] for m in matches
    )


def _enclosing(span: tuple[int, int], spans: Sequence[tuple[int, int]]) -> tuple[int, int] | None:
    return next(((s, e) for s, e in spans if s <= span[0] and span[1] <= e), None)
