"""The words of each language pressfeed reads, one table per language in a registry, and the
one definition of a capital letter.

Adding a language is adding one `Language` to LANGUAGES, or `register`ing one: every reader
builds its patterns from the registered languages (`built_from_languages`) and builds them
again when they change. The dateline reader (`dates`) pools the languages marked `datelines`,
every other reader all of them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar


@dataclass(frozen=True)
class Language:
    """The words pressfeed reads in one language; phrases are matched as `alternation` says."""

    code: str  # ISO 639-1, or a group of them ("sv da no")
    months: tuple[str, ...]  # per month, January first: its names and abbreviations
    weekdays: str = ""  # names and abbreviations

    # --- dates: datelines (`dates`) and dates printed on web pages (`webpage.pubdate`) ---
    datelines: bool = False  # releases in it open with a dateline pressfeed reads
    # A label before a date alone on its line: "Published: 3 May 2020", "Publié le 3 mai 2020".
    date_labels: tuple[str, ...] = ()
    date_label_ends: tuple[str, ...] = ()  # may follow any label: "Published on 3 May 2020"
    # Words that open such a label, and so never a dateline's place: "Published", "Publié".
    never_places: tuple[str, ...] = ()
    # Before a date or its weekday: "le 3 mars", "am 3. März".
    date_articles: tuple[str, ...] = ()
    # After a day's number: "3rd", "1er" (the marks º ° ª are read in every language).
    ordinals: tuple[str, ...] = ()
    # Between a day and its month, and before a year: "3 de marzo de 2020", "3rd of March".
    month_joiners: tuple[str, ...] = ()
    year_joiners: tuple[str, ...] = ()

    # --- the parts of a release (`extract`) ---
    # A paragraph opening with one starts the contact block: "For more information … contact".
    contact_headings: tuple[str, ...] = ()
    # A contact block's heading when alone on its line or before a colon: "Contact:".
    contact_labels: tuple[str, ...] = ()
    # A link closing a paragraph, dropped: one of `read_more` ("Read", "Weiterlesen"), then
    # perhaps one of any language's `read_more_ends` ("more", "the full story").
    read_more: tuple[str, ...] = ()
    read_more_ends: tuple[str, ...] = ()
    # A photo caption or credit, dropped: a line opening with a caption label and a colon
    # ("Photo credit: ..."), a paragraph closing with a credit label, a colon and a short name
    # ("... Photo: Jane Doe"), a copyright notice ("All rights reserved").
    caption_labels: tuple[str, ...] = ()
    credit_labels: tuple[str, ...] = ()
    rights_reserved: tuple[str, ...] = ()
    # A line that gives the original page, before a colon: "Source: https://...".
    source_labels: tuple[str, ...] = ()

    # --- topics (`classify`) ---
    # The words that join the last name of a list: "Libya, Tunisia and Niger".
    conjunctions: tuple[str, ...] = ()

    # --- web pages (`webpage`) ---
    # A date just after one is the publication date ("Published on 3 May"), or an update's,
    # passed over ("Updated 4 May").
    published_words: tuple[str, ...] = ()
    update_words: tuple[str, ...] = ()
    # A byline opens with one: "By Jane Doe", "Von Hans Meier"; a short line opening so,
    # printed by the headline, is left out of the story.
    bylines: tuple[str, ...] = ()
    # Words that open a byline too, but also lines of story text ("Door", "Da", "Text"): they
    # only keep a heading from being taken for the headline.
    author_words: tuple[str, ...] = ()
    # A line of these (and of network names) is a share bar, never a headline.
    share_words: tuple[str, ...] = ()
    # A line opening with one (and a few words more) is chrome inside an article: an
    # "Advertisement" label, a "Read more" link, a "5 min read" reading time.
    boilerplate: tuple[str, ...] = ()
    minute_words: tuple[str, ...] = ()
    reading_words: tuple[str, ...] = ()
    # The label of a release printed as a line of its own: "Press release", "Pressemitteilung".
    release_labels: tuple[str, ...] = ()


LANGUAGES: tuple[Language, ...] = (
    Language(
        "en",
        ("january jan", "february feb", "march mar", "april apr", "may", "june jun", "july jul",
         "august aug", "september sept sep", "october oct", "november nov", "december dec"),
        "monday tuesday wednesday thursday friday saturday sunday "
        "mon tue tues wed thu thur thurs fri sat sun",
        datelines=True,
        date_labels=("published", "posted", "date", "updated", "press release", "news release"),
        date_label_ends=("on",),
        never_places=("published", "posted", "updated"),
        ordinals=("st", "nd", "rd", "th"),
        month_joiners=("of",),
        contact_headings=(
            "for further information … contact", "for more information … contact",
            "media contact", "media contacts", "media enquiries", "media inquiries",
            "press contact", "press contacts", "press enquiries", "press inquiries",
            "please contact",
        ),
        contact_labels=("contact", "contacts"),
        read_more=("read", "continue reading", "watch", "see", "learn", "find out"),
        read_more_ends=(
            "more", "here", "on", "the news", "the story", "the full story", "the release",
            "the full release", "the article", "the full article", "the statement",
            "the full statement",
        ),
        caption_labels=(
            "photo", "photos", "image", "picture", "credit", "credits", "photo credit",
            "photos credit", "image credit", "picture credit",
        ),
        credit_labels=("photo", "credit"),
        rights_reserved=("all rights reserved",),
        source_labels=(
            "source", "original", "original page", "original release", "original article",
            "read online", "read it online", "link", "url",
        ),
        conjunctions=("and", "or"),
        published_words=("published", "posted", "date"),
        update_words=("update", "updated", "last modified", "modified", "edited", "revised"),
        bylines=("by",),
        author_words=("text", "author"),
        share_words=("share", "print", "copy link"),
        boilerplate=(
            "advertisement", "read more", "continue reading", "related", "see also",
            "more on this", "share this", "follow us", "sign up", "subscribe", "newsletter",
            "comment", "comments",
        ),
        minute_words=("min", "minute", "minutes"),
        reading_words=("read",),
        release_labels=("for immediate release", "press release", "news release", "media release"),
    ),
    Language(
        "fr",
        ("janvier janv", "février févr fév", "mars", "avril avr", "mai", "juin",
         "juillet juil", "août", "septembre", "octobre", "novembre", "décembre déc"),
        "lundi mardi mercredi jeudi vendredi samedi dimanche",
        datelines=True,
        date_labels=("publié le",),
        never_places=("publié",),
        date_articles=("le",),
        ordinals=("er", "re"),
        contact_headings=(
            "pour plus d'informations", "pour de plus amples informations", "contact presse",
            "contacts presse",
        ),
        read_more=("lire",),
        read_more_ends=("la suite", "plus"),
        source_labels=("source", "source originale", "lien"),
        conjunctions=("et", "ou"),
        published_words=("publié",),
        update_words=("mis à jour", "modifié"),
        bylines=("par",),
        author_words=("texte",),
        share_words=("partager", "imprimer"),
        boilerplate=("publicité", "lire la suite"),
        reading_words=("de lecture",),
        release_labels=("communiqué de presse",),
    ),
    Language(
        "it",
        ("gennaio gen", "febbraio", "marzo", "aprile", "maggio mag", "giugno giu", "luglio lug",
         "agosto ago", "settembre set", "ottobre ott", "novembre", "dicembre dic"),
        "lunedì martedì mercoledì giovedì venerdì sabato domenica",
        datelines=True,
        date_labels=("pubblicato il",),
        never_places=("pubblicato",),
        date_articles=("il",),
        contact_headings=("per informazioni", "per ulteriori informazioni"),
        contact_labels=("contatti",),
        read_more=("leggi",),
        read_more_ends=("di più", "tutto"),
        caption_labels=("foto", "foto credit"),
        credit_labels=("foto",),
        source_labels=("fonte",),
        conjunctions=("e", "o"),
        published_words=("pubblicato",),
        update_words=("aggiornato", "aggiornata", "modificato"),
        bylines=("di",),
        author_words=("da",),
        share_words=("condividi",),
        boilerplate=("pubblicità",),
        release_labels=("comunicato stampa",),
    ),
    Language(
        "es",
        ("enero ene", "febrero", "marzo", "abril abr", "mayo", "junio", "julio", "agosto ago",
         "septiembre setiembre", "octubre", "noviembre", "diciembre dic"),
        "lunes martes miércoles jueves viernes sábado domingo",
        datelines=True,
        date_labels=("publicado el",),
        never_places=("publicado",),
        date_articles=("el",),
        month_joiners=("de",),
        year_joiners=("de", "del"),
        contact_headings=("para más información", "para mayor información"),
        contact_labels=("contacto", "contactos"),
        read_more=("leer",),
        read_more_ends=("más",),
        caption_labels=("foto",),
        credit_labels=("foto",),
        source_labels=("fuente",),
        conjunctions=("y", "o"),
        published_words=("publicado",),
        update_words=("actualizado", "actualización", "modificado"),
        bylines=("por",),
        author_words=("autor",),
        share_words=("compartir",),
        boilerplate=("publicidad", "leer más"),
        release_labels=("comunicado de prensa",),
    ),
    Language(
        "de",
        ("januar jänner jän", "februar", "märz maerz mär mrz", "april", "mai", "juni", "juli",
         "august", "september", "oktober okt", "november", "dezember dez"),
        "montag dienstag mittwoch donnerstag freitag samstag sonnabend sonntag",
        datelines=True,
        date_labels=("veröffentlicht am",),
        never_places=("veröffentlicht",),
        date_articles=("am", "den"),
        contact_headings=("pressekontakt",),
        contact_labels=("kontakt",),
        read_more=("weiterlesen",),
        caption_labels=("foto",),
        credit_labels=("foto",),
        source_labels=("quelle",),
        conjunctions=("und", "oder"),
        published_words=("veröffentlicht", "erschienen"),
        update_words=("aktualisiert", "geändert", "bearbeitet"),
        bylines=("von",),
        author_words=("autor",),
        share_words=("teilen", "drucken"),
        boilerplate=("anzeige", "werbung", "weiterlesen"),
        minute_words=("minuten",),
        reading_words=("lesezeit",),
        release_labels=("pressemitteilung", "presseinformation", "pressemeldung"),
    ),
    Language(
        "pt",
        ("janeiro", "fevereiro", "março", "abril", "maio", "junho", "julho", "agosto",
         "setembro set", "outubro", "novembro", "dezembro"),
        update_words=("atualizado",),
    ),
    Language(
        "nl",
        ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus",
         "september", "oktober", "november", "december"),
        ordinals=("e",),
        published_words=("gepubliceerd",),
        update_words=("bijgewerkt",),
        author_words=("door",),
    ),
    Language(
        "sv da no",
        ("januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti",
         "september", "oktober", "november", "desember"),
        published_words=("publisert", "publiceret", "publicerad"),
        update_words=("oppdatert", "endret", "opdateret", "uppdaterad", "ændret"),
        bylines=("af", "av"),
        share_words=("del",),
        boilerplate=("annonse",),
        release_labels=("pressemelding", "pressemeddelelse", "pressmeddelande"),
    ),
    Language(
        "fi",
        ("tammikuuta tammikuu", "helmikuuta helmikuu", "maaliskuuta maaliskuu",
         "huhtikuuta huhtikuu", "toukokuuta toukokuu", "kesäkuuta kesäkuu", "heinäkuuta heinäkuu",
         "elokuuta elokuu", "syyskuuta syyskuu", "lokakuuta lokakuu", "marraskuuta marraskuu",
         "joulukuuta joulukuu"),
        published_words=("julkaistu",),
        update_words=("päivitetty", "muokattu"),
        author_words=("kirjoittanut",),
        share_words=("jaa",),
        boilerplate=("mainos",),
        release_labels=("lehdistötiedote", "tiedote"),
    ),
)  # fmt: skip

T = TypeVar("T")


class _Registry:
    """The languages read now: the table's, and those registered since."""

    def __init__(self, languages: Iterable[Language]) -> None:
        self.languages = tuple(languages)


