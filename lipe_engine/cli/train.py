"""``lipe train IDENTITY``: learn an identity's LoRA prior now (captions, class data, training).

The run is a library job like the ones of ``lipe queue`` (same stages, same records): stopping it
(Ctrl-C) puts it back in the queue, and ``lipe queue run`` resumes it from its checkpoint.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

from ..errors import Cancelled, InputError
from ..jobs import enqueue, execute_job
from ..jobs.pipeline import DEFAULT_CLASS_IMAGES, DEFAULT_CLASS_STEPS
from ..library.safe_paths import writable_folder
from ..progress import CancelToken
from . import _deferred
from ._progress import TerminalProgress
from .library import add_data_dir_option, open_library


def add_training_options(p: argparse.ArgumentParser) -> None:
    """Options shared by ``lipe train`` and ``lipe queue add``."""
    p.add_argument("identity", help="identity name (or id)")
    p.add_argument("--preset", default=None, metavar="|".join(_deferred.PRESETS),
                   help="GPU memory preset (16, 16gb and '16 GB' all work): " + "; ".join(f"{k}: {v.explanation}" for k, v in _deferred.PRESETS.items()))
    p.add_argument("--model", default=None, help="base SDXL folder/.safetensors/hub id (default: setting "
                   "sdxl_model / $LIPE_SDXL_MODEL, else the shipped toy model)")
    p.add_argument("--steps", type=int, default=None, help="training steps (default: epochs x photos)")
    p.add_argument("--epochs", type=int, default=None, help="default 1000 (paper)")
    p.add_argument("--lr", type=float, default=None, help="learning rate of UNet and text encoders (default 5e-4)")
    p.add_argument("--rank", type=int, default=None, help="LoRA rank")
    p.add_argument("--resolution", type=int, default=None, help="training size in pixels (default: the model's)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--checkpoint-every", type=int, default=None)
    p.add_argument("--sample-every", type=int, default=None, help="sample images at fixed seeds every N steps")
    p.add_argument("--sample-steps", type=int, default=None, help="denoising steps of those samples")
    p.add_argument("--precision", dest="mixed_precision", default=None, choices=["auto", "no", "fp16", "bf16"])
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: auto)")
    p.add_argument("--class-images", type=int, default=None,
                   help="regularization images for prior preservation (default 70, the paper's; 0 = none)")
    p.add_argument("--class-steps", type=int, default=None, help="denoising steps per class image (default 30)")
    p.add_argument("--no-caption", action="store_true", help="do not caption uncaptioned photos first")
    p.add_argument("--output", default=None, help="output folder (default: a new folder in the library)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    add_data_dir_option(p)


def job_settings(args: argparse.Namespace) -> dict[str, Any]:
    if args.output:  # checked now, not when the queue reaches the job overnight
        out = writable_folder(args.output, "training output folder")
        if out.exists() and not out.is_dir():
            raise InputError(f"training output folder '{out}' is a file", "give a folder for --output")
        args.output = str(out)
        _deferred.claim_output(out)  # a folder holding the user's own files is refused before the job is queued

    overrides = {"max_steps": args.steps, "epochs": args.epochs, "rank": args.rank, "resolution": args.resolution,
                 "seed": args.seed, "checkpoint_every": args.checkpoint_every, "sample_every": args.sample_every,
                 "sample_steps": args.sample_steps, "mixed_precision": args.mixed_precision, "device": args.device}
    if args.lr is not None:
        overrides.update(lr_unet=args.lr, lr_text=args.lr)
    return {
        "preset": args.preset,
        "overrides": {k: v for k, v in overrides.items() if v is not None},
        "model": args.model,
        "class_images": DEFAULT_CLASS_IMAGES if args.class_images is None else args.class_images,
        "class_steps": DEFAULT_CLASS_STEPS if args.class_steps is None else args.class_steps,
        "caption": not args.no_caption,
        "output_dir": args.output,
    }


def quiet_model_loading() -> None:
    """--quiet: no progress bars from diffusers/transformers while weights load (stderr keeps errors)."""
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    _deferred.diffusers_logging.disable_progress_bar()
    _deferred.transformers_logging.disable_progress_bar()


def ident_ref(text: str) -> int | str:
    return int(text) if text.isdigit() else text


@contextlib.contextmanager
def stop_on_ctrl_c(token: Any) -> Iterator[None]:
    """Ctrl-C cancels at the next step (the trainer checkpoints) instead of killing mid-write."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, lambda *_a: token.cancel())
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train",
        help="learn an identity's LoRA prior now (DreamBooth-style, prior preservation)",
        description="Caption uncaptioned reference photos (if LLaVA is configured), make regularization "
        "prompts and class images (cached per class), then train the LoRA. Re-running with the same "
        "--output resumes from the newest checkpoint.",
    )
    add_training_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.quiet:
        quiet_model_loading()
    with open_library(args) as lib:
        job = enqueue(lib, ident_ref(args.identity), **job_settings(args))
        print(f"job {job.id}: output {job.config['output_dir']}")
        token = CancelToken()
        try:
            with stop_on_ctrl_c(token):
                done = execute_job(lib, job.id, progress=TerminalProgress(quiet=args.quiet), cancel=token)
        except (Cancelled, KeyboardInterrupt):
            current = lib.get_job(job.id)
            if current.state == "running":  # Ctrl-C outside a step: hand it back to the queue
                lib.update_job(job.id, state="queued", message="interrupted: resumes from its checkpoint")
            print(f"job {job.id} stopped; `lipe queue run` resumes it from its checkpoint")
            return 130
        if done.state != "done":
            print(f"lipe: error: job {job.id} {done.state}: {done.message}", file=sys.stderr)
            return 2
        res = done.result or {}
        print(f"LoRA (diffusers): {res.get('lora')}\nLoRA (kohya): {res.get('kohya')}")
    return 0
