"""What the machine can do is said at start; a CPU user can try the method on toy photos; nothing
the user made is thrown away or run on the wrong model without a question."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

pytestmark = pytest.mark.gui


def test_no_gpu_toy_model_and_a_toy_album_in_one_click(open_window, qtbot) -> None:
    from PySide6.QtCore import Qt

    from lipe_engine.toyworld.photos import looks_like_toy_photo

    win = open_window(0, warnings=True)  # an empty library, the shipped toy model (no model set)
    album = win.album
    assert not album.empty_hint.isHidden() and album.grid.isHidden()  # how to start, not an empty grid
    assert not win.banner.isHidden() and "toy model" in win.banner.label.text()
    qtbot.waitUntil(lambda: win.gpu_gb is not None, timeout=30_000)  # looked for a GPU on a thread
    assert win.gpu_gb == 0 and win.banner.label.text().startswith("No GPU found")
    assert "real photos need the SDXL model on a GPU" in win.banner.label.text()
    qtbot.mouseClick(album.try_toy_btn, Qt.MouseButton.LeftButton)
    lib = win.ctx.library
    qtbot.waitUntil(lambda: (lib.count_photos() == 24 and not win.ctx.pool.running) or bool(win.shown_errors), timeout=60_000)
    assert not win.shown_errors
    qtbot.waitUntil(lambda: album.model.rowCount() == 24, timeout=5000)
    assert album.empty_hint.isHidden() and not album.grid.isHidden()
    (ident,) = lib.list_identities()
    refs = lib.identity_photos(ident.id, role="reference")
    assert ident.name == "Rex (toy dog)" and len(refs) == 5
    assert len(lib.identity_photos(ident.id, role="target")) == 3
    cap = lib.get_caption(refs[0].photo, identity=ident.id)
    assert cap is not None and f"a {ident.token} dog" in cap.text
    assert all(looks_like_toy_photo(p.path) for p in lib.list_photos())
    folder = Path(max(lib.list_folders(), key=lambda f: f.id).path)
    assert folder.parent == win.ctx.data_dir.parent and folder.name.startswith(win.ctx.data_dir.name)  # beside it
    assert album.source == ("folder", max(f.id for f in lib.list_folders()))
    # a second click shows the album already made: no second copy of the photos, no "Rex (toy dog) 1"
    album.sidebar.select_source(("all", None))
    qtbot.mouseClick(win.banner.try_btn, Qt.MouseButton.LeftButton)
    qtbot.wait(200)
    assert not win.ctx.pool.running and lib.count_photos() == 24 and len(lib.list_identities()) == 1
    assert album.source == ("folder", max(f.id for f in lib.list_folders()))
    assert "already in your library" in win.statusBar().currentMessage()
    # once that folder left the library, a click makes a new album in a new folder: nothing is overwritten
    album.confirm = lambda *_a: True
    album.remove_folder(max(f.id for f in lib.list_folders()))
    qtbot.mouseClick(win.banner.try_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: (lib.count_photos() == 24 and len(lib.list_folders()) == 2
                             and not win.ctx.pool.running) or bool(win.shown_errors), timeout=60_000)
    assert not win.shown_errors
    assert Path(max(lib.list_folders(), key=lambda f: f.id).path) != folder and folder.is_dir()
    qtbot.mouseClick(win.banner.close_btn, Qt.MouseButton.LeftButton)
    assert win.banner.isHidden()


def test_edit_with_the_toy_model_on_a_real_photo_asks_first(open_window, qtbot) -> None:
    from PySide6.QtCore import Qt

    win = open_window(2)
    ed = win.open_editor([win.album.model.photo(0)])
    qtbot.addWidget(ed)
    asked = []
    ed.confirm = lambda title, text: asked.append(text) or False
    qtbot.mouseClick(ed.run_btn, Qt.MouseButton.LeftButton)
    assert asked and "smear" in asked[0] and ed.worker is None
    assert ed.status.text().startswith("Not run")


def test_closing_with_unsaved_edit_results_asks(open_window, qtbot) -> None:
    win = open_window(2)
    ed = win.open_editor([win.album.model.photo(0)])
    ed.result = SimpleNamespace(images=[object(), object()])  # two results, none saved
    asked = []
    win.ask_unsaved_edits = lambda n: asked.append(n) or False
    assert not win.close() and win.isVisible() and ed.isVisible()  # "No": nothing is thrown away
    assert asked == [2]
    ed.confirm = lambda *_a: False
    assert not ed.close()  # the edit window alone asks too
    win.ask_unsaved_edits = lambda n: True
    assert win.close() and not ed.isVisible()
