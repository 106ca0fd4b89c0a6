"""Identities panel: create an identity, drop photos on it, roles, captions, readable errors."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from gui_helpers import make_library  # noqa: E402

pytestmark = pytest.mark.gui


@pytest.fixture()
def window(qtbot, tmp_path: Path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from lipe_desktop.context import AppContext
    from lipe_desktop.main_window import MainWindow

    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", staticmethod(lambda _p, _t, msg, *a, **k: shown.append(msg)))
    data, _ = make_library(tmp_path, 6)
    ctx = AppContext.open(data)
    win = MainWindow(ctx)
    win.shown_errors = shown
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()
    ctx.close()


def test_create_identity_drop_photos_roles_and_captions(window, qtbot) -> None:
    from PySide6.QtCore import QPointF, Qt
    from PySide6.QtGui import QDropEvent

    panel = window.identities
    album = window.album
    ident = panel.new_identity([album.model.photo(0)], values=("Rex", "dog", None))
    assert ident is not None and ident.kind == "pet"
    assert panel.current_id() == ident.id and panel.model.rowCount() == 1
    # drag two more photos from the album grid and drop them on the identity's photos
    mime = album.model.mimeData([album.model.index(1), album.model.index(2)])
    ev = QDropEvent(
        QPointF(10, 10),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    panel.grid.dropEvent(ev)
    assert panel.model.rowCount() == 3
    assert "3 reference photo(s)" in panel.header.text()
    # mark one as a target through its context menu
    p = panel.model.photo(2)
    menu = panel.photo_menu([p])
    next(a for a in menu.actions() if a.text().startswith("Use as target")).trigger()
    links = {link.photo.id: link.role for link in window.ctx.library.identity_photos(ident.id)}
    assert links[p.id] == "target"
    # the album sidebar lists the identity as an album with its badges
    album.sidebar.select_source(("identity", ident.id))
    assert album.model.rowCount() == 3
    # edit a caption
    panel.grid.setCurrentIndex(panel.model.index(0))
    assert panel.caption.isEnabled()
    panel.caption.setPlainText("a photo of a sks dog sitting on grass")
    panel.save_caption()
    cap = window.ctx.library.get_caption(panel.model.photo(0), identity=ident.id)
    assert cap.text == "a photo of a sks dog sitting on grass" and cap.edited_by_user


def test_album_menu_adds_to_identity_and_bad_names_are_readable(window) -> None:
    panel = window.identities
    ident = panel.new_identity([], values=("Toy", "robot", "object"))
    photos = [window.album.model.photo(3)]
    menu = window.build_photo_menu(photos)
    sub = next(a.menu() for a in menu.actions() if a.text() == "Add to identity")
    next(a for a in sub.actions() if a.text() == "Toy — target").trigger()
    assert [link.role for link in window.ctx.library.identity_photos(ident.id)] == ["target"]
    assert panel.new_identity([], values=("Bad/name", "dog", None)) is None
    assert window.shown_errors and "identity name" in window.shown_errors[-1]
    assert "Traceback" not in window.shown_errors[-1]


def test_suggest_without_clip_model_says_how_to_fix(window, qtbot) -> None:
    panel = window.identities
    panel.new_identity([window.album.model.photo(0)], values=("Rex", "dog", None))
    w = panel.run_suggest()
    with qtbot.waitSignal(w.done, timeout=30_000):
        pass
    assert w.state == "failed"
    assert window.shown_errors and "embedding model" in window.shown_errors[-1]
