"""The article's own paragraphs: the container the prose sits in, less its chrome.

The container is found as readability finds it: each paragraph of prose (long, few links,
commas) gives points to its parent and, less, to the elements above; the best-scored element
and those of its siblings that hold prose too make up the article. Inside it, paragraphs in
chrome (share bars, bylines, related links, newsletter boxes), link lists and the headline go.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence

from pressfeed.languages import Language, alternation, built_from_languages
from pressfeed.webpage.tree import Chunk, Element

_PROSE_CHARS = 25
_LINK_DENSITY = 0.5
_SIBLING_SHARE = 0.2
_CHROME_SHARE = 0.25
_WIDER = 1.3


def _boilerplate_of(languages: tuple[Language, ...]) -> re.Pattern[str]:
    """A line of chrome: a label or link and a few words, or a release's label alone."""
    lines = alternation(w for language in languages for w in language.boilerplate)
    minutes = alternation(w for language in languages for w in language.minute_words)
    reading = alternation(w for language in languages for w in language.reading_words)
    labels = alternation(w for language in languages for w in language.release_labels)
    return re.compile(
        rf"^(?:{lines}|\d+\s+(?:{minutes})\s+(?:{reading}))\b.{{0,60}}$|^(?:{labels})\W*$",
        re.IGNORECASE,
    )


_boilerplate = built_from_languages(_boilerplate_of)


def main_text(chunks: Sequence[Chunk], skip: set[int]) -> list[int]:
    """Indexes of the chunks that make up the article's text, in page order."""
    scores, prose = _container_scores(chunks)
    if not scores:
        return [i for i, c in enumerate(chunks) if c.chrome_depth < 0 and i not in skip]
    top = _widened(max(scores, key=scores.__getitem__), prose)
    selected = _with_prose_siblings(top, scores)
    depth = _depth(top)
    inside = {e for container in selected for e in container.iter()}
    return [
        i
        for i, chunk in enumerate(chunks)
        if i not in skip and chunk.element in inside and _keeps(chunk, depth)
    ]


def _container_scores(
    chunks: Sequence[Chunk],
) -> tuple[dict[Element, float], dict[Element, int]]:
    """Readability's points per container, and the characters of prose under each element."""
    scores: dict[Element, float] = defaultdict(float)
    prose: dict[Element, int] = defaultdict(int)
    for chunk in chunks:
        if not _is_prose(chunk):
            continue
        points = 1 + chunk.text.count(",") + min(len(chunk.text) / 100, 3)
        if chunk.chrome_depth >= 0:
            # Chrome by its name only, often: "content-with-sidebar" can hold the article.
            points *= _CHROME_SHARE
        element = chunk.element.getparent() if chunk.tag in ("p", "br", "pre") else chunk.element
        for level, ancestor in enumerate(_up(element, 3)):
            scores[ancestor] += points / (1, 2, 3)[level]
        for ancestor in _up(chunk.element, 8):
            prose[ancestor] += len(chunk.text)
    return scores, prose


def _widened(top: Element, prose: dict[Element, int]) -> Element:
    """The best container, or an ancestor holding much more prose: an article split into
    several blocks ("text", an image, "text") scores each block alone."""
    best = top
    for ancestor in _up(top.getparent(), 3):
        if ancestor.tag in ("body", "html"):
            break
        if prose.get(ancestor, 0) >= _WIDER * prose.get(best, 0):
            best = ancestor
    return best


def _is_prose(chunk: Chunk) -> bool:
    if chunk.heading or len(chunk.text) < _PROSE_CHARS:
        return False
    return chunk.link_chars <= _LINK_DENSITY * len(chunk.text) / 2


def _up(element: Element | None, levels: int) -> list[Element]:
    found: list[Element] = []
    while element is not None and len(found) < levels:
        found.append(element)
        element = element.getparent()
    return found


def _with_prose_siblings(top: Element, scores: dict[Element, float]) -> set[Element]:
    parent = top.getparent()
    selected = {top}
    if parent is None:
        return selected
    floor = max(10.0, _SIBLING_SHARE * scores[top])
    selected.update(s for s in parent if s is not top and scores.get(s, 0.0) >= floor)
    return selected


def _depth(element: Element) -> int:
    return sum(1 for _ in element.iterancestors())


def _keeps(chunk: Chunk, top_depth: int) -> bool:
    # Chrome around the container (a page whose body is named "single-post comments-open")
    # does not count; chrome inside it does.
    if chunk.chrome_depth > top_depth + 1:
        return False
    text = chunk.text
    if chunk.link_chars > _LINK_DENSITY * len(text):
        return False
    return not _boilerplate().match(text)
