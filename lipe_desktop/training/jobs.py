"""What the training view shows of a job beyond the queue itself (no Qt here): presets, samples,
the child process's command line.

The queue — enqueue, order, resume, recovery — is the engine's (``lipe_engine.jobs.queue``), the
same one ``lipe queue`` works on; "Resume" is its ``retry``: a new job with the same output folder,
which continues from the newest checkpoint.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lipe_engine.library.records import Job


def presets() -> dict[str, str]:
    """Preset name -> one-line explanation (the engine's memory-budget presets)."""
    from lipe_engine.training import PRESETS  # torch: imported when the panel first asks

    return {name: p.explanation for name, p in PRESETS.items()}


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
