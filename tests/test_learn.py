"""Learning topic rules from labelled examples: proposed terms, cross-validation, the TOML."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from pressfeed.classify import assigned_topics, compile_rules
from pressfeed.cli import main
from pressfeed.config import load_settings
from pressfeed.evaluate import labelled_examples
from pressfeed.learn import learn_topics, learned_toml
from tests.conftest import NOW, write_settings

pytest.importorskip("sklearn")

QUAKE = ["earthquake", "aftershocks", "collapsed buildings", "seismic", "tremor", "rubble"]
FLOOD = ["floodwaters", "river banks", "heavy rains", "submerged", "levee", "flooded"]
FILLER = [
    "the district",
    "officials said",
    "on Tuesday",
    "residents",
    "the authorities",
    "in the morning",
    "families",
    "volunteers",
    "the region",
    "local teams",
]


def story(rng: random.Random, words: list[str]) -> str:
    """A made-up release: a headline and three sentences mixing topic words and filler."""
    picked = rng.sample(words, 2) if words else []
    headline = f"{' and '.join(picked).capitalize() or 'Market day'} in {rng.choice(FILLER)}"
    sentences = [
        f"{rng.choice(FILLER).capitalize()} reported {rng.choice(words or FILLER)} near "
        f"{rng.choice(FILLER)} and {rng.choice(words or FILLER)} after {rng.choice(FILLER)}."
        for _ in range(3)
    ]
    return f"{headline}\n\nTOWN, 3 May 2024 – {' '.join(sentences)}\n"


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """Forty labelled files: earthquakes, floods, both, and neither."""
    rng = random.Random(7)
    files = {}
    for i in range(40):
        kind = ("quake", "flood", "both", "none")[i % 4]
        words = {"quake": QUAKE, "flood": FLOOD, "both": QUAKE + FLOOD, "none": []}[kind]
        name = f"r{i:02d}.txt"
        (tmp_path / "content").mkdir(exist_ok=True)
        (tmp_path / "content" / name).write_text(story(rng, words), encoding="utf-8")
        topics = {"quake": ["quake"], "flood": ["flood"], "both": ["quake", "flood"]}.get(kind, [])
        entry = {"title": None, "date": None, "topics": topics}
        files[name] = {"whole_file": True, "releases": [entry]}
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"topics": ["quake", "flood"], "files": files}), "utf-8")
    return labels


def test_learned_rules_find_the_topic_words_and_score_well_unseen(
    corpus: Path, tmp_path: Path
) -> None:
    settings = load_settings(write_settings(tmp_path), environ={})
    slugs, examples, _ = labelled_examples(
        corpus, [tmp_path / "content"], now=NOW, settings=settings
    )
    learned = learn_topics(slugs, examples, folds=4)
    terms = {t.slug: {term.text for term in t.terms} for t in learned.topics}
    assert terms["quake"] & {"earthquake", "aftershocks", "seismic", "tremor", "rubble"}
    assert terms["flood"] & {"floodwaters", "submerged", "levee", "flooded"}
    assert not terms["quake"] & {"floodwaters", "submerged", "levee", "flooded"}
    assert {s.slug: s.f1 for s in learned.scores} == {
        "quake": pytest.approx(1.0, abs=0.15),
        "flood": pytest.approx(1.0, abs=0.15),
    }
    assert all(s.tp + s.fn == 20 for s in learned.scores)  # every example scored once


def test_the_learned_topics_file_loads_and_classifies(corpus: Path, tmp_path: Path) -> None:
    settings = load_settings(write_settings(tmp_path), environ={})
    slugs, examples, _ = labelled_examples(
        corpus, [tmp_path / "content"], now=NOW, settings=settings
    )
    topics_file = tmp_path / "learned.toml"
    topics_file.write_text(learned_toml(learn_topics(slugs, examples, folds=4)), "utf-8")
    config = tmp_path / "pressfeed.toml"
    config.write_text(f'topics_file = "{topics_file.as_posix()}"\n', encoding="utf-8")
    settings = load_settings(config, environ={})
    assert [t.slug for t in settings.topics] == ["quake", "flood"]
    release = examples[0].releases[0]  # r00: an earthquake story
    assert assigned_topics(release, compile_rules(settings.topics)) == ["quake"]


def test_topics_learn_writes_the_file_and_reports_the_cross_validation(
    corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "proposed.toml"
    code = main(
        [
            "topics",
            "learn",
            str(corpus),
            str(tmp_path / "content"),
            "--folds",
            "4",
            "--out",
            str(out),
        ]
    )
    err = capsys.readouterr().err
    assert code == 0
    assert "40 examples, 4-fold cross-validation:" in err
    assert "macro F1" in err
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# Topics learned from 40 labelled examples")
    assert "[topics.quake.terms]" in text


def test_a_topic_with_too_few_examples_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.txt").write_text(story(random.Random(1), QUAKE), encoding="utf-8")
    (tmp_path / "b.txt").write_text(story(random.Random(2), []), encoding="utf-8")
    entry = {"title": None, "date": None}
    files = {
        "a.txt": {"whole_file": True, "releases": [{**entry, "topics": ["quake"]}]},
        "b.txt": {"whole_file": True, "releases": [{**entry, "topics": []}]},
    }
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"topics": ["quake"], "files": files}), "utf-8")
    code = main(["topics", "learn", str(labels), str(tmp_path), "--folds", "2"])
    assert code == 2
    assert "topic 'quake' has 1 labelled examples; 2 are needed" in capsys.readouterr().err
