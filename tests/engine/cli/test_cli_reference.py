"""docs/cli-reference.md is generated from the parsers and says exactly what `lipe ... --help` says."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lipe_engine.cli import main
from lipe_engine.cli._reference import COLUMNS, help_sections, render

ROOT = Path(__file__).resolve().parents[3]
PAGE = ROOT / "docs" / "cli-reference.md"


def test_the_page_is_the_generated_one() -> None:
    assert PAGE.read_text(encoding="utf-8") == render(), "docs/cli-reference.md is stale: run `make cli-reference`"


def test_every_section_is_what_help_prints(monkeypatch, capsys) -> None:
    monkeypatch.setenv("COLUMNS", str(COLUMNS))
    sections = help_sections()
    words = [" ".join(w) for w, _ in sections]
    # every command and the actions of the grouped ones are there (spot checks chosen beforehand)
    for expected in ("lipe", "lipe edit", "lipe library add", "lipe library set-clip-model",
                     "lipe identity suggest", "lipe queue run"):
        assert expected in words
    for argv, text in sections:
        capsys.readouterr()
        with pytest.raises(SystemExit) as done:
            main([*argv[1:], "--help"])
        assert done.value.code == 0
        assert capsys.readouterr().out == text, " ".join(argv)


def test_the_real_command_prints_the_first_section() -> None:
    env = dict(os.environ, COLUMNS=str(COLUMNS), PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-m", "lipe_engine", "--help"], capture_output=True, text=True,
                         env=env, cwd=ROOT, check=True).stdout
    assert f"```text\n{out.rstrip()}\n```" in PAGE.read_text(encoding="utf-8")
