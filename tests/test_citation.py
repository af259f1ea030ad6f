"""Where a release comes from: the original page and its publisher, kept and shown everywhere."""

# The SMTP fixture is imported by name, and pytest passes it back as a same-named argument.
# ruff: noqa: F811

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from collections.abc import Sequence
from pathlib import Path

import feedparser
import pytest
from sqlalchemy import Engine, text

from pressfeed import reading, store
from pressfeed.cli import main
from pressfeed.config import load_settings
from pressfeed.digest import digest_sections, send_due_digests
from pressfeed.evaluate import labelled_examples
from pressfeed.extract import extract_text
from pressfeed.identity import release_id
from pressfeed.mail import digest_message
from pressfeed.markup import citable_url
from pressfeed.models import FolderSource, Release, Settings
from pressfeed.pages import render_release
from pressfeed.publish import publish
from pressfeed.scan import scan_content
from pressfeed.templating import environment
from tests import test_mail, test_pages
from tests.conftest import NOW, ROOT, write_settings
from tests.smtp_servers import SmtpServer, smtp_sink  # noqa: F401
from tests.test_digest_delivery import smtp, subscribe
from tests.test_publish import HEALTH
from tests.test_search import drop_search

ORIGINAL = "https://www.iom.int/news/rescue-ship-brings-80-migrants-ashore"
PAGE = f"""<!doctype html><html lang="en"><head>
<title>Rescue ship brings 80 migrants ashore in Sicily | IOM</title>
<meta property="og:url" content="{ORIGINAL}">
<meta property="og:site_name" content="International Organization for Migration">
<meta property="og:type" content="article">
</head><body><article>
<h1>Rescue ship brings 80 migrants ashore in Sicily</h1>
<p>CATANIA, 4 May 2024 – A rescue ship carrying 80 migrants rescued from a sinking rubber boat
in the central Mediterranean disembarked them in Catania on Saturday, IOM said.</p>
<p>The migrants had spent two days at sea before the rescue ship reached them.</p>
</article></body></html>"""
TEXT = """Mobile clinics vaccinate displaced children against measles

MAIDUGURI, 6 May 2024 – Mobile clinics vaccinated 4,000 displaced children against measles
and screened them for malnutrition and malaria this week.

Source: https://www.iom.int/news/mobile-clinics-vaccinate-children
"""


def extracted(text: str, suffix: str) -> list[Release]:
    day = dt.date(2024, 5, 8)
    return extract_text(text, suffix, source=f"page{suffix}", file_date=day, today=day)


def test_a_saved_page_names_its_address_and_publisher() -> None:
    (release,) = extracted(PAGE, ".html")
    assert release.source_url == ORIGINAL
    assert release.organisation == "International Organization for Migration"


def test_a_source_line_gives_the_address_and_leaves_the_body() -> None:
    (release,) = extracted(TEXT, ".txt")
    assert release.source_url == "https://www.iom.int/news/mobile-clinics-vaccinate-children"
    assert not any("Source" in p for p in (*release.paragraphs, *release.contacts))


def test_only_web_addresses_are_cited() -> None:
    assert citable_url("javascript:alert(1)") is None
    assert citable_url("data:text/html,<b>x</b>") is None
    assert citable_url("https://example.org/a b") is None
    assert citable_url("ftp://example.org/file") is None
    assert citable_url(" http://example.org/news?id=3 ") == "http://example.org/news?id=3"
    hostile = PAGE.replace(ORIGINAL, "javascript:alert(1)")
    (release,) = extracted(hostile, ".html")
    assert release.source_url is None


def published(settings: Settings, engine: Engine) -> Settings:
    (settings.content_dir / "rescue.html").write_text(PAGE, encoding="utf-8")
    (settings.content_dir / "clinic.txt").write_text(TEXT, encoding="utf-8")
    cited = dataclasses.replace(settings, organisation="IOM")
    scan_content(cited, engine, now=NOW)
    publish(cited, engine, now=NOW)
    return cited


