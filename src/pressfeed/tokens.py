"""Signed tokens: a value and its purpose, with an HMAC that only the secret's holder can make."""

from __future__ import annotations

import base64
import hashlib
import hmac


def _mac(secret: bytes, purpose: str, value: str) -> str:
    digest = hmac.new(secret, f"{purpose}\0{value}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()


def sign(secret: bytes, purpose: str, value: str) -> str:
    """A token carrying `value` for one `purpose` ("confirm", ...)."""
    encoded = base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")
    return f"{encoded}.{_mac(secret, purpose, value)}"


def verify(secret: bytes, purpose: str, token: str) -> str | None:
    """The value a token carries, or None when it was not signed for this purpose."""
    encoded, _, mac = token.partition(".")
    try:
        value = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    return value if hmac.compare_digest(mac, _mac(secret, purpose, value)) else None
