"""What a page says about itself in its head: titles, site name, dates, language."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pressfeed.markup import clean_line
from pressfeed.webpage.tree import Element

# Meta names and properties that hold the publication date, most trusted first.
_PUBLISHED = (
    "article:published_time",
    "article:published",
    "og:published_time",
    "og:article:published_time",
    "datepublished",
    "article.published",
    "published_time",
    "publishdate",
    "publish-date",
    "publish_date",
    "pubdate",
    "pub_date",
    "publication_date",
    "publication-date",
    "item-publish-date",
    "date",
    "dc.date.issued",
    "dc.date",
    "dcterms.issued",
    "dcterms.date",
    "dcterms.created",
    "dc.date.created",
    "citation_publication_date",
    "sailthru.date",
    "parsely-pub-date",
    "article_date_original",
    "original-publish-date",
    "cxenseparse:recs:publishtime",
)
_MODIFIED = frozenset(
    {
        "article:modified_time",
        "og:updated_time",
        "datemodified",
        "last-modified",
        "dcterms.modified",
    }
)
_RANK = {name: rank for rank, name in enumerate(_PUBLISHED)}
_ARTICLE_TYPES = re.compile(r"Article|Posting|Report|Release|Blog|WebPage", re.IGNORECASE)
_JSON_LD_LIMIT = 200_000  # characters of one script: a page's metadata, not a data dump


@dataclass
class Metadata:
    """Titles, site names, dates and language a page declares."""

    title: str = ""  # <title>
    titles: list[str] = field(default_factory=list)  # og:title, twitter:title, JSON-LD headline
    site_names: list[str] = field(default_factory=list)
    dates: list[tuple[int, str]] = field(default_factory=list)  # (rank, value), published only
    modified: list[str] = field(default_factory=list)  # last-modified values
    language: str = ""
    url: str = ""
    article: bool = False  # og:type or JSON-LD says the page is one article


def read_metadata(root: Element) -> Metadata:
    """Everything the page's `<title>`, `<meta>` tags and JSON-LD declare about it."""
    meta = Metadata(language=(root.get("lang") or root.get("xml:lang") or "").strip())
    for element in root.iter("title", "meta", "link", "script"):
        tag = element.tag
        if tag == "meta":
            _read_meta(element, meta)
        elif tag == "script":
            if (element.get("type") or "").lower() == "application/ld+json":
                _read_json_ld(element.text or "", meta)
        elif tag == "link":
            if element.get("rel") == "canonical" and not meta.url:
                meta.url = element.get("href") or ""
        elif not meta.title:
            meta.title = clean_line(" ".join("".join(element.itertext()).split()))
    meta.dates.sort(key=lambda d: d[0])
    return meta


def add_item_date(meta: Metadata, itemprop: str, value: str) -> None:
    """A date marked up in the page's text (microdata `itemprop`)."""
    names = itemprop.split()
    if "datePublished" in names:
        meta.dates.append((_RANK["datepublished"], value))
        meta.dates.sort(key=lambda d: d[0])
    elif "dateModified" in names:
        meta.modified.append(value)


def _read_meta(element: Element, meta: Metadata) -> None:
    key = element.get("property") or element.get("name") or element.get("itemprop") or ""
    key = key.strip().lower()
    content = clean_line(element.get("content") or "")
    if not key or not content:
        if (element.get("http-equiv") or "").lower() == "content-language" and content:
            meta.language = meta.language or content
        return
    if key in ("og:title", "twitter:title", "headline", "dc.title", "title"):
        meta.titles.append(content)
    elif key in ("og:site_name", "application-name", "twitter:site", "publisher"):
        meta.site_names.append(content.lstrip("@"))
    elif key in _RANK:
        meta.dates.append((_RANK[key], content))
    elif key in _MODIFIED:
        meta.modified.append(content)
    elif key in ("og:locale", "language", "content-language", "dc.language"):
        meta.language = meta.language or content
    elif key == "og:url" and not meta.url:
        meta.url = content
    elif key == "og:type":
        meta.article = meta.article or content.lower() in ("article", "news", "blog", "post")


def _read_json_ld(text: str, meta: Metadata) -> None:
    if len(text) > _JSON_LD_LIMIT:
        return
    try:
        data = json.loads(text)
    except ValueError:
        return
    for item in _json_ld_items(data, 0):
        kind = item.get("@type")
        kinds = " ".join(kind) if isinstance(kind, list) else str(kind or "")
        if not _ARTICLE_TYPES.search(kinds):
            if "Organization" in kinds or kinds == "WebSite":
                _add_text(meta.site_names, item.get("name"))
            continue
        meta.article = meta.article or "WebPage" not in kinds
        _add_text(meta.titles, item.get("headline"))
        published = item.get("datePublished")
        if isinstance(published, str) and published.strip():
            meta.dates.append((_RANK["datepublished"], published.strip()))
        modified = item.get("dateModified")
        if isinstance(modified, str) and modified.strip():
            meta.modified.append(modified.strip())
        publisher = item.get("publisher")
        if isinstance(publisher, dict):
            _add_text(meta.site_names, publisher.get("name"))
        language = item.get("inLanguage")
        if isinstance(language, str) and not meta.language:
            meta.language = language


def _json_ld_items(data: Any, depth: int) -> Iterator[dict[str, Any]]:
    """The objects of a JSON-LD document: top level, lists and `@graph`, a few levels deep."""
    if depth > 4:
        return
    if isinstance(data, list):
        for item in data[:50]:
            yield from _json_ld_items(item, depth + 1)
    elif isinstance(data, dict):
        yield data
        graph = data.get("@graph")
        if graph is not None:
            yield from _json_ld_items(graph, depth + 1)
        entity = data.get("mainEntity") or data.get("mainEntityOfPage")
        if isinstance(entity, dict):
            yield from _json_ld_items(entity, depth + 1)


def _add_text(values: list[str], value: object) -> None:
    if isinstance(value, str) and value.strip():
        values.append(clean_line(value))
