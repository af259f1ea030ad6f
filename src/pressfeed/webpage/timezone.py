"""The page's own time zone, learnt from a `<time>` element that prints a declared instant.

Metadata often gives the publication instant in UTC ("2019-11-20T05:57:50Z"), which is the
next day for a US page that printed "10:01 pm PST, Tuesday, November 19, 2019". Where one
element declares an instant and prints it as local time, the difference is the page's UTC
offset, and any other instant the page declares can be read as the page's own day.
"""

from __future__ import annotations

import datetime as dt
import re

_INSTANT = re.compile(
    r"\s*((?:19|20)\d\d)-(\d\d)-(\d\d)[T ](\d\d):(\d\d)(?::(\d\d))?(?:[.,]\d+)?\s*"
    r"(Z|UTC|GMT|[+-]\d\d:?\d\d)\s*$",
    re.IGNORECASE,
)
_CLOCK = re.compile(
    r"(?<![\d:.])(\d{1,2})[:.h](\d\d)(?![\d:]|\.\d)\s*(?:([ap])\.?\s?m\b\.?)?", re.IGNORECASE
)
_MAX_OFFSET = dt.timedelta(hours=14)
_STEP = 15 * 60  # UTC offsets are whole quarter hours


def instant(value: str) -> dt.datetime | None:
    """A declared ISO 8601 date and time with its offset, as an aware datetime in UTC."""
    match = _INSTANT.match(value)
    if match is None:
        return None
    zone = match[7].upper()
    offset = dt.timedelta(0)
    if zone[0] in "+-":
        hours, minutes = int(zone[1:3]), int(zone[-2:])
        offset = dt.timedelta(hours=hours, minutes=minutes) * (-1 if zone[0] == "-" else 1)
    year, month, day, hour, minute = (int(match[i]) for i in range(1, 6))
    try:
        local = dt.datetime(year, month, day, hour, minute, int(match[6] or 0))
    except ValueError:
        return None
    return (local - offset).replace(tzinfo=dt.UTC)


def printed_offset(moment: dt.datetime, text: str, day: dt.date) -> dt.timedelta | None:
    """The UTC offset under which `text`, printing `day` and one clock time, shows `moment`."""
    clocks = list(_CLOCK.finditer(text))
    if len(clocks) != 1:
        return None  # which clock is the instant's cannot be told
    clock = clocks[0]
    hour, minute = int(clock[1]), int(clock[2])
    if clock[3]:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if clock[3].lower() == "p" else 0)
    if hour > 23 or minute > 59:
        return None
    shown = dt.datetime.combine(day, dt.time(hour, minute), tzinfo=dt.UTC)
    seconds = round((shown - moment).total_seconds() / _STEP) * _STEP
    offset = dt.timedelta(seconds=seconds)
    return offset if abs(offset) <= _MAX_OFFSET else None


def local_day(moment: dt.datetime, offset: dt.timedelta) -> dt.date:
    """The day `moment` falls on at the given UTC offset."""
    return (moment + offset).date()
