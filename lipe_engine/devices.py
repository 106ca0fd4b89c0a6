"""Pick the device and the precision a model runs with: the one place the dtype policy is written.

- Model weights (UNet, both text encoders): CUDA bf16 (fp16 on GPUs without bf16), Apple MPS fp16,
  CPU fp32; any of fp32/fp16/bf16 when asked for.
- The VAE always runs in fp32. SDXL's VAE overflows to NaN in fp16 (black images, on CUDA and on
  MPS alike), and in bf16 the photo's encoding and decoding carry bf16 rounding into the background
  NIMA keeps. It is 84 M parameters (335 MB in fp32): cheap next to the 2.6 B-parameter UNet.
  Latents therefore cross a dtype boundary at the VAE; :mod:`lipe_engine.models.vae` does that
  crossing for every caller.
- Training: ``mixed_precision`` "auto" is bf16 (fp16 on older GPUs) on CUDA and none elsewhere;
  "bf16"/"fp16" asked for explicitly is honoured on every device (so CPU tests run the bf16 path);
  LoRA adapters always train in fp32.
"""

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

# The VAE's dtype whatever the model's (see the module docstring).
VAE_DTYPE = torch.float32


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
    """The dtype of the UNet and text encoders."""
    if isinstance(requested, torch.dtype):
        if requested not in _DTYPES.values():
            raise InputError(f"unsupported precision {requested}", "use fp32, fp16 or bf16")
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


def vae_dtype(device: torch.device, weights: torch.dtype) -> torch.dtype:
    """The VAE's dtype for a model whose UNet runs in ``weights`` on ``device``: always fp32."""
    del device, weights  # the same everywhere, on purpose (module docstring)
    return VAE_DTYPE


def training_precision(device: torch.device, mixed_precision: str,
                       loaded: torch.dtype | None = None) -> tuple[str, torch.dtype]:
    """(accelerate's ``mixed_precision``, dtype of the frozen UNet/text-encoder weights) for training.

    ``loaded``: the dtype of an already loaded model the training borrows; "auto" then keeps a
    bf16/fp16 model in its precision instead of casting the caller's weights to fp32.
    """
    if mixed_precision == "no":
        return "no", torch.float32
    if mixed_precision == "auto":
        if loaded in (torch.bfloat16, torch.float16):
            mixed_precision = "bf16" if loaded == torch.bfloat16 else "fp16"
        elif device.type != "cuda":
            return "no", torch.float32
        else:
            mixed_precision = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if mixed_precision not in ("bf16", "fp16"):
        raise InputError(f"mixed precision '{mixed_precision}' is unknown", "use auto, no, fp16 or bf16")
    return mixed_precision, torch.bfloat16 if mixed_precision == "bf16" else torch.float16
