"""Hostile files in the content directory: each is reported by name, none stops the scan, and
no markup from a release reaches a feed, page or mail as markup.

One content directory holds every case of tests/hostile_files.py beside good releases; one real
scan (SQLite on tmp_path), a second scan, a publish and a rendered digest are shared by the
tests below, each of which checks one promise.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path

import feedparser
import pytest
from sqlalchemy import Engine

from pressfeed import store
from pressfeed.config import load_settings
from pressfeed.digest import build_digest, mail_settings
from pressfeed.errors import SourceError
from pressfeed.mail import digest_message
from pressfeed.markup import simplify_html
from pressfeed.models import Frequency, Settings, StoredRelease, Subscriber
from pressfeed.publish import publish
from pressfeed.scan import ScanReport, scan_content
from pressfeed.sources import SourceFile, discover, read_source
from tests.conftest import NOW, write_settings
from tests.hostile_files import (
    AS_ROOT,
    BIG,
    HOSTILE_TITLE,
    SECRET,
    Case,
    Expect,
    write_corpus,
)

LATER = NOW + dt.timedelta(minutes=10)
SECOND_HALF = "The second half arrived after the first scan.\n"
# What a release carried as text and must never come back as markup.
LIVE_TAGS = frozenset({"script", "iframe", "object", "embed", "frame", "frameset", "applet"})


@dataclass
class Scanned:
    settings: Settings
    engine: Engine
    cases: list[Case]
    first: ScanReport
    second: ScanReport
    after_first: dict[str, StoredRelease]  # live releases by title
    releases: dict[str, StoredRelease]
    log: list[str]
    digest: EmailMessage


class _Recorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def _touch_mid_scan(file: SourceFile) -> None:
    """Called once each file is found and before it is read: the moment files change under us."""
    if file.name == "vanishing.txt":
        file.path.unlink()
    elif file.name == "growing.txt":
        with file.path.open("a", encoding="utf-8") as handle:
            handle.write(SECOND_HALF)
    elif file.name == "swapped.txt":
        file.path.unlink()
        file.path.symlink_to(file.path.parents[1] / "outside" / "secret.txt")


def _live(engine: Engine) -> dict[str, StoredRelease]:
    with engine.connect() as connection:
        return {s.release.title: s for s in store.live_releases(connection)}


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scanned]:
    base = tmp_path_factory.mktemp("hostile")
    settings = load_settings(write_settings(base, 'fallback_encoding = "cp1252"\n'), environ={})
    cases = write_corpus(settings.content_dir, base / "outside")
    engine = store.open_store(settings.database)
    recorder = _Recorder()
    logger = logging.getLogger("pressfeed")
    level = logger.level
    logger.addHandler(recorder)
    logger.setLevel(logging.INFO)
    try:
        first = scan_content(settings, engine, now=NOW, progress=_touch_mid_scan)
        after_first = _live(engine)
        second = scan_content(settings, engine, now=LATER)
        publish(settings, engine)
        releases = _live(engine)
        digest = _digest(settings, engine, list(releases.values()))
        yield Scanned(
            settings, engine, cases, first, second, after_first, releases, recorder.lines, digest
        )
    finally:
        logger.removeHandler(recorder)
        logger.setLevel(level)
        engine.dispose()
        for folder in (settings.content_dir / "locked", settings.content_dir / "unreadable.txt"):
            folder.chmod(0o700)  # so that tmp_path can be removed


def _digest(settings: Settings, engine: Engine, releases: list[StoredRelease]) -> EmailMessage:
    reader = Subscriber(
        id="s1",
        address="reader@example.org",
        topics=(),
        frequency=Frequency.DAILY,
        hour=8,
        weekday=0,
        timezone="UTC",
        confirmed=True,
        token="t" * 32,
        created=NOW - dt.timedelta(days=2),
    )
    start = NOW - dt.timedelta(days=1)
    digest = build_digest(settings, reader, releases, start, NOW, today=NOW.date())
    return digest_message(digest, mail_settings(settings, engine), now=NOW)


def _problems(report: ScanReport) -> dict[str, SourceError]:
    return {str(p.path): p for p in report.problems}


def _cases(scanned: Scanned, expect: Expect) -> list[Case]:
    return [c for c in scanned.cases if c.expect is expect]


# --- the scan -----------------------------------------------------------------------------------


def test_corpus_holds_at_least_thirty_hostile_files(scanned: Scanned) -> None:
    hostile = [c for c in scanned.cases if not c.name.startswith("good/")]
    assert len(hostile) >= 30


def test_scan_finishes_and_stores_the_good_releases(scanned: Scanned) -> None:
    assert not scanned.first.stopped
    assert "Rescue ship lands 60 survivors in Valletta" in scanned.after_first
    assert "Clinics reopen in the south" in scanned.after_first


def test_every_unusable_file_is_reported_by_name_with_its_reason(scanned: Scanned) -> None:
    problems = _problems(scanned.first)
    wrong = []
    for case in _cases(scanned, Expect.PROBLEM):
        problem = problems.get(case.name)
        if problem is None or case.detail not in problem.reason:
            wrong.append(f"{case.name!r} ({case.what}): {problem or 'not reported'}")
    assert not wrong, "\n".join(wrong)


def test_nothing_is_reported_that_should_have_been_read(scanned: Scanned) -> None:
    readable = {c.name for c in scanned.cases if c.expect is not Expect.PROBLEM}
    assert readable.isdisjoint(_problems(scanned.first))


def test_every_content_file_is_either_stored_or_reported(scanned: Scanned) -> None:
    with scanned.engine.connect() as connection:
        recorded = set(store.file_records(connection))
    reported = set(_problems(scanned.first)) | set(_problems(scanned.second))
    on_disk = set()
    for directory, subdirs, names in os.walk(scanned.settings.content_dir):
        subdirs[:] = [d for d in subdirs if not d.startswith(".")]
        for name in names:
            if Path(name).suffix in (".txt", ".md", ".html"):
                relative = Path(directory, name).relative_to(scanned.settings.content_dir)
                on_disk.add(relative.as_posix())
    silent = on_disk - recorded - reported
    assert not silent


def test_problem_messages_are_one_printable_line_naming_the_file(scanned: Scanned) -> None:
    for problem in scanned.first.problems:
        message = str(problem)
        assert "\n" not in message
        message.encode("utf-8")  # no lone surrogates from undecodable names
        assert ": skipped: " in message
    by_name = _problems(scanned.first)
    assert str(by_name["bad\nname.txt"]).startswith("bad\\nname.txt: skipped: binary")
    assert str(by_name[os.fsdecode(b"legacy-name-\xe9.txt")]).startswith("legacy-name-\\xe9.txt:")


def test_broken_utf8_is_reported_with_its_line(scanned: Scanned) -> None:
    problems = _problems(scanned.first)
    assert problems["invalid-utf8.txt"].line == 1
    assert problems["truncated-utf8.txt"].line == 6
    assert "otherwise UTF-8" in problems["truncated-utf8.txt"].reason


def test_files_without_a_release_are_named_in_the_log(scanned: Scanned) -> None:
    stored_titles = set(scanned.releases)
    for case in _cases(scanned, Expect.READ):
        if case.detail not in stored_titles:
            assert f"{case.name}: no release found" in scanned.log


# --- odd but legitimate files -------------------------------------------------------------------


def test_odd_but_legitimate_files_are_read(scanned: Scanned) -> None:
    missing = [
        f"{c.name!r} ({c.what}): {c.detail!r}"
        for c in _cases(scanned, Expect.READ)
        if c.detail not in scanned.releases
    ]
    assert not missing, "\n".join(missing)


def test_legacy_and_utf16_text_is_decoded_exactly(scanned: Scanned) -> None:
    legacy = scanned.releases["Legacy file – “quoted” café news"].release
    assert "Zürich aid — “all safe”." in legacy.paragraphs[0]
    declared = scanned.releases["Declared legacy page – “café”"].release
    assert "Naïve “quotes” — read by the page's charset." in declared.paragraphs[0]
    assert scanned.releases["UTF-16 release with a byte order mark"].release.date == dt.date(
        2024, 3, 13
    )


def test_a_page_declaring_utf7_is_not_decoded_as_utf7(scanned: Scanned) -> None:
    text = " ".join(scanned.releases["Page declaring UTF-7"].release.paragraphs)
    assert "+ADw-script+AD4-" in text
    assert "<script" not in text


def test_zero_width_and_bidi_controls_go_but_right_to_left_text_stays(scanned: Scanned) -> None:
    release = scanned.releases["Flood relief reaches Sirte"].release
    text = release.title + " ".join(release.paragraphs)
    assert not set(text) & set("\u200b\u200d\u2060\u202a\u202b\u202c\u202d\u202e\u2066\u2069")
    assert "\u0627\u0644\u0625\u063a\u0627\u062b\u0629" in text
    assert "\u200f" in text  # a right-to-left mark is kept: it cannot leak past its place


def test_control_characters_are_dropped(scanned: Scanned) -> None:
    release = scanned.releases["Control characters vanish"].release
    text = " ".join(release.paragraphs)
    assert not any(ord(c) < 32 or 127 <= ord(c) < 160 for c in text)
    assert "bell, escape[31m, form feed, C1 controls." in text  # the escape goes, its text stays


def test_odd_file_names_are_stored_under_their_names(scanned: Scanned) -> None:
    with scanned.engine.connect() as connection:
        recorded = set(store.file_records(connection))
    assert {"name with spaces.txt", "name\nwith a line break.txt", "新闻稿.md"} <= recorded


# --- files that change, links, special files ----------------------------------------------------


def test_file_removed_mid_scan_is_reported_and_the_scan_goes_on(scanned: Scanned) -> None:
    assert (
        "cannot read: removed since it was found"
        in _problems(scanned.first)["vanishing.txt"].reason
    )
    assert "Release that vanishes" not in scanned.releases
    assert "vanishing.txt" not in _problems(scanned.second)


def test_file_still_being_written_waits_for_the_next_scan(scanned: Scanned) -> None:
    assert "Release still being written" not in scanned.after_first
    assert "growing.txt" not in _problems(scanned.second)
    stored = scanned.releases["Release still being written"].release
    assert SECOND_HALF.strip() in stored.paragraphs


def test_link_outside_the_content_directory_is_not_followed(scanned: Scanned) -> None:
    assert not [title for title in scanned.releases if SECRET in title]
    for path in scanned.settings.output_dir.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def test_link_loops_are_reported_and_do_not_hang(scanned: Scanned) -> None:
    problems = _problems(scanned.first)
    for name in ("loop-a.txt", "loop-b.txt", "self-loop.txt"):
        assert problems[name].reason == "symbolic link loop"
    assert not [p for p in problems if p.startswith("good/up")]  # a folder loop is not entered


def test_link_to_a_file_inside_is_read_once(scanned: Scanned) -> None:
    rescue = [t for t in scanned.releases if t.startswith("Rescue ship lands")]
    assert rescue == ["Rescue ship lands 60 survivors in Valletta"]


def test_fifo_is_reported_without_waiting_for_a_writer(scanned: Scanned) -> None:
    assert _problems(scanned.first)["fifo.txt"].reason == "not a regular file (a FIFO)"


@pytest.mark.skipif(AS_ROOT, reason="root reads files and folders of any mode")
def test_unreadable_file_and_folder_are_reported(scanned: Scanned) -> None:
    problems = _problems(scanned.first)
    assert "Permission denied" in problems["unreadable.txt"].reason
    assert "folder cannot be listed" in problems["locked"].reason


def test_sparse_100_mb_file_is_refused_by_its_size(scanned: Scanned) -> None:
    reason = _problems(scanned.first)["sparse-100mb.txt"].reason
    assert reason == f"{BIG} bytes, over max_file_bytes ({scanned.settings.max_file_bytes})"


def test_read_stops_at_the_limit_when_a_file_grows_past_it(tmp_path: Path) -> None:
    path = tmp_path / "grows.txt"
    path.write_text("small\n")
    (found,) = discover(tmp_path)
    with path.open("r+b") as handle:
        handle.truncate(BIG)  # now sparse and 100 MB: only max_bytes + 1 of it may be read
    with pytest.raises(SourceError) as caught:
        read_source(found, max_bytes=1000)
    assert caught.value.reason == f"{BIG} bytes, over max_file_bytes (1000)"


# --- markup never reaches an output as markup ---------------------------------------------------


class _LiveMarkup(HTMLParser):
    """Collects what a browser would run: script-like elements, handlers, javascript: URLs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in LIVE_TAGS:
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=...>")
            if value and value.strip().lower().startswith(("javascript:", "vbscript:", "data:")):
                self.found.append(f"<{tag} {name}={value!r}>")


