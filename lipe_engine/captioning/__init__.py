"""Editing-oriented captions of an identity's reference photos (LIPE 2.1, Appendix D.1.1).

::

    from lipe_engine.captioning import caption_identity
    n = caption_identity(lib, identity_id, llava="llava.gguf", mmproj="mmproj.gguf",
                         progress=cb, cancel=token)   # -> captions written

A LLaVA-family GGUF model plus its projector (``llava``/``mmproj``; else the library settings
``llava_gguf``/``llava_mmproj``, the ``LIPE_LLAVA_GGUF``/``LIPE_LLAVA_MMPROJ`` environment or the
desktop Settings) describes each reference photo; :func:`clean_caption` turns the answer into one
line naming the subject by its rare token ("a sks dog ..."). Captions are stored per identity in the
library; a caption the user edited is kept (never silently overwritten) unless
``overwrite_user_edits=True``. ``only_missing=True`` captions just the photos without a caption.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from .. import locations
from ..errors import InputError
from ..photo_reader import open_photo
from ..progress import CancelToken, ProgressCallback, ProgressReporter, as_reporter
from .llava import HANDLERS, LlavaCaptioner, choose_handler, image_data_uri, single_turn
from .text import CAPTION_REQUEST, MAX_WORDS, caption_request, clean_caption, insert_token

if TYPE_CHECKING:
    from ..library import Library
    from ..library.records import Identity, IdentityPhoto

__all__ = [
    "CAPTION_REQUEST", "HANDLERS", "MAX_WORDS", "LlavaCaptioner", "caption_identity", "caption_request",
    "choose_handler", "clean_caption", "image_data_uri", "insert_token", "photos_to_caption", "reference_links",
    "single_turn",
]


def reference_links(lib: Library, ident: Identity) -> list[IdentityPhoto]:
    """The identity's reference photo links; an identity without any cannot be captioned or trained."""
    refs = lib.identity_photos(ident.id, role="reference")
    if not refs:
        raise InputError(f"identity '{ident.name}' has no reference photo",
                         "add 1 or more photos of it as references (3-5 work best)")
    return list(refs)


def photos_to_caption(lib: Library, ident: Identity, only_missing: bool, overwrite_user_edits: bool) -> list[Any]:
    """Reference photos whose identity caption should be (re)written by the model."""
    todo = []
    for link in reference_links(lib, ident):
        cap = lib.get_caption(link.photo, identity=ident.id, fallback_generic=False)
        if cap is None:
            todo.append(link.photo)
        elif cap.edited_by_user:
            if overwrite_user_edits:
                todo.append(link.photo)
        elif not only_missing:
            todo.append(link.photo)
    return todo


def caption_identity(
    lib: Library,
    identity_id: int | str,
    *,
    llava: str | os.PathLike[str] | None = None,
    mmproj: str | os.PathLike[str] | None = None,
    progress: ProgressReporter | ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    handler: str | None = None,
    only_missing: bool = False,
    overwrite_user_edits: bool = False,
    n_gpu_layers: int = -1,
    captioner: Any = None,
) -> int:
    """Caption the identity's reference photos with LLaVA; returns how many captions were written.

    ``captioner`` (an object with ``describe(image, request)`` and ``model_name``) replaces LLaVA,
    e.g. in tests or for a remote service; it is not closed here.
    """
    reporter = as_reporter(progress, cancel)
    ident = lib.get_identity(identity_id)
    photos = photos_to_caption(lib, ident, only_missing, overwrite_user_edits)
    if not photos:
        return 0
    # Read every photo before loading a multi-GB model: an unreadable file fails in a second.
    images = [open_photo(p.path, "reference photo") for p in photos]
    request = caption_request(ident.class_word)
    cap_ctx = None
    if captioner is None:  # checks the files (exist, GGUF, model vs. projector) before any progress
        cap_ctx = LlavaCaptioner(
            locations.resolve("llava_gguf", llava, lib), locations.resolve("llava_mmproj", mmproj, lib),
            handler=locations.resolve("llava_handler", handler, lib), n_gpu_layers=n_gpu_layers,
        )
    reporter.start(f"caption '{ident.name}'", len(photos) + (0 if captioner else 1))
    written = 0
    if cap_ctx is not None:
        with cap_ctx as cap:
            reporter.step()
            written = _caption_all(lib, ident, photos, images, cap, request, reporter, overwrite_user_edits)
    else:
        written = _caption_all(lib, ident, photos, images, captioner, request, reporter, overwrite_user_edits)
    return written


def _caption_all(lib, ident, photos, images, cap, request, reporter, overwrite_user_edits) -> int:
    written = 0
    for photo, image in zip(photos, images, strict=True):
        raw = cap.describe(image, request)
        text = clean_caption(raw, ident.class_word, ident.token)
        stored = lib.set_caption(photo, text, identity=ident.id, model=cap.model_name, prompt=request,
                                 if_user_edited="overwrite" if overwrite_user_edits else "keep")
        written += int(not stored.edited_by_user)  # the user edited it meanwhile: kept, not counted
        reporter.step(caption=text[:60])
    return written
