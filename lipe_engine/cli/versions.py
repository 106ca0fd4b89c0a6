"""``lipe versions``: a photo's edited versions, made again from their recipes, reviewed, deleted.

::

    lipe versions PHOTO              # its versions: id, seed, target prompt, file
    lipe versions show ID            # a version's recipe (JSON)
    lipe versions redo ID            # the same image again from its recipe (a new version)
    lipe versions delete ID [ID...]  # only that version: its record and the files the app wrote
    lipe versions review [JOB]       # results of queued edits waiting for review
    lipe versions keep RESULT...     # kept results become versions ("all": every pending one)
    lipe versions discard RESULT...  # discarded results' files are deleted
"""

from __future__ import annotations

import argparse
import json
import sys

from ..editing import photo_in_library
from ..errors import InputError, LipeError
from . import _deferred
from ._progress import TerminalProgress
from .library import add_data_dir_option, open_library

ACTIONS = ("show", "redo", "delete", "review", "keep", "discard")


def _ids(words: list[str], what: str) -> list[int]:
    if not words:
        raise InputError(f"no {what} id given", f"give one, e.g. `lipe versions {what} 3` (ids: `lipe versions PHOTO`)")
    out = []
    for w in words:
        if not w.isdigit() or len(w) > 18:
            raise InputError(f"'{w}' is not a {what} id", "give whole numbers as listed by `lipe versions`")
        out.append(int(w))
    return out


def _list(lib, photo_ref: str) -> int:
    photo = photo_in_library(lib, photo_ref)
    edits = lib.list_edits(photo)
    for e in edits:
        seed = e.recipe.get("seed", (e.params.get("seeds") or [None])[0])
        replay = "replayable" if e.recipe else "no recipe"
        print(f"{e.id:>5}  seed {seed if seed is not None else '-':<6} {replay:<10} {e.target_prompt}  {e.output_path}")
    print(f"{len(edits)} version(s) of {photo.path}", file=sys.stderr)
    return 0


def _redo(lib, ids: list[int], quiet: bool) -> int:
    for edit_id in ids:
        new, same = _deferred.redo_version(lib, edit_id, progress=TerminalProgress(quiet=quiet))
        verdict = "identical pixels" if same else "pixels differ (another device, precision or library version?)"
        print(f"version {new.id} from the recipe of version {edit_id}: {verdict}: {new.output_path}")
    return 0


def _review(lib, job: int | None) -> int:
    pending = lib.list_edit_results(job_id=job, status="pending")
    names: dict[int, str] = {}
    for r in pending:
        if r.photo_id not in names:
            try:
                names[r.photo_id] = lib.get_photo(r.photo_id).path.name
            except LipeError:  # removed from the library since: its id says which
                names[r.photo_id] = f"#{r.photo_id}"
        print(f"{r.id:>5}  {names[r.photo_id]:<16} seed {r.seed if r.seed is not None else '-':<6} "
              f"{r.target_prompt}  {r.path}")
    print(f"{len(pending)} result(s) to review: `lipe versions keep ID...` / `lipe versions discard ID...`",
          file=sys.stderr)
    return 0


def run(args: argparse.Namespace) -> int:
    words = list(args.what)
    action = words[0] if words[0] in ACTIONS else None
    with open_library(args) as lib:
        if action is None:
            if len(words) != 1:
                raise InputError(f"'{words[0]}' is not an action", f"use a photo, or one of {', '.join(ACTIONS)}")
            return _list(lib, words[0])
        rest = words[1:]
        if action == "show":
            for edit_id in _ids(rest, "version"):
                e = lib.get_edit(edit_id)
                print(json.dumps({"id": e.id, "photo_id": e.photo_id, "output_path": str(e.output_path),
                                  "recipe": e.recipe}, indent=1))
            return 0
        if action == "redo":
            return _redo(lib, _ids(rest, "version"), args.quiet)
        if action == "delete":
            for edit_id in _ids(rest, "version"):
                removed = lib.delete_edit(edit_id)
                print(f"version {edit_id} deleted ({len(removed)} file(s) removed; the original is untouched)")
            return 0
        if action == "review":
            return _review(lib, _ids(rest, "job")[0] if rest else None)
        ids = ([r.id for r in lib.list_edit_results(status="pending")] if rest == ["all"]
               else _ids(rest, "result"))
        for rid in ids:
            if action == "keep":
                edit = lib.keep_edit_result(rid)
                print(f"result {rid} kept as version {edit.id}: {edit.output_path}")
            else:
                lib.discard_edit_result(rid)
                print(f"result {rid} discarded")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "versions", help="a photo's edited versions: list, show, redo from the recipe, delete, review",
        description="lipe versions PHOTO | show ID | redo ID | delete ID... | review [JOB] | keep ID...|all | "
                    "discard ID...|all",
    )
    p.add_argument("what", nargs="+", metavar="PHOTO|ACTION", help="a photo (list its versions) or an action and ids")
    p.add_argument("--quiet", action="store_true")
    add_data_dir_option(p)
    p.set_defaults(func=run)
