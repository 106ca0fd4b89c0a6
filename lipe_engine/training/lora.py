"""LoRA adapters on SDXL's attention layers: attach, read/write their weights, export them.

UNet: ``to_q``, ``to_k``, ``to_v``, ``to_out.0`` of every attention block; text encoders: ``q_proj``,
``k_proj``, ``v_proj``, ``out_proj`` (paper E.2.5: only attention layers are optimized). Exported in
diffusers format (``pipe.load_lora_weights(dir)``) and as one kohya-style ``.safetensors``.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import torch

from .config import TEXT_TARGETS, UNET_TARGETS

ADAPTER = "lipe_train"
PARTS = ("unet", "text_encoder", "text_encoder_2")
DIFFUSERS_WEIGHT_NAME = "pytorch_lora_weights.safetensors"


def lora_config(rank: int, targets: tuple[str, ...]):
    from peft import LoraConfig

    return LoraConfig(r=rank, lora_alpha=rank, init_lora_weights="gaussian", target_modules=list(targets))


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
    from peft.utils import get_peft_model_state_dict

    out = {}
    for name, module in modules.items():
        for k, v in get_peft_model_state_dict(module, adapter_name=ADAPTER).items():
            out[f"{name}.{k}"] = v.detach().float().cpu().contiguous()
    return out


def load_peft_state(modules: dict[str, torch.nn.Module], state: dict[str, torch.Tensor]) -> None:
    from peft.utils import set_peft_model_state_dict

    for name, module in modules.items():
        prefix = f"{name}."
        part = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        result = set_peft_model_state_dict(module, part, adapter_name=ADAPTER)
        unexpected = getattr(result, "unexpected_keys", None)
        if unexpected:
            raise RuntimeError(f"checkpoint has unexpected LoRA keys for {name}: {unexpected[:3]}")


def export(pipe: Any, modules: dict[str, torch.nn.Module], folder: Path, kohya_file: Path | None) -> Path:
    """Write the diffusers-format LoRA folder (and the kohya file); returns the folder."""
    from diffusers import StableDiffusionXLPipeline
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft.utils import get_peft_model_state_dict

    layers: dict[str, Any] = {}
    metadata: dict[str, Any] = {}
    for name, module in modules.items():
        sd = get_peft_model_state_dict(module, adapter_name=ADAPTER)
        layers[f"{name}_lora_layers"] = convert_state_dict_to_diffusers({k: v.detach().float().cpu() for k, v in sd.items()})
        metadata[f"{name}_lora_adapter_metadata"] = _peft_config(module).to_dict()
    folder.mkdir(parents=True, exist_ok=True)
    StableDiffusionXLPipeline.save_lora_weights(folder, safe_serialization=True, **layers, **metadata)
    if kohya_file is not None:
        write_kohya(modules, kohya_file)
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


def write_kohya(modules: dict[str, torch.nn.Module], target: Path) -> Path:
    from safetensors.torch import save_file

    tmp = target.with_suffix(".tmp")
    save_file(kohya_state(modules), str(tmp), metadata={"format": "pt", "ss_network_module": "networks.lora"})
    os.replace(tmp, target)
    return target