def test_feeds_link_the_original_and_name_the_publisher(settings: Settings, engine: Engine) -> None:
    out = published(settings, engine).output_dir
    atom = {e.title: e for e in feedparser.parse((out / "all.atom").read_bytes()).entries}
    rescue = atom["Rescue ship brings 80 migrants ashore in Sicily"]
    assert {(link.rel, link.href) for link in rescue.links} >= {("via", ORIGINAL)}
    assert rescue.author == "International Organization for Migration"
    clinic = atom["Mobile clinics vaccinate displaced children against measles"]
    assert clinic.author == "IOM"  # the configured publisher, for a page that names none
    rss = {e.title: e for e in feedparser.parse((out / "all.rss").read_bytes()).entries}
    assert rss["Rescue ship brings 80 migrants ashore in Sicily"].source.href == ORIGINAL
    items = {i["title"]: i for i in json.loads((out / "all.json").read_text())["items"]}
    item = items["Rescue ship brings 80 migrants ashore in Sicily"]
    assert item["external_url"] == ORIGINAL
    assert item["authors"] == [{"name": "International Organization for Migration"}]
    assert f'Source: <a href="{ORIGINAL}">International' in item["content_html"]


def test_the_store_keeps_the_source_and_the_release_page_cites_it(
    settings: Settings, engine: Engine
) -> None:
    cited = published(settings, engine)
    with engine.connect() as connection:
        stored = store.feed_releases(connection, None, limit=10)
    rescue = next(s for s in stored if s.release.source_url == ORIGINAL)
    assert rescue.release.organisation == "International Organization for Migration"
    page = (cited.output_dir / "releases" / f"{rescue.release.id}.html").read_text()
    assert f'Source: <a href="{ORIGINAL}">International Organization for Migration</a>' in page
    sections = digest_sections(cited, (), stored, NOW.date())
    items = {i.title: i for section in sections for i in section.items}
    clinic = items["Mobile clinics vaccinate displaced children against measles"]
    assert clinic.organisation == "IOM"
    assert clinic.source_url == "https://www.iom.int/news/mobile-clinics-vaccinate-children"


def test_a_bare_address_at_the_end_is_a_contact_not_the_source() -> None:
    text = TEXT.replace(
        "Source: https://www.iom.int/news/mobile-clinics-vaccinate-children",
        "For more information, please contact: Jane Doe, jane@example.org\n\n"
        "https://twitter.com/example",
    )
    (release,) = extracted(text, ".txt")
    assert release.source_url is None
    assert release.contacts[-1] == "https://twitter.com/example"


FOLDERS = """
organisation = "Newsroom"

[sources."iom"]
organisation = "IOM"

[sources."wire"]
organisation = ""
"""


def test_scan_classify_and_eval_name_the_same_publishers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_settings(tmp_path, FOLDERS)
    content = tmp_path / "content"
    for name, page in {
        "iom/press/clinic.txt": TEXT,
        "iom/rescue.html": PAGE,
        "wire/clinic.txt": TEXT.replace("Mobile clinics", "Wire: mobile clinics"),
        "clinic.txt": TEXT.replace("Mobile clinics", "Newsroom: mobile clinics"),
    }.items():
        (content / name).parent.mkdir(parents=True, exist_ok=True)
        (content / name).write_text(page, encoding="utf-8")
    assert main(["--config", str(config), "scan"]) == 0
    settings = load_settings(config, environ={})
    engine = store.open_store(settings.database)
    with engine.connect() as connection:
        scanned = {s.release.id: s.release.organisation for s in store.live_releases(connection)}
    engine.dispose()
    capsys.readouterr()

    # A sub-folder, as classify is often given one: its files are still placed by their path
    # under the content directory.
    paths = [str(content / "iom"), str(content / "wire"), str(content / "clinic.txt")]
    assert main(["--config", str(config), "classify", "--json", *paths]) == 0
    lines = capsys.readouterr().out.splitlines()
    classified = {r["id"]: r["organisation"] for r in map(json.loads, lines)}
    labels = tmp_path / "labels.json"
    whole = {"whole_file": True, "releases": [{"title": None, "date": None, "topics": []}]}
    files = dict.fromkeys(("iom/press/clinic.txt", "wire/clinic.txt", "clinic.txt"), whole)
    labels.write_text(json.dumps({"topics": [], "files": files}), encoding="utf-8")
    _, examples, _ = labelled_examples(labels, [content], now=NOW, settings=settings)
    evaluated = {r.id: r.organisation for example in examples for r in example.releases}

    assert sorted(scanned.values(), key=lambda name: name or "") == [
        None,
        "IOM",
        "International Organization for Migration",
        "Newsroom",
    ]
    assert classified == scanned
    assert evaluated == {rid: scanned[rid] for rid in evaluated}
    assert len(evaluated) == 3


