"""``lipe eval``: the paper's Table 2 (and ablations) on a dataset folder; resumable."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import locations
from ..edit_settings import EDIT_OPTIONS, SETTINGS
from ..errors import InputError
from . import _deferred
from ._progress import TerminalProgress
from .library import add_data_dir_option, open_existing_library


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "eval",
        help="compare LIPE with MasaCtrl, DreamCtrl, LEDITS++ and ablations on a dataset (Table 2 metrics)",
        description=(
            "Edit every subject of DATASET with each method, score DINOv2-I, CLIP-I, CLIP-T and CLIP-D, and "
            "write OUT/results.csv, OUT/table.md, OUT/images/ and OUT/grid.png (a comparison grid: a row per "
            "edit with its target prompt, the test photo then each method). Running it again resumes: rows already "
            "in results.csv are skipped. Dataset layout: DATASET/<subject>/{references/, test.jpg, "
            "prompts.json} (see docs/evaluation.md)."
        ),
    )
    p.add_argument("dataset", help="dataset folder: one subfolder per subject")
    p.add_argument("--methods", default=",".join(_deferred.DEFAULT_METHODS),
                   help=f"comma-separated, from {', '.join(_deferred.METHODS)} (default: %(default)s)")
    p.add_argument("--out", required=True, help="output folder (results.csv, table.md, images/, priors/)")
    p.add_argument("--subjects", default=None, help="comma-separated subject names (default: all)")
    p.add_argument("--model", default=None, help="SDXL folder, .safetensors file or cached hub id (default: the configured one, as lipe edit)")
    p.add_argument("--model-config", default=None, help="diffusers SDXL folder with configs for a single-file model")
    p.add_argument("--device", default=None)
    p.add_argument("--precision", default=None, help="auto, fp32, fp16 or bf16")
    for name in EDIT_OPTIONS:  # every method shares these; defaults and help as lipe edit's (one place)
        s = SETTINGS[name]
        p.add_argument(s.option, type=s.kind, default=s.default, help=f"{s.help} (default: %(default)s)")
    p.add_argument("--masactrl-step", type=int, default=None,
                   help="MasaCtrl: first controlled step after skip (default: 8%% of --steps, MasaCtrl's 4 of 50)")
    p.add_argument("--masactrl-layer", type=int, default=None,
                   help="MasaCtrl: first controlled self-attention layer (default: first decoder layer)")
    p.add_argument("--ledits-guidance", type=float, default=5.0,
                   help="LEDITS++: edit guidance scale (default: diffusers' %(default)s)")
    p.add_argument("--ledits-threshold", type=float, default=0.9,
                   help="LEDITS++: edit mask threshold (default: diffusers' %(default)s)")
    p.add_argument("--train-steps", type=int, default=None, help="prior training steps (default: the paper's 1000 epochs)")
    p.add_argument("--train-rank", type=int, default=None, help="LoRA rank of the priors")
    p.add_argument("--train-resolution", type=int, default=None, help="training resolution (default: model's native)")
    p.add_argument("--train-lr", type=float, default=None, help="prior learning rate, UNet and text (paper: 5e-4)")
    p.add_argument("--dino-model", default=None, help="DINOv2 folder or cached hub id (default: library setting "
                   "dino_model, else $LIPE_DINO_MODEL, else facebook/dinov2-base)")
    p.add_argument("--clip-model", default=None, help="CLIP folder or cached hub id (default: library setting "
                   "clip_model, else $LIPE_CLIP_MODEL, else openai/clip-vit-large-patch14)")
    p.add_argument("--no-metrics", action="store_true", help="only edit; a later run with metrics scores the rows")
    p.add_argument("--max-batch", type=int, default=4, help="target prompts edited in one batch")
    p.add_argument("--make-toy-dataset", type=int, default=0, metavar="N",
                   help="first write N toy-world subjects into DATASET (kept as it is when it already has "
                        "subjects, so the same command resumes)")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads for torch (default: torch's; 1 is often faster on busy shared cores)")
    p.add_argument("--quiet", action="store_true")
    add_data_dir_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    methods = _deferred.parse_methods(args.methods)
    if args.threads is not None:
        if args.threads < 1:
            raise InputError(f"--threads {args.threads} is not usable", "use 1 or more")
        _deferred.torch.set_num_threads(args.threads)
    if args.make_toy_dataset:
        root = Path(args.dataset)
        if root.is_dir() and any(root.glob("*/prompts.json")):
            print(f"using the toy dataset already in {root}", file=sys.stderr)
        else:
            _deferred.make_toy_dataset(root, args.make_toy_dataset)
    edit = _deferred.EditParams(steps=args.steps, skip=args.skip, cfg_source=args.cfg_source,
                                cfg_target=args.cfg_target, mask_lambda=args.mask_lambda,
                                mask_threshold=args.mask_threshold)
    edit.validate()
    ledits = _deferred.LeditsParams(steps=args.steps, skip=args.skip, cfg_source=args.cfg_source,
                                    edit_guidance=args.ledits_guidance, edit_threshold=args.ledits_threshold)
    ledits.validate()
    training = None
    if args.train_steps or args.train_rank or args.train_resolution or args.train_lr:
        training = _deferred.TrainingConfig(device=args.device)
        if args.train_steps:
            training.max_steps = args.train_steps
        if args.train_rank:
            training.rank = args.train_rank
        if args.train_resolution:
            training.resolution = args.train_resolution
        if args.train_lr:
            training.lr_unet = training.lr_text = args.train_lr
        training.validate()
    if args.max_batch < 1:
        raise InputError(f"--max-batch {args.max_batch} is not usable", "use 1 or more")
    config = _deferred.EvalConfig(
        methods=methods, out_dir=Path(args.out), edit=edit,
        masactrl=_deferred.MasaCtrlParams(start_step=args.masactrl_step, start_layer=args.masactrl_layer),
        ledits=ledits,
        training=training, max_batch=args.max_batch, score=not args.no_metrics,
        subjects=[s.strip() for s in args.subjects.split(",") if s.strip()] if args.subjects else None,
    )

    with open_existing_library(args) as lib:  # models: flag > library setting > environment > shipped
        sdxl = locations.sdxl_model(args.model, lib)
        dino, clip = locations.resolve("dino_model", args.dino_model, lib), locations.resolve("clip_model", args.clip_model, lib)

    def model_factory():  # type: ignore[no-untyped-def]
        return _deferred.load_sdxl(sdxl, device=args.device, dtype=args.precision, config=args.model_config)

    def scorer_factory():  # type: ignore[no-untyped-def]
        assert dino is not None and clip is not None  # both have shipped defaults (the paper's encoders)
        return _deferred.Scorer.load(dino, clip, device=args.device)

    ev = _deferred.Evaluation(args.dataset, config, model_factory, scorer_factory,
                              progress=TerminalProgress(quiet=args.quiet))
    summary = ev.run()
    print(f"edited {summary.edited}, already done {summary.skipped}, scored {summary.scored}; "
          f"results in {Path(args.out) / 'results.csv'}", file=sys.stderr)
    print(summary.markdown, end="")
    return 0
