"""``lipe identity``: create identities, link photos (reference/target), show, suggest, export."""

from __future__ import annotations

import argparse
import sys

from ..library.export import export_identity
from ..library.records import KINDS, ROLES
from ..similarity import suggest_similar
from ._progress import TerminalProgress
from .library import action_adder, open_library


def _create(args: argparse.Namespace) -> int:
    with open_library(args) as lib:
        i = lib.create_identity(args.name, args.class_word, token=args.token, kind=args.kind)
        print(f"identity '{i.name}': {i.kind}, prompt \"{i.instance_prompt}\"")
    return 0


def _add(args: argparse.Namespace) -> int:
    with open_library(args) as lib:
        n = lib.add_identity_photos(args.name, args.photos, role=args.role)
        print(f"{n} photos added to '{lib.get_identity(args.name).name}' as {args.role}")
    return 0


def _remove(args: argparse.Namespace) -> int:
    with open_library(args) as lib:
        if args.reject:
            n = lib.reject_identity_photos(args.name, args.photos)
            print(f"{n} photos marked as not '{args.name}' (never suggested again)")
        else:
            n = lib.remove_identity_photos(args.name, args.photos)
            print(f"{n} photos removed from '{args.name}'")
    return 0


def _show(args: argparse.Namespace) -> int:
    with open_library(args) as lib:
        i = lib.get_identity(args.name)
        print(
            f"{i.name}: {i.kind}, class '{i.class_word}', token '{i.token}', prompt \"{i.instance_prompt}\""
        )
        for link in lib.identity_photos(i, status=None):
            score = f" {link.score:.3f}" if link.score is not None else ""
            cap = lib.get_caption(link.photo, identity=i)
            text = f'  "{cap.text}"' if cap else ""
            print(f"  {link.role:9} {link.status:9}{score} {link.photo.id:>6} {link.photo.path}{text}")
        for lora in lib.list_loras(i):
            print(f"  LoRA {lora.id}: {lora.path} (base {lora.base_model}, {lora.created_at})")
    return 0


def _list(args: argparse.Namespace) -> int:
    with open_library(args) as lib:
        for i in lib.list_identities():
            refs = len(lib.identity_photos(i, role="reference"))
            tgts = len(lib.identity_photos(i, role="target"))
            print(f"{i.name}: {i.instance_prompt} ({i.kind}), {refs} reference, {tgts} target photos")
    return 0


def _export(args: argparse.Namespace) -> int:
    with open_library(args) as lib:
        res = export_identity(
            lib, args.name, args.dir, role=args.role, max_size=args.max_size, kohya_repeats=args.kohya_repeats,
            progress=TerminalProgress(quiet=args.quiet),
        )  # fmt: skip
        print(f"{len(res.images)} images with .txt captions in {res.dir}")
    return 0


def _suggest(args: argparse.Namespace) -> int:
    with open_library(args) as lib:
        found = suggest_similar(
            lib,
            args.name,
            top_k=args.top,
            min_score=args.min_score,
            progress=TerminalProgress(quiet=args.quiet),
        )
        for photo, score in found:
            print(f"{score:.3f} {photo.id:>6} {photo.path}")
        print(
            f"{len(found)} suggestions (confirm with `lipe identity add {args.name} PHOTO...`)",
            file=sys.stderr,
        )
    return 0


def _delete(args: argparse.Namespace) -> int:
    with open_library(args) as lib:
        lib.delete_identity(args.name)
        print(f"identity '{args.name}' deleted (photos and LoRA files on disk untouched)")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    ident = subparsers.add_parser("identity", help="subjects (person, pet, object) and their photos")
    cmd = action_adder(ident, "identity_command")

    p = cmd("create", _create, "create an identity")
    p.add_argument("name")
    p.add_argument("--class", dest="class_word", required=True, help="class word, e.g. dog, cat, person, toy")
    p.add_argument("--token", default=None, help="rare token (default: a free one such as sks)")
    p.add_argument("--kind", choices=KINDS, default=None, help="default: guessed from the class word")
    p = cmd("add", _add, "link photos (ids or paths) to an identity")
    p.add_argument("name")
    p.add_argument("photos", nargs="+", metavar="PHOTO")
    p.add_argument("--role", choices=ROLES, default="reference")
    p = cmd("remove", _remove, "unlink photos from an identity")
    p.add_argument("name")
    p.add_argument("photos", nargs="+", metavar="PHOTO")
    p.add_argument("--reject", action="store_true", help="also never suggest them again")
    p = cmd("show", _show, "an identity, its photos, captions and LoRAs")
    p.add_argument("name")
    cmd("list", _list, "all identities")
    p = cmd("export", _export, "write a training dataset (images + .txt captions) for kohya/OneTrainer")
    p.add_argument("name")
    p.add_argument("dir")
    p.add_argument("--role", choices=ROLES, default="reference")
    p.add_argument("--max-size", type=int, default=None, help="downscale longer side to this many pixels")
    p.add_argument("--kohya-repeats", type=int, default=None, help="put pairs in DIR/N_<token> <class>/")
    p.add_argument("-q", "--quiet", action="store_true")
    p = cmd(
        "suggest", _suggest, "find photos similar to the identity's confirmed ones (needs an embedding model)"
    )
    p.add_argument("name")
    p.add_argument("--top", type=int, default=20)
    p.add_argument("--min-score", type=float, default=None)
    p.add_argument("-q", "--quiet", action="store_true")
    p = cmd("delete", _delete, "delete an identity record")
    p.add_argument("name")
