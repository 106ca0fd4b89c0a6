"""The edit window plans with the engine (``lipe_engine.editing.plan``): what it shows and runs is what
``lipe edit PHOTO --identity NAME --to CHANGE`` and a queued edit would run for the same photo,
identity and change (source prompt, target prompt, identity prompt, prior, model). A user opens the
window from the photo's context menu, picks the identity, presses a suggestion and Edit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from lipe_engine.editing import plan_edit  # noqa: E402
from lipe_engine.editing.plan import plan_source  # noqa: E402
from lipe_engine.errors import InputError  # noqa: E402
from lipe_engine.jobs.queue import add_job  # noqa: E402

pytestmark = pytest.mark.gui


def _setup(tmp_path: Path, model: Path):
    def setup(ctx: Any) -> None:
        lib = ctx.library
        ctx.settings.sdxl_model = str(model)
        lib.set_setting("sdxl_model", str(model))
        photos = lib.list_photos(order="path")
        rex = lib.create_identity("Rex", "dog")
        lib.add_identity_photos(rex, photos[:3], role="reference")
        lib.add_identity_photos(rex, [photos[3]], role="target")
        lib.set_caption(photos[3], "a dog lying on the beach")  # generic: names no identity
        prior = tmp_path / "rex-prior"
        prior.mkdir()
        (prior / "adapter_model.safetensors").write_bytes(b"")
        lib.record_lora(rex, prior, base_model=str(model))
        luna = lib.create_identity("Luna", "cat")
        lib.add_identity_photos(luna, [photos[4]])
        add_job(lib, "train", {"identity_name": "Luna"}, luna.id)  # Luna's prior is on its way
    return setup


def _open_editor(win: Any, qtbot: Any, photo_id: int) -> Any:
    model = win.album.model
    photo = next(model.photo(r) for r in range(model.rowCount()) if model.photo(r).id == photo_id)
    menu = win.build_photo_menu([photo])  # right-click on the photo
    next(a for a in menu.actions() if a.text() == "Edit pose…").trigger()
    ed = win.edit_windows[-1]
    qtbot.addWidget(ed)
    ed.confirm = lambda *_a: True
    qtbot.waitUntil(lambda: ed.canvas.before is not None, timeout=10_000)
    return ed


def _chip(ed: Any, text: str) -> Any:
    buttons = [ed.chips.itemAt(i).widget() for i in range(ed.chips.count())]
    return next(b for b in buttons if b.text() == text)


def test_edit_window_runs_the_engines_plan(open_window, qtbot, tiny_sdxl_dir, tmp_path, monkeypatch) -> None:
    from PySide6.QtCore import Qt

    import lipe_desktop.edit.window as window_module

    ran: list[Any] = []

    def recording_run(_holder: Any, req: Any, **_kw: Any) -> Any:
        ran.append(req)
        raise InputError("stopped by the test", "nothing to fix")

    monkeypatch.setattr(window_module, "run_edit", recording_run)
    win = open_window(6, warnings=True, setup=_setup(tmp_path, tiny_sdxl_dir))
    lib = win.ctx.library
    photos = lib.list_photos(order="path")
    ed = _open_editor(win, qtbot, photos[3].id)
    rex = lib.get_identity("Rex")
    assert ed.identity_id() == rex.id  # the identity the photo is linked to
    assert "prior #" in ed.identity_note.text()
    expected = plan_edit(lib, photos[3], "Rex", ["sitting"], model=str(tiny_sdxl_dir))
    assert ed.source_prompt.text() == expected.source_prompt == "a sks dog lying on the beach"
    qtbot.mouseClick(_chip(ed, "sitting"), Qt.MouseButton.LeftButton)
    assert ed.prompt.text() == expected.target_prompts[0] == "a sks dog sitting on the beach"
    qtbot.mouseClick(ed.run_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: ed.worker is None, timeout=10_000)
    (req,) = ran
    plan = req.plan
    assert (plan.source_prompt, plan.target_prompts, plan.identity_prompt) == (
        expected.source_prompt, expected.target_prompts, expected.identity_prompt)
    assert (plan.lora_id, plan.lora_path, plan.model) == (expected.lora_id, expected.lora_path, expected.model)
    assert plan.lora_path == tmp_path / "rex-prior" and req.lora_path == str(plan.lora_path)
    assert req.identity_prompt == "a sks dog" and req.target_prompts == list(expected.target_prompts)
    assert {k: plan.params[k] for k in ("steps", "skip")} == {k: expected.params[k] for k in ("steps", "skip")}
    assert win.shown_errors and "stopped by the test" in win.shown_errors[-1]

    # Luna: no prior yet, her training queued: the window says what the engine says, and the
    # source prompt names her by her token
    luna = lib.get_identity("Luna")
    qtbot.keyClicks(ed.identity, "Luna")
    assert ed.identity_id() == luna.id
    job = lib.list_jobs(kind="train")[0]
    assert f"job {job.id}" in ed.identity_note.text() and "base model" in ed.identity_note.text()
    assert ed.source_prompt.text() == plan_source(lib, photos[3], luna.id, describe=False).text
    assert luna.instance_prompt in ed.source_prompt.text() and ed.subject.text() == luna.instance_prompt


def test_edit_window_says_a_gone_photo_in_one_line(open_window, qtbot, tiny_sdxl_dir, tmp_path,
                                                   monkeypatch) -> None:
    from PySide6.QtCore import Qt

    import lipe_desktop.edit.window as window_module

    ran: list[Any] = []
    monkeypatch.setattr(window_module, "run_edit", lambda *a, **k: ran.append(a))
    win = open_window(6, warnings=True, setup=_setup(tmp_path, tiny_sdxl_dir))
    photo = win.ctx.library.list_photos(order="path")[3]
    ed = _open_editor(win, qtbot, photo.id)
    qtbot.mouseClick(_chip(ed, "standing"), Qt.MouseButton.LeftButton)
    moved = tmp_path / "elsewhere.jpg"
    Path(photo.path).rename(moved)  # the photo is moved away while the window is open
    qtbot.mouseClick(ed.run_btn, Qt.MouseButton.LeftButton)
    assert not ran and ed.worker is None
    message = win.shown_errors[-1]
    assert "gone from disk" in message and photo.path.name in message and "restore" in message
    assert len(message.splitlines()) == 1 and ed.status.text() == message


def test_results_discarded_when_the_edit_window_closed_are_not_asked_about_again(
        open_window, qtbot, tiny_sdxl_dir, tmp_path, monkeypatch) -> None:
    from types import SimpleNamespace

    import numpy as np
    from PIL import Image
    from PySide6.QtCore import Qt

    import lipe_desktop.edit.window as window_module

    def quick_run(_holder: Any, req: Any, **_kw: Any) -> Any:  # one result, as the engine returns it
        mask = np.zeros((8, 8), np.float32)
        return SimpleNamespace(images=[Image.new("RGB", (64, 64), "white")], prompts=list(req.target_prompts),
                               seeds=[None], source_mask=mask, target_masks=[mask], mask_history=[[mask]],
                               union_masks=[mask], params=SimpleNamespace(steps=8, skip=1))

    monkeypatch.setattr(window_module, "run_edit", quick_run)
    win = open_window(6, warnings=True, setup=_setup(tmp_path, tiny_sdxl_dir))
    ed = _open_editor(win, qtbot, win.ctx.library.list_photos(order="path")[3].id)
    qtbot.mouseClick(_chip(ed, "sitting"), Qt.MouseButton.LeftButton)
    qtbot.mouseClick(ed.run_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: ed.worker is None and ed.result is not None, timeout=10_000)
    asked: list[str] = []
    ed.confirm = lambda title, _text: asked.append(title) or True
    ed.close()  # "Discard the results?" -> yes
    assert asked == ["Discard the results?"]
    win.ask_unsaved_edits = lambda n: asked.append(f"quit with {n}") or False
    win.ask_training_on_close = lambda _names: "keep"
    assert win.close()  # quitting does not ask about the results again
    assert asked == ["Discard the results?"]


def test_no_identity_and_no_subject_words_are_said_in_the_apps_words(open_window, qtbot, tiny_sdxl_dir, tmp_path,
                                                                    monkeypatch) -> None:
    from PySide6.QtCore import Qt

    import lipe_desktop.edit.window as window_module

    ran: list[Any] = []
    monkeypatch.setattr(window_module, "run_edit", lambda *a, **k: ran.append(a))
    win = open_window(6, warnings=True, setup=_setup(tmp_path, tiny_sdxl_dir))
    photo = win.ctx.library.list_photos(order="path")[5]  # no identity, no caption
    ed = _open_editor(win, qtbot, photo.id)
    assert ed.identity_id() is None and ed.source_prompt.text() == "a photo of a subject"
    ed.subject.selectAll()
    qtbot.keyClick(ed.subject, Qt.Key.Key_Delete)  # the user clears the subject words
    ed.source_prompt.selectAll()
    qtbot.keyClick(ed.source_prompt, Qt.Key.Key_Delete)
    qtbot.keyClicks(ed.prompt, "a photo of a dog sitting")
    qtbot.mouseClick(ed.run_btn, Qt.MouseButton.LeftButton)
    assert not ran and "subject words" in win.shown_errors[-1]
    assert not any("--" in text for text in (win.shown_errors[-1], ed.source_note.text()))  # no CLI flags here
