"""Searching on a database without a full-text index of a kind pressfeed searches: a clear
503, and the rest of the site as usual. Runs under make test-postgres."""

from __future__ import annotations

import pytest

from tests.conftest import on_postgres
from tests.test_web import Served, served  # noqa: F401

pytestmark = pytest.mark.skipif(not on_postgres(), reason="SQLite has the full-text index")


def test_a_search_says_the_database_cannot_search_yet(served: Served) -> None:  # noqa: F811
    feed = served.client.get("search.atom", params={"q": "libya"})
    page = served.client.get("search", params={"q": "libya"})
    assert feed.status_code == page.status_code == 503
    assert "full-text index" in feed.text
    assert served.client.get("all.atom").status_code == 200
