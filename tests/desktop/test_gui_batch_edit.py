"""Several photos -> "Edit pose…" -> one dialog -> queue for the night -> morning review -> versions.

The user's path through the real main window: select photos in the album, open the context menu,
pick changes in the dialog, queue; the queue runs (in-process here, as `lipe queue run` would); the
review window keeps and discards results in bulk; the album shows versions under their original.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt

from lipe_engine.library import Library
from lipe_engine.testing.libraries import add_rex

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def fast_model(tmp_path_factory, tiny_sdxl_dir: Path) -> Path:
    """The tiny model, shipping edit settings of 4 steps (its own lipe_edit_defaults.json)."""
    folder = tmp_path_factory.mktemp("fast_model") / "model"
    folder.mkdir()
    for entry in tiny_sdxl_dir.iterdir():
        (folder / entry.name).symlink_to(entry)
    (folder / "lipe_edit_defaults.json").write_text(json.dumps({"steps": 4, "skip": 1}))
    return folder


@pytest.fixture()
def window(open_window, fast_model: Path):
    def with_rex(ctx) -> None:  # type: ignore[no-untyped-def]
        add_rex(ctx.library)  # 3 references, 2 targets, all captioned (as the edit-job tests' library)

    return open_window(6, model=fast_model, setup=with_rex)


def _select_rows(win, rows: list[int]) -> list:
    grid = win.album.grid
    model = grid.model()
    for r in rows:
        grid.selectionModel().select(model.index(r, 0), QItemSelectionModel.SelectionFlag.Select)
    return grid.selected_photos()


def _dialog(win):
    from lipe_desktop.edit.batch_dialog import BatchEditDialog

    found = [d for d in win.findChildren(BatchEditDialog) if d.isVisible()]
    assert len(found) == 1
    return found[0]


def _menu_action(win, menu_title: str, text: str):
    menu = next(a.menu() for a in win.menuBar().actions() if a.text().replace("&", "") == menu_title)
    return next(a for a in menu.actions() if a.text() == text)


def test_several_photos_one_dialog_queue_tonight_review_in_the_morning(window, qtbot) -> None:
    photos = _select_rows(window, [3, 4])
    assert len(photos) == 2
    menu = window.build_photo_menu(photos)
    next(a for a in menu.actions() if a.text() == "Edit pose…").trigger()  # right-click -> Edit pose…
    assert window.edit_windows == []  # not the single-photo window on the first photo
    dlg = _dialog(window)
    assert dlg.identity.currentText().startswith("Rex")  # the photos' identity
    assert not dlg.queue_btn.isEnabled()  # no change yet
    chip = next(b for b in dlg.findChildren(type(dlg.run_btn)) if b.text() == "standing")
    qtbot.mouseClick(chip, Qt.MouseButton.LeftButton)
    qtbot.keyClicks(dlg.change, "facing left")
    qtbot.keyClick(dlg.change, Qt.Key.Key_Return)
    qtbot.keyClick(dlg.seeds, Qt.Key.Key_Up)  # 2 results per change
    assert dlg.change_list() == ["standing", "facing left"]
    plan = dlg.preview.toPlainText()
    assert "2 photo(s) x 2 change(s) x 2 seed(s) = 8 result(s)" in plan
    assert "target: a sks dog standing on grass" in plan and "no prior (base model)" in plan
    qtbot.mouseClick(dlg.queue_btn, Qt.MouseButton.LeftButton)
    assert not dlg.isVisible()
    lib = window.ctx.library
    job = lib.list_jobs(kind="edit")[0]
    assert job.state == "queued" and job.config["photos"] == [p.id for p in photos]
    assert job.config["runner"] == "desktop" and job.config["params"]["seeds"] == [None, 1]
    assert "queued for tonight" in window.statusBar().currentMessage()
    assert window.training.table.rowCount() == 1 and "edit 2 photo(s)" in window.training.table.item(0, 2).text()

    from lipe_engine.jobs import run_queue  # the night: what the queue runner (or `lipe queue run`) does

    with Library.open(window.ctx.data_dir) as night:
        assert [j.state for j in run_queue(night)] == ["done"]
    window.ctx.libraryChanged.emit()

    _menu_action(window, "Edit", "Review edited photos…").trigger()
    review = window.review_window
    qtbot.addWidget(review)
    assert review.photo_list.count() == 2 and review.grid.count() == 4
    assert (review.grid.rowCount(), review.grid.columnCount()) == (2, 2)  # changes x seeds
    assert review.grid.verticalHeaderItem(0).text() == "standing"
    assert review.grid.horizontalHeaderItem(1).text() == "seed 1"
    qtbot.mouseClick(review.tick_photo_btn, Qt.MouseButton.LeftButton)  # all of the first photo
    review.photo_list.setCurrentRow(1)
    first_of_second = review.grid.result_item(0)
    first_of_second.setCheckState(Qt.CheckState.Checked)  # one of the second photo
    assert review.keep_btn.text() == "Keep ticked (5)"
    qtbot.mouseClick(review.keep_btn, Qt.MouseButton.LeftButton)
    assert len(lib.list_edits()) == 5 and all(e.recipe["seed"] in (None, 1) for e in lib.list_edits())
    assert review.photo_list.count() == 1 and review.grid.count() == 3  # the second photo's rest
    qtbot.mouseClick(review.tick_photo_btn, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(review.discard_btn, Qt.MouseButton.LeftButton)
    assert review.photo_list.count() == 0 and lib.list_edit_results(status="pending") == []
    assert all(not r.path.exists() for r in lib.list_edit_results(status="discarded"))

    from lipe_desktop.album.sidebar import EDITS

    window.album.sidebar.select_source(EDITS)
    items = [window.album.model.photo(r) for r in range(window.album.model.rowCount())]
    assert [getattr(i, "edit_id", None) is None for i in items] == [True, False, False, False, False, True, False]
    assert items[0].id == photos[0].id and items[5].id == photos[1].id  # each original, then its versions


def test_run_now_starts_the_queue_and_an_identity_alone_edits_its_photos(window, qtbot, monkeypatch) -> None:
    started = []
    monkeypatch.setattr(window.training.runner, "start", lambda: started.append(True))
    window.album.sidebar.select_source(("identity", window.ctx.library.get_identity("Rex").id))
    _menu_action(window, "Edit", "Edit pose of an identity's photos…").trigger()
    dlg = _dialog(window)
    assert "2 photo(s)" in dlg.photos_label.text()  # Rex's photos to edit
    qtbot.keyClicks(dlg.change, "a photo of a dog jumping")
    qtbot.mouseClick(dlg.add_btn, Qt.MouseButton.LeftButton)
    assert "target: a photo of a sks dog jumping" in dlg.preview.toPlainText()  # a whole prompt, token put in
    qtbot.mouseClick(dlg.run_btn, Qt.MouseButton.LeftButton)
    assert started == [True]
    job = window.ctx.library.list_jobs(kind="edit")[0]
    assert len(job.config["photos"]) == 2 and "running now" in window.statusBar().currentMessage()


def test_the_dialog_says_what_is_missing_and_waits_for_a_queued_prior(window, qtbot) -> None:
    from lipe_engine.jobs import enqueue

    lib = window.ctx.library
    train = enqueue(lib, "Rex", class_images=0)
    photos = _select_rows(window, [3, 4])
    window.open_editor(photos)
    dlg = _dialog(window)
    assert "Add a change" in dlg.preview.toPlainText() and not dlg.run_btn.isEnabled()
    qtbot.keyClicks(dlg.change, "sitting")
    qtbot.keyClick(dlg.change, Qt.Key.Key_Return)
    assert f"its training is job {train.id}" in dlg.preview.toPlainText()
    qtbot.mouseClick(dlg.queue_btn, Qt.MouseButton.LeftButton)
    job = lib.list_jobs(kind="edit")[0]
    assert job.config["after_job"] == train.id
    assert f"after training job {train.id}" in window.statusBar().currentMessage()


def test_redo_ticked_discards_and_queues_the_photo_again_with_other_seeds(window, qtbot) -> None:
    from lipe_engine.jobs import enqueue_edit, run_queue

    lib = window.ctx.library
    photo = lib.list_photos()[3]
    with Library.open(window.ctx.data_dir) as night:
        enqueue_edit(night, "Rex", ["standing"], [photo.id])
        assert [j.state for j in run_queue(night)] == ["done"]
    window.open_review()
    review = window.review_window
    qtbot.addWidget(review)
    assert review.grid.count() == 1
    review.grid.result_item(0).setCheckState(Qt.CheckState.Checked)
    old = lib.list_edit_results(status="pending")[0]
    qtbot.mouseClick(review.redo_btn, Qt.MouseButton.LeftButton)
    assert lib.get_edit_result(old.id).status == "discarded" and not old.path.exists()
    again = lib.list_jobs(kind="edit")[0]
    assert again.state == "queued" and again.config["photos"] == [photo.id]
    assert again.config["exact_targets"] == [old.target_prompt] and again.config["params"]["seeds"] != [old.seed]
    assert "queued again" in review.status.text() and review.photo_list.count() == 0
