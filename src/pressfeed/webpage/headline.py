"""The article's headline: the visible heading that the page's own titles agree with.

`<title>` and `og:title` often carry the site's name, a section or a different wording, and
the visible `<h1>` is sometimes the site's logo or a section label; each corrects the other.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from pressfeed.languages import Language, alternation, built_from_languages, is_capital
from pressfeed.markup import clean_line
from pressfeed.webpage.metadata import Metadata
from pressfeed.webpage.tree import Chunk

# French puts a space before a colon inside a headline ("Affaire KPMG : un juge..."): a colon
# alone never separates a site name.
_SEPARATOR = re.compile(r"(\s+(?:[–—·•»~/\\]|-{1,2}|::)\s+|\s*\|\s*)")
_QUOTES = str.maketrans("‘’‚‛“”„‟«»‹›–—‐‑‒―−", "''''\"\"\"\"\"\"''-------")
_WORD = re.compile(r"\w+")
_CLOCK = re.compile(
    r"^\d{1,2}(?:[:.h]\d{2})?\s*(?:[ap]\.?m\.?|uhr|h)?\s*(?:[A-Z]{2,5}|UTC[+-]?\d*)?$",
    re.IGNORECASE,
)
_NETWORKS = ("facebook", "twitter", "linkedin", "whatsapp", "e-mail", "email")


def _share_of(languages: tuple[Language, ...]) -> re.Pattern[str]:
    words = alternation([*_NETWORKS, *(w for lang in languages for w in lang.share_words)])
    return re.compile(rf"\b(?:{words})\b", re.IGNORECASE)


_share = built_from_languages(_share_of)


def _byline_of(languages: tuple[Language, ...]) -> re.Pattern[str]:
    words = alternation(w for lang in languages for w in (*lang.bylines, *lang.author_words))
    return re.compile(rf"^(?:{words})\s*:?\s+\S", re.IGNORECASE)


_byline = built_from_languages(_byline_of)
_TRAIL = re.compile(r"\s(?:>|»|›|/|\\)\s")
_MAX_WORDS = 40
_KICKER_WORDS = 4


@dataclass(frozen=True)
class Headline:
    text: str
    chunk: int | None  # index of the chunk printing it; None when it comes from metadata


def find_headline(chunks: Sequence[Chunk], meta: Metadata) -> Headline | None:
    """The headline as printed, or the page's declared title without its site name."""
    references = _References(reference_titles(meta), meta.site_names)
    best: tuple[float, int, str] | None = None
    for index, chunk in enumerate(chunks):
        if not (chunk.heading in (1, 2, 3) or chunk.headline_hint):
            continue
        text = references.without_kicker(_marked_part(chunk) or chunk.text)
        score = _score(chunk, text, references)
        if score > 0 and (best is None or score > best[0]):
            best = (score, index, text)
    if best is not None:
        return Headline(best[2], best[1])
    return Headline(references.titles[0], None) if references.titles else None


_MARKED_PROPS = frozenset({"headline", "name"})
_MARKED_CLASSES = frozenset({"headline", "title"})


def _marked_part(chunk: Chunk) -> str | None:
    """The part of a heading that the page marks as the headline itself (`itemprop` or class
    "headline"), when the heading also holds a kicker or a deck ("... A letter to a young
    liberal")."""
    for element in chunk.element.iterdescendants():
        props = set((element.get("itemprop") or "").split())
        classes = set((element.get("class") or "").lower().split())
        if props & _MARKED_PROPS or classes & _MARKED_CLASSES:
            text = clean_line(" ".join("".join(element.itertext()).split()))
            if 0 < len(text) < len(chunk.text):
                return text
    return None


