"""``lipe`` command line: each module in this package adds its own subcommands.

A module joins the CLI by defining ``register(subparsers)``; it sets ``func`` on its parser, which
receives the parsed args and returns an exit code. Modules are discovered, so adding a command never
means editing this file.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from .. import __version__
from ..errors import Cancelled, LipeError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lipe", description="LIPE: learn a personalized identity prior and edit poses in your photos."
    )
    parser.add_argument("--version", action="version", version=f"lipe {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(subparsers)
    return parser


# Commands that load models; ``queue`` only when it runs jobs.
MODEL_COMMANDS = {"caption", "demo", "edit", "eval", "prompts", "train"}


def _loads_models(args: argparse.Namespace) -> bool:
    if args.command == "queue":
        return getattr(args, "queue_command", None) == "run"
    return args.command in MODEL_COMMANDS


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    try:
        if _loads_models(args):
            from ..doctor import require_tested_stack

            require_tested_stack()  # an untested model stack fails here in one line, not deep in a run
        return int(args.func(args) or 0)
    except LipeError as exc:
        print(f"lipe: error: {exc}", file=sys.stderr)
        return 2
    except (Cancelled, KeyboardInterrupt):
        print("lipe: cancelled", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
