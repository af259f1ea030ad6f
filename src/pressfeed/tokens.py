"""Signed tokens: a value, its purpose and when it was issued, with an HMAC only the secret's
holder can make.

A token reads `VALUE.ISSUED.MAC`: the value in unpadded URL-safe base64, the issue time in Unix
seconds, and 18 bytes of HMAC-SHA256 over purpose, value and time. Only that exact spelling is
accepted, so one value and time have exactly one token.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re

_TOKEN = re.compile(r"([A-Za-z0-9_-]{1,340})\.([0-9]{1,12})\.([A-Za-z0-9_-]{24})")
CLOCK_SKEW = dt.timedelta(minutes=5)  # a token issued this far ahead of `now` still counts


def _mac(secret: bytes, purpose: str, value: str, issued: str) -> bytes:
    message = f"{purpose}\0{value}\0{issued}".encode()
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18])


def sign(secret: bytes, purpose: str, value: str, *, issued: dt.datetime) -> str:
    """A token carrying `value` for one `purpose` ("confirm", ...), issued at `issued`."""
    encoded = base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")
    stamp = str(int(issued.timestamp()))
    return f"{encoded}.{stamp}.{_mac(secret, purpose, value, stamp).decode()}"


def verify(
    secret: bytes, purpose: str, token: str, *, now: dt.datetime, max_age: dt.timedelta
) -> str | None:
    """The value of a token signed for `purpose` within `max_age` before `now`, else None."""
    parts = _TOKEN.fullmatch(token)
    if parts is None:
        return None
    encoded, stamp, mac = parts.groups()
    value = _decoded(encoded)
    if value is None or not hmac.compare_digest(mac.encode(), _mac(secret, purpose, value, stamp)):
        return None
    age = now.timestamp() - int(stamp)
    fresh = -CLOCK_SKEW.total_seconds() <= age <= max_age.total_seconds()
    return value if fresh else None


def _decoded(encoded: str) -> str | None:
    """The text of unpadded base64 in its one canonical spelling, else None."""
    try:
        raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        value = raw.decode()
    except (ValueError, UnicodeDecodeError):
        return None
    canonical = base64.urlsafe_b64encode(raw).decode().rstrip("=") == encoded
    return value if canonical else None
