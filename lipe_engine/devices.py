"""Pick the device and dtype a model runs with: CUDA bf16 (fp16 on older GPUs), else CPU fp32."""

from __future__ import annotations

import torch

from .errors import InputError

_DTYPES = {
    "fp32": torch.float32,
    "float32": torch.float32,
    "fp16": torch.float16,
    "float16": torch.float16,
    "bf16": torch.bfloat16,
    "bfloat16": torch.bfloat16,
}


def pick_device(requested: str | None = None) -> torch.device:
    if requested in (None, "", "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(requested)
    except (RuntimeError, TypeError) as exc:
        raise InputError(f"unknown device '{requested}'", "use auto, cpu, cuda, cuda:N or mps") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"device '{requested}' asked for but CUDA is not available", "use --device cpu")
    return device


def pick_dtype(device: torch.device, requested: str | torch.dtype | None = None) -> torch.dtype:
    if isinstance(requested, torch.dtype):
        return requested
    if requested not in (None, "", "auto"):
        try:
            return _DTYPES[str(requested).lower()]
        except KeyError as exc:
            raise InputError(f"unknown precision '{requested}'", "use auto, fp32, fp16 or bf16") from exc
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "mps":
        return torch.float16
    return torch.float32
