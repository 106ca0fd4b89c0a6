"""The app fits the desktop: icon, desktop entry name, `lipe-desktop FILE...`, Ctrl+F, Delete."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from lipe_engine.testing.libraries import make_photos  # noqa: E402

pytestmark = pytest.mark.gui
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def window(open_window):
    win = open_window(6)
    win.questions = []

    def answer(title: str, text: str) -> bool:
        win.questions.append(text)
        return win.answer

    win.answer = True
    win.album.confirm = answer
    return win


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_window_and_application_icon_and_desktop_file_name(window, qapp) -> None:
    from lipe_desktop import app, main_window

    assert main_window.ICON.is_file(), main_window.ICON
    assert not window.windowIcon().isNull()
    app.configure_application(qapp)
    assert not qapp.windowIcon().isNull()
    # the installers' entry is lipe-desktop.desktop with StartupWMClass=lipe-desktop: the same name
    script = (ROOT / "installers" / "linux" / "install.sh").read_text(encoding="utf-8")
    entry = re.search(r'ENTRY="\$DATA/applications/([\w.-]+)\.desktop"', script)
    wm_class = re.search(r"^StartupWMClass=(\S+)$", script, re.M)
    assert entry and wm_class
    assert qapp.desktopFileName() == entry.group(1) == wm_class.group(1) == app.DESKTOP_FILE_NAME
    assert re.search(r'^Exec=.*lipe-desktop" %F$', script, re.M)


def test_command_line_takes_files() -> None:
    from lipe_desktop.app import _parse

    args = _parse(["--data-dir", "/tmp/d", "a.jpg", "b c.png"])
    assert args.files == ["a.jpg", "b c.png"] and args.data_dir == "/tmp/d"
    assert _parse([]).files == []


def test_open_photos_of_a_new_folder_after_asking(window, qtbot, tmp_path: Path) -> None:
    new = tmp_path / "camera"
    photos = make_photos(new, 3)
    before = _digests(new)
    window.open_paths([str(photos[1]), str(photos[2])])
    album = window.album
    assert len(window.questions) == 1 and str(new) in window.questions[0]
    assert album.stack.currentIndex() == 1  # the viewer, at once
    qtbot.waitUntil(lambda: any(str(f.path) == str(new) for f in window.ctx.library.list_folders()),
                    timeout=5000)
    qtbot.waitUntil(lambda: getattr(album.viewer.photo, "content_hash", None) is not None, timeout=20_000)
    assert album.stack.currentIndex() == 1
    assert Path(album.viewer.photo.path).name == photos[1].name
    qtbot.waitUntil(lambda: album.viewer.loaded_path is not None and album.viewer.loaded_path.endswith(photos[1].name),
                    timeout=10_000)
    album.viewer.step(1)
    assert Path(album.viewer.photo.path).name == photos[2].name
    assert window.ctx.library.count_photos() == 9
    assert _digests(new) == before


def test_open_without_adding_shows_the_file_and_changes_nothing(window, qtbot, tmp_path: Path) -> None:
    from lipe_desktop.album.page import LooseFile

    photo = make_photos(tmp_path / "elsewhere", 1)[0]
    window.answer = False
    window.open_paths([str(photo)])
    assert len(window.questions) == 1
    album = window.album
    assert isinstance(album.viewer.photo, LooseFile) and album.viewer.photo.path == photo
    qtbot.waitUntil(lambda: album.viewer.loaded_path == str(photo), timeout=10_000)
    assert [f.path.name for f in window.ctx.library.list_folders()] == ["pictures"]
    assert window.ctx.library.count_photos() == 6


def test_open_a_library_photo_asks_nothing(window, qtbot, tmp_path: Path) -> None:
    photo = window.ctx.library.list_photos(order="path")[2]
    window.open_paths([str(photo.path), str(tmp_path / "missing.jpg")])
    assert window.questions == []
    assert window.album.viewer.photo.id == photo.id
    assert "missing.jpg" in window.statusBar().currentMessage()


def test_ctrl_f_focuses_search(window, qtbot) -> None:
    from PySide6.QtCore import Qt

    window.tabs.setCurrentIndex(window.tabs.count() - 1)
    window.album.search.setText("photo")
    window.activateWindow()
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert window.tabs.currentWidget() is window.album
    qtbot.waitUntil(lambda: window.album.search.hasFocus(), timeout=3000)
    assert window.album.search.selectedText() == "photo"


def test_delete_removes_from_library_after_asking_and_keeps_files(window, qtbot, tmp_path: Path) -> None:
    from PySide6.QtCore import QItemSelectionModel, Qt

    lib = window.ctx.library
    folder = tmp_path / "pictures"
    before = _digests(folder)
    album = window.album
    grid = album.grid
    sel = grid.selectionModel()
    for row in (0, 1):
        sel.select(album.model.index(row), QItemSelectionModel.SelectionFlag.Select)
    chosen = {p.id for p in grid.selected_photos()}
    grid.setFocus()
    window.answer = False
    qtbot.keyClick(grid, Qt.Key.Key_Delete)
    assert len(window.questions) == 1 and "Remove 2 photos from the library" in window.questions[0]
    assert lib.count_photos() == 6  # "No": nothing changes
    window.answer = True
    qtbot.keyClick(grid, Qt.Key.Key_Delete)
    assert lib.count_photos() == 4
    assert not chosen & {p.id for p in lib.list_photos()}
    assert _digests(folder) == before  # the originals are all still there, unchanged
    qtbot.waitUntil(lambda: album.model.rowCount() == 4, timeout=3000)
    lib.scan()  # a rescan does not bring them back
    assert lib.count_photos() == 4


def test_delete_in_an_identity_removes_only_the_link(window, qtbot) -> None:
    from PySide6.QtCore import QItemSelectionModel, Qt

    lib = window.ctx.library
    ident = lib.create_identity("Rex", "dog")
    lib.add_identity_photos(ident, lib.list_photos()[:3], role="reference")
    window.ctx.libraryChanged.emit()
    album = window.album
    album.sidebar.select_source(("identity", ident.id))
    qtbot.waitUntil(lambda: album.model.rowCount() == 3, timeout=3000)
    album.grid.selectionModel().select(album.model.index(0), QItemSelectionModel.SelectionFlag.Select)
    album.grid.setFocus()
    assert album.remove_action.text() == "Remove from identity…"  # the Edit menu says what Delete does
    qtbot.keyClick(album.grid, Qt.Key.Key_Delete)
    assert "from the identity “Rex”" in window.questions[-1]
    assert len(lib.identity_photos(ident)) == 2
    assert lib.count_photos() == 6  # still in the library


def test_delete_while_typing_in_search_edits_the_text(window, qtbot) -> None:
    from PySide6.QtCore import Qt

    album = window.album
    album.search.setText("abc")
    album.search.setFocus()
    album.search.setCursorPosition(0)
    qtbot.keyClick(album.search, Qt.Key.Key_Delete)
    assert album.search.text() == "bc" and window.questions == []
