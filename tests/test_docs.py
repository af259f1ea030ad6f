"""The README documents every command, option and setting."""

from __future__ import annotations

import argparse

import pytest

from pressfeed.cli import build_parser
from pressfeed.config import SOURCE_OPTIONS, TOPIC_OPTIONS, describe_options, env_name
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def commands(
    parser: argparse.ArgumentParser, prefix: str = "pressfeed"
) -> dict[str, argparse.ArgumentParser]:
    found = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found[f"{prefix} {name}"] = sub
                found |= commands(sub, f"{prefix} {name}")
    return found


COMMANDS = commands(build_parser())


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_is_documented(command: str) -> None:
    assert f"`{command}" in README or f"{command} " in README


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_option_of_every_command_is_documented(command: str) -> None:
    flags = [
        flag
        for action in COMMANDS[command]._actions
        for flag in action.option_strings
        if flag.startswith("--") and flag != "--help"
    ]
    missing = [flag for flag in flags if f"`{flag}" not in README]
    assert not missing, f"{command}: {missing} not in README.md"


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_help_has_an_example(command: str) -> None:
    sub = COMMANDS[command]
    if any(isinstance(a, argparse._SubParsersAction) for a in sub._actions):
        return  # a group of commands; its members carry the examples
    assert "example: pressfeed" in (sub.epilog or "")


@pytest.mark.parametrize("key", [row[0] for row in describe_options()])
def test_every_setting_and_its_variable_are_documented(key: str) -> None:
    assert f"`{key}`" in README
    assert f"`{env_name(key)}`" in README


@pytest.mark.parametrize("key", [row[0] for row in describe_options(TOPIC_OPTIONS)])
def test_every_topic_setting_is_documented(key: str) -> None:
    assert f"`{key}`" in README


@pytest.mark.parametrize("key", [row[0] for row in describe_options(SOURCE_OPTIONS)])
def test_every_folder_source_setting_is_documented(key: str) -> None:
    assert f"`{key}`" in README


def test_quick_start_is_the_two_make_targets() -> None:
    quick_start = README.split("## Quick start", 1)[1].split("##", 1)[0]
    assert "make run" in quick_start
    assert "make test" in quick_start
