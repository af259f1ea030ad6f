"""Fixtures shared by the test modules: settings on tmp_path, the shared seeds, a store."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as settings_profiles
from sqlalchemy import Engine

from pressfeed import store
from pressfeed.config import load_settings
from pressfeed.models import Settings

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
TOPICS = ROOT / "config" / "topics.toml"
NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def shared_dir() -> Path:
    """../shared beside the project: skipped when absent, unless PRESSFEED_REQUIRE_SHARED=1."""
    if not (SHARED / "seeds").is_dir() or not (SHARED / "seeds-golden.json").is_file():
        if os.environ.get("PRESSFEED_REQUIRE_SHARED") == "1":
            pytest.fail(f"PRESSFEED_REQUIRE_SHARED=1 but {SHARED}/seeds is missing")
        pytest.skip("../shared/seeds is not beside the project")
    return SHARED


def write_settings(tmp_path: Path, extra: str = "") -> Path:
    """A settings file in tmp_path using the project's topics and tmp_path for everything else."""
    config = tmp_path / "pressfeed.toml"
    config.write_text(
        f'content_dir = "content"\noutput_dir = "feeds"\ndatabase = "pressfeed.db"\n'
        f'topics_file = "{TOPICS.as_posix()}"\n'
        f'templates_dir = "{(ROOT / "templates").as_posix()}"\n{extra}',
        encoding="utf-8",
    )
    (tmp_path / "content").mkdir(exist_ok=True)
    return config


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings with an empty content directory and a fresh database under tmp_path."""
    return load_settings(write_settings(tmp_path), environ={})


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    """The store for `settings`, on a real SQLite file."""
    engine = store.open_store(settings.database)
    yield engine
    engine.dispose()


# Property tests: a quick profile for `make test`, 10,000 examples each for `make test-slow`.
settings_profiles.register_profile("default", max_examples=100, deadline=None)
settings_profiles.register_profile(
    "long", max_examples=10_000, deadline=None, suppress_health_check=list(HealthCheck)
)
settings_profiles.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