SOURCE_COLUMNS = next(
    version
    for version, migration in enumerate(store.MIGRATIONS)
    if not callable(migration) and any("ADD COLUMN source_url" in str(s) for s in migration)
)


CITATION_KEYS = ("source_url", "organisation")


def make_old(engine: Engine) -> None:
    """Turn the database back into one of the schema before sources were kept, holding what a
    scan of that time stored."""
    with engine.begin() as connection:
        drop_search(connection)  # added later: its triggers read the columns dropped here
        for column in ("source_url", "organisation"):
            connection.execute(text(f"ALTER TABLE releases DROP COLUMN {column}"))
        connection.execute(text("ALTER TABLE files DROP COLUMN reread"))  # added later still
        connection.execute(text("DROP TABLE outputs"))  # and this
        for table in ("websub_subscriptions", "websub_tasks"):  # and these
            connection.execute(text(f"DROP TABLE {table}"))
        connection.execute(text("ALTER TABLE release_topics DROP COLUMN evidence"))  # and this
        for row in connection.execute(text("SELECT path, position, data FROM sources")).all():
            data = {k: v for k, v in json.loads(row.data).items() if k not in CITATION_KEYS}
            connection.execute(
                text("UPDATE sources SET data = :data WHERE path = :path AND position = :position"),
                {"data": json.dumps(data), "path": row.path, "position": row.position},
            )
        connection.execute(text("UPDATE schema_version SET version = :v"), {"v": SOURCE_COLUMNS})


def test_an_upgraded_database_gets_the_sources_of_its_releases_in_place(
    settings: Settings, tmp_path: Path
) -> None:
    cited = dataclasses.replace(settings, organisation="IOM")
    (cited.content_dir / "rescue.html").write_text(PAGE, encoding="utf-8")
    (cited.content_dir / "clinic.txt").write_text(TEXT, encoding="utf-8")
    engine = store.open_store(cited.database)
    scan_content(cited, engine, now=NOW)
    make_old(engine)
    engine.dispose()

    engine = store.open_store(cited.database)  # migrated
    with engine.connect() as connection:
        before = {s.release.id: s for s in store.live_releases(connection)}
    assert [s.release.organisation for s in before.values()] == [None, None]
    later = NOW + dt.timedelta(days=1)
    report = scan_content(cited, engine, now=later)
    with engine.connect() as connection:
        after = {s.release.id: s for s in store.live_releases(connection)}
        arrived = store.arrivals(connection, NOW, later)  # what the next digests would hold

    assert (report.files_read, report.added, report.updated, report.withdrawn) == (2, 0, 0, 0)
    assert after.keys() == before.keys()
    assert {s.release.organisation for s in after.values()} == {
        "IOM",
        "International Organization for Migration",
    }
    assert {s.release.source_url for s in after.values()} == {
        ORIGINAL,
        "https://www.iom.int/news/mobile-clinics-vaccinate-children",
    }
    for rid, stored in after.items():
        assert (stored.first_seen, stored.updated) == (before[rid].first_seen, before[rid].updated)
    assert arrived == []
    assert scan_content(cited, engine, now=later).files_read == 0  # read again once only
    publish(cited, engine, now=later)
    rescue = next(rid for rid, s in after.items() if s.release.source_url == ORIGINAL)
    page = (cited.output_dir / "releases" / f"{rescue}.html").read_text(encoding="utf-8")
    assert f'Source: <a href="{ORIGINAL}">International Organization for Migration</a>' in page
    engine.dispose()


