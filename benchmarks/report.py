"""Joins the sections the benchmarks wrote into docs/benchmarks.md, under the machine they ran on.

python benchmarks/report.py build/bench docs/benchmarks.md
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import sys
from pathlib import Path

ORDER = (
    "scan.md",
    "publish.md",
    "classify.md",
    "latency.md",
    "websub.md",
    "digest.md",
    "senders.md",
    "http.md",
    "extraction.md",
    "parsers.md",
)


def machine() -> str:
    model = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kb = int(meminfo.read_text().split()[1])
        memory = f", {kb / 1024 / 1024:.0f} GiB of memory"
    return (
        f"{os.cpu_count()} cores ({model}){memory}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def main() -> None:
    sections, out = Path(sys.argv[1]), Path(sys.argv[2])
    parts = [
        "# Benchmarks\n",
        "Written by `make bench`, which runs every benchmark below from scratch on the machine it",
        "runs on; each figure is compared with a baseline measured in the same command.",
        "`docs/performance.md` reads them against the targets and says why a missed one is.\n",
        f"Machine: {machine()}. Run on {dt.date.today().isoformat()}.\n",
    ]
    for name in ORDER:
        path = sections / name
        if path.exists():
            parts.append(path.read_text(encoding="utf-8").rstrip() + "\n")
        else:
            parts.append(f"## {name.removesuffix('.md')}\n\nNot run: `{path}` is missing.\n")
    out.write_text("\n".join(parts), encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
