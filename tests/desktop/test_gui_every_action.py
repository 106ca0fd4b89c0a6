"""Every button, menu item, shortcut and context-menu entry of the app, used as a user does.

Nothing here calls a slot: buttons are clicked with the mouse, menus opened from the menu bar and
their items clicked, shortcuts pressed, the photo menu opened with a right click. Dialogs that open
are answered (closed) by a timer, like a user pressing Escape. pytest-qt fails a test when any slot
raises, and each test also fails when an unexpected error reached the log.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

pytestmark = pytest.mark.gui


class DialogCloser:
    """Closes each modal dialog and popup menu that opens (Escape), remembering their titles."""

    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        self.seen: list[str] = []
        self.timer = QTimer(interval=40)
        self.timer.timeout.connect(self._close)
        self.timer.start()

    def _close(self) -> None:
        from PySide6.QtWidgets import QApplication, QMessageBox

        w = QApplication.activeModalWidget() or QApplication.activePopupWidget()
        if w is None:
            return
        text = w.text() if isinstance(w, QMessageBox) else ""
        self.seen.append(f"{w.windowTitle()}: {text}".strip())
        w.close() if w.inherits("QMenu") else w.reject() if hasattr(w, "reject") else w.close()

    def stop(self) -> None:
        self.timer.stop()


@pytest.fixture()
def closer():
    c = DialogCloser()
    yield c
    c.stop()


@pytest.fixture()
def errors_logged(caplog):
    caplog.set_level(logging.WARNING)
    yield caplog
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not bad, [r.getMessage()[:300] for r in bad]


def _menu_items(win) -> list[tuple[object, object]]:
    out = []
    for top in win.menuBar().actions():
        menu = top.menu()
        for a in menu.actions():
            if not a.isSeparator() and a.isVisible():
                out.append((top, a))
    return out


def test_every_menu_item_by_mouse(open_window, qtbot, closer, errors_logged) -> None:
    from PySide6.QtCore import Qt

    win = open_window(6)
    win.album.confirm = lambda *_a: False  # "Remove from library…": the user says No
    items = _menu_items(win)
    texts = [a.text() for _top, a in items]
    assert {"Add folder…", "Settings…", "About LIPE Desktop", "Quit"} <= set(texts)
    bar = win.menuBar()
    for top, action in items:
        if action.text() == "Quit":
            continue  # last, below
        qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.actionGeometry(top).center())
        menu = top.menu()
        qtbot.waitUntil(menu.isVisible, timeout=2000)
        if not action.isEnabled():
            menu.close()
            continue
        fired = []
        action.triggered.connect(lambda *_a, f=fired: f.append(1))
        qtbot.mouseClick(menu, Qt.MouseButton.LeftButton, pos=menu.actionGeometry(action).center())
        qtbot.waitUntil(lambda f=fired: bool(f), timeout=2000)
        qtbot.wait(150)  # the dialog it opened is answered
    qtbot.waitUntil(lambda: not win.ctx.pool.running, timeout=20_000)  # a rescan finishes
    assert any("About" in s for s in closer.seen) and any("Settings" in s for s in closer.seen)


def test_every_shortcut(open_window, qtbot, closer, errors_logged) -> None:
    from PySide6.QtGui import QKeySequence

    win = open_window(6)
    win.album.confirm = lambda *_a: False
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow, timeout=2000)
    keys = {a.text(): a.shortcut() for _t, a in _menu_items(win) if not a.shortcut().isEmpty()}
    assert keys["Settings…"] == QKeySequence("Ctrl+,")  # Preferences is empty on Linux desktops
    for text, seq in keys.items():
        if text == "Quit":
            continue
        fired = []
        action = next(a for _t, a in _menu_items(win) if a.text() == text)
        action.triggered.connect(lambda *_a, f=fired: f.append(1))
        combo = seq[0]
        win.activateWindow()  # back from the dialog the previous key opened
        qtbot.waitUntil(win.isActiveWindow, timeout=2000)
        win.album.grid.setFocus()  # Delete works in the album
        qtbot.keyClick(win.album.grid, combo.key(), combo.keyboardModifiers())
        try:
            qtbot.waitUntil(lambda f=fired: bool(f), timeout=2000)
        except Exception as exc:
            raise AssertionError(f"{text} ({seq.toString()}) did nothing") from exc
        qtbot.wait(100)
    qtbot.waitUntil(lambda: not win.ctx.pool.running, timeout=20_000)


def _buttons(widget) -> list:
    from PySide6.QtWidgets import QAbstractButton, QTabBar

    out = []
    for b in widget.findChildren(QAbstractButton):
        if b.isVisibleTo(widget) and b.isEnabled() and not isinstance(b.parent(), QTabBar):
            out.append(b)
    return out


def test_every_button_of_every_tab(open_window, qtbot, closer, errors_logged) -> None:
    from PySide6.QtCore import Qt

    def with_identity(ctx) -> None:  # type: ignore[no-untyped-def]
        ident = ctx.library.create_identity("Rex", "dog")
        ctx.library.add_identity_photos(ident, ctx.library.list_photos()[:3], role="reference")

    win = open_window(6, setup=with_identity)
    win.album.confirm = lambda *_a: False
    clicked = []
    for i in [*range(win.tabs.count()), win.tabs.indexOf(win.training)]:  # the queue again, with a job
        win.tabs.setCurrentIndex(i)
        page = win.tabs.widget(i)
        if page is win.identities:
            win.identities.select(win.ctx.library.list_identities()[0].id)
        if page is win.training and page.table.rowCount():
            page.table.selectRow(0)
        for b in _buttons(page):
            win.tabs.setCurrentIndex(i)  # "Queue training" opened the queue
            if not (b.isVisible() and b.isEnabled()):  # an earlier click changed the page
                continue
            if b.text() == "Start":
                continue  # starts a real training run (tests/desktop/test_gui_training.py)
            clicked.append(b.text() or b.toolTip())
            qtbot.mouseClick(b, Qt.MouseButton.LeftButton)
            qtbot.wait(50)
    qtbot.waitUntil(lambda: not win.ctx.pool.running, timeout=30_000)
    assert {"New identity…", "Delete", "Caption", "Queue training", "Add to queue", "Move up", "Remove",
            "Unload models"} <= set(clicked), clicked


def test_photo_context_menu_by_right_click(open_window, qtbot, closer, errors_logged) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication, QMenu

    win = open_window(4)
    win.album.confirm = lambda *_a: False
    closer.stop()  # this test works the menu itself
    grid = win.album.grid
    rect = grid.visualRect(win.album.model.index(0, 0))
    picked = []

    def choose_each() -> None:
        menu = QApplication.activePopupWidget()
        if not isinstance(menu, QMenu):
            return
        texts = [a.text() for a in menu.actions() if a.text()]
        picked.append(texts)
        edit = next(a for a in menu.actions() if a.text() == "Edit pose…")
        qtbot.mouseClick(menu, Qt.MouseButton.LeftButton, pos=menu.actionGeometry(edit).center())

    from PySide6.QtCore import QTimer

    QTimer.singleShot(300, choose_each)
    grid.viewport().setFocus()
    qtbot.mouseClick(grid.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    from PySide6.QtGui import QContextMenuEvent

    ev = QContextMenuEvent(QContextMenuEvent.Reason.Mouse, rect.center(), grid.viewport().mapToGlobal(rect.center()))
    QApplication.sendEvent(grid.viewport(), ev)  # what a right click sends
    qtbot.waitUntil(lambda: bool(win.edit_windows), timeout=5000)
    assert picked and "Edit pose…" in picked[0] and "Export copy…" in picked[0]
    ed = win.edit_windows[-1]
    qtbot.addWidget(ed)
    assert Path(ed.photo.path).name == Path(win.album.model.photo(0).path).name
    ed.close()


@pytest.fixture()
def app_log(tmp_path: Path):
    """The app's log file in ``tmp_path`` (``logs.setup_logging``), taken down after the test."""
    from lipe_desktop import logs

    path = logs.setup_logging(tmp_path)
    yield path
    for h in list(logging.getLogger().handlers):
        if getattr(h, "_lipe_desktop", False):
            logging.getLogger().removeHandler(h)
            h.close()
    logs._log_file = None


