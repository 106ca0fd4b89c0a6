"""``lipe prompts CLASS --count N``: regularization prompts for a subject class (LLM or templates), cached."""

from __future__ import annotations

import argparse
import json
import sys

from .. import locations
from ..prompts import regularization_prompts
from ._progress import TerminalProgress
from .library import add_data_dir_option, open_library


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "prompts",
        help="regularization prompts for a class word (local LLM GGUF, else templates)",
        description="Make COUNT realistic single-subject prompts naming CLASS. With an instruction LLM (GGUF) "
        "its answers are parsed and checked; without one (or to fill up) a deterministic template "
        "generator is used. The list is cached per class word in the library and reused.",
    )
    p.add_argument("class_word", metavar="CLASS", help="e.g. dog, cat, person, backpack")
    p.add_argument("--count", type=int, default=100)
    p.add_argument("--llm", default=None, help="instruction model .gguf (default: setting llm_gguf / $LIPE_LLM_GGUF)")
    p.add_argument("--no-llm", action="store_true", help="templates only, even if an LLM is configured")
    p.add_argument("--token", default=None, help="the identity's rare token: prompts containing it are dropped")
    p.add_argument("--refresh", action="store_true", help="ignore the cache and make a new list")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the per-class cache")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.add_argument("--quiet", action="store_true")
    add_data_dir_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    with open_library(args) as lib:
        llm = None if args.no_llm else locations.resolve("llm_gguf", args.llm, lib)
        cache = None if args.no_cache else locations.DataLayout(lib.data_dir).regularization
        prompts = regularization_prompts(args.class_word, args.count, llm_path=llm, cache_dir=cache,
                                         progress=TerminalProgress(quiet=args.quiet), seed=args.seed,
                                         rare_token=args.token, refresh=args.refresh)
    if args.json:
        json.dump(prompts, sys.stdout, indent=1)
        print()
    else:
        for prompt in prompts:
            print(prompt)
    print(f"{len(prompts)} prompts for '{args.class_word}' ({'LLM + templates' if llm else 'templates'})",
          file=sys.stderr)
    return 0
