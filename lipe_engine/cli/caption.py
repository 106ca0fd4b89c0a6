"""``lipe caption IDENTITY``: editing-oriented captions of an identity's reference photos (LLaVA GGUF)."""

from __future__ import annotations

import argparse

from ..captioning import caption_identity
from ._progress import TerminalProgress
from .library import add_data_dir_option, open_library


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "caption",
        help="caption an identity's reference photos with a LLaVA model (GGUF)",
        description="Describe each reference photo (view, subject, action, attire/hair, setting) with a local "
        "LLaVA-family model and store the captions, naming the subject by its rare token. Captions you "
        "edited are kept.",
    )
    p.add_argument("identity", help="identity name (or id)")
    p.add_argument("--llava", default=None, help="LLaVA model .gguf (default: setting llava_gguf / $LIPE_LLAVA_GGUF)")
    p.add_argument("--mmproj", default=None, help="its projector .gguf (default: setting llava_mmproj / $LIPE_LLAVA_MMPROJ)")
    p.add_argument("--handler", default=None, help="chat handler: llava15, llava16, mtmd, ... (default: from the files)")
    p.add_argument("--missing-only", action="store_true", help="only photos without a caption")
    p.add_argument("--overwrite-edited", action="store_true", help="also replace captions you edited")
    p.add_argument("--cpu", action="store_true", help="keep the model off the GPU")
    p.add_argument("--set", nargs=2, metavar=("PHOTO", "TEXT"), default=None,
                   help="write your own caption for one photo (id or path) instead; it is never overwritten")
    p.add_argument("--quiet", action="store_true")
    add_data_dir_option(p)
    p.set_defaults(func=run)


def _ident_ref(text: str) -> int | str:
    return int(text) if text.isdigit() else text


def run(args: argparse.Namespace) -> int:
    with open_library(args) as lib:
        ident = lib.get_identity(_ident_ref(args.identity))
        if args.set:
            photo, text = args.set
            stored = lib.set_caption(_ident_ref(photo), text, identity=ident.id, by_user=True)
            print(f"caption of photo {stored.photo_id} for '{ident.name}': {stored.text}")
            return 0
        n = caption_identity(lib, ident.id, llava=args.llava, mmproj=args.mmproj, handler=args.handler,
                             only_missing=args.missing_only, overwrite_user_edits=args.overwrite_edited,
                             n_gpu_layers=0 if args.cpu else -1, progress=TerminalProgress(quiet=args.quiet))
        for link in lib.identity_photos(ident.id, role="reference"):
            cap = lib.get_caption(link.photo, identity=ident.id, fallback_generic=False)
            mark = " (edited by you)" if cap and cap.edited_by_user else ""
            print(f"{link.photo.path.name}: {cap.text if cap else '-'}{mark}")
        print(f"{n} caption(s) written for '{ident.name}'")
    return 0
