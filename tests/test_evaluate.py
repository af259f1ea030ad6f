"""Scoring against labels: files labelled as a whole, per-topic figures and the confusions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pressfeed.classify import compile_rules
from pressfeed.cli import main
from pressfeed.config import load_settings
from pressfeed.evaluate import NONE, EvalReport, evaluate, labelled_examples
from tests.conftest import NOW, write_settings

RESCUE = (
    "Rescue ship brings 80 migrants ashore in Sicily\n\n"
    "CATANIA, 4 May 2024 – A rescue ship carrying 80 migrants rescued from a sinking rubber "
    "boat in the central Mediterranean disembarked them in Catania on Saturday.\n"
)
CLINIC = (
    "Mobile clinics vaccinate displaced children against measles\n\n"
    "MAIDUGURI, 6 May 2024 – Mobile clinics vaccinated 4,000 displaced children against measles "
    "and screened them for malnutrition and malaria this week.\n"
)
FARM = (
    "New seed varieties raise maize harvests\n\n"
    "NAIROBI, 7 May 2024 – Farmers who planted the new varieties harvested a third more maize, "
    "the cooperative said on Monday.\n"
)


def labels(path: Path, files: dict[str, dict[str, object]]) -> Path:
    data = {"topics": ["libya", "sea-rescue", "health", "governance"], "files": files}
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def whole(*topics: str, optional: tuple[str, ...] = ()) -> dict[str, object]:
    entry = {"title": None, "date": None, "topics": list(topics), "optional": list(optional)}
    return {"whole_file": True, "releases": [entry]}


def scored(
    tmp_path: Path, texts: dict[str, str], files: dict[str, dict[str, object]]
) -> EvalReport:
    settings = load_settings(write_settings(tmp_path), environ={})
    for name, text in texts.items():
        (tmp_path / "content" / name).write_text(text, encoding="utf-8")
    return evaluate(
        labels(tmp_path / "labels.json", files),
        [tmp_path / "content"],
        compile_rules(settings.topics),
        now=NOW,
        settings=settings,
    )


def by_slug(report: EvalReport) -> dict[str, tuple[int, int, int]]:
    return {t.slug: (t.tp, t.fp, t.fn) for t in report.topics}


def test_a_whole_file_label_is_the_union_over_the_releases_it_holds(tmp_path: Path) -> None:
    report = scored(
        tmp_path,
        {"two.txt": RESCUE + "\n" + CLINIC},
        {"two.txt": whole("sea-rescue", "health")},
    )
    assert by_slug(report)["sea-rescue"] == (1, 0, 0)
    assert by_slug(report)["health"] == (1, 0, 0)
    assert report.whole_files == 1
    assert report.labelled == 0  # nothing to score headlines and dates against
    assert report.spurious == []
    assert report.misses == []


def test_a_whole_file_label_counts_a_topic_no_release_carries_as_missed(tmp_path: Path) -> None:
    report = scored(tmp_path, {"farm.txt": FARM}, {"farm.txt": whole("health")})
    assert by_slug(report)["health"] == (0, 0, 1)
    assert "farm.txt#*: topic health missing" in report.misses


def test_an_optional_topic_counts_neither_way(tmp_path: Path) -> None:
    report = scored(
        tmp_path,
        {"rescue.txt": RESCUE, "farm.txt": FARM},
        {
            "rescue.txt": whole("governance", optional=("sea-rescue",)),
            "farm.txt": whole(optional=("health",)),
        },
    )
    assert by_slug(report)["sea-rescue"] == (0, 0, 0)
    assert by_slug(report)["health"] == (0, 0, 0)
    assert by_slug(report)["governance"] == (0, 0, 1)


def test_confusions_count_each_item_under_its_labels_and_its_topics(tmp_path: Path) -> None:
    report = scored(
        tmp_path,
        {"rescue.txt": RESCUE, "clinic.txt": CLINIC, "farm.txt": FARM},
        {
            "rescue.txt": whole("governance"),  # labelled governance, classified sea-rescue
            "clinic.txt": whole("health"),
            "farm.txt": whole(),
        },
    )
    assert report.confusions[("governance", "sea-rescue")] == 1
    assert report.confusions[("health", "health")] == 1
    assert report.confusions[(NONE, NONE)] == 1
    assert sum(report.confusions.values()) == 3


def test_labelled_examples_hold_the_releases_of_whole_files(tmp_path: Path) -> None:
    settings = load_settings(write_settings(tmp_path), environ={})
    (tmp_path / "content" / "two.txt").write_text(RESCUE + "\n" + CLINIC, encoding="utf-8")
    path = labels(tmp_path / "labels.json", {"two.txt": whole("sea-rescue", "health")})
    slugs, examples, report = labelled_examples(
        path, [tmp_path / "content"], now=NOW, settings=settings
    )
    assert slugs == ["libya", "sea-rescue", "health", "governance"]
    (example,) = examples
    assert example.key == "two.txt#*"
    assert [r.title for r in example.releases] == [
        "Rescue ship brings 80 migrants ashore in Sicily",
        "Mobile clinics vaccinate displaced children against measles",
    ]
    assert example.topics == {"sea-rescue", "health"}
    assert report.problems == []


def test_eval_prints_the_confusions_and_the_whole_file_count(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_settings(tmp_path)
    (tmp_path / "content" / "rescue.txt").write_text(RESCUE, encoding="utf-8")
    path = labels(tmp_path / "labels.json", {"rescue.txt": whole("sea-rescue")})
    assert main(["--config", str(config), "eval", str(path), str(tmp_path / "content")]) == 0
    out = capsys.readouterr().out
    scores, confusions = out.split("\n\n")[:2]
    rows = {line.split()[0]: line.split()[1:] for line in scores.splitlines()}
    assert rows["sea-rescue"][:3] == ["1.000", "1.000", "1.000"]
    header, *cells = confusions.splitlines()
    assert header.split()[3:] == ["libya", "sea-rescue", "health", "governance", "none"]
    assert {line.split()[0]: line.split()[1:] for line in cells}["sea-rescue"] == [
        "0",
        "1",
        "0",
        "0",
        "0",
    ]
    assert "files     1 labelled as a whole (topics only)" in out
    assert out.rstrip().endswith("macro F1  1.000")


def test_eval_reads_files_with_the_settings_scan_and_classify_use(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_settings(tmp_path, 'fallback_encoding = "cp1252"\nmax_file_lines = 6\n')
    legacy = RESCUE.replace("–", "\u2014").replace("Saturday", "\u201cSaturday\u201d")
    (tmp_path / "content" / "legacy.txt").write_bytes(legacy.encode("cp1252"))
    (tmp_path / "content" / "long.txt").write_text(CLINIC + "\n\n\n\n", encoding="utf-8")
    path = labels(
        tmp_path / "labels.json",
        {"legacy.txt": whole("sea-rescue"), "long.txt": whole("health")},
    )
    commands = {
        "eval": ["eval", str(path), str(tmp_path / "content")],
        "classify": ["classify", str(tmp_path / "content")],
    }
    for command in commands.values():
        main(["--config", str(config), *command])
    out = capsys.readouterr()
    # The cp1252 file is read with the fallback, the long one skipped, by both commands alike.
    assert "legacy.txt" not in out.err
    assert out.err.count("long.txt") == 2
    assert "max_file_lines" in out.err
    assert "Rescue ship brings 80 migrants ashore in Sicily" in out.out
