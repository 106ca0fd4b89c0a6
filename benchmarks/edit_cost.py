"""Cost of a NIMA edit on the tiny SDXL-architecture model, as ratios measured in one process.

Prints:
  1. two-pass edit vs the literal three-pass Algorithm 1 (UNet evaluations and wall time), target <= 0.70
  2. identity branch overhead: the edit pass (recording + masks + blend) vs plain sampling with
     the same inversion and prompts, target <= 1.10
  3. cached re-edit (another target prompt on the same photo) vs a cold edit, target <= 0.55
Each timing is the median of --repeats runs; absolute seconds on a shared CPU are noise, ratios
taken in the same process are not.

    python benchmarks/edit_cost.py [--steps 50] [--repeats 3] [--model DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from lipe_engine.models.loader import load_sdxl  # noqa: E402
from lipe_engine.models.tiny import build_tiny_sdxl  # noqa: E402
from lipe_engine.nima import EditParams, InversionCache, NimaSession, edit_image  # noqa: E402
from lipe_engine.nima.attention import recording  # noqa: E402
from lipe_engine.nima.inversion import sample_ddpm  # noqa: E402
from lipe_engine.progress import ProgressReporter  # noqa: E402
from nima_reference import three_pass_edit  # noqa: E402

SRC, TGT, TGT2, IDENT = "a photo of a sks dog sitting", "a photo of a sks dog standing", "a sks dog running", "a sks dog"


def timed(fn, repeats: int):  # type: ignore[no-untyped-def]
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--model", default=None, help="diffusers SDXL folder (default: a fresh tiny model)")
    args = ap.parse_args()
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        model = load_sdxl(args.model or build_tiny_sdxl(Path(tmp) / "tiny"), device=None)
        size = model.native_size
        rng = np.random.RandomState(0)
        photo = Image.fromarray((rng.rand(size // 8, size // 8, 3) * 255).astype(np.uint8)).resize((size, size))
        params = EditParams(steps=args.steps, skip=0)
        n = params.steps - params.skip

        t2, res = timed(lambda: edit_image(model, photo, SRC, TGT, IDENT, params), args.repeats)
        calls2 = res.stats["unet_calls"]
        t3, (_, sess) = timed(lambda: three_pass_edit(model, photo, SRC, TGT, IDENT, params), args.repeats)
        calls3 = sess.denoiser.unet_calls

        # identity branch: edit pass with recording/masks/blend vs plain sampling, same inversion
        s = NimaSession(model, photo, SRC, IDENT, params)
        cached, _ = s.invert(ProgressReporter())
        cond = s.denoiser.encode([TGT])
        t_plain, _ = timed(lambda: sample_ddpm(s.denoiser, cached.inversion, cond, params.cfg_target), args.repeats)

        def with_branch() -> None:
            s.cache = InversionCache()
            s.cache.put(s.cache_key(), cached)
            s.edit([TGT], ProgressReporter())

        t_branch, _ = timed(with_branch, args.repeats)

        def cold() -> None:
            edit_image(model, photo, SRC, TGT, IDENT, params, cache=InversionCache())

        t_cold, _ = timed(cold, args.repeats)
        warm_cache = InversionCache()
        edit_image(model, photo, SRC, TGT, IDENT, params, cache=warm_cache)
        t_warm, warm = timed(lambda: edit_image(model, photo, SRC, TGT2, IDENT, params, cache=warm_cache),
                             args.repeats)
        assert warm.cache_hit

    print(f"model: {args.model or 'tiny SDXL-architecture (random weights)'}  size {size}px  steps {n}  "
          f"device {model.device}  threads {torch.get_num_threads()}")
    rows = [
        ("two-pass / three-pass UNet evaluations", calls2 / calls3, 0.70),
        ("two-pass / three-pass wall time", t2 / t3, 0.70),
        ("identity branch: edit pass / plain sampling", t_branch / t_plain, 1.10),
        ("cached re-edit / cold edit wall time", t_warm / t_cold, 0.55),
    ]
    for name, ratio, target in rows:
        verdict = "ok" if ratio <= target else "ABOVE TARGET"
        print(f"{name:48s} {ratio:6.3f}   (target <= {target:.2f}, {verdict})")
    print(f"absolute (median of {args.repeats}): two-pass {t2:.2f}s, three-pass {t3:.2f}s, plain sampling "
          f"{t_plain:.2f}s, edit pass {t_branch:.2f}s, cold {t_cold:.2f}s, cached {t_warm:.2f}s")


if __name__ == "__main__":
    main()
