"""``lipe edit``: NIMA edit of one photo from the command line."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import InputError
from ._progress import TerminalProgress


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "edit",
        help="edit a subject's pose/expression/view in a photo (NIMA)",
        description="Edit the subject of IMAGE toward --prompt-target, keeping identity and background.",
    )
    p.add_argument("image", help="the photo to edit (never modified)")
    p.add_argument("--prompt-source", required=True, help="what the photo shows, e.g. 'a photo of a sks dog sitting'")
    p.add_argument("--prompt-target", required=True, action="append",
                   help="the wanted result; repeat for several edits sharing one inversion")
    p.add_argument("--identity-prompt", required=True, help="the subject with its rare token, e.g. 'a sks dog'")
    p.add_argument("--lora", action="append", default=[], help="personalized prior (LoRA folder or .safetensors)")
    p.add_argument("--model", default=None, help="SDXL folder, .safetensors file or cached hub id (default: configured)")
    p.add_argument("--model-config", default=None, help="diffusers SDXL folder with configs for a single-file model")
    p.add_argument("--out", required=True, help="output PNG; with several outputs, _1, _2... are added")
    p.add_argument("--save-masks", default=None, metavar="DIR", help="write source/target/union masks as PNGs here")
    p.add_argument("--steps", type=int, default=None,
                   help="default: 100 (the paper's), or the model's own setting")
    p.add_argument("--skip", type=int, default=None,
                   help="default: 10 (this project's choice; the paper gives none), or the model's own setting")
    p.add_argument("--cfg-source", type=float, default=None,
                   help="default: 3.5 (edit-friendly inversion's; the paper gives none), or the model's own setting")
    p.add_argument("--cfg-target", type=float, default=None,
                   help="default: 7.5 (SDXL's usual; the paper gives none), or the model's own setting")
    p.add_argument("--mask-lambda", type=int, default=None, help="self-attention refinement power (Eq. 2; default 1, this project's choice)")
    p.add_argument("--mask-threshold", type=float, default=None, help="default: 0.3 (prompt-to-prompt's), or the model's own setting")
    p.add_argument("--no-mask", action="store_true", help="ablation: no NIMA blend")
    p.add_argument("--composite", action="store_true", help="paste original pixels back outside the mask")
    p.add_argument("--seed", type=int, action="append", default=None,
                   help="extra variations with this seed (repeatable)")
    p.add_argument("--device", default=None)
    p.add_argument("--precision", default=None, help="auto, fp32, fp16 or bf16")
    p.add_argument("--cache-dir", default=None, help="inversion cache folder (default: app cache)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=run)


def default_model() -> str:
    """The configured model, else the shipped toy-world model."""
    try:
        from ..toyworld import default_model_source  # type: ignore[attr-defined]

        return str(default_model_source())
    except (ImportError, AttributeError, FileNotFoundError) as exc:
        raise InputError("no model configured", "pass --model with an SDXL folder, file or hub id") from exc


def default_cache_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("lipe-desktop")) / "inversions"


def save_mask(arr, path: Path) -> None:  # type: ignore[no-untyped-def]
    import numpy as np
    from PIL import Image

    Image.fromarray((np.clip(arr, 0, 1) * 255).astype("uint8")).save(path)


def run(args: argparse.Namespace) -> int:
    from ..models.loader import load_lora, load_sdxl
    from ..nima import InversionCache, edit_image, edit_params_for

    out = Path(args.out)
    if out.suffix.lower() not in (".png", ".jpg", ".jpeg", ".webp"):
        raise InputError(f"output '{out}' has no image suffix", "end it with .png, .jpg or .webp")
    if Path(args.image).resolve() == out.resolve():
        raise InputError("the output would overwrite the original photo", "choose another --out path")
    source = args.model or default_model()
    model = load_sdxl(source, device=args.device, dtype=args.precision, config=args.model_config)
    for lora in args.lora:
        load_lora(model, lora)
    seeds: tuple[int | None, ...] = (None, *args.seed) if args.seed else (None,)
    params = edit_params_for(  # options not given fall back to the model's shipped settings, then the paper's
        source, steps=args.steps, skip=args.skip, cfg_source=args.cfg_source, cfg_target=args.cfg_target,
        mask_lambda=args.mask_lambda, mask_threshold=args.mask_threshold, use_mask=False if args.no_mask else None,
        composite=True if args.composite else None, seeds=seeds,
    )
    cache = InversionCache(Path(args.cache_dir) if args.cache_dir else default_cache_dir())
    res = edit_image(model, args.image, args.prompt_source, args.prompt_target, args.identity_prompt,
                     params, progress=TerminalProgress(quiet=args.quiet), cache=cache)
    out.parent.mkdir(parents=True, exist_ok=True)
    paths = [out] if len(res.images) == 1 else [
        out.with_name(f"{out.stem}_{i + 1}{out.suffix}") for i in range(len(res.images))]
    for img, path in zip(res.images, paths, strict=True):
        img.save(path)
        print(path)
    if args.save_masks:
        d = Path(args.save_masks)
        d.mkdir(parents=True, exist_ok=True)
        save_mask(res.source_mask, d / "source_mask.png")
        for i, (tm, um) in enumerate(zip(res.target_masks, res.union_masks, strict=True)):
            save_mask(tm, d / f"target_mask_{i + 1}.png")
            save_mask(um, d / f"union_mask_{i + 1}.png")
    return 0
