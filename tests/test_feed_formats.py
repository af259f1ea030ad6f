"""The format table is the only place a feed format is named: one more entry, and publishing,
the web server and the pages all carry it, with no other change."""

from __future__ import annotations

from collections.abc import Iterator

import feedparser
import lxml.html
import pytest
from sqlalchemy import Engine

from pressfeed import feeds
from pressfeed.feeds import FeedFormat
from pressfeed.models import FeedDoc, Settings
from tests.test_web import Served, serving


def titles(doc: FeedDoc) -> bytes:
    """A feed as plain text: its title, then one headline a line."""
    return "\n".join([doc.title, *(entry.title for entry in doc.entries)]).encode() + b"\n"


LINES = FeedFormat(
    name="lines",
    suffix=".lines",
    media_type="text/plain",
    render=titles,
    label="Headlines",
    hidden_label="as text of",
)


@pytest.fixture
def with_lines(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, engine: Engine
) -> Iterator[Served]:
    """The site published and served with LINES appended to the table.

    Publishing writes in this process: worker processes, which would import the table afresh,
    start only for a thousand releases or more."""
    monkeypatch.setattr(feeds, "FEED_FORMATS", (*feeds.FEED_FORMATS, LINES))
    with serving(settings, engine) as served:
        yield served


def test_publish_writes_every_feed_and_archive_in_the_new_format(with_lines: Served) -> None:
    out = with_lines.settings.output_dir
    atom = feedparser.parse((out / "health.atom").read_bytes())
    health = (out / "health.lines").read_text(encoding="utf-8").splitlines()
    assert health == [atom.feed.title, *(entry.title for entry in atom.entries)]
    assert len(health) > 1
    assert (out / "all.lines").is_file()
    assert (
        (out / "archive" / "health" / "2024-04.lines")
        .read_text(encoding="utf-8")
        .startswith("Health (2024-04)\n")
    )


def test_the_server_gives_the_new_format_its_media_type(with_lines: Served) -> None:
    static = with_lines.client.get("health.lines")
    assert static.status_code == 200
    assert static.headers["content-type"] == "text/plain; charset=utf-8"
    assert static.headers["cache-control"] == "public, max-age=60"
    combined = with_lines.client.get("health+libya.lines")
    assert combined.status_code == 200
    assert combined.headers["content-type"] == "text/plain; charset=utf-8"
    assert combined.text.splitlines()[0] == "Health + Libya"
    etag = combined.headers["etag"]
    assert etag != with_lines.client.get("health+libya.atom").headers["etag"]
    again = with_lines.client.get("health+libya.lines", headers={"If-None-Match": etag})
    assert again.status_code == 304


def test_pages_link_the_new_format(with_lines: Served) -> None:
    url = f"{with_lines.url}health.lines"
    for path in ("", next(iter_release_pages(with_lines))):
        page = lxml.html.fromstring(with_lines.client.get(path).content)
        links = [a for a in page.iter("a") if a.get("href") == url]
        assert links, f"no link to {url} on /{path}"
        assert links[0].get("type") == "text/plain"
        assert links[0].text_content() == "Headlines as text of Health"
    index = lxml.html.fromstring(with_lines.client.get("").content).text_content()
    assert "with its Atom, RSS, JSON Feed or Headlines link" in index


def test_a_feed_asked_for_in_an_unknown_format_is_404(with_lines: Served) -> None:
    assert with_lines.client.get("health+libya.lines").status_code == 200
    assert with_lines.client.get("health+libya.liness").status_code == 404


def iter_release_pages(served: Served) -> Iterator[str]:
    """Paths of the release pages that list the Health topic."""
    for page in sorted((served.settings.output_dir / "releases").glob("*.html")):
        if "health.atom" in page.read_text(encoding="utf-8"):
            yield f"releases/{page.name}"
