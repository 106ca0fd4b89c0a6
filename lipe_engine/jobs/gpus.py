"""Several GPUs: one queue worker process per GPU, each seeing only its own device.

A worker is ``python -m lipe_engine.jobs.worker`` started with ``CUDA_VISIBLE_DEVICES=<gpu>`` (so
torch and accelerate inside it see exactly one device, ``cuda:0``, and need no device bookkeeping)
and ``ACCELERATE_*`` variables that keep accelerate to a single local process. The workers share the
library database and claim jobs atomically, so each job runs on exactly one GPU and the queue drains
in parallel. With zero or one GPU the queue runs in the calling process instead.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError


@dataclass(frozen=True)
class Worker:
    gpu: str  # the physical device index (or UUID) given to this worker
    env: dict[str, str]
    argv: list[str]


def visible_gpus(env: Mapping[str, str] | None = None, count: int | None = None) -> list[str]:
    """GPU ids this process may use: ``CUDA_VISIBLE_DEVICES`` when set, else ``0..count-1``.

    ``count`` defaults to ``torch.cuda.device_count()``; pass it to plan without touching CUDA.
    """
    env = os.environ if env is None else env
    listed = env.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        ids = [x.strip() for x in listed.split(",") if x.strip()]
        # "-1" (or any negative index) hides every GPU, and so does everything after it
        out = []
        for x in ids:
            if x.lstrip("-").isdigit() and int(x) < 0:
                break
            out.append(x)
        return out
    if count is None:
        import torch

        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return [str(i) for i in range(count)]


def choose_gpus(requested: str | Sequence[str] | None, available: Sequence[str]) -> list[str]:
    """``None``/``"auto"``: all available; ``"0,2"`` or a list: those (each must be available)."""
    if requested is None or requested == "auto":
        return list(available)
    wanted = [x.strip() for x in (requested.split(",") if isinstance(requested, str) else requested) if str(x).strip()]
    missing = [g for g in wanted if g not in available]
    if missing:
        raise InputError(f"GPU '{missing[0]}' is not available (visible: {', '.join(available) or 'none'})",
                         "pass --gpus with visible GPU ids, e.g. --gpus 0,1, or leave it out")
    if len(set(wanted)) != len(wanted):
        raise InputError("a GPU is listed twice in --gpus", "give each GPU once: one worker per GPU")
    return wanted


def plan_workers(gpus: Sequence[str], data_dir: str | os.PathLike[str], extra_args: Sequence[str] = (),
                 base_env: Mapping[str, str] | None = None) -> list[Worker]:
    """One worker per GPU: its environment pins the GPU, its argv runs the queue on ``data_dir``."""
    base = dict(os.environ if base_env is None else base_env)
    workers = []
    for gpu in gpus:
        env = dict(base)
        env["CUDA_VISIBLE_DEVICES"] = str(gpu)
        env["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID"  # ids mean the same as in nvidia-smi
        env["ACCELERATE_NUM_PROCESSES"] = "1"
        env.pop("LOCAL_RANK", None)  # a launcher's rank would make accelerate expect a process group
        env.pop("WORLD_SIZE", None)
        argv = [sys.executable, "-m", "lipe_engine.jobs.worker", "--data-dir", str(Path(data_dir)),
                "--gpu-label", str(gpu), *extra_args]
        workers.append(Worker(str(gpu), env, argv))
    return workers


def run_workers(workers: Sequence[Worker], spawn: Callable[..., subprocess.Popen] = subprocess.Popen,
                timeout: float | None = None) -> list[int]:
    """Start every worker, wait for all; returns their exit codes. Stopping us stops them (SIGTERM)."""
    procs = [spawn(w.argv, env=w.env) for w in workers]
    try:
        return [p.wait(timeout=timeout) for p in procs]
    except BaseException:
        for p in procs:
            if p.poll() is None:
                p.terminate()  # workers re-queue their job on SIGTERM
        for p in procs:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
        raise