OWN_SOURCE_LINE = """\
{% macro source_line(item, css_class) %}
<p class="{{ css_class }}">Cited: {{ item.organisation }}</p>
{% endmacro %}
{% macro source_text(item) %}Cited: {{ item.organisation }}
{% endmacro %}
"""


def test_one_partial_writes_the_source_line_of_every_page_and_mail(tmp_path: Path) -> None:
    templates = ROOT / "templates"
    assert [p.name for p in templates.iterdir() if "Source:" in p.read_text("utf-8")] == [
        "_source.html"
    ]
    own = tmp_path / "templates"
    own.mkdir()
    (own / "_source.html").write_text(OWN_SOURCE_LINE, encoding="utf-8")
    release = dataclasses.replace(test_pages.RELEASE, organisation="IOM", source_url=ORIGINAL)
    page = render_release(
        environment([own]), test_pages.SITE, release, (), test_pages.release_url("r1"), NOW
    )
    item = dataclasses.replace(test_mail.item(1), organisation="IOM", source_url=ORIGINAL)
    made = test_mail.digest(test_mail.section("libya", "Libya", item))
    mail = digest_message(made, test_mail.mail_settings(template_dirs=(own,)), now=NOW)
    text, html = test_mail.parts(test_mail.parsed(mail))
    assert '<p class="source">Cited: IOM</p>' in page
    assert "Cited: IOM\n" in text
    assert re.search(r'<p class="meta"[^>]*>Cited: IOM</p>', html)
    assert "Source:" not in page + text + html


def test_a_publisher_configured_later_reaches_the_stored_releases(
    settings: Settings, engine: Engine
) -> None:
    (settings.content_dir / "iom").mkdir()
    (settings.content_dir / "iom" / "clinic.txt").write_text(TEXT, encoding="utf-8")
    (settings.content_dir / "rescue.html").write_text(PAGE, encoding="utf-8")
    scan_content(settings, engine, now=NOW)
    with engine.connect() as connection:
        before = {s.release.id: s for s in store.live_releases(connection)}
    assert scan_content(settings, engine, now=NOW).files_read == 0

    later = NOW + dt.timedelta(hours=1)
    configured = dataclasses.replace(settings, sources=(FolderSource("iom", "IOM"),))
    report = scan_content(configured, engine, now=later)
    with engine.connect() as connection:
        after = {s.release.id: s for s in store.live_releases(connection)}
        arrived = store.arrivals(connection, NOW, later)

    assert (report.files_read, report.added, report.updated) == (2, 0, 0)
    assert after.keys() == before.keys()
    assert sorted(s.release.organisation or "" for s in after.values()) == [
        "IOM",
        "International Organization for Migration",
    ]
    assert [s.first_seen for s in after.values()] == [s.first_seen for s in before.values()]
    assert arrived == []
    assert scan_content(configured, engine, now=later).files_read == 0


# --- reading unchanged files again --------------------------------------------------------------

TITLED = "Rescue ship brings 80 migrants ashore in Sicily | IOM"  # the page's <title>


def scan_as_an_older_version(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, engine: Engine, now: dt.datetime
) -> None:
    """A scan by a version whose extractor took a web page's <title>, site name and all, for
    its headline: its releases are stored under ids the extractor now gives no release."""

    def older(text: str, suffix: str, **where: object) -> list[Release]:
        found = extract_text(text, suffix, **where)  # type: ignore[arg-type]
        if suffix != ".html":
            return found
        return [
            dataclasses.replace(r, title=TITLED, id=release_id(TITLED, r.stated_date))
            for r in found
        ]

    with monkeypatch.context() as patch:
        patch.setattr(reading, "extract_text", older)
        scan_content(settings, engine, now=now)


