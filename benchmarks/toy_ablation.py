"""The paper's Table 2 ablation, in the toy world, on the shipped toy model (CPU, fixed seeds).

Rows: the general prior (ground-truth captions naming the markings, no LoRA) and the learned LIPE
prior (LoRA on four "sks"-captioned reference photos), each with and without NIMA's identity mask,
plus the full method with the optional pixel composite. Every edit is judged by the world's ground
truth: pose reached (silhouette matching), identity-mask IoU with the true sprite mask, background
PSNR outside one common edit region (so all rows are scored on the same pixels) and identity
(colour/pattern) distance to the individual's true rendering in the target pose.

    python benchmarks/toy_ablation.py [--cases 6] [--steps 30] [--prior-steps 300]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from lipe_engine.models.loader import load_lora, load_sdxl  # noqa: E402
from lipe_engine.toyworld import TOY_MODEL_DIR, Individual  # noqa: E402
from lipe_engine.toyworld.ablation import run_variant, table, train_prior  # noqa: E402
from lipe_engine.toyworld.identity import edit_cases  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(TOY_MODEL_DIR))
    ap.add_argument("--cases", type=int, default=6)
    ap.add_argument("--steps", type=int, default=30, help="NIMA denoising steps")
    ap.add_argument("--prior-steps", type=int, default=300, help="LoRA training steps")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model = load_sdxl(args.model, device="cpu", dtype="fp32")
    identity = Individual("dog", "red", "striped", "white", "blue")
    cases = edit_cases(identity, args.cases, seed=100)
    seconds: dict[str, float] = {}

    def variant(name: str, personalized: bool, use_mask: bool, region=None, **kw):  # type: ignore[no-untyped-def]
        t0 = time.perf_counter()
        res = run_variant(name, model, cases, personalized=personalized, use_mask=use_mask, steps=args.steps,
                          region=region, **kw)
        seconds[name] = time.perf_counter() - t0
        print(f"  {name}: {seconds[name]:.0f} s", flush=True)
        return res

    base_mask, regions = variant("general prior + NIMA mask", False, True)
    base_nomask, _ = variant("general prior, no mask", False, False, regions)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        load_lora(model, train_prior(model, identity, Path(tmp) / "prior", steps=args.prior_steps))
        seconds["prior training"] = time.perf_counter() - t0
        print(f"  prior training ({args.prior_steps} steps): {seconds['prior training']:.0f} s", flush=True)
        lipe_nomask, _ = variant("learned prior, no mask", True, False, regions)
        lipe, _ = variant("LIPE: learned prior + NIMA mask", True, True, regions)
        lipe_comp, _ = variant("LIPE + pixel composite", True, True, regions, composite=True)
    print(f"\ntoy model {args.model}; {args.cases} edits of one dog, {args.steps} NIMA steps, "
          f"prior {args.prior_steps} LoRA steps\n")
    print(table([base_nomask, base_mask, lipe_nomask, lipe, lipe_comp]))


if __name__ == "__main__":
    main()
