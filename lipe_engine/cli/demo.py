"""``lipe demo``: the whole LIPE flow on the shipped toy-world model, on a CPU, in a few minutes.

1. four reference photos of one sprite individual are generated, captioned from the world's ground
   truth (no captioner model is involved) with the identity named "sks <class>";
2. the LoRA identity prior is trained on them (with captioned class photos of other individuals as
   regularization, as in LIPE);
3. a target photo of the same individual is edited to another pose with NIMA;
4. photos, masks, a before/after sheet and ``report.json`` go to ``--out``: the toy world's judge
   (lipe_engine.toyworld.judge) says whether the edit is the same individual in the target pose and,
   when it is not, what went wrong (also written under the sheet, next to what success looks like).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ..errors import InputError
from ..evaluation.grid import _font
from ..owned_outputs import OwnedFolder
from ..toyworld import POSES, Individual, default_model_source
from ..toyworld.identity import EditCase, class_scenes, edit_cases, reference_scenes, sks_caption
from . import _deferred
from ._progress import TerminalProgress

REFERENCES = 4
MASKS = ("source_mask", "target_mask", "union_mask")
# Every name the demo writes into --out: claimed before any work, so a folder of the user's (their
# photos, a library folder) is refused in one line instead of overwritten (lipe_engine/owned_outputs.py).
OUTPUT_NAMES = (*(f"reference_{i + 1}.png" for i in range(REFERENCES)), "captions.txt", "prior/",
                "target_photo.png", "edited.png", *(f"{m}.png" for m in MASKS), "before_after.png", "report.json")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "demo",
        help="run identity -> LoRA prior -> NIMA edit on the toy-world model (CPU, minutes)",
        description="Generate reference photos of a toy sprite, learn its identity prior, edit its pose.",
    )
    p.add_argument("--out", default="lipe-demo", help="output folder (default: ./lipe-demo)")
    p.add_argument("--model", default=None, help="model folder (default: the shipped toy model)")
    p.add_argument("--kind", default="dog", choices=["dog", "bird", "robot"])
    p.add_argument("--seed", type=int, default=7, help="which individual and photos")
    p.add_argument("--lora-steps", type=int, default=300)
    p.add_argument("--steps", type=int, default=50, help="NIMA denoising steps")
    p.add_argument("--target-pose", default=None, help="pose to edit to (default: another pose)")
    # The toy model is tiny: a second thread gains little on an idle CPU and, on a busy one, torch's
    # threads oversubscribe the cores (measured: 300 LoRA steps took ~14 min with 2 threads at load 11,
    # the whole demo 63 s with 1).
    p.add_argument("--threads", type=int, default=1, help="CPU threads for torch (default: 1)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=run)


def _save_mask(mask: np.ndarray, out: OwnedFolder, name: str, size: int) -> Image.Image:
    img = _deferred.mask_image(mask, size).convert("RGB")
    out.save_image(name, img)
    return img


def _sheet(tiles: list[tuple[str, Image.Image]], out: OwnedFolder, name: str, scale: int = 8,
           notes: tuple[str, ...] = ()) -> None:
    """Tiles side by side, each 64 px photo shown at ``scale`` x (nearest neighbour: the pixels the
    model drew, no smoothing) under its label, big enough to see a sprite's markings at a glance;
    ``notes`` (the verdict) as lines below."""
    side = 64 * scale
    font = _font(4 * scale)
    head, line = 6 * scale, 5 * scale
    sheet = Image.new("RGB", (side * len(tiles), side + head + line * len(notes) + scale), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (label, tile) in enumerate(tiles):
        sheet.paste(tile.resize((side, side), Image.Resampling.NEAREST), (i * side, head))
        draw.text((i * side + scale, scale), label, fill="black", font=font)
    for k, text in enumerate(notes):
        draw.text((scale, side + head + scale // 2 + line * k), text, font=font,
                  fill=(0, 110, 0) if k == 0 and text.startswith("success") else "black" if k else (170, 0, 0))
    out.save_image(name, sheet)


def _check_numbers(args: argparse.Namespace) -> None:
    """Every number from the command line, before minutes of work (``--seed -1`` is no individual)."""
    for option, value, low, high in (("--seed", args.seed, 0, 2**32 - 1), ("--lora-steps", args.lora_steps, 1, 100_000),
                                     ("--steps", args.steps, 1, 1000), ("--threads", args.threads, 1, 256)):
        if not low <= value <= high:
            raise InputError(f"{option} {value} is out of range", f"use {low} to {high}")


def run(args: argparse.Namespace) -> int:
    if args.target_pose and args.target_pose not in POSES[args.kind]:  # before minutes of training
        raise InputError(f"pose '{args.target_pose}' is not one of {args.kind}'s",
                         f"use one of {', '.join(POSES[args.kind])}")
    _check_numbers(args)
    _deferred.torch.set_num_threads(max(1, args.threads))
    progress = TerminalProgress(quiet=args.quiet)
    say = (lambda *a: None) if args.quiet else print
    out = OwnedFolder.claim(args.out, "demo", OUTPUT_NAMES)
    t_start = time.perf_counter()
    source = args.model or default_model_source()
    if not Path(source).is_dir():
        raise InputError(f"toy model '{source}' not found", "reinstall LIPE or pass --model")
    model = _deferred.load_sdxl(source, device="cpu", dtype="fp32")

    individual = Individual.random(np.random.default_rng(args.seed), kind=args.kind)
    say(f"identity: a {individual.description} (markings {individual.pattern_colour}/{individual.accent_colour})")
    refs = reference_scenes(individual, REFERENCES, seed=args.seed)
    instance = []
    for i, scene in enumerate(refs):
        img, _ = scene.render()
        out.save_image(f"reference_{i + 1}.png", img)
        instance.append((img, sks_caption(scene)))
    out.write_text("captions.txt", "\n".join(c for _, c in instance) + "\n")
    say("captions: taken from the toy world's ground truth (no captioner model used), e.g.")
    say(f"  '{instance[0][1]}'")
    classes = [(s.render()[0], s.caption()) for s in class_scenes(args.kind, 8, seed=args.seed + 1)]

    t0 = time.perf_counter()
    config = _deferred.TrainingConfig(max_steps=args.lora_steps, resolution=64, rank=8, lr_unet=1e-3,
                                      lr_text=1e-3, checkpoint_every=max(args.lora_steps, 1), device="cpu")
    lora_dir = _deferred.train_identity_lora(model, instance, classes, out.path("prior"), config=config, progress=progress)
    t_train = time.perf_counter() - t0
    _deferred.load_lora(model, lora_dir)

    case = edit_cases(individual, 1, seed=args.seed + 2)[0]
    if args.target_pose:
        case = EditCase(case.scene, args.target_pose)
    photo, gt_mask = case.scene.render()
    out.save_image("target_photo.png", photo)
    src, tgt, ident = case.prompts(personalized=True)
    say(f"edit: '{src}' -> '{tgt}' (identity '{ident}')")
    t0 = time.perf_counter()
    params = _deferred.edit_params_for(source, steps=args.steps, skip=max(1, args.steps // 10))  # + the model's own settings
    res = _deferred.edit_image(model, photo, src, [tgt], ident, params=params, progress=progress)
    t_edit = time.perf_counter() - t0
    edited = res.images[0]
    out.save_image("edited.png", edited)
    masks = {name: _save_mask(m, out, f"{name}.png", 64) for name, m in
             (("source_mask", res.source_mask), ("target_mask", res.target_masks[0]),
              ("union_mask", res.union_masks[0]))}
    verdict = _deferred.judge_edit(edited, case)
    truth = case.scene.with_pose(case.target_pose).render()[0]
    notes = [f"verdict: {verdict.describe()}"] if verdict.success else [
        "verdict: failed (compare 'after' with 'success would be')", *[f"- {p}" for p in verdict.problems()]]
    _sheet([("before", photo), ("after", edited), ("success would be", truth), ("M^s", masks["source_mask"]),
            ("M^e", masks["target_mask"]), ("M_t", masks["union_mask"])], out, "before_after.png", notes=tuple(notes))

    region = _deferred.resize_mask(res.union_masks[0], gt_mask.shape) > 0.5
    keep = ~(region | (gt_mask > 0.05))
    seconds = {"lora_training": round(t_train, 1), "nima_edit": round(t_edit, 1),
               "total": round(time.perf_counter() - t_start, 1)}
    report = {
        "identity": individual.description, "source_prompt": src, "target_prompt": tgt,
        "target_pose": case.target_pose, "success": verdict.success, "verdict": verdict.to_dict(),
        "source_mask_iou": _deferred.iou(res.source_mask, gt_mask),
        "background_psnr_db": _deferred.masked_psnr(edited, photo, keep),  # outside NIMA's region and the sprite
        "seconds": seconds,
    }
    out.write_text("report.json", json.dumps(report, indent=2))
    if verdict.success:
        say(f"verdict: {verdict.describe()}")
    else:
        say("verdict: the edit FAILED; what went wrong:")
        for problem in verdict.problems():
            say(f"  - {problem}")
        say(f"  (before_after.png shows the edit next to what success would be: the {individual.description} "
            f"{case.scene.action(case.target_pose)} facing {case.scene.facing})")
    say(f"mask IoU {report['source_mask_iou']:.2f}; background PSNR {report['background_psnr_db']:.1f} dB")
    say(f"wrote {out.folder}/before_after.png, edited.png, masks, report.json in {seconds['total']:.0f} s")
    return 0
