"""``lipe queue add|add-edit|add-caption|list|run|cancel|retry|show``: the one persistent job queue.

``add`` queues an identity's prior training, ``add-edit`` an edit of its photos (results wait for
review: ``lipe versions review``), ``add-caption`` describing its photos with LLaVA; an edit queued
behind its identity's training waits for it.
"""

from __future__ import annotations

import argparse
import json
import sys

from ..edit_settings import EDIT_OPTIONS, SEED_MAX, SETTINGS, option_help
from ..editing import photo_in_library
from ..errors import Cancelled, InputError
from ..jobs import cancel_job, enqueue, enqueue_edit, retry, run_queue
from ..jobs.gpus import choose_gpus, plan_workers, run_workers, visible_gpus
from ..jobs.queue import KINDS, describe_settings
from ..progress import CancelToken
from ._progress import TerminalProgress
from .edit import _settings
from .library import add_data_dir_option, open_library
from .train import add_training_options, ident_ref, job_settings, stop_on_ctrl_c


def _add(args: argparse.Namespace) -> int:
    with open_library(args) as lib:
        ident = lib.get_identity(ident_ref(args.identity))
        job = enqueue(lib, ident, **job_settings(args))
        print(f"job {job.id} queued for '{ident.name}' -> {job.config['output_dir']}")
    return 0


def _edit_parser() -> argparse.ArgumentParser:
    """``lipe queue add-edit``'s options (read by :func:`_add_edit`, photos and options intermixed)."""
    p = argparse.ArgumentParser(prog="lipe queue add-edit", description="Queue an edit of an identity's photos "
                                "(default: its photos to edit, else all its photos); results wait for review "
                                "(`lipe versions review`). An edit queued while the identity's training is queued "
                                "waits for it.")
    p.add_argument("identity", help="identity name (or id)")
    p.add_argument("photos", nargs="*", metavar="PHOTO", help="photos to edit (default: the identity's)")
    p.add_argument("--to", action="append", required=True, metavar="CHANGE",
                   help="'sitting', 'facing left', 'smiling' or a whole prompt (repeatable)")
    p.add_argument("--prompt-target", action="append", default=None, help="a target prompt, word for word")
    p.add_argument("--no-prior", action="store_true", help="edit with the base model only")
    p.add_argument("--model", default=None, help="SDXL model (default: the configured one)")
    for name in EDIT_OPTIONS:
        p.add_argument(SETTINGS[name].option, type=SETTINGS[name].kind, default=None, help=option_help(name))
    p.add_argument("--no-mask", action="store_true", help="ablation: no NIMA blend")
    p.add_argument("--composite", action="store_true", help="paste original pixels back outside the mask")
    p.add_argument("--seed", type=int, action="append", default=None,
                   help=f"extra results with this seed, 0 to {SEED_MAX} (repeatable)")
    add_data_dir_option(p)
    return p


def _add_edit(stub: argparse.Namespace) -> int:
    args = _edit_parser().parse_intermixed_args([stub.identity, *stub.rest])

    with open_library(args) as lib:
        ident = lib.get_identity(ident_ref(args.identity))
        photos = []
        if args.photos:
            photos = [photo_in_library(lib, p) for p in args.photos]
        job = enqueue_edit(lib, ident, args.to, photos, exact_targets=args.prompt_target or (),
                           params=_settings(args), model=args.model, use_prior=not args.no_prior)
        n = len(job.config["photos"])
        wait = job.config.get("after_job")
        after = f", after training job {wait}" if wait else ("" if lib.latest_lora(ident.id) or args.no_prior
                                                             else " (no prior yet: the base model)")
        print(f"job {job.id} queued: edit {n} photo(s) of '{ident.name}' toward {', '.join(args.to)}{after}")
    return 0


