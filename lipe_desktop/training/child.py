"""Training child process: ``python -m lipe_desktop.training.child --data-dir D --job N --model M``.

Claims one queued training job in the library (with this process as its worker, so no other runner
takes it), runs it through the engine's job runner and reports progress as JSON lines on stdout (see
``protocol``), so a crash in training cannot take the GUI down. SIGTERM (the GUI's Stop) cancels
cleanly: the engine checkpoints the current step and the job can be resumed. Queue logic (order,
recovery, outcome) is the engine's (``lipe_engine.jobs.queue``); this is the adapter.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Sequence
from typing import Any

from lipe_engine.errors import Cancelled, LipeError
from lipe_engine.library import Library
from lipe_engine.progress import CancelToken, ProgressEvent

from .protocol import encode

log = logging.getLogger("lipe_desktop.training.child")


def say(kind: str, **fields: Any) -> None:
    print(encode(kind, **fields), flush=True)


def run(lib: Library, job_id: int, model: str, device: str, token: CancelToken) -> int:
    from lipe_engine.jobs import execute_job
    from lipe_engine.jobs.queue import claim

    if claim(lib, job_id) is None:  # another runner (`lipe queue run`) has it, or it was cancelled: not ours
        say("error", message=f"training job {job_id} is {lib.get_job(job_id).state}: not started here")
        return 2

    def progress(ev: ProgressEvent) -> None:
        say(
            "progress",
            stage=ev.stage,
            step=ev.step,
            total=ev.total,
            eta_s=ev.eta_s,
            loss=ev.info.get("loss") if ev.info else None,
            global_step=ev.info.get("global_step") if ev.info else None,
        )

    # The engine's job runner records progress, the outcome and the LoRA in the library itself.
    done = execute_job(
        lib,
        job_id,
        model=model,
        device=device,
        progress=progress,
        cancel=token,
        on_stop="cancelled",
        raise_errors=True,
    )
    if done.state != "done":  # cancelled from elsewhere (e.g. `lipe queue cancel`)
        say("cancelled")
        return 0
    result = done.result or {}
    say("done", lora=result.get("lora"), lora_id=result.get("lora_id"))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="lipe-desktop-train-child")
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--job", type=int, required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--device", default="auto")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    token = CancelToken()
    signal.signal(signal.SIGTERM, lambda *_a: token.cancel())
    with Library.open(args.data_dir) as lib:
        try:
            return run(lib, args.job, args.model, args.device, token)
        except Cancelled:
            job = lib.get_job(args.job)
            if not job.finished:
                lib.update_job(args.job, state="cancelled", message="stopped: press Resume to continue")
            say("cancelled")
            return 0
        except LipeError as exc:
            _fail(lib, args.job, str(exc))
            return 2
        except Exception as exc:  # noqa: BLE001 - report, never a traceback in the GUI
            log.exception("training job %s crashed", args.job)
            _fail(lib, args.job, f"training stopped unexpectedly ({type(exc).__name__}: {str(exc)[:200]})")
            return 3


def _fail(lib: Library, job_id: int, message: str) -> None:
    say("error", message=message)
    try:
        if not lib.get_job(job_id).finished:
            lib.update_job(job_id, state="failed", message=message)
    except LipeError:
        pass


if __name__ == "__main__":
    sys.exit(main())
