"""Tests for pressfeed.webpage.timezone: a page's UTC offset from a printed declared instant."""

from __future__ import annotations

import datetime as dt

import pytest

from pressfeed.webpage.timezone import instant, local_day, printed_offset

UTC = dt.UTC


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2019-11-20T05:57:50Z", dt.datetime(2019, 11, 20, 5, 57, 50, tzinfo=UTC)),
        ("2014-12-29T05:38:00-05:00", dt.datetime(2014, 12, 29, 10, 38, tzinfo=UTC)),
        ("2011-11-18T18:00:00-0500", dt.datetime(2011, 11, 18, 23, 0, tzinfo=UTC)),
        ("2023-11-06T13:00:15.055Z", dt.datetime(2023, 11, 6, 13, 0, 15, tzinfo=UTC)),
        ("2014-12-18 01:01:00 UTC", dt.datetime(2014, 12, 18, 1, 1, tzinfo=UTC)),
    ],
)
def test_declared_instants_with_an_offset(value: str, expected: dt.datetime) -> None:
    assert instant(value) == expected


@pytest.mark.parametrize("value", ["2014-12-29", "2014-12-29T05:38:00", "2014-13-29T05:38Z", ""])
def test_no_instant_without_a_time_and_an_offset(value: str) -> None:
    assert instant(value) is None


def test_a_printed_local_time_gives_the_offset_and_the_local_day() -> None:
    moment = dt.datetime(2019, 11, 20, 6, 1, 19, tzinfo=UTC)
    text = "Updated 10:01 pm PST, Tuesday, November 19, 2019"
    offset = printed_offset(moment, text, dt.date(2019, 11, 19))
    assert offset == dt.timedelta(hours=-8)
    published = dt.datetime(2019, 11, 20, 5, 57, 50, tzinfo=UTC)
    assert local_day(published, offset) == dt.date(2019, 11, 19)


def test_a_24_hour_clock_east_of_utc() -> None:
    moment = dt.datetime(2013, 4, 5, 15, 8, tzinfo=UTC)
    offset = printed_offset(moment, "Publié le 05/04/2013 à 17:08", dt.date(2013, 4, 5))
    assert offset == dt.timedelta(hours=2)


@pytest.mark.parametrize(
    "text",
    [
        "Published 8:00 AM EST, Mon November 6, 2023 Updated 9:22 PM EST",  # which clock?
        "12.16.14",  # a dotted date, not a clock
        "December 17, 2014",
    ],
)
def test_no_offset_without_exactly_one_clock_time(text: str) -> None:
    moment = dt.datetime(2014, 12, 17, 1, 1, tzinfo=UTC)
    assert printed_offset(moment, text, dt.date(2014, 12, 16)) is None