def archived_by_an_older_version(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, engine: Engine
) -> None:
    """The rescue page and the clinic release, stored two days ago as the archive by an older
    version, and a reader of every topic who signed up before."""
    (settings.content_dir / "rescue.html").write_text(PAGE, encoding="utf-8")
    (settings.content_dir / "clinic.txt").write_text(TEXT, encoding="utf-8")
    scan_as_an_older_version(monkeypatch, settings, engine, NOW - dt.timedelta(days=2))
    subscribe(settings, engine, "ana@example.org")
    with engine.connect() as connection:
        titles = {s.release.title for s in store.live_releases(connection)}
    assert TITLED in titles


def feed_titles(settings: Settings) -> list[str]:
    feed = feedparser.parse((settings.output_dir / "all.atom").read_bytes())
    return sorted(entry.title for entry in feed.entries)


def mailed_titles(settings: Settings, engine: Engine, server: SmtpServer) -> Sequence[str]:
    """The headlines of the digest due now, over SMTP; none when no digest went out."""
    report = send_due_digests(settings, engine, now=NOW, transport=smtp(server, settings))
    if not report.planned:
        assert server.messages == []
        return []
    (received,) = server.wait_for(report.planned)
    body = received.message.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    return [t for t in (TITLED, *CURRENT_TITLES, "Clinic opens for new arrivals") if t in text]


CURRENT_TITLES = (
    "Mobile clinics vaccinate displaced children against measles",
    "Rescue ship brings 80 migrants ashore in Sicily",
)


def test_a_release_read_again_in_unchanged_bytes_is_corrected_in_place_and_not_mailed(
    settings: Settings, engine: Engine, smtp_sink: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    archived_by_an_older_version(monkeypatch, settings, engine)
    with engine.connect() as connection:
        archived = min(s.first_seen for s in store.live_releases(connection))

    configured = dataclasses.replace(settings, organisation="IOM")  # every file is read again
    report = scan_content(configured, engine, now=NOW - dt.timedelta(hours=3))
    assert report.files_read == 2
    assert mailed_titles(configured, engine, smtp_sink) == []
    with engine.connect() as connection:
        stored = {s.release.title: s for s in store.live_releases(connection)}
    assert sorted(stored) == sorted(CURRENT_TITLES)
    assert {s.first_seen for s in stored.values()} == {archived}
    assert stored[CURRENT_TITLES[0]].release.organisation == "IOM"
    publish(configured, engine, now=NOW)
    assert feed_titles(configured) == sorted(CURRENT_TITLES)
    assert scan_content(configured, engine, now=NOW).files_read == 0  # read again once only


def test_a_new_release_in_a_changed_file_read_again_is_mailed(
    settings: Settings, engine: Engine, smtp_sink: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    archived_by_an_older_version(monkeypatch, settings, engine)
    # The clinic file, which held a release before, now holds a second one, just published.
    (settings.content_dir / "clinic.txt").write_text(f"{TEXT}\n{HEALTH}", encoding="utf-8")

    configured = dataclasses.replace(settings, organisation="IOM")
    scan_content(configured, engine, now=NOW - dt.timedelta(hours=3))
    assert mailed_titles(configured, engine, smtp_sink) == ["Clinic opens for new arrivals"]
    publish(configured, engine, now=NOW)
    assert feed_titles(configured) == sorted((*CURRENT_TITLES, "Clinic opens for new arrivals"))


def test_an_upgraded_database_reads_its_files_again_and_mails_nothing_old(
    settings: Settings, smtp_sink: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = store.open_store(settings.database)
    archived_by_an_older_version(monkeypatch, settings, engine)
    make_old(engine)  # the version that stored it kept no sources, nor whether to read again
    engine.dispose()
    # While the service was down for the upgrade, the clinic file got a second release.
    (settings.content_dir / "clinic.txt").write_text(f"{TEXT}\n{HEALTH}", encoding="utf-8")

    engine = store.open_store(settings.database)  # migrated: no file's hash is known
    report = scan_content(settings, engine, now=NOW - dt.timedelta(hours=3))
    assert report.files_read == 2
    assert mailed_titles(settings, engine, smtp_sink) == ["Clinic opens for new arrivals"]
    publish(settings, engine, now=NOW)
    assert feed_titles(settings) == sorted((*CURRENT_TITLES, "Clinic opens for new arrivals"))
    engine.dispose()
