"""The identity-prior queue and the CLI flows on the tiny SDXL model (CPU, in-process)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lipe_engine.cli import main
from lipe_engine.errors import Cancelled, InputError
from lipe_engine.jobs import cancel_job, enqueue, execute_job, retry, run_queue
from lipe_engine.jobs.gpus import Worker, choose_gpus, plan_workers, run_workers, visible_gpus
from lipe_engine.library import Library
from lipe_engine.progress import CancelToken
from lipe_engine.prompts import template_prompts

TINY = {"resolution": 32, "rank": 4, "checkpoint_every": 1, "lr_unet": 1e-3, "lr_text": 1e-3}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture()
def data(tiny_model_library) -> Path:
    """6 photos: Rex (3 references), Tom (2), Ghost (none)."""
    data = tiny_model_library(6)
    with Library.open(data) as lib:
        photos = lib.list_photos()
        for name, cls, refs in (("Rex", "dog", photos[:3]), ("Tom", "cat", photos[3:5]), ("Ghost", "dog", [])):
            ident = lib.create_identity(name, cls)
            if refs:
                lib.add_identity_photos(ident, refs, role="reference")
    return data


def lipe(data: Path, *argv: str) -> int:
    return main([*argv, "--data-dir", str(data)])


def test_cli_caption_without_a_model_says_what_to_do(data: Path, capsys) -> None:
    assert lipe(data, "caption", "Rex") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("lipe: error: no LLaVA model configured: pass --llava")


def test_cli_prompts_template_fallback(data: Path, capsys) -> None:
    assert lipe(data, "prompts", "dog", "--count", "7", "--quiet") == 0
    assert capsys.readouterr().out.splitlines() == template_prompts("dog", 7)
    assert (data / "regularization" / "dog" / "prompts.json").is_file()  # cached for every dog identity
    assert lipe(data, "prompts", "dogs!", "--count", "3") == 2
    assert "class word 'dogs!' is not usable" in capsys.readouterr().err


def test_cli_train_a_few_steps_records_the_prior(data: Path, capsys) -> None:
    rc = lipe(data, "train", "Rex", "--steps", "4", "--resolution", "32", "--rank", "4", "--class-images", "2",
              "--class-steps", "2", "--quiet")
    out = capsys.readouterr().out
    assert rc == 0, out
    with Library.open(data) as lib:
        job = lib.list_jobs(kind="train")[0]
        assert job.state == "done" and job.result["class_images"] == 2
        lora = lib.latest_lora("Rex")
        assert lora is not None and (lora.path / "pytorch_lora_weights.safetensors").is_file()
        assert "no captioner configured" in job.log
    summary = json.loads((Path(job.config["output_dir"]) / "training.json").read_text())
    assert summary["steps"] == 4 and len(summary["losses"]) == 4
    assert len(list((data / "regularization" / "dog" / "images").glob("*/class_*.png"))) == 2
    assert f"LoRA (diffusers): {lora.path}" in out
    assert lipe(data, "train", "Rex", "--preset", "99gb") == 2  # argparse refuses unknown presets
    assert lipe(data, "train", "Nobody") == 2


def test_queue_add_list_run_cancel_with_a_failing_job(data: Path, capsys) -> None:
    common = ["--steps", "2", "--resolution", "32", "--rank", "4", "--class-images", "0", "--quiet"]
    assert lipe(data, "queue", "add", "Ghost", *common) == 0  # no photos: will fail
    assert lipe(data, "queue", "add", "Tom", *common) == 0
    assert lipe(data, "queue", "add", "Rex", *common) == 0
    assert lipe(data, "queue", "cancel", "3") == 0
    capsys.readouterr()
    assert lipe(data, "queue", "run", "--gpus", "none", "--quiet") == 1  # one failure -> exit 1, queue went on
    out = capsys.readouterr().out
    assert "job 1: failed - identity 'Ghost' has no reference photo" in out and "job 2: done" in out
    assert lipe(data, "queue", "list", "--json") == 0
    rows = {r["id"]: r for r in json.loads(capsys.readouterr().out)}
    assert [rows[i]["state"] for i in (1, 2, 3)] == ["failed", "done", "cancelled"]
    assert rows[2]["result"]["lora"].endswith("lora")
    assert lipe(data, "queue", "list", "--active") == 0
    assert "0 job(s)" in capsys.readouterr().err
    assert lipe(data, "queue", "cancel", "2") == 2  # finished jobs stay finished
    assert lipe(data, "queue", "retry", "3") == 0
    with Library.open(data) as lib:
        assert lib.get_job(4).state == "queued" and lib.get_job(4).config == lib.get_job(3).config
    assert lipe(data, "queue", "run", "--gpus", "0,1") == 2  # no GPUs here: a clear error
    assert "GPU '0' is not available" in capsys.readouterr().err


def test_stopped_or_killed_job_resumes_from_its_checkpoint(data: Path, tiny_sdxl_dir: Path) -> None:
    with Library.open(data) as lib:
        job = enqueue(lib, "Tom", overrides=dict(TINY, max_steps=6), class_images=0)
        token = CancelToken()

        def stop_at_3(ev) -> None:
            if ev.info.get("global_step") == 3:
                token.cancel()

        with pytest.raises(Cancelled):
            execute_job(lib, job.id, progress=stop_at_3, cancel=token)
        assert lib.get_job(job.id).state == "queued"  # the runner stopped: back in the queue
        # Now pretend its next runner was killed -9 right after claiming it: running, dead pid.
        dead = subprocess.Popen([sys.executable, "-c", "pass"])
        dead.wait()
        lib.update_job(job.id, state="running", result={"worker": {"pid": dead.pid, "host": __import__("socket").gethostname()}})
        steps: list[int] = []
        done = run_queue(lib, progress=lambda ev: steps.append(ev.info.get("global_step") or 0))
        assert [j.id for j in done] == [job.id] and done[0].state == "done"
        assert min(s for s in steps if s) == 4  # continued after step 3, not from scratch
        summary = json.loads((Path(job.config["output_dir"]) / "training.json").read_text())
        assert summary["resumed_from_step"] == 3 and summary["steps"] == 6


def test_cancel_from_another_connection_stops_a_running_job(data: Path) -> None:
    with Library.open(data) as lib, Library.open(data) as other:
        job = enqueue(lib, "Tom", overrides=dict(TINY, max_steps=40), class_images=0)

        def cancel_at_2(ev) -> None:
            if ev.info.get("global_step") == 2:
                cancel_job(other, job.id)  # what `lipe queue cancel` does from another process

        done = execute_job(lib, job.id, progress=cancel_at_2)
        assert done.state == "cancelled"
        assert done.message == "stopped: resume to continue"  # not "the runner stops at its next step", stale
        summary_missing = not (Path(job.config["output_dir"]) / "training.json").exists()
        ckpts = sorted(Path(job.config["output_dir"], "checkpoints").glob("step_*"))
        assert summary_missing and ckpts and int(ckpts[-1].name.split("_")[1]) < 40
        again = retry(lib, job.id)
        assert again.config["output_dir"] == job.config["output_dir"]


def test_gpu_placement_one_worker_per_gpu() -> None:
    assert visible_gpus({}, count=3) == ["0", "1", "2"]
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "2,3"}, count=8) == ["2", "3"]
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "1,-1,2"}) == ["1"]
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": ""}) == []
    assert choose_gpus("auto", ["2", "3"]) == ["2", "3"] and choose_gpus("3", ["2", "3"]) == ["3"]
    with pytest.raises(InputError, match="listed twice"):
        choose_gpus("2,2", ["2", "3"])
    workers = plan_workers(["2", "3"], "/data", ["--model", "m"], base_env={"PATH": "/bin", "LOCAL_RANK": "1"})
    assert [w.env["CUDA_VISIBLE_DEVICES"] for w in workers] == ["2", "3"]
    assert all("LOCAL_RANK" not in w.env and w.env["PATH"] == "/bin" for w in workers)
    assert workers[0].argv[1:] == ["-m", "lipe_engine.jobs.worker", "--data-dir", "/data", "--gpu-label", "2",
                                   "--model", "m"]
    started = []

    class FakeProc:
        def __init__(self, argv, env):
            started.append((argv, env))

        def wait(self, timeout=None):
            return 0

    assert run_workers(workers, spawn=FakeProc) == [0, 0] and len(started) == 2


@pytest.mark.slow
def test_two_worker_processes_share_the_queue(data: Path) -> None:
    with Library.open(data) as lib:
        ids = [enqueue(lib, "Ghost", class_images=0).id for _ in range(4)]  # each fails fast (no photos)
    codes = run_workers([Worker(w.gpu, w.env, w.argv) for w in plan_workers(["7", "8"], data)], timeout=300)
    assert codes == [0, 0]
    with Library.open(data) as lib:
        jobs = [lib.get_job(i) for i in ids]
    assert all(j.state == "failed" for j in jobs)
    used = {line.split("CUDA_VISIBLE_DEVICES=")[1].split(")")[0] for j in jobs for line in j.log.splitlines()
            if "CUDA_VISIBLE_DEVICES=" in line}
    assert used <= {"7", "8"} and len(jobs) == 4


def test_cli_caption_set_writes_a_user_caption(data: Path, capsys) -> None:
    with Library.open(data) as lib:
        photo = lib.identity_photos("Rex", role="reference")[0].photo
    assert lipe(data, "caption", "Rex", "--set", str(photo.id), "my sks dog on the sofa") == 0
    with Library.open(data) as lib:
        cap = lib.get_caption(photo, identity=lib.get_identity("Rex").id)
        assert cap.edited_by_user and cap.text == "my sks dog on the sofa"


def test_no_model_anywhere_is_a_clear_error(data: Path, tmp_path: Path, monkeypatch) -> None:
    from lipe_engine import locations

    monkeypatch.setattr("lipe_engine.locations.toy_model_dir", lambda: tmp_path / "no_toy_model")
    with Library.open(data) as lib:
        lib.set_setting("sdxl_model", None)
        with pytest.raises(InputError, match="no SDXL model configured"):
            locations.sdxl_model(None, lib)
        assert locations.sdxl_model("/x/model", lib) == "/x/model"
        monkeypatch.setenv("LIPE_SDXL_MODEL", "/env/model")
        assert locations.sdxl_model(None, lib) == "/env/model"
        lib.set_setting("sdxl_model", "/setting/model")
        assert locations.sdxl_model(None, lib) == "/setting/model"  # setting before environment
