"""Email addresses and header text, as mail and the settings both check them.

Every text that reaches a header passes through `header_text` first; an address is taken only
when it parses as exactly one mailbox.
"""

from __future__ import annotations

import re
from email.headerregistry import Address, AddressHeader, HeaderRegistry

from pressfeed.errors import MailAddressError

_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]+")
_HEADERS = HeaderRegistry()


def header_text(value: str) -> str:
    """`value` without line breaks, control characters or lone surrogates, spaces collapsed."""
    return " ".join(_UNSAFE.sub(" ", value).split())


def mailbox(value: str, what: str) -> Address:
    """The one address in `value`; MailAddressError naming `what` when there is not exactly one."""
    try:
        header = _HEADERS("To", header_text(value))
    except (IndexError, ValueError) as error:  # "x@" raises IndexError inside 3.11's parser
        raise MailAddressError(what, value) from error
    assert isinstance(header, AddressHeader)
    found = header.addresses
    if header.defects or len(found) != 1 or not found[0].username or not found[0].domain:
        raise MailAddressError(what, value, "is not one email address")
    return found[0]
