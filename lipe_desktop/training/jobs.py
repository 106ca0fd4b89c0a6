"""Training jobs in the library, as the queue view needs them (no Qt here).

A desktop training job is a library job of kind ``train`` whose config holds the preset, any
overrides and the output folder; "Resume" queues a new job with the same output folder, and the
trainer continues from its newest checkpoint. The queue order is a list of job ids kept in the
library settings (``desktop.train_order``).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

ORDER_KEY = "desktop.train_order"
KIND = "train"


def presets() -> dict[str, str]:
    """Preset name -> one-line explanation (the engine's memory-budget presets)."""
    try:
        from lipe_engine.training import PRESETS
    except ImportError:  # pragma: no cover - training not installed
        return {}
    return {name: p.explanation for name, p in PRESETS.items()}


def enqueue(
    lib: Any,
    identity_id: int,
    preset: str | None,
    overrides: dict[str, Any] | None = None,
    output_dir: str | None = None,
    *,
    caption: bool = False,
    class_images: int = 0,
) -> Any:
    """Queue a training job. ``caption``: first caption the photos that have none (LLaVA from
    Settings); ``class_images``: render that many class images from regularization prompts (LLM from
    Settings, else templates) for prior preservation, as in the paper. Both run in the engine's job."""
    ident = lib.get_identity(identity_id)
    out = output_dir or str(lib.new_lora_dir(ident))
    config = {
        "preset": preset,
        "overrides": dict(overrides or {}),
        "output_dir": out,
        "runner": "desktop",
        "caption": bool(caption),
        "class_images": max(0, int(class_images)),
    }
    job = lib.create_job(KIND, config=config, identity=ident.id)
    set_order(lib, order(lib) + [job.id])
    return job


def resume(lib: Any, job: Any) -> Any:
    """A new queued job continuing a stopped/failed one (same output folder, same settings)."""
    cfg = job.config or {}
    return enqueue(
        lib,
        int(job.identity_id),
        cfg.get("preset"),
        cfg.get("overrides"),
        cfg.get("output_dir"),
        caption=bool(cfg.get("caption")),
        class_images=int(cfg.get("class_images") or 0),
    )


def order(lib: Any) -> list[int]:
    try:
        ids = json.loads(lib.get_setting(ORDER_KEY) or "[]")
    except ValueError:
        ids = []
    return [int(i) for i in ids if isinstance(i, int)]


def set_order(lib: Any, ids: list[int]) -> None:
    lib.set_setting(ORDER_KEY, json.dumps([int(i) for i in ids]))


def listed(lib: Any) -> list[Any]:
    """Training jobs: queued ones in the user's order first, then the rest newest first."""
    jobs = {j.id: j for j in lib.list_jobs(kind=KIND)}
    queued = [jobs[i] for i in order(lib) if i in jobs and jobs[i].state == "queued"]
    queued += sorted(
        (j for j in jobs.values() if j.state == "queued" and j not in queued), key=lambda j: j.id
    )
    rest = sorted((j for j in jobs.values() if j.state != "queued"), key=lambda j: -j.id)
    running = [j for j in rest if j.state == "running"]
    return running + queued + [j for j in rest if j.state != "running"]


def move(lib: Any, job_id: int, delta: int) -> None:
    ids = [j.id for j in listed(lib) if j.state == "queued"]
    if job_id not in ids:
        return
    i = ids.index(job_id)
    k = max(0, min(len(ids) - 1, i + delta))
    ids.insert(k, ids.pop(i))
    set_order(lib, ids)


def next_queued(lib: Any) -> Any | None:
    queued = [j for j in listed(lib) if j.state == "queued"]
    return queued[0] if queued else None


def mark_interrupted(lib: Any) -> int:
    """Desktop jobs left "running" by a crash: mark them failed so they can be resumed."""
    n = 0
    for j in lib.list_jobs(kind=KIND, states=["running"]):
        if (j.config or {}).get("runner") == "desktop":
            lib.update_job(
                j.id, state="failed", message="interrupted (the app closed or crashed): press Resume"
            )
            n += 1
    return n


def child_command(data_dir: Path, job_id: int, model: str, device: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "lipe_desktop.training.child",
        "--data-dir",
        str(data_dir),
        "--job",
        str(job_id),
        "--model",
        model,
        "--device",
        device,
    ]


def samples_of(job: Any) -> list[Path]:
    out = (job.config or {}).get("output_dir")
    if not out:
        return []
    return sorted(Path(out).glob("samples/*.png"))


_SAMPLE = re.compile(r"step_(\d+)(?:_prompt_(\d+))?_seed_(\d+)")


def sample_label(path: Path) -> str:
    """``step_000020_prompt_0_seed_1.png`` -> ``step 20, seed 1`` (other names: the file stem)."""
    m = _SAMPLE.fullmatch(Path(path).stem)
    if m is None:
        return Path(path).stem
    prompt = f", prompt {int(m.group(2)) + 1}" if m.group(2) and m.group(2) != "0" else ""
    return f"step {int(m.group(1))}{prompt}, seed {m.group(3)}"
