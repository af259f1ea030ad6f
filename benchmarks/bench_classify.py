"""Classification benchmark: microseconds per release, against the classifier of another commit.

Extracts the releases of N generated pages (and of the topic dev set, when materialised in
build/devset) once, then times classifying them all with the default topics, in a fresh
process per measurement; the median of the runs is reported. `--against REV` measures the
same releases with the code and topics file of that commit, checked out in a temporary git
worktree, in the same command.

    python benchmarks/bench_classify.py --pages 2000 --runs 5 --against HEAD~1 \\
        --out build/bench/classify.md
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEVSET = ROOT / "build" / "devset" / "files"

CHILD = """
import datetime as dt, json, sys, time
from pathlib import Path
from pressfeed.classify import compile_rules
from pressfeed.reading import scores_of
from pressfeed.config import load_settings
from pressfeed.extract import extract_text

config, repeats, *folders = sys.argv[1:]
settings = load_settings(Path(config), environ={})
rules = compile_rules(settings.topics)
releases = []
for folder in folders:
    for path in sorted(Path(folder).rglob("*.*")):
        text = path.read_text(encoding="utf-8", errors="replace")
        releases += extract_text(text, path.suffix, source=path.name,
                                 file_date=dt.date(2024, 1, 1), today=dt.date(2026, 1, 1))
words = sum(len(" ".join(r.paragraphs).split()) for r in releases)
timings = []
for _ in range(int(repeats)):
    start = time.perf_counter()
    for release in releases:
        scores_of(release, rules)
    timings.append(time.perf_counter() - start)
print(json.dumps({"releases": len(releases), "words": words, "seconds": min(timings)}))
"""


def measure(src: Path, config: Path, folders: list[Path]) -> dict[str, float]:
    """Classification time of every release in the folders, with the code in `src`."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    command = [sys.executable, "-c", CHILD, str(config), "3", *map(str, folders)]
    done = subprocess.run(command, check=True, capture_output=True, text=True, env=env)
    result: dict[str, float] = json.loads(done.stdout)
    return result


def checkout(rev: str, where: Path) -> Path:
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(where), rev],
        check=True,
        capture_output=True,
    )
    return where


def per_release(runs: list[dict[str, float]]) -> float:
    return statistics.median(r["seconds"] / r["releases"] * 1e6 for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--against", metavar="REV", help="commit to compare with")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--quick", action="store_true", help="300 pages, one run")
    args = parser.parse_args()
    pages, runs = (300, 1) if args.quick else (args.pages, args.runs)
    with tempfile.TemporaryDirectory(prefix="pressfeed-classify-") as name:
        tmp = Path(name)
        generated = tmp / "content"
        subprocess.run([sys.executable, str(HERE / "generate.py"), str(pages), str(generated)])
        corpora = {f"{pages:,} generated pages": [generated]}
        if DEVSET.is_dir():
            corpora["topic dev set (real texts)"] = [DEVSET]
        codes = {"this tree": (ROOT / "src", ROOT / "config" / "pressfeed.toml")}
        try:
            if args.against:
                other = checkout(args.against, tmp / "baseline")
                codes[args.against] = (other / "src", other / "config" / "pressfeed.toml")
            rows = []
            for corpus, folders in corpora.items():
                found: dict[str, list[dict[str, float]]] = {code: [] for code in codes}
                for _ in range(runs):  # the two trees in turn, so that load hits both alike
                    for code, (src, config) in codes.items():
                        found[code].append(measure(src, config, folders))
                rows.append((corpus, found))
                print(corpus, {c: f"{per_release(r):.0f} us" for c, r in found.items()})
        finally:
            if args.against:
                subprocess.run(
                    [
                        "git",
                        "-C",
                        str(ROOT),
                        "worktree",
                        "remove",
                        "--force",
                        str(tmp / "baseline"),
                    ],
                    check=False,
                )
    text = report(rows, list(codes), runs)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")


def report(
    rows: list[tuple[str, dict[str, list[dict[str, float]]]]], codes: list[str], runs: int
) -> str:
    head = "| releases of | releases | words per release | " + " | ".join(
        f"µs per release, {code}" for code in codes
    )
    lines = [head + (" | ratio |" if len(codes) == 2 else " |")]
    lines.append("|---" * (3 + len(codes) + (len(codes) == 2)) + "|")
    for corpus, found in rows:
        first = found[codes[0]][0]
        cells = [f"{per_release(found[code]):,.0f}" for code in codes]
        ratio = (
            f" | {per_release(found[codes[0]]) / per_release(found[codes[1]]):.2f}"
            if len(codes) == 2
            else ""
        )
        lines.append(
            f"| {corpus} | {int(first['releases']):,} | {first['words'] / first['releases']:,.0f} "
            f"| {' | '.join(cells)}{ratio} |"
        )
    return f"""## Classification

Time to classify one release as a scan does (verdicts and scores) with the default topics (the
four topics of `config/topics.toml`), extraction excluded: the best of 3 passes over all
releases in a fresh process, median of {runs} such processes. The ratio is this tree's time
over the other's.

{chr(10).join(lines)}
"""


if __name__ == "__main__":
    main()
