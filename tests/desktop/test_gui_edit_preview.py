"""The edit window's preview: Preview (the default button) runs the quick schedule first, then the
Edit button, relabelled "Refine (full edit)", runs the full edit of the same prompts."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from lipe_engine.edit_settings import PREVIEW_FIRST, preview_schedule  # noqa: E402

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("one_torch_thread")]


def test_preview_first_then_refine(qtbot, app_context, tiny_sdxl_dir: Path) -> None:
    from PySide6.QtCore import Qt

    from lipe_desktop.edit.window import EditWindow

    ctx = app_context(1, model=tiny_sdxl_dir)
    ed = EditWindow(ctx, ctx.library.list_photos()[0])
    qtbot.addWidget(ed)
    ed.show()
    ed.subject.setText("sks dog")
    ed.source_prompt.setText("a photo of a sks dog sitting")
    ed.prompt.setText("a photo of a sks dog standing")
    ed.advanced.setChecked(True)
    ed.advanced.steps.setValue(12)
    ed.advanced.skip.setValue(1)
    assert ed.preview_btn.isDefault() == PREVIEW_FIRST and ed.run_btn.text() == "Edit"

    qtbot.mouseClick(ed.preview_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: ed.worker is None and ed.result is not None, timeout=120_000)
    preview = ed.result
    assert (preview.params.steps, preview.params.skip) == preview_schedule(12, 1), ed.status.text()
    assert ed.status.text().startswith("Preview") and ed.run_btn.text() == "Refine (full edit)"
    assert len(ed.canvas.histories[0]) * 4 <= 12 - 1  # a quarter of the full edit's steps at most

    qtbot.mouseClick(ed.run_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: ed.worker is None and ed.result is not preview, timeout=120_000)
    full = ed.result
    assert (full.params.steps, full.params.skip) == (12, 1) and full.prompts == preview.prompts
    assert ed.run_btn.text() == "Edit" and ed.status.text().startswith("Done")
    ed.confirm = lambda *_question: True  # closing with unsaved results may ask: the test answers yes
    ed.close()
