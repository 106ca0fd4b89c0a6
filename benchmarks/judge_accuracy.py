"""The toy-world judge's accuracy on individuals it never saw, next to the old template checks.

Prints, for held-out individuals drawn from ``--seed`` (never a training seed of
scripts/train_judge.py):

- pose / facing accuracy on softened renders (0.8 px blur, noise, the toy VAE round trip);
- identity retrieval among look-alikes: a softened photo of each individual in a new scene against
  photos of it and ``--gallery - 1`` look-alikes (same kind and body colour, other markings), top-1;
- each control's rate of verdicts a person would give (truth and softened truth succeed; no-op,
  3 px blur, a third pose, a look-alike fail) and how often a moved/rescaled individual ranks above
  the look-alike, for the judge and, as the baseline in the same process, for the old checks
  (best-silhouette pose, colour-histogram identity distance <= 0.5, the same background PSNR).

    python benchmarks/judge_accuracy.py [--seed 777001] [--cases 90] [--gallery 5]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from lipe_engine.toyworld import TOY_MODEL_DIR
from lipe_engine.toyworld.checks import classify_pose, identity_distance
from lipe_engine.toyworld.judge import default_judge, judge_edits
from lipe_engine.toyworld.judge_controls import (
    CONTROLS,
    ControlSet,
    control_sets,
    held_out_cases,
    identity_retrieval,
    pose_accuracy,
    run_controls,
)
from lipe_engine.toyworld.softening import load_vae

OLD_IDENTITY = 0.5  # the colour-histogram distance the issue measured look-alikes against


def old_checks(sets: list[ControlSet]) -> tuple[dict[str, float], float]:
    """The previous checks on the same controls: pose = best silhouette template, identity =
    histogram distance <= OLD_IDENTITY, background as the judge measures it."""
    rates = {}
    for name, expected in CONTROLS.items():
        images = [s.images[name] for s in sets]
        background = [v.background_kept for v in judge_edits(images, [s.case for s in sets])]
        ok = []
        for s, img, bg in zip(sets, images, background, strict=True):
            guess = classify_pose(img, s.case.scene)
            success = (guess.pose == s.case.target_pose and guess.facing == s.case.scene.facing and bg
                       and identity_distance(img, s.case.scene, s.case.target_pose) <= OLD_IDENTITY)
            ok.append(success == expected)
        rates[name] = float(np.mean(ok))
    ranking = float(np.mean([
        identity_distance(s.moved, s.case.scene, s.case.target_pose)
        < identity_distance(s.lookalike_soft, s.case.scene, s.case.target_pose) for s in sets]))
    return rates, ranking


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=777001)
    ap.add_argument("--cases", type=int, default=90)
    ap.add_argument("--gallery", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    judge = default_judge()
    vae = load_vae(TOY_MODEL_DIR)
    pose = pose_accuracy(args.seed, args.cases, vae, judge)
    retrieval = identity_retrieval(args.seed + 1, args.cases, args.gallery, vae, judge)
    sets = control_sets(held_out_cases(args.seed + 2, args.cases), args.seed + 3, vae)
    report = run_controls(sets, judge)
    old_rates, old_ranking = old_checks(sets)
    print(f"judge trained with seed {judge.config.train_seed} on {judge.config.world}")
    print(f"held-out seed {args.seed}, {args.cases} individuals; {time.perf_counter() - t0:.0f} s\n")
    print(f"pose {pose['pose']:.1%}, facing {pose['facing']:.1%}, pose and facing {pose['pose and facing']:.1%} "
          "(softened renders)")
    print(f"identity retrieval among {args.gallery - 1} look-alikes + itself: top-1 {retrieval:.1%} "
          f"(chance {1 / args.gallery:.0%})\n")
    print("| control | expected | judge | old checks |")
    print("|---|---|---|---|")
    for name, expected in CONTROLS.items():
        print(f"| {name} | {'success' if expected else 'failure'} | {report.rates[name]:.0%} | "
              f"{old_rates[name]:.0%} |")
    print(f"| moved/rescaled ranks above look-alike | - | {report.ranking:.0%} | {old_ranking:.0%} |")
    for name, wrong in report.failures.items():
        for line in wrong[:3]:
            print(f"  judge wrong on {name}: {line}")


if __name__ == "__main__":
    main()
