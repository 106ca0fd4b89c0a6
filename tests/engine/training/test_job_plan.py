"""The whole job's progress and a time left that does not jump between stages."""

from __future__ import annotations

from lipe_engine.jobs.plan import EtaSmoother, JobPlan, eta_text, stage_of
from lipe_engine.progress import ProgressEvent


def _events(plan: JobPlan, class_s: float, train_s: float):
    """(time, event) of a job: 8 class images then training, each step taking the given seconds."""
    t = 0.0
    for i in range(plan.class_images + 1):
        yield t, ProgressEvent("class images 'dog'", i, plan.class_images, None, {})
        t += class_s
    for i in range(plan.train_steps + 1):
        yield t, ProgressEvent("train", i, plan.train_steps, None, {"global_step": i})
        t += train_s


def test_stages_map_to_one_growing_fraction_of_the_job() -> None:
    plan = JobPlan(class_images=8, class_steps=30, train_steps=300)
    seen = [plan.fraction(ev) for _t, ev in _events(plan, 1.0, 0.1)]
    assert all(b >= a for a, b in zip(seen, seen[1:], strict=False))  # never back to 0 at a new stage
    assert seen[0] < 0.05 and seen[-1] > 0.97
    # class images are 8 x 30 denoising steps, training 300 x 3: about a fifth of the job
    end_class = plan.fraction(ProgressEvent("class images 'dog'", 8, 8, None, {}))
    assert 0.15 < end_class < 0.3
    # a resumed run: its first event (step 0 of the 200 left) is already a third of the training
    resumed = plan.fraction(ProgressEvent("train (resumed at step 100)", 0, 200, None, {}))
    start_train = plan.fraction(ProgressEvent("train", 0, 300, None, {}))
    assert resumed > start_train + 0.2
    assert stage_of("save LoRA") == "saving" and stage_of("caption 'Rex'") == "captions"


def test_time_left_is_said_once_stable_and_jumps_far_less_than_per_stage() -> None:
    plan = JobPlan(class_images=8, class_steps=30, train_steps=300)
    now = [0.0]
    eta = EtaSmoother(clock=lambda: now[0])
    smooth: list[tuple[float, float | None]] = []
    naive: list[tuple[float, float]] = []  # the per-stage ETA the desktop used to show
    stage_t0, last_stage = 0.0, ""
    for t, ev in _events(plan, class_s=4.0, train_s=0.6):
        now[0] = t
        smooth.append((t, eta.update(plan.fraction(ev))))
        if ev.stage != last_stage:
            stage_t0, last_stage = t, ev.stage
        if ev.step:
            naive.append((t, (t - stage_t0) / ev.step * (ev.total - ev.step)))
    end = smooth[-1][0]
    assert smooth[0][1] is None and all(v is None for t, v in smooth if t < 20)  # "estimating…" at first
    said = [(t, v) for t, v in smooth if v is not None]
    assert said and said[0][0] < 60

    def worst_error(rows) -> float:  # how far off the time left is, as a share of the whole job
        return max(abs(v - (end - t)) for t, v in rows if end - t > 30) / end

    # the per-stage figure says ~0 s left at the end of the class images; the smoothed one is
    # within a margin of the truth all along and at least 3x closer at its worst
    assert worst_error(said) < 0.35
    assert worst_error(naive) > 3 * worst_error(said)


def test_eta_words() -> None:
    assert eta_text(None) == "estimating time left…"
    assert eta_text(42) == "about 40 s left" and eta_text(12 * 60 + 10) == "about 12 min left"
    assert eta_text(3 * 3600 + 20 * 60) == "about 3 h 20 min left"


def test_the_job_row_has_the_whole_jobs_progress_and_a_resume_is_one_job(tmp_path) -> None:
    from lipe_engine.jobs import cancel_job, enqueue, retry
    from lipe_engine.jobs.queue import JobProgress
    from lipe_engine.library import Library
    from lipe_engine.progress import CancelToken
    from lipe_engine.testing.libraries import make_library

    data, _ = make_library(tmp_path, 4)
    with Library.open(data) as lib:
        ident = lib.create_identity("Rex", "dog")
        lib.add_identity_photos(ident, lib.list_photos()[:4], role="reference")
        job = enqueue(lib, ident.id, preset="toy", class_images=8)
        mirror = JobProgress(lib, job.id, None, CancelToken())
        assert mirror.plan.train_steps == 300 and mirror.plan.class_images == 8  # the toy recipe's
        mirror(ProgressEvent("class images 'dog'", 8, 8, None, {}))  # the last class image
        row = lib.get_job(job.id)
        # a fifth of the job is done, not "100%" of a stage
        assert 0.15 < row.progress < 0.3 and row.message.endswith("estimating time left…")
        cancel_job(lib, job.id)
        again = retry(lib, job.id)
        assert retry(lib, job.id).id == again.id  # pressed twice: still one job
        assert again.config["output_dir"] == job.config["output_dir"]
        assert [j.id for j in lib.list_jobs(kind="train", states=["queued"])] == [again.id]
