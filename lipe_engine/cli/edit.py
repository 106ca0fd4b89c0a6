"""``lipe edit``: NIMA edit of one photo from the command line."""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import locations
from ..edit_settings import EDIT_OPTIONS, PREVIEW_HELP, SEED_MAX, SETTINGS, option_help
from ..errors import InputError
from ._progress import TerminalProgress
from .library import add_data_dir_option, open_existing_library


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
    p.add_argument("--model", default=None, help="SDXL folder, .safetensors file or cached hub id (default: the configured one: "
                   "library setting sdxl_model, else $LIPE_SDXL_MODEL, else the shipped toy model)")
    p.add_argument("--model-config", default=None, help="diffusers SDXL folder with configs for a single-file model")
    p.add_argument("--out", required=True, help="output PNG; with several outputs, _1, _2... are added")
    p.add_argument("--overwrite", action="store_true",
                   help="replace existing output files (never an original photo of the library)")
    p.add_argument("--save-masks", default=None, metavar="DIR", help="write source/target/union masks as PNGs here")
    for name in EDIT_OPTIONS:  # declared once with EditParams: range, default and help
        setting = SETTINGS[name]
        p.add_argument(setting.option, type=setting.kind, default=None, help=option_help(name))
    p.add_argument("--preview", action="store_true", help=PREVIEW_HELP)
    p.add_argument("--no-mask", action="store_true", help="ablation: no NIMA blend")
    p.add_argument("--composite", action="store_true", help="paste original pixels back outside the mask")
    p.add_argument("--seed", type=int, action="append", default=None,
                   help=f"extra variations with this seed, 0 to {SEED_MAX} (repeatable)")
    p.add_argument("--device", default=None)
    p.add_argument("--precision", default=None, help="auto, fp32, fp16 or bf16")
    p.add_argument("--cache-dir", default=None, help="inversion cache folder (default: app cache)")
    p.add_argument("--quiet", action="store_true")
    add_data_dir_option(p)
    p.set_defaults(func=run)


def check_outputs(args: argparse.Namespace, n: int) -> tuple[list[Path], Path | None]:
    """Every file the edit will write, checked before any work: no model loads for a bad path."""
    from ..library import default_data_dir
    from ..library.safe_paths import check_new_file, writable_folder
    from ..nima.outputs import IMAGE_FORMATS, mask_paths, output_paths

    out = Path(args.out).expanduser()
    if out.suffix.lower() not in IMAGE_FORMATS:
        raise InputError(f"output '{out}' has no image suffix", "end it with .png, .jpg or .webp")
    data_dir = Path(args.data_dir).expanduser() if args.data_dir else default_data_dir()
    photo = Path(args.image).expanduser()
    paths = [check_new_file(p, overwrite=args.overwrite, protected=(photo,), data_dir=data_dir)
             for p in output_paths(out, n)]
    if args.cache_dir:
        cache = writable_folder(args.cache_dir, "inversion cache folder")
        if cache.exists() and not cache.is_dir():
            raise InputError(f"inversion cache folder '{cache}' is a file", "give a folder for --cache-dir")
    for lora in args.lora:
        if not Path(lora).expanduser().exists():
            raise InputError(f"LoRA '{lora}' does not exist", "give a LoRA folder or .safetensors file (--lora)")
    masks = None
    if args.save_masks:
        masks = writable_folder(args.save_masks, "mask folder")
        if masks.exists() and not masks.is_dir():
            raise InputError(f"mask folder '{masks}' is a file", "give a folder for --save-masks")
        for m in mask_paths(masks, n):
            check_new_file(m, overwrite=args.overwrite, protected=(photo,), data_dir=data_dir, option="--save-masks")
    return paths, masks


def run(args: argparse.Namespace) -> int:
    from ..images import open_photo
    from ..library.safe_paths import check_path_text
    from ..nima import edit_params_for

    open_photo(check_path_text(args.image, "image")).close()  # a missing or broken photo: before anything loads
    for what, text in (("source prompt", args.prompt_source), ("identity prompt", args.identity_prompt),
                       *(("target prompt", t) for t in args.prompt_target)):
        if not text.strip():  # the token-length check needs the tokenizer: it runs once the model is loaded
            raise InputError(f"the {what} is empty", "describe it in words, e.g. 'a photo of a sks dog sitting'")
    with open_existing_library(args) as lib:
        source = locations.sdxl_model(args.model, lib)
    seeds: tuple[int | None, ...] = (None, *args.seed) if args.seed else (None,)
    params = edit_params_for(  # options not given fall back to the model's shipped settings, then the paper's
        source, steps=args.steps, skip=args.skip, cfg_source=args.cfg_source, cfg_target=args.cfg_target,
        mask_lambda=args.mask_lambda, mask_threshold=args.mask_threshold, use_mask=False if args.no_mask else None,
        composite=True if args.composite else None, seeds=seeds,
    )
    paths, masks = check_outputs(args, len(args.prompt_target) * len(params.seeds))
    if args.preview:  # the same edit on the preview schedule (edit_settings.preview_schedule)
        params = params.preview()
    if args.quiet:
        from .train import quiet_model_loading

        quiet_model_loading()

    from ..models.loader import load_lora, load_sdxl
    from ..nima import InversionCache, edit_image
    from ..nima.outputs import write_edit_files

    model = load_sdxl(source, device=args.device, dtype=args.precision, config=args.model_config)
    for lora in args.lora:
        load_lora(model, lora)
    cache = InversionCache(Path(args.cache_dir) if args.cache_dir else locations.inversion_cache_dir())
    res = edit_image(model, args.image, args.prompt_source, args.prompt_target, args.identity_prompt,
                     params, progress=TerminalProgress(quiet=args.quiet), cache=cache)
    for path in write_edit_files(res, paths, masks, overwrite=args.overwrite)[: len(paths)]:
        print(path)
    return 0

