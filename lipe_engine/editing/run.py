"""Run a planned edit, write its outputs as honest files, keep them as versions, make one again.

::

    models = Models()                                    # one loaded model (+ prior) reused across photos
    result, model = run_plan(plan, models, device="cpu", seeds=[None, 7], progress=cb, cancel=token)
    edit = save_version(lib, plan, model, result, 0)     # <data>/edits/<photo>/..., recipe recorded
    new, same = redo_version(lib, edit.id)               # the same image again (same device, precision)
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image

from ..errors import InputError
from ..images import open_photo, pixel_hash
from ..library.safe_paths import write_new_file
from ..progress import CancelToken, ProgressCallback, as_reporter
from .plan import EditPlan
from .provenance import FORMATS, read_original, save_with_provenance
from .recipe import build_recipe, checked_recipe, weights_sha256

if TYPE_CHECKING:
    from ..library import Library
    from ..library.records import Edit
    from ..models.loader import LoadedModel
    from ..nima import EditResult


class Models:
    """The loaded model (+ prior) of the last edit, reused while the next asks for the same."""

    def __init__(self) -> None:
        self.key: tuple[str, str | None, str | None, str | None] | None = None
        self.model: LoadedModel | None = None
        self.loads = 0

    def get(self, source: str, lora: Path | None, device: str | None, precision: str | None) -> LoadedModel:
        from ..models.loader import load_lora, load_sdxl

        key = (source, str(lora) if lora else None, device, precision)
        if self.model is None or self.key != key:
            self.model = None  # free the previous one before loading the next
            model = load_sdxl(source, device=None if device in (None, "auto") else device,
                              dtype=None if precision in (None, "auto") else precision)
            if lora is not None:
                load_lora(model, lora)
            self.model, self.key = model, key
            self.loads += 1
        return self.model


def run_plan(plan: EditPlan, models: Models, *, device: str | None = None, precision: str | None = None,
             progress: ProgressCallback | Any = None, cancel: CancelToken | None = None,
             cache: Any = None) -> tuple[EditResult, LoadedModel]:
    """Edit the plan's photo toward each target prompt x each seed of ``plan.params``."""
    from ..nima import EditParams, edit_image

    params = EditParams(**plan.params)
    model = models.get(plan.model, plan.lora_path, device, precision)
    result = edit_image(model, plan.photo_path, plan.source_prompt, list(plan.target_prompts), plan.identity_prompt,
                        params, progress=as_reporter(progress, cancel), cache=cache)
    return result, model


def photo_hash(path: Path) -> str:
    """The hash a recipe keeps of the photo it edited: its decoded, upright pixels."""
    return pixel_hash(open_photo(path))


def write_output(lib: Library, plan: EditPlan, model: LoadedModel, result: EditResult, index: int,
                 dest: Path, *, recipe: dict[str, Any] | None = None, overwrite: bool = False,
                 masks: bool = True) -> tuple[dict[str, Any], list[str]]:
    """Write output ``index`` to ``dest`` with its provenance (and its masks beside it); returns
    (recipe, mask paths). Never replaces a file unless ``overwrite``."""
    from ..nima.outputs import save_mask

    photo = lib.get_photo(plan.photo_id)
    if recipe is None:
        recipe = build_recipe(lib, plan, model, result, index, photo_hash(plan.photo_path))
    original = read_original(photo.path, photo.taken_at)
    recipe["photo"]["orientation"] = original.orientation
    fmt = FORMATS.get(dest.suffix.lower(), "PNG")
    write_new_file(dest, functools.partial(_save, result.images[index], fmt, recipe, original), overwrite=overwrite)
    mask_files: list[str] = []
    if masks:
        for name, mask in (("source", result.source_mask), ("target", result.target_masks[index])):
            path = dest.with_name(f"{dest.stem}-{name}-mask.png")
            write_new_file(path, functools.partial(_save_mask, save_mask, mask), overwrite=overwrite)
            mask_files.append(str(path))
    return recipe, mask_files


def _save(img: Any, fmt: str, recipe: dict[str, Any], original: Any, fh: Any) -> None:
    save_with_provenance(img, fh, fmt, recipe, original)


def _save_mask(save_mask: Any, mask: Any, fh: Any) -> None:
    save_mask(mask, fh)


def save_version(lib: Library, plan: EditPlan, model: LoadedModel, result: EditResult, index: int, *,
                 parent_edit: int | None = None, job_id: int | None = None) -> Edit:
    """Output ``index`` as a new version of the plan's photo, beside the original's other versions
    (``<data>/edits/<photo id>/``), with its recipe; the original is never touched."""
    dest = Path(lib.new_edit_path(plan.photo_id, ".png"))
    recipe, mask_files = write_output(lib, plan, model, result, index, dest)
    return lib.record_edit(plan.photo_id, dest, source_prompt=plan.source_prompt, target_prompt=result.prompts[index],
                           params=result.params_of(index), mask_paths=mask_files, identity=plan.identity_id,
                           lora_id=plan.lora_id, parent_edit=parent_edit if parent_edit is not None else plan.version_id,
                           job_id=job_id, recipe=recipe)


