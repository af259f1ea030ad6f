"""HTML parser benchmark: lxml (what pressfeed reads pages with) beside selectolax's Lexbor,
on the materialised extraction development set.

Times per page, the median of timed passes over the pages in memory: the parse alone, and the
parse followed by one walk that visits every element and reads its text, which is what reading
a page as shown needs at the least. lxml is run exactly as pressfeed runs it
(`pressfeed.webpage.tree.parse_page`). selectolax comes from the `bench` extra; without it its
rows are left out.

    python benchmarks/bench_parsers.py --devset build/devset-extraction --out build/bench/parsers.md
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))

from pressfeed.webpage.tree import parse_page  # noqa: E402

Step = Callable[[str], object]


def lxml_parse(text: str) -> object:
    return parse_page(text)


def lxml_walk(text: str) -> object:
    root = parse_page(text)
    characters = 0
    if root is not None:
        for element in root.iter():
            characters += len(element.text or "") + len(element.tail or "")
    return characters


def lexbor_parse(text: str) -> object:
    from selectolax.lexbor import LexborHTMLParser

    return LexborHTMLParser(text)


def lexbor_walk(text: str) -> object:
    from selectolax.lexbor import LexborHTMLParser

    root = LexborHTMLParser(text).root
    characters = 0
    if root is not None:
        for node in root.traverse(include_text=True):
            if node.tag == "-text":
                characters += len(node.text_content or "")
    return characters


def per_page_ms(pages: Sequence[str], step: Step, passes: int) -> float:
    """Milliseconds per page: the median of `passes` timed passes, after one untimed."""
    for text in pages:
        step(text)
    times = []
    for _ in range(passes):
        start = time.perf_counter()
        for text in pages:
            step(text)
        times.append((time.perf_counter() - start) / len(pages) * 1000)
    return statistics.median(times)


def has_selectolax() -> bool:
    try:
        import selectolax.lexbor  # noqa: F401
    except ImportError:
        return False
    return True


def report(pages: Sequence[str], passes: int) -> str:
    rows = [("lxml (pressfeed's parse)", per_page_ms(pages, lxml_parse, passes))]
    rows.append(("lxml, parse and walk", per_page_ms(pages, lxml_walk, passes)))
    if has_selectolax():
        rows.append(("selectolax Lexbor", per_page_ms(pages, lexbor_parse, passes)))
        rows.append(("selectolax Lexbor, parse and walk", per_page_ms(pages, lexbor_walk, passes)))
    size = sum(len(p) for p in pages) / len(pages) / 1000
    lines = [
        "## HTML parsers",
        "",
        f"{len(pages)} pages of the extraction development set ({size:.0f} thousand characters "
        f"a page on average), in memory; the median of {passes} timed passes.",
        "",
        "| parser | ms per page |",
        "|---|---|",
        *(f"| {name} | {ms:.2f} |" for name, ms in rows),
        "",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devset", type=Path, default=ROOT / "build" / "devset-extraction")
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--quick", action="store_true", help="one timed pass")
    args = parser.parse_args(argv)
    files = sorted((args.devset / "files").glob("*.html"))
    if not files:
        text = f"## HTML parsers\n\nNot run: no pages in `{args.devset}/files` (see its README).\n"
        print(text, file=sys.stderr)
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(text, encoding="utf-8")
        return 0
    pages = [f.read_text(encoding="utf-8", errors="replace") for f in files]
    text = report(pages, 1 if args.quick else args.passes)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
