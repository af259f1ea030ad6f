"""The language tables, their registry, and the one definition of a capital letter."""

from __future__ import annotations

import re
import sys

import pytest

from pressfeed.languages import CAPITALS, alternation, is_capital


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
