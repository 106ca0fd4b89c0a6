"""Load an SDXL pipeline from a diffusers folder, a single-file checkpoint or the Hugging Face cache.

Nothing is ever downloaded here: hub ids are resolved with ``local_files_only=True``. Every failure
becomes one :class:`ModelLoadError` line naming the path and what was expected.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from huggingface_hub import snapshot_download

from ..devices import pick_device, pick_dtype, vae_dtype
from ..errors import ModelLoadError

# What loading a damaged or hostile model file raises is not one type: torch's weights-only unpickler
# refuses a pickle with UnpicklingError, the tokenizers library raises a bare Exception for a garbage
# tokenizer.json, transformers and diffusers raise OSError, ValueError, KeyError, TypeError... Every one
# means "this file is unusable": a one-line ModelLoadError naming it (never a traceback).
LOAD_ERRORS: tuple[type[BaseException], ...] = (Exception,)
SDXL_PARTS = ("unet", "vae", "text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2", "scheduler")
SINGLE_FILE_SUFFIXES = (".safetensors", ".ckpt", ".pt", ".bin")
DEFAULT_SDXL_CONFIG_REPO = "stabilityai/stable-diffusion-xl-base-1.0"
_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass
class LoadedModel:
    """A ready pipeline plus what the rest of the engine needs to know about it."""

    pipe: Any  # diffusers.StableDiffusionXLPipeline
    source: str
    model_id: str  # stable identity used in cache keys (path + weights fingerprint)
    device: torch.device
    dtype: torch.dtype
    loras: list[str] = field(default_factory=list)

    @property
    def vae_scale_factor(self) -> int:
        return 2 ** (len(self.pipe.vae.config.block_out_channels) - 1)

    @property
    def native_size(self) -> int:
        """The pixel side the model was trained at (1024 for SDXL base)."""
        return int(self.pipe.unet.config.sample_size) * self.vae_scale_factor

    @property
    def cache_key(self) -> str:
        return self.model_id + "".join(f"+lora:{x}" for x in self.loras)


def _fingerprint(paths: list[Path]) -> str:
    """Cheap identity of weight files (name, size, mtime): cache keys change when weights do."""
    h = hashlib.sha256()
    for p in sorted(paths):
        st = p.stat()
        h.update(f"{p.name}:{st.st_size}:{int(st.st_mtime)}".encode())
    return h.hexdigest()[:16]


def _check_diffusers_folder(folder: Path) -> None:
    index = folder / "model_index.json"
    if not index.is_file():
        raise ModelLoadError(
            f"'{folder}' is not a diffusers model folder (no model_index.json)",
            "point to the folder that holds model_index.json, unet/, vae/, text_encoder/, "
            "text_encoder_2/, or to a single .safetensors checkpoint",
        )
    try:
        info = json.loads(index.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelLoadError(f"'{index}' is not valid JSON", "re-download or re-export the model") from exc
    missing = [p for p in SDXL_PARTS if p not in info or not (folder / p).is_dir()]
    if missing:
        raise ModelLoadError(
            f"'{folder}' is not an SDXL model (missing {', '.join(missing)})",
            "LIPE needs an SDXL-architecture model with two text encoders; SD 1.x/2.x folders do not work",
        )


def _check_safetensors(path: Path) -> None:
    """Read the safetensors header so a truncated or foreign file fails with a clear line."""
    if path.suffix != ".safetensors":
        return
    try:
        with path.open("rb") as fh:
            n = int.from_bytes(fh.read(8), "little")
            if n <= 0 or n > 100_000_000:
                raise ValueError("bad header length")
            json.loads(fh.read(n))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(
            f"'{path}' is not a readable .safetensors file ({exc})",
            "the download may be incomplete: download it again",
        ) from exc


def _part_dtypes(dtype: torch.dtype) -> dict[str, torch.dtype]:
    """Per-part dtypes for ``from_pretrained``: the VAE's weights are read straight into its own
    dtype (not rounded to bf16 on the way and upcast afterwards)."""
    return {"default": dtype, "vae": vae_dtype(torch.device("cpu"), dtype)}


def import_diffusers() -> Any:
    """The ``diffusers`` module: the engine's one deferred import of it (nima, baselines, training and
    toyworld call this instead of importing diffusers). They and the desktop import
    :class:`LoadedModel` from here at start-up; diffusers (seconds to import) waits for a load."""
    import diffusers
    import diffusers.loaders.single_file_utils  # noqa: F401 - SingleFileComponentError lives here

    return diffusers


def _load_folder(folder: Path, dtype: torch.dtype) -> Any:
    StableDiffusionXLPipeline = import_diffusers().StableDiffusionXLPipeline
    _check_diffusers_folder(folder)
    try:
        return StableDiffusionXLPipeline.from_pretrained(folder, torch_dtype=_part_dtypes(dtype),
                                                         local_files_only=True)
    except LOAD_ERRORS as exc:
        raise ModelLoadError(
            f"could not load the SDXL folder '{folder}' ({_first_line(exc)})",
            "check that every subfolder has its config and weights",
        ) from exc


def _load_single_file(path: Path, dtype: torch.dtype, config: str | None) -> Any:
    diffusers = import_diffusers()
    StableDiffusionXLPipeline = diffusers.StableDiffusionXLPipeline
    _check_safetensors(path)
    cfg = config or DEFAULT_SDXL_CONFIG_REPO
    try:
        if Path(cfg).expanduser().is_dir():
            cfg = str(Path(cfg).expanduser())
        else:
            # resolve a repo id in the cache ourselves: diffusers downloads missing configs despite
            # local_files_only=True when the hub is reachable
            cfg = snapshot_download(cfg, local_files_only=True)
        # (from_single_file takes one dtype: the VAE is cast to fp32 after loading, below)
        pipe = StableDiffusionXLPipeline.from_single_file(
            str(path), config=cfg, torch_dtype=dtype, local_files_only=True
        )
    except LOAD_ERRORS as exc:  # (SingleFileComponentError among them)
        # (huggingface_hub's LocalEntryNotFoundError is an OSError)
        if config is None:
            fix = (
                f"a single-file checkpoint needs the SDXL configs: give --model-config with a diffusers "
                f"SDXL folder, or have {DEFAULT_SDXL_CONFIG_REPO} in the Hugging Face cache"
            )
        else:
            fix = "check that it is an SDXL checkpoint matching the config folder"
        raise ModelLoadError(f"could not load the checkpoint '{path}' ({_first_line(exc)})", fix) from exc
    # diffusers leaves weights it found no key for on the meta device instead of failing
    empty = [n for n in ("unet", "vae", "text_encoder", "text_encoder_2")
             if any(p.is_meta for p in getattr(pipe, n).parameters())]
    if empty:
        raise ModelLoadError(
            f"the checkpoint '{path}' has no usable weights for {', '.join(empty)}",
            "it must be a complete SDXL checkpoint (UNet, VAE, both text encoders) matching the config",
        )
    return pipe


def _load_hub_cache(repo_id: str, dtype: torch.dtype) -> tuple[Any, Path]:
    StableDiffusionXLPipeline = import_diffusers().StableDiffusionXLPipeline
    try:
        snapshot = Path(snapshot_download(repo_id, local_files_only=True))
    except Exception as exc:  # huggingface_hub raises several unrelated types here
        raise ModelLoadError(
            f"model '{repo_id}' is not in the Hugging Face cache ({os.environ.get('HF_HOME', '~/.cache/huggingface')})",
            f"download it first (hf download {repo_id}) or give a local folder or file",
        ) from exc
    _check_diffusers_folder(snapshot)
    try:
        pipe = StableDiffusionXLPipeline.from_pretrained(snapshot, torch_dtype=_part_dtypes(dtype),
                                                         local_files_only=True)
    except LOAD_ERRORS as exc:
        raise ModelLoadError(
            f"could not load '{repo_id}' from the Hugging Face cache ({_first_line(exc)})",
            "the cached copy may be incomplete: download it again",
        ) from exc
    return pipe, snapshot


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


def load_sdxl(
    source: str | os.PathLike[str],
    device: str | None = None,
    dtype: str | torch.dtype | None = None,
    config: str | None = None,
) -> LoadedModel:
    """Load SDXL from a folder, a single file, or a cached hub id; device/dtype picked if not given."""
    dev = pick_device(device)
    dt = pick_dtype(dev, dtype)
    text = str(source).strip()
    if not text:
        raise ModelLoadError("no model given", "pass --model with an SDXL folder, .safetensors file or hub id")
    path = Path(text).expanduser()
    if path.is_dir():
        pipe = _load_folder(path, dt)
        weights = [p for p in path.rglob("*") if p.suffix in (".safetensors", ".bin")]
        model_id = f"folder:{path.resolve()}:{_fingerprint(weights)}"
    elif path.is_file():
        if path.suffix.lower() not in SINGLE_FILE_SUFFIXES:
            raise ModelLoadError(
                f"'{path}' is not a model checkpoint (suffix '{path.suffix}')",
                "give a .safetensors SDXL checkpoint or a diffusers folder",
            )
        pipe = _load_single_file(path, dt, config)
        model_id = f"file:{path.resolve()}:{_fingerprint([path])}"
    elif _REPO_ID.match(text) and not text.startswith((".", "/", "~")):
        pipe, snapshot = _load_hub_cache(text, dt)
        model_id = f"hub:{text}:{snapshot.name}"
    else:
        raise ModelLoadError(
            f"model path '{path}' does not exist",
            "give an existing SDXL folder, .safetensors file, or a hub id like org/name that is in the cache",
        )
    pipe.to(dev)
    pipe.vae.to(dtype=vae_dtype(dev, dt))  # the precision policy of devices.py (fp32 VAE)
    pipe.set_progress_bar_config(disable=True)
    return LoadedModel(pipe=pipe, source=text, model_id=model_id, device=dev, dtype=dt)


def load_lora(model: LoadedModel, lora_path: str | os.PathLike[str], scale: float = 1.0) -> None:
    """Load LoRA weights (diffusers or kohya .safetensors) into the pipeline, fused at ``scale``."""
    path = Path(lora_path).expanduser()
    if not path.exists():
        raise ModelLoadError(f"LoRA '{path}' does not exist", "give the folder or .safetensors the training wrote")
    if path.is_file():
        _check_safetensors(path)
    try:
        name = f"lipe_{len(model.loras)}"
        if path.is_dir():
            model.pipe.load_lora_weights(str(path), adapter_name=name)
        else:
            model.pipe.load_lora_weights(str(path.parent), weight_name=path.name, adapter_name=name)
        model.pipe.set_adapters([f"lipe_{i}" for i in range(len(model.loras) + 1)],
                                [scale] * (len(model.loras) + 1))
    except LOAD_ERRORS as exc:
        raise ModelLoadError(
            f"could not load LoRA '{path}' ({_first_line(exc)})",
            "it must be an SDXL LoRA (diffusers or kohya format) trained for this base model",
        ) from exc
    files = [path] if path.is_file() else [p for p in path.rglob("*.safetensors")]
    model.loras.append(f"{path.resolve()}:{_fingerprint(files)}:{scale}")
