"""Unsubscribe requests by mail: read a maildir, unsubscribe whose token a mail carries.

A digest's `mailto:unsubscribe+TOKEN@DOMAIN?subject=unsubscribe TOKEN` brings the subscriber's
own token, 32 random URL-safe characters the store holds, in the recipient address and in the
subject. The token is the proof: the From line is never read, since anyone can write it. A mail
with a token that matches no subscriber (one already gone, a guess) is done all the same.

Done mails move into the maildir's `processed` folder, so no run reads them twice; mails too
large to read or without a token stay where they are, with a warning each run.
"""

from __future__ import annotations

import email
import email.policy
import logging
import mailbox
import re
from dataclasses import dataclass, field
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from pathlib import Path

from sqlalchemy import Engine

from pressfeed import store

log = logging.getLogger(__name__)

MAX_MAIL_BYTES = 256_000  # an unsubscribe request is a few kilobytes; larger mails are skipped
PROCESSED = "processed"  # the maildir folder done mails move to
_TOKEN = r"[A-Za-z0-9_-]{32}"  # what secrets.token_urlsafe(24) gives
_IN_ADDRESS = re.compile(rf"unsubscribe\+({_TOKEN})@", re.IGNORECASE)
_IN_SUBJECT = re.compile(rf"\bunsubscribe\s+({_TOKEN})(?![A-Za-z0-9_-])", re.IGNORECASE)
# Where an MTA or getmail writes the envelope recipient, then where the sender's client wrote it.
_ADDRESS_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "To", "Cc")


@dataclass
class UnsubscribeReport:
    unsubscribed: int = 0
    unknown: int = 0  # tokens that matched no subscriber
    skipped: int = 0  # mails kept in the maildir: too large or without a token


@dataclass(frozen=True)
class _Request:
    key: str
    token: str


@dataclass
class _Pass:
    requests: list[_Request] = field(default_factory=list)
    skipped: int = 0


def read_unsubscribes(maildir: Path, engine: Engine) -> UnsubscribeReport:
    """Unsubscribe the subscriber of each token in the maildir's mails; move those mails out."""
    box = mailbox.Maildir(maildir, factory=None, create=True)
    done = box.add_folder(PROCESSED)
    found = _requests(box)
    report = UnsubscribeReport(skipped=found.skipped)
    for request in found.requests:
        gone = _unsubscribe(engine, request.token)
        if gone:
            report.unsubscribed += 1
        else:
            report.unknown += 1
            log.info("unsubscribe mail %s: no subscriber has its token", request.key)
        # Moved after the deletion: a crash in between reads the mail again, which is harmless.
        done.add(box.get_bytes(request.key))
        box.discard(request.key)
    return report


def _requests(box: mailbox.Maildir) -> _Pass:
    found = _Pass()
    for key in sorted(box.iterkeys()):
        token = _token_of(box, key)
        if token is None:
            found.skipped += 1
        else:
            found.requests.append(_Request(key, token))
    return found


def _token_of(box: mailbox.Maildir, key: str) -> str | None:
    with box.get_file(key) as handle:
        data = handle.read(MAX_MAIL_BYTES + 1)
    if len(data) > MAX_MAIL_BYTES:
        log.warning("unsubscribe mail %s skipped and kept: over %d bytes", key, MAX_MAIL_BYTES)
        return None
    token = mail_token(data)
    if token is None:
        log.warning("unsubscribe mail %s skipped and kept: no unsubscribe token in it", key)
    return token


def mail_token(data: bytes) -> str | None:
    """The unsubscribe token in a mail's recipient headers or subject, else None.

    Headers are read as raw text, never parsed as addresses: Python's address parser raises
    on some malformed headers, and a token is found by its pattern anyway.
    """
    message = email.message_from_bytes(data, policy=email.policy.compat32)
    texts = [str(v) for name in _ADDRESS_HEADERS for v in message.get_all(name, [])]
    for text in texts:
        if match := _IN_ADDRESS.search(text):
            return match.group(1)
    subject = str(message.get("Subject", ""))
    match = _IN_SUBJECT.search(subject) or _IN_SUBJECT.search(_decoded(subject))
    return match.group(1) if match else None


def _decoded(header: str) -> str:
    """A header's RFC 2047 encoded words decoded; "" when they do not decode."""
    try:
        return str(make_header(decode_header(header)))
    except (HeaderParseError, UnicodeError, LookupError, ValueError):
        return ""


def _unsubscribe(engine: Engine, token: str) -> bool:
    with engine.begin() as connection:
        subscriber = store.subscriber_by_token(connection, token)
        if subscriber is not None:
            store.delete_subscriber(connection, subscriber.id)
    if subscriber is not None:
        log.info("unsubscribed by mail: subscriber %s", subscriber.id)
    return subscriber is not None
