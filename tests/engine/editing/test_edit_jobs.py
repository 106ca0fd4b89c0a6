"""Edit jobs in the one queue (tiny SDXL model, CPU): ordering, waiting for a prior, resume, failures,
and the whole night from the CLI: train Rex, edit his photos, review, keep, redo."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lipe_engine.cli import main
from lipe_engine.errors import Cancelled, InputError
from lipe_engine.jobs import enqueue, enqueue_edit, run_queue
from lipe_engine.jobs import queue as q
from lipe_engine.library import Library, LibraryError
from lipe_engine.progress import CancelToken
from lipe_engine.testing.libraries import add_rex

pytestmark = pytest.mark.usefixtures("one_torch_thread")
FAST = {"steps": 4, "skip": 1}
TINY_TRAIN = {"resolution": 32, "rank": 4, "checkpoint_every": 1, "max_steps": 2}


@pytest.fixture()
def data(tiny_model_library) -> Path:
    """5 photos: Rex's 3 references and 2 targets, all captioned."""
    data = tiny_model_library(5)
    with Library.open(data) as lib:
        add_rex(lib)
    return data


def lipe(data: Path, *argv: str) -> int:
    return main([*argv, "--data-dir", str(data)])


def test_an_edit_waits_for_its_identitys_queued_training(data: Path) -> None:
    with Library.open(data) as lib:
        train = enqueue(lib, "Rex", overrides=TINY_TRAIN, class_images=0)
        edit = enqueue_edit(lib, "Rex", ["standing"], params=FAST)
        assert edit.config["after_job"] == train.id and edit.config["photos"] == [p.id for p in lib.list_photos()[3:5]]
        q.move(lib, edit.id, -5)  # the user puts the edit first: it still cannot run before the prior
        assert [j.id for j in q.listed(lib) if j.state == "queued"] == [edit.id, train.id]
        assert q.waiting(lib, lib.get_job(edit.id)) == train.id
        assert q.next_queued(lib).id == train.id
        claimed = q.claim_next(lib)
        assert claimed is not None and claimed.id == train.id
        assert q.claim_next(lib) is None  # the training runs elsewhere: the edit keeps waiting
        lib.update_job(train.id, state="cancelled")
        assert q.next_queued(lib).id == edit.id
        done = q.execute_job(lib, edit.id)
        assert done.state == "failed"
        assert done.message == (f"the training of 'Rex' this edit waited for (job {train.id}) cancelled: "
                                f"retry it (`lipe queue retry {train.id}`), then this edit "
                                f"(`lipe queue retry {edit.id}`: it waits for the training).")
        again = q.retry(lib, edit.id)  # nothing queued now: the retry waits for nothing (base model)
        assert again.config["after_job"] is None and again.kind == "edit"


def test_a_stopped_edit_job_resumes_with_the_photos_left(data: Path) -> None:
    with Library.open(data) as lib:
        job = enqueue_edit(lib, "Rex", ["standing", "lying down"], params=dict(FAST, seeds=[None, 2]))
        token = CancelToken()

        def stop_at_second_photo(ev) -> None:
            if ev.stage.startswith("photo 2/2"):
                token.cancel()

        with pytest.raises(Cancelled):
            run_queue(lib, progress=stop_at_second_photo, cancel=token)
        stopped = lib.get_job(job.id)
        assert stopped.state == "queued" and "resumes" in stopped.message
        first = lib.list_edit_results(job_id=job.id)
        assert len(first) == 4 and {r.photo_id for r in first} == {job.config["photos"][0]}  # 2 targets x 2 seeds
        finished = run_queue(lib)
        assert [j.state for j in finished] == ["done"]
        results = lib.list_edit_results(job_id=job.id)
        assert len(results) == 8 and [r.id for r in results[:4]] == [r.id for r in first]  # not made twice
        assert finished[0].message == "8 result(s) of 2 photo(s) to review"
        assert all(r.path.is_file() and r.status == "pending" and r.recipe["seed"] == r.seed for r in results)
        assert {r.target_prompt for r in results} == {"a sks dog standing on grass", "a sks dog lying down on grass"}