class _References:
    """The declared titles, folded once for the comparisons with every heading."""

    def __init__(self, titles: list[str], site_names: Sequence[str]) -> None:
        self.titles = titles
        self.folded = {fold(t) for t in titles}
        self.words = [Counter(fold(t).split()) for t in titles]
        # A "site name" that is the article's own title is a publisher's mistake, not a site.
        self.sites = {fold(s) for s in site_names} - self.folded

    def similarity(self, text: str) -> float:
        words = Counter(fold(text).split())
        return max((_overlap(words, w) for w in self.words), default=0.0)

    def without_kicker(self, text: str) -> str:
        """The heading without a short label printed before it, when a declared title says so."""
        words = text.split()
        if len(words) < 4:
            return text
        folded = fold(text)
        if folded in self.folded or not any(folded.endswith(" " + t) for t in self.folded):
            return text
        for k in range(1, min(_KICKER_WORDS, len(words) - 2) + 1):
            rest = " ".join(words[k:])
            if rest[0].isalnum() and fold(rest) in self.folded:
                return rest
        return text


def reference_titles(meta: Metadata) -> list[str]:
    """The page's declared titles, site names and sections stripped, best first."""
    titles = [strip_site(t, meta.site_names) for t in [*meta.titles, meta.title] if t]
    return [t for t in dict.fromkeys(titles) if t]


def strip_site(title: str, site_names: Sequence[str]) -> str:
    """A declared title without the site name and section labels joined to it."""
    pieces = _SEPARATOR.split(title)  # part, separator, part, ...
    parts, separators = pieces[::2], pieces[1::2]
    sites = {fold(s) for s in site_names if s}
    begin, end = 0, len(parts)
    while end - begin > 1 and _is_site_name(parts[end - 1], sites):
        end -= 1
    if end == len(parts) and end - begin > 1 and _is_label(parts[end - 1], separators[end - 2]):
        end -= 1
    while end - begin > 1 and _is_site_name(parts[begin], sites):
        begin += 1
    if end - begin > 1 and "|" in separators[begin] and len(parts[begin].split()) <= 2:
        begin += 1  # a section: "Opinion | ..."
    kept = "".join(pieces[begin * 2 : end * 2 - 1])
    return kept.strip() or title.strip()


def _is_site_name(part: str, sites: set[str]) -> bool:
    return not part.strip() or fold(part) in sites or _is_domain(part)


def _is_label(part: str, separator: str) -> bool:
    """A short name after a bar or a dash: "... | Newsroom", "... - The Daily Star"."""
    words = part.split()
    if len(words) > 4:
        return False
    if "|" in separator:
        return True
    return all(is_capital(w[:1]) or not w[:1].isalpha() for w in words)


def _is_domain(part: str) -> bool:
    return bool(re.fullmatch(r"(?:www\.)?[\w-]+(?:\.[a-z]{2,})+", part.strip(), re.IGNORECASE))


def _score(chunk: Chunk, text: str, references: _References) -> float:
    words = len(text.split())
    if not 1 <= words <= _MAX_WORDS or is_not_a_headline(text):
        return 0.0
    if fold(text) in references.sites:
        return 0.0
    similarity = references.similarity(text)
    score = {1: 2.0, 2: 1.0, 3: 0.6}.get(chunk.heading, 0.5)
    score += 0.5 * chunk.headline_hint
    score += 3.0 * similarity if similarity >= 0.5 else 0.0
    if chunk.chrome_depth >= 0:
        score -= 1.0
    if words < 3 and similarity < 0.5:
        score -= 1.5  # a section label ("News", "Politik")
    return score


def is_not_a_headline(text: str) -> bool:
    """A clock time, a byline, a share bar or a breadcrumb trail."""
    if _CLOCK.match(text) or _byline().match(text) or _TRAIL.search(text):
        return True
    shares = len(_share().findall(text))
    return shares >= 2 and shares * 3 >= len(text.split())


@functools.lru_cache(maxsize=4096)  # each heading is folded for several comparisons
def fold(text: str) -> str:
    """Text for comparison: compatibility forms, no case, plain quotes and dashes, one space."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES).casefold()
    return " ".join(_WORD.findall(text))


def similar(a: str, b: str) -> float:
    """Word overlap of two titles, as an F1 score between 0 and 1."""
    return _overlap(Counter(fold(a).split()), Counter(fold(b).split()))


def _overlap(wa: Counter[str], wb: Counter[str]) -> float:
    common = sum(min(count, wb[word]) for word, count in wa.items() if word in wb)
    if not common:
        return 0.0
    precision, recall = common / sum(wa.values()), common / sum(wb.values())
    return 2 * precision * recall / (precision + recall)
