"""Scores extraction and classification against a hand-labelled file (seeds-golden.json format)."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pressfeed.classify import Rules, assigned_topics
from pressfeed.errors import LabelsError, SourceError
from pressfeed.identity import Namesakes, adopt_ids, merge_versions
from pressfeed.models import Release, Settings
from pressfeed.reading import releases_of
from pressfeed.sources import SourceFile, discover


@dataclass(frozen=True)
class Label:
    """One hand-labelled release."""

    file: str
    index: int
    title: str | None
    date: str | None
    topics: frozenset[str]
    optional: frozenset[str]
    body_starts: str
    duplicate_of: str | None
    whole_file: bool = False  # the topics are the union over whatever releases the file holds

    @property
    def key(self) -> str:
        return f"{self.file}#{self.index}"


@dataclass(frozen=True)
class TopicScores:
    slug: str
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass
class EvalReport:
    """Extraction and classification scores against a labels file."""

    labelled: int = 0  # labelled releases (entries)
    distinct: int = 0  # labelled releases once duplicates are merged
    found: int = 0  # labelled releases matched by an extracted one
    found_distinct: int = 0
    spurious: list[str] = field(default_factory=list)  # extracted releases with no label
    titles_right: int = 0
    dates_right: int = 0
    duplicates: int = 0
    duplicates_merged: int = 0
    whole_files: int = 0  # files labelled as a whole, scored for topics only
    topics: list[TopicScores] = field(default_factory=list)
    # (labelled, assigned) -> items; "none" stands for no topic on that side
    confusions: dict[tuple[str, str], int] = field(default_factory=dict)
    misses: list[str] = field(default_factory=list)  # human-readable notes on each error
    problems: list[SourceError] = field(default_factory=list)

    @property
    def macro_f1(self) -> float:
        return sum(t.f1 for t in self.topics) / len(self.topics) if self.topics else 0.0


def read_labels(path: Path) -> tuple[list[str], list[Label]]:
    """The topic slugs and the labelled releases of a labels file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        slugs = [str(s) for s in data["topics"]]
        labels = [
            _label(name, index, entry, whole_file=bool(page.get("whole_file", False)))
            for name, page in data["files"].items()
            for index, entry in enumerate(page["releases"])
        ]
    except OSError as error:
        raise LabelsError(path, f"cannot read: {error.strerror or error}") from error
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise LabelsError(path, f"not a labels file: {error!r}") from error
    return slugs, labels


def _label(name: str, index: int, entry: dict[str, Any], *, whole_file: bool) -> Label:
    return Label(
        file=name,
        index=index,
        title=entry["title"],
        date=entry["date"],
        topics=frozenset(entry["topics"]),
        optional=frozenset(entry.get("optional", ())),
        body_starts=entry.get("body_starts", ""),
        duplicate_of=entry.get("duplicate_of"),
        whole_file=whole_file,
    )


def labelled_files(names: Iterable[str], paths: Sequence[Path]) -> dict[str, SourceFile]:
    """The files named in a labels file, looked up in the given files and directories."""
    found: dict[str, SourceFile] = {}
    for path in paths:
        candidates = discover(path) if path.is_dir() else _single(path)
        for file in candidates:
            for name in names:
                if name not in found and (file.name == name or file.name.endswith("/" + name)):
                    found[name] = file
    return found


def _single(path: Path) -> list[SourceFile]:
    stat = path.stat()
    return [SourceFile(path, path.name, stat.st_size, stat.st_mtime_ns)]


@dataclass
class _Labelled:
    """A labels file and the labelled files, read and extracted, each label matched."""

    slugs: list[str]
    labels: list[Label]
    extracted: dict[str, list[Release]]
    matches: dict[str, Release]  # per-release label key -> its release
    report: EvalReport

    def items(self) -> dict[str, tuple[Release, ...]]:
        """Each scored item's releases: a labelled release, or every release of a whole file."""
        found: dict[str, tuple[Release, ...]] = {key: (r,) for key, r in self.matches.items()}
        for name in {lb.file for lb in self.labels if lb.whole_file}:
            found[f"{name}#*"] = tuple(self.extracted.get(name, ()))
        return found


def _read(
    labels_path: Path, paths: Sequence[Path], now: dt.datetime, settings: Settings
) -> _Labelled:
    slugs, labels = read_labels(labels_path)
    files = labelled_files({label.file for label in labels}, paths)
    report = EvalReport()
    extracted = _extract(files, now, settings, report)
    matches = _match([lb for lb in labels if not lb.whole_file], extracted, report)
    return _Labelled(slugs, labels, extracted, matches, report)


def evaluate(
    labels_path: Path,
    paths: Sequence[Path],
    rules: Rules,
    *,
    now: dt.datetime,
    settings: Settings,
) -> EvalReport:
    """Extract and classify the labelled files, and score the result against the labels."""
    read = _read(labels_path, paths, now, settings)
    report = read.report
    merged = _merge(r for found in read.extracted.values() for r in found)
    topics = {rid: set(assigned_topics(r, rules)) for rid, r in merged.items()}
    _score_extraction([lb for lb in read.labels if not lb.whole_file], read.matches, report)
    assigned = {
        key: {t for r in releases for t in topics.get(r.id, set())}
        for key, releases in read.items().items()
    }
    report.whole_files = len({lb.file for lb in read.labels if lb.whole_file})
    _score_topics(read.slugs, read.labels, assigned, report)
    return report


@dataclass(frozen=True)
class Example:
    """A labelled item: one release, or every release of a file labelled as a whole."""

    key: str
    releases: tuple[Release, ...]
    topics: frozenset[str]
    optional: frozenset[str]  # topics that count neither way