def _caption_parser() -> argparse.ArgumentParser:
    """``lipe queue add-caption``'s options (photos and options intermixed, as add-edit's)."""
    p = argparse.ArgumentParser(prog="lipe queue add-caption", description="Queue describing an identity's photos "
                                "with LLaVA (default: its reference photos and photos to edit); photos that already "
                                "have a caption are skipped, captions you wrote are kept. Training uses the "
                                "captions; an edit starts from its photo's.")
    p.add_argument("identity", help="identity name (or id)")
    p.add_argument("photos", nargs="*", metavar="PHOTO", help="photos to describe (default: the identity's)")
    p.add_argument("--llava", default=None, help="LLaVA model .gguf (default: setting llava_gguf / $LIPE_LLAVA_GGUF)")
    p.add_argument("--mmproj", default=None,
                   help="its projector .gguf (default: setting llava_mmproj / $LIPE_LLAVA_MMPROJ)")
    p.add_argument("--handler", default=None, help="chat handler: llava15, llava16, mtmd, ... (default: from the files)")
    add_data_dir_option(p)
    return p


def _add_caption(stub: argparse.Namespace) -> int:
    from ..captioning.job import enqueue_caption
    from ..editing import photo_in_library

    args = _caption_parser().parse_intermixed_args([stub.identity, *stub.rest])
    with open_library(args) as lib:
        ident = lib.get_identity(ident_ref(args.identity))
        photos = [photo_in_library(lib, p) for p in args.photos]
        job = enqueue_caption(lib, ident, photos, llava=args.llava, mmproj=args.mmproj, handler=args.handler)
        print(f"job {job.id} queued: describe {len(job.config['photos'])} photo(s) of '{ident.name}' with "
              f"{job.config['llava']}")
    return 0


def _row(lib, job) -> dict:
    name = None
    if job.identity_id is not None:
        try:
            name = lib.get_identity(job.identity_id).name
        except Exception:  # noqa: BLE001 - an identity deleted after queueing still lists its job
            name = f"#{job.identity_id}"
    from ..jobs.queue import waiting

    waits = waiting(lib, job) if job.state == "queued" else None
    return {"id": job.id, "kind": job.kind, "settings": describe_settings(job), "state": job.state, "waits_for": waits,
            "identity": name, "progress": round(job.progress, 3),
            "message": job.message, "runner": (job.config or {}).get("runner"), "created_at": job.created_at,
            "finished_at": job.finished_at, "result": job.result if job.state == "done" else None}


def _list(args: argparse.Namespace) -> int:
    with open_library(args) as lib:
        jobs = [j for j in lib.list_jobs(states=["queued", "running"] if args.active else None, limit=args.limit)
                if j.kind in KINDS]
        rows = [_row(lib, j) for j in sorted(jobs, key=lambda j: j.id)]
    if args.json:
        json.dump(rows, sys.stdout, indent=1)
        print()
        return 0
    for r in rows:
        print(f"{r['id']:>5}  {r['kind']:<7} {r['state']:<9} {r['progress'] * 100:5.1f}%  {str(r['identity']):<16} "
              f"{r['message'] or r['settings']}" + (f" (waits for training job {r['waits_for']})" if r["waits_for"] else ""))
    print(f"{len(rows)} job(s)", file=sys.stderr)
    return 0


def _run(args: argparse.Namespace) -> int:
    if args.max_jobs is not None and not 1 <= args.max_jobs <= 1_000_000:
        raise InputError(f"--max-jobs {args.max_jobs} is not usable", "give 1 or more (or leave it out for all)")
    with open_library(args) as lib:
        gpus = [] if args.gpus == "none" else choose_gpus(args.gpus, visible_gpus())
        if len(gpus) > 1:
            extra = (["--model", args.model] if args.model else []) + (
                ["--max-jobs", str(args.max_jobs)] if args.max_jobs else [])
            workers = plan_workers(gpus, lib.data_dir, extra)
            print(f"{len(workers)} workers, one per GPU ({', '.join(gpus)})")
            codes = run_workers(workers)
            return 0 if all(c == 0 for c in codes) else 1
        token = CancelToken()

        def report(job) -> None:
            print(f"job {job.id}: {job.state} - {job.message}", flush=True)

        try:
            with stop_on_ctrl_c(token):
                done = run_queue(lib, model=args.model, progress=TerminalProgress(quiet=args.quiet), cancel=token,
                                 max_jobs=args.max_jobs, on_job=report)
        except Cancelled:
            print("queue stopped; the current job is queued again and resumes from its checkpoint")
            return 130
        failed = [j for j in done if j.state == "failed"]
        print(f"{len(done)} job(s) finished, {len(failed)} failed")
        return 1 if failed else 0