def live_markup(markup: str) -> list[str]:
    parser = _LiveMarkup()
    parser.feed(markup)
    parser.close()
    return parser.found


def _outputs(scanned: Scanned, *suffixes: str) -> list[Path]:
    found = [p for p in scanned.settings.output_dir.rglob("*") if p.suffix in suffixes]
    assert found
    return sorted(found)


def test_stored_text_keeps_no_script_content(scanned: Scanned) -> None:
    page = scanned.releases["Hostile page headline stays plain text"].release
    text = " ".join(page.paragraphs)
    for gone in ("alert('head')", "injected by script", "in svg", "alert('css')", "page title"):
        assert gone not in text
    assert "the coast with food." in text
    assert "<script>alert('entity')</script>" in text  # written as text on the page: kept as text


def test_no_raw_script_or_iframe_in_any_output_file(scanned: Scanned) -> None:
    for path in _outputs(scanned, ".atom", ".rss", ".json", ".html", ".opml"):
        data = path.read_bytes().lower()
        assert b"<script" not in data, path
        assert b"<iframe" not in data, path


@pytest.mark.parametrize("suffix", [".atom", ".rss"])
def test_feeds_parse_and_their_html_runs_nothing(scanned: Scanned, suffix: str) -> None:
    for path in _outputs(scanned, suffix):
        feed = feedparser.parse(path.read_bytes(), sanitize_html=False)
        assert not feed.bozo, (path, feed.get("bozo_exception"))
        for entry in feed.entries:
            details = [entry.get("summary_detail"), *entry.get("content", [])]
            for detail in details:
                if detail and detail.type in ("text/html", "application/xhtml+xml"):
                    assert not live_markup(detail.value), (path, entry.title)


