"""Thin adapter from the edit window to the engine (no Qt): keep a loaded model, run one NIMA
edit (target prompts x seeds from one inversion) on a worker thread, describe the photo with LLaVA
for its source prompt, and save chosen outputs as new versions of the photo."""

from __future__ import annotations

import gc
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lipe_engine.captioning.photo import caption_photo
from lipe_engine.editing.plan import EditPlan
from lipe_engine.editing.provenance import FORMATS, read_original, save_with_provenance
from lipe_engine.errors import InputError
from lipe_engine.library import Library
from lipe_engine.progress import CancelToken, ProgressCallback, ProgressReporter
from lipe_engine.toyworld import POSES
from lipe_engine.toyworld.world import ACTION_PHRASE

from ..bridge import download_model, needs_download

if TYPE_CHECKING:
    from lipe_engine.editing.plan import EditPlan
    from lipe_engine.library import Library
    from lipe_engine.library.records import Photo
    from lipe_engine.nima import EditResult

log = logging.getLogger(__name__)

PROMPT_SUGGESTIONS = (
    "sitting", "standing", "lying down", "jumping", "facing the camera", "looking left",
    "looking right", "looking up", "smiling", "with its mouth open",
)  # fmt: skip


def suggestions_for(class_word: str | None, toy_model: bool) -> tuple[str, ...]:
    """Pose/view phrases offered as buttons: the toy world's own for its model (it knows no other
    words), else the general ones."""
    if toy_model:
        poses = POSES.get((class_word or "").strip().lower(), POSES["dog"])
        return (*(ACTION_PHRASE.get(p, p) for p in poses), "facing left", "facing right")
    return PROMPT_SUGGESTIONS


def caption_for_edit(
    data_dir: Path, photo_id: int, identity_id: int, settings: dict[str, str], *,
    progress: ProgressCallback, cancel: CancelToken,
) -> str:
    """Describe the photo with the LLaVA from Settings (on a worker thread, its own library
    connection); stores it as the identity's caption and returns its text."""
    with Library.open(data_dir) as lib:
        cap = caption_photo(lib, photo_id, identity_id, llava=settings.get("llava_gguf") or None,
                            mmproj=settings.get("llava_mmproj") or None, progress=progress, cancel=cancel)
        return str(cap.text)


@dataclass
class EditRequest:
    photo_path: Path
    model: str  # SDXL folder / file / hub id from Settings
    source_prompt: str
    target_prompts: list[str]
    identity_prompt: str
    params: dict[str, Any] = field(default_factory=dict)  # EditParams fields
    preview: bool = False  # the preview schedule (EditParams.preview): a quick look before the full edit
    lora_path: str | None = None
    device: str = "auto"
    precision: str = "auto"
    cache_dir: Path | None = None
    allow_downloads: bool = False  # fetch a hub id that is not cached (the user allowed it)
    loaded: Any = None  # the model the edit ran with (set by run_edit; its recipe names it)
    plan: EditPlan | None = None  # the engine's plan this request runs (its recipe is the plan's)

    @classmethod
    def from_plan(cls, plan: EditPlan, **options: Any) -> EditRequest:
        """The request that runs ``plan`` (``options``: device, precision, preview, cache_dir...)."""
        return cls(photo_path=plan.photo_path, model=plan.model, source_prompt=plan.source_prompt,
                   target_prompts=list(plan.target_prompts), identity_prompt=plan.identity_prompt,
                   params=dict(plan.params), lora_path=str(plan.lora_path) if plan.lora_path else None,
                   plan=plan, **options)