def run_and_save(lib: Library, plan: EditPlan, export_paths: list[Path] | None = None, *, device: str | None = None,
                 precision: str | None = None, progress: ProgressCallback | Any = None,
                 cancel: CancelToken | None = None, cache: Any = None, overwrite: bool = False,
                 models: Models | None = None) -> list[tuple[Edit, Path | None]]:
    """Run ``plan`` and keep every output as a version; ``export_paths`` (one per output, checked by
    the caller): honest copies written there too. Returns (version, exported copy or None) pairs."""
    result, model = run_plan(plan, models or Models(), device=device, precision=precision, progress=progress,
                             cancel=cancel, cache=cache)
    out: list[tuple[Edit, Path | None]] = []
    for i in range(len(result.images)):
        edit = save_version(lib, plan, model, result, i)
        exported = None
        if export_paths:
            exported = Path(export_paths[i])
            write_output(lib, plan, model, result, i, exported, recipe=edit.recipe, overwrite=overwrite, masks=False)
        out.append((edit, exported))
    return out


def plan_from_recipe(lib: Library, recipe: dict[str, Any]) -> EditPlan:
    """The plan a recipe was made from, checked against the files as they are now (one-line errors
    when the photo, the model or the prior changed since)."""
    recipe = checked_recipe(recipe)
    photo = recipe["photo"]
    path = Path(str(photo.get("path") or ""))
    if not path.is_file():
        raise InputError(f"the photo this version was made from ('{path}') is gone",
                         "restore the file to redo the version")
    if photo.get("content_hash") and photo_hash(path) != photo["content_hash"]:
        raise InputError(f"the photo '{path.name}' changed since this version was made",
                         "a redo would not be the same image: edit the photo anew instead")
    model = recipe["model"]
    source = str(model.get("source") or "")
    now = weights_sha256(source, lib) if source else None
    if model.get("sha256") and now != model["sha256"]:
        raise InputError(f"the model '{source}' changed since this version was made (its weights' hash differs)",
                         "point the app at the model the recipe names, or edit the photo anew")
    lora: dict[str, Any] = recipe["lora"] if isinstance(recipe.get("lora"), dict) else {}
    lora_path = None
    if lora.get("path"):
        lora_path = Path(str(lora["path"]))
        if not lora_path.exists():
            raise InputError(f"the prior this version used ('{lora_path}') is gone", "it cannot be made again")
        if lora.get("sha256") and weights_sha256(lora_path, lib) != lora["sha256"]:
            raise InputError(f"the prior '{lora_path}' changed since this version was made",
                             "it cannot be made the same way again")
    prompts = recipe["prompts"]
    ident: dict[str, Any] = recipe["identity"] if isinstance(recipe.get("identity"), dict) else {}
    targets = tuple(prompts["targets"])
    return EditPlan(
        photo_id=int(photo.get("id") or 0), photo_path=path, identity_id=ident.get("id"),
        identity_name=ident.get("name"), source_prompt=prompts["source"], source_origin="recipe",
        target_prompts=targets, changes=targets, identity_prompt=prompts["identity"], subject="",
        lora_id=lora.get("id"), lora_path=lora_path, waits_for_job=None,
        model=source, params=dict(recipe["params"]), version_id=photo.get("version_id"),
    )


def image_digest(path: Path) -> str:
    """SHA-256 of a file's decoded pixels (metadata aside): "the same image"."""
    with Image.open(path) as im:
        rgb = im.convert("RGB")
        return hashlib.sha256(f"{rgb.size}".encode() + rgb.tobytes()).hexdigest()


def redo_version(lib: Library, edit_id: int, *, progress: ProgressCallback | Any = None,
                 cancel: CancelToken | None = None, models: Models | None = None) -> tuple[Edit, bool]:
    """Make version ``edit_id`` again from its recipe, on the device and in the precision it names;
    saved as a new version of the same photo. Returns (new version, whether its pixels are identical)."""
    old = lib.get_edit(edit_id)
    recipe = checked_recipe(old.recipe)
    plan = plan_from_recipe(lib, recipe)
    if plan.photo_id != old.photo_id:
        raise InputError(f"version {edit_id}'s recipe names another photo", "it cannot be made again")
    result, model = run_plan(plan, models or Models(), device=recipe["device"], precision=recipe["precision"],
                             progress=progress, cancel=cancel)
    index = int(recipe["index"])
    new = save_version(lib, plan, model, result, index, parent_edit=old.parent_edit_id)
    same = old.output_path.is_file() and image_digest(old.output_path) == image_digest(new.output_path)
    return new, same
