"""The README's recipes for serving the output folder: nginx in front of pressfeed
(config/nginx.conf, run as it is but for its addresses) and copying only changed files.

They need nginx and rsync (Debian: apt-get install nginx rsync); the tests skip without them,
unless PRESSFEED_REQUIRE_NGINX=1 (CI).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from pressfeed.models import Settings
from pressfeed.publish import publish
from pressfeed.scan import scan_content
from tests.conftest import NOW, ROOT
from tests.test_web import START_TIMEOUT, Served, serving

RECIPE = ROOT / "config" / "nginx.conf"
NGINX_PATHS = ("/usr/sbin/nginx", "/usr/local/sbin/nginx")
OUTER = """\
daemon off;
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {work}/body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    include {work}/pressfeed.conf;
}}
"""
NEW_RELEASE = """\
Libya: Migrants Rescued off Zuwara Return to Tripoli

Tripoli - 24 November 2026

The Libyan Coast Guard returned 112 migrants rescued off Zuwara to Tripoli on Monday, where IOM
staff gave them water, food and medical checks at the disembarkation point.
"""


def _tool(name: str, paths: tuple[str, ...] = ()) -> str:
    found = shutil.which(name) or next((p for p in paths if Path(p).is_file()), None)
    if found is None:
        if os.environ.get("PRESSFEED_REQUIRE_NGINX") == "1":
            pytest.fail(f"PRESSFEED_REQUIRE_NGINX=1 but {name} is not installed")
        pytest.skip(f"{name} is not installed (apt-get install {name})")
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _recipe(root: Path, port: int, upstream: str) -> str:
    """config/nginx.conf with this test's addresses in place of the example ones."""
    text = RECIPE.read_text(encoding="utf-8")
    text, listens = re.subn(r"listen \S+;", f"listen 127.0.0.1:{port};", text)
    text, roots = re.subn(r"root \S+;", f"root {root};", text)
    text, proxies = re.subn(r"proxy_pass \S+;", f"proxy_pass {upstream};", text)
    assert (listens, roots, proxies) == (1, 1, 1), "the recipe's addresses moved"
    return text


@pytest.fixture
def fronted(settings: Settings, engine: Engine, tmp_path: Path) -> Iterator[tuple[Served, str]]:
    """pressfeed serving the sample site, and nginx in front of it by the recipe."""
    nginx = _tool("nginx", NGINX_PATHS)
    with serving(settings, engine) as served:
        work, port = tmp_path / "nginx", _free_port()
        work.mkdir()
        root = served.settings.output_dir
        (work / "pressfeed.conf").write_text(_recipe(root, port, served.url.rstrip("/")))
        (work / "nginx.conf").write_text(OUTER.format(work=work))
        command = [nginx, "-p", str(work), "-e", str(work / "error.log"), "-c", "nginx.conf"]
        url = f"http://127.0.0.1:{port}/"
        with subprocess.Popen(command, stderr=subprocess.PIPE) as process:
            try:
                _wait_for(url, process)
                yield served, url
            finally:
                process.terminate()
                process.wait(timeout=START_TIMEOUT)


def _wait_for(url: str, process: subprocess.Popen[bytes]) -> None:
    """Poll until nginx answers (it binds its port after start); fail if it stops."""
    deadline = time.monotonic() + START_TIMEOUT
    with httpx.Client(timeout=1.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                assert process.stderr is not None
                pytest.fail(f"nginx stopped: {process.stderr.read().decode()}")
            try:
                client.get(url)
                return
            except httpx.TransportError:
                time.sleep(0.02)
    pytest.fail(f"nginx did not answer at {url} within {START_TIMEOUT} s")


def _outputs(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_nginx_serves_every_output_file_as_pressfeed_does(fronted: tuple[Served, str]) -> None:
    served, url = fronted
    files = _outputs(served.settings.output_dir)
    assert len(files) > 20
    with httpx.Client(base_url=url, timeout=5.0) as nginx:
        for path in files:
            theirs, ours = nginx.get(path), served.client.get(path)
            assert theirs.status_code == ours.status_code == 200, path
            assert theirs.content == ours.content, path
            assert _media(theirs) == _media(ours), path


def _media(response: httpx.Response) -> str:
    """The content type, with the charset named the same way."""
    return response.headers["content-type"].lower().replace(" ", "")


def test_nginx_answers_conditional_and_compressed_requests(fronted: tuple[Served, str]) -> None:
    _, url = fronted
    with httpx.Client(base_url=url, timeout=5.0) as nginx:
        first = nginx.get("all.atom", headers={"Accept-Encoding": "identity"})
        again = nginx.get("all.atom", headers={"If-None-Match": first.headers["etag"]})
        packed = nginx.get("all.atom", headers={"Accept-Encoding": "gzip"})
    assert first.headers["cache-control"] == "public, max-age=60"
    assert again.status_code == 304
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.content == first.content  # httpx has unpacked it


def test_what_is_not_a_file_is_passed_to_pressfeed(fronted: tuple[Served, str]) -> None:
    served, url = fronted
    with httpx.Client(base_url=url, timeout=5.0) as nginx:
        combined = nginx.get("libya+health.atom")
        sign_up = nginx.get("subscribe")
        missing = nginx.get("no/such/page")
    assert combined.status_code == 200
    assert combined.content == served.client.get("libya+health.atom").content
    assert sign_up.status_code == 200
    assert "<form" in sign_up.text
    assert missing.status_code == 404
    assert missing.text == served.client.get("no/such/page").text  # pressfeed's own page


def _digests(root: Path) -> dict[str, str]:
    return {p: hashlib.sha256((root / p).read_bytes()).hexdigest() for p in _outputs(root)}


def test_copying_to_a_mirror_copies_only_what_a_publish_changed(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    rsync = _tool("rsync")
    (settings.content_dir / "first.txt").write_text(NEW_RELEASE, encoding="utf-8")
    scan_content(settings, engine, now=NOW)
    publish(settings, engine)
    out, mirror = settings.output_dir, tmp_path / "mirror"
    copy = [rsync, "-a", "--delete", "--itemize-changes", f"{out}/", f"{mirror}/"]
    subprocess.run(copy, check=True, capture_output=True)
    before = _digests(out)

    second = NEW_RELEASE.replace("112", "87").replace("Zuwara", "Sabratha")
    (settings.content_dir / "second.txt").write_text(second, encoding="utf-8")
    scan_content(settings, engine, now=NOW)
    publish(settings, engine)
    after = _digests(out)
    copied = subprocess.run(copy, check=True, capture_output=True, text=True).stdout

    changed = {p for p in after if before.get(p) != after[p]}
    sent = {line.split(" ", 1)[1] for line in copied.splitlines() if line.startswith(">f")}
    assert changed  # the new release has a page and is in feeds
    assert sent == changed  # rsync's size-and-time check sees exactly the rewritten files
    assert len(sent) < len(after)
    assert _digests(mirror) == after
