"""Caption one photo for one identity: the source prompt of an edit (the paper inverts the photo with
its own description, then changes only the action).

::

    from lipe_engine.captioning.photo import caption_photo
    cap = caption_photo(lib, photo, identity_id, llava="llava.gguf", mmproj="mmproj.gguf",
                        progress=cb, cancel=token)        # -> the stored Caption

The same LLaVA request, cleaning and storage as :func:`caption_identity` (one line naming the subject
as "sks dog" once); a caption the user wrote is returned untouched and the model is not loaded.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from .. import locations
from ..photo_reader import open_photo
from ..progress import CancelToken, ProgressCallback, ProgressReporter, as_reporter
from .llava import LlavaCaptioner
from .text import caption_request, clean_caption

if TYPE_CHECKING:
    from ..library import Library
    from ..library.photos import PhotoRef


def caption_photo(
    lib: Library,
    photo: PhotoRef,
    identity_id: int | str,
    *,
    llava: str | os.PathLike[str] | None = None,
    mmproj: str | os.PathLike[str] | None = None,
    handler: str | None = None,
    progress: ProgressReporter | ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    n_gpu_layers: int = -1,
    captioner: Any = None,
) -> Any:
    """Describe ``photo`` with LLaVA (models: arguments, else the library/env/desktop settings) and
    store it as the identity's caption of the photo; returns the stored ``Caption``.

    ``captioner`` (``describe(image, request)`` and ``model_name``) replaces LLaVA and is not closed.
    """
    reporter = as_reporter(progress, cancel)
    ident = lib.get_identity(identity_id)
    p = lib.get_photo(photo)
    existing = lib.get_caption(p, identity=ident.id, fallback_generic=False)
    if existing is not None and existing.edited_by_user:
        return existing
    image = open_photo(p.path, "photo")  # an unreadable file fails before a multi-GB model loads
    request = caption_request(ident.class_word)
    reporter.start(f"describe {p.path.name}", 1 if captioner is not None else 2)
    if captioner is None:
        cap_ctx = LlavaCaptioner(
            locations.resolve("llava_gguf", llava, lib), locations.resolve("llava_mmproj", mmproj, lib),
            handler=locations.resolve("llava_handler", handler, lib), n_gpu_layers=n_gpu_layers,
        )
        with cap_ctx as cap:
            reporter.step()
            raw, model_name = cap.describe(image, request), cap.model_name
    else:
        raw, model_name = captioner.describe(image, request), captioner.model_name
    reporter.check()
    text = clean_caption(raw, ident.class_word, ident.token)
    stored = lib.set_caption(p, text, identity=ident.id, model=model_name, prompt=request, if_user_edited="keep")
    reporter.step(caption=text[:60])
    return stored
