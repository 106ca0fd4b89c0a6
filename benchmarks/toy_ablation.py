"""The paper's Table 2 ablation and peers, in the toy world, on the shipped toy model (CPU, fixed seeds).

Arms (the same method table as ``lipe eval``): the general prior (no LoRA) without and with NIMA's
mask; MasaCtrl and LEDITS++ (diffusers' LEditsPPPipelineStableDiffusionXL) on the general prior;
DreamBooth's plain-caption prior ("a photo of a sks dog") with NIMA (the paper's "w/o editing
captions") and with MasaCtrl (DreamCtrl); LIPE's editing-caption prior without the mask ("w/o
NIMA"), with it (LIPE) and with the pixel composite. Same model, photos, prompts and step count for
all, and a "no-op" row (the photo returned unchanged: the floor). Every edit is judged by the toy
world's judge (lipe_engine/toyworld/judge.py): the headline is the success rate (target pose
reached with confidence, facing, identity and background kept); then pose reached, "pose and
view" (the facing kept too), identity similarity averaged over the edits that reached the pose
(a method that changes nothing cannot win on it), and two ground-truth checks: identity-mask IoU
with the true sprite mask and background PSNR outside one common edit region (so all rows are
scored on the same pixels). Writes a comparison grid (rows: edits with their target prompt;
columns: input, each arm) like the paper's Fig. 5.

    python benchmarks/toy_ablation.py [--kinds dog,robot,bird] [--cases 6] [--steps 30]
        [--prior-steps 300] [--grid toy_ablation_grid.png] [--grid-rows 2] [--individuals-seed N]

``--individuals-seed N`` edits random individuals instead of the fixed ones, drawn as the toy
model's tests draw theirs (``random_individuals(N)``, case seed ``N + 1 + k`` for the k-th), so
``--individuals-seed 20261201 --cases 3`` prints the tests' nine edits for every arm.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from lipe_engine.baselines.methods import PRIOR_DREAMBOOTH, PRIOR_EDITING  # noqa: E402
from lipe_engine.evaluation.grid import GridRow, save_grid  # noqa: E402
from lipe_engine.models.loader import load_lora, load_sdxl  # noqa: E402
from lipe_engine.toyworld import POSES, TOY_MODEL_DIR  # noqa: E402
from lipe_engine.toyworld.ablation import (  # noqa: E402
    ABLATION_INDIVIDUALS,
    ARMS,
    VariantResult,
    arm_method,
    random_individuals,
    run_arm,
    table,
    train_prior,
)
from lipe_engine.toyworld.identity import edit_cases  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(TOY_MODEL_DIR))
    ap.add_argument("--kinds", default="dog,robot,bird", help="comma-separated: one individual of each")
    ap.add_argument("--cases", type=int, default=6, help="edits per individual")
    ap.add_argument("--steps", type=int, default=30, help="denoising steps (every arm)")
    ap.add_argument("--prior-steps", type=int, default=300, help="LoRA training steps (both priors)")
    ap.add_argument("--arms", default=",".join(ARMS), help=f"comma-separated, from {', '.join(ARMS)}")
    ap.add_argument("--grid", default="toy_ablation_grid.png", help="comparison grid PNG ('' for none)")
    ap.add_argument("--grid-rows", type=int, default=2, help="edits per individual shown in the grid")
    ap.add_argument("--lora-scale", type=float, default=1.0, help="LoRA scale at edit time")
    ap.add_argument("--individuals-seed", type=int, default=None,
                    help="random individuals (as the toy model's tests draw them) instead of the fixed ones")
    ap.add_argument("--unseen-pose", action="store_true",
                    help="the harder case: every edit targets one pose that none of the references shows")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (1: on the shared 2-core machine 2 threads ran ~3x slower)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    individuals = dict(ABLATION_INDIVIDUALS)
    case_seeds = dict.fromkeys(individuals, 100)
    if args.individuals_seed is not None:
        drawn = random_individuals(args.individuals_seed)
        individuals = {ind.kind: ind for ind in drawn}
        case_seeds = {ind.kind: args.individuals_seed + 1 + k for k, ind in enumerate(drawn)}
    unknown = [k for k in kinds if k not in individuals]
    if unknown:
        raise SystemExit(f"toy_ablation: unknown kinds {unknown}: use some of {', '.join(individuals)}")
    arms = [a.strip() for a in args.arms.split(",") if a.strip()]
    bad = [a for a in arms if a not in ARMS]
    if bad:
        raise SystemExit(f"toy_ablation: unknown arms {bad}: use some of {', '.join(ARMS)}")
    reference = "nima-noprior"  # its edit regions score every arm's background on the same pixels
    order = [reference] + [a for a in arms if a != reference]
    rows = {a: VariantResult(arm_method(a).label) for a in arms}
    per_kind: dict[str, dict[str, VariantResult]] = {}
    seconds: dict[str, float] = dict.fromkeys([*arms, "prior training"], 0.0)
    grid_rows: list[GridRow] = []

    for kind in kinds:
        identity = individuals[kind]
        held = POSES[kind][case_seeds[kind] % len(POSES[kind])] if args.unseen_pose else None
        cases = edit_cases(identity, args.cases, seed=case_seeds[kind], target_pose=held)
        results: dict[str, VariantResult] = {}
        regions = None
        for prior in (None, PRIOR_DREAMBOOTH, PRIOR_EDITING):
            group = [a for a in order if arm_method(a).prior == prior and (a in arms or a == reference)]
            if not group:
                continue
            model = load_sdxl(args.model, device="cpu", dtype="fp32")  # fresh: no earlier prior's LoRA
            with tempfile.TemporaryDirectory() as tmp:
                if prior is not None:
                    t0 = time.perf_counter()
                    lora = train_prior(model, identity, Path(tmp) / "prior", steps=args.prior_steps,
                                       captions=prior, without_pose=held)
                    seconds["prior training"] += time.perf_counter() - t0
                    load_lora(model, lora, scale=args.lora_scale)
                for arm in group:
                    t0 = time.perf_counter()
                    res, reg = run_arm(arm, model, cases, steps=args.steps, region=regions)
                    if arm == reference:
                        regions = reg
                    if arm in arms:
                        seconds[arm] += time.perf_counter() - t0
                        rows[arm].cases.extend(res.cases)
                        results[arm] = res
        per_kind[kind] = results
        for i, case in enumerate(cases[: args.grid_rows]):
            grid_rows.append(GridRow(case.prompts(True)[1],
                                     [case.scene.render()[0], *[results[a].images[i] for a in arms]]))
        print(f"  {kind}: done", flush=True)
    for name, t in seconds.items():
        print(f"  {name}: {t:.0f} s")
    if args.unseen_pose:
        print("\nunseen pose: every edit's target pose is in none of the individual's reference photos")
    print(f"\ntoy model {args.model}; {args.cases} edits of each of {', '.join(kinds)}, {args.steps} steps, "
          f"priors {args.prior_steps} LoRA steps, LoRA scale {args.lora_scale}\n")
    print(table([rows[a] for a in arms]))
    for kind, results in per_kind.items():
        print(f"\n{kind} ({individuals[kind].description}) alone:\n")
        print(table([results[a] for a in arms]))
    if args.grid:
        path = save_grid(grid_rows, ["input", *[arm_method(a).label for a in arms]], args.grid, cell=128)
        print(f"\ngrid: {path}")


if __name__ == "__main__":
    main()
