"""The edit canvas: widgets alone (no engine), then a tiny NIMA edit from the context menu."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from qt_images import solid_image as _img  # noqa: E402

pytestmark = pytest.mark.gui


def test_compare_slider_shows_before_left_after_right(qtbot, show_widget) -> None:
    from PySide6.QtCore import QPoint, Qt

    from lipe_desktop.edit.compare import CompareSlider

    w = show_widget(CompareSlider(), 400, 300)
    w.set_images(_img(40, 30, "red"), _img(40, 30, "blue"))
    qtbot.mouseClick(w, Qt.MouseButton.LeftButton, pos=QPoint(100, 150))
    assert w.split() == pytest.approx(0.25, abs=0.01)
    grab = w.grab().toImage()
    assert grab.pixelColor(50, 150).red() > 200  # before, left of the split
    assert grab.pixelColor(300, 150).blue() > 200  # after, right of it


def test_canvas_overlays_and_side_by_side_sync(qtbot, show_widget) -> None:
    from lipe_desktop.edit.canvas import SOURCE_MASK, STEP_MASK, EditCanvas

    c = show_widget(EditCanvas(), 800, 500)
    c.set_before(_img(64, 64, "gray"))
    src = np.zeros((8, 8), np.float32)
    src[2:6, 2:6] = 1
    hist = [np.full((8, 8), k / 4, np.float32) for k in range(5)]
    c.set_results([_img(64, 64, "white")], src, [hist[-1]], [hist])
    c.set_mask_mode(SOURCE_MASK)
    ov = c.overlay_image()
    assert ov is not None and ov.size() == c.before.size()  # drawn at the photo's size: a smooth outline
    assert ov.pixelColor(0, 0).alpha() == 0 and ov.pixelColor(32, 32).alpha() == round(0.35 * 255)
    c.set_mask_mode(STEP_MASK, step=2)
    # a soft mask of 0.5 everywhere: half the fill
    assert c.overlay_image().pixelColor(32, 32).alpha() == round(0.5 * 0.35 * 255)
    assert c.step_label.text() == "step 3/5" and "step 3/5" in c.legend_text()
    c.set_mask_mode(STEP_MASK, step=0)
    assert c.overlay_image().pixelColor(32, 32).alpha() == 0  # M_t = 0 at the first step: nothing drawn
    c.set_mask_mode(SOURCE_MASK)
    c.opacity.setValue(20)
    assert c.overlay_image().pixelColor(32, 32).alpha() == round(0.2 * 255)  # the slider sets the fill
    c.tabs.setCurrentIndex(1)
    left, right = c.side_view.left, c.side_view.right
    assert right.overlay_visible()
    left.zoom_by(2.0)
    assert right.zoom() == pytest.approx(left.zoom())
    left.horizontalScrollBar().setValue(left.horizontalScrollBar().maximum())
    assert right.horizontalScrollBar().value() == left.horizontalScrollBar().value()


@pytest.fixture(scope="module")
def holder(one_torch_thread):
    from lipe_desktop.edit.engine import ModelHolder

    h = ModelHolder()  # one tiny model load shared by this module's edits
    yield h
    h.unload()


@pytest.fixture()
def editor(qtbot, open_window, tiny_sdxl_dir: Path, holder):
    def shared_model(ctx) -> None:  # type: ignore[no-untyped-def]
        ctx.models = holder

    win = open_window(3, model=tiny_sdxl_dir, setup=shared_model)
    photo = win.album.model.photo(0)
    menu = win.build_photo_menu([photo])
    action = next(a for a in menu.actions() if a.text() == "Edit pose…")
    action.trigger()  # right-click -> "Edit pose…"
    ed = win.edit_windows[-1]
    qtbot.addWidget(ed)
    ed.confirm = lambda *_a: True  # "discard the results?" when a test leaves some unsaved
    yield win, ed
    ed.close()


def _fast(ed, steps: int) -> None:
    adv = ed.advanced
    adv.setChecked(True)
    adv.steps.setValue(steps)
    adv.skip.setValue(1)
    adv.threshold.setValue(0.5)


def test_tiny_edit_from_context_menu_shows_compare_and_saves_version(editor, qtbot, tmp_path: Path) -> None:
    win, ed = editor
    ed.subject.setText("sks dog")
    ed.use_suggestion("sitting")
    assert ed.prompt.text() == "a photo of a sks dog sitting"
    assert ed.source_prompt.text() == "a photo of a sks dog"
    _fast(ed, 6)
    seen = []
    w = ed.start_edit()
    w.progress.connect(seen.append)
    with qtbot.waitSignal(w.done, timeout=120_000):
        pass
    assert ed.result is not None, ed.status.text()
    assert any(e.stage and e.total for e in seen)
    assert ed.canvas.current_after() is not None and ed.canvas.before is not None
    assert len(ed.canvas.histories[0]) == 5  # steps - skip per-step masks
    assert ed.save_btn.isEnabled()
    original = Path(ed.photo.path).read_bytes()
    from PySide6.QtCore import Qt

    qtbot.mouseClick(ed.save_btn, Qt.MouseButton.LeftButton)  # as the user does: clicked(bool) reaches it
    edit = ed.saved_edit
    assert edit is not None and Path(edit.output_path).is_file()
    assert Path(ed.photo.path).read_bytes() == original
    assert win.ctx.library.list_edits()[0].target_prompt == "a photo of a sks dog sitting"
    out = ed.export(str(tmp_path / "exported.jpg"))
    assert out is not None and out.is_file()
    from lipe_engine.editing.provenance import DIGITAL_SOURCE_TYPE, read_provenance

    seen = read_provenance(out)  # an honest file: made by a generative model, and how
    assert seen.digital_source_type == DIGITAL_SOURCE_TYPE and seen.recipe["prompts"]["target"] == ed.prompt.text()
    assert edit.recipe["model"]["sha256"] and read_provenance(edit.output_path).recipe == edit.recipe
    # the new version shows under "Edited versions"; editing it again records another version of the
    # original photo (from the identities panel's menu as well: "Edit pose…" is everywhere)
    from lipe_desktop.album.sidebar import EDITS

    win.album.sidebar.select_source(EDITS)
    assert win.album.model.rowCount() == 2  # the original, its version grouped under it
    assert win.album.model.photo(0).id == ed.photo.id
    version = win.album.model.photo(1)
    next(a for a in win.build_photo_menu([version]).actions() if a.text() == "Edit pose…").trigger()
    ed2 = win.edit_windows[-1]
    qtbot.addWidget(ed2)
    assert ed2 is not ed and ed2.photo is version
    assert ed2.source_prompt.text() == "a photo of a sks dog sitting"  # the version's own prompt describes it
    ed2.use_suggestion("lying down")
    _fast(ed2, 4)
    with qtbot.waitSignal(ed2.start_edit().done, timeout=120_000):
        pass
    qtbot.mouseClick(ed2.save_btn, Qt.MouseButton.LeftButton)
    assert ed2.saved_edit is not None, ed2.status.text()
    assert len(win.ctx.library.list_edits(ed.photo)) == 2
    ed2.close()


def test_cancel_mid_edit_and_errors_are_readable(editor, qtbot, monkeypatch) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QMessageBox

    warned: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", staticmethod(lambda _w, _t, text, *a, **k: warned.append(text)))
    win, ed = editor
    ed.use_suggestion("standing")
    _fast(ed, 60)
    w = ed.start_edit()
    qtbot.waitUntil(
        lambda: w.last_event is not None and w.last_event.stage != "Loading model" and w.last_event.step >= 1,
        timeout=120_000,
    )
    with qtbot.waitSignal(w.cancelled, timeout=60_000):
        ed.cancel_btn.click()
    qtbot.waitUntil(lambda: ed.worker is None, timeout=10_000)
    assert ed.status.text() == "Cancelled." and ed.result is None and ed.run_btn.isEnabled()
    # a missing model is a one-line message, not a traceback
    monkeypatch.setattr("lipe_desktop.settings.toy_model", lambda: "")  # no shipped toy model either
    win.ctx.settings.sdxl_model = ""
    qtbot.mouseClick(ed.run_btn, Qt.MouseButton.LeftButton)  # planned before anything runs: said at once
    assert ed.worker is None and warned and "Settings" in warned[-1] and "Traceback" not in warned[-1]
    assert "Settings" in ed.status.text() and len(ed.status.text().splitlines()) == 1


def test_edit_window_starts_from_the_models_own_settings(qtbot, app_context, tmp_path: Path) -> None:
    """A model folder's lipe_edit_defaults.json (the toy model ships one) fills the Advanced box;
    a broken one is reported in the window's status line, in one line naming the file."""
    import json

    from lipe_desktop.edit.window import EditWindow
    from lipe_engine.models.edit_defaults import EDIT_DEFAULTS_FILE

    ctx = app_context(1)
    model = tmp_path / "model"
    model.mkdir()
    (model / EDIT_DEFAULTS_FILE).write_text(json.dumps({"steps": 30, "skip": 3, "mask_threshold": 0.45,
                                                       "record_downsample": 2}))
    ctx.settings.sdxl_model = str(model)
    photo = ctx.library.list_photos()[0]
    ed = EditWindow(ctx, photo)
    qtbot.addWidget(ed)
    v = ed.advanced.values()
    assert (v["steps"], v["skip"], v["mask_threshold"]) == (30, 3, pytest.approx(0.45))
    assert v["cfg_target"] == pytest.approx(7.5)  # not in the file: the paper's
    (model / EDIT_DEFAULTS_FILE).write_text("{broken")
    ed2 = EditWindow(ctx, photo)
    qtbot.addWidget(ed2)
    assert EDIT_DEFAULTS_FILE in ed2.status.text() and "not readable JSON" in ed2.status.text()
    assert ed2.advanced.values()["steps"] == 100
    ed.close()
    ed2.close()


