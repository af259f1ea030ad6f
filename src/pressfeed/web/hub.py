"""The WebSub hub's endpoint: POST hub.mode, hub.callback, hub.topic, hub.lease_seconds and
hub.secret as a form; 202 and a verification of intent in the background, or 4xx saying why.

The request is checked whole before the answer: a 202 means only that the callback is asked."""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from pressfeed.errors import HubBusyError, HubRequestError
from pressfeed.models import Settings
from pressfeed.websub import Pusher, hub_request

FORM = "application/x-www-form-urlencoded"


class Hub:
    """The endpoint, over the pusher that verifies and delivers."""

    def __init__(self, get_settings: Callable[[], Settings], pusher: Pusher) -> None:
        self.get_settings = get_settings
        self.pusher = pusher

    async def endpoint(self, request: Request) -> Response:
        kind = request.headers.get("content-type", "").partition(";")[0].strip().lower()
        if kind != FORM:
            return _refused(415, f"send the request as {FORM}, not {kind or 'no content type'}")
        form = await request.form()
        fields = {key: value for key, value in form.items() if isinstance(value, str)}
        try:
            wanted = hub_request(fields, self.get_settings())
            await self.pusher.subscribe(wanted)
        except HubBusyError as error:
            return _refused(429, str(error), {"Retry-After": "60"})
        except HubRequestError as error:
            return _refused(400, str(error))
        message = f"{wanted.mode} accepted: the callback gets a GET to verify it\n"
        return PlainTextResponse(message, status_code=202)


def _refused(status: int, reason: str, headers: dict[str, str] | None = None) -> Response:
    return PlainTextResponse(reason + "\n", status_code=status, headers=headers)