def test_hostile_title_reaches_the_feeds_as_text(scanned: Scanned) -> None:
    titles = {
        e.title
        for e in feedparser.parse((scanned.settings.output_dir / "all.atom").read_bytes()).entries
    }
    assert HOSTILE_TITLE in titles


def test_json_feeds_carry_markup_only_as_text(scanned: Scanned) -> None:
    for path in _outputs(scanned, ".json"):
        for item in json.loads(path.read_bytes())["items"]:
            assert not live_markup(item["content_html"]), path
    items = json.loads((scanned.settings.output_dir / "all.json").read_bytes())["items"]
    assert HOSTILE_TITLE in {item["title"] for item in items}


def test_pages_run_nothing_and_show_the_markup_as_text(scanned: Scanned) -> None:
    for path in _outputs(scanned, ".html"):
        assert not live_markup(path.read_text(encoding="utf-8")), path
    hostile = scanned.releases[HOSTILE_TITLE].release.id
    page = (scanned.settings.output_dir / "releases" / f"{hostile}.html").read_text()
    assert f"<h1>{html.escape(HOSTILE_TITLE, quote=False)}</h1>" in page.replace("&#39;", "'")


def test_digest_mail_runs_nothing(scanned: Scanned) -> None:
    message = scanned.digest
    html_part = message.get_body(("html",))
    text_part = message.get_body(("plain",))
    assert html_part is not None
    assert text_part is not None
    markup = html_part.get_content()
    assert not live_markup(markup)
    assert "<script" not in markup.lower()
    assert HOSTILE_TITLE in text_part.get_content()  # plain text shows it as it was written
    assert not set(str(message["Subject"])) & {"\n", "\r"}


# --- the parser's worst cases -------------------------------------------------------------------


@pytest.mark.parametrize(
    "page",
    [
        '<a b="' * 50_000,
        "<a" * 50_000,
        "<!--" + "x" * 100_000,
        "<script>" + "x<y" * 50_000,
        "<p title='" + "a" * 100_000,
    ],
    ids=["open-attributes", "open-tags", "open-comment", "open-script", "open-quote"],
)
def test_html_left_open_at_the_end_is_dropped_in_one_pass(page: str) -> None:
    simple = simplify_html("<p>Kept</p>" + page)
    assert simple.startswith("<p>Kept</p>")
    assert len(simple) < 100  # what was left open runs to the end and goes
