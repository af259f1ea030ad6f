"""The language tables, their registry, and the one definition of a capital letter."""

from __future__ import annotations

import datetime as dt
import re
import sys
from collections.abc import Iterator

import pytest

from pressfeed.classify import Part
from pressfeed.extract import extract_text
from pressfeed.languages import (
    CAPITALS,
    Language,
    alternation,
    is_capital,
    register,
    registered,
    unregister,
)
from pressfeed.models import DateKind, Release
from pressfeed.webpage.pubdate import find_dates

# A language pressfeed does not ship, as one table: nothing else changes to read it.
POLISH = Language(
    "pl",
    (
        "stycznia styczeń", "lutego luty", "marca marzec", "kwietnia kwiecień", "maja maj",
        "czerwca czerwiec", "lipca lipiec", "sierpnia sierpień", "września wrzesień",
        "października październik", "listopada listopad", "grudnia grudzień",
    ),
    "poniedziałek wtorek środa czwartek piątek sobota niedziela",
    datelines=True,
    contact_headings=("kontakt dla mediów", "kontakt dla prasy"),
    read_more=("czytaj",),
    read_more_ends=("więcej", "dalej"),
    caption_labels=("zdjęcie", "fot."),
    credit_labels=("fot.",),
    conjunctions=("i", "oraz", "lub"),
)  # fmt: skip

RELEASE = """Nowy program pomocy dla migrantów

Warszawa, 3 marca 2024 – Agencja ogłosiła dziś nowy program pomocy dla migrantów w regionie. \
Czytaj więcej »

Program obejmie Łódź, Kraków i Gdańsk.

Zdjęcie: Jan Kowalski

Kontakt dla mediów

Jan Kowalski, rzecznik prasowy, jan.kowalski@example.pl
"""
DATELINE = (
    "Warszawa, 3 marca 2024 – Agencja ogłosiła dziś nowy program pomocy dla migrantów w regionie."
)
CONTACT = "Jan Kowalski, rzecznik prasowy, jan.kowalski@example.pl"
TODAY = dt.date(2026, 11, 23)
FILE_DATE = dt.date(2026, 11, 20)


@pytest.fixture
def polish() -> Iterator[Language]:
    register(POLISH)
    try:
        yield POLISH
    finally:
        unregister(POLISH.code)


def read(text: str) -> Release:
    (release,) = extract_text(text, ".txt", source="pl.txt", file_date=FILE_DATE, today=TODAY)
    return release


def test_a_registered_language_is_read_by_every_reader(polish: Language) -> None:
    release = read(RELEASE)
    assert release.title == "Nowy program pomocy dla migrantów"
    assert (release.place, release.date, release.date_kind) == (
        "Warszawa",
        dt.date(2024, 3, 3),
        DateKind.STATED,
    )
    assert release.paragraphs == (DATELINE, "Program obejmie Łódź, Kraków i Gdańsk.")
    assert release.contacts == ("Kontakt dla mediów", CONTACT)
    listing = release.paragraphs[1]
    assert [listing[a:b] for a, b in Part("lead", listing).enumerations] == [
        "Łódź, Kraków i Gdańsk."
    ]
    (found,) = find_dates("Opublikowano 3 marca 2024", day_first=True, today=TODAY)
    assert found.date == dt.date(2024, 3, 3)


def test_without_its_table_the_language_is_not_read() -> None:
    assert POLISH not in registered()
    release = read(RELEASE)
    assert (release.date, release.date_kind) == (FILE_DATE, DateKind.FILE_TIME)
    assert release.contacts == (CONTACT,)  # an address closes the release, without its heading
    assert any(p.endswith("Czytaj więcej »") for p in release.paragraphs)
    assert "Zdjęcie: Jan Kowalski" in release.paragraphs
    assert Part("lead", "Program obejmie Łódź, Kraków i Gdańsk.").enumerations == []
    assert list(find_dates("Opublikowano 3 marca 2024", day_first=True, today=TODAY)) == []


def test_registering_a_language_again_replaces_it(polish: Language) -> None:
    register(Language("pl", POLISH.months))
    assert [lang for lang in registered() if lang.code == "pl"] == [Language("pl", POLISH.months)]


@pytest.mark.parametrize("char", ["A", "É", "Ø", "Ł", "Đ", "Č", "Ж", "Θ", "ǅ", "𝐁"])
def test_capitals_of_every_script_are_capitals(char: str) -> None:
    assert is_capital(char)
    assert re.fullmatch(f"[{CAPITALS}]", char)


@pytest.mark.parametrize("char", ["a", "é", "ł", "ж", "東", "1", "“", " ", "_"])
def test_other_characters_are_not(char: str) -> None:
    assert not is_capital(char)
    assert not re.fullmatch(f"[{CAPITALS}]", char)


def test_the_pattern_and_the_function_agree_on_every_character() -> None:
    capital = re.compile(f"[{CAPITALS}]")
    disagree = [
        hex(code)
        for code in range(sys.maxunicode + 1)
        if is_capital(chr(code)) != bool(capital.fullmatch(chr(code)))
    ]
    assert disagree == []


@pytest.mark.parametrize(
    ("phrase", "text", "matches"),
    [
        ("media contact", "MEDIA CONTACT", True),
        ("media contact", "media  contact", False),  # a space is one space unless told
        ("for more information … contact", "For more information on the fund, contact", True),
        ("for more information … contact", "For more information" + " x" * 40 + " contact", False),
        ("pour plus d'informations", "Pour plus d’informations", True),
        ("di più", "Di più", True),
    ],
)
def test_a_phrase_matches_as_its_table_writes_it(phrase: str, text: str, matches: bool) -> None:
    pattern = re.compile(f"(?:{alternation([phrase])})$", re.IGNORECASE)
    assert bool(pattern.match(text)) is matches


def test_a_space_may_stand_for_a_pattern() -> None:
    pattern = re.compile(alternation(["photo credit"], space=r"\s*"), re.IGNORECASE)
    assert pattern.fullmatch("Photocredit")
    assert pattern.fullmatch("Photo  credit")


def test_no_phrase_matches_nothing() -> None:
    assert re.search(alternation([]), "any text, or none") is None
    assert re.search(alternation([]), "") is None
