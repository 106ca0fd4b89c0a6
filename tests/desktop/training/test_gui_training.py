"""Training queue: queue a tiny job, see progress from the child process, stop it, resume it."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")


pytestmark = pytest.mark.gui


def _kill_runner(data: Path) -> None:
    """A test leaves no training process behind."""
    import contextlib
    import os
    import signal
    import time

    from lipe_desktop.training.child import live_runner
    from lipe_engine.library import Library

    with Library.open(data) as lib:
        rec = live_runner(lib)
    if rec is not None:
        os.kill(rec["pid"], signal.SIGKILL)
        end = time.monotonic() + 10
        while time.monotonic() < end:
            with contextlib.suppress(ChildProcessError):  # reaped when it is this process's child
                os.waitpid(rec["pid"], os.WNOHANG)
            try:
                os.kill(rec["pid"], 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)


@pytest.fixture()
def window(open_window, tiny_sdxl_dir: Path, monkeypatch):
    monkeypatch.setattr("lipe_desktop.settings.toy_model", lambda: "")  # "no model" stays testable
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the training runner: one torch thread on shared cores

    def tiny_on_cpu(ctx) -> None:  # type: ignore[no-untyped-def]
        ctx.settings.sdxl_model = str(tiny_sdxl_dir)
        ctx.settings.device = "cpu"
        ctx.settings.save(ctx.data_dir, ctx.library)  # a window opened later trains on the same

    win = open_window(4, warnings=True, setup=tiny_on_cpu)
    win.ask_training_on_close = lambda _names: "stop"
    yield win
    _kill_runner(win.ctx.data_dir)


def test_queue_reorder_and_readable_errors(window, qtbot) -> None:
    from PySide6.QtCore import Qt

    lib = window.ctx.library
    panel = window.training
    qtbot.waitUntil(lambda: panel.preset.count() == 6, timeout=30_000)  # presets load on a thread
    # no GPU here: the toy recipe is chosen, its steps, class images and time shown before queueing
    assert panel.gpu_gb == 0 and panel.preset.currentData() == "toy"
    assert (panel.steps.value(), panel.class_images.value()) == (300, 8)
    assert "no GPU" in panel.estimate.text() and "300 steps + 8 class images" in panel.estimate.text()
    assert "SDXL training needs a GPU" in panel.estimate.text()  # the tiny model here is not the toy one
    assert panel.preset.itemText(2) == "12 GB GPU (does not fit)"
    panel.preset.setCurrentIndex(2)
    assert panel.preset_help.text().startswith("12 GB GPU: rank 16")  # the one-line explanation
    assert panel.steps.value() == 4000 and panel.class_images.value() == 70  # 1000 epochs x 4 photos
    assert "days" in panel.estimate.text()
    a = lib.create_identity("A", "dog")
    b = lib.create_identity("B", "cat")
    window.ctx.libraryChanged.emit()
    panel.preset.setCurrentIndex(panel.preset.findData(None))  # the paper's
    ja, jb = panel.add_identity(a.id), panel.add_identity(b.id, preset="12gb")
    # the paper's recipe: prior preservation with class images; captions need LLaVA
    assert ja.config["class_images"] == 70 and ja.config["caption"] is False  # the paper's 20 + 50 prompts
    assert panel.table.item(1, 2).text() == "12gb + 70 class"
    assert [panel.table.item(r, 1).text() for r in range(2)] == ["A", "B"]
    assert "12 GB" in panel.preset.itemData(panel.preset.findData("12gb"), Qt.ItemDataRole.ToolTipRole)
    panel.select_job(jb.id)
    panel.buttons["up"].click()
    assert [panel.table.item(r, 1).text() for r in range(2)] == ["B", "A"]
    assert panel.buttons["start"].isEnabled()
    window.ctx.settings.sdxl_model = ""
    panel.buttons["start"].click()
    assert window.shown_errors and "Settings" in window.shown_errors[-1]
    panel.select_job(ja.id)
    panel.buttons["remove"].click()
    assert panel.table.rowCount() == 1
    # "Unload models" frees the model the edit window keeps loaded
    from lipe_desktop.edit.engine import ModelHolder

    holder = window.ctx.models = ModelHolder()
    holder._model, holder._key = object(), ("m", "cpu", "auto", None)
    panel.buttons["unload"].click()
    assert holder._model is None and "unloaded" in panel.status.text()


def test_the_toy_recipe_with_a_changed_step_count(window, qtbot) -> None:
    panel, lib = window.training, window.ctx.library
    qtbot.waitUntil(lambda: panel.preset.count() == 6, timeout=30_000)
    ident = lib.create_identity("Rex", "dog")
    window.ctx.libraryChanged.emit()
    panel.steps.setValue(120)
    assert panel.estimate.text().startswith("120 steps + 8 class images")
    job = panel.add_identity(ident.id)
    assert job.config["preset"] == "toy" and job.config["overrides"] == {"max_steps": 120}
    assert job.config["class_images"] == 8
    from lipe_engine.training import config_from_preset

    cfg = config_from_preset(job.config["preset"], **job.config["overrides"])
    assert (cfg.total_steps(4), cfg.resolution, cfg.rank) == (120, 64, 8)


TINY = {"max_steps": 30, "resolution": 64, "checkpoint_every": 1, "rank": 4}
SAMPLES = {"sample_every": 1, "sample_steps": 2, "sample_seeds": [0]}  # one tiny sample per step


def _queue_tiny(window, lib, **extra):
    ident = lib.create_identity("Rex", "dog")
    lib.add_identity_photos(ident, lib.list_photos()[:3], role="reference")
    window.ctx.libraryChanged.emit()
    # the identities panel's "Queue training" button lands on the queue
    window.identities.select(ident.id)
    window.identities.train_btn.click()
    assert window.tabs.currentWidget() is window.training
    lib.delete_job(jobs_of(lib)[0].id)  # re-queue with tiny settings instead of the paper's 1000 epochs
    return ident, window.training.add_identity(ident.id, overrides={**TINY, **extra}, class_images=0)


def _step_of(job) -> int:
    """The training step a job's row says (its message: "train 3/30, loss … · …")."""
    import re

    m = re.search(r"train(?: \(resumed at step (\d+)\))? (\d+)/\d+", job.message or "")
    return (int(m.group(1) or 0) + int(m.group(2))) if m else 0


