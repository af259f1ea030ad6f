"""Extraction benchmark: headline, date and main text of real saved web pages, beside
trafilatura + htmldate.

The pages are the extraction development set, materialised locally (never committed) into
build/devset-extraction/: files/dNNN.html and golden.json with the hand-checked headline and
date of each page. Main text is scored against the article bodies of the pages that come from
scrapinghub/article-extraction-benchmark (its ground-truth.json, matched by URL), with that
suite's measure: F1 over shingles of four words, precision and recall averaged over pages.
Figures are given for the whole set and for its two halves: odd-numbered pages (the ones rules
were tuned on) and even-numbered ones (held out), or the halves a set's golden.json names (the
second check set of benchmarks/materialize_extra_pages.py: A tuned on, B held out).

    python benchmarks/bench_extraction.py --devset build/devset-extraction \
        --ground-truth build/devset-extraction/ground-truth.json --out build/bench/extraction.md

trafilatura and htmldate come from the `bench` extra (pip install -e '.[bench]'); without
them the comparison column is left out.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import statistics
import sys
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))

from pressfeed.extract import extract_text  # noqa: E402

TODAY = dt.date(2026, 12, 1)  # after every page's date; a fixed "now" keeps runs comparable
_INVISIBLE = re.compile("[\u00ad\u200b\u200c\u200d\u2060\ufeff]")
_QUOTES = str.maketrans("‘’‚‛“”„‟«»‹›–—‐‑‒―−", "''''\"\"\"\"\"\"''-------")
_TOKEN = re.compile(r"\w+")


@dataclass(frozen=True)
class Page:
    name: str
    text: str
    title: tuple[str, ...]  # the headline and its accepted other forms; empty: not labelled
    date: str | None
    body: str | None  # ground-truth main text, where the suite has one
    half: str | None = None  # the set's own split ("A", "B"), where it has one


@dataclass(frozen=True)
class Guess:
    title: str
    date: str | None
    body: str


Extractor = Callable[[str], Guess]


def load_pages(devset: Path, ground_truth: Path | None) -> list[Page]:
    golden = json.loads((devset / "golden.json").read_text(encoding="utf-8"))
    bodies: dict[str, str] = {}
    if ground_truth is not None and ground_truth.is_file():
        truth = json.loads(ground_truth.read_text(encoding="utf-8"))
        bodies = {v["url"]: v.get("articleBody", "") for v in truth.values() if v.get("url")}
    pages = []
    for entry in golden["pages"]:
        data = (devset / "files" / entry["file"]).read_bytes()
        pages.append(
            Page(
                name=entry["file"],
                text=data.decode("utf-8", "replace"),
                title=(entry["title"], *entry.get("title_alt", [])) if entry["title"] else (),
                date=entry["date"],
                body=bodies.get(entry.get("url") or ""),
                half=entry.get("half"),
            )
        )
    return pages


def pressfeed_guess(text: str) -> Guess:
    releases = extract_text(text, ".html", source="page.html", file_date=TODAY, today=TODAY)
    if not releases:
        return Guess("", None, "")
    first = releases[0]
    date = first.stated_date.isoformat() if first.stated_date else None
    return Guess(first.title, date, "\n\n".join(first.paragraphs))


def trafilatura_guess(text: str) -> Guess:
    import htmldate
    import trafilatura

    found = trafilatura.bare_extraction(
        text,
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        include_formatting=False,
        fast=False,
    )
    date = htmldate.find_date(text, original_date=True, extensive_search=True)
    if found is None:
        return Guess("", date, "")
    values = found.as_dict() if hasattr(found, "as_dict") else dict(found)
    return Guess(values.get("title") or "", date, values.get("text") or "")


# --- scoring ------------------------------------------------------------------------------------


def normalise_title(text: str) -> str:
    text = _INVISIBLE.sub("", unicodedata.normalize("NFKC", text)).translate(_QUOTES)
    return " ".join(text.split()).casefold()


def shingles(text: str, size: int = 4) -> Counter[tuple[str, ...]]:
    tokens = _TOKEN.findall(text)
    return Counter(tuple(tokens[i : i + size]) for i in range(max(1, len(tokens) - size + 1)))


def overlap(truth: str, guess: str) -> tuple[float, float]:
    """Precision and recall of the guessed text's four-word shingles; (1, 1) when both empty."""
    want, got = shingles(truth), shingles(guess)
    common = sum((want & got).values())
    wanted, given = sum(want.values()), sum(got.values())
    precision = common / given if given else float(not wanted)
    recall = common / wanted if wanted else float(not given)
    return precision, recall


@dataclass(frozen=True)
class Score:
    pages: int  # with a labelled headline
    titles: int
    dated: int
    dates: int
    bodies: int
    f1: float | None
    title_misses: tuple[str, ...]
    date_misses: tuple[str, ...]

    def row(self) -> tuple[str, str, str]:
        f1 = f"{self.f1:.3f} ({self.bodies} pages)" if self.f1 is not None else "-"
        return (
            f"{self.titles / self.pages:.3f} ({self.titles}/{self.pages})" if self.pages else "-",
            f"{self.dates / self.dated:.3f} ({self.dates}/{self.dated})" if self.dated else "-",
            f1,
        )


