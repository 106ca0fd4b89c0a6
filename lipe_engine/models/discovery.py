"""Find models the user already has on disk, without downloading or loading any weights.

Looks in the Hugging Face cache and in the folders other tools use (``~/models``, AUTOMATIC1111,
ComfyUI, LM Studio, llama.cpp, ...; extend with ``LIPE_MODEL_DIRS`` or the ``dirs`` argument) and
classifies what it finds from small headers only: ``model_index.json``/``config.json``, the JSON
header of ``.safetensors`` files and the key/value header of ``.gguf`` files. Nothing is read past a file's
header. ``FoundModel.load_arg`` is what :func:`loader.load_sdxl` (or the GGUF/LLM code) accepts.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from huggingface_hub import constants as hf_constants

from ..progress import CancelToken
from .gguf import read_gguf_metadata


class Kind:
    SDXL_DIFFUSERS = "sdxl_diffusers"  # diffusers folder / HF repo with all SDXL parts
    SDXL_CHECKPOINT = "sdxl_checkpoint"  # one original-layout .safetensors
    LORA = "lora"
    LLAVA_GGUF = "llava_gguf"  # language model GGUF + mmproj (vision projector) GGUF
    LLM_GGUF = "llm_gguf"  # text-only GGUF language model
    CLIP = "clip"
    DINOV2 = "dinov2"
    OTHER_DIFFUSION = "other_diffusion"  # SD 1.x/2.x, refiner, inpainting: found but not usable


_ORDER = [Kind.SDXL_DIFFUSERS, Kind.SDXL_CHECKPOINT, Kind.LORA, Kind.LLAVA_GGUF, Kind.LLM_GGUF,
          Kind.CLIP, Kind.DINOV2, Kind.OTHER_DIFFUSION]


@dataclass(frozen=True)
class FoundModel:
    kind: str
    path: Path  # folder, file, or HF snapshot folder
    size: int  # bytes on disk (model + companion)
    label: str  # short, human readable
    source: str = "folder"  # "folder" or "hf-cache"
    repo_id: str | None = None  # for the HF cache, when refs/main points at this snapshot
    companion: Path | None = None  # mmproj file of a LLaVA pair
    usable: bool = True
    note: str = ""  # why it is not usable, or a hint
    info: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def load_arg(self) -> str:
        return self.repo_id if self.repo_id else str(self.path)


_HOME_DIRS = [
    "models", "Models", "AI/models",
    "stable-diffusion-webui/models", "stable-diffusion-webui-forge/models", "ComfyUI/models",
    "invokeai/models", "Fooocus/models",
    ".cache/lm-studio/models", ".lmstudio/models", "llama.cpp/models", ".cache/llama.cpp",
    ".cache/gpt4all", ".local/share/nomic.ai/GPT4All", ".cache/torch/hub/checkpoints",
]
_SKIP_DIRS = {"node_modules", "__pycache__", "site-packages", ".git", ".venv", "venv", "blobs", ".locks"}
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".gguf")


def hf_hub_cache() -> Path:
    """The Hugging Face hub cache in use now (honours HF_HUB_CACHE / HF_HOME)."""
    return Path(hf_constants.HF_HUB_CACHE).expanduser()


def default_search_dirs(home: Path | None = None) -> list[Path]:
    """Existing folders worth scanning: ``LIPE_MODEL_DIRS`` first, then the usual tool folders."""
    home = home or Path.home()
    extra = [Path(p).expanduser() for p in os.environ.get("LIPE_MODEL_DIRS", "").split(os.pathsep) if p]
    return [d for d in extra + [home / d for d in _HOME_DIRS] if d.is_dir()]


# ------------------------------------------------------------------ headers


def read_safetensors_header(path: Path) -> dict[str, Any]:
    """The JSON header of a .safetensors file (tensor names, dtypes, shapes, ``__metadata__``)."""
    with path.open("rb") as fh:
        n = int.from_bytes(fh.read(8), "little")
        if not 2 <= n <= 100_000_000:
            raise ValueError("bad header length")
        header = json.loads(fh.read(n))
    if not isinstance(header, dict):
        raise ValueError("header is not a JSON object")
    return header


# ------------------------------------------------------------------ classification


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    total = 0
    for root, _dirs, files in os.walk(path, followlinks=False):
        for f in files:
            with contextlib.suppress(OSError):
                total += os.stat(os.path.join(root, f)).st_size  # follows HF cache symlinks to blobs
    return total


def _has_weights(folder: Path) -> bool:
    return folder.is_dir() and any(p.suffix in _WEIGHT_SUFFIXES for p in folder.iterdir())


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def classify_diffusers_folder(folder: Path, label: str) -> FoundModel | None:
    index = _read_json(folder / "model_index.json")
    cls = str(index.get("_class_name", ""))
    if not cls:
        return None

    def present(name: str) -> bool:
        entry = index.get(name)
        return isinstance(entry, list) and entry[0] is not None

    unet_cfg = _read_json(folder / "unet" / "config.json")
    if "StableDiffusionXL" not in cls or not (present("text_encoder") and present("text_encoder_2")):
        what = "SDXL refiner" if "StableDiffusionXL" in cls else cls.replace("Pipeline", "")
        return FoundModel(Kind.OTHER_DIFFUSION, folder, _size(folder), label, usable=False,
                          note=f"{what}: LIPE needs an SDXL base model with two text encoders")
    # an inpainting UNet takes the mask and masked latents besides the noisy latents (9 in, 4 out); a
    # base UNet's in and out channels are both the VAE's latent channels (4 in SDXL, 8 in the toy model)
    if unet_cfg.get("in_channels", 4) != unet_cfg.get("out_channels", 4):
        return FoundModel(Kind.OTHER_DIFFUSION, folder, _size(folder), label, usable=False,
                          note="SDXL inpainting model: LIPE needs the base model")
    missing = [p for p in ("unet", "vae", "text_encoder", "text_encoder_2") if not _has_weights(folder / p)]
    note = "configs only (no weights); usable as the config of a single-file checkpoint" if missing else ""
    return FoundModel(Kind.SDXL_DIFFUSERS, folder, _size(folder), label, usable=not missing, note=note)


def classify_transformers_folder(folder: Path, label: str) -> FoundModel | None:
    if (folder / "open_clip_config.json").is_file():
        return FoundModel(Kind.CLIP, folder, _size(folder), label, info={"format": "open_clip"})
    cfg = _read_json(folder / "config.json")
    model_type = str(cfg.get("model_type", ""))
    kind = {"clip": Kind.CLIP, "clip_vision_model": Kind.CLIP, "dinov2": Kind.DINOV2}.get(model_type)
    if kind is None:
        return None
    weights = _has_weights(folder)
    return FoundModel(kind, folder, _size(folder), label, usable=weights,
                      note="" if weights else "config only (no weights)", info={"model_type": model_type})


_LORA_KEY = re.compile(r"lora_(down|up|A|B)\b|\.lora\.(down|up)\.|lora_unet_|lora_te\d?_")
_SDXL_LORA_HINT = re.compile(r"lora_te2_|text_encoder_2\.|lora_unet_(input|output|middle)_block|transformer_blocks[._]1[._]")


def classify_safetensors(path: Path) -> FoundModel | None:
    try:
        header = read_safetensors_header(path)
    except (OSError, ValueError):
        return None
    meta = header.pop("__metadata__", None) or {}
    keys = list(header)
    generic = path.stem in ("pytorch_lora_weights", "adapter_model", "model", "diffusion_pytorch_model")
    label = str(meta.get("modelspec.title") or (path.parent.name if generic else path.stem))
    size = path.stat().st_size
    if any(k.startswith("conditioner.embedders.") for k in keys):
        has = {p: any(k.startswith(p) for k in keys) for p in
               ("model.diffusion_model.", "first_stage_model.", "conditioner.embedders.0.transformer.",
                "conditioner.embedders.1.model.")}
        if not has["conditioner.embedders.1.model."]:
            return FoundModel(Kind.OTHER_DIFFUSION, path, size, label, usable=False,
                              note="SDXL refiner: LIPE needs an SDXL base model")
        conv_in = header.get("model.diffusion_model.input_blocks.0.0.weight", {}).get("shape", [0, 4])
        if conv_in[1] != 4:
            return FoundModel(Kind.OTHER_DIFFUSION, path, size, label, usable=False,
                              note="SDXL inpainting checkpoint: LIPE needs the base model")
        missing = [p.split(".")[0] for p, ok in has.items() if not ok]
        return FoundModel(Kind.SDXL_CHECKPOINT, path, size, label, usable=not missing,
                          note=f"incomplete checkpoint (no {', '.join(missing)})" if missing else
                          "needs SDXL configs: a diffusers SDXL folder or the base repo in the HF cache")
    if any(k.startswith("cond_stage_model.") for k in keys):
        return FoundModel(Kind.OTHER_DIFFUSION, path, size, label, usable=False,
                          note="SD 1.x/2.x checkpoint: LIPE needs SDXL")
    if any(_LORA_KEY.search(k) for k in keys):
        base = " ".join(str(meta.get(k, "")) for k in ("ss_base_model_version", "modelspec.architecture"))
        sdxl = "xl" in base.lower() or any(_SDXL_LORA_HINT.search(k) for k in keys)
        sd1 = not sdxl and any(k.startswith("lora_te_") for k in keys)
        return FoundModel(Kind.LORA, path, size, f"{label} (LoRA{', SDXL' if sdxl else ''})", usable=not sd1,
                          note="SD 1.x LoRA: does not fit SDXL" if sd1 else "")
    return None


_VISION_HINT = re.compile(r"llava|vision|bakllava|moondream|minicpm-?v|obsidian|[-_.]vl\b", re.I)


def _gguf_label(path: Path, meta: dict[str, Any]) -> str:
    name = str(meta.get("general.name") or path.stem)
    size_label = str(meta.get("general.size_label") or "")
    if size_label and size_label.lower() not in name.lower():
        name = f"{name} {size_label}"
    quant = re.search(r"(?i)(i?q\d_[a-z0-9_]+|q\d_\d|f16|bf16|f32)(?=\.gguf$)", path.name)
    return f"{name} ({quant.group(1).upper()})" if quant else name


def classify_gguf_files(files: Iterable[Path]) -> list[FoundModel]:
    """GGUF files of one folder: language models, paired with an mmproj when the folder has one."""
    models: list[tuple[Path, dict[str, Any]]] = []
    projectors: list[Path] = []
    for f in files:
        try:
            meta = read_gguf_metadata(f)
        except (OSError, ValueError, struct.error):
            continue
        is_proj = (meta.get("general.architecture") == "clip" or meta.get("general.type") == "mmproj"
                   or "mmproj" in f.name.lower())
        if is_proj:
            projectors.append(f)
        else:
            models.append((f, meta))
    stems = [m[0].stem.lower() for m in models]
    one_family = len(models) == 1 or len(os.path.commonprefix(stems)) >= 6
    out = []
    for f, meta in models:
        label = _gguf_label(f, meta)
        info = {"architecture": meta.get("general.architecture")}
        if projectors and (one_family or _VISION_HINT.search(f.name)):
            proj = max(projectors, key=lambda p: len(os.path.commonprefix([p.stem.lower(), f.stem.lower()])))
            out.append(FoundModel(Kind.LLAVA_GGUF, f, f.stat().st_size + proj.stat().st_size,
                                  f"{label} + vision projector", companion=proj, info=info))
        else:
            out.append(FoundModel(Kind.LLM_GGUF, f, f.stat().st_size, label, info=info))
    return out


# ------------------------------------------------------------------ walking


def _scan_folder(root: Path, max_depth: int, budget: list[int], cancel: CancelToken | None,
                 label_for_root: str | None = None) -> list[FoundModel]:
    found: list[FoundModel] = []
    stack = [(root, 0)]
    while stack:
        folder, depth = stack.pop()
        if cancel is not None:
            cancel.raise_if_cancelled()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        budget[0] -= len(entries)
        if budget[0] < 0:
            break
        names = {e.name for e in entries}
        label = label_for_root if (label_for_root and folder == root) else folder.name
        if "model_index.json" in names:
            hit = classify_diffusers_folder(folder, label)
            if hit is not None:
                found.append(hit)
                continue
        if "config.json" in names or "open_clip_config.json" in names:
            hit = classify_transformers_folder(folder, label)
            if hit is not None:
                found.append(hit)
                continue
        ggufs = []
        for e in sorted(entries, key=lambda e: e.name):
            try:
                is_dir, is_file = e.is_dir(), e.is_file()
            except OSError:
                continue
            if is_dir and depth < max_depth and not e.name.startswith(".") and e.name not in _SKIP_DIRS:
                stack.append((Path(e.path), depth + 1))
            elif is_file and e.name.endswith(".gguf"):
                ggufs.append(Path(e.path))
            elif is_file and e.name.endswith(".safetensors"):
                hit = classify_safetensors(Path(e.path))
                if hit is not None:
                    found.append(hit)
        found.extend(classify_gguf_files(ggufs))
    return found


def scan_hf_cache(cache: Path | None = None, cancel: CancelToken | None = None,
                  budget: list[int] | None = None) -> list[FoundModel]:
    """Models in a Hugging Face hub cache (``models--org--name/snapshots/<rev>``)."""
    cache = cache if cache is not None else hf_hub_cache()
    budget = budget if budget is not None else [200_000]
    found: list[FoundModel] = []
    if not cache.is_dir():
        return found
    for repo in sorted(cache.glob("models--*")):
        parts = repo.name.split("--", 2)
        repo_id = "/".join(parts[1:])
        ref = repo / "refs" / "main"
        rev = ref.read_text().strip() if ref.is_file() else ""
        snap = repo / "snapshots" / rev if rev else None
        if snap is None or not snap.is_dir():
            snaps = [s for s in (repo / "snapshots").glob("*") if s.is_dir()]
            if not snaps:
                continue
            snap, rev = max(snaps, key=lambda s: s.stat().st_mtime), ""
        for hit in _scan_folder(snap, 3, budget, cancel, label_for_root=repo_id):
            whole_repo = hit.path == snap
            found.append(FoundModel(
                hit.kind, hit.path, hit.size, hit.label, source="hf-cache",
                repo_id=repo_id if (whole_repo and rev) else None, companion=hit.companion,
                usable=hit.usable, note=hit.note, info={**hit.info, "repo": repo_id}))
    return found


def discover_models(
    dirs: Iterable[str | os.PathLike[str]] | None = None,
    *,
    include_defaults: bool = True,
    hf_cache: str | os.PathLike[str] | None | bool = True,
    max_depth: int = 4,
    max_entries: int = 200_000,
    cancel: CancelToken | None = None,
) -> list[FoundModel]:
    """All models found in ``dirs`` (+ :func:`default_search_dirs`) and the HF cache, sorted by kind.

    ``hf_cache``: True = the current cache, a path = that cache, False/None = skip it. At most
    ``max_entries`` directory entries are looked at in total, so a huge folder cannot stall the UI.
    """
    roots = [Path(d).expanduser() for d in (dirs or [])]
    if include_defaults:
        roots += default_search_dirs()
    budget = [max_entries]
    found: list[FoundModel] = []
    if hf_cache:
        found += scan_hf_cache(None if hf_cache is True else Path(hf_cache), cancel, budget)
    seen_roots: set[Path] = set()
    for root in roots:
        real = root.resolve()
        if real in seen_roots or not root.exists():
            continue
        seen_roots.add(real)
        if root.is_file():
            hits = (classify_gguf_files([root]) if root.suffix == ".gguf" else
                    [h for h in [classify_safetensors(root)] if h is not None])
            found += hits
        else:
            found += _scan_folder(root, max_depth, budget, cancel)
    unique: dict[tuple[str, Path], FoundModel] = {}
    for hit in found:
        unique.setdefault((hit.kind, hit.path.resolve()), hit)
    return sorted(unique.values(), key=lambda h: (_ORDER.index(h.kind), not h.usable, h.label.lower()))


def inspect_path(path: str | os.PathLike[str]) -> list[FoundModel]:
    """Classify one file or folder the user picked (e.g. in a "Browse..." dialog)."""
    return discover_models([path], include_defaults=False, hf_cache=False)
