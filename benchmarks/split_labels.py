"""Split a labels file into a tuning half and a held-out half, the same way on every machine.

A file goes to the held-out half when the first byte of the SHA-1 of its name is odd, so the
split depends on nothing but the names. Rules are written against the tuning half only; the
held-out half is what the published figures are measured on.

    python benchmarks/split_labels.py build/devset/golden.json --out build/devset
    pressfeed eval build/devset/held-out.json build/devset/files
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path


def held_out(name: str) -> bool:
    return hashlib.sha1(name.encode("utf-8")).digest()[0] % 2 == 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("labels", type=Path)
    parser.add_argument("--out", type=Path, required=True, help="directory for the two halves")
    args = parser.parse_args()
    data = json.loads(args.labels.read_text(encoding="utf-8"))
    for half, wanted in (("tuning", False), ("held-out", True)):
        files = {n: f for n, f in data["files"].items() if held_out(n) == wanted}
        part = {**data, "about": f"{data.get('about', '')} ({half} half)", "files": files}
        path = args.out / f"{half}.json"
        path.write_text(json.dumps(part, ensure_ascii=False, indent=1), encoding="utf-8")
        print(f"{path}: {len(files)} files")


if __name__ == "__main__":
    main()