def score(pages: Sequence[Page], guesses: dict[str, Guess]) -> Score:
    titles = dates = dated = titled = 0
    title_misses, date_misses = [], []
    precisions, recalls = [], []
    for page in pages:
        guess = guesses[page.name]
        if page.title:
            titled += 1
            if normalise_title(guess.title) in {normalise_title(t) for t in page.title}:
                titles += 1
            else:
                title_misses.append(page.name)
        if page.date is not None:
            dated += 1
            if (guess.date or "")[:10] == page.date:
                dates += 1
            else:
                date_misses.append(page.name)
        if page.body is not None:
            precision, recall = overlap(page.body, guess.body)
            precisions.append(precision)
            recalls.append(recall)
    f1 = None
    if precisions:
        p, r = statistics.mean(precisions), statistics.mean(recalls)
        f1 = 2 * p * r / (p + r) if p + r else 0.0
    return Score(
        titled, titles, dated, dates, len(precisions), f1,
        tuple(title_misses), tuple(date_misses),
    )  # fmt: skip


def run(pages: Sequence[Page], extractor: Extractor, passes: int) -> tuple[dict[str, Guess], float]:
    """Each page's guess, and pages per second: the median of `passes` timed passes."""
    guesses = {p.name: extractor(p.text) for p in pages}
    rates = []
    for _ in range(passes):
        start = time.perf_counter()
        for page in pages:
            extractor(page.text)
        rates.append(len(pages) / (time.perf_counter() - start))
    return guesses, statistics.median(rates)


def halves(pages: Sequence[Page]) -> dict[str, list[Page]]:
    """The set's own halves where its labels name them, else odd- and even-numbered pages."""
    named = sorted({p.half for p in pages if p.half})
    if named:
        return {"all pages": list(pages)} | {
            f"half {h}": [p for p in pages if p.half == h] for h in named
        }
    number = {p.name: int(re.sub(r"\D", "", p.name) or 0) for p in pages}
    return {
        "all pages": list(pages),
        "odd pages (tuning half)": [p for p in pages if number[p.name] % 2],
        "even pages (held-out half)": [p for p in pages if not number[p.name] % 2],
    }


NOT_RUN = """## Extraction from saved web pages

Not run: no development set at `{devset}`. Materialise it as `docs/extraction.md` says.
"""


# --- report -------------------------------------------------------------------------------------


_SET_NAME = {False: "the extraction development set", True: "the second check set"}
_TUNED_ON = {
    False: "odd-numbered pages only; the even-numbered ones are held out.",
    True: "pages of half A only; half B is held out.",
}


def report(results: dict[str, tuple[dict[str, Guess], float]], pages: Sequence[Page]) -> str:
    named = any(p.half for p in pages)
    lines = [
        "## Extraction from saved web pages",
        "",
        f"{len(pages)} real news and organisation pages of {_SET_NAME[named]}",
        "(hand-checked headline and date per page; main text against the article bodies of the",
        "article-extraction-benchmark pages, F1 over four-word shingles). Headline exact: equal",
        "after Unicode NFKC, quotes, dashes, spaces and case are normalised; date exact: the",
        "same day. Pages/s: one process, the median of timed passes over the pages in memory",
        "(parsing included, file reading and start-up not). pressfeed's rules were tuned on the",
        _TUNED_ON[named],
        "",
        "| extractor | pages | headline exact | date exact | main-text F1 | pages/s |",
        "|---|---|---|---|---|---|",
    ]
    for name, (guesses, rate) in results.items():
        for part, subset in halves(pages).items():
            headline, date, f1 = score(subset, guesses).row()
            speed = f"{rate:.0f}" if part == "all pages" else ""
            lines.append(f"| {name} | {part} | {headline} | {date} | {f1} | {speed} |")
    return "\n".join(lines) + "\n"


def misses(pages: Sequence[Page], guesses: dict[str, Guess]) -> str:
    result = score(pages, guesses)
    by_name = {p.name: p for p in pages}
    out = []
    for name in result.title_misses:
        out.append(f"title {name}: {guesses[name].title!r} != {by_name[name].title[0]!r}")
    for name in result.date_misses:
        out.append(f"date {name}: {guesses[name].date} != {by_name[name].date}")
    for page in pages:
        if page.body is not None:
            p, r = overlap(page.body, guesses[page.name].body)
            if 2 * p * r / (p + r or 1) < 0.8:
                out.append(f"body {page.name}: precision {p:.2f} recall {r:.2f}")
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devset", type=Path, default=ROOT / "build" / "devset-extraction")
    parser.add_argument("--ground-truth", type=Path, default=None)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="one timed pass")
    parser.add_argument("--pressfeed-only", action="store_true")
    parser.add_argument("--misses", action="store_true", help="list every page missed")
    args = parser.parse_args(argv)
    if not (args.devset / "golden.json").is_file():
        text = NOT_RUN.format(devset=args.devset)
        print(text, file=sys.stderr)
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(text, encoding="utf-8")
        return 0
    truth = args.ground_truth or args.devset / "ground-truth.json"
    pages = load_pages(args.devset, truth)
    passes = 1 if args.quick else args.passes
    results = {"pressfeed": run(pages, pressfeed_guess, passes)}
    if not args.pressfeed_only and _has_trafilatura():
        results["trafilatura 2.3 + htmldate 1.11"] = run(pages, trafilatura_guess, passes)
    text = report(results, pages)
    print(text)
    if args.misses:
        print(misses(pages, results["pressfeed"][0]))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
    return 0


def _has_trafilatura() -> bool:
    try:
        import htmldate  # noqa: F401
        import trafilatura  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
