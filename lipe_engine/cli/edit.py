"""``lipe edit``: NIMA edit of one photo from the command line.

By identity (the library plans it, ``lipe_engine.editing.plan``)::

    lipe edit PHOTO --identity Rex --to sitting --to "facing left" [--seed 7] [--out edited.png]

saves each result as a replayable version of the library photo (and, with ``--out``, exports copies).
For experts, the prompts can be given by hand (``--prompt-source``, ``--prompt-target``,
``--identity-prompt``, ``--lora``): with ``--identity`` they override the plan, without it the photo
need not be in the library and ``--out`` is where the results go.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import sys
from pathlib import Path
from typing import Any

from .. import locations
from ..edit_settings import EDIT_OPTIONS, PREVIEW_HELP, SEED_MAX, SETTINGS, option_help
from ..editing import photo_in_library, plan_edit
from ..editing.provenance import FORMATS, read_original, save_with_provenance
from ..errors import InputError
from ..library import default_data_dir
from ..library.safe_paths import check_new_file, check_path_text, writable_folder, write_new_file
from ..photo_reader import open_photo
from ._progress import TerminalProgress
from .library import add_data_dir_option, open_existing_library, open_library
from .train import quiet_model_loading


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "edit",
        help="edit a subject's pose/expression/view in a photo (NIMA)",
        description="Edit the subject of IMAGE, keeping identity and background: `--identity NAME --to CHANGE` "
                    "(the library writes the prompts), or every prompt by hand.",
    )
    p.add_argument("image", help="the photo to edit (never modified)")
    p.add_argument("--identity", default=None, metavar="NAME",
                   help="who the photo shows: prompts, prior and model come from the library")
    p.add_argument("--to", action="append", default=[], metavar="CHANGE",
                   help="the change wanted: 'sitting', 'facing left', 'smiling', or a whole target prompt "
                        "(repeatable; all share one inversion)")
    p.add_argument("--plan", action="store_true", help="print what would be edited with what, and stop")
    p.add_argument("--no-prior", action="store_true", help="with --identity: edit with the base model only")
    p.add_argument("--version", type=int, default=None, metavar="ID",
                   help="with --identity: start from this edited version of the photo")
    p.add_argument("--prompt-source", default=None, help="what the photo shows, e.g. 'a photo of a sks dog sitting'")
    p.add_argument("--prompt-target", default=None, action="append",
                   help="the wanted result, word for word; repeat for several edits sharing one inversion")
    p.add_argument("--identity-prompt", default=None, help="the subject with its rare token, e.g. 'a sks dog'")
    p.add_argument("--lora", action="append", default=[], help="personalized prior (LoRA folder or .safetensors)")
    p.add_argument("--model", default=None, help="SDXL folder, .safetensors file or cached hub id (default: the configured one: "
                   "library setting sdxl_model, else $LIPE_SDXL_MODEL, else the shipped toy model)")
    p.add_argument("--model-config", default=None, help="diffusers SDXL folder with configs for a single-file model")
    p.add_argument("--out", default=None, help="output PNG; with several outputs, _1, _2... are added "
                   "(with --identity: exported copies of the saved versions)")
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


def _settings(args: argparse.Namespace) -> dict:
    """The edit settings given on the command line (None: not given)."""
    seeds: tuple[int | None, ...] = (None, *args.seed) if args.seed else (None,)
    return {"steps": args.steps, "skip": args.skip, "cfg_source": args.cfg_source, "cfg_target": args.cfg_target,
            "mask_lambda": args.mask_lambda, "mask_threshold": args.mask_threshold,
            "use_mask": False if args.no_mask else None, "composite": True if args.composite else None,
            "seeds": seeds}


def run(args: argparse.Namespace) -> int:
    from ..nima import edit_params_for

    if args.identity is not None or args.to:
        return run_by_identity(args)
    missing = [flag for flag, value in (("--prompt-source", args.prompt_source), ("--prompt-target", args.prompt_target),
                                        ("--identity-prompt", args.identity_prompt), ("--out", args.out)) if not value]
    if missing:
        raise InputError(f"{missing[0]} is missing", "pass --identity NAME --to CHANGE (the library writes the "
                         "prompts), or every prompt by hand: --prompt-source, --prompt-target, --identity-prompt, --out")
    open_photo(check_path_text(args.image, "image")).close()  # a missing or broken photo: before anything loads
    for what, text in (("source prompt", args.prompt_source), ("identity prompt", args.identity_prompt),
                       *(("target prompt", t) for t in args.prompt_target)):
        if not text.strip():  # the token-length check needs the tokenizer: it runs once the model is loaded
            raise InputError(f"the {what} is empty", "describe it in words, e.g. 'a photo of a sks dog sitting'")
    with open_existing_library(args) as lib:
        source = locations.sdxl_model(args.model, lib)
    # options not given fall back to the model's shipped settings, then the paper's
    params = edit_params_for(source, **_settings(args))
    paths, masks = check_outputs(args, len(args.prompt_target) * len(params.seeds))
    if args.preview:  # the same edit on the preview schedule (edit_settings.preview_schedule)
        params = params.preview()
    if args.quiet:
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
    write_marked_images(res.images, paths, args.image, args.overwrite)
    if masks is not None:
        write_edit_files(dataclasses.replace(res, images=[]), [], masks, overwrite=args.overwrite)
    for path in paths:
        print(path)
    return 0


def write_marked_images(images: list[Any], paths: list[Path], original: str, overwrite: bool) -> None:
    """The outputs as honest files: IPTC's generative-model mark, the original's date and colour
    profile (no recipe: outside the library there is no version to replay)."""
    source = read_original(original)
    for img, path in zip(images, paths, strict=True):
        fmt = FORMATS.get(path.suffix.lower(), "PNG")
        write_new_file(path, functools.partial(_write_marked, img, fmt, source), overwrite=overwrite)


def _write_marked(img: Any, fmt: str, source: Any, fh: Any) -> None:
    save_with_provenance(img, fh, fmt, None, source)



def run_by_identity(args: argparse.Namespace) -> int:
    """Plan the edit from the library, run it, save every result as a version (``--out``: copies too)."""
    if args.identity is None:
        raise InputError("--to needs --identity", "say who the photo shows, e.g. --identity Rex --to sitting")
    if len(args.lora) > 1:
        raise InputError("several --lora with --identity", "give one prior (or none: the identity's newest)")
    with open_library(args) as lib:
        photo = photo_in_library(lib, args.image)
        plan = plan_edit(lib, photo, args.identity, args.to, exact_targets=args.prompt_target or (),
                         model=args.model, source_prompt=args.prompt_source, identity_prompt_text=args.identity_prompt,
                         lora=args.lora[0] if args.lora else None, use_prior=not args.no_prior, version=args.version,
                         params=_settings(args))
        if args.preview:  # the same edit on the preview schedule, as without --identity
            plan = plan.preview()
        if args.plan:
            print(plan.summary())
            return 0
        for note in plan.notes:
            print(f"lipe: {note}", file=sys.stderr)
        n = len(plan.target_prompts) * len(plan.params["seeds"])
        paths = check_outputs(args, n)[0] if args.out else []
        if args.quiet:
            quiet_model_loading()
        from ..editing.run import run_and_save
        from ..nima import InversionCache

        cache = InversionCache(Path(args.cache_dir) if args.cache_dir else locations.inversion_cache_dir())
        for edit, exported in run_and_save(lib, plan, paths, device=args.device, precision=args.precision,
                                           progress=TerminalProgress(quiet=args.quiet), cache=cache,
                                           overwrite=args.overwrite):
            print(f"version {edit.id}: {edit.output_path}" + (f" -> {exported}" if exported else ""))
    return 0
