"""The edit preview against the full edit, judged by the toy world on the same held-out edits.

Cases: ``--per-kind`` held-out edits of each ablation individual (dog, robot, bird; the toy world's
``edit_cases``, fixed seeds), edited with NIMA on the shipped toy model's general prior (no LoRA) at
the toy settings (30 steps, skip 3) and on their preview schedule (edit_settings.preview_schedule).
Each output is scored by the world's ground truth (lipe_engine.toyworld.checks, as the ablation
benchmark): pose reached, pose and view, background PSNR, identity distance; plus how often the
preview shows the pose the full edit ends in (what a user deciding from the preview needs), the UNet
rows of each and the CPU time per edit (one thread, medians over the cases).

    python benchmarks/preview_quality.py [--per-kind 4] [--steps 100 --skip 10] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from lipe_engine.edit_settings import preview_schedule  # noqa: E402
from lipe_engine.models.loader import load_sdxl  # noqa: E402
from lipe_engine.nima import edit_image, edit_params_for  # noqa: E402
from lipe_engine.toyworld import TOY_MODEL_DIR  # noqa: E402
from lipe_engine.toyworld.ablation import ABLATION_INDIVIDUALS  # noqa: E402
from lipe_engine.toyworld.checks import classify_pose, identity_distance, masked_psnr, resize_mask  # noqa: E402
from lipe_engine.toyworld.identity import edit_cases  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--per-kind", type=int, default=4, help="held-out edits per individual")
    ap.add_argument("--model", default=str(TOY_MODEL_DIR))
    ap.add_argument("--steps", type=int, default=None, help="full edit's steps (default: the model's, toy 30)")
    ap.add_argument("--skip", type=int, default=None, help="full edit's skip (default: the model's, toy 3)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    model = load_sdxl(args.model, device=None)
    full = edit_params_for(args.model, steps=args.steps, skip=args.skip)  # else the model's shipped settings
    variants = {"full": full, "preview": full.preview()}
    cases = [c for ind in ABLATION_INDIVIDUALS.values() for c in edit_cases(ind, args.per_kind)]
    rows: dict[str, dict[str, list[float]]] = {v: {} for v in variants}
    poses: dict[str, list[str]] = {v: [] for v in variants}
    for case in cases:
        photo, gt = case.scene.render()
        source, target, identity = case.prompts(personalized=False)
        for name, params in variants.items():
            c0 = time.process_time()
            res = edit_image(model, photo, source, [target], identity, params)
            cpu = time.process_time() - c0
            edited = res.images[0]
            region = (resize_mask(res.union_masks[0], gt.shape) > 0.5) | (gt > 0.05)
            guess = classify_pose(edited, case.scene)
            poses[name].append(guess.pose)
            scores = {
                "pose reached": float(guess.pose == case.target_pose),
                "pose and view": float(guess.pose == case.target_pose and guess.facing == case.scene.facing),
                "background PSNR (dB)": masked_psnr(edited, photo, ~region),
                "identity distance": identity_distance(edited, case.scene, case.target_pose),
                "UNet rows": res.stats["unet_rows"],
                "CPU s": cpu,
            }
            for key, value in scores.items():
                rows[name].setdefault(key, []).append(value)
    agree = float(np.mean([a == b for a, b in zip(poses["preview"], poses["full"], strict=True)]))
    p_steps, p_skip = preview_schedule(full.steps, full.skip)
    print(f"{len(cases)} held-out toy edits (general prior), full {full.steps} steps skip {full.skip}, "
          f"preview {p_steps} steps skip {p_skip}")
    keys = list(rows["full"])
    print("| variant | " + " | ".join(keys) + " |")
    print("|---|" + "---|" * len(keys))
    summary = {}
    for name in variants:
        vals = {k: (statistics.median(v) if k in ("UNet rows", "CPU s") else float(np.nanmean(v)))
                for k, v in rows[name].items()}
        summary[name] = vals
        print(f"| {name} | " + " | ".join(
            f"{vals[k]:.0%}" if k.startswith("pose") else f"{vals[k]:.3f}" if k != "UNet rows" else f"{vals[k]:.0f}"
            for k in keys) + " |")
    work = summary["preview"]["UNet rows"] / summary["full"]["UNet rows"]
    speed = summary["preview"]["CPU s"] / summary["full"]["CPU s"]
    print(f"preview shows the full edit's pose in {agree:.0%} of cases; UNet work {work:.2f}x, CPU time {speed:.2f}x")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cases": len(cases),
            "summary": summary, "pose_agreement": agree, "unet_work_ratio": work, "cpu_ratio": speed}, indent=1))


if __name__ == "__main__":
    main()