def test_a_photo_gone_is_skipped_and_a_job_with_none_left_fails(data: Path) -> None:
    with Library.open(data) as lib:
        targets = [link.photo for link in lib.identity_photos("Rex", role="target")]
        job = enqueue_edit(lib, "Rex", ["standing"], params=FAST)
        Path(targets[0].path).unlink()
        done = run_queue(lib)[0]
        assert done.state == "done" and done.message.endswith("; 1 photo(s) skipped")
        assert "is gone from disk" in done.log
        assert {r.photo_id for r in lib.list_edit_results(job_id=job.id)} == {targets[1].id}
        with pytest.raises(InputError, match="is gone from disk"):  # refused when queued, not overnight
            enqueue_edit(lib, "Rex", ["standing"], [targets[0]])
        only = enqueue_edit(lib, "Rex", ["standing"], [targets[1]], params=FAST)
        Path(targets[1].path).unlink()
        failed = run_queue(lib)[0]
        assert failed.id == only.id and failed.state == "failed"
        assert failed.message.startswith(f"no photo of edit job {only.id} could be edited")


def test_queue_add_edit_bad_inputs(data: Path, capsys) -> None:
    assert lipe(data, "queue", "add-edit", "Nobody", "--to", "sitting") == 2
    assert "identity 'Nobody' does not exist" in capsys.readouterr().err
    assert lipe(data, "queue", "add-edit", "Rex", "--to", " ") == 2
    assert "a change is empty" in capsys.readouterr().err
    assert lipe(data, "queue", "add-edit", "Rex", "--to", "sitting", "--steps", "0") == 2
    assert "steps" in capsys.readouterr().err
    with Library.open(data) as lib:
        lib.create_identity("Ghost", "cat")
    assert lipe(data, "queue", "add-edit", "Ghost", "--to", "sitting") == 2
    assert "identity 'Ghost' has no photo to edit" in capsys.readouterr().err
    with Library.open(data) as lib:
        assert lib.list_jobs() == []  # nothing half-queued
        with pytest.raises(LibraryError):
            q.retry(lib, 99)
        damaged = enqueue_edit(lib, "Rex", ["sitting"], params=FAST)
        lib.conn.execute("UPDATE jobs SET config = json_set(config, '$.changes', 'sitting') WHERE id = ?",
                         (damaged.id,))
        failed = run_queue(lib)[0]
        assert failed.message == f"edit job {damaged.id}'s changes are damaged: queue the edit again."
        orphan = enqueue_edit(lib, "Rex", ["sitting"], params=FAST)
        lib.delete_identity("Rex")
        gone = run_queue(lib)[0]
        assert gone.message == (f"the identity of edit job {orphan.id} ('Rex') was deleted: "
                                "create it again and queue a new edit.")


@pytest.mark.slow
def test_the_night_from_the_cli_train_edit_review_keep_redo(data: Path, capsys) -> None:
    photos = []
    with Library.open(data) as lib:
        photos = [str(p.path) for p in lib.list_photos()[3:5]]
    assert lipe(data, "queue", "add", "Rex", "--steps", "2", "--resolution", "32", "--rank", "4",
                "--class-images", "0") == 0
    assert lipe(data, "queue", "add-edit", "Rex", "--to", "standing", "--to", "facing left", "--steps", "4",
                "--skip", "1", *photos) == 0
    out = capsys.readouterr().out
    assert "after training job 1" in out
    assert lipe(data, "queue", "list") == 0
    listed = capsys.readouterr().out
    assert "train" in listed and "edit" in listed
    assert lipe(data, "queue", "run", "--gpus", "none", "--quiet") == 0
    assert "job 2: done - 4 result(s) of 2 photo(s) to review" in capsys.readouterr().out
    with Library.open(data) as lib:
        lora = lib.latest_lora("Rex")
        results = lib.list_edit_results(status="pending")
        assert lora is not None and len(results) == 4
        assert all(r.recipe["lora"]["id"] == lora.id and len(r.recipe["lora"]["sha256"]) == 64 for r in results)
    assert lipe(data, "versions", "review") == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 4
    assert lipe(data, "versions", "keep", str(results[0].id), str(results[1].id)) == 0
    assert lipe(data, "versions", "discard", "all") == 0
    with Library.open(data) as lib:
        kept = [e for e in lib.list_edits() if e.job_id is not None]
        assert len(kept) == 2 and lib.list_edit_results(status="pending") == []
        assert not results[2].path.exists() and not results[0].path.exists()  # moved beside the original
        assert all(e.output_path.parent == data / "edits" / str(e.photo_id) and e.output_path.is_file() for e in kept)
        assert all(Path(m).is_file() and Path(m).name.startswith(e.output_path.stem) for e in kept for m in e.mask_paths)
    capsys.readouterr()
    assert lipe(data, "versions", "redo", str(kept[1].id), "--quiet") == 0
    assert "identical pixels" in capsys.readouterr().out
    with Library.open(data) as lib:
        redone = lib.list_edits()[-1]
        with Image.open(redone.output_path) as a, Image.open(kept[1].output_path) as b:
            assert np.array_equal(np.asarray(a), np.asarray(b))


