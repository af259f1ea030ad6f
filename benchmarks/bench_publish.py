"""Publish benchmark: pressfeed's full publish against Hugo on the same releases, same run.

Generates pages, scans them into a fresh store (not timed), then times, each run a fresh
process and the median of the runs:
- `pressfeed publish --full` into an empty output folder;
- `pressfeed publish --full` again, nothing changed;
- Hugo (Debian's `hugo`, a widely used static site generator written in Go) building the same
  releases, given as Markdown pages with a `topics` taxonomy: a page per release, a page and an
  RSS feed (the newest 50, as pressfeed's `feed_length`) per topic, into an empty folder; its
  templates make pressfeed's pages (the same head, navigation, topics with their feed links,
  previous and next, footer, and stylesheet), so that both write pages of one weight.
Files and bytes are what each wrote (bytes: the sum of file sizes).

    python benchmarks/bench_publish.py --size 20000 --runs 3 --out build/bench/publish.md
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench_scan import spread  # one way to print a median and its range

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
FEED_LENGTH = 50

HUGO_CONFIG = f"""baseURL = "http://127.0.0.1:8080/"
title = "pressfeed"
disableKinds = ["sitemap", "robotsTXT", "404"]
[taxonomies]
  topic = "topics"
[outputs]
  home = ["HTML", "RSS"]
  page = ["HTML"]
  section = ["HTML"]
  taxonomy = ["HTML"]
  term = ["HTML", "RSS"]
[services.rss]
  limit = {FEED_LENGTH}
"""
# Hugo's pages are pressfeed's release and list pages in Hugo's templates: the same head
# (canonical, a feed link per topic, the stylesheet), navigation, topics with their feed
# links, previous and next release, and footer, so that both sites weigh the same per page.
HUGO_HEAD = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>{{ .Title }} – pressfeed</title>
<link rel="canonical" href="{{ .Permalink }}">
FEEDS<link rel="stylesheet" href="{{ "site.css" | absURL }}">
</head>
<body>
<a class="skip" href="#main_content">Skip to content</a>
<header>
<p class="site"><a href="{{ .Site.BaseURL }}">pressfeed</a></p>
<nav class="site" aria-label="Site">
<ul class="inline">
  <li><a href="{{ .Site.BaseURL }}">Topics and feeds</a></li>
</ul>
</nav>
</header>
<main id="main_content">
"""
HUGO_FOOT = """</main>
<footer>
<p><a href="{{ .Site.BaseURL }}">pressfeed</a>: every topic and its feeds.</p>
</footer>
</body>
</html>
"""
HUGO_SINGLE = (
    HUGO_HEAD.replace(
        "FEEDS",
        """{{ range .GetTerms "topics" }}<link rel="alternate" type="application/rss+xml" \
title="{{ .LinkTitle }}" href="{{ .Permalink }}index.xml">
{{ end }}""",
    )
    + """<article>
<h1>{{ .Title }}</h1>
<p class="meta">
  <time datetime="{{ .Date.Format "2006-01-02" }}">{{ .Date.Format "2 January 2006" }}</time>
  {{ with .Params.place }}· {{ . }}{{ end }}
</p>
{{ .Content }}
</article>
<h2>Topics</h2>
<ul class="topic-list">
{{ range .GetTerms "topics" }}  <li>
    <a href="{{ .Permalink }}">{{ .LinkTitle }}</a>
    <ul class="inline subscribe">
  <li><a href="{{ .Permalink }}index.xml" type="application/rss+xml">RSS</a></li>
</ul>
  </li>
{{ end }}</ul>
<nav class="pages" aria-label="Releases before and after">
<ul>
{{ with .PrevInSection }}  <li>Previous release: <a rel="prev" href="{{ .Permalink }}">\
{{ .Title }}</a></li>
{{ end }}{{ with .NextInSection }}  <li>Next release: <a rel="next" href="{{ .Permalink }}">\
{{ .Title }}</a></li>
{{ end }}</ul>
</nav>
"""
    + HUGO_FOOT
)
HUGO_LIST = (
    HUGO_HEAD.replace(
        "FEEDS",
        """{{ with .OutputFormats.Get "rss" }}<link rel="alternate" \
type="application/rss+xml" title="{{ $.Title }}" href="{{ .Permalink }}">
{{ end }}""",
    )
    + """<h1>{{ .Title }}</h1>
<ul class="latest">
{{ range first 50 .Pages }}  <li><a href="{{ .Permalink }}">{{ .Title }}</a>
    <time datetime="{{ .Date.Format "2006-01-02" }}">{{ .Date.Format "2 January 2006" }}</time></li>
{{ end }}</ul>
"""
    + HUGO_FOOT
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=20_000, help="generated pages")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--quick", action="store_true", help="2,000 pages, one run")
    args = parser.parse_args()
    size, runs = (2_000, 1) if args.quick else (args.size, args.runs)
    if shutil.which("hugo") is None:
        sys.exit("bench_publish: hugo is not installed (apt-get install hugo)")
    with tempfile.TemporaryDirectory(prefix="pressfeed-publish-") as tmp:
        text = run(Path(tmp), size, runs)
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")


