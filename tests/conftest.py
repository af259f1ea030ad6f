"""Fixtures shared by the test modules: settings on tmp_path, the shared seeds, a store."""

from __future__ import annotations

import datetime as dt
import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as settings_profiles
from sqlalchemy import Connection, Engine, create_engine, text

from pressfeed import store
from pressfeed.config import load_settings
from pressfeed.models import Settings

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
TOPICS = ROOT / "config" / "topics.toml"
NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)

# `PRESSFEED_TEST_POSTGRES=1` runs the suite on a throw-away PostgreSQL server (make
# test-postgres); a URL (postgresql+psycopg://user@host:port/db) runs it on that server. Each
# settings file then gets a schema of its own instead of an SQLite file.
POSTGRES = os.environ.get("PRESSFEED_TEST_POSTGRES", "")
_server_url: str | None = None
_schemas = itertools.count(1)


@pytest.fixture(scope="session", autouse=True)
def postgres_server() -> Iterator[str | None]:
    """The PostgreSQL server the suite runs on, or None on SQLite."""
    global _server_url
    if not POSTGRES:
        yield None
        return
    if "://" in POSTGRES:
        _server_url = POSTGRES
        yield _server_url
        return
    from tests.postgres import PostgresServer

    with PostgresServer() as server:
        _server_url = server.url()
        yield _server_url


def on_postgres() -> bool:
    """Whether the suite runs on PostgreSQL."""
    return bool(POSTGRES)


def new_database() -> str:
    """A database of its own for one settings file: an empty schema on PostgreSQL."""
    assert _server_url is not None
    schema = f"test_{os.getpid()}_{next(_schemas)}"
    admin = create_engine(_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    admin.dispose()
    return f"{_server_url}?options=-csearch_path%3D{schema}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if not POSTGRES:
        return
    for item in items:
        marker = item.get_closest_marker("sqlite_only")
        if marker is not None:
            reason = marker.args[0] if marker.args else "SQLite's own behaviour"
            item.add_marker(pytest.mark.skip(reason=f"on SQLite only: {reason}"))


def drop_outbox_claims(connection: Connection) -> None:
    """Take away what the outbox claims migration added, as in a database from before it."""
    connection.execute(text("DROP INDEX outbox_claims"))
    for column in ("claimed_by", "claimed_until"):
        connection.execute(text(f"ALTER TABLE outbox DROP COLUMN {column}"))


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
    database = new_database() if POSTGRES else "pressfeed.db"
    config.write_text(
        f'content_dir = "content"\noutput_dir = "feeds"\ndatabase = "{database}"\n'
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
    """The store for `settings`, on a real SQLite file (or PostgreSQL schema)."""
    engine = store.open_store(settings.database)
    yield engine
    engine.dispose()


# Property tests: a quick profile for `make test`, 10,000 examples each for `make test-slow`.
settings_profiles.register_profile("default", max_examples=100, deadline=None)
settings_profiles.register_profile(
    "long", max_examples=10_000, deadline=None, suppress_health_check=list(HealthCheck)
)
settings_profiles.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