def _cancel(args: argparse.Namespace) -> int:
    with open_library(args) as lib:
        for job_id in args.jobs:
            job = cancel_job(lib, job_id)
            print(f"job {job.id}: {job.state} - {job.message}")
    return 0


def _retry(args: argparse.Namespace) -> int:
    with open_library(args) as lib:
        job = retry(lib, args.job)
        print(f"job {job.id} queued (same settings and output folder as job {args.job})")
    return 0


def _show(args: argparse.Namespace) -> int:
    with open_library(args) as lib:
        job = lib.get_job(args.job)
        print(json.dumps(dict(_row(lib, job), config=job.config, result=job.result), indent=1))
        print(job.log, end="")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    q = subparsers.add_parser("queue", help="queue identity-prior trainings, edits and captioning, run them one after another")
    sub = q.add_subparsers(dest="queue_command", metavar="ACTION", required=True)

    p = sub.add_parser("add", help="queue an identity (same options as `lipe train`)")
    add_training_options(p)
    p.set_defaults(func=_add)

    edit = _edit_parser()
    p = sub.add_parser("add-edit", help="queue an edit of an identity's photos (default: all of them) toward changes",
                       usage=edit.format_usage().removeprefix("usage: "),
                       description=edit.format_help().split("\n\n", 1)[-1],
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("identity", help="identity name (or id)")
    # options and photos in any order (`NAME --to sitting PHOTO PHOTO`): argparse cannot mix a
    # list of positionals with options inside subcommands, so _edit_parser reads them intermixed
    p.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    p.set_defaults(func=_add_edit)

    caption = _caption_parser()
    p = sub.add_parser("add-caption", help="queue describing an identity's photos with LLaVA (captions for training "
                       "and editing)", usage=caption.format_usage().removeprefix("usage: "),
                       description=caption.format_help().split("\n\n", 1)[-1],
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("identity", help="identity name (or id)")
    p.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    p.set_defaults(func=_add_caption)

    p = sub.add_parser("list", help="jobs and their state")
    p.add_argument("--active", action="store_true", help="only queued and running jobs")
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--json", action="store_true")
    add_data_dir_option(p)
    p.set_defaults(func=_list)

    p = sub.add_parser("run", help="run queued jobs until none is left (failures are recorded, the queue goes on)")
    p.add_argument("--model", default=None, help="base SDXL model for jobs that name none")
    p.add_argument("--gpus", default="auto",
                   help="'auto' (one worker per visible GPU), a list like 0,1, or 'none' (this process only)")
    p.add_argument("--max-jobs", type=int, default=None)
    p.add_argument("--quiet", action="store_true")
    add_data_dir_option(p)
    p.set_defaults(func=_run)

    p = sub.add_parser("cancel", help="cancel jobs (a running one stops at its next step, checkpointed)")
    p.add_argument("jobs", type=int, nargs="+", metavar="JOB")
    add_data_dir_option(p)
    p.set_defaults(func=_cancel)

    p = sub.add_parser("retry", help="queue a failed/cancelled job again (resumes from its checkpoint)")
    p.add_argument("job", type=int)
    add_data_dir_option(p)
    p.set_defaults(func=_retry)

    p = sub.add_parser("show", help="a job's settings, result and log")
    p.add_argument("job", type=int)
    add_data_dir_option(p)
    p.set_defaults(func=_show)
