"""Labelled examples -> proposed topic rules, in the topics.toml format, cross-validated.

The fitting is scikit-learn's (an optional extra: `pip install 'pressfeed[learn]'`): per topic,
an L1-regularised logistic regression over the words and word pairs of the examples keeps the
few terms that tell the topic apart; their coefficients, scaled to weights of 0.5 to 3, become the
topic's terms, and the threshold is the one that scores best on the examples it was learned
from. The result is a rule file a person reads and edits, classified by the same rules as every
other topic. Its precision, recall and F1 are measured by k-fold cross-validation: each fold is
classified by rules learned without it.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from pressfeed.classify import classify, compile_rules
from pressfeed.config import term_problem, toml_text
from pressfeed.evaluate import Example, TopicScores
from pressfeed.models import Release, Term, Topic

if TYPE_CHECKING:
    from collections.abc import Iterable

THRESHOLDS = (1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 12.0, 15.0, 20.0)
MAX_WEIGHT = 3.0
MIN_POSITIVES = 2
# Words of three letters or more, with inner hyphens or apostrophes: what a term may hold.
_TOKEN = r"(?u)\b[^\W\d_](?:[^\W\d_]|['’-](?=[^\W\d_])){2,}\b"


class LearnUnavailableError(RuntimeError):
    """scikit-learn is not installed."""


@dataclass(frozen=True)
class Learned:
    """The topics learned from every example, and how rules learned this way score unseen."""

    topics: tuple[Topic, ...]
    scores: tuple[TopicScores, ...]  # cross-validated, one per topic
    examples: int
    folds: int


def learn_topics(
    slugs: Sequence[str],
    examples: Sequence[Example],
    *,
    folds: int = 5,
    max_terms: int = 40,
    seed: int = 0,
) -> Learned:
    """Learn one topic per slug from the examples, and cross-validate the learning."""
    if len(examples) < folds:
        raise ValueError(f"{len(examples)} labelled examples are too few for {folds} folds")
    for slug in slugs:
        if (positives := sum(slug in e.topics for e in examples)) < MIN_POSITIVES:
            raise ValueError(
                f"topic {slug!r} has {positives} labelled examples; {MIN_POSITIVES} are needed"
            )
    texts = [_text(e.releases) for e in examples]
    fold_of = _folds(len(examples), folds, seed)
    topics, scores = [], []
    for slug in slugs:
        topics.append(_learn(slug, examples, texts, range(len(examples)), max_terms))
        if not topics[-1].terms:
            raise ValueError(f"no word tells topic {slug!r} apart in these examples")
        counts = [0, 0, 0]
        for fold in range(folds):
            train = [i for i in range(len(examples)) if fold_of[i] != fold]
            test = [i for i in range(len(examples)) if fold_of[i] == fold]
            topic = _learn(slug, examples, texts, train, max_terms)
            for i in test:
                _count(counts, slug, examples[i], _carries(topic, examples[i].releases))
        scores.append(TopicScores(slug, *counts))
    return Learned(tuple(topics), tuple(scores), len(examples), folds)


def _folds(count: int, folds: int, seed: int) -> list[int]:
    order = list(range(count))
    random.Random(seed).shuffle(order)
    fold_of = [0] * count
    for position, index in enumerate(order):
        fold_of[index] = position % folds
    return fold_of


def _text(releases: Iterable[Release]) -> str:
    return "\n".join(f"{r.title}\n" + "\n".join(r.paragraphs) for r in releases)


def _learn(
    slug: str,
    examples: Sequence[Example],
    texts: Sequence[str],
    indices: Iterable[int],
    max_terms: int,
) -> Topic:
    """A topic learned from the examples at `indices`; optional labels are left out."""
    chosen = [i for i in indices if slug not in examples[i].optional]
    labels = [slug in examples[i].topics for i in chosen]
    terms = _fit_terms([texts[i] for i in chosen], labels, max_terms)
    topic = Topic(
        slug=slug,
        title=slug.replace("-", " ").capitalize(),
        description=f"Learned from {len(chosen)} labelled examples.",
        terms=terms,
    )
    return replace(topic, threshold=_best_threshold(topic, [examples[i] for i in chosen]))


def _fit_terms(texts: Sequence[str], labels: Sequence[bool], max_terms: int) -> tuple[Term, ...]:
    if not any(labels) or all(labels):
        return ()  # nothing tells the topic apart: it carries nothing
    vectorizer, model = _model()
    matrix = vectorizer.fit_transform(texts)
    model.fit(matrix, labels)
    words = vectorizer.get_feature_names_out()
    ranked = sorted(zip(model.coef_[0], words, strict=True), reverse=True)
    kept = [(c, w) for c, w in ranked if c > 0 and term_problem(w) is None][:max_terms]
    if not kept:
        return ()
    top = kept[0][0]
    return tuple(Term(w, max(0.5, round(2 * MAX_WEIGHT * c / top) / 2)) for c, w in kept)


def _model() -> tuple[Any, Any]:
    try:
        from sklearn.feature_extraction.text import CountVectorizer
        from sklearn.linear_model import LogisticRegression
    except ImportError as error:
        raise LearnUnavailableError(
            "learning topics needs scikit-learn: pip install 'pressfeed[learn]'"
        ) from error
    vectorizer = CountVectorizer(
        lowercase=True, binary=True, ngram_range=(1, 2), min_df=2, token_pattern=_TOKEN
    )
    model = LogisticRegression(
        l1_ratio=1.0, solver="liblinear", C=1.0, class_weight="balanced", random_state=0
    )
    return vectorizer, model


def _best_threshold(topic: Topic, examples: Sequence[Example]) -> float:
    """The threshold with the best F1 on the examples (the lowest of equals)."""
    if not topic.terms:
        return THRESHOLDS[-1]
    verdicts = [_verdicts(topic, e.releases) for e in examples]
    best, best_f1 = THRESHOLDS[0], -1.0
    for threshold in THRESHOLDS:
        counts = [0, 0, 0]
        for example, found in zip(examples, verdicts, strict=True):
            carried = any(score >= threshold and focus for score, focus in found)
            _count(counts, topic.slug, example, carried)
        f1 = TopicScores(topic.slug, *counts).f1
        if f1 > best_f1:
            best, best_f1 = threshold, f1
    return best


def _verdicts(topic: Topic, releases: Iterable[Release]) -> list[tuple[float, bool]]:
    """Each release's score, and whether everything but the threshold lets the topic on."""
    low = replace(topic, threshold=1e-9)
    rules = compile_rules([low])
    return [(s.score, s.assigned) for r in releases for s in classify(r, rules, explain=False)]


