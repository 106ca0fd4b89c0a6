"""What a walk through the app in a real window (docs/desktop-walk.md) found broken, ugly or confusing,
each checked the way the user met it: by clicking, pressing keys and opening menus."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

pytestmark = pytest.mark.gui


def _click_menu_item(qtbot, win, top_text: str, item_text: str) -> None:
    """Open a menu of the menu bar with the mouse and click one of its items."""
    from PySide6.QtCore import Qt

    bar = win.menuBar()
    top = next(a for a in bar.actions() if a.text().replace("&", "") == top_text)
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.actionGeometry(top).center())
    menu = top.menu()
    qtbot.waitUntil(menu.isVisible, timeout=2000)
    action = next(a for a in menu.actions() if a.text() == item_text)
    qtbot.mouseClick(menu, Qt.MouseButton.LeftButton, pos=menu.actionGeometry(action).center())


def _click_tab(qtbot, win, page) -> None:
    from PySide6.QtCore import Qt

    bar = win.tabs.tabBar()
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(win.tabs.indexOf(page)).center())
    assert win.tabs.currentWidget() is page


def test_a_folder_just_added_is_the_one_shown(open_window, qtbot, tmp_path: Path, monkeypatch) -> None:
    """File > Add folder… used to leave the album on the top of "All photos": the new photos were
    nowhere in sight."""
    from PySide6.QtWidgets import QFileDialog

    from lipe_engine.testing.libraries import make_photos

    win = open_window(30)  # the first screen is full of the old photos
    new = tmp_path / "Holiday"
    make_photos(new, 3, size=(120, 90))
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *_a, **_k: str(new)))  # the pick
    _click_menu_item(qtbot, win, "File", "Add folder…")
    lib = win.ctx.library
    qtbot.waitUntil(lambda: lib.count_photos() == 33 and not win.ctx.pool.running, timeout=20_000)
    folder = next(f for f in lib.list_folders() if Path(f.path) == new)
    qtbot.waitUntil(lambda: win.album.source == ("folder", folder.id), timeout=5000)
    assert win.album.model.rowCount() == 3
    assert all(Path(win.album.model.photo(i).path).parent == new for i in range(3))


def test_identities_are_named_in_the_users_words_not_the_models_token(open_window, qtbot) -> None:
    """The identity list read "sks dog · pet · 5 ref", the batch dialog "Rex (sks dog)"."""
    def with_identity(ctx) -> None:  # type: ignore[no-untyped-def]
        ident = ctx.library.create_identity("Rex", "dog")
        ctx.library.add_identity_photos(ident, ctx.library.list_photos()[:3], role="reference")

    win = open_window(4, setup=with_identity)
    token = win.ctx.library.list_identities()[0].token
    _click_tab(qtbot, win, win.identities)
    item = win.identities.list.item(0).text()
    assert token not in item and "Rex" in item and "dog · 3 references" in item
    qtbot.wait(50)
    assert win.identities.list.horizontalScrollBar().maximum() == 0  # nothing cut off at the list's width
    _click_menu_item(qtbot, win, "Edit", "Edit pose of an identity's photos…")
    qtbot.waitUntil(lambda: _visible_batch(win) is not None, timeout=3000)
    dlg = _visible_batch(win)
    qtbot.addWidget(dlg)
    names = [dlg.identity.itemText(i) for i in range(dlg.identity.count())]
    assert names and all(token not in n for n in names) and names[0].startswith("Rex")
    dlg.close()


def _visible_batch(win):  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QApplication

    from lipe_desktop.edit.batch_dialog import BatchEditDialog

    return next((w for w in QApplication.topLevelWidgets() if isinstance(w, BatchEditDialog) and w.isVisible()),
                None)


def test_the_queue_bar_does_not_say_0_percent_under_a_finished_job(open_window, qtbot) -> None:
    """After a training finished (100% in its row) the bar below read "0%"."""
    def with_done_job(ctx) -> None:  # type: ignore[no-untyped-def]
        ident = ctx.library.create_identity("Rex", "dog")
        job = ctx.library.create_job("train", {"preset": "toy"}, identity=ident.id)
        ctx.library.update_job(job.id, state="done", progress=1.0, message="prior trained")

    win = open_window(2, setup=with_done_job)
    _click_tab(qtbot, win, win.training)
    qtbot.wait(50)
    assert win.training.table.item(0, 4).text() == "100%"
    assert "0%" not in win.training.bar.text() and "nothing running" in win.training.bar.text()


def test_review_shows_every_random_seed_result_and_no_dash_header(open_window, qtbot) -> None:
    """Two results of one change with random seeds (recorded as no seed) fell into one cell under
    the header "seed –": one of them could not be seen, kept or discarded."""
    from PIL import Image

    from lipe_engine.locations import DataLayout

    def with_results(ctx) -> None:  # type: ignore[no-untyped-def]
        lib = ctx.library
        photo = lib.list_photos()[0]
        job = lib.create_job("edit", {"photos": [photo.id]})
        out = DataLayout(ctx.data_dir).edits / "jobs" / f"job{job.id}"
        out.mkdir(parents=True)
        for k in range(2):
            path = out / f"p{photo.id}_{k + 1}.png"
            Image.new("RGB", (64, 64), (40 * k, 90, 160)).save(path)
            lib.add_edit_result(photo.id, path, job_id=job.id, identity=None, source_prompt="a dog",
                                target_prompt="a dog sitting", seed=None, recipe={"change": "sitting"})

    win = open_window(2, setup=with_results)
    _click_menu_item(qtbot, win, "Edit", "Review edited photos…")
    qtbot.waitUntil(lambda: getattr(win, "review_window", None) is not None, timeout=3000)
    review = win.review_window
    qtbot.addWidget(review)
    grid = review.grid
    assert grid.count() == 2 and (grid.rowCount(), grid.columnCount()) == (1, 2)
    headers = [grid.horizontalHeaderItem(c).text() for c in range(grid.columnCount())]
    assert headers == ["result 1", "result 2"]
    review.close()


def test_settings_say_an_empty_model_field_means_the_toy_model(open_window, qtbot) -> None:
    """The SDXL field's hint was cut at "…or Hugging Fa…": "empty: the shipped toy model" never showed."""
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from lipe_desktop.settings_dialog import SettingsDialog

    win = open_window(2)
    seen: list[str] = []

    def look() -> None:
        dlg = QApplication.activeModalWidget()
        if not isinstance(dlg, SettingsDialog):
            QTimer.singleShot(50, look)
            return
        edit = dlg.edits["sdxl_model"]
        room = edit.width() - 12  # the frame and text margins
        seen.append(edit.fontMetrics().elidedText(edit.placeholderText(), Qt.TextElideMode.ElideRight, room))
        dlg.reject()

    QTimer.singleShot(50, look)
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow, timeout=2000)
    qtbot.keyClick(win.album.grid, Qt.Key.Key_Comma, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: bool(seen), timeout=3000)
    assert "toy model" in seen[0], seen


