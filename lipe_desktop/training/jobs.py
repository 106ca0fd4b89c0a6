"""What the training view shows of a job beyond the queue itself (no Qt here): presets, samples,
the child process's command line.

The queue — enqueue, order, resume, recovery — is the engine's (``lipe_engine.jobs.queue``), the
same one ``lipe queue`` works on; "Resume" is its ``retry``: a job with the same output folder,
which continues from the newest checkpoint, shown in the same row.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from lipe_engine.jobs.plan import JobPlan, estimate_seconds
from lipe_engine.toyworld.photos import is_toy_model

from .. import _deferred

if TYPE_CHECKING:
    from lipe_engine.library.records import Job


TOY_LABEL = "Toy model on this computer (300 steps)"
TOY_HELP = ("Sized for the shipped toy model on a CPU: 300 steps at 64 px and 8 class "
            "images; minutes, not hours. It learns toy-world subjects, not real photos.")
PAPER_HELP = ("The paper's settings: rank 32, UNet and text encoders, 1000 passes over the photos and 70 "
              "class images: for a large GPU (40 GB or more) and the real SDXL model.")
# until the training engine (and torch) is loaded on the presets thread: its recipes' numbers
_FALLBACK_STEPS = {"toy": (300, 8)}
_PAPER_EPOCHS, _PAPER_CLASS_IMAGES = 1000, 70


def is_toy(model: str) -> bool:
    return is_toy_model(model)


def preset_gb(name: str | None) -> int:
    """GPU memory a preset is sized for (``"16gb"`` -> 16; 0 for the toy recipe; 40 for the paper's)."""
    if name is None:
        return 40
    digits = "".join(c for c in name if c.isdigit())
    return int(digits) if digits else 0


def preset_steps(name: str | None, n_refs: int) -> tuple[int, int]:
    """(training steps, class images) of a preset for an identity with ``n_refs`` reference photos."""
    config = sys.modules.get("lipe_engine.training.config")
    if config is not None and getattr(getattr(config, "__spec__", None), "_initializing", False):
        config = None  # the presets thread is importing it right now: not usable yet
    class_images = _PAPER_CLASS_IMAGES
    if config is not None:
        if name in config.RECIPES:
            class_images = config.TOY_CLASS_IMAGES
        return config.config_from_preset(name).total_steps(max(1, n_refs)), class_images
    if name in _FALLBACK_STEPS:
        return _FALLBACK_STEPS[name]
    return _PAPER_EPOCHS * max(1, n_refs), class_images


def gpu_memory_gb() -> float:
    """Memory of the first CUDA GPU in GB, 0 without one (runs on the presets thread: imports torch)."""
    try:
        if _deferred.torch.cuda.is_available():
            return float(_deferred.torch.cuda.get_device_properties(0).total_memory) / 1e9
    except Exception:  # noqa: BLE001 - a broken CUDA install is "no GPU" here; `lipe doctor` says why
        pass
    return 0.0


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(10, 10 * round(seconds / 10)):.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} hours"
    return f"{seconds / 86400:.0f} days"


def estimate_text(steps: int, class_images: int, *, toy: bool, gpu_gb: float | None) -> str:
    """What queueing this costs on this machine, in one line (before the user queues it)."""
    what = f"{steps} steps" + (f" + {class_images} class images" if class_images else "")
    if gpu_gb is None:
        return f"{what}; estimating the time (looking for a GPU)…"
    device = "gpu" if gpu_gb > 0 else "cpu"
    seconds = estimate_seconds(JobPlan(class_images=class_images, train_steps=steps), "toy" if toy else "sdxl", device)
    where = f"on this GPU ({gpu_gb:.0f} GB)" if gpu_gb > 0 else "on this CPU (no GPU found)"
    text = f"{what}: about {_duration(seconds)} {where} with the {'toy' if toy else 'SDXL'} model."
    if not toy and device == "cpu":
        text += " SDXL training needs a GPU; choose the toy model in Settings to try the method here."
    return text


def presets() -> dict[str, str]:
    """Preset name -> one-line explanation (the engine's memory-budget presets)."""
    return {name: p.explanation for name, p in _deferred.PRESETS.items()}  # torch: when the panel first asks


def runner_command(data_dir: Path, model: str, device: str, log_path: Path) -> list[str]:
    """The background training runner (``child``): takes queued jobs until none is left."""
    return [sys.executable, "-m", "lipe_desktop.training.child", "--data-dir", str(data_dir),
            "--model", model, "--device", device, "--log", str(log_path)]


def one_row_per_training(listed: list[Job]) -> list[Job]:
    """A training continued by Resume is one row: of the jobs sharing an output folder (a resumed
    job keeps its folder and checkpoints), the one listed first (running, queued, else newest)."""
    seen: set[str] = set()
    out = []
    for job in listed:
        folder = str((job.config or {}).get("output_dir") or f"#{job.id}")
        if folder not in seen:
            seen.add(folder)
            out.append(job)
    return out


def samples_of(job: Job) -> list[Path]:
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
