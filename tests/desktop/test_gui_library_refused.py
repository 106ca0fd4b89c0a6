"""A library the app refuses to open at start (its file gone where a library lived) ends in a question
with a way on: start a new library there, use another folder, or quit. Answered by clicking."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

pytestmark = pytest.mark.gui


@pytest.fixture
def library_gone(tmp_path: Path) -> Path:
    """A data folder whose library file was deleted; its thumbnails and edits are still there."""
    from lipe_engine.library import Library
    from lipe_engine.locations import DataLayout
    from lipe_engine.testing.libraries import make_library

    data, _folder = make_library(tmp_path, 3)
    layout = DataLayout(data)
    layout.thumbs.mkdir(parents=True, exist_ok=True)
    (layout.thumbs / "kept.jpg").write_bytes(b"an old thumbnail")
    for name in ("library.sqlite", "library.sqlite-wal", "library.sqlite-shm"):
        (data / name).unlink(missing_ok=True)
    with pytest.raises(Exception, match="is missing"):
        Library.open(data)
    return data


def _answer(qtbot, button_text: str, seen: list[str]) -> None:
    """When the refusal box shows, remember its text and click ``button_text`` with the mouse."""
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    def act() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox) or box.objectName() != "libraryRefused":
            QTimer.singleShot(30, act)
            return
        seen.append(f"{box.text()} {box.informativeText()} | " + " / ".join(b.text() for b in box.buttons()))
        button = next(b for b in box.buttons() if b.text() == button_text)
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)

    QTimer.singleShot(30, act)


def test_missing_library_offers_a_new_library_there_keeping_the_old_traces(qtbot, library_gone: Path) -> None:
    from lipe_desktop.library_refused import NEW_HERE, open_or_ask
    from lipe_engine.locations import DataLayout

    seen: list[str] = []
    _answer(qtbot, NEW_HERE, seen)
    ctx = open_or_ask(library_gone)
    try:
        assert seen and "is missing" in seen[0] and "Quit" in seen[0] and "another folder" in seen[0]
        assert ctx is not None and ctx.data_dir == library_gone.absolute()
        assert ctx.library.count_photos() == 0  # a new, empty library
        assert (DataLayout(library_gone).thumbs / "kept.jpg").read_bytes() == b"an old thumbnail"  # nothing lost
    finally:
        if ctx is not None:
            ctx.close()


def test_missing_library_can_use_another_folder(qtbot, library_gone: Path, tmp_path: Path, monkeypatch) -> None:
    from PySide6.QtWidgets import QFileDialog

    from lipe_desktop.library_refused import OTHER_FOLDER, open_or_ask

    other = tmp_path / "another-library"
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *_a, **_k: str(other)))
    seen: list[str] = []
    _answer(qtbot, OTHER_FOLDER, seen)
    ctx = open_or_ask(library_gone)
    try:
        assert ctx is not None and ctx.data_dir == other.absolute() and (other / "library.sqlite").is_file()
        assert not (library_gone / "library.sqlite").exists()  # the refused folder was left alone
    finally:
        if ctx is not None:
            ctx.close()


def test_the_app_quits_when_the_user_says_quit(qtbot, library_gone: Path, monkeypatch) -> None:
    from lipe_desktop import app
    from lipe_desktop.library_refused import QUIT

    monkeypatch.setenv("LIPE_NO_FIRST_RUN", "1")
    seen: list[str] = []
    _answer(qtbot, QUIT, seen)
    assert app.main(["--data-dir", str(library_gone)]) == 2
    assert seen and "Start a new library here" in seen[0]
    assert not (library_gone / "library.sqlite").exists()  # no empty library made behind the user's back


def test_a_damaged_library_is_not_offered_a_new_one_in_its_place(qtbot, tmp_path: Path) -> None:
    from lipe_desktop.library_refused import NEW_HERE, QUIT, open_or_ask
    from lipe_engine.testing.libraries import make_library

    data, _folder = make_library(tmp_path, 2)
    db = data / "library.sqlite"
    for name in ("library.sqlite-wal", "library.sqlite-shm"):
        (data / name).unlink(missing_ok=True)
    db.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)  # damaged
    before = db.read_bytes()
    seen: list[str] = []
    _answer(qtbot, QUIT, seen)
    assert open_or_ask(data) is None
    assert seen and NEW_HERE not in seen[0] and "damaged" in seen[0]
    assert db.read_bytes() == before
