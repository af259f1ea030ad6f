"""The language tables, their registry, and the one definition of a capital letter."""

from __future__ import annotations

import re
import sys

import pytest

from pressfeed.languages import CAPITALS, is_capital


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