def _run_until_step(window, qtbot, job_id: int, step: int) -> None:
    panel, lib = window.training, window.ctx.library
    if not panel.runner.busy:
        panel.buttons["start"].click()
    qtbot.waitUntil(lambda: _step_of(lib.get_job(job_id)) >= step, timeout=240_000)


def _wait_runner_gone(panel, qtbot) -> None:
    qtbot.waitUntil(lambda: not panel.runner.busy, timeout=120_000)


@pytest.mark.slow  # two runner start-ups (~70 s on 2 shared cores)
def test_tiny_training_shows_progress_and_stops_mid_job(window, qtbot) -> None:
    lib = window.ctx.library
    panel = window.training
    _ident, job = _queue_tiny(window, lib, **SAMPLES)
    _run_until_step(window, qtbot, job.id, 1)
    assert panel.runner.busy and lib.get_job(job.id).state == "running"
    # the whole job's progress and a time left that is said only once it is stable
    qtbot.waitUntil(lambda: "loss" in panel.status.text() and panel.bar.value() > 0, timeout=10_000)
    assert "estimating time left…" in panel.status.text() or " left" in panel.status.text()
    assert window.training_label.text().startswith("Training Rex: ")  # also in the status bar
    # the sample strip shows the running job's samples
    qtbot.waitUntil(lambda: panel.samples.count() >= 1, timeout=20_000)
    assert panel.samples.item(0).text().startswith("step ") and "seed 0" in panel.samples.item(0).text()
    assert f"job {job.id}" in panel.samples_label.text()
    panel.buttons["stop"].click()
    qtbot.waitUntil(lambda: lib.get_job(job.id).state == "cancelled", timeout=60_000)
    _wait_runner_gone(panel, qtbot)
    assert Path(job.config["output_dir"], "checkpoints").is_dir()
    qtbot.waitUntil(lambda: panel.table.item(0, 3).text() == "cancelled", timeout=5000)
    qtbot.waitUntil(lambda: not panel.buttons["stop"].isEnabled(), timeout=3000)  # no stale Stop once it ended
    assert panel.table.item(0, 5).text() == "stopped: resume to continue"  # not "stops at its next step"
    panel.select_job(job.id)
    assert panel.buttons["resume"].isEnabled()
    # Resume continues in the same row and starts the runner; pressed twice it is still one job
    panel.buttons["resume"].click()
    panel.select_job(job.id)
    qtbot.waitUntil(lambda: panel.table.rowCount() == 1 and panel.table.item(0, 3).text() in ("queued", "running"),
                    timeout=10_000)
    again = int(panel.table.item(0, 0).text())
    assert again != job.id and lib.get_job(again).config["output_dir"] == job.config["output_dir"]
    panel.select_job(again)
    assert not panel.buttons["resume"].isEnabled()
    from lipe_engine.jobs import queue

    assert queue.retry(lib, job.id).id == again  # `lipe queue retry` of the old one: the same job
    assert panel.runner.busy
    panel.buttons["stop"].click()
    _wait_runner_gone(panel, qtbot)


