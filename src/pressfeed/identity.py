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
        fullest,
        date=best_date.date,
        date_kind=best_date.date_kind,
        place=place,
        contacts=contacts,
        source_url=fullest.source_url
        or next((r.source_url for r in versions if r.source_url), None),
        organisation=fullest.organisation
        or next((r.organisation for r in versions if r.organisation), None),
    )


def adopt_id(release: Release, namesakes: Sequence[tuple[str, dt.date | None]]) -> Release:
    """The release as the same story already known under another id, if it is one.

    A headline printed with a date on a listing page and without one on the full page is one
    release, though its two ids differ. `namesakes` are the (id, printed date) of the releases
    known with the same headline; the release joins the one whose date does not contradict its
    own, when exactly one fits.
    """
    if release.title_derived or any(rid == release.id for rid, _ in namesakes):
        return release
    mine = release.stated_date
    fitting = [rid for rid, date in namesakes if mine is None or date is None or date == mine]
    return replace(release, id=fitting[0]) if len(fitting) == 1 else release


Namesakes = dict[str, list[tuple[str, dt.date | None]]]


def adopt_ids(found: Sequence[Release], namesakes: Namesakes) -> list[Release]:
    """Each release under the id of the story it repeats, if any (see `adopt_id`).

    `namesakes` (headline key -> [(id, printed date)]) is updated as releases are placed, so
    that releases of one scan find each other too.
    """
    placed = []
    for release in found:
        if release.title_derived:
            placed.append(release)
            continue
        known = namesakes.setdefault(title_key(release.title), [])
        release = adopt_id(release, known)
        _remember(known, release.id, release.stated_date)
        placed.append(release)
    return placed


def _remember(known: list[tuple[str, dt.date | None]], rid: str, date: dt.date | None) -> None:
    for i, (other, printed) in enumerate(known):
        if other == rid:
            known[i] = (rid, printed or date)
            return
    known.append((rid, date))
