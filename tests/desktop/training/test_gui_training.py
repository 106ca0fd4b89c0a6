"""Training queue: queue a tiny job, see progress from the child process, stop it, resume it."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")


pytestmark = pytest.mark.gui


@pytest.fixture()
def window(open_window, tiny_sdxl_dir: Path, monkeypatch):
    monkeypatch.setattr("lipe_desktop.settings.toy_model", lambda: "")  # "no model" stays testable
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the training child: one torch thread on shared cores

    def tiny_on_cpu(ctx) -> None:  # type: ignore[no-untyped-def]
        ctx.settings.sdxl_model = str(tiny_sdxl_dir)
        ctx.settings.device = "cpu"

    return open_window(4, warnings=True, setup=tiny_on_cpu)


def test_queue_reorder_and_readable_errors(window, qtbot) -> None:
    from PySide6.QtCore import Qt

    lib = window.ctx.library
    panel = window.training
    qtbot.waitUntil(lambda: panel.preset.count() == 5, timeout=30_000)  # presets load on a thread
    assert panel.preset.itemText(1) == "12 GB GPU"
    panel.preset.setCurrentIndex(1)
    assert panel.preset_help.text().startswith("12 GB GPU: rank 16")  # the one-line explanation
    a = lib.create_identity("A", "dog")
    b = lib.create_identity("B", "cat")
    window.ctx.libraryChanged.emit()
    ja, jb = panel.add_identity(a.id), panel.add_identity(b.id, preset="12gb")
    # the paper's recipe by default: prior preservation with class images; captions need LLaVA
    assert ja.config["class_images"] == 70 and ja.config["caption"] is False  # the paper's 20 + 50 prompts
    assert panel.table.item(1, 2).text() == "12gb + 70 class"
    assert [panel.table.item(r, 1).text() for r in range(2)] == ["A", "B"]
    assert "12 GB" in panel.preset.itemData(panel.preset.findData("12gb"), Qt.ItemDataRole.ToolTipRole)
    panel.select_job(jb.id)
    panel.buttons["up"].click()
    assert [panel.table.item(r, 1).text() for r in range(2)] == ["B", "A"]
    assert panel.buttons["start"].isEnabled()
    window.ctx.settings.sdxl_model = ""
    panel.start()
    assert window.shown_errors and "Settings" in window.shown_errors[-1]
    panel.select_job(ja.id)
    panel.remove_selected()
    assert panel.table.rowCount() == 1
    # "Unload models" frees the model the edit window keeps loaded
    from lipe_desktop.edit.engine import ModelHolder

    holder = window.ctx.models = ModelHolder()
    holder._model, holder._key = object(), ("m", "cpu", "auto", None)
    panel.buttons["unload"].click()
    assert holder._model is None and "unloaded" in panel.status.text()


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


def _run_until_step(panel, qtbot, step: int) -> list[dict]:
    events: list[dict] = []
    panel.runner.progress.connect(lambda _j, m: events.append(m))
    panel.start()
    qtbot.waitUntil(lambda: any((e.get("global_step") or 0) >= step for e in events), timeout=240_000)
    return events


def test_tiny_training_shows_progress_and_stops_mid_job(window, qtbot) -> None:
    lib = window.ctx.library
    panel = window.training
    _ident, job = _queue_tiny(window, lib, **SAMPLES)
    _run_until_step(panel, qtbot, 1)
    assert "loss" in panel.status.text() and panel.bar.maximum() > 0
    assert window.training_label.text().startswith(f"Training job {job.id}: ")  # also in the status bar
    assert lib.get_job(job.id).state == "running"
    # the sample strip shows the running job's samples (polled while it runs)
    qtbot.waitUntil(lambda: panel.samples.count() >= 1, timeout=10_000)
    assert panel.samples.item(0).text().startswith("step ") and "seed 0" in panel.samples.item(0).text()
    assert f"job {job.id}" in panel.samples_label.text()
    with qtbot.waitSignal(panel.runner.jobFinished, timeout=120_000) as fin:
        panel.buttons["stop"].click()
    assert fin.args[:2] == [job.id, "cancelled"]
    assert lib.get_job(job.id).state == "cancelled"
    assert Path(job.config["output_dir"], "checkpoints").is_dir()
    panel.select_job(job.id)
    assert panel.buttons["resume"].isEnabled()
    again = panel.resume_selected()
    assert again.state == "queued" and again.config["output_dir"] == job.config["output_dir"]


@pytest.mark.slow
def test_resume_continues_from_the_checkpoint_and_records_the_prior(window, qtbot) -> None:
    lib = window.ctx.library
    panel = window.training
    ident, job = _queue_tiny(window, lib)
    _run_until_step(panel, qtbot, 2)
    with qtbot.waitSignal(panel.runner.jobFinished, timeout=120_000):
        panel.buttons["stop"].click()
    panel.select_job(job.id)
    again = panel.resume_selected()
    # a crash of the training process (killed): the job is marked failed, the app stays, Resume works
    _run_until_step(panel, qtbot, 3)
    with qtbot.waitSignal(panel.runner.jobFinished, timeout=60_000) as fin:
        panel.runner.proc.kill()
    assert fin.args[:2] == [again.id, "failed"] and "exited unexpectedly" in fin.args[2]
    panel.runner.stop()  # the queue would otherwise go on with the next job
    panel.select_job(again.id)
    assert panel.buttons["resume"].isEnabled()
    again = panel.resume_selected()
    lib.update_job(again.id, result=None)
    events: list[dict] = []
    panel.runner.progress.connect(lambda _j, m: events.append(m))
    with qtbot.waitSignal(panel.runner.jobFinished, timeout=600_000) as fin:
        panel.start()
    assert fin.args[1] == "done", lib.get_job(again.id).message
    assert min(e["global_step"] for e in events if e.get("global_step")) > 1  # not from scratch
    assert lib.latest_lora(ident.id) is not None


def jobs_of(lib):
    return lib.list_jobs(kind="train")


def _lipe(data, *args: str, capsys) -> str:
    from lipe_engine.cli import main

    capsys.readouterr()
    assert main([*args, "--data-dir", str(data)]) == 0
    return capsys.readouterr().out


def test_one_queue_for_the_desktop_and_lipe_queue(window, qtbot, capsys) -> None:
    """A job the desktop queues is listed, cancelled and resumed by `lipe queue`, and the reverse."""
    import json

    from lipe_desktop.training import child
    from lipe_engine.jobs import queue

    lib, panel, data = window.ctx.library, window.training, window.ctx.data_dir
    ident = lib.create_identity("Rex", "dog")
    lib.add_identity_photos(ident, lib.list_photos()[:3], role="reference")
    window.ctx.libraryChanged.emit()
    desk = panel.add_identity(ident.id, overrides=TINY, class_images=0)
    rows = json.loads(_lipe(data, "queue", "list", "--json", capsys=capsys))
    assert [(r["id"], r["state"], r["runner"]) for r in rows] == [(desk.id, "queued", "desktop")]
    _lipe(data, "queue", "cancel", str(desk.id), capsys=capsys)
    panel.refresh()
    panel.select_job(desk.id)
    assert panel.table.item(0, 3).text() == "cancelled" and panel.buttons["resume"].isEnabled()
    _lipe(data, "queue", "retry", str(desk.id), capsys=capsys)
    again = max(j.id for j in jobs_of(lib))
    panel.refresh()
    assert queue.next_queued(lib).id == again and lib.get_job(again).config["output_dir"] == desk.config["output_dir"]

    # the reverse: queued by `lipe queue add`, ordered, cancelled and resumed in the desktop
    _lipe(data, "queue", "add", "Rex", "--steps", "3", "--class-images", "0", capsys=capsys)
    cli = max(j.id for j in jobs_of(lib))
    panel.refresh()
    assert [panel.table.item(r, 0).text() for r in range(2)] == [str(again), str(cli)]
    panel.select_job(cli)
    panel.buttons["up"].click()  # the desktop's order is the queue's: `lipe queue run` takes it first
    assert [panel.table.item(r, 0).text() for r in range(2)] == [str(cli), str(again)]
    claimed = queue.claim_next(lib)
    assert claimed.id == cli and claimed.result["worker"]["pid"] > 0
    # the desktop's training child only runs a job it claims: one another runner holds is left alone
    assert child.run(lib, cli, "unused-model", "cpu", token=None) == 2
    assert lib.get_job(cli).state == "running"
    queue.cancel_job(lib, cli)  # what the desktop's Stop ends in; the desktop then resumes it
    panel.refresh()
    panel.select_job(cli)
    resumed = panel.resume_selected()
    rows = json.loads(_lipe(data, "queue", "list", "--json", "--active", capsys=capsys))
    assert {r["id"] for r in rows} == {again, resumed.id}
    assert lib.get_job(resumed.id).config == lib.get_job(cli).config