def test_closing_asks_and_training_goes_on_in_the_background(window, qtbot, reopen_window) -> None:
    """Closing while training: "keep" leaves the runner going; the next window shows it and stops it."""
    lib, panel, data = window.ctx.library, window.training, window.ctx.data_dir
    _ident, job = _queue_tiny(window, lib, max_steps=400)
    _run_until_step(window, qtbot, job.id, 1)
    pid = panel.runner.info["pid"]
    asked = []
    window.ask_training_on_close = lambda names: asked.append(names) or "cancel"
    assert not window.close() and window.isVisible()  # "Cancel": nothing closes
    window.ask_training_on_close = lambda names: asked.append(names) or "keep"
    import time

    t0 = time.monotonic()
    assert window.close()
    assert time.monotonic() - t0 < 3  # quitting does not wait for training
    assert asked == ["Training Rex", "Training Rex"]  # the job by its kind
    step_at_close = _step_of(lib.get_job(job.id))
    try:
        win2 = reopen_window(data)
        ctx2 = win2.ctx
        p2 = win2.training
        assert p2.runner.busy and p2.runner.info["pid"] == pid  # the same process, still running
        assert "Training Rex continues in the background" in p2.notice.text() and not p2.notice.isHidden()
        qtbot.waitUntil(lambda: _step_of(ctx2.library.get_job(job.id)) > step_at_close, timeout=60_000)
        qtbot.waitUntil(lambda: p2.bar.value() > 0 and "Training Rex" in p2.status.text(), timeout=5000)
        win2.close()  # "stop after the current checkpoint"
        qtbot.waitUntil(lambda: ctx2.library.get_job(job.id).state == "cancelled", timeout=60_000)
        assert Path(job.config["output_dir"], "checkpoints").is_dir()
    finally:
        _kill_runner(data)


@pytest.mark.slow
def test_a_killed_runner_resumes_from_its_checkpoint_at_the_next_start(window, qtbot, reopen_window) -> None:
    """A machine restart (the runner killed mid-job): the next start says so and continues the job
    from its checkpoint in the background, to the end; the prior is recorded."""
    import json
    import os
    import signal

    lib, panel, data = window.ctx.library, window.training, window.ctx.data_dir
    ident, job = _queue_tiny(window, lib)
    _run_until_step(window, qtbot, job.id, 3)
    pid = panel.runner.info["pid"]
    window.ask_training_on_close = lambda _n: "keep"
    window.close()
    os.kill(pid, signal.SIGKILL)  # the computer went down
    if panel.runner.proc is not None:
        panel.runner.proc.wait(10)
    assert lib.get_job(job.id).state == "running"
    try:
        win2 = reopen_window(data)
        ctx2 = win2.ctx
        p2 = win2.training
        assert "Training Rex was interrupted" in p2.notice.text()
        assert "continues from its last checkpoint" in p2.notice.text()
        assert p2.runner.busy and p2.table.rowCount() == 1  # one row for the training, running again
        again = int(p2.table.item(0, 0).text())
        qtbot.waitUntil(lambda: ctx2.library.get_job(again).state == "done", timeout=600_000)
        summary = json.loads((Path(job.config["output_dir"]) / "training.json").read_text())
        assert summary["resumed_from_step"] >= 3  # not from scratch
        assert ctx2.library.latest_lora(ident.id) is not None
        qtbot.waitUntil(lambda: p2.table.item(0, 3).text() == "done", timeout=5000)
        win2.close()
    finally:
        _kill_runner(data)


def jobs_of(lib):
    return lib.list_jobs(kind="train")


def _lipe(data, *args: str, capsys) -> str:
    from lipe_engine.cli import main

    capsys.readouterr()
    assert main([*args, "--data-dir", str(data)]) == 0
    return capsys.readouterr().out


