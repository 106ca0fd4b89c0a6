"""The queue's ``edit`` jobs: "...and have Rex sitting in these twenty photos by the morning".

Job config (library ``jobs.config``, kind ``edit``)::

    {"runner": "engine" | "desktop", "identity_name": "Rex", "changes": ["sitting", ...],
     "exact_targets": [...], "photos": [photo ids], "params": {EditParams overrides, "seeds": [...]},
     "model": None | "<SDXL source>", "use_prior": true, "after_job": None | <training job id>,
     "output_dir": "<data>/edits/jobs/<hex>"}

Photos without a caption are first described by LLaVA when it is configured (one load for all).
``after_job``: the identity's training that was queued or running when the edit was queued; the
queue does not start the edit before it ends (``waiting_for``), and then the edit uses the prior it
made. Each photo is planned at run time (``plan_edit``), edited (targets x seeds from one inversion)
and its results written to the job's folder with their recipes, recorded as ``edit_results``
pending review. A stopped or killed job resumes: photos whose results are recorded are skipped, a
photo cut off half-way is done again (its files in the job's folder are the job's own). One photo
that cannot be edited (gone from disk, say) is reported and skipped; the job fails only when none
could be edited.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import locations
from ..captioning.photo import caption_photo
from ..errors import InputError, LipeError
from ..library import LibraryError
from ..locations import DataLayout
from ..progress import PrefixedStages, ProgressReporter
from .plan import check_changes, llava_configured, plan_edit, source_from_library, training_in_queue

if TYPE_CHECKING:
    from ..library import Library
    from ..library.identities import IdentityRef
    from ..library.photos import PhotoRef
    from ..library.records import Identity, Job, Photo

KIND = "edit"
MAX_PHOTOS = 10_000


def default_photos(lib: Library, ident: Identity) -> list[Photo]:
    """The photos an edit of an identity edits when none are named: its target photos (photos to
    edit), else every photo confirmed to show it."""
    targets = [link.photo for link in lib.identity_photos(ident.id, role="target")]
    photos = targets or [link.photo for link in lib.identity_photos(ident.id)]
    return [p for p in photos if not p.missing]


def edit_job_config(lib: Library, identity: IdentityRef, changes: Sequence[str], photos: Sequence[PhotoRef] = (),
                    *, exact_targets: Sequence[str] = (), params: dict[str, Any] | None = None,
                    model: str | None = None, use_prior: bool = True, runner: str = "engine") -> dict[str, Any]:
    """A validated edit-job config (bad changes, photos or settings fail now, not overnight)."""
    from ..nima import edit_params_for

    ident = lib.get_identity(identity)
    check_changes(changes, exact_targets)
    resolved = [lib.get_photo(p) for p in photos] if photos else default_photos(lib, ident)
    if not resolved:
        raise InputError(f"identity '{ident.name}' has no photo to edit",
                         f"name the photos (`lipe queue add-edit {ident.name} --to sitting PHOTO...`) or add "
                         "photos to the identity")
    if len(resolved) > MAX_PHOTOS:
        raise InputError(f"{len(resolved)} photos in one edit job are too many", f"queue at most {MAX_PHOTOS}")
    gone = [p for p in resolved if p.missing or not Path(p.path).is_file()]
    if gone:
        fix = "restore it, or leave it out of the edit" if photos else (
            f"restore it, or name the photos to edit: `lipe queue add-edit {ident.name} --to CHANGE PHOTO...`")
        raise InputError(f"photo '{gone[0].path}' is gone from disk", fix)
    overrides = {k: v for k, v in (params or {}).items() if v is not None}
    edit_params_for(locations.sdxl_model(model, lib), **overrides)  # a bad setting fails at queue time
    if "seeds" in overrides:
        overrides["seeds"] = list(overrides["seeds"])
    if runner not in ("engine", "desktop"):
        raise InputError(f"job runner '{runner}' is unknown", "use engine or desktop")
    out = DataLayout(lib.data_dir).edits / "jobs" / uuid.uuid4().hex[:12]
    return {"runner": runner, "identity_name": ident.name, "changes": list(changes),
            "exact_targets": list(exact_targets), "photos": list(dict.fromkeys(p.id for p in resolved)),
            "params": overrides, "model": model, "use_prior": bool(use_prior),
            "after_job": training_in_queue(lib, ident.id) if use_prior else None, "output_dir": str(out)}


def waiting_for(lib: Library, job: Job) -> int | None:
    """The training job this edit waits for (queued or running), or None when it may run."""
    after = (job.config or {}).get("after_job") if job.kind == KIND else None
    if not isinstance(after, int) or isinstance(after, bool):
        return None
    try:
        other = lib.get_job(after)
    except LipeError:
        return None
    return other.id if other.state in ("queued", "running") else None


def refreshed_config(lib: Library, job: Job) -> dict[str, Any]:
    """A retried edit's config: it waits for the identity's training queued now, if any."""
    config = dict(job.config or {})
    if job.identity_id is not None and config.get("use_prior", True):
        config["after_job"] = training_in_queue(lib, job.identity_id)
    return config


def _check_prior(lib: Library, job: Job, ident: Identity, note: Any) -> None:
    after = (job.config or {}).get("after_job")
    if not isinstance(after, int) or isinstance(after, bool):
        return
    waiting = waiting_for(lib, job)
    if waiting is not None:
        raise InputError(f"edit job {job.id} waits for the training of '{ident.name}' (job {waiting})",
                         "run the queue: it runs the training first")
    try:
        trained = lib.get_job(after)
    except LipeError:
        return
    if trained.state != "done" and lib.latest_lora(ident.id) is None:
        raise InputError(f"the training of '{ident.name}' this edit waited for (job {after}) {trained.state}",
                         f"retry it (`lipe queue retry {after}`), then this edit (`lipe queue retry {job.id}`: "
                         "it waits for the training)")
    if trained.state == "done":
        note(f"the prior of job {after} is ready")


def _describe_missing(lib: Library, ident: Identity, photo_ids: list[int], reporter: ProgressReporter,
                      note: Any) -> int:
    """Describe the photos that have no caption with LLaVA (when configured), loading it once for all
    of them before SDXL loads: each photo's plan then starts from its own description."""
    from ..captioning.llava import LlavaCaptioner  # looked up at each call (tests replace it)

    if not llava_configured(lib):
        return 0
    todo = []
    for pid in photo_ids:
        try:
            photo = lib.get_photo(pid)
        except LipeError:
            continue
        if not photo.missing and Path(photo.path).is_file() and source_from_library(lib, photo, ident) is None:
            todo.append(photo)
    if not todo:
        return 0
    reporter.start(f"describe {len(todo)} photo(s)", len(todo) + 1)
    with LlavaCaptioner(locations.resolve("llava_gguf", None, lib), locations.resolve("llava_mmproj", None, lib),
                        handler=locations.resolve("llava_handler", None, lib)) as captioner:
        reporter.step()
        for photo in todo:
            caption_photo(lib, photo, ident.id, captioner=captioner)
            reporter.step()
    note(f"{len(todo)} photo(s) described by LLaVA")
    return len(todo)


