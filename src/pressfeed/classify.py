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
from functools import lru_cache

from pressfeed.models import Evidence, Release, Term, Topic, TopicScore

LIST_FACTOR = 0.25

_UPPER = "A-ZÀ-ÖØ-Þ"  # capitals of the Latin-1 languages whose datelines pressfeed reads
# A listed name may follow an article or preposition: "le Niger, la Libye et l'Égypte".
_NAME = (
    r"(?<!\w)(?:[a-zà-ÿ]{1,3}\s+){0,2}(?:[a-zà-ÿ]{1,4}['’])?"
    rf"[{_UPPER}][\w'’.-]*(?:\s+[{_UPPER}][\w'’.-]*){{0,2}}"
)
_ENUMERATION = re.compile(
    rf"{_NAME}(?:\s*,\s*{_NAME}){{2,}}(?:\s*,?\s+(?:and|or|et|ou|e|o|y|und|oder)\s+{_NAME})?"
    rf"|{_NAME}(?:\s*,\s*{_NAME})+\s*,?\s+(?:and|or|et|ou|e|o|y|und|oder)\s+{_NAME}"
)
_SENTENCE_BREAK = re.compile(rf"(?<=[.!?])[\"'”’)]*\s+(?=[{_UPPER}“\"‘'(])")


@dataclass(frozen=True)
class Rules:
    """A topic with its terms compiled into one pattern."""

    topic: Topic
    pattern: re.Pattern[str]
    terms: tuple[Term, ...]  # by group number - 1
    exclude: re.Pattern[str] | None


def compile_rules(topics: Iterable[Topic]) -> tuple[Rules, ...]:
    """Compile each topic's terms once, for classifying many releases."""
    return tuple(_compile(topic) for topic in topics)


@lru_cache(maxsize=64)
def _compile(topic: Topic) -> Rules:
    # Longest terms first, so a phrase wins over a word it contains.
    terms = tuple(sorted(topic.terms, key=lambda t: len(t.text), reverse=True))
    pattern = re.compile("|".join(f"({term_regex(t.text)})" for t in terms), re.IGNORECASE)
    exclude = None
    if topic.exclude:
        exclude = re.compile("|".join(term_regex(e) for e in topic.exclude), re.IGNORECASE)
    return Rules(topic, pattern, terms, exclude)


def term_regex(term: str) -> str:
    """The regex for a term: words in order, a trailing * for any ending, plurals otherwise.

    A term in capitals ("TB", "HIV") matches only in capitals.
    """
    term = unicodedata.normalize("NFC", term)  # release text is NFC (markup.clean_text)
    words = [w for w in re.split(r"[\s-]+", term) if w]
    parts = [re.sub("['’]", "['’]", re.escape(w.rstrip("*"))) for w in words]
    body = r"[\s-]+".join(parts)
    body += r"\w*" if term.endswith("*") else r"(?:s|es|['’]s)?"
    if term.isupper() and any(c.isalpha() for c in term):
        body = f"(?-i:{body})"
    return rf"(?<!\w){body}(?!\w)"


def classify(release: Release, rules: Sequence[Rules]) -> list[TopicScore]:
    """Every topic's verdict on a release, in topic order."""
    zones = release_zones(release)
    return [score_topic(r, zones) for r in rules]


def assigned_topics(release: Release, rules: Sequence[Rules]) -> list[str]:
    """The slugs of the topics a release carries."""
    return [s.slug for s in classify(release, rules) if s.assigned]


@dataclass(frozen=True)
class Zones:
    headline: str
    lead: str
    body: str
    body_words: int


def release_zones(release: Release) -> Zones:
    """Split a release into headline, lead sentence and the rest."""
    paragraphs = list(release.paragraphs)
    first = paragraphs[0] if paragraphs else ""
    lead, _, rest_of_first = _split_first_sentence(first)
    body = "\n".join([rest_of_first, *paragraphs[1:]])
    headline = "" if release.title_derived else release.title
    return Zones(headline, lead, body, len(body.split()))


def _split_first_sentence(text: str) -> tuple[str, str, str]:
    match = _SENTENCE_BREAK.search(text)
    if not match:
        return text, "", ""
    return text[: match.start()], " ", text[match.end() :]


def score_topic(rules: Rules, zones: Zones) -> TopicScore:
    """One topic's score on a release's zones, and whether it clears the threshold."""
    topic = rules.topic
    body_factor = min(1.0, topic.length_norm / zones.body_words) if zones.body_words else 1.0
    evidence = [
        *_zone_evidence(rules, "headline", zones.headline, topic.headline_weight),
        *_zone_evidence(rules, "lead", zones.lead, topic.lead_weight),
        *_zone_evidence(rules, "body", zones.body, body_factor),
    ]
    score = round(sum(e.points for e in evidence), 3)
    excluded = _excluded_by(rules, zones)
    assigned = score >= topic.threshold and excluded is None
    return TopicScore(topic.slug, score, topic.threshold, assigned, tuple(evidence), excluded)


def _zone_evidence(rules: Rules, zone: str, text: str, factor: float) -> list[Evidence]:
    if not text or factor == 0:
        return []
    enumerations = [m.span() for m in _ENUMERATION.finditer(text)]
    found: dict[tuple[int, bool], list[str]] = defaultdict(list)
    for match in rules.pattern.finditer(text):
        index = (match.lastindex or 1) - 1
        listed = match.group()[0].isupper() and _inside(match.span(), enumerations)
        found[(index, listed)].append(match.group())
    evidence = []
    for (index, listed), words in sorted(found.items()):
        term = rules.terms[index]
        zone_factor = factor * (LIST_FACTOR if listed else 1.0)
        points = round(term.weight * zone_factor * len(words), 3)
        name = f"{zone} (in a list)" if listed else zone
        evidence.append(Evidence(term.text, name, tuple(words), term.weight, zone_factor, points))
    return evidence


def _inside(span: tuple[int, int], spans: Sequence[tuple[int, int]]) -> bool:
    return any(start <= span[0] and span[1] <= end for start, end in spans)


def _excluded_by(rules: Rules, zones: Zones) -> str | None:
    if rules.exclude is None:
        return None
    for text in (zones.headline, zones.lead, zones.body):
        match = rules.exclude.search(text)
        if match:
            return match.group()
    return None