def test_a_tile_keeps_its_whole_file_name_when_the_folder_name_is_long(open_window) -> None:
    """"data1-toy-photos/toy_005.png" was cut in the middle to "data1-toy-p…toy_005.png" (in the
    identity grid "data1-to…_005.png"): the folder gives way first now."""
    from lipe_desktop.album.grid import fit_tile_name, tile_name

    win = open_window(1)
    metrics = win.album.grid.fontMetrics()
    name = tile_name("/home/me/Holiday photos from the seaside 2024/IMG_0042.jpg")
    for width in (120, 160):  # an identity tile, an album tile
        shown = fit_tile_name(name, metrics, width)
        assert metrics.horizontalAdvance(shown) <= width and shown.endswith("/IMG_0042.jpg"), shown
        assert shown.startswith("Ho") and "…" in shown
    assert fit_tile_name("dog/00.jpg", metrics, 150) == "dog/00.jpg"  # short names stay whole
    tiny = fit_tile_name(name, metrics, 40)  # no room for any folder: the file name, cut in the middle
    assert "/" not in tiny and metrics.horizontalAdvance(tiny) <= 40


def test_an_edited_version_can_be_deleted_from_its_right_click_menu(open_window, qtbot) -> None:
    """"Edited versions" showed each version with no way to delete one (a smear, a wrong pose)."""
    from PIL import Image
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtGui import QContextMenuEvent
    from PySide6.QtWidgets import QApplication, QMenu

    made: list[Path] = []

    def with_a_version(ctx) -> None:  # type: ignore[no-untyped-def]
        lib = ctx.library
        photo = lib.list_photos()[0]
        out = lib.new_edit_path(photo.id)
        Image.new("RGB", (32, 24), (200, 30, 30)).save(out)
        lib.record_edit(photo.id, out, source_prompt="a dog", target_prompt="a dog sitting")
        made.append(out)

    win = open_window(2, setup=with_a_version)
    original = Path(win.ctx.library.list_photos()[0].path)
    before = original.read_bytes()
    asked: list[str] = []
    win.album.confirm = lambda _title, text: asked.append(text) or True  # the user says Yes
    sidebar = win.album.sidebar
    qtbot.mouseClick(sidebar.viewport(), Qt.MouseButton.LeftButton,
                     pos=sidebar.visualItemRect(sidebar._edits).center())
    grid = win.album.grid
    qtbot.waitUntil(lambda: win.album.source[0] == "edits" and win.album.model.rowCount() == 2, timeout=3000)
    rect = grid.visualRect(win.album.model.index(1, 0))  # "v1", after its original
    qtbot.mouseClick(grid.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    seen: list[list[str]] = []

    def choose() -> None:
        menu = QApplication.activePopupWidget()
        if not isinstance(menu, QMenu):
            QTimer.singleShot(30, choose)
            return
        seen.append([a.text() for a in menu.actions() if a.text()])
        item = next((a for a in menu.actions() if a.text() == "Delete version…"), None)
        if item is None:  # not offered: the menu closes and the test fails below
            menu.close()
            return
        qtbot.mouseClick(menu, Qt.MouseButton.LeftButton, pos=menu.actionGeometry(item).center())

    QTimer.singleShot(30, choose)
    QApplication.sendEvent(grid.viewport(), QContextMenuEvent(QContextMenuEvent.Reason.Mouse, rect.center(),
                                                              grid.viewport().mapToGlobal(rect.center())))
    qtbot.waitUntil(lambda: not win.ctx.library.list_edits(), timeout=3000)
    assert seen and "Remove from library…" not in seen[0]  # a version is not a library photo
    assert asked and made[0].name in asked[0]
    assert not made[0].exists() and original.read_bytes() == before  # the version's file only
    qtbot.waitUntil(lambda: win.album.model.rowCount() == 0, timeout=3000)


def test_skipped_files_are_explained_without_library_names(open_window, qtbot, tmp_path: Path, monkeypatch) -> None:
    """A text file named notes.jpg was listed as "not an image Pillow can read": a library's name
    means nothing to the user."""
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtGui import QContextMenuEvent
    from PySide6.QtWidgets import QApplication, QFileDialog, QMenu

    from lipe_engine.testing.libraries import make_photos

    win = open_window(1)
    mixed = tmp_path / "Mixed"
    make_photos(mixed, 2)
    (mixed / "notes.jpg").write_text("a shopping list, not a photo")
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *_a, **_k: str(mixed)))
    _click_menu_item(qtbot, win, "File", "Add folder…")
    lib = win.ctx.library
    qtbot.waitUntil(lambda: lib.count_photos() == 3 and not win.ctx.pool.running, timeout=20_000)
    folder = next(f for f in lib.list_folders() if Path(f.path) == mixed)
    told: list[str] = []
    win.album.inform = lambda _title, text: told.append(text)
    sidebar = win.album.sidebar
    qtbot.waitUntil(lambda: sidebar.folder_item(folder.id) is not None, timeout=3000)
    rect = sidebar.visualItemRect(sidebar.folder_item(folder.id))

    def choose() -> None:
        menu = QApplication.activePopupWidget()
        if not isinstance(menu, QMenu):
            QTimer.singleShot(30, choose)
            return
        item = next((a for a in menu.actions() if a.text().startswith("Show skipped files")), None)
        if item is None:
            menu.close()
            return
        qtbot.mouseClick(menu, Qt.MouseButton.LeftButton, pos=menu.actionGeometry(item).center())

    QTimer.singleShot(30, choose)
    QApplication.sendEvent(sidebar.viewport(), QContextMenuEvent(QContextMenuEvent.Reason.Mouse, rect.center(),
                                                                 sidebar.viewport().mapToGlobal(rect.center())))
    qtbot.waitUntil(lambda: bool(told), timeout=3000)
    assert "notes.jpg" in told[0] and "Pillow" not in told[0]


