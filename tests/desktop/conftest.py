"""The desktop tests' fixtures: a library's app context, the main window on it, and the window opened
again on the same data folder (a restart). Each is closed after the test, windows before contexts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def app_context(tmp_path: Path):
    """``app_context(n_photos=12, model=None, setup=None)``: the app context of a generated library
    (``model``: that SDXL folder, on the CPU; ``setup(ctx)`` runs before it is returned); closed
    after the test. One generated library per test (it lives in ``tmp_path``)."""
    from lipe_desktop.context import AppContext
    from lipe_engine.testing.libraries import make_library

    opened: list[Any] = []

    def make(n_photos: int = 12, *, model: Path | str | None = None, setup: Any = None) -> Any:
        data, _folder = make_library(tmp_path, n_photos)
        ctx = AppContext.open(data)
        opened.append(ctx)
        if model is not None:
            ctx.settings.sdxl_model = str(model)
            ctx.settings.device = "cpu"
        if setup is not None:
            setup(ctx)
        return ctx

    yield make
    for ctx in reversed(opened):
        ctx.close()


def _show(qtbot, win: Any, shown: list[str]) -> Any:
    win.shown_errors = shown
    qtbot.addWidget(win)
    win.show()
    return win


def _collect_warnings(monkeypatch) -> list[str]:
    """Message boxes' warnings go to a list (``win.shown_errors``) instead of a modal box."""
    from PySide6.QtWidgets import QMessageBox

    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", staticmethod(lambda _p, _t, msg, *a, **k: shown.append(msg)))
    return shown


@pytest.fixture
def open_window(qtbot, app_context, monkeypatch):
    """The GUI tests' main window on a generated library: ``open_window(n_photos, warnings=True,
    setup=fn(ctx), model=None)`` (``warnings``: message boxes go to ``win.shown_errors``); closed
    after the test."""
    from lipe_desktop.main_window import MainWindow

    opened: list[Any] = []

    def make(n_photos: int = 12, *, warnings: bool = False, setup: Any = None, model: Any = None) -> Any:
        shown = _collect_warnings(monkeypatch) if warnings else []
        ctx = app_context(n_photos, model=model, setup=setup)
        win = _show(qtbot, MainWindow(ctx), shown)
        opened.append(win)
        return win

    yield make
    for win in reversed(opened):
        win.close()


@pytest.fixture
def reopen_window(qtbot):
    """``reopen_window(data_dir)``: the app started again on that data folder (a new context and main
    window, as the next start would open them); closing it stops a training it finds still running
    unless the test answers otherwise (``win.ask_training_on_close``). Closed after the test."""
    from lipe_desktop.context import AppContext
    from lipe_desktop.main_window import MainWindow

    opened: list[Any] = []

    def make(data: Path) -> Any:
        ctx = AppContext.open(data)
        win = MainWindow(ctx)
        opened.append((win, ctx))
        qtbot.addWidget(win)
        win.ask_training_on_close = lambda _names: "stop"
        win.show()
        return win

    yield make
    for win, ctx in reversed(opened):
        win.close()
        ctx.close()
