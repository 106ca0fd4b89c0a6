"""One identity-prior job, start to end: captions -> regularization prompts -> class images -> LoRA.

Every stage is idempotent, which is what makes a killed or stopped job resumable by simply running
it again: photos that already have a caption are not captioned again, prompts and class images are
cached per class word, and training continues from its newest checkpoint in the job's output folder.

Job config (library ``jobs.config``, kind ``train``)::

    {"runner": "engine" | "desktop" (who queued it), "preset": "16gb" | None,
     "overrides": {TrainingConfig fields}, "output_dir": "<data>/loras/<id>/<hex>",
     "model": "<SDXL source>" | None, "caption": true, "class_images": 70, "class_steps": 30}

The desktop app and ``lipe queue`` queue, order and run the same jobs (``queue``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import locations
from ..captioning import caption_identity, photos_to_caption, reference_links
from ..errors import InputError
from ..library import LibraryError
from ..photo_reader import open_photo
from ..progress import ProgressReporter
from ..prompts import regularization_prompts

if TYPE_CHECKING:
    from ..library import Library
    from ..library.identities import IdentityRef
    from ..library.records import Identity, Job

log = logging.getLogger(__name__)

# the paper's: its regularization set is one SDXL image per GPT-4 prompt, and its two prompts (Tab. 4
# and 5) ask for 20 and 50 prompts of the class (DreamBooth itself used ~100-200)
DEFAULT_CLASS_IMAGES = 70
DEFAULT_CLASS_STEPS = 30


def job_config(
    lib: Library,
    identity: IdentityRef,
    *,
    preset: str | None = None,
    overrides: dict[str, Any] | None = None,
    model: str | None = None,
    class_images: int = DEFAULT_CLASS_IMAGES,
    class_steps: int = DEFAULT_CLASS_STEPS,
    caption: bool = True,
    output_dir: str | None = None,
    runner: str = "engine",
) -> dict[str, Any]:
    """A validated job config (bad presets/overrides fail now, not overnight); ``runner``: who queued it."""
    from ..training import config_from_preset

    config_from_preset(preset, **dict(overrides or {}))
    if isinstance(class_images, bool) or not isinstance(class_images, int) or not 0 <= class_images <= 100_000:
        raise InputError(f"{class_images} class images is not usable", "use 0 (no prior preservation) to 100000")
    if isinstance(class_steps, bool) or not isinstance(class_steps, int) or not 1 <= class_steps <= 1000:
        raise InputError(f"{class_steps} denoising steps for class images is not usable", "use 1 to 1000")
    ident = lib.get_identity(identity)
    out = output_dir or str(lib.new_lora_dir(ident))
    if runner not in ("engine", "desktop"):
        raise InputError(f"job runner '{runner}' is unknown", "use engine or desktop")
    return {"runner": runner, "preset": preset, "overrides": dict(overrides or {}), "output_dir": out,
            "model": model, "caption": bool(caption), "class_images": int(class_images),
            "class_steps": int(class_steps), "identity_name": ident.name}


def _deleted(job: Job, when: str, output_dir: str | None = None, name: str | None = None) -> InputError:
    """The one line for an identity deleted after its job was queued (ids are never reused)."""
    name = name or (job.config or {}).get("identity_name")
    who = f"identity '{name}'" if name else f"the identity of job {job.id}"
    kept = f"; what it trained is kept in {output_dir}" if output_dir else ""
    return InputError(f"{who} was deleted {when}{kept}",
                      "create the identity again (`lipe identity create`) and queue a new job for it")


def reference_items(lib: Library, ident: Identity) -> list[tuple[Path, str]]:
    """(photo path, caption) of every reference photo; uncaptioned photos get the plain instance prompt."""
    out = []
    for link in reference_links(lib, ident):
        cap = lib.get_caption(link.photo, identity=ident.id)
        out.append((link.photo.path, cap.text if cap else f"a photo of a {ident.instance_prompt}"))
    return out


def run_pipeline(lib: Library, job: Job, reporter: ProgressReporter, *, model: str | None = None,
                 device: str | None = None, note=lambda text: None) -> dict[str, Any]:
    """Run the stages of ``job``; returns the job result (``lora``, ``lora_id``, counts). ``note`` logs a line."""
    from ..training import config_from_preset, train_identity_lora

    cfg_in = dict(job.config or {})

    if job.identity_id is None:
        if (job.config or {}).get("identity_name"):
            raise _deleted(job, f"after job {job.id} was queued")
        raise InputError(f"job {job.id} names no identity", "queue it with `lipe queue add IDENTITY`")
    try:
        ident = lib.get_identity(int(job.identity_id))
    except LibraryError as exc:
        raise _deleted(job, f"after job {job.id} was queued") from exc
    overrides = dict(cfg_in.get("overrides") or {})
    if device and device != "auto":
        overrides.setdefault("device", device)
    config = config_from_preset(cfg_in.get("preset"), **overrides)
    output_dir = cfg_in.get("output_dir") or str(lib.new_lora_dir(ident))
    source = locations.sdxl_model(model or cfg_in.get("model"), lib)
    result: dict[str, Any] = {"output_dir": output_dir, "model": source}

    if cfg_in.get("caption"):
        result["captioned"] = _captions(lib, ident, reporter, note)
    items = reference_items(lib, ident)
    for image, _text in items:  # a photo damaged or replaced since the scan: one line before the model loads
        open_photo(image, "reference photo")

    from ..models.loader import load_sdxl

    note(f"loading {source}")
    # Load in the precision the training runs in: loading fp32 and casting later would briefly hold
    # SDXL twice (~14 GB on a CPU asked for bf16). "auto" is the device's own choice (bf16 on CUDA).
    load_dtype = {"no": "fp32", "bf16": "bf16", "fp16": "fp16"}.get(config.mixed_precision)
    loaded = load_sdxl(source, device=config.device, dtype=load_dtype)
    class_items = None
    n_class = int(cfg_in.get("class_images") or 0)
    if n_class > 0:
        class_items = _class_data(lib, ident, loaded, n_class, int(cfg_in.get("class_steps") or DEFAULT_CLASS_STEPS),
                                  config.resolution or loaded.native_size, config.seed, reporter, note)
        result["class_images"] = len(class_items)
    note(f"training {config.total_steps(len(items))} steps on {len(items)} photo(s)"
         f"{f' + {len(class_items)} class images' if class_items else ''}")
    lora_dir = train_identity_lora(loaded, items, class_items, output_dir, config, progress=reporter, name=ident.name)
    try:
        lora = lib.record_lora(ident, lora_dir, base_model=source,
                               settings={"preset": cfg_in.get("preset"), **overrides,
                                         "class_images": len(class_items or [])}, job_id=job.id)
    except LibraryError as exc:
        if lib.conn.execute("SELECT 1 FROM identities WHERE id = ?", (ident.id,)).fetchone() is None:
            raise _deleted(job, f"while job {job.id} was training", str(output_dir), ident.name) from exc
        raise
    result.update(lora=str(lora_dir), lora_id=lora.id, kohya=str(Path(output_dir) / "lora_kohya.safetensors"))
    return result


def _captions(lib: Library, ident: Identity, reporter: ProgressReporter, note) -> int:
    if not photos_to_caption(lib, ident, only_missing=True, overwrite_user_edits=False):
        return 0
    llava, mmproj = locations.resolve("llava_gguf", None, lib), locations.resolve("llava_mmproj", None, lib)
    if not (llava and mmproj):
        # An overnight queue should not stop for this: the photos train with the plain instance prompt.
        note("no captioner configured (llava_gguf/llava_mmproj): uncaptioned photos use the plain instance prompt")
        return 0
    n = caption_identity(lib, ident.id, llava=llava, mmproj=mmproj, progress=reporter, only_missing=True)
    note(f"{n} caption(s) written")
    return n


def _class_data(lib, ident, loaded, count, steps, resolution, seed, reporter, note) -> list[tuple[Path, str]]:
    from ..training.class_images import class_images_dir, render_class_images

    cache = locations.DataLayout(lib.data_dir).regularization
    llm = locations.resolve("llm_gguf", None, lib)
    prompts = regularization_prompts(ident.class_word, count, llm_path=llm, cache_dir=cache, progress=reporter,
                                     rare_token=ident.token)
    note(f"{len(prompts)} regularization prompts for '{ident.class_word}' ({'LLM' if llm else 'templates'} + cache)")
    folder = class_images_dir(cache, ident.class_word, loaded.model_id, resolution, steps, 7.5, seed)
    return render_class_images(loaded, ident.class_word, prompts, folder, resolution=resolution, steps=steps,
                               seed=seed, progress=reporter)
