"""Writes N synthetic release pages in the shapes real content arrives in, from a fixed seed.

Shapes: listing pages (several releases, newest first, some datelines without a year, a photo
caption), single releases under site navigation with a contact block, undated country pages,
Markdown and HTML releases. Every release has its own text, and every file a time of its own
within the ten years the datelines cover.

    python benchmarks/generate.py 20000 /tmp/content --seed 1
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
from collections.abc import Callable
from pathlib import Path

WORDS = [
    "migrants",
    "refugees",
    "families",
    "children",
    "teams",
    "partners",
    "authorities",
    "communities",
    "support",
    "assistance",
    "shelter",
    "water",
    "food",
    "schools",
    "programme",
    "regional",
    "national",
    "local",
    "province",
    "district",
    "border",
    "office",
    "staff",
    "report",
    "data",
    "survey",
    "needs",
    "response",
    "recovery",
    "plan",
    "funding",
    "donors",
    "appeal",
    "training",
    "workshop",
    "project",
    "services",
    "access",
    "protection",
    "return",
    "reintegration",
    "displacement",
    "camps",
    "settlement",
    "livelihoods",
    "jobs",
    "skills",
    "women",
    "youth",
    "elders",
    "villages",
    "towns",
    "roads",
    "rains",
    "drought",
    "floods",
    "season",
    "harvest",
    "market",
    "trade",
    "transport",
    "workers",
    "employers",
]
TOPIC_WORDS = [
    "Libya",
    "Libyan",
    "Tripoli",
    "rescue",
    "rescued",
    "boat",
    "shipwreck",
    "Mediterranean",
    "disembarkation",
    "health",
    "malaria",
    "tuberculosis",
    "vaccination",
    "clinic",
    "psychosocial",
    "Global",
    "Compact",
    "governance",
    "Council",
    "member",
    "states",
    "agreement",
    "policy",
]
PLACES = [
    "Geneva",
    "Rome",
    "Tripoli",
    "Valletta",
    "Dakar",
    "Niamey",
    "Amman",
    "Kabul",
    "Bogotá",
    "Nairobi",
    "Dhaka",
    "Manila",
]
MONTHS = "January February March April May June July August September October November December"
NAV = "-\nWho we are\nWHO WE AREThe Organization works for humane migration.\nOur Work\nOur Work\n"
NAV += "- Where we work\n- Take action\n"


class Writer:
    """Unique sentences from a seeded random source."""

    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)
        self.serial = 0

    def sentence(self, words: int = 18) -> str:
        self.serial += 1
        picked = self.random.choices(WORDS, k=words - 2) + self.random.choices(TOPIC_WORDS, k=2)
        self.random.shuffle(picked)
        return f"{picked[0].capitalize()} {' '.join(picked[1:])} case {self.serial}."

    def headline(self) -> str:
        self.serial += 1
        words = self.random.choices(WORDS + TOPIC_WORDS, k=self.random.randint(6, 12))
        return f"{' '.join(words).capitalize()} {self.serial}"

    def paragraph(self, sentences: int = 3) -> str:
        return " ".join(self.sentence() for _ in range(sentences))

    def date(self) -> dt.date:
        return dt.date(2015, 1, 1) + dt.timedelta(days=self.random.randint(0, 3650))

    def place(self) -> str:
        return self.random.choice(PLACES)


def dateline(writer: Writer, day: dt.date, *, with_year: bool = True) -> str:
    month = MONTHS.split()[day.month - 1]
    if writer.random.random() < 0.3:
        return f"{month} {day.day}, {day.year} -"
    year = f" {day.year}" if with_year else ""
    return f"{writer.place()}, {day.day} {month}{year} –"


def listing_page(writer: Writer) -> str:
    days = sorted((writer.date() for _ in range(writer.random.randint(3, 8))), reverse=True)
    parts = ["Home / News", ""]
    for i, day in enumerate(days):
        yearless = i > 0 and days[i - 1].year == day.year and writer.random.random() < 0.3
        parts += [
            writer.headline(),
            "",
            f"{dateline(writer, day, with_year=not yearless)} {writer.paragraph(2)}",
            "",
        ]
        if writer.random.random() < 0.15:
            parts += [f"A view of the {writer.place()} office. ©Agency/Photographer {day.year}", ""]
    return "\n".join(parts)


def single_page(writer: Writer) -> str:
    body = "\n".join(writer.paragraph() for _ in range(writer.random.randint(3, 8)))
    contact = f"For more information please contact Ana Ruiz, Tel: +41 22 555 {writer.serial:04d}"
    return f"{NAV}{writer.headline()}\n{writer.place()} – {writer.paragraph()}\n{body}\n{contact}\n"


def undated_page(writer: Writer) -> str:
    return NAV + "\n".join(writer.paragraph(4) for _ in range(3)) + "\n"


def markdown_page(writer: Writer) -> str:
    day = writer.date()
    lead = f"**{dateline(writer, day)[:-2]}** – {writer.paragraph()}"
    return f"# {writer.headline()}\n\n{lead}\n\n{writer.paragraph()}\n"


def html_page(writer: Writer) -> str:
    day = writer.date()
    paragraphs = "".join(f"<p>{writer.paragraph()}</p>" for _ in range(3))
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>News</title></head><body>"
        "<nav><a href='/'>Home</a> <a href='/news'>News</a></nav><main><article>"
        f"<h1>{writer.headline()}</h1><p>{dateline(writer, day)} {writer.paragraph()}</p>"
        f"{paragraphs}</article></main><footer>© Agency</footer></body></html>"
    )


SHAPES: tuple[tuple[str, Callable[[Writer], str], float], ...] = (
    (".txt", listing_page, 0.35),
    (".txt", single_page, 0.35),
    (".txt", undated_page, 0.1),
    (".md", markdown_page, 0.1),
    (".html", html_page, 0.1),
)


def generate(count: int, root: Path, seed: int = 1) -> None:
    """Write `count` pages under `root`, 500 to a directory."""
    writer = Writer(seed)
    weights = [w for *_, w in SHAPES]
    for n in range(count):
        suffix, shape, _ = writer.random.choices(SHAPES, weights=weights)[0]
        path = root / f"d{n // 500:03d}" / f"page{n:06d}{suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(shape(writer), encoding="utf-8")
        # A folder filled over years holds old file times, and undated pages take their date
        # from the file: left at today, they would all crowd into the current month.
        saved = dt.datetime.combine(writer.date(), dt.time(12), dt.UTC).timestamp()
        os.utime(path, (saved, saved))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", type=int)
    parser.add_argument("root", type=Path)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    generate(args.count, args.root, args.seed)


if __name__ == "__main__":
    main()
