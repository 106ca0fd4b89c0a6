"""Shared checks of the hostile-input suite (tests/hostile/test_hostile_*.py).

Every hostile case asserts the same four things: the exit code, exactly one line on stderr with no
traceback, the originals' bytes unchanged (sha256), and the library file's ``integrity_check`` ok.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from lipe_engine.cli import main


def sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def hashes(paths) -> dict[str, str]:
    return {str(p): sha(p) for p in paths}


def run_cli(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    """``lipe ARGV`` in this process; an exception escaping ``main`` fails the test (a traceback)."""
    capsys.readouterr()
    rc = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def one_line_error(err: str, *words: str) -> str:
    """stderr holds exactly one non-empty line, no traceback, and it contains ``words``."""
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert "Traceback" not in err, err
    assert len(lines) == 1, err
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


def integrity_ok(db_path: Path) -> None:
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()


def no_model_load(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if anything loads a model: bad input must be refused before that."""
    import lipe_engine.models.loader as loader

    def refuse(*a, **k):
        raise AssertionError("a model was loaded before the bad input was refused")

    monkeypatch.setattr(loader, "load_sdxl", refuse)
