"""Captioning as a kind of job in the one queue: ``lipe queue add-caption``, the real LLaVA path (tiny
GGUFs built here, llama-cpp's handler), progress by photo, stop and resume without describing a
photo twice, the user's caption kept, and one-line errors for bad inputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from lipe_engine.cli import main
from lipe_engine.errors import Cancelled, InputError
from lipe_engine.jobs.queue import job_title, run_queue
from lipe_engine.library import Library
from lipe_engine.progress import CancelToken
from lipe_engine.testing.libraries import make_library


@pytest.fixture(scope="module")
def ggufs(tmp_path_factory) -> tuple[Path, Path]:
    pytest.importorskip("llama_cpp", reason="llama-cpp-python not installed")
    from lipe_engine.testing.gguf_models import build_tiny_llama_gguf, build_tiny_mmproj

    d = tmp_path_factory.mktemp("llava")
    return build_tiny_llama_gguf(d / "tiny-llava.gguf"), build_tiny_mmproj(d / "mmproj-tiny.gguf")


@pytest.fixture()
def data(tmp_path: Path, monkeypatch) -> Path:
    for var in ("LIPE_LLAVA_GGUF", "LIPE_LLAVA_MMPROJ", "LIPE_LLAVA_HANDLER"):
        monkeypatch.delenv(var, raising=False)
    data, _ = make_library(tmp_path, 6)
    with Library.open(data) as lib:
        photos = lib.list_photos(order="path")
        rex = lib.create_identity("Rex", "dog")
        lib.add_identity_photos(rex, photos[:3], role="reference")
        lib.add_identity_photos(rex, photos[3:5], role="target")
        lib.set_caption(photos[1], "my dog on the sofa", identity=rex.id, by_user=True)  # kept, not described
    return data


def test_caption_job_describes_stops_and_resumes_without_repeating(data: Path, ggufs, capsys, monkeypatch) -> None:
    import lipe_engine.captioning.job as job_module

    described: list[int] = []
    real = job_module.caption_photo

    def counting(lib, photo, identity_id, **kw):  # type: ignore[no-untyped-def]
        described.append(photo.id)
        return real(lib, photo, identity_id, **kw)

    monkeypatch.setattr(job_module, "caption_photo", counting)
    model, mmproj = ggufs
    assert main(["queue", "add-caption", "Rex", "--llava", str(model), "--mmproj", str(mmproj),
                 "--data-dir", str(data)]) == 0
    assert "describe 5 photo(s) of 'Rex'" in capsys.readouterr().out
    with Library.open(data) as lib:
        (job,) = lib.list_jobs(kind="caption")
        assert job_title(job) == "Describing 5 photo(s) of Rex"
        token = CancelToken()
        fractions: list[float] = []

        def stop_after_first_photo(ev) -> None:  # type: ignore[no-untyped-def]
            if ": describe " in ev.stage and ev.total and ev.step == ev.total:
                token.cancel()  # the runner is stopped (Ctrl-C, SIGTERM) once a photo is described

        with pytest.raises(Cancelled):
            run_queue(lib, device="cpu", progress=stop_after_first_photo, cancel=token)
        assert lib.get_job(job.id).state == "queued" and len(described) == 1
        # the whole job's share: the user's caption and the one described, two photos of five
        assert lib.get_job(job.id).progress == pytest.approx(2 / 5)

        def record(ev) -> None:  # type: ignore[no-untyped-def]
            fractions.append(lib.get_job(job.id).progress)

        (done,) = run_queue(lib, device="cpu", progress=record)
        assert done.state == "done", done.message
        assert sorted(described) == sorted(set(described)) and len(described) == 4  # none twice; the user's kept
        assert done.message == "3 photo(s) of Rex described (2 already were)"
        for p in lib.list_photos(order="path")[:5]:
            cap = lib.get_caption(p, identity="Rex", fallback_generic=False)
            assert cap is not None
            assert cap.text == "my dog on the sofa" if p.id == lib.list_photos(order="path")[1].id \
                else cap.text.lower().count("sks dog") == 1
        assert done.progress == 1.0 and fractions == sorted(fractions)  # never goes back
    # queued again: nothing left to describe, said in one line, no model loaded
    assert main(["queue", "add-caption", "Rex", "--llava", str(model), "--mmproj", str(mmproj),
                 "--data-dir", str(data)]) == 0
    with Library.open(data) as lib:
        (again,) = run_queue(lib, device="cpu")
        assert again.state == "done" and again.message == "all 5 photo(s) have captions"


def test_caption_job_bad_inputs_are_one_line(data: Path, ggufs, capsys, tmp_path: Path) -> None:
    model, mmproj = ggufs
    cases = [
        (["Rex"], "no LLaVA model is set"),  # nothing configured, nothing given
        (["Nobody", "--llava", str(model), "--mmproj", str(mmproj)], "Nobody"),
        (["Rex", "--llava", str(tmp_path / "gone.gguf"), "--mmproj", str(mmproj)], "gone.gguf"),
        (["Rex", str(tmp_path / "elsewhere.jpg"), "--llava", str(model), "--mmproj", str(mmproj)], "elsewhere.jpg"),
    ]
    for args, named in cases:
        assert main(["queue", "add-caption", *args, "--data-dir", str(data)]) == 2
        err = capsys.readouterr().err.strip()
        assert named in err and len(err.splitlines()) == 1 and err.startswith("lipe: error:"), err
    with Library.open(data) as lib:
        assert lib.list_jobs(kind="caption") == []  # nothing queued by a bad input
        from lipe_engine.captioning.job import enqueue_caption

        job = enqueue_caption(lib, "Rex", llava=str(model), mmproj=str(mmproj))
        photo = lib.get_photo(job.config["photos"][0])
        Path(photo.path).rename(tmp_path / "moved.jpg")  # gone by the night: skipped and named
        (done,) = run_queue(lib, device="cpu")
        assert done.state == "done" and "1 photo(s) skipped" in done.message
        assert any(photo.path.name in line for line in done.log.splitlines())
        with pytest.raises(InputError, match="gone from disk"):
            enqueue_caption(lib, "Rex", [photo], llava=str(model), mmproj=str(mmproj))


def test_an_edit_jobs_progress_counts_its_photos() -> None:
    """An edit job's events ("photo k/n: inversion", "...: editing") move its row's bar through the
    photos (a training's plan read them as nothing done: 0% until the end)."""
    from types import SimpleNamespace

    from lipe_engine.jobs.plan import plan_for
    from lipe_engine.progress import ProgressEvent

    plan = plan_for(None, SimpleNamespace(kind="edit", config={"photos": [7, 8]}))
    at = [plan.fraction(ProgressEvent(stage, step, total, None)) for stage, step, total in (
        ("describe 2 photo(s)", 1, 3), ("photo 1/2: inversion", 5, 10), ("photo 1/2: editing", 10, 10),
        ("photo 2/2: inversion", 0, 10), ("photo 2/2: editing (outputs 1-4 of 8)", 5, 10),
        ("photo 2/2: editing", 10, 10))]
    assert at == pytest.approx([0.0, 0.075, 0.5, 0.5, 0.825, 1.0])