def test_deleting_an_identity_says_its_trained_prior_is_forgotten(open_window, qtbot, monkeypatch) -> None:
    """"Delete 'Rex'? Photos stay in the library." said nothing of the trained prior that went too."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QMessageBox

    def with_a_prior(ctx) -> None:  # type: ignore[no-untyped-def]
        lib = ctx.library
        ident = lib.create_identity("Rex", "dog")
        lib.add_identity_photos(ident, lib.list_photos()[:2], role="reference")
        weights = ctx.data_dir / "loras" / "rex" / "lora.safetensors"
        weights.parent.mkdir(parents=True)
        weights.write_bytes(b"weights")
        lib.record_lora(ident, weights, "toy")

    win = open_window(3, setup=with_a_prior)
    asked: list[str] = []
    monkeypatch.setattr(QMessageBox, "question",
                        staticmethod(lambda _p, _t, text, *a, **k: asked.append(text) or QMessageBox.StandardButton.No))
    _click_tab(qtbot, win, win.identities)
    delete = next(b for b in win.identities.findChildren(type(win.identities.train_btn)) if b.text() == "Delete")
    qtbot.mouseClick(delete, Qt.MouseButton.LeftButton)
    assert asked and "trained prior" in asked[0] and "stay on disk" in asked[0]
    assert [i.name for i in win.ctx.library.list_identities()] == ["Rex"]  # "No": nothing deleted


def test_the_new_identity_dialog_shows_its_hints_whole(open_window, qtbot) -> None:
    """The class word's hint was cut ("a plain noun: dog, cat, pers…") in a dialog 260 px wide."""
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from lipe_desktop.identities.dialog import NewIdentityDialog

    win = open_window(1)
    _click_tab(qtbot, win, win.identities)
    cut: list[str] = []

    def look() -> None:
        dlg = QApplication.activeModalWidget()
        if not isinstance(dlg, NewIdentityDialog):
            QTimer.singleShot(30, look)
            return
        for edit in (dlg.name, dlg.class_word):
            room = edit.width() - 12  # frame and text margins
            if edit.fontMetrics().horizontalAdvance(edit.placeholderText()) > room:
                cut.append(edit.placeholderText())
        cut.append("looked")
        dlg.reject()

    QTimer.singleShot(30, look)
    new = next(b for b in win.identities.findChildren(type(win.identities.train_btn)) if b.text() == "New identity…")
    qtbot.mouseClick(new, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "looked" in cut, timeout=3000)
    assert cut == ["looked"], cut