def test_an_unexpected_error_leaves_its_traceback_in_the_log_it_points_to(app_log: Path) -> None:
    from lipe_desktop import logs

    path = app_log
    try:
        iter(True)  # type: ignore[call-overload]  # the save bug's error
    except TypeError as exc:
        message = logs.user_message(exc)
    assert f"Details are in {path}" in message
    for h in logging.getLogger().handlers:
        h.flush()
    text = path.read_text(encoding="utf-8")
    assert "Traceback" in text and "iter(True)" in text and text.count("Traceback") == 1
    try:
        raise ValueError("logged by the worker")
    except ValueError as exc:
        logs.log_exception(exc, "Saving")
        logs.user_message(exc)  # not logged a second time
    for h in logging.getLogger().handlers:
        h.flush()
    assert path.read_text(encoding="utf-8").count("Traceback") == 2


def test_clips_77_token_warning_is_logged_once(app_log: Path) -> None:
    path = app_log
    noisy = logging.getLogger("lipe_desktop.training.child")  # any logger reaching the log file (the runner propagates diffusers' too)
    for i in range(50):  # what rendering 50 class images used to log
        noisy.warning("The following part of your input was truncated because CLIP can only handle "
                      "sequences up to 77 tokens: ['prompt %d']", i)
    logging.getLogger("lipe_desktop").warning("something else")
    for h in logging.getLogger().handlers:
        h.flush()
    text = path.read_text(encoding="utf-8")
    assert text.count("can only handle sequences") == 1 and "something else" in text
