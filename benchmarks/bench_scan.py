"""Scan benchmark: cold scan rate and peak memory as N grows, rescan time, against a floor.

Each measurement runs in a fresh process, so peak memory (ru_maxrss) is that run's alone. The
floor, measured in the same command, reads every file and runs one keyword regex over it: the
least any scan must do.

    python benchmarks/bench_scan.py --sizes 2000 20000 --runs 3 --out docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

CHILD = """
import datetime as dt, json, re, resource, sys, time
from pathlib import Path
mode, content, db = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
start = time.perf_counter()
if mode == "floor":
    keyword = re.compile(r"\\blibya\\w*", re.IGNORECASE)
    count = 0
    for path in sorted(content.rglob("*.*")):
        count += len(keyword.findall(path.read_text(encoding="utf-8")))
    releases = None
else:
    from dataclasses import replace
    from pressfeed import store
    from pressfeed.config import load_settings
    from pressfeed.scan import scan_content
    settings = load_settings(Path(sys.argv[4]), environ={})
    settings = replace(settings, content_dir=content, database=f"sqlite:///{db}")
    engine = store.open_store(settings.database)
    report = scan_content(settings, engine, now=dt.datetime.now(dt.UTC))
    engine.dispose()
    releases = report.added
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_mb": peak, "releases": releases}))
"""


def measure(mode: str, content: Path, db: Path, config: Path) -> dict[str, float]:
    args = [sys.executable, "-c", CHILD, mode, str(content), str(db), str(config)]
    done = subprocess.run(args, capture_output=True, text=True, check=True, timeout=3600)
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def bench_size(size: int, runs: int, work: Path, config: Path) -> list[str]:
    content = work / f"content-{size}"
    subprocess.run([sys.executable, str(HERE / "generate.py"), str(size), str(content)], check=True)
    floors, colds, rescans, peaks, rates = [], [], [], [], []
    releases = 0
    for run in range(runs):
        db = work / f"db-{size}-{run}.sqlite"
        floors.append(measure("floor", content, db, config)["seconds"])
        cold = measure("scan", content, db, config)
        releases = int(cold["releases"])
        colds.append(cold["seconds"])
        peaks.append(cold["peak_mb"])
        rates.append(releases / cold["seconds"])
        rescans.append(measure("scan", content, db, config)["seconds"])
    ratio = statistics.median(colds) / statistics.median(floors)
    return [
        f"| {size:,} | {releases:,} | {spread(colds)} | {spread(rates)} | {spread(floors)} "
        f"| {ratio:.1f}x | {spread(peaks)} | {spread(rescans)} |"
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 20000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    config = ROOT / "config" / "pressfeed.toml"
    lines = [
        "| pages | releases | cold scan s | releases/s | floor s | scan / floor "
        "| peak MB | rescan s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            lines += bench_size(size, args.runs, Path(tmp), config)
            print(lines[-1], flush=True)
    table = "\n".join(lines)
    print(table)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        note = (
            "# Scan benchmark\n\nMedian (min-max) of "
            f"{args.runs} runs, each in a fresh process; `make bench` writes this file.\n"
            "A cold scan extracts, classifies and stores (publishing is not included); a rescan\n"
            "finds nothing changed. The floor reads every file and runs one keyword regex.\n\n"
        )
        args.out.write_text(note + table + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