def test_describe_with_llava_is_offered_only_with_a_llava_model(open_window, qtbot, monkeypatch) -> None:
    """Ticked with no LLaVA set, the training quietly used the plain prompt (said only in its log)."""
    from PySide6.QtCore import Qt

    for var in ("LIPE_LLAVA_GGUF", "LIPE_LLAVA_MMPROJ"):
        monkeypatch.delenv(var, raising=False)
    win = open_window(1)
    _click_tab(qtbot, win, win.training)
    box = win.training.caption_first
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton)
    assert not box.isEnabled() and not box.isChecked() and "Settings" in box.toolTip()
    settings = win.ctx.settings
    settings.llava_gguf, settings.llava_mmproj = "/models/llava.gguf", "/models/mmproj.gguf"
    win.ctx.save_settings(settings)  # what Settings' OK does
    assert box.isEnabled() and box.isChecked()


def test_removing_a_stopped_training_asks_first(open_window, qtbot, monkeypatch) -> None:
    """Remove on a stopped training's row deleted it at once: it could no longer be resumed."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QMessageBox

    def with_stopped_training(ctx) -> None:  # type: ignore[no-untyped-def]
        ident = ctx.library.create_identity("Rex", "dog")
        out = ctx.data_dir / "loras" / "rex-run"
        (out / "checkpoints" / "step_40").mkdir(parents=True)
        job = ctx.library.create_job("train", {"preset": "toy", "output_dir": str(out)}, identity=ident.id)
        ctx.library.update_job(job.id, state="cancelled", progress=0.4, message="stopped: resume to continue")

    win = open_window(1, setup=with_stopped_training)
    answers = [QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes]
    asked: list[str] = []
    monkeypatch.setattr(QMessageBox, "question",
                        staticmethod(lambda _p, _t, text, *a, **k: asked.append(text) or answers[len(asked) - 1]))
    _click_tab(qtbot, win, win.training)
    panel = win.training
    table = panel.table
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=table.visualItemRect(table.item(0, 1)).center())
    qtbot.mouseClick(panel.buttons["remove"], Qt.MouseButton.LeftButton)
    assert asked and "can then no longer be resumed" in asked[0]
    assert len(win.ctx.library.list_jobs()) == 1  # "No": still there
    qtbot.mouseClick(panel.buttons["remove"], Qt.MouseButton.LeftButton)
    assert len(asked) == 2 and win.ctx.library.list_jobs() == []


def test_menu_items_for_selected_photos_say_so_when_none_is_selected(open_window, qtbot) -> None:
    """Edit > Edit pose of selected photos… and File > Export selected… did nothing visible with no
    photo selected."""
    win = open_window(3)
    win.album.grid.clearSelection()
    _click_menu_item(qtbot, win, "Edit", "Edit pose of selected photos…")
    qtbot.waitUntil(lambda: "Select photos" in win.statusBar().currentMessage(), timeout=2000)
    assert not win.edit_windows
    win.statusBar().clearMessage()
    _click_menu_item(qtbot, win, "File", "Export selected…")
    qtbot.waitUntil(lambda: "Select photos" in win.statusBar().currentMessage(), timeout=2000)
