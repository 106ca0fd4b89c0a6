"""``lipe library``: add photo folders, scan them, list photos, set the CLIP model "find similar" uses."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from .. import locations
from ..library import Library, backup, default_data_dir
from ..locations import DataLayout
from ..similarity import clip_for_library, embed_photos
from ._progress import TerminalProgress


def add_data_dir_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data-dir",
        metavar="DIR",
        default=None,
        help="library folder (default: $LIPE_DATA_DIR, else the user data folder)",
    )


def action_adder(group: argparse.ArgumentParser, dest: str) -> Callable[..., argparse.ArgumentParser]:
    """For ``lipe GROUP ACTION``: ``cmd(action, func, help)`` adds one action, with --data-dir."""
    sub = group.add_subparsers(dest=dest, metavar="ACTION", required=True)

    def cmd(action: str, func: Callable[[argparse.Namespace], int], help: str,
            aliases: tuple[str, ...] = ()) -> argparse.ArgumentParser:
        p = sub.add_parser(action, help=help, aliases=list(aliases))
        add_data_dir_option(p)
        p.set_defaults(func=func)
        return p

    return cmd


def open_library(args: argparse.Namespace) -> Library:
    return Library.open(getattr(args, "data_dir", None))


@contextlib.contextmanager
def open_existing_library(args: argparse.Namespace) -> Iterator[Library | None]:
    """The library of ``--data-dir`` for reading its settings, or None where there is none yet
    (a command that only reads a setting must not create a library as a side effect)."""
    folder = Path(args.data_dir).expanduser() if getattr(args, "data_dir", None) else default_data_dir()
    if not DataLayout(folder).database.is_file():
        yield None
        return
    with Library.open(folder) as lib:
        yield lib


def _print_report(report, stream=None) -> None:
    # Resolved at call time: a default bound at import would keep a stdout that tests replace.
    stream = stream or sys.stdout
    print(report.summary(), file=stream)
    for path, reason in report.skipped:
        print(f"  skipped {path}: {reason}", file=stream)


def _add(args: argparse.Namespace) -> int:
    with open_library(args) as lib:
        folder = lib.add_folder(args.folder)
        print(f"folder {folder.id}: {folder.path}")
        if not args.no_scan:
            _print_report(lib.scan([folder.id], progress=TerminalProgress(quiet=args.quiet)))
    return 0


def _scan(args: argparse.Namespace) -> int:
    with open_library(args) as lib:
        ids = [lib.get_folder(f).id for f in args.folders] or None
        _print_report(lib.scan(ids, progress=TerminalProgress(quiet=args.quiet)))
    return 0


def _list(args: argparse.Namespace) -> int:
    with open_library(args) as lib:
        photos = lib.list_photos(
            args.folder,
            include_missing=args.missing,
            include_duplicates=not args.no_duplicates,
            order=args.order,
            limit=args.limit,
        )
        if args.json:
            rows = [
                {
                    "id": p.id, "path": str(p.path), "width": p.width, "height": p.height, "taken_at": p.taken_at,
                    "hash": p.content_hash, "missing": p.missing, "duplicate_of": p.duplicate_of,
                }
                for p in photos
            ]  # fmt: skip
            json.dump(rows, sys.stdout, ensure_ascii=False, indent=1)
            print()
            return 0
        for p in photos:
            flags = (" [missing]" if p.missing else "") + (
                f" [duplicate of {p.duplicate_of}]" if p.duplicate_of else ""
            )
            print(f"{p.id:>6}  {p.width:>5}x{p.height:<5} {p.taken_at or '-':19}  {p.path}{flags}")
        print(f"{len(photos)} photos", file=sys.stderr)
    return 0


def _folders(args: argparse.Namespace) -> int:
    with open_library(args) as lib:
        for f in lib.list_folders():
            n = lib.count_photos(f)
            state = " [missing]" if f.missing else ""
            print(f"{f.id:>4}  {n:>6} photos  scanned {f.last_scan_at or 'never'}  {f.path}{state}")
    return 0


def _issues(args: argparse.Namespace) -> int:
    with open_library(args) as lib:
        issues = lib.scan_issues()
        for path, reason in issues:
            print(f"{path}: {reason}")
        print(f"{len(issues)} skipped files", file=sys.stderr)
    return 0


def _remove(args: argparse.Namespace) -> int:
    with open_library(args) as lib:
        f = lib.get_folder(args.folder)
        lib.remove_folder(f)
        print(f"removed folder {f.path} from the library (files on disk untouched)")
    return 0


KEY = "clip_model"
ENV = locations.MODEL_KEYS[KEY]


def _set_model(args: argparse.Namespace) -> int:
    with open_library(args) as lib:
        if args.clear:
            locations.store_model_choices(lib, {KEY: None})
            print(f"CLIP model cleared (now: {locations.resolve(KEY, None, lib)})")
            return 0
        if not args.model:
            print(f"CLIP model: {locations.resolve(KEY, None, lib)}")
            return 0
        clip_for_library(lib, args.model, device="cpu")  # refuse a model that does not load
        locations.store_model_choices(lib, {KEY: args.model})
        print(f"CLIP model set to {args.model}")
    return 0


def _embed(args: argparse.Namespace) -> int:
    with open_library(args) as lib:
        encoder = clip_for_library(lib)
        n = embed_photos(lib, encoder, progress=TerminalProgress(quiet=args.quiet))
        print(f"{n} photos embedded with {encoder.source}")
    return 0


def _data_dir(args: argparse.Namespace):
    return Path(args.data_dir).expanduser().absolute() if args.data_dir else default_data_dir()


def _backup(args: argparse.Namespace) -> int:
    with open_library(args) as lib:
        print(f"backup written: {lib.backup_now('manual')}")
    return 0


def _restore(args: argparse.Namespace) -> int:
    """List the backups, or put one in place (the current file is moved aside, never overwritten).

    Works on the files alone, so a damaged library (which ``Library.open`` refuses) can be restored.
    """
    data = _data_dir(args)
    if not args.backup:
        found = backup.list_backups(data)
        for i, b in enumerate(found, start=1):
            print(f"{i:>3}  {b.name}  {b.describe()}")
        print(f"{len(found)} backup(s) in {backup.backups_dir(data)}; restore one with "
              "`lipe library restore NAME_OR_NUMBER` (close the app first)", file=sys.stderr)
        return 0
    restored, aside = backup.restore(data, args.backup)
    kept = f"; the replaced file is kept as {aside}" if aside else ""
    print(f"restored {restored.name} ({restored.describe()}){kept}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    lib = subparsers.add_parser("library", help="photo folders, scanning and listing")
    cmd = action_adder(lib, "library_command")

    p = cmd("add", _add, "add a folder of photos (and scan it)")
    p.add_argument("folder")
    p.add_argument("--no-scan", action="store_true", help="only register the folder")
    p.add_argument("-q", "--quiet", action="store_true")
    p = cmd("scan", _scan, "rescan folders: new, changed and removed photos")
    p.add_argument("folders", nargs="*", help="folders to scan (default: all)")
    p.add_argument("-q", "--quiet", action="store_true")
    p = cmd("list", _list, "list photos")
    p.add_argument("--folder", default=None)
    p.add_argument("--missing", action="store_true", help="include photos no longer on disk")
    p.add_argument("--no-duplicates", action="store_true", help="hide exact copies")
    p.add_argument("--order", choices=["taken", "path", "added"], default="taken")
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--json", action="store_true")
    cmd("folders", _folders, "list library folders")
    cmd("issues", _issues, "files the last scans skipped, with the reason")
    p = cmd("remove", _remove, "forget a folder (files on disk are untouched)")
    p.add_argument("folder")
    p = cmd("set-clip-model", _set_model, f"CLIP model for 'find similar photos' and the metrics (or ${ENV})",
            aliases=("set-embedding-model",))  # the command's name before CLIP was one setting
    p.add_argument("model", nargs="?", help="local folder or Hugging Face id already in the cache")
    p.add_argument("--clear", action="store_true")
    cmd("backup", _backup, "write a backup of the library database now (backups/ in the data folder)")
    p = cmd("restore", _restore, "list the library's backups, or restore one (the current file is moved aside)")
    p.add_argument("backup", nargs="?", default=None, metavar="BACKUP", help="file name or number from the list")
    p = cmd("embed", _embed, "compute image embeddings for all photos")
    p.add_argument("-q", "--quiet", action="store_true")
