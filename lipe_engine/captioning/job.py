"""The queue's ``caption`` jobs: describe an identity's photos with LLaVA overnight, one model load
for all of them, before the trainings and edits that read the captions.

Job config (library ``jobs.config``, kind ``caption``)::

    {"runner": "engine" | "desktop", "identity_name": "Rex", "photos": [photo ids],
     "llava": "<model.gguf>", "mmproj": "<projector.gguf>", "handler": None | "llava15" ...}

Photos: the ones named, else the identity's reference photos (its training captions) and its photos
to edit (their source prompts). A photo that already has the identity's caption is skipped, and a
caption the user wrote is never replaced, so a stopped or killed job resumes where it stopped (the
captions are the job's record). Rewriting captions the model wrote is ``lipe caption NAME``'s, not
the queue's. The LLaVA files are checked when the job is queued (not at 3 a.m.) and recorded, so a
queue runner started elsewhere describes with the same model.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import locations
from ..errors import InputError, LipeError
from ..progress import PrefixedStages, ProgressReporter
from .llava import LlavaCaptioner
from .photo import caption_photo

if TYPE_CHECKING:
    from ..library import Library
    from ..library.identities import IdentityRef
    from ..library.photos import PhotoRef
    from ..library.records import Identity, Job, Photo

KIND = "caption"
MAX_PHOTOS = 10_000


def default_caption_photos(lib: Library, ident: Identity) -> list[Photo]:
    """The identity's reference photos, then its photos to edit (present on disk)."""
    photos = [link.photo for role in ("reference", "target") for link in lib.identity_photos(ident.id, role=role)]
    return list({p.id: p for p in photos if not p.missing}.values())


def uncaptioned(lib: Library, ident: Identity, photo_ids: Sequence[int]) -> list[Photo]:
    """The photos among ``photo_ids`` still without the identity's caption (gone ones left out)."""
    out = []
    for pid in photo_ids:
        try:
            photo = lib.get_photo(pid)
        except LipeError:
            continue
        if not photo.missing and lib.get_caption(photo, identity=ident.id, fallback_generic=False) is None:
            out.append(photo)
    return out


def caption_job_config(lib: Library, identity: IdentityRef, photos: Sequence[PhotoRef] = (), *,
                       llava: str | None = None, mmproj: str | None = None, handler: str | None = None,
                       runner: str = "engine") -> dict[str, Any]:
    """A validated caption-job config: the photos exist and the LLaVA files are a usable pair."""
    ident = lib.get_identity(identity)
    resolved = [lib.get_photo(p) for p in photos] if photos else default_caption_photos(lib, ident)
    if not resolved:
        raise InputError(f"identity '{ident.name}' has no photo to caption",
                         f"add photos to it (`lipe identity add {ident.name} PHOTO...`)")
    if len(resolved) > MAX_PHOTOS:
        raise InputError(f"{len(resolved)} photos in one caption job are too many", f"queue at most {MAX_PHOTOS}")
    gone = [p for p in resolved if p.missing or not Path(p.path).is_file()]
    if gone:
        raise InputError(f"photo '{gone[0].path}' is gone from disk", "restore it, or leave it out")
    model = locations.resolve("llava_gguf", llava, lib)
    proj = locations.resolve("llava_mmproj", mmproj, lib)
    if not (model and proj):
        raise InputError("no LLaVA model is set to describe the photos",
                         "pass --llava MODEL.gguf --mmproj PROJECTOR.gguf (or set $LIPE_LLAVA_GGUF and "
                         "$LIPE_LLAVA_MMPROJ, or LLaVA in the desktop Settings)")
    checked = LlavaCaptioner(model, proj, handler=locations.resolve("llava_handler", handler, lib))  # no load
    if runner not in ("engine", "desktop"):
        raise InputError(f"job runner '{runner}' is unknown", "use engine or desktop")
    return {"runner": runner, "identity_name": ident.name, "photos": list(dict.fromkeys(p.id for p in resolved)),
            "llava": str(checked.model_path), "mmproj": str(checked.mmproj_path), "handler": checked.handler_name}


def enqueue_caption(lib: Library, identity: IdentityRef, photos: Sequence[PhotoRef] = (), **settings: Any) -> Job:
    """Queue captioning of ``photos`` (default: the identity's references and photos to edit)."""
    from ..jobs.queue import add_job

    ident = lib.get_identity(identity)
    return add_job(lib, KIND, caption_job_config(lib, ident, photos, **settings), ident.id)


def run_caption_job(lib: Library, job: Job, reporter: ProgressReporter, *, model: str | None = None,
                    device: str | None = None, note: Any = lambda text: None) -> dict[str, Any]:
    """Run (or resume) a caption job; returns its result (``summary`` is the job's last message).
    ``model`` (the SDXL model of the queue run) has no part in it; ``device="cpu"`` keeps LLaVA
    off the GPU."""
    cfg = dict(job.config or {})
    name = cfg.get("identity_name", "?")
    if job.identity_id is None:
        raise InputError(f"the identity of caption job {job.id} ('{name}') was deleted",
                         "create it again and queue a new caption job")
    try:
        ident = lib.get_identity(int(job.identity_id))
    except LipeError as exc:
        raise InputError(f"identity '{name}' was deleted after caption job {job.id} was queued",
                         "create it again and queue a new caption job") from exc
    photo_ids = [int(p) for p in cfg.get("photos") or [] if isinstance(p, int) and not isinstance(p, bool)]
    for key in ("llava", "mmproj", "handler"):  # the job's own record, read as untrusted all the same
        if cfg.get(key) is not None and not isinstance(cfg.get(key), str):
            raise InputError(f"caption job {job.id}'s {key} setting is damaged", "queue the captioning again")
    todo = uncaptioned(lib, ident, photo_ids)
    done_before = len(photo_ids) - len(todo)
    if not todo:
        return {"captioned": 0, "photos": len(photo_ids), "summary": f"all {len(photo_ids)} photo(s) have captions"}
    captioner = LlavaCaptioner(cfg.get("llava"), cfg.get("mmproj"), handler=cfg.get("handler"),
                               n_gpu_layers=0 if device == "cpu" else -1)
    progress = PrefixedStages(reporter)
    written, failed = 0, []
    reporter.start(f"photo {done_before + 1}/{len(photo_ids)}: load {captioner.model_name}", 1)  # a resumed job's
    # bar stays where it stopped while the model loads
    with captioner as cap:
        reporter.step()
        for k, photo in enumerate(todo):
            reporter.check()
            progress.prefix = f"photo {done_before + k + 1}/{len(photo_ids)}: "
            try:
                stored = caption_photo(lib, photo, ident.id, captioner=cap, progress=progress, cancel=reporter.cancel)
            except InputError as exc:  # a photo damaged since it was queued: said, the others go on
                note(f"photo #{photo.id} skipped: {exc}")
                failed.append({"photo_id": photo.id, "message": str(exc)})
                continue
            written += 1
            note(f"photo #{photo.id}: {stored.text}")
    if written == 0 and failed:
        raise InputError(f"no photo of caption job {job.id} could be described ({failed[0]['message']})",
                         "fix the photos and retry the job")
    summary = f"{written} photo(s) of {ident.name} described"
    if done_before:
        summary += f" ({done_before} already were)"
    if failed:
        summary += f"; {len(failed)} photo(s) skipped"
    return {"captioned": written, "photos": len(photo_ids), "failed": failed, "summary": summary}
