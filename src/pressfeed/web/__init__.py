"""HTTP: the output directory, feeds of topic combinations, and the subscription pages.

Static files come from the output directory as `publish` wrote them (`static`); everything else
is built per request from the store (`combinations`, `endpoints`). Settings are asked for on
every request, so a config reload takes effect at once. Every request is bounded before it is
read: its head, its URL and its body (`limits`); the forms' fields are read in `forms`.
"""

from pressfeed.web.endpoints import create_app
from pressfeed.web.limits import MAX_BODY_BYTES, MAX_HEAD_BYTES

__all__ = ["MAX_BODY_BYTES", "MAX_HEAD_BYTES", "create_app"]
