"""What the subscription forms send, as choices; and whether a form came from our site."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.datastructures import FormData
from starlette.requests import Request

from pressfeed.models import Settings, Subscriber
from pressfeed.subscriptions import WEEKDAYS, Choice

TIMEZONES = tuple(sorted(zoneinfo.available_timezones()))  # the manage form's choices
FORM_FIELDS = 200  # more than any of our forms can send


@dataclass(frozen=True)
class _Origin:
    scheme: str
    host: str
    port: int | None

    @classmethod
    def of(cls, url: str) -> _Origin:
        parts = urlsplit(url.strip())
        try:
            port = parts.port
        except ValueError:
            return cls("", "", None)
        scheme = parts.scheme.lower()
        return cls(scheme, (parts.hostname or "").lower(), port or _DEFAULT_PORTS.get(scheme))


_DEFAULT_PORTS = {"http": 80, "https": 443}


def from_our_site(request: Request, settings: Settings) -> bool:
    """False when the browser says the form was posted from another origin.

    Browsers send Origin with every cross-site POST ("null" from opaque origins, which fails);
    with neither Origin nor Referer the request is not a browser's cross-site form.
    """
    claimed = request.headers.get("origin") or request.headers.get("referer")
    return claimed is None or _Origin.of(claimed) == _Origin.of(settings.site_url)


def _form_values(form: FormData, name: str) -> list[str]:
    return [value for value in form.getlist(name) if isinstance(value, str)]


def form_text(form: FormData, name: str, default: str = "") -> str:
    value = form.get(name, default)
    return value if isinstance(value, str) else default


def saved_choice(subscriber: Subscriber) -> Choice:
    """A subscriber's choices as the manage form sends them."""
    return Choice(
        address=subscriber.address,
        topics=",".join(subscriber.topics),
        frequency=subscriber.frequency.value,
        hour=str(subscriber.hour),
        weekday=WEEKDAYS[subscriber.weekday],
        timezone=subscriber.timezone,
        query=subscriber.query,
    )


def form_choice(form: FormData, address: str) -> Choice:
    """What a subscription form asks for; unchecked topic boxes mean every topic."""
    return Choice(
        address=address,
        topics=",".join(_form_values(form, "topics")),
        frequency=form_text(form, "frequency", "daily"),
        hour=form_text(form, "hour"),
        weekday=form_text(form, "weekday", "monday"),
        timezone=form_text(form, "timezone"),
        query=form_text(form, "query"),
    )