class ModelHolder:
    """One loaded SDXL (+ LoRA) reused across edits; ``unload`` frees its memory."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[str, str, str, str | None] | None = None
        self._model: Any = None
        self.loads = 0

    def get(
        self, source: str, device: str, precision: str, lora: str | None, reporter: ProgressReporter
    ) -> Any:
        from lipe_engine.models.loader import load_lora, load_sdxl

        key = (source, device, precision, lora)
        with self._lock:
            if self._model is not None and self._key == key:
                return self._model
            self._model = None
            self._free()
            reporter.start("Loading model", 2 if lora else 1)
            model = load_sdxl(
                source,
                device=None if device == "auto" else device,
                dtype=None if precision == "auto" else precision,
            )
            reporter.step()
            if lora:
                load_lora(model, lora)
                reporter.step()
            self._model, self._key = model, key
            self.loads += 1
            return model

    def unload(self) -> None:
        with self._lock:
            self._model, self._key = None, None
            self._free()

    @staticmethod
    def _free() -> None:
        gc.collect()
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:  # pragma: no cover
            pass


def run_edit(
    holder: ModelHolder, req: EditRequest, *, progress: ProgressCallback, cancel: CancelToken
) -> Any:
    """Load (or reuse) the model and run ``edit_image``; returns the engine's ``EditResult``."""
    from lipe_engine.nima import InversionCache, edit_image, edit_params_for

    if not req.model.strip():
        raise InputError("no SDXL model is set", "open Settings and choose the SDXL model folder or file")
    if not any(t.strip() for t in req.target_prompts):
        raise InputError("the target prompt is empty", "type what the subject should do, e.g. 'sitting'")
    if needs_download(req.model, req.allow_downloads):
        download_model(req.model, progress=progress, cancel=cancel)
    reporter = ProgressReporter(progress, cancel)
    params = edit_params_for(req.model, **req.params)  # + what the model ships with (lipe_edit_defaults.json)
    if req.preview:
        params = params.preview()
    model = holder.get(req.model, req.device, req.precision, req.lora_path, reporter)
    cache = InversionCache(req.cache_dir) if req.cache_dir is not None else None
    req.loaded = model
    return edit_image(
        model,
        req.photo_path,
        source_prompt=req.source_prompt,
        target_prompts=req.target_prompts,
        identity_prompt=req.identity_prompt,
        params=params,
        progress=reporter,
        cancel=cancel,
        cache=cache,
    )


def plan_of_request(library: Library, photo: Photo, result: EditResult, req: EditRequest,
                    identity_id: int | None, lora_id: int | None) -> Any:
    """The plan of a request made without one (scripts, tests): its prompts as given."""
    from lipe_engine.editing.plan import EditPlan

    ident = library.get_identity(identity_id) if identity_id is not None else None
    targets = tuple(dict.fromkeys(result.prompts))
    return EditPlan(
        photo_id=photo.id, photo_path=Path(req.photo_path), identity_id=identity_id,
        identity_name=ident.name if ident is not None else None, source_prompt=req.source_prompt,
        source_origin="desktop", target_prompts=targets, changes=targets, identity_prompt=req.identity_prompt,
        subject=ident.instance_prompt if ident is not None else "", lora_id=lora_id,
        lora_path=Path(req.lora_path) if req.lora_path else None, waits_for_job=None, model=req.model,
        params=result.params.to_dict(),
        version_id=None if Path(req.photo_path) == Path(photo.path) else _version_of(library, photo, req),
    )


def _version_of(library: Library, photo: Photo, req: EditRequest) -> int | None:
    return next((e.id for e in library.list_edits(photo) if Path(e.output_path) == Path(req.photo_path)), None)


def save_version(
    library: Library,
    photo: Photo,
    result: EditResult,
    index: int,
    req: EditRequest,
    identity_id: int | None = None,
    lora_id: int | None = None,
) -> Any:
    """Output ``index`` as a new version of ``photo``, an honest file with its recipe (the engine's
    ``editing.run.save_version``: the settings the engine used, model and prior hashes, device...);
    the original is never touched."""
    from lipe_engine.editing.run import save_version as save_engine_version
    from lipe_engine.nima.outputs import save_edit_version

    if req.loaded is None:  # not run through run_edit (nothing names the model): the settings only
        return save_edit_version(library, photo, result, index, source_prompt=req.source_prompt,
                                 identity=req.plan.identity_id if req.plan else identity_id,
                                 lora_id=req.plan.lora_id if req.plan else lora_id)
    plan = req.plan or plan_of_request(library, photo, result, req, identity_id, lora_id)
    return save_engine_version(library, plan, req.loaded, result, index)


def export_result(library: Library, photo: Photo, result: EditResult, index: int, req: EditRequest,
                  dest: Path) -> Path:
    """Output ``index`` exported to ``dest`` (a new file) with XMP, the recipe and the original's
    date, orientation and colour profile."""
    from lipe_engine.editing.run import write_output

    if req.loaded is None:  # no model to name: the honest marks without a recipe
        original = read_original(photo.path, photo.taken_at)
        save_with_provenance(result.images[index], dest, FORMATS.get(dest.suffix.lower(), "PNG"), None, original)
        return dest
    plan = req.plan or plan_of_request(library, photo, result, req, None, None)
    write_output(library, plan, req.loaded, result, index, dest, masks=False, overwrite=dest.exists())
    return dest
