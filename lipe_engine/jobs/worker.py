"""One queue worker process: ``python -m lipe_engine.jobs.worker --data-dir D [--gpu-label G]``.

Started by :func:`lipe_engine.jobs.gpus.run_workers` (one per GPU, pinned by ``CUDA_VISIBLE_DEVICES``).
SIGTERM stops it cleanly: the running job is checkpointed and put back into the queue.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Sequence

from ..errors import Cancelled, LipeError
from ..library import Library
from ..progress import CancelToken
from .queue import run_queue


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="lipe-queue-worker")
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--gpu-label", default="")
    ap.add_argument("--model", default=None)
    ap.add_argument("--max-jobs", type=int, default=None)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format=f"[gpu {args.gpu_label}] %(message)s")
    token = CancelToken()
    signal.signal(signal.SIGTERM, lambda *_a: token.cancel())
    try:
        with Library.open(args.data_dir) as lib:
            for job in run_queue(lib, model=args.model, cancel=token, max_jobs=args.max_jobs):
                print(f"[gpu {args.gpu_label}] job {job.id}: {job.state} {job.message}", flush=True)
    except Cancelled:
        return 130
    except LipeError as exc:
        print(f"[gpu {args.gpu_label}] error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