def run_edit_job(lib: Library, job: Job, reporter: ProgressReporter, *, model: str | None = None,
                 device: str | None = None, note: Any = lambda text: None) -> dict[str, Any]:
    """Run (or resume) an edit job; returns its result (``summary`` is the job's last message)."""
    from .run import Models, run_plan, write_output

    cfg = dict(job.config or {})
    if job.identity_id is None:
        raise InputError(f"the identity of edit job {job.id} ('{cfg.get('identity_name', '?')}') was deleted",
                         "create it again and queue a new edit")
    try:
        ident = lib.get_identity(int(job.identity_id))
    except LibraryError as exc:
        raise InputError(f"identity '{cfg.get('identity_name', '?')}' was deleted after edit job {job.id} was "
                         "queued", "create it again and queue a new edit") from exc
    _check_prior(lib, job, ident, note)
    for key in ("changes", "exact_targets"):  # the job's own record, read as untrusted all the same
        value = cfg.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InputError(f"edit job {job.id}'s {key.replace('_', ' ')} are damaged", "queue the edit again")
    out_dir = Path(str(cfg.get("output_dir") or DataLayout(lib.data_dir).edits / "jobs" / f"job{job.id}"))
    edits_root = DataLayout(lib.data_dir).edits.resolve()
    if edits_root not in out_dir.resolve().parents:
        raise InputError(f"edit job {job.id}'s output folder '{out_dir}' is outside the data folder",
                         "queue the edit again")
    photo_ids = [int(p) for p in cfg.get("photos") or [] if isinstance(p, int) and not isinstance(p, bool)]
    done_photos = {r.photo_id for r in lib.list_edit_results(job_id=job.id)}
    todo = [p for p in photo_ids if p not in done_photos]
    _describe_missing(lib, ident, todo, reporter, note)
    models, progress = Models(), PrefixedStages(reporter)
    failed: list[dict[str, Any]] = []  # photos skipped this run (a resume tries them again)
    made = 0
    for k, photo_id in enumerate(todo):
        reporter.check()
        position = len(done_photos) + k + 1
        progress.prefix = f"photo {position}/{len(photo_ids)}: "
        try:
            plan = plan_edit(lib, photo_id, ident.id, cfg.get("changes") or [],
                             exact_targets=cfg.get("exact_targets") or [], model=model or cfg.get("model"),
                             use_prior=bool(cfg.get("use_prior", True)), params=cfg.get("params") or {},
                             progress=progress, cancel=reporter.cancel)
        except LipeError as exc:
            note(f"photo #{photo_id} skipped: {exc}")
            failed.append({"photo_id": photo_id, "message": str(exc)})
            continue
        if k == 0:
            for line in plan.notes:
                note(line)
        result, loaded = run_plan(plan, models, device=device, progress=progress, cancel=reporter.cancel)
        rows = []
        for i in range(len(result.images)):
            dest = out_dir / f"p{photo_id}_{i + 1}.png"
            recipe, masks = write_output(lib, plan, loaded, result, i, dest, overwrite=True)  # the job's own files
            rows.append((dest, result.prompts[i], result.seeds[i], recipe, masks))
        with lib.transaction():  # a photo's results all or none: a resume redoes a photo cut off half-way
            for dest, target, seed, recipe, masks in rows:
                lib.add_edit_result(photo_id, dest, job_id=job.id, identity=ident.id, source_prompt=plan.source_prompt,
                                    target_prompt=target, seed=seed, recipe=recipe, mask_paths=masks)
        made += len(rows)
        note(f"photo #{photo_id}: {len(rows)} result(s)")
    total = len(lib.list_edit_results(job_id=job.id))
    if total == 0 and failed:
        raise InputError(f"no photo of edit job {job.id} could be edited ({failed[0]['message']})",
                         "fix the photos and retry the job")
    summary = f"{total} result(s) of {len(photo_ids)} photo(s) to review"
    if failed:
        summary += f"; {len(failed)} photo(s) skipped"
    return {"results": total, "made_now": made, "photos": len(photo_ids), "failed": failed,
            "output_dir": str(out_dir), "summary": summary}
