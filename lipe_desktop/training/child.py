"""The desktop's background training runner: ``python -m lipe_desktop.training.child --data-dir D
--model M [--device X]``.

Started detached from the app (its own session), it outlives the window: it takes the queued
training jobs one after another (the user's order, the engine's ``lipe_engine.jobs.queue``) until
none is left or the app asks it to stop, and writes progress into the job rows, which every window
(and ``lipe queue list``) reads. So the app can be closed while training goes on, and a window
opened later shows the same progress.

Who runs the queue is recorded in the library (``RUNNER_KEY``: pid, host, log file), so a new window
finds the runner; a stop request is a library setting too (``STOP_KEY``): the runner cancels nothing
itself, the app cancels the running job (``cancel_job``: it checkpoints within a second or two) and
the runner then exits instead of taking the next job. SIGTERM does the same from outside. Queue
logic (order, outcome, recovery) is the engine's; this is the adapter.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lipe_engine.errors import Cancelled, LipeError
from lipe_engine.jobs import execute_job
from lipe_engine.jobs.queue import _alive, claim_next
from lipe_engine.library import Library
from lipe_engine.progress import CancelToken

from .. import _deferred
from ..logs import RepeatFilter

log = logging.getLogger("lipe_desktop.training.child")

RUNNER_KEY = "desktop.training_runner"  # JSON {"pid", "host", "log"} of the live runner
STOP_KEY = "desktop.training_stop"  # "1": take no further job
MODULE = "lipe_desktop.training.child"


def runner_record(pid: int, log_path: Path | str) -> str:
    return json.dumps({"pid": int(pid), "host": socket.gethostname(), "log": str(log_path)})


def read_runner(lib: Library) -> dict[str, Any] | None:
    """The recorded runner (read as a hostile value: a bad record is no runner)."""
    try:
        rec = json.loads(lib.get_setting(RUNNER_KEY) or "null")
    except ValueError:
        return None
    if not isinstance(rec, dict) or not isinstance(rec.get("pid"), int) or rec["pid"] <= 0:
        return None
    return rec


def is_runner_process(pid: int) -> bool:
    """A live process with this pid that is a training runner (a pid reused after a restart is not)."""
    if pid <= 0 or not _alive(pid):
        return False
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.parent.is_dir():
        try:
            return MODULE.encode() in cmdline.read_bytes()
        except OSError:
            return False
    return True  # no /proc (macOS, Windows): a live pid is trusted


def live_runner(lib: Library) -> dict[str, Any] | None:
    rec = read_runner(lib)
    if rec is None or rec.get("host") != socket.gethostname() or not is_runner_process(int(rec["pid"])):
        return None
    return rec


def run_until_stopped(lib: Library, model: str, device: str, token: CancelToken) -> int:
    """Run queued jobs (trainings, edits, captioning) until none is left, a stop is asked or ``token`` is cancelled; how many ran."""
    from lipe_engine.jobs.queue import job_title

    n = 0
    while not token.cancelled and lib.get_setting(STOP_KEY) != "1":
        job = claim_next(lib)
        if job is None:
            break
        log.info("job %s: %s", job.id, job_title(job))  # a training, an edit or captioning
        done = execute_job(lib, job.id, model=model, device=device, cancel=token, on_stop="cancelled")
        log.info("job %s: %s %s", job.id, done.state, done.message)
        n += 1
    return n


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="lipe-desktop-training")
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--log", default="")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s")

    for handler in logging.getLogger().handlers:
        handler.addFilter(RepeatFilter())  # CLIP's 77-token warning, once per class image otherwise
    with contextlib.suppress(ImportError):  # diffusers logs through its own handler: route it through ours

        _deferred.diffusers_logging.disable_default_handler()
        _deferred.diffusers_logging.enable_propagation()
    token = CancelToken()
    signal.signal(signal.SIGTERM, lambda *_a: token.cancel())
    with Library.open(args.data_dir) as lib:
        other = live_runner(lib)
        if other is not None and other["pid"] != os.getpid():
            log.info("another runner (pid %s) has this queue", other["pid"])
            return 0
        lib.set_setting(RUNNER_KEY, runner_record(os.getpid(), args.log))
        lib.set_setting(STOP_KEY, None)
        try:
            run_until_stopped(lib, args.model, args.device, token)
        except Cancelled:
            pass  # SIGTERM: the job is cancelled with its checkpoint kept (execute_job)
        except LipeError as exc:
            log.error("training runner: %s", exc)
            return 2
        finally:
            with contextlib.suppress(Exception):
                rec = read_runner(lib)
                if rec is not None and rec["pid"] == os.getpid():
                    lib.set_setting(RUNNER_KEY, None)
                lib.set_setting(STOP_KEY, None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