_REGISTRY = _Registry(LANGUAGES)


def registered() -> tuple[Language, ...]:
    """The languages pressfeed reads, in the order they were added."""
    return _REGISTRY.languages


def register(language: Language) -> None:
    """Read `language` from now on, in place of a registered language with its code."""
    others = (known for known in _REGISTRY.languages if known.code != language.code)
    _REGISTRY.languages = (*others, language)


def unregister(code: str) -> None:
    """Stop reading the language with this code."""
    _REGISTRY.languages = tuple(known for known in _REGISTRY.languages if known.code != code)


def built_from_languages(build: Callable[[tuple[Language, ...]], T]) -> Callable[[], T]:
    """`build` applied to the registered languages, built again only once they change."""
    built: list[tuple[tuple[Language, ...], T]] = []

    def current() -> T:
        languages = _REGISTRY.languages
        # By identity: the registry holds a new tuple after each change, and this runs per
        # paragraph, too often to hash every table.
        if not built or built[0][0] is not languages:
            built[:] = [(languages, build(languages))]
        return built[0][1]

    return current


NOTHING = "(?!)"  # the alternation of no phrase: it matches nowhere, not everywhere
_GAP = " … "  # in a phrase: up to _GAP_CHARS characters between two whole words
_GAP_CHARS = 60


