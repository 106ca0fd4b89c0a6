"""The one persistent job queue: library jobs of each kind in :data:`HANDLERS` run one after another.

* Kinds: ``train`` (an identity prior, ``pipeline``), ``edit`` (an identity's photos edited
  toward changes, ``lipe_engine.editing.job``) and ``caption`` (its photos described by LLaVA,
  ``lipe_engine.captioning.job``). An edit queued while its identity's training is
  queued or running waits for it (:func:`waiting`), whatever the order says.
* ``enqueue`` (training) and ``enqueue_edit`` (its config from ``editing.job``) validate the
  settings and add a queued job; ``run_queue`` claims the next runnable job atomically (:func:`claim_next` records the worker
  in the same transaction), runs its kind's handler, records ``done``/``failed`` with the error
  message, and goes on with the next one until none is left.
* ``cancel_job`` cancels a queued job at once; a running one is marked ``cancelled`` in the database
  and its runner (any process) notices within a second or two, checkpoints and stops.
* A runner that is stopped (Ctrl-C, SIGTERM) puts its job back to ``queued``; one that was killed
  leaves the job ``running`` with a dead worker pid: the next ``run_queue`` on this host picks it up
  first. Either way the job resumes from its checkpoint (see ``pipeline``).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..editing.job import KIND as EDIT_KIND  # the edit jobs' kind is declared with them
from ..editing.job import edit_job_config, refreshed_config, run_edit_job, waiting_for
from ..errors import Cancelled, LipeError
from ..progress import CancelToken, ProgressCallback, ProgressEvent, ProgressReporter
from .pipeline import job_config, run_pipeline
from .plan import EtaSmoother, eta_text, plan_for

if TYPE_CHECKING:
    from ..library import Library
    from ..library.identities import IdentityRef
    from ..library.photos import PhotoRef
    from ..library.records import Job

log = logging.getLogger(__name__)
KIND = "train"
CAPTION_KIND = "caption"
KINDS = (KIND, EDIT_KIND, CAPTION_KIND)  # the kinds run_queue runs (each has a handler)
# the queue's order (job ids) in the library settings; the name is from when only the desktop ordered
# jobs, kept so a library's order survives the update
ORDER_KEY = "desktop.train_order"
_DB_EVERY_S = 1.0  # progress writes and cancel polls: often enough for a UI, rare enough for SQLite


def enqueue(lib: Library, identity: IdentityRef, **settings: Any) -> Job:
    """Queue an identity-prior job (settings as in ``pipeline.job_config``, validated); returns the Job."""
    ident = lib.get_identity(identity)
    return _add(lib, job_config(lib, ident, **settings), ident.id)


def enqueue_edit(lib: Library, identity: IdentityRef, changes: Sequence[str], photos: Sequence[PhotoRef] = (),
                 **settings: Any) -> Job:
    """Queue an edit of ``photos`` (default: the identity's) toward each change (settings as in
    ``editing.job.edit_job_config``, validated); returns the Job."""
    ident = lib.get_identity(identity)
    return add_job(lib, EDIT_KIND, edit_job_config(lib, ident, changes, photos, **settings), ident.id)


def retry(lib: Library, job_id: int) -> Job:
    """A new queued job with the same settings and output folder (so it resumes from the checkpoint);
    the queued or running job that already continues it when there is one (pressed twice: one job)."""
    job = lib.get_job(job_id)
    if not job.finished:
        raise LipeError(f"job {job_id} is {job.state}", "retry only finished (failed or cancelled) jobs")
    if job.kind not in KINDS:
        raise LipeError(f"job {job_id} is a {job.kind} job", "only training, edit and caption jobs are queued")
    config = job.config
    if job.kind == EDIT_KIND:
        config = refreshed_config(lib, job)
    out = (job.config or {}).get("output_dir")
    for other in lib.list_jobs(kind=job.kind, states=["queued", "running"]):  # resume continues, never duplicates
        if out and (other.config or {}).get("output_dir") == out:
            return other
        if not out and other.identity_id == job.identity_id and other.config == config:
            return other
    return add_job(lib, job.kind, config, job.identity_id)


def add_job(lib: Library, kind: str, config: dict[str, Any], identity_id: int | None) -> Job:
    """A queued job of ``kind`` at the end of the order."""
    with lib.transaction():  # the job and its place in the order together
        job = lib.create_job(kind, config=config, identity=identity_id)
        set_order(lib, [*order(lib), job.id])
    return job


def _add(lib: Library, config: dict[str, Any], identity_id: int | None) -> Job:
    return add_job(lib, KIND, config, identity_id)


def handler(kind: str) -> Any:
    """The function that runs a job of ``kind``: ``(lib, job, reporter, model=, device=, note=) -> result``."""
    if kind == KIND:
        return run_pipeline
    if kind == EDIT_KIND:
        return run_edit_job
    if kind == CAPTION_KIND:
        from ..captioning.job import run_caption_job

        return run_caption_job
    raise LipeError(f"job kind '{kind}' has no runner", f"the queue runs {', '.join(KINDS)} jobs")


def waiting(lib: Library, job: Job) -> int | None:
    """The job ``job`` waits for (an edit for its identity's training), or None when it may run."""
    if job.kind != EDIT_KIND:
        return None
    return waiting_for(lib, job)


def describe_settings(job: Job) -> str:
    """A job's settings in a few words (the desktop's queue table, ``lipe queue list``)."""
    cfg = job.config or {}
    if job.kind == EDIT_KIND:
        changes = [*(cfg.get("changes") or []), *(cfg.get("exact_targets") or [])]
        return f"edit {len(cfg.get('photos') or [])} photo(s): {', '.join(map(str, changes))}"[:80]
    if job.kind == CAPTION_KIND:
        return f"describe {len(cfg.get('photos') or [])} photo(s) ({Path(str(cfg.get('llava') or 'LLaVA')).name})"[:80]
    return ((cfg.get("preset") or ("custom" if cfg.get("overrides") else "paper"))
            + (f" + {cfg['class_images']} class" if cfg.get("class_images") else ""))


STOPPED_MESSAGE = "stopped: resume to continue"


def job_title(job: Job) -> str:
    """What a job does, by its kind, in a few words for a status line: "Training Rex", "Editing 3
    photo(s) of Rex (sitting, facing left)"."""
    cfg = job.config or {}
    who = str(cfg.get("identity_name") or "") or None
    if job.kind == EDIT_KIND:
        changes = [str(c) for c in (*(cfg.get("changes") or []), *(cfg.get("exact_targets") or []))]
        toward = f" ({', '.join(changes)})" if changes else ""
        if len(toward) > 60:
            toward = toward[:58] + "…)"
        n = len(cfg.get("photos") or [])
        of = f" of {who}" if who else f" (job {job.id})"
        return f"Editing {n} photo(s){of}{toward}"
    if job.kind == KIND:
        return f"Training {who}" if who else f"Training job {job.id}"
    if job.kind == CAPTION_KIND:
        return f"Describing {len(cfg.get('photos') or [])} photo(s)" + (f" of {who}" if who else f" (job {job.id})")
    return f"{job.kind.capitalize()} job {job.id}" + (f" of {who}" if who else "")


def cancel_job(lib: Library, job_id: int) -> Job:
    job = lib.get_job(job_id)
    if job.finished:
        raise LipeError(f"job {job_id} is already {job.state}", "nothing to cancel")
    msg = "cancelled before it started" if job.state == "queued" else "cancelled: the runner stops at its next step"
    return lib.update_job(job_id, state="cancelled", message=msg)


# --- order: queued jobs run in the user's order (the desktop's up/down), then oldest first -----------

def order(lib: Library) -> list[int]:
    try:
        ids = json.loads(lib.get_setting(ORDER_KEY) or "[]")
    except ValueError:
        ids = []
    return [int(i) for i in ids if isinstance(i, int)] if isinstance(ids, list) else []


def set_order(lib: Library, ids: list[int]) -> None:
    queued = {j.id for j in lib.list_jobs(states=["queued"]) if j.kind in KINDS}
    lib.set_setting(ORDER_KEY, json.dumps([int(i) for i in ids if int(i) in queued]))  # finished ones drop out


def listed(lib: Library, kinds: tuple[str, ...] = KINDS) -> list[Job]:
    """Queued jobs (of ``kinds``): the running ones, the queued ones in the order they will run, then the
    rest newest first."""
    jobs = [j for j in lib.list_jobs() if j.kind in kinds]
    rank = {job_id: i for i, job_id in enumerate(order(lib))}
    queued = sorted((j for j in jobs if j.state == "queued"), key=lambda j: (rank.get(j.id, len(rank)), j.id))
    rest = sorted((j for j in jobs if j.state != "queued"), key=lambda j: -j.id)
    return [j for j in rest if j.state == "running"] + queued + [j for j in rest if j.state != "running"]


def next_queued(lib: Library, kinds: tuple[str, ...] = KINDS) -> Job | None:
    """The queued job that runs next: the first in the order that waits for nothing."""
    return next((j for j in listed(lib, kinds) if j.state == "queued" and waiting(lib, j) is None), None)


def move(lib: Library, job_id: int, delta: int) -> None:
    """Move a queued job ``delta`` places up (negative) or down the order."""
    ids = [j.id for j in listed(lib) if j.state == "queued"]
    if job_id not in ids:
        return
    i = ids.index(job_id)
    ids.insert(max(0, min(len(ids) - 1, i + delta)), ids.pop(i))
    set_order(lib, ids)


# --- claiming and recovery ---------------------------------------------------------------------

def worker_identity() -> dict[str, Any]:
    """Who runs a job: recorded when it is claimed, checked when its runner may be gone."""
    return {"pid": os.getpid(), "host": socket.gethostname(), "gpu": os.environ.get("CUDA_VISIBLE_DEVICES")}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def orphaned(job: Job) -> bool:
    """A ``running`` job whose runner on this host is gone (one on another host is never judged)."""
    w = (job.result or {}).get("worker") if isinstance(job.result, dict) else None
    if not w:
        return True
    return w.get("host") == socket.gethostname() and not _alive(int(w.get("pid") or 0))


def claim_stale(lib: Library) -> Job | None:
    """A ``running`` job whose worker process on this host is gone, now owned by us (or None)."""
    for kind in KINDS:
        job = lib.claim_orphan_job(kind, orphaned, worker_identity())
        if job is not None:
            return job
    return None


def claim_next(lib: Library) -> Job | None:
    """Take the next runnable queued job (the user's order, then oldest; an edit waits for its
    identity's training) with our worker identity; each take is atomic (``claim_job``)."""
    for job in listed(lib):
        if job.state == "queued" and waiting(lib, job) is None:
            claimed = lib.claim_job(job.id, worker=worker_identity())
            if claimed is not None:
                return claimed
    return None


def claim(lib: Library, job_id: int) -> Job | None:
    """Take job ``job_id`` if it is still queued (the desktop's training child), else None."""
    return lib.claim_job(job_id, worker=worker_identity())


def fail_interrupted(lib: Library, message: str) -> int:
    """Mark the jobs whose runner died (a crash, a closed app) failed with ``message``; how many.
    The desktop does this when it starts (the user presses Resume); ``run_queue`` resumes them instead."""
    n = 0
    for job in lib.list_jobs(states=["running"]):
        if job.kind not in KINDS:
            continue
        if orphaned(job):
            lib.update_job(job.id, state="failed", message=message, log=f"failed: {message}")
            n += 1
    return n


class JobProgress:
    """Forwards engine progress to a callback, mirrors it into the job row (the whole job's fraction
    and a steady time left, ``plan``), and polls for ``cancel_job``."""

    def __init__(self, lib: Library, job_id: int, callback: ProgressCallback | None, outer: CancelToken) -> None:
        self.lib, self.job_id, self.callback, self.outer = lib, job_id, callback, outer
        self.token = CancelToken()
        self.cancelled_in_db = False
        self._last = 0.0
        self.plan, self.eta = plan_for(lib, lib.get_job(job_id)), EtaSmoother()

    def __call__(self, ev: ProgressEvent) -> None:
        if self.callback is not None:
            self.callback(ev)
        fraction = self.plan.fraction(ev)
        left = self.eta.update(fraction)
        now = time.monotonic()
        if now - self._last >= _DB_EVERY_S or (ev.total and ev.step == ev.total):
            self._last = now
            job = self.lib.get_job(self.job_id)
            if job.state == "cancelled":
                self.cancelled_in_db = True
                self.token.cancel()
            elif not job.finished:
                extra = f" loss {ev.info['loss']:.4f}" if isinstance(ev.info.get("loss"), float) else ""
                self.lib.update_job(self.job_id, progress=fraction,
                                    message=f"{ev.stage} {ev.step}/{ev.total}{extra} · {eta_text(left)}")
        if self.outer.cancelled:
            self.token.cancel()


def execute_job(lib: Library, job_id: int, *, model: str | None = None, device: str | None = None,
                progress: ProgressCallback | None = None, cancel: CancelToken | None = None,
                on_stop: str = "requeue", raise_errors: bool = False) -> Any:
    """Run one queued/running job and record its outcome; returns the final Job.

    Stopped through ``cancel`` (the runner itself is stopping): the job goes back to ``queued``
    (``on_stop="requeue"``) or becomes ``cancelled``, and :class:`Cancelled` is raised. A failure is
    recorded as ``failed`` with its one-line message (re-raised when ``raise_errors``).
    """
    outer = cancel or CancelToken()
    job = lib.get_job(job_id)
    if job.finished:
        raise LipeError(f"job {job_id} is already {job.state}", "retry it with `lipe queue retry`")
    lib.update_job(job_id, state="running", result={"worker": worker_identity()}, message="starting",
                   log=f"started by pid {os.getpid()} on {socket.gethostname()}"
                       f" (CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', 'unset')})")
    mirror = JobProgress(lib, job_id, progress, outer)
    reporter = ProgressReporter(mirror, mirror.token)

    def note(text: str) -> None:
        log.info("job %s: %s", job_id, text)
        lib.append_job_log(job_id, text)

    try:
        result = handler(job.kind)(lib, lib.get_job(job_id), reporter, model=model, device=device, note=note)
    except Cancelled:
        if mirror.cancelled_in_db or lib.get_job(job_id).finished:
            note("cancelled (checkpoint kept)")
            if lib.get_job(job_id).state == "cancelled":  # "stops at its next step" has happened: say so
                lib.update_job(job_id, message=STOPPED_MESSAGE)
            return lib.get_job(job_id)
        if on_stop == "requeue":
            lib.update_job(job_id, state="queued", message="interrupted: resumes from its checkpoint", log="interrupted")
        else:
            lib.update_job(job_id, state="cancelled", message=STOPPED_MESSAGE, log="stopped")
        raise
    except LipeError as exc:
        _fail(lib, job_id, str(exc))
        if raise_errors:
            raise
        return lib.get_job(job_id)
    except Exception as exc:  # noqa: BLE001 - an overnight queue records a crash and goes on
        log.exception("job %s crashed", job_id)
        _fail(lib, job_id, f"stopped unexpectedly ({type(exc).__name__}: {str(exc)[:200]})")
        if raise_errors:
            raise
        return lib.get_job(job_id)
    if lib.get_job(job_id).finished:  # cancelled in the database just as it finished
        return lib.get_job(job_id)
    summary = str(result.pop("summary", "") or "prior trained")
    return lib.update_job(job_id, state="done", progress=1.0, message=summary, result=result,
                          log=f"done: {result.get('lora') or summary}")


def _fail(lib: Library, job_id: int, message: str) -> None:
    if not lib.get_job(job_id).finished:
        lib.update_job(job_id, state="failed", message=message, log=f"failed: {message}")


def run_queue(lib: Library, *, model: str | None = None, device: str | None = None,
              progress: ProgressCallback | None = None, cancel: CancelToken | None = None,
              max_jobs: int | None = None, on_job=None) -> list[Any]:
    """Run queued jobs (stale ones of this host first) until none is left; returns the finished Jobs.

    ``on_job(job)`` is called after each job (the CLI prints a line). ``cancel`` stops the runner:
    the current job is re-queued and :class:`Cancelled` raised.
    """
    token = cancel or CancelToken()
    finished: list[Any] = []
    while max_jobs is None or len(finished) < max_jobs:
        token.raise_if_cancelled()
        job = claim_stale(lib) or claim_next(lib)
        if job is None:
            break
        done = execute_job(lib, job.id, model=model, device=device, progress=progress, cancel=token)
        finished.append(done)
        if on_job is not None:
            on_job(done)
    return finished
