"""The smaller things a new user met: tile names, skipped files, deleted folders, jargon, Settings'
messages, the edit window's height, the remembered window size, About."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

pytestmark = pytest.mark.gui


def _pick_from_next_menu(qtbot, text: str) -> None:
    """Click ``text`` in the popup menu that opens next (what the user does after a right click)."""
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtWidgets import QApplication, QMenu

    def pick() -> None:
        menu = QApplication.activePopupWidget()
        if not isinstance(menu, QMenu):
            QTimer.singleShot(50, pick)
            return
        action = next(a for a in menu.actions() if a.text().startswith(text))
        qtbot.mouseClick(menu, Qt.MouseButton.LeftButton, pos=menu.actionGeometry(action).center())

    QTimer.singleShot(50, pick)


def _right_click_folder(win, qtbot, folder_id: int, choose: str) -> None:
    sidebar = win.album.sidebar
    item = sidebar.folder_item(folder_id)
    rect = sidebar.visualItemRect(item)
    _pick_from_next_menu(qtbot, choose)
    sidebar.customContextMenuRequested.emit(rect.center())  # what a right click on the item sends


def test_tiles_skipped_files_and_a_deleted_folder(open_window, qtbot, tmp_path: Path) -> None:
    win = open_window(4)
    lib = win.ctx.library
    album = win.album
    folder = lib.list_folders()[0]
    names = [album.model.index(r, 0).data() for r in range(album.model.rowCount())]
    assert all(n.startswith(f"{Path(folder.path).name}/") for n in names), names  # "pictures/photo_000.jpg"
    # a damaged file: skipped, and why is said (status bar, sidebar, the folder's menu)
    (Path(folder.path) / "broken.jpg").write_bytes(b"not a jpeg")
    messages = []
    win.statusBar().messageChanged.connect(messages.append)
    win.scan([folder.id])
    qtbot.waitUntil(lambda: any("skipped" in m for m in messages), timeout=20_000)
    assert any("broken.jpg:" in m and "right-click the folder" in m for m in messages), messages
    item = album.sidebar.folder_item(folder.id)
    assert item.text(0).endswith("(1 skipped)")
    shown = []
    album.inform = lambda title, text: shown.append(text)
    _right_click_folder(win, qtbot, folder.id, "Show skipped files (1)")
    qtbot.waitUntil(lambda: bool(shown), timeout=3000)
    assert "broken.jpg:" in shown[0]
    # the folder is deleted on disk: its photos are no longer shown, the folder says so
    shutil.rmtree(folder.path)
    win.ctx.libraryChanged.emit()
    qtbot.waitUntil(lambda: album.model.rowCount() == 0, timeout=5000)
    assert album.sidebar.folder_item(folder.id).text(0).endswith("(folder not found)")
    album.confirm = lambda title, text: "files on disk stay" in text
    _right_click_folder(win, qtbot, folder.id, "Remove folder from library")
    qtbot.waitUntil(lambda: not lib.list_folders(), timeout=3000)
    assert lib.count_photos() == 0


def test_no_jargon_on_screen(open_window, qtbot) -> None:
    from PySide6.QtWidgets import QComboBox, QLabel

    from lipe_desktop.edit.canvas import MASK_CHOICES

    def with_identity(ctx) -> None:  # type: ignore[no-untyped-def]
        ctx.library.create_identity("Rex", "dog")

    win = open_window(2, setup=with_identity)
    ed = win.open_editor([win.album.model.photo(0)])
    qtbot.addWidget(ed)
    texts = [c.itemText(i) for w in (win, ed) for c in w.findChildren(QComboBox) for i in range(c.count())]
    texts += [lab.text() for w in (win, ed) for lab in w.findChildren(QLabel)]
    texts += list(MASK_CHOICES) + ed.result_labels(type("R", (), {"prompts": ["a dog sitting"], "seeds": [None]})())
    joined = "\n".join(texts)
    for jargon in ("sks", "M^", "M_t", "seed –", "--llava", "LIPE_LLAVA_GGUF"):
        assert jargon not in joined, (jargon, [t for t in texts if jargon in t])
    ed.close()


def test_caption_without_llava_says_where_to_set_it_in_words(open_window, qtbot) -> None:
    from PySide6.QtCore import Qt

    def with_identity(ctx) -> None:  # type: ignore[no-untyped-def]
        ident = ctx.library.create_identity("Rex", "dog")
        ctx.library.add_identity_photos(ident, ctx.library.list_photos()[:2], role="reference")

    win = open_window(2, warnings=True, setup=with_identity)
    win.tabs.setCurrentWidget(win.identities)
    win.identities.select(win.ctx.library.list_identities()[0].id)
    qtbot.mouseClick(win.identities.caption_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(win.shown_errors), timeout=20_000)
    assert "Settings" in win.shown_errors[-1] and "--llava" not in win.shown_errors[-1]
    assert "LIPE_LLAVA" not in win.shown_errors[-1]


def test_settings_messages_are_not_clipped(qtbot, tmp_path: Path) -> None:
    from lipe_desktop.settings import AppSettings
    from lipe_desktop.settings_dialog import SettingsDialog

    dlg = SettingsDialog(AppSettings())
    qtbot.addWidget(dlg)
    dlg.show()
    for name in ("sdxl_model", "llava_gguf", "llm_gguf"):
        dlg.edits[name].setText(str(tmp_path / "a-rather-long-folder-name-that-does-not-exist" / "model.gguf"))
    qtbot.wait(50)
    shown = [m for m in dlg.messages.values() if not m.isHidden()]
    assert len(shown) >= 3
    for m in shown:
        assert m.height() >= m.heightForWidth(m.width()), (m.text(), m.height(), m.heightForWidth(m.width()))


def test_edit_window_fits_a_1000_pixel_screen_and_the_main_window_size_is_kept(open_window, qtbot) -> None:
    from lipe_desktop.main_window import MainWindow

    win = open_window(2)
    ed = win.open_editor([win.album.model.photo(0)])
    qtbot.addWidget(ed)
    ed.advanced.setChecked(True)  # everything open: the tallest it gets
    assert ed.minimumSizeHint().height() < 1000 - 60, ed.minimumSizeHint()  # title bar and panel room
    ed.close()
    win.resize(760, 620)  # the offscreen screen is 800 px wide
    win.close()
    again = MainWindow(win.ctx)
    qtbot.addWidget(again)
    assert (again.width(), again.height()) == (760, 620)
    again.close()


def test_about_says_the_version_and_how_to_start(open_window) -> None:
    from lipe_engine import __version__

    win = open_window(1)
    text = win.about_text()
    assert f"LIPE Desktop {__version__}" in text and "How to start" in text and "user guide" in text
