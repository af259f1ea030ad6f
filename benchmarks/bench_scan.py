"""Scan benchmark: cold scan and publish as N grows, rescans, one new file, against a floor.

Every measurement runs in a fresh process. Peak memory is the largest total proportional set
size (PSS: shared pages counted once) of that process and all its descendants, the worker
processes included, sampled every 20 ms.
The floor, measured in the same command, reads every file and runs one keyword regex over it:
the least any scan must do. A profile of one cold scan in a single process shows where the
time goes.

    python benchmarks/bench_scan.py --sizes 2000 20000 100000 --runs 3 --out build/bench/scan.md
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
LARGE = 50_000  # pages from which one run is enough: it takes minutes and varies little

CHILD = """
import datetime as dt, json, re, resource, sys, time
from pathlib import Path

def main():
    mode, content, db, config, output = sys.argv[1:6]
    content = Path(content)
    if mode == "floor":
        start = time.perf_counter()
        keyword = re.compile(r"\\blibya\\w*", re.IGNORECASE)
        count = 0
        for path in sorted(content.rglob("*.*")):
            count += len(keyword.findall(path.read_text(encoding="utf-8")))
        print(json.dumps({"seconds": time.perf_counter() - start}))
        return
    from dataclasses import replace
    from pressfeed import store
    from pressfeed.config import load_settings
    from pressfeed.publish import publish
    from pressfeed.scan import scan_content
    settings = load_settings(Path(config), environ={})
    settings = replace(
        settings, content_dir=content, database=f"sqlite:///{db}", output_dir=Path(output)
    )
    if mode == "profile":
        settings = replace(settings, workers=1)
    engine = store.open_store(settings.database)
    if mode == "profile":
        import cProfile
        profiler = cProfile.Profile()
        profiler.enable()
    start = time.perf_counter()
    scanned = scan_content(settings, engine, now=dt.datetime.now(dt.UTC))
    middle = time.perf_counter()
    published = publish(settings, engine)
    end = time.perf_counter()
    if mode == "profile":
        profiler.disable()
        profiler.dump_stats(sys.argv[6])
    engine.dispose()
    print(json.dumps({
        "scan": middle - start, "publish": end - middle, "seconds": end - start,
        "releases": scanned.added, "read": scanned.files_read, "written": published.written,
        "own_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))

if __name__ == "__main__":
    main()
"""

NEW_PAGE = """Home / News

Rescue boat brings 120 people ashore in Lampedusa after Libya departure {serial}

Rome, 3 March 2020 – A rescue ship carrying 120 people who left Libya four days ago reached
Lampedusa today, the Organization said. Teams gave water, food and medical checks on arrival.
"""


class TreeMemory:
    """Samples the resident memory of a process and all its descendants until stopped."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_kb = 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def _sample(self) -> None:
        while not self.done.wait(0.02):
            self.peak_kb = max(self.peak_kb, sum(_rss_kb(p) for p in _tree(self.pid)))

    def stop(self) -> float:
        self.done.set()
        self.thread.join()
        return self.peak_kb / 1024


def _tree(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                todo += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
    return found


def _rss_kb(pid: int) -> int:
    """The process's proportional set size: shared pages counted once across the tree."""
    for name, field in ((f"/proc/{pid}/smaps_rollup", "Pss:"), (f"/proc/{pid}/status", "VmRSS:")):
        try:
            for line in Path(name).read_text().splitlines():
                if line.startswith(field):
                    return int(line.split()[1])
        except OSError:
            continue
    return 0


def measure(mode: str, content: Path, work: Path, *extra: str) -> dict[str, float]:
    """Run one measurement in a fresh process; its JSON line plus the process tree's peak."""
    config = ROOT / "config" / "pressfeed.toml"
    args = [sys.executable, "-c", CHILD, mode, str(content), str(work / "db.sqlite")]
    args += [str(config), str(work / "out"), *extra]
    child = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    memory = TreeMemory(child.pid)
    out, _ = child.communicate(timeout=7200)
    peak = memory.stop()
    if child.returncode:
        raise SystemExit(f"benchmark child failed ({mode}, exit {child.returncode})")
    return {**json.loads(out), "peak_mb": peak}


def spread(values: list[float], digits: int = 2) -> str:
    if len(values) == 1:
        return f"{values[0]:,.{digits}f}"
    low, mid, high = min(values), statistics.median(values), max(values)
    return f"{mid:,.{digits}f} ({low:,.{digits}f}-{high:,.{digits}f})"


def bench_size(size: int, runs: int, tmp: Path) -> dict[str, list[float]]:
    content = tmp / f"content-{size}"
    if not content.exists():
        generate = [sys.executable, str(HERE / "generate.py"), str(size), str(content)]
        subprocess.run(generate, check=True)
    found: dict[str, list[float]] = {}

    def keep(name: str, value: float) -> None:
        found.setdefault(name, []).append(value)

    for run in range(runs):
        work = tmp / f"run-{size}-{run}"
        work.mkdir()
        keep("floor", measure("floor", content, work)["seconds"])
        cold = measure("cold", content, work)
        keep("releases", cold["releases"])
        for name in ("seconds", "scan", "publish", "peak_mb", "own_mb", "written"):
            keep(f"cold_{name}", cold[name])
        keep("rate", cold["releases"] / cold["seconds"])
        again = measure("rescan", content, work)
        keep("rescan", again["seconds"])
        keep("rescan_written", again["written"])
        new = content / f"new-{run}.txt"
        new.write_text(NEW_PAGE.format(serial=run), encoding="utf-8")
        try:
            one = measure("one-new", content, work)
        finally:
            new.unlink()
        keep("new_scan", one["scan"])
        keep("new_publish", one["publish"])
        keep("new_written", one["written"])
        print(f"  {size:,} pages, run {run + 1}/{runs}: {json.dumps(cold)}", flush=True)
    return found


def profile(size: int, tmp: Path) -> str:
    """Where a single-process cold scan and publish spends its time, by part of the code."""
    import pstats

    content = tmp / f"content-{size}"
    work = tmp / "profile"
    work.mkdir()
    stats_file = work / "profile.stats"
    measure("profile", content, work, str(stats_file))
    stats = pstats.Stats(str(stats_file))
    parts: dict[str, float] = {}
    total = 0.0
    for (path, _line, name), row in stats.stats.items():  # type: ignore[attr-defined]
        own = row[2]
        total += own
        parts[_part(path, name)] = parts.get(_part(path, name), 0.0) + own
    lines = ["| part | seconds | share |", "|---|---|---|"]
    for part, seconds in sorted(parts.items(), key=lambda p: -p[1])[:14]:
        lines.append(f"| {part} | {seconds:.2f} | {seconds / total:.0%} |")
    return "\n".join(lines)


PARTS = (
    ("pressfeed/extract", "extraction (pressfeed.extract)"),
    ("pressfeed/markup", "page parsing (pressfeed.markup)"),
    ("pressfeed/dates", "dates (pressfeed.dates)"),
    ("pressfeed/classify", "classification (pressfeed.classify)"),
    ("pressfeed/feeds", "feed documents (pressfeed.feeds)"),
    ("pressfeed/", "other pressfeed code"),
    ("feedgen", "feedgen (Atom and RSS)"),
    ("lxml", "lxml"),
    ("jinja2", "jinja2 (pages)"),
    ("templates/", "jinja2 (pages)"),
    ("sqlalchemy", "SQLAlchemy"),
    ("json/", "json"),
    ("html/", "html.parser"),
    ("markupsafe", "jinja2 (pages)"),
)
CALLS = (
    ("execute", "SQLite"),
    ("executemany", "SQLite"),
    ("fsync", "file writes and syncs"),
    ("sync", "file writes and syncs"),
    ("open", "file writes and syncs"),
    ("write", "file writes and syncs"),
    ("replace", "file writes and syncs"),
    ("read", "file reads"),
    ("stat", "file reads"),
    ("sub", "regular expressions"),
    ("search", "regular expressions"),
    ("match", "regular expressions"),
    ("findall", "regular expressions"),
    ("finditer", "regular expressions"),
)


def _part(path: str, name: str) -> str:
    for marker, part in PARTS:
        if marker in path:
            return part
    if path == "~":
        for marker, part in CALLS:
            if marker in name:
                return part
        return "other built-ins"
    return "other Python libraries"


def table(sizes: dict[int, dict[str, list[float]]]) -> str:
    lines = [
        "| pages | releases | cold scan + publish s | of which publish s | releases/s "
        "| floor s | scan / floor | peak MB, all processes (main) | rescan s "
        "| one new file: scan s, publish s "
        "(files written) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for size, found in sizes.items():
        ratio = statistics.median(found["cold_seconds"]) / statistics.median(found["floor"])
        lines.append(
            f"| {size:,} | {int(found['releases'][0]):,} | {spread(found['cold_seconds'])} "
            f"| {spread(found['cold_publish'])} | {spread(found['rate'], 0)} "
            f"| {spread(found['floor'])} | {ratio:.0f}x | {spread(found['cold_peak_mb'], 0)} "
            f"({statistics.median(found['cold_own_mb']):.0f}) "
            f"| {spread(found['rescan'])} | {spread(found['new_scan'])}, "
            f"{spread(found['new_publish'], 3)} ({int(statistics.median(found['new_written']))}) |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 20000, 100000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--quick", action="store_true", help="500 pages, one run")
    args = parser.parse_args()
    sizes = [500] if args.quick else args.sizes
    started = time.perf_counter()
    results: dict[int, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory(prefix="pressfeed-bench-") as name:
        tmp = Path(name)
        for size in sizes:
            runs = 1 if args.quick or size >= LARGE else args.runs
            results[size] = bench_size(size, runs, tmp)
        profiled = profile(min(sizes), tmp)
    text = report(results, profiled, min(sizes), args.runs)
    print(text)
    print(f"(benchmark took {time.perf_counter() - started:.0f} s)")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")


def report(results: dict[int, dict[str, list[float]]], profiled: str, size: int, runs: int) -> str:
    return f"""## Scan and publish

A cold scan reads, extracts, classifies and stores every page, then publishes every feed,
archive month and release page. Median (min-max) of {runs} runs, each in a fresh process
(one run from {LARGE:,} pages). The floor reads every file and runs one keyword regex over
it. A rescan finds nothing changed; "one new file" adds one release page to the full content
directory (dated in a month that already holds releases, as a new release dated today
usually is) and times its scan and the publish that follows.

{table(results)}

Where one cold scan and publish of {size:,} pages spends its time, in one process (the
profile's own time per function, grouped):

{profiled}
"""


if __name__ == "__main__":
    main()