def test_an_edit_job_describes_uncaptioned_photos_with_one_llava_load(data: Path, monkeypatch) -> None:
    import lipe_engine.captioning.llava as llava

    loads = []

    class FakeLlava:
        model_name = "fake-llava"

        def __init__(self, *a, **k) -> None:
            loads.append(a)

        def __enter__(self):
            return self

        def __exit__(self, *exc) -> None:
            pass

        def describe(self, image, request) -> str:
            return "Close-up photo, a dog lying on a red rug"

    monkeypatch.setattr(llava, "LlavaCaptioner", FakeLlava)
    monkeypatch.setenv("LIPE_LLAVA_GGUF", "llava.gguf")
    monkeypatch.setenv("LIPE_LLAVA_MMPROJ", "mmproj.gguf")
    with Library.open(data) as lib:
        targets = [link.photo for link in lib.identity_photos("Rex", role="target")]
        for p in targets:
            lib.delete_caption(p)
        job = enqueue_edit(lib, "Rex", ["sitting"], params=FAST)
        done = run_queue(lib)[0]
        assert done.state == "done" and "2 photo(s) described by LLaVA" in done.log
        assert len(loads) == 1  # one load for all the photos, not one per photo
        results = lib.list_edit_results(job_id=job.id)
        assert {r.source_prompt for r in results} == {"Close-up photo, a sks dog lying on a red rug"}
        assert {r.target_prompt for r in results} == {"Close-up photo, a sks dog sitting on a red rug"}


def test_an_edit_job_whose_runner_was_killed_is_resumed_by_the_next_run(data: Path) -> None:
    import socket

    with Library.open(data) as lib:
        job = enqueue_edit(lib, "Rex", ["standing"], params=FAST)
        dead = {"worker": {"pid": 2**22 + 12345, "host": socket.gethostname(), "gpu": None}}  # no such process
        lib.update_job(job.id, state="running", result=dead, message="photo 1/2: editing 2/3")
        assert q.next_queued(lib) is None  # running as far as the table says
        finished = run_queue(lib)
        assert [(j.id, j.state) for j in finished] == [(job.id, "done")]
        assert len(lib.list_edit_results(job_id=job.id)) == 2


def test_the_queue_list_says_what_an_edit_waits_for_and_review_names_the_photos(data: Path, capsys) -> None:
    assert lipe(data, "queue", "add", "Rex", "--steps", "2", "--class-images", "0") == 0
    assert lipe(data, "queue", "add-edit", "Rex", "--to", "standing") == 0
    capsys.readouterr()
    assert lipe(data, "queue", "list") == 0
    train, edit = capsys.readouterr().out.splitlines()
    assert "waits for" not in train and edit.endswith(f"(waits for training job {train.split()[0]})")
    with Library.open(data) as lib:
        photo = lib.list_photos()[3]
        result = data / "edits" / "jobs" / "test" / "p_1.png"
        result.parent.mkdir(parents=True)
        Image.open(photo.path).save(result)
        lib.add_edit_result(photo.id, result, job_id=int(edit.split()[0]), identity="Rex",
                            source_prompt="a sks dog sitting on grass", target_prompt="a sks dog standing on grass",
                            seed=3, recipe={}, mask_paths=[])
    assert lipe(data, "versions", "review") == 0
    (row,) = capsys.readouterr().out.splitlines()
    assert photo.path.name in row and "seed 3" in row  # the photo by its file name, not only its id