def _carries(topic: Topic, releases: Iterable[Release]) -> bool:
    rules = compile_rules([topic])
    return any(s.assigned for r in releases for s in classify(r, rules, explain=False))


def _count(counts: list[int], slug: str, example: Example, carried: bool) -> None:
    if slug in example.optional:
        return
    expected = slug in example.topics
    counts[0] += expected and carried
    counts[1] += carried and not expected
    counts[2] += expected and not carried


def learned_toml(learned: Learned) -> str:
    """The learned topics as a topics file, headed by their cross-validated scores."""
    lines = [
        f"# Topics learned from {learned.examples} labelled examples by `pressfeed topics learn`.",
        f"# Cross-validated ({learned.folds} folds), rules learned without the examples scored:",
    ]
    lines += [
        f"#   {s.slug}: precision {s.precision:.2f}, recall {s.recall:.2f}, F1 {s.f1:.2f}"
        for s in learned.scores
    ]
    lines.append("# A starting point: read the terms, remove what is noise, add what is missing.")
    for topic in learned.topics:
        lines += [
            "",
            f"[topics.{topic.slug}]",
            f"title = {toml_text(topic.title)}",
            f"description = {toml_text(topic.description)}",
            f"threshold = {topic.threshold:g}",
            "",
            f"[topics.{topic.slug}.terms]",
        ]
        lines += [f"{toml_text(t.text)} = {t.weight:g}" for t in topic.terms]
    return "\n".join(lines) + "\n"