def labelled_examples(
    labels_path: Path, paths: Sequence[Path], *, now: dt.datetime, settings: Settings
) -> tuple[list[str], list[Example], EvalReport]:
    """The topic slugs and the labelled items found in the files, with what was not found."""
    read = _read(labels_path, paths, now, settings)
    found = {key: r for key, r in read.items().items() if r}
    examples = [
        Example(key, found[key], frozenset(required), frozenset(optional - required))
        for key, (required, optional) in sorted(_label_groups(read.labels).items())
        if key in found
    ]
    return read.slugs, examples, read.report


def _extract(
    files: dict[str, SourceFile], now: dt.datetime, settings: Settings, report: EvalReport
) -> dict[str, list[Release]]:
    extracted: dict[str, list[Release]] = {}
    namesakes: Namesakes = {}
    for name, file in sorted(files.items(), key=lambda item: item[1].path):
        try:
            # Named as labelled, which is how the content folder names it.
            found = releases_of(replace(file, name=name), settings, now.date())
        except SourceError as problem:
            report.problems.append(problem)
            continue
        extracted[name] = adopt_ids(found, namesakes)
    return extracted


def _merge(found: Iterable[Release]) -> dict[str, Release]:
    versions: dict[str, list[Release]] = {}
    for release in found:
        versions.setdefault(release.id, []).append(release)
    return {rid: merge_versions(v) for rid, v in versions.items()}


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _matches(label: Label, release: Release) -> bool:
    if label.title is not None and _squash(label.title) == _squash(release.title):
        return True
    body = _squash(" ".join(release.paragraphs))
    return bool(label.body_starts) and body.startswith(_squash(label.body_starts))


def _match(
    labels: Sequence[Label], extracted: dict[str, list[Release]], report: EvalReport
) -> dict[str, Release]:
    """Each label's extracted release, matched in page order by headline or opening words."""
    matches: dict[str, Release] = {}
    labelled = {lb.file for lb in labels}
    for name, found in extracted.items():
        if name not in labelled:
            continue
        unused = list(found)
        for label in (lb for lb in labels if lb.file == name):
            release = next((r for r in unused if _matches(label, r)), None)
            if release is None:
                report.misses.append(
                    f"{label.key}: not found ({label.title or label.body_starts!r})"
                )
                continue
            unused.remove(release)
            matches[label.key] = release
        report.spurious += [f"{name}#{r.position}: {r.title}" for r in unused]
    return matches


def _score_extraction(
    labels: Sequence[Label],
    matches: dict[str, Release],
    report: EvalReport,
) -> None:
    report.labelled = len(labels)
    report.distinct = len([lb for lb in labels if not _is_later_duplicate(lb)])
    report.found = len(matches)
    report.found_distinct = len({r.id for r in matches.values()})
    for label in labels:
        release = matches.get(label.key)
        if release is None:
            continue
        report.titles_right += _title_right(label, release, report)
        report.dates_right += _date_right(label, release, report)
        if label.duplicate_of and _is_later_duplicate(label):
            report.duplicates += 1
            other = matches.get(label.duplicate_of)
            merged = other is not None and other.id == release.id
            report.duplicates_merged += merged
            if not merged:
                report.misses.append(f"{label.key}: not merged with {label.duplicate_of}")


def _is_later_duplicate(label: Label) -> bool:
    return label.duplicate_of is not None and label.duplicate_of < label.key


def _title_right(label: Label, release: Release, report: EvalReport) -> bool:
    if label.title is None:
        right = release.title_derived
    else:
        right = not release.title_derived and _squash(label.title) == _squash(release.title)
    if not right:
        report.misses.append(f"{label.key}: title {release.title!r}, expected {label.title!r}")
    return right


def _date_right(label: Label, release: Release, report: EvalReport) -> bool:
    found = release.stated_date.isoformat() if release.stated_date else None
    if found != label.date:
        report.misses.append(f"{label.key}: date {found}, expected {label.date}")
    return found == label.date


def _score_topics(
    slugs: Sequence[str],
    labels: Sequence[Label],
    assigned: dict[str, set[str]],
    report: EvalReport,
) -> None:
    """Per topic, over distinct releases and whole files; optional topics count neither way."""
    groups = _label_groups(labels)
    counts = {slug: [0, 0, 0] for slug in slugs}
    for key, (required, optional) in groups.items():
        got = assigned.get(key, set()) & set(slugs)
        _confuse(report.confusions, required, got - (optional - required))
        for slug in slugs:
            if slug in optional and slug not in required:
                continue
            expected, carried = slug in required, slug in got
            counts[slug][0] += expected and carried
            counts[slug][1] += carried and not expected
            counts[slug][2] += expected and not carried
            if expected != carried:
                verdict = "missing" if expected else "extra"
                report.misses.append(f"{key}: topic {slug} {verdict}")
    report.topics = [TopicScores(slug, *counts[slug]) for slug in slugs]


def _label_groups(labels: Sequence[Label]) -> dict[str, tuple[set[str], set[str]]]:
    """Distinct releases by their first label: required and optional topics of all copies."""
    groups: dict[str, tuple[set[str], set[str]]] = {}
    for label in labels:
        key = label.duplicate_of if _is_later_duplicate(label) else label.key
        key = f"{label.file}#*" if label.whole_file else key
        assert key is not None
        required, optional = groups.setdefault(key, (set(), set()))
        required |= label.topics
        optional |= label.optional
    return groups


def _confuse(confusions: dict[tuple[str, str], int], labelled: set[str], got: set[str]) -> None:
    """Count one item in every (labelled, assigned) cell it falls in."""
    for expected in labelled or {NONE}:
        for found in got or {NONE}:
            confusions[expected, found] = confusions.get((expected, found), 0) + 1


NONE = "none"
