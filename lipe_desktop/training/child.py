"""Training child process: ``python -m lipe_desktop.training.child --data-dir D --job N --model M``.

Runs one queued training job of the library with the engine's ``train_identity_lora`` and reports
JSON lines on stdout (see ``protocol``), so a crash in training cannot take the GUI down. SIGTERM
(the GUI's Stop) cancels cleanly: the engine checkpoints the current step and the job can be resumed.
This is a thin adapter; when the engine's job runner (``lipe_engine.jobs``) offers the same, it
should replace the body of :func:`run`.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
from collections.abc import Sequence
from typing import Any

from lipe_engine.errors import Cancelled, LipeError
from lipe_engine.library import Library
from lipe_engine.progress import CancelToken, ProgressEvent

from .protocol import encode

log = logging.getLogger("lipe_desktop.training.child")


def say(kind: str, **fields: Any) -> None:
    print(encode(kind, **fields), flush=True)


def _items(lib: Library, ident: Any) -> list[tuple[Any, str]]:
    refs = lib.identity_photos(ident.id, role="reference")
    if not refs:
        raise LipeError(
            f"identity '{ident.name}' has no reference photos", "add 3-5 photos of it in Identities"
        )
    out = []
    for link in refs:
        cap = lib.get_caption(link.photo, identity=ident.id)
        out.append((link.photo.path, cap.text if cap else f"a photo of a {ident.instance_prompt}"))
    return out


def run(lib: Library, job_id: int, model: str, device: str, token: CancelToken) -> int:
    from lipe_engine.training import config_from_preset, train_identity_lora

    job = lib.get_job(job_id)
    if job.state != "queued":
        raise LipeError(f"training job {job_id} is {job.state}", "queue it again (Resume) to run it")
    cfg_in = job.config or {}
    lib.update_job(job_id, state="running", progress=0.0, message="starting")
    ident = lib.get_identity(int(job.identity_id or 0))
    overrides = dict(cfg_in.get("overrides") or {})
    if device and device != "auto":
        overrides.setdefault("device", device)
    config = config_from_preset(cfg_in.get("preset"), **overrides)
    last = [0.0]

    def progress(ev: ProgressEvent) -> None:
        loss = ev.info.get("loss") if ev.info else None
        say(
            "progress",
            stage=ev.stage,
            step=ev.step,
            total=ev.total,
            eta_s=ev.eta_s,
            loss=loss,
            global_step=ev.info.get("global_step") if ev.info else None,
        )
        now = time.monotonic()
        if now - last[0] > 1.0 or ev.step == ev.total:
            last[0] = now
            lib.update_job(job_id, progress=ev.fraction, message=f"{ev.stage} {ev.step}/{ev.total}")

    lora_dir = train_identity_lora(
        model, _items(lib, ident), None, cfg_in["output_dir"], config, progress=progress, cancel=token
    )
    lora = lib.record_lora(
        ident,
        lora_dir,
        base_model=model,
        settings={"preset": cfg_in.get("preset"), **overrides},
        job_id=job_id,
    )
    lib.update_job(
        job_id, state="done", progress=1.0, message="prior trained", result={"lora": str(lora_dir)}
    )
    say("done", lora=str(lora_dir), lora_id=lora.id)
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