def alternation(phrases: Iterable[str], *, space: str = " ") -> str:
    """A regex alternation of a table's phrases, longest first, to compile ignoring case. A
    space in a phrase matches `space`; " … " up to 60 characters between whole words; an
    apostrophe any one character, as pages type ' ’ ʼ ´ alike."""
    ordered = sorted(set(phrases), key=lambda p: (-len(p), p))
    return "|".join(_phrase(phrase, space) for phrase in ordered) or NOTHING


def _phrase(phrase: str, space: str) -> str:
    gap = rf"\b.{{0,{_GAP_CHARS}}}\b"
    parts = (_words(part, space) for part in phrase.split(_GAP))
    return gap.join(parts)


def _words(words: str, space: str) -> str:
    return space.join(".".join(map(re.escape, word.split("'"))) for word in words.split(" "))


def dateline_languages(languages: Iterable[Language]) -> tuple[Language, ...]:
    """The languages whose releases open with a dateline pressfeed reads."""
    return tuple(language for language in languages if language.datelines)


def month_names(languages: Iterable[Language]) -> dict[int, tuple[str, ...]]:
    """Every name of each month (1-12) in the languages, each name once."""
    names: dict[int, dict[str, None]] = {month: {} for month in range(1, 13)}
    for language in languages:
        for month, written in enumerate(language.months, start=1):
            names[month].update(dict.fromkeys(written.split()))
    return {month: tuple(found) for month, found in names.items()}


def weekday_names(languages: Iterable[Language]) -> tuple[str, ...]:
    return tuple(name for language in languages for name in language.weekdays.split())


def is_capital(char: str) -> bool:
    """An upper- or title-case letter of any script: "A", "É", "Ł", "Ж", "ǅ"."""
    return char.isupper() or char.istitle()


_CASED_END = 0x20000  # no letter past the first two planes of Unicode has a case


def _capital_class() -> str:
    """The body of a regex character class of every character `is_capital` accepts."""
    ranges: list[tuple[int, int]] = []
    for code in range(_CASED_END):
        if not is_capital(chr(code)):
            continue
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1] = (ranges[-1][0], code)
        else:
            ranges.append((code, code))
    parts = (re.escape(chr(a)) + ("-" + re.escape(chr(b)) if b > a else "") for a, b in ranges)
    return "".join(parts)


CAPITALS = _capital_class()  # in a regex: f"[{CAPITALS}]" is one capital letter


def fold(word: str) -> str:
    """A word lower-cased, without its accents and trailing dot: "Févr." -> "fevr"."""
    decomposed = unicodedata.normalize("NFD", word.casefold().rstrip("."))
    return "".join(c for c in decomposed if not unicodedata.combining(c))
