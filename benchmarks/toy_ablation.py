"""The paper's Table 2 ablation, in the toy world, on the shipped toy model (CPU, fixed seeds).

Rows: the general prior (ground-truth captions naming the markings, no LoRA) and the learned LIPE
prior (LoRA on four "sks"-captioned reference photos), each with and without NIMA's identity mask,
plus the full method with the optional pixel composite. Every edit is judged by the world's ground
truth: pose reached (silhouette matching; "pose and view": the facing kept too), identity-mask IoU
with the true sprite mask, background PSNR outside one common edit region (so all rows are scored on
the same pixels) and identity (colour/pattern) distance to the individual's true rendering in the
target pose.

    python benchmarks/toy_ablation.py [--kinds dog,robot,bird] [--cases 6] [--steps 30] [--prior-steps 300]
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
from lipe_engine.toyworld import TOY_MODEL_DIR  # noqa: E402
from lipe_engine.toyworld.ablation import (  # noqa: E402
    ABLATION_INDIVIDUALS,
    VariantResult,
    run_variant,
    table,
    train_prior,
)
from lipe_engine.toyworld.identity import edit_cases  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(TOY_MODEL_DIR))
    ap.add_argument("--kinds", default="dog,robot,bird", help="comma-separated: one individual of each")
    ap.add_argument("--cases", type=int, default=6, help="edits per individual")
    ap.add_argument("--steps", type=int, default=30, help="NIMA denoising steps")
    ap.add_argument("--prior-steps", type=int, default=300, help="LoRA training steps")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in ABLATION_INDIVIDUALS]
    if unknown:
        raise SystemExit(f"toy_ablation: unknown kinds {unknown}: use some of {', '.join(ABLATION_INDIVIDUALS)}")
    names = ["general prior, no mask", "general prior + NIMA mask", "learned prior, no mask",
             "LIPE: learned prior + NIMA mask", "LIPE + pixel composite"]
    rows = {name: VariantResult(name) for name in names}
    per_kind: dict[str, dict[str, VariantResult]] = {}
    seconds: dict[str, float] = dict.fromkeys([*names, "prior training"], 0.0)

    def variant(kind: str, model, cases, name: str, personalized: bool, use_mask: bool,  # type: ignore[no-untyped-def]
                region=None, **kw):
        t0 = time.perf_counter()
        res, regions = run_variant(name, model, cases, personalized=personalized, use_mask=use_mask,
                                   steps=args.steps, region=region, **kw)
        seconds[name] += time.perf_counter() - t0
        rows[name].cases.extend(res.cases)
        per_kind.setdefault(kind, {})[name] = res
        return regions

    for kind in kinds:
        model = load_sdxl(args.model, device="cpu", dtype="fp32")  # fresh: no earlier individual's LoRA
        identity = ABLATION_INDIVIDUALS[kind]
        cases = edit_cases(identity, args.cases, seed=100)
        regions = variant(kind, model, cases, names[1], False, True)
        variant(kind, model, cases, names[0], False, False, regions)
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            load_lora(model, train_prior(model, identity, Path(tmp) / "prior", steps=args.prior_steps))
            seconds["prior training"] += time.perf_counter() - t0
            variant(kind, model, cases, names[2], True, False, regions)
            variant(kind, model, cases, names[3], True, True, regions)
            variant(kind, model, cases, names[4], True, True, regions, composite=True)
        print(f"  {kind}: done", flush=True)
    for name, t in seconds.items():
        print(f"  {name}: {t:.0f} s")
    print(f"\ntoy model {args.model}; {args.cases} edits of each of {', '.join(kinds)}, {args.steps} NIMA steps, "
          f"prior {args.prior_steps} LoRA steps\n")
    print(table([rows[name] for name in names]))
    for kind, results in per_kind.items():
        print(f"\n{kind} ({ABLATION_INDIVIDUALS[kind].description}) alone:\n")
        print(table([results[name] for name in names]))


if __name__ == "__main__":
    main()