def run(work: Path, size: int, runs: int) -> str:
    content, config = work / "content", work / "pressfeed.toml"
    subprocess.run(
        [sys.executable, str(HERE / "generate.py"), str(size), str(content)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    output = work / "feeds"
    config.write_text(
        f'content_dir = "{content}"\noutput_dir = "{output}"\n'
        f'database = "{work / "pressfeed.db"}"\n'
        f'topics_file = "{ROOT / "config" / "topics.toml"}"\n'
        f'templates_dir = "{ROOT / "templates"}"\nfeed_length = {FEED_LENGTH}\n',
        encoding="utf-8",
    )
    pressfeed(config, "scan")
    empty: list[float] = []
    unchanged: list[float] = []
    for _ in range(runs):
        shutil.rmtree(output, ignore_errors=True)
        empty.append(timed(lambda: pressfeed(config, "publish", "--full")))
        unchanged.append(timed(lambda: pressfeed(config, "publish", "--full")))
    ours = tree_size(output)
    releases = export_for_hugo(config, work / "hugo", output / "site.css")
    hugo_times: list[float] = []
    public = work / "public"
    for _ in range(runs):
        shutil.rmtree(public, ignore_errors=True)
        hugo_times.append(timed(lambda: hugo(work / "hugo", public)))
    theirs = tree_size(public)
    return report(size, releases, runs, empty, unchanged, ours, hugo_times, theirs)


def pressfeed(config: Path, *command: str) -> None:
    program = Path(sys.executable).parent / "pressfeed"
    subprocess.run(
        [str(program), "--config", str(config), *command],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def hugo(site: Path, public: Path) -> None:
    subprocess.run(
        ["hugo", "--quiet", "--source", str(site), "--destination", str(public)],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def timed(action: Callable[[], None]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def export_for_hugo(config: Path, site: Path, stylesheet: Path) -> int:
    """Every stored release as a Hugo page, and pressfeed's `stylesheet` as Hugo's; the count
    of releases."""
    script = """
import json, sys
from pathlib import Path
from pressfeed import store
from pressfeed.config import load_settings
settings = load_settings(Path(sys.argv[1]), environ={})
engine = store.open_store(settings.database)
pages = Path(sys.argv[2])
pages.mkdir(parents=True)
count = 0
with engine.connect() as connection:
    ids = store.all_release_ids(connection)
    for start in range(0, len(ids), 500):
        for stored in store.releases_by_id(connection, ids[start:start + 500]).values():
            release = stored.release
            front = ["---", "title: " + json.dumps(release.title),
                     "date: " + release.date.isoformat(),
                     "place: " + json.dumps(release.place or ""),
                     "topics: " + json.dumps(list(stored.topics)), "---", ""]
            body = "\\n\\n".join(release.paragraphs)
            (pages / f"{release.id}.md").write_text("\\n".join(front) + body + "\\n")
            count += 1
print(count)
"""
    (site / "layouts" / "_default").mkdir(parents=True)
    (site / "hugo.toml").write_text(HUGO_CONFIG, encoding="utf-8")
    layouts = site / "layouts" / "_default"
    (layouts / "single.html").write_text(HUGO_SINGLE, encoding="utf-8")
    (layouts / "list.html").write_text(HUGO_LIST, encoding="utf-8")
    (site / "static").mkdir()
    shutil.copyfile(stylesheet, site / "static" / "site.css")
    found = subprocess.run(
        [sys.executable, "-c", script, str(config), str(site / "content" / "releases")],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(found.stdout.strip())


def tree_size(root: Path) -> tuple[int, int]:
    """Files and the sum of their sizes under `root`."""
    sizes = [p.stat().st_size for p in root.rglob("*") if p.is_file()]
    return len(sizes), sum(sizes)


def version() -> str:
    found = subprocess.run(["hugo", "version"], check=True, capture_output=True, text=True)
    return found.stdout.split()[1].split("+")[0]


def report(
    size: int,
    releases: int,
    runs: int,
    empty: list[float],
    unchanged: list[float],
    ours: tuple[int, int],
    hugo_times: list[float],
    theirs: tuple[int, int],
) -> str:
    mb = 1024 * 1024
    ratio = statistics.median(empty) / statistics.median(hugo_times)
    rows = [
        f"| pressfeed `publish --full`, empty folder | {spread(empty)} | {ours[0]:,} "
        f"| {ours[1] / mb:,.0f} |",
        f"| pressfeed `publish --full`, nothing changed | {spread(unchanged)} | | |",
        f"| Hugo {version()} | {spread(hugo_times)} | {theirs[0]:,} | {theirs[1] / mb:,.0f} |",
    ]
    lines = [
        "## Publish against Hugo",
        "",
        f"{size:,} generated pages ({releases:,} releases) scanned into a fresh store, then",
        "published whole by pressfeed and built by Hugo from the same releases (Markdown pages",
        "with a `topics` taxonomy: a page per release, a page and an RSS feed of the newest",
        f"{FEED_LENGTH} per topic). Wall time of a fresh process each, start-up included; median",
        f"(min-max) of {runs} runs. Bytes are the sum of the sizes of the files written.",
        "",
        "| | seconds | files | MB |",
        "|---|---|---|---|",
        *rows,
        "",
        f"pressfeed / Hugo: time {ratio:.2f}x, bytes {ours[1] / theirs[1]:.2f}x; a full publish "
        f"with nothing changed takes {statistics.median(unchanged) / statistics.median(empty):.2f}"
        " of one into an empty folder.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
