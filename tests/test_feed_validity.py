"""The sample site's feeds, as `make run` publishes them, pass the W3C feed validator itself."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pressfeed import store
from pressfeed.config import load_settings
from pressfeed.models import Settings
from pressfeed.publish import publish
from pressfeed.scan import scan_content
from tests.conftest import NOW, ROOT
from tests.feedcheck import W3C_SOURCE, w3c_problems

SAMPLE_CONFIG = ROOT / "config" / "pressfeed.toml"


@pytest.fixture(scope="module")
def sample_site(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """content/ with config/pressfeed.toml, scanned and published into a temporary folder."""
    if not (W3C_SOURCE / "src" / "feedvalidator").is_dir():
        if os.environ.get("PRESSFEED_REQUIRE_W3C") == "1":
            pytest.fail(f"PRESSFEED_REQUIRE_W3C=1 but {W3C_SOURCE} is missing")
        pytest.skip(f"no W3C feed validator in {W3C_SOURCE}: make build/feedvalidator")
    out = tmp_path_factory.mktemp("sample")
    overrides = {"output_dir": out / "feeds", "database": out / "pressfeed.db"}
    settings = load_settings(SAMPLE_CONFIG, environ={}, overrides=overrides)
    engine = store.open_store(settings.database)
    try:
        scan_content(settings, engine, now=NOW)
        publish(settings, engine)
    finally:
        engine.dispose()
    return settings


def _feeds(settings: Settings) -> list[Path]:
    return sorted(p for p in settings.output_dir.rglob("*") if p.suffix in (".atom", ".rss"))


def test_every_sample_feed_has_no_w3c_error_or_warning(sample_site: Settings) -> None:
    feeds = _feeds(sample_site)
    assert len(feeds) > 10  # every topic in both formats, and the archive months
    found = {}
    for path in feeds:
        relative = path.relative_to(sample_site.output_dir).as_posix()
        if problems := w3c_problems(path.read_bytes(), sample_site.site_url + relative):
            found[relative] = problems
    assert found == {}


def test_the_w3c_validator_is_the_real_one() -> None:
    """It must find what the online service finds, or a pass above would mean nothing."""
    if not (W3C_SOURCE / "src" / "feedvalidator").is_dir():
        pytest.skip(f"no W3C feed validator in {W3C_SOURCE}")
    bare = b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title></feed>'
    problems = w3c_problems(bare, "http://example.org/x.atom")
    assert any("Missing feed element: id" in p for p in problems), problems


def test_feeds_naming_a_websub_hub_have_no_w3c_error_or_warning(tmp_path: Path) -> None:
    """The hub's link in Atom, and as atom:link in RSS, is no problem to the validator."""
    if not (W3C_SOURCE / "src" / "feedvalidator").is_dir():
        pytest.skip(f"no W3C feed validator in {W3C_SOURCE}")
    overrides = {
        "output_dir": tmp_path / "feeds",
        "database": tmp_path / "pressfeed.db",
        "service.websub": "true",
    }
    settings = load_settings(SAMPLE_CONFIG, environ={}, overrides=overrides)
    engine = store.open_store(settings.database)
    try:
        scan_content(settings, engine, now=NOW)
        publish(settings, engine)
    finally:
        engine.dispose()
    hub = f'href="{settings.site_url}hub"'.encode()
    found = {}
    for name in ("all.atom", "all.rss", "libya.atom", "libya.rss"):
        body = (settings.output_dir / name).read_bytes()
        assert hub in body, name
        if problems := w3c_problems(body, settings.site_url + name):
            found[name] = problems
    assert found == {}
