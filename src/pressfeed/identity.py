"""Stable release ids, derived from what a release says rather than where it was found."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import replace

from pressfeed.models import Release

_QUOTES = str.maketrans("‘’‚‛“”„‟′″", "''''\"\"\"\"'\"")
_NOT_WORD = re.compile(r"[\W_]+")


def title_key(title: str) -> str:
    """A headline reduced to lower-case words: the same headline typed twice matches."""
    text = unicodedata.normalize("NFKC", title).translate(_QUOTES).casefold()
    return _NOT_WORD.sub(" ", text).strip()


def release_id(title: str, date: dt.date | None) -> str:
    """Sixteen hex digits from the normalised headline and the printed date, if any."""
    basis = f"{title_key(title)}|{date.isoformat() if date else ''}"
    return hashlib.sha256(basis.encode()).hexdigest()[:16]


def text_hash(release: Release) -> str:
    """A fingerprint of what a release says, to tell a real change from a rescan."""
    parts = [release.title, *release.paragraphs, "", *release.contacts]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def merge_versions(versions: Sequence[Release]) -> Release:
    """One release from the versions of it found in several files: the fullest text wins."""
    fullest = max(versions, key=lambda r: r.text_size)  # first of equals: files come in path order
    dated = [r for r in versions if not r.date_inferred]
    best_date = next((r for r in dated if not r.year_inferred), dated[0] if dated else fullest)
    place = fullest.place or next((r.place for r in versions if r.place), None)
    contacts = fullest.contacts or max((r.contacts for r in versions), key=len)
    return replace(
        fullest, date=best_date.date, date_kind=best_date.date_kind, place=place, contacts=contacts
    )