def test_one_queue_for_the_desktop_and_lipe_queue(window, qtbot, capsys) -> None:
    """A job the desktop queues is listed, cancelled and resumed by `lipe queue`, and the reverse;
    the view follows the queue by itself."""
    import json

    from lipe_engine.jobs import queue

    lib, panel, data = window.ctx.library, window.training, window.ctx.data_dir
    ident = lib.create_identity("Rex", "dog")
    lib.add_identity_photos(ident, lib.list_photos()[:3], role="reference")
    window.ctx.libraryChanged.emit()
    desk = panel.add_identity(ident.id, overrides=TINY, class_images=0)
    rows = json.loads(_lipe(data, "queue", "list", "--json", capsys=capsys))
    assert [(r["id"], r["state"], r["runner"]) for r in rows] == [(desk.id, "queued", "desktop")]
    _lipe(data, "queue", "cancel", str(desk.id), capsys=capsys)
    qtbot.waitUntil(lambda: panel.table.item(0, 3).text() == "cancelled", timeout=5000)  # no refresh needed
    panel.select_job(desk.id)
    assert panel.buttons["resume"].isEnabled()
    _lipe(data, "queue", "retry", str(desk.id), capsys=capsys)
    again = max(j.id for j in jobs_of(lib))
    qtbot.waitUntil(lambda: panel.table.item(0, 0).text() == str(again), timeout=5000)
    assert panel.table.rowCount() == 1  # the retried job replaces its row: no stale "resume" row
    assert queue.next_queued(lib).id == again and lib.get_job(again).config["output_dir"] == desk.config["output_dir"]

    # the reverse: queued by `lipe queue add`, shown at once, ordered, cancelled and resumed here
    _lipe(data, "queue", "add", "Rex", "--steps", "3", "--class-images", "0", capsys=capsys)
    cli = max(j.id for j in jobs_of(lib))
    qtbot.waitUntil(lambda: panel.table.rowCount() == 2, timeout=5000)
    assert [panel.table.item(r, 0).text() for r in range(2)] == [str(again), str(cli)]
    panel.select_job(cli)
    panel.buttons["up"].click()  # the desktop's order is the queue's: `lipe queue run` takes it first
    assert [panel.table.item(r, 0).text() for r in range(2)] == [str(cli), str(again)]
    claimed = queue.claim_next(lib)
    assert claimed.id == cli and claimed.result["worker"]["pid"] > 0
    queue.cancel_job(lib, cli)  # what `lipe queue cancel` does to a running job
    qtbot.waitUntil(lambda: panel.table.item(1, 3).text() == "cancelled", timeout=5000)
    panel.select_job(cli)
    window.ctx.settings.sdxl_model = ""  # Resume queues it; the runner cannot start without a model
    panel.buttons["resume"].click()
    assert window.shown_errors and "Settings" in window.shown_errors[-1]
    rows = json.loads(_lipe(data, "queue", "list", "--json", "--active", capsys=capsys))
    resumed = max(r["id"] for r in rows)
    assert {r["id"] for r in rows} == {again, resumed} and resumed > cli
    assert lib.get_job(resumed).config == lib.get_job(cli).config
    qtbot.waitUntil(lambda: panel.table.rowCount() == 2, timeout=5000)


def test_each_job_is_named_by_its_kind(window, qtbot) -> None:
    """The queue runs trainings and edits: the panel and the status bar say which, of whom (an edit
    job is not "Training ...")."""
    from lipe_engine.jobs import enqueue_edit, queue

    lib = window.ctx.library
    panel = window.training
    photos = lib.list_photos(order="path")
    rex = lib.create_identity("Rex", "dog")
    lib.add_identity_photos(rex, photos[:2], role="reference")
    lib.add_identity_photos(rex, photos[2:4], role="target")
    train = queue.enqueue(lib, rex, preset="toy", class_images=0)
    edit = enqueue_edit(lib, rex, ["sitting", "facing left"])
    # the background runner marks a job running and writes its progress: the panel reads the rows
    lib.update_job(edit.id, state="running", progress=0.25, message="photo 1/2: edit 3/10 · 0:40 left")
    title = "Editing 2 photo(s) of Rex (sitting, facing left)"
    qtbot.waitUntil(lambda: panel.status.text().startswith(f"{title}: 25%"), timeout=5000)
    assert window.training_label.text() == f"{title}: 25%, photo 1/2: edit 3/10 · 0:40 left"
    lib.update_job(edit.id, state="done", progress=1.0, message="8 result(s) of 2 photo(s) to review")
    qtbot.waitUntil(lambda: panel.status.text() == f"{title}: done — 8 result(s) of 2 photo(s) to review",
                    timeout=5000)
    assert window.training_label.text() == f"{title}: done"
    lib.update_job(train.id, state="running", progress=0.5, message="train 5/10 · 0:10 left")
    qtbot.waitUntil(lambda: panel.status.text().startswith("Training Rex: 50%"), timeout=5000)
    lib.update_job(train.id, state="failed", message="stopped")  # the fixture's close asks nothing
