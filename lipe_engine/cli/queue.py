"""``lipe queue add|list|run|cancel|retry|show``: the persistent identity-prior queue (library jobs)."""

from __future__ import annotations

import argparse
import json
import sys

from ._progress import TerminalProgress
from .library import add_data_dir_option, open_library
from .train import add_training_options, ident_ref, job_settings, stop_on_ctrl_c


def _add(args: argparse.Namespace) -> int:
    from ..jobs import enqueue

    with open_library(args) as lib:
        ident = lib.get_identity(ident_ref(args.identity))
        job = enqueue(lib, ident, **job_settings(args))
        print(f"job {job.id} queued for '{ident.name}' -> {job.config['output_dir']}")
    return 0


def _row(lib, job) -> dict:
    name = None
    if job.identity_id is not None:
        try:
            name = lib.get_identity(job.identity_id).name
        except Exception:  # noqa: BLE001 - an identity deleted after queueing still lists its job
            name = f"#{job.identity_id}"
    return {"id": job.id, "state": job.state, "identity": name, "progress": round(job.progress, 3),
            "message": job.message, "runner": (job.config or {}).get("runner"), "created_at": job.created_at,
            "finished_at": job.finished_at, "result": job.result if job.state == "done" else None}


def _list(args: argparse.Namespace) -> int:
    from ..jobs import KIND

    with open_library(args) as lib:
        jobs = lib.list_jobs(kind=KIND, states=["queued", "running"] if args.active else None, limit=args.limit)
        rows = [_row(lib, j) for j in sorted(jobs, key=lambda j: j.id)]
    if args.json:
        json.dump(rows, sys.stdout, indent=1)
        print()
        return 0
    for r in rows:
        print(f"{r['id']:>5}  {r['state']:<9} {r['progress'] * 100:5.1f}%  {str(r['identity']):<16} {r['message']}")
    print(f"{len(rows)} job(s)", file=sys.stderr)
    return 0


def _run(args: argparse.Namespace) -> int:
    from ..errors import Cancelled, InputError
    from ..jobs import run_queue
    from ..jobs.gpus import choose_gpus, plan_workers, run_workers, visible_gpus
    from ..progress import CancelToken

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
    from ..jobs import cancel_job

    with open_library(args) as lib:
        for job_id in args.jobs:
            job = cancel_job(lib, job_id)
            print(f"job {job.id}: {job.state} - {job.message}")
    return 0


def _retry(args: argparse.Namespace) -> int:
    from ..jobs import retry

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
    q = subparsers.add_parser("queue", help="queue identity-prior trainings and run them one after another")
    sub = q.add_subparsers(dest="queue_command", metavar="ACTION", required=True)

    p = sub.add_parser("add", help="queue an identity (same options as `lipe train`)")
    add_training_options(p)
    p.set_defaults(func=_add)

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
