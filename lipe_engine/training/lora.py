"""LoRA adapters on SDXL's attention layers: attach, read/write their weights, export them.

UNet: ``to_q``, ``to_k``, ``to_v``, ``to_out.0`` of every attention block; text encoders: ``q_proj``,
``k_proj``, ``v_proj``, ``out_proj`` (paper E.2.5: only attention layers are optimized). Exported in
diffusers format (``pipe.load_lora_weights(dir)``) and as one kohya-style ``.safetensors`` whose
header carries the kohya (``ss_*``) and modelspec metadata A1111, ComfyUI and kohya's own tools
read: A1111 decides from ``ss_base_model_version`` whether a LoRA fits the loaded SDXL model and
shows the training tags (``ss_tag_frequency``), steps and resolution from the others.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from ..models.loader import import_diffusers
from . import deferred
from .config import TEXT_TARGETS, UNET_TARGETS

ADAPTER = "lipe_train"
PARTS = ("unet", "text_encoder", "text_encoder_2")
DIFFUSERS_WEIGHT_NAME = "pytorch_lora_weights.safetensors"


def lora_config(rank: int, targets: tuple[str, ...]):
    return deferred.peft().LoraConfig(r=rank, lora_alpha=rank, init_lora_weights="gaussian", target_modules=list(targets))


def attach(pipe: Any, rank: int, train_text_encoders: bool) -> dict[str, torch.nn.Module]:
    """Freeze the base weights, add trainable adapters; returns the modules that carry them."""
    for part in PARTS:
        getattr(pipe, part).requires_grad_(False)
    modules = {"unet": pipe.unet}
    pipe.unet.add_adapter(lora_config(rank, UNET_TARGETS), adapter_name=ADAPTER)
    if train_text_encoders:
        for part in ("text_encoder", "text_encoder_2"):
            getattr(pipe, part).add_adapter(lora_config(rank, TEXT_TARGETS), adapter_name=ADAPTER)
            modules[part] = getattr(pipe, part)
    for module in modules.values():
        for p in module.parameters():
            if p.requires_grad:
                p.data = p.data.float()  # adapters train in fp32 under mixed precision
    return modules


def detach(modules: dict[str, torch.nn.Module]) -> None:
    """Remove the training adapters (used when training borrowed a caller's loaded model)."""
    for module in modules.values():
        delete = getattr(module, "delete_adapters", None) or getattr(module, "delete_adapter", None)
        if delete is not None:
            with contextlib.suppress(ValueError, KeyError, AttributeError):
                delete(ADAPTER)


def _peft_config(module: torch.nn.Module) -> Any:
    return module.peft_config[ADAPTER]  # type: ignore[index]


def trainable_parameters(modules: dict[str, torch.nn.Module]) -> dict[str, list[torch.nn.Parameter]]:
    return {name: [p for p in m.parameters() if p.requires_grad] for name, m in modules.items()}


def peft_state(modules: dict[str, torch.nn.Module]) -> dict[str, torch.Tensor]:
    """All adapter weights, keys prefixed by part (``unet.``/``text_encoder.``/``text_encoder_2.``)."""
    get_peft_model_state_dict = deferred.peft().utils.get_peft_model_state_dict
    out = {}
    for name, module in modules.items():
        for k, v in get_peft_model_state_dict(module, adapter_name=ADAPTER).items():
            out[f"{name}.{k}"] = v.detach().float().cpu().contiguous()
    return out


def load_peft_state(modules: dict[str, torch.nn.Module], state: dict[str, torch.Tensor]) -> None:
    set_peft_model_state_dict = deferred.peft().utils.set_peft_model_state_dict
    for name, module in modules.items():
        prefix = f"{name}."
        part = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        result = set_peft_model_state_dict(module, part, adapter_name=ADAPTER)
        unexpected = getattr(result, "unexpected_keys", None)
        if unexpected:
            raise RuntimeError(f"checkpoint has unexpected LoRA keys for {name}: {unexpected[:3]}")


def export(
    pipe: Any,
    modules: dict[str, torch.nn.Module],
    folder: Path,
    kohya_file: Path | None,
    info: KohyaInfo | None = None,
) -> Path:
    """Write the diffusers-format LoRA folder (and the kohya file, described by ``info``); returns the folder."""
    diffusers = import_diffusers()
    to_diffusers = diffusers.utils.convert_state_dict_to_diffusers
    get_peft_model_state_dict = deferred.peft().utils.get_peft_model_state_dict
    layers: dict[str, Any] = {}
    metadata: dict[str, Any] = {}
    for name, module in modules.items():
        sd = get_peft_model_state_dict(module, adapter_name=ADAPTER)
        layers[f"{name}_lora_layers"] = to_diffusers({k: v.detach().float().cpu() for k, v in sd.items()})
        metadata[f"{name}_lora_adapter_metadata"] = _peft_config(module).to_dict()
    folder.mkdir(parents=True, exist_ok=True)
    diffusers.StableDiffusionXLPipeline.save_lora_weights(folder, safe_serialization=True, **layers, **metadata)
    if kohya_file is not None:
        write_kohya(modules, kohya_file, info)
    return folder


KOHYA_PREFIX = {"unet": "lora_unet", "text_encoder": "lora_te1", "text_encoder_2": "lora_te2"}


def kohya_state(modules: dict[str, torch.nn.Module]) -> dict[str, torch.Tensor]:
    """Adapter weights in kohya naming: ``lora_unet_<path>.lora_down.weight`` / ``.lora_up.weight`` / ``.alpha``.

    Text-encoder paths always start with ``text_model_`` as in SDXL checkpoints (transformers 5's
    ``CLIPTextModel`` has no ``text_model`` level, so it is added for the first encoder).
    """
    out: dict[str, torch.Tensor] = {}
    for name, module in modules.items():
        alpha = float(_peft_config(module).lora_alpha)
        for key, value in peft_state({name: module}).items():
            path, kind = key[len(name) + 1 :].rsplit(".lora_", 1)
            if name != "unet" and not path.startswith("text_model."):
                path = "text_model." + path
            base = f"{KOHYA_PREFIX[name]}_{path.replace('.', '_')}"
            out[f"{base}.{'lora_down' if kind.startswith('A') else 'lora_up'}.weight"] = value
            out[f"{base}.alpha"] = torch.tensor(alpha)
    return out


# An SDXL LoRA, in the names kohya's sd-scripts write and A1111 / ComfyUI read (an SD1 value, or
# none, makes A1111 hide the LoRA while an SDXL model is loaded).
SS_BASE_MODEL_VERSION = "sdxl_base_v1-0"
MODELSPEC_ARCHITECTURE = "stable-diffusion-xl-v1-base/lora"
MODELSPEC_IMPLEMENTATION = "https://github.com/Stability-AI/generative-models"  # SDXL's, as modelspec names it
NETWORK_MODULE = "networks.lora"


@dataclass(frozen=True)
class KohyaInfo:
    """What a kohya LoRA's header says about its training (the weights say the rest)."""

    title: str  # ss_output_name / modelspec.title: the name other tools list the LoRA under
    steps: int
    resolution: int
    captions: Sequence[str] = ()  # the reference photos' captions (ss_tag_frequency)
    base_model: str = ""  # what it was trained on (ss_sd_model_name)
    num_class_images: int = 0
    lr_unet: float | None = None
    lr_text: float | None = None
    seed: int | None = None
    prediction_type: str = "epsilon"
    mixed_precision: str = "no"


def tag_frequency(captions: Sequence[str]) -> dict[str, int]:
    """Tags as kohya counts them: each caption split at commas, stripped, counted once per caption."""
    counts: Counter[str] = Counter()
    for caption in captions:
        counts.update({t.strip() for t in caption.split(",") if t.strip()})
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def kohya_metadata(modules: dict[str, torch.nn.Module], info: KohyaInfo | None = None) -> dict[str, str]:
    """The header of the kohya file: kohya ``ss_*`` keys and modelspec 1.0 keys, all strings."""
    config = _peft_config(modules["unet"])
    dim, alpha = int(config.r), float(config.lora_alpha)
    meta = {
        "format": "pt",
        "ss_network_module": NETWORK_MODULE,
        "ss_network_dim": str(dim),
        "ss_network_alpha": f"{alpha:g}",
        "ss_base_model_version": SS_BASE_MODEL_VERSION,
        "ss_v2": "False",
        "ss_network_train_unet_only": str(set(modules) == {"unet"}),
        "ss_network_train_text_encoder_only": "False",
        "modelspec.sai_model_spec": "1.0.0",
        "modelspec.architecture": MODELSPEC_ARCHITECTURE,
        "modelspec.implementation": MODELSPEC_IMPLEMENTATION,
        "modelspec.date": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime()),
    }
    if info is None:
        return meta
    if not info.title.strip():
        raise ValueError("a kohya LoRA needs a title (the name other tools list it under)")
    res = int(info.resolution)
    words = ", ".join(sorted(tag_frequency(info.captions))[:8])
    meta.update({
        "ss_output_name": info.title,
        "ss_steps": str(int(info.steps)),
        "ss_max_train_steps": str(int(info.steps)),
        "ss_resolution": f"({res}, {res})",
        "ss_num_train_images": str(len(info.captions)),
        "ss_num_reg_images": str(int(info.num_class_images)),
        "ss_tag_frequency": json.dumps({"references": tag_frequency(info.captions)}, ensure_ascii=False),
        "ss_mixed_precision": info.mixed_precision,
        "ss_training_comment": "LIPE identity prior (LoRA on SDXL attention layers)",
        "modelspec.title": info.title,
        "modelspec.resolution": f"{res}x{res}",
        "modelspec.prediction_type": info.prediction_type,
        "modelspec.description": f"LIPE identity prior; trained on: {words}" if words else "LIPE identity prior",
    })
    if info.base_model:
        meta["ss_sd_model_name"] = info.base_model
    for key, value in (("ss_unet_lr", info.lr_unet), ("ss_text_encoder_lr", info.lr_text),
                       ("ss_learning_rate", info.lr_unet), ("ss_seed", info.seed)):
        if value is not None:
            meta[key] = f"{value:g}" if isinstance(value, float) else str(value)
    return meta


def write_kohya(modules: dict[str, torch.nn.Module], target: Path, info: KohyaInfo | None = None) -> Path:
    tmp = target.with_suffix(".tmp")
    save_file(kohya_state(modules), str(tmp), metadata=kohya_metadata(modules, info))
    os.replace(tmp, target)
    return target
