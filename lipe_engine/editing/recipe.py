"""The recipe of a version: everything needed to make the same image again, or to explain it.

Model (source, id and a SHA-256 of its weight files), LoRA (file hash), the photo (content hash),
the prompts, every edit setting with the seeds, the batch the output was sampled in (on some
devices a batch's numbers depend on its size, so a redo samples the same batch), the scheduler and
its configuration, device and precision, the masks' hashes and the app's and libraries' versions.

Hashing SDXL's ~7 GB of weights takes seconds, so file hashes are remembered in the library's
settings, keyed by path, size and modification time (and read back as untrusted text).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import __version__
from ..errors import InputError

if TYPE_CHECKING:
    from ..library import Library
    from ..models.loader import LoadedModel
    from ..nima import EditResult
    from .plan import EditPlan

RECIPE_VERSION = 1
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".ckpt", ".pt", ".gguf")
_HASH_KEY = "file_sha256:"
PRECISIONS = {"torch.float32": "fp32", "torch.float16": "fp16", "torch.bfloat16": "bf16"}


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def file_sha256(path: str | os.PathLike[str], lib: Library | None = None) -> str:
    """SHA-256 of a file, remembered in the library's settings while its size and mtime stay."""
    p = Path(path).resolve()
    st = p.stat()
    stamp = {"size": st.st_size, "mtime_ns": st.st_mtime_ns}
    key = _HASH_KEY + str(p)
    if lib is not None:
        try:
            known = json.loads(lib.get_setting(key) or "{}")
        except ValueError:
            known = {}
        digest = known.get("sha256") if isinstance(known, dict) else None
        if (isinstance(digest, str) and len(digest) == 64 and all(c in "0123456789abcdef" for c in digest)
                and {k: known.get(k) for k in stamp} == stamp):
            return digest
    digest = _sha256_file(p)
    if lib is not None:
        lib.set_setting(key, json.dumps({**stamp, "sha256": digest}))
    return digest


def weights_sha256(source: str | os.PathLike[str], lib: Library | None = None) -> str | None:
    """One SHA-256 over a model's or LoRA's weight files (a folder's, by relative path), or None for
    a hub id (its snapshot id in the model id names its content)."""
    p = Path(str(source)).expanduser()
    if p.is_file():
        return file_sha256(p, lib)
    if not p.is_dir():
        return None
    files = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in WEIGHT_SUFFIXES)
    h = hashlib.sha256()
    for f in files:
        h.update(f"{f.relative_to(p).as_posix()}\0{file_sha256(f, lib)}\n".encode())
    return h.hexdigest()


def array_sha256(mask: Any) -> str:
    arr = np.ascontiguousarray(np.asarray(mask, dtype=np.float32))
    return hashlib.sha256(f"{arr.shape}".encode() + arr.tobytes()).hexdigest()


def precision_name(dtype: Any) -> str:
    return PRECISIONS.get(str(dtype), str(dtype))


def _versions() -> dict[str, str]:
    import diffusers
    import torch

    return {"lipe": __version__, "torch": torch.__version__, "diffusers": diffusers.__version__}


def _plain(value: Any) -> Any:
    """A scheduler config value as JSON (tuples, numpy numbers)."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def build_recipe(lib: Library, plan: EditPlan, model: LoadedModel, result: EditResult, index: int,
                 photo_hash: str) -> dict[str, Any]:
    """The recipe of output ``index`` of ``result`` (made from ``plan`` with ``model``)."""
    sched = model.pipe.scheduler
    lora = None
    if plan.lora_path is not None:
        lora = {"id": plan.lora_id, "path": str(plan.lora_path), "sha256": weights_sha256(plan.lora_path, lib)}
    targets = list(dict.fromkeys(result.prompts))  # the batch's target prompts, in the plan's order
    # the change asked for (when each change gave its own target prompt)
    change = plan.changes[targets.index(result.prompts[index])] if len(plan.changes) == len(targets) else None
    params = result.params.to_dict()
    params["seeds"] = list(params["seeds"])
    if params.get("identity_words") is not None:
        params["identity_words"] = list(params["identity_words"])
    return {
        "recipe_version": RECIPE_VERSION,
        "app": _versions(),
        "photo": {"id": plan.photo_id, "path": str(plan.photo_path), "content_hash": photo_hash,
                  "version_id": plan.version_id},
        "identity": {"id": plan.identity_id, "name": plan.identity_name},
        "model": {"source": model.source, "id": model.model_id, "sha256": weights_sha256(model.source, lib)},
        "lora": lora,
        "prompts": {"source": plan.source_prompt, "identity": plan.identity_prompt,
                    "target": result.prompts[index], "targets": targets, "source_origin": plan.source_origin},
        "change": change,
        "index": index,
        "seed": result.seeds[index],
        "params": params,
        "scheduler": {"class": type(sched).__name__, "config": _plain(dict(sched.config))},
        "device": str(model.device),
        "precision": precision_name(model.dtype),
        "masks": {"source_sha256": array_sha256(result.source_mask),
                  "target_sha256": array_sha256(result.target_masks[index]),
                  "union_sha256": array_sha256(result.union_masks[index])},
    }


def _need(recipe: dict[str, Any], key: str, kind: type | tuple[type, ...], what: str) -> Any:
    value = recipe.get(key)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is int:
        raise InputError(f"the recipe's {what} is missing or damaged", "this version cannot be made again")
    return value


def checked_recipe(recipe: Any) -> dict[str, Any]:
    """A stored recipe, checked as untrusted input before a redo uses any of it."""
    from ..nima import EditParams

    if not isinstance(recipe, dict) or not recipe:
        raise InputError("this version has no recipe (it was saved before recipes were kept)",
                         "edit the photo again to make a replayable version")
    if recipe.get("recipe_version") != RECIPE_VERSION:
        raise InputError(f"recipe version {recipe.get('recipe_version')!r} is unknown",
                         "update LIPE Desktop to redo this version")
    for key, kind, what in (("photo", dict, "photo"), ("model", dict, "model"), ("prompts", dict, "prompts"),
                            ("params", dict, "edit settings"), ("index", int, "output index"),
                            ("device", str, "device"), ("precision", str, "precision")):
        _need(recipe, key, kind, what)
    prompts = recipe["prompts"]
    for key in ("source", "identity"):
        _need(prompts, key, str, f"{key} prompt")
    targets = _need(prompts, "targets", list, "target prompts")
    if not targets or not all(isinstance(t, str) and t.strip() for t in targets):
        raise InputError("the recipe's target prompts are damaged", "this version cannot be made again")
    try:
        params = EditParams(**recipe["params"])
        params.validate()
    except (TypeError, InputError) as exc:
        raise InputError(f"the recipe's edit settings are not usable ({exc})",
                         "this version cannot be made again") from exc
    if not 0 <= recipe["index"] < len(targets) * len(params.seeds):
        raise InputError(f"the recipe's output index {recipe['index']} is out of range",
                         "this version cannot be made again")
    if recipe["precision"] not in PRECISIONS.values():
        raise InputError(f"the recipe's precision '{recipe['precision']}' is unknown", "use fp32, fp16 or bf16")
    return recipe