def test_several_target_prompts_and_seeds_give_a_grid_from_one_inversion(editor, qtbot) -> None:
    """Two queued target prompts x two seeds: one edit, four results in the grid, two picked and saved;
    progress names the whole batch, and Cancel stops a batch like a single edit."""
    from PySide6.QtCore import Qt

    win, ed = editor
    ed.subject.setText("sks dog")
    ed.source_prompt.setText("a photo of a sks dog sitting on grass")
    ed.use_suggestion("lying down")
    assert ed.targets.queue_line()
    ed.use_suggestion("standing")
    assert ed.targets.queue_line()
    assert ed.targets.prompts() == ["a photo of a sks dog lying down on grass", "a photo of a sks dog standing on grass"]
    ed.advanced.count.setValue(2)
    assert ed.advanced.count.isVisibleTo(ed) and "= 4 result(s)" in ed.status.text()
    _fast(ed, 5)
    assert ed.grid.isHidden()  # no results yet: the photo gets the room
    texts: list[str] = []
    w = ed.start_edit()
    w.progress.connect(lambda _e: texts.append(ed.status.text()))
    with qtbot.waitSignal(w.done, timeout=180_000):
        pass
    res = ed.result
    assert res is not None, ed.status.text()
    assert res.prompts == [ed.request.target_prompts[0]] * 2 + [ed.request.target_prompts[1]] * 2
    assert not res.cache_hit and res.stats["unet_calls"] <= 2 * 5  # one inversion + one batched pass
    assert any(t.startswith("4 result(s): ") for t in texts)
    assert not ed.grid.isHidden() and ed.grid.count() == 4 and "lying down" in ed.grid.item(0).text() and "standing" in ed.grid.item(3).text()
    ed.grid.setCurrentRow(3)
    assert ed.canvas.current_index() == 3  # the big view follows the grid
    ed.grid.set_checked(1)
    ed.grid.item(2).setCheckState(Qt.CheckState.Checked)
    before = len(win.ctx.library.list_edits())
    qtbot.mouseClick(ed.save_btn, Qt.MouseButton.LeftButton)
    assert ed.saved_edit is not None, ed.status.text()
    edits = win.ctx.library.list_edits()
    assert len(edits) == before + 2 and len(ed.saved_edits) == 2
    assert [e.target_prompt for e in edits[-2:]] == ed.request.target_prompts
    # the whole batch is cancellable
    _fast(ed, 60)
    w = ed.start_edit()
    qtbot.waitUntil(lambda: w.last_event is not None and w.last_event.stage != "Loading model"
                    and w.last_event.step >= 1, timeout=120_000)
    with qtbot.waitSignal(w.cancelled, timeout=60_000):
        ed.cancel_btn.click()
    qtbot.waitUntil(lambda: ed.worker is None, timeout=10_000)
    assert ed.status.text() == "Cancelled." and ed.run_btn.isEnabled()
