"""The CLI reference (docs/cli-reference.md), written from the parsers themselves so it cannot drift.

Every section is exactly what ``lipe ... --help`` prints at a fixed width (:data:`COLUMNS`): the
top-level help, each command's, and each action's (``lipe library add --help``). Regenerate with
``make cli-reference`` (``python scripts/cli_reference.py``); ``tests/engine/cli/test_cli_reference.py``
fails when the file differs from the parsers.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Iterator

from . import build_parser

COLUMNS = 100  # argparse wraps help to the terminal's width; the reference is written at this one
HEADER = """# `lipe` command reference

Generated from the command-line parsers (`lipe_engine/cli/`) by `make cli-reference`
(`python scripts/cli_reference.py`); do not edit by hand. Each section is what `lipe ... --help`
prints. `tests/engine/cli/test_cli_reference.py` fails when this page and the parsers differ.
How the commands behave (pipes, exit codes, the data folder, models) is in
[architecture.md](architecture.md#command-line); a first edit is in the [README](../README.md).
"""


@contextlib.contextmanager
def fixed_width(columns: int = COLUMNS) -> Iterator[None]:
    """Help text wrapped at ``columns`` (argparse reads $COLUMNS), whatever the terminal."""
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(columns)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old


def _actions(parser: argparse.ArgumentParser, words: list[str]) -> Iterator[tuple[list[str], str]]:
    yield words, parser.format_help()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            seen: set[int] = set()
            for name, child in action.choices.items():
                if id(child) not in seen:  # an alias names the same parser again
                    seen.add(id(child))
                    yield from _actions(child, [*words, name])


def _commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices


def help_sections() -> list[tuple[list[str], str]]:
    """(command words, help text) for ``lipe``, every command and every action, in order."""
    with fixed_width():
        top = build_parser([])  # what `lipe --help` prints: the commands' names and help lines
        sections = [(["lipe"], top.format_help())]
        for name in _commands(top):  # each command's real parser, as `lipe NAME --help` builds it
            sections += _actions(_commands(build_parser([name]))[name], ["lipe", name])
    return sections


def render() -> str:
    parts = [HEADER]
    for words, text in help_sections():
        parts.append(f"## {' '.join(words)}\n\n```text\n{text.rstrip()}\n```\n")
    return "\n".join(parts)
