"""Cost of a NIMA edit on the tiny SDXL-architecture model, as ratios measured in one process.

Prints:
  1. two-pass edit vs the literal three-pass Algorithm 1 (UNet evaluations and wall time), target <= 0.70
  2. identity branch overhead: the edit pass (identity-branch recording + masks + blend) vs plain
     sampling from the same cached inversion with the same prompts and decoding (the edit with the
     mask switched off), target <= 1.10
  3. cached re-edit (another target prompt on the same photo) vs a cold edit, target <= 0.65: the
     cache skips the inversion, half the UNet rows; since the inversion evaluates up to 16 steps per
     UNet call (nima/inversion.py) it costs less than half the time, so skipping it saves less
     (0.58 measured 2026-12-04 at 30 steps; it was <= 0.55 with one step per call)
Each timing is the median of --repeats round-robin runs. Ratios use the process's CPU time (one
torch thread by default), which other processes on a shared machine barely disturb; wall-time
ratios are printed beside them. Absolute seconds on a shared CPU are noise.

    python benchmarks/edit_cost.py [--steps 50] [--repeats 3] [--model DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from lipe_engine.models.loader import load_sdxl  # noqa: E402
from lipe_engine.models.tiny import build_tiny_sdxl  # noqa: E402
from lipe_engine.nima import EditParams, InversionCache, NimaSession, edit_image  # noqa: E402
from lipe_engine.progress import ProgressReporter  # noqa: E402
from lipe_engine.testing.nima_reference import three_pass_edit  # noqa: E402

SRC, TGT, TGT2, IDENT = "a photo of a sks dog sitting", "a photo of a sks dog standing", "a sks dog running", "a sks dog"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--model", default=None, help="diffusers SDXL folder (default: a fresh tiny model)")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (1: CPU time = work done)")
    args = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        model = load_sdxl(args.model or build_tiny_sdxl(Path(tmp) / "tiny"), device=None)
        size = model.native_size
        rng = np.random.RandomState(0)
        photo = Image.fromarray((rng.rand(size // 8, size // 8, 3) * 255).astype(np.uint8)).resize((size, size))
        params = EditParams(steps=args.steps, skip=0)
        n = params.steps - params.skip

        # identity branch: edit pass with recording/masks/blend vs plain sampling, same inversion
        s = NimaSession(model, photo, SRC, IDENT, params)
        cached, _ = s.invert(ProgressReporter())
        plain_s = NimaSession(model, photo, SRC, IDENT, dataclasses.replace(params, use_mask=False))

        def with_branch() -> None:
            s.cache = InversionCache()
            s.cache.put(s.cache_key(), cached)
            s.edit([TGT], ProgressReporter())

        def plain() -> None:
            plain_s.cache = InversionCache()
            plain_s.cache.put(plain_s.cache_key(), cached)
            plain_s.edit([TGT], ProgressReporter())

        warm_cache = InversionCache()
        edit_image(model, photo, SRC, TGT, IDENT, params, cache=warm_cache)
        variants = {
            "two": lambda: edit_image(model, photo, SRC, TGT, IDENT, params),
            "three": lambda: three_pass_edit(model, photo, SRC, TGT, IDENT, params),
            "plain": plain,
            "branch": with_branch,
            "cold": lambda: edit_image(model, photo, SRC, TGT, IDENT, params, cache=InversionCache()),
            "warm": lambda: edit_image(model, photo, SRC, TGT2, IDENT, params, cache=warm_cache),
        }
        # Round-robin: each repeat runs every variant once, so load from other processes on the shared
        # machine hits all variants alike instead of biasing whichever block it happens to overlap.
        wall: dict[str, list[float]] = {k: [] for k in variants}
        cpu: dict[str, list[float]] = {k: [] for k in variants}
        outs: dict[str, object] = {}
        for _ in range(args.repeats):
            for key, fn in variants.items():
                t0, c0 = time.perf_counter(), time.process_time()
                outs[key] = fn()
                cpu[key].append(time.process_time() - c0)
                wall[key].append(time.perf_counter() - t0)
        med = {k: (statistics.median(cpu[k]), statistics.median(wall[k])) for k in variants}
        calls2 = outs["two"].stats["unet_rows"]  # type: ignore[attr-defined]
        calls3 = outs["three"][1].denoiser.unet_rows  # type: ignore[index]
        assert outs["warm"].cache_hit  # type: ignore[attr-defined]

    print(f"model: {args.model or 'tiny SDXL-architecture (random weights)'}  size {size}px  steps {n}  "
          f"device {model.device}  threads {torch.get_num_threads()}  repeats {args.repeats}")
    print(f"{'':48s} {'CPU time':>9s} {'wall':>7s}")
    print(f"{'two-pass / three-pass UNet rows evaluated':48s} {calls2 / calls3:9.3f} {'':7s}   (target <= 0.70)")
    rows = [
        ("two-pass / three-pass", "two", "three", 0.70),
        ("identity branch: edit pass / plain sampling", "branch", "plain", 1.10),
        ("cached re-edit / cold edit", "warm", "cold", 0.65),
    ]
    for name, a_key, b_key, target in rows:
        ratio_cpu = med[a_key][0] / med[b_key][0]
        ratio_wall = med[a_key][1] / med[b_key][1]
        verdict = "ok" if ratio_cpu <= target else "ABOVE TARGET"
        print(f"{name:48s} {ratio_cpu:9.3f} {ratio_wall:7.3f}   (target <= {target:.2f}, {verdict})")
    print("median CPU s: " + ", ".join(f"{k} {v[0]:.2f}" for k, v in med.items()))


if __name__ == "__main__":
    main()
