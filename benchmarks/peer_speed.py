"""NIMA against the maintained peer, diffusers' LEditsPPPipelineStableDiffusionXL, in one process.

Both edit the same toy-world photo with the same prompts and step count on the same loaded model
(the shipped toy model by default; LEDITS++ with DDIM runs the same edit-friendly DDPM inversion
NIMA does). Each repeat runs every (steps, method) pair once, the method order alternating between
repeats (round-robin: load from other processes on a shared machine hits both alike). Times are
the process's CPU time with one torch thread (what the edit itself computed, which other processes
barely disturb); the ratio is NIMA / LEDITS++ per repeat, reported as the median with its spread
(min-max over repeats). UNet work per edit is printed beside it, counted by a hook on the UNet:
forward calls and latent rows evaluated (a guided step on one latent is two rows) - the
hardware-free measure.

    python benchmarks/peer_speed.py [--steps 30,50] [--repeats 5] [--model DIR] [--json OUT]

Target (issue 24): ratio <= 0.80 at every step count.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from lipe_engine.baselines.ledits import LeditsParams, ledits_edit  # noqa: E402
from lipe_engine.models.loader import LoadedModel, load_sdxl  # noqa: E402
from lipe_engine.nima import edit_image, edit_params_for  # noqa: E402
from lipe_engine.toyworld import TOY_MODEL_DIR  # noqa: E402
from lipe_engine.toyworld.ablation import ABLATION_INDIVIDUALS  # noqa: E402
from lipe_engine.toyworld.identity import edit_cases  # noqa: E402

TARGET = 0.80


class UnetCounter:
    """Counts the UNet's forward calls and the latent rows they evaluate."""

    def __init__(self, unet: torch.nn.Module) -> None:
        self.calls = self.rows = 0
        self._handle = unet.register_forward_pre_hook(self._hook, with_kwargs=True)

    def _hook(self, _module: object, args: tuple, kwargs: dict) -> None:
        sample = args[0] if args else kwargs["sample"]
        self.calls += 1
        self.rows += int(sample.shape[0])

    def take(self) -> tuple[int, int]:
        out = (self.calls, self.rows)
        self.calls = self.rows = 0
        return out


def methods(model: LoadedModel, source_dir: str, steps: int) -> dict[str, Callable[[], object]]:
    """The two edits at ``steps`` steps (skip: a tenth of them, as the toy defaults' 3 of 30)."""
    case = edit_cases(ABLATION_INDIVIDUALS["dog"], 1)[0]
    source, target, identity = case.prompts(personalized=False)  # the general prior: no identifier word
    photo = case.scene.render()[0]
    params = edit_params_for(source_dir, steps=steps, skip=steps // 10)  # + the model's shipped settings
    peer = LeditsParams(steps=steps, skip=steps // 10, cfg_source=params.cfg_source)
    return {
        "NIMA": lambda: edit_image(model, photo, source, target, identity, params),
        "LEDITS++": lambda: ledits_edit(model, photo, source, target, peer),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", default="30,50", help="comma-separated step counts")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--model", default=str(TOY_MODEL_DIR), help="diffusers SDXL folder (default: the toy model)")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (1: CPU time = work done)")
    ap.add_argument("--json", default=None, help="also write the results here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model = load_sdxl(args.model, device=None)
    counter = UnetCounter(model.pipe.unet)
    step_counts = [int(s) for s in args.steps.split(",")]
    runs = {n: methods(model, args.model, n) for n in step_counts}
    cpu: dict[tuple[int, str], list[float]] = {(n, m): [] for n in step_counts for m in runs[n]}
    work: dict[tuple[int, str], tuple[int, int]] = {}
    for n in step_counts:  # warm-up: first-call costs (allocator, lazy imports) out of the timings
        for name, fn in runs[n].items():
            fn()
            work[(n, name)] = counter.take()
    for r in range(args.repeats):
        for n in step_counts:
            order = list(runs[n].items())
            for name, fn in order if r % 2 == 0 else order[::-1]:
                c0 = time.process_time()
                fn()
                cpu[(n, name)].append(time.process_time() - c0)
                counter.take()

    print(f"model: {args.model}  steps {step_counts}  threads {torch.get_num_threads()}  repeats {args.repeats}"
          f"  (CPU time, round-robin)")
    print(f"{'steps':>5s} {'NIMA s':>8s} {'LEDITS++ s':>10s} {'ratio':>6s} {'spread':>13s}  "
          f"{'UNet calls / rows per edit':>30s}  verdict")
    results = []
    for n in step_counts:
        a, b = cpu[(n, "NIMA")], cpu[(n, "LEDITS++")]
        ratios = [x / y for x, y in zip(a, b, strict=True)]
        ratio = statistics.median(ratios)
        (nc, nr), (lc, lr) = work[(n, "NIMA")], work[(n, "LEDITS++")]
        verdict = "ok" if ratio <= TARGET else "ABOVE TARGET"
        print(f"{n:5d} {statistics.median(a):8.3f} {statistics.median(b):10.3f} {ratio:6.3f} "
              f"{min(ratios):6.3f}-{max(ratios):6.3f}  NIMA {nc:3d}/{nr:3d}, LEDITS++ {lc:3d}/{lr:3d}  "
              f"{verdict} (target <= {TARGET:.2f})")
        results.append({"steps": n, "nima_cpu_s": a, "ledits_cpu_s": b, "ratio_median": ratio,
                        "ratio_min": min(ratios), "ratio_max": max(ratios),
                        "nima_unet_calls": nc, "nima_unet_rows": nr, "ledits_unet_calls": lc,
                        "ledits_unet_rows": lr})
    if args.json:
        Path(args.json).write_text(json.dumps({"measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                                               "model": args.model, "repeats": args.repeats,
                                               "results": results}, indent=1))


if __name__ == "__main__":
    main()
