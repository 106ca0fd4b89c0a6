"""``lipe`` command line: each module in this package adds its own subcommands.

A module joins the CLI by defining ``register(subparsers)``; it sets ``func`` on its parser, which
receives the parsed args and returns an exit code. Modules are discovered, so adding a command never
means editing this file.

Only the chosen command's module is imported: ``lipe --version`` and ``lipe --help`` read each
module's command name and help line from its source (the one ``subparsers.add_parser("name",
help="...")`` in ``register``) without importing it, so they never load torch. A module whose
``register`` does not spell its command that way (a computed name, several commands) is imported
to register it: slower, still correct.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import importlib
import io
import os
import pkgutil
import sqlite3
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from .. import __version__
from ..errors import Cancelled, LipeError
from . import _deferred
from ._progress import quiet_third_party_output

EXIT_BROKEN_PIPE = 141  # what a shell reports for a process ended by SIGPIPE (128 + 13)


@dataclass(frozen=True)
class Command:
    name: str  # the subcommand (``lipe NAME``)
    module: str  # the module under lipe_engine.cli that registers it
    help: str


def _static_command(path: Path) -> tuple[str, str] | None:
    """(name, help) of the one ``subparsers.add_parser("name", help=...)`` in ``register``, else None."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return None
    register = next(
        (n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "register"), None
    )
    if register is None or not register.args.args:
        return None
    subparsers = register.args.args[0].arg
    calls = sorted(
        (
            n for n in ast.walk(register)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "add_parser"
            and isinstance(n.func.value, ast.Name) and n.func.value.id == subparsers
        ),
        key=lambda n: (n.lineno, n.col_offset),
    )
    if len(calls) != 1 or not calls[0].args:  # several commands in one module: imported instead
        return None
    name = calls[0].args[0]
    if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
        return None
    text = next((kw.value for kw in calls[0].keywords if kw.arg == "help"), None)
    try:
        help_text = ast.literal_eval(text) if text is not None else ""
    except ValueError:  # an f-string or a name: the help line stays empty
        help_text = ""
    return name.value, help_text if isinstance(help_text, str) else ""


def discover() -> tuple[list[Command], list[str]]:
    """Commands found statically, and the modules that must be imported to learn theirs."""
    commands, dynamic = [], []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        found = _static_command(Path(__path__[0]) / f"{info.name}.py")
        if found is None:
            dynamic.append(info.name)
        else:
            commands.append(Command(found[0], info.name, found[1]))
    return commands, dynamic


def _register(module_name: str, subparsers: argparse._SubParsersAction) -> None:
    module = importlib.import_module(f"{__name__}.{module_name}")
    register = getattr(module, "register", None)
    if register is not None:
        register(subparsers)


def _chosen_command(argv: Sequence[str]) -> str | None:
    """The first word that is not an option: the top-level parser's options take no values."""
    for arg in argv:
        if arg == "--":
            return None
        if not arg.startswith("-"):
            return arg
    return None


class _Parser(argparse.ArgumentParser):
    """argparse's parser with the house's one-line errors (argparse prints the usage block first);
    the subcommands' parsers are of the same class (``add_subparsers`` uses the parent's)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"lipe: error: {message}: see `{self.prog} --help`.\n".replace("\n.", "."))


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The ``lipe`` parser; only the command named in ``argv`` gets its real (imported) parser."""
    parser = _Parser(
        prog="lipe", description="LIPE: learn a personalized identity prior and edit poses in your photos."
    )
    parser.add_argument("--version", action="version", version=f"lipe {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands, dynamic = discover()
    chosen = _chosen_command(argv or [])
    for module_name in dynamic:
        _register(module_name, subparsers)
    for cmd in commands:
        if cmd.name == chosen:
            _register(cmd.module, subparsers)
        else:  # a placeholder: listed in --help, never parsed into
            subparsers.add_parser(cmd.name, help=cmd.help, add_help=False)
    return parser


# Commands that load models; ``queue`` only when it runs jobs.
MODEL_COMMANDS = {"caption", "demo", "edit", "eval", "prompts", "train"}  # and `versions redo`


def _loads_models(args: argparse.Namespace) -> bool:
    if args.command == "queue":
        return getattr(args, "queue_command", None) == "run"
    if args.command == "versions":
        return (getattr(args, "what", None) or [""])[0] == "redo"
    return args.command in MODEL_COMMANDS


def _silence_stdout() -> None:
    """After a reader went away (``lipe ... | head``): drop what is still buffered, quietly."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # stdout is not a real file (tests): nothing to do
        pass


def _run(argv: list[str]) -> int:
    quiet_third_party_output()  # before any command module imports the libraries
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    if _loads_models(args):
        _deferred.require_tested_stack()  # an untested model stack fails here in one line, not deep in a run
    return int(args.func(args) or 0)


def _prepare_streams() -> None:
    """``lipe ... >&-``: Python sets a closed standard stream to None; output then goes nowhere, as it
    would to /dev/null, instead of every print raising. Text that cannot be encoded (a file name with
    bytes that are not UTF-8) is printed with escapes rather than failing the command."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115 - lives as long as the process
        elif isinstance(stream, io.TextIOWrapper) and stream.errors == "strict":
            with contextlib.suppress(ValueError, OSError):
                stream.reconfigure(errors="backslashreplace")


def _check_text_arguments(args: Sequence[str]) -> None:
    """An argument that is not UTF-8 text (a Latin-1 terminal, a byte in a file name) reaches Python as
    lone surrogates, which no prompt, name or library path can hold: one line, before any work."""
    for arg in args:
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            shown = arg.encode("utf-8", "backslashreplace").decode("ascii", "backslashreplace")
            raise LipeError(f"argument '{shown}' is not valid UTF-8 text",
                            "retype it in a UTF-8 terminal (LANG=*.UTF-8) or rename the file to a UTF-8 name") from None


def main(argv: Sequence[str] | None = None) -> int:
    _prepare_streams()
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        try:
            _check_text_arguments(args)
            return _run(args)
        finally:
            sys.stdout.flush()  # here, not at exit (also after --help): a closed pipe is caught below
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except LipeError as exc:
        print(f"lipe: error: {exc}", file=sys.stderr)
        return 2
    except sqlite3.DatabaseError as exc:  # raised outside a library block: still one line, with the way out
        named = _deferred.not_damaged_error(Path("library.sqlite"), exc)
        if named is not None:
            print(f"lipe: error: {named}", file=sys.stderr)
        else:
            print(f"lipe: error: library database error ({exc}): `lipe library restore` lists backups.",
                  file=sys.stderr)
        return 2
    except OSError as exc:  # disk full, permissions: the file and the reason, not a traceback
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"lipe: error: {exc.strerror or exc}{where}: check the disk and permissions.", file=sys.stderr)
        return 2
    except (Cancelled, KeyboardInterrupt):
        print("lipe: cancelled", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
