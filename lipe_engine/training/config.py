"""Training settings: the paper's defaults (LIPE, Appendix E.2.5) and presets named by GPU memory.

The paper fine-tunes SDXL's UNet and both text encoders together with AdamW at 5e-4 for 1000 epochs,
optimizing only attention layers. We train those attention layers through LoRA adapters, which is what
fits a single consumer GPU; the presets only change how memory is spent, never the learning recipe.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from ..errors import InputError
from ..validation import SEED_MAX, check_float, check_int

UNET_TARGETS = ("to_q", "to_k", "to_v", "to_out.0")
TEXT_TARGETS = ("q_proj", "k_proj", "v_proj", "out_proj")
MIXED_PRECISION = ("auto", "no", "fp16", "bf16")
OPTIMIZERS = ("adamw", "adamw8bit")


@dataclass
class TrainingConfig:
    """Everything that decides the trained weights (plus a few knobs that only change speed/IO)."""

    rank: int = 32  # LoRA rank; alpha = rank (scale 1) as in diffusers' DreamBooth LoRA script
    lr_unet: float = 5e-4  # paper E.2.5
    lr_text: float = 5e-4  # paper E.2.5
    epochs: int = 1000  # paper E.2.5; one epoch = one pass over the reference photos
    max_steps: int | None = None  # overrides epochs when set
    batch_size: int = 1  # reference photos per step (as many class images join when prior is on)
    prior_loss_weight: float = 1.0
    train_text_encoders: bool = True
    resolution: int | None = None  # None: the model's native size (1024 for SDXL)
    seed: int = 0
    weight_decay: float = 1e-2
    adam_betas: tuple[float, float] = (0.9, 0.999)
    adam_eps: float = 1e-8
    max_grad_norm: float = 1.0
    optimizer: str = "adamw"  # "adamw8bit" needs bitsandbytes; falls back to adamw when absent
    gradient_checkpointing: bool = False
    mixed_precision: str = "auto"  # auto: bf16 (fp16 on older GPUs) on CUDA, none on CPU
    # Speed / IO only (do not change the weights):
    checkpoint_every: int = 250
    keep_checkpoints: int = 2
    sample_every: int = 0  # 0: no samples during training
    sample_prompts: list[str] = field(default_factory=list)
    sample_seeds: list[int] = field(default_factory=lambda: [0, 1])
    sample_steps: int = 25
    device: str | None = None  # None/auto: CUDA when present

    def validate(self) -> None:
        """Every number is checked for type, finiteness and both ends of its range (one-line errors)."""
        for name, lo, hi in _INT_RANGES:
            value = getattr(self, name)
            if value is None and name in ("max_steps", "resolution"):
                continue
            _int(name, value, lo, hi)
        if self.epochs < 1 and not self.max_steps:
            raise InputError(f"epochs={self.epochs} trains nothing", "use 1 or more epochs (the paper uses 1000)")
        for name, low, high in _FLOAT_RANGES:
            _float(name, getattr(self, name), low, high)
        for name in ("lr_unet", "lr_text"):
            if not getattr(self, name) > 0:
                raise InputError(f"learning rate {name}={getattr(self, name)} is not usable", "use a positive value such as 5e-4")
        if not self.adam_eps > 0:
            raise InputError(f"adam_eps={self.adam_eps} is not usable", "use a small positive value such as 1e-8")
        if not isinstance(self.adam_betas, (tuple, list)) or len(self.adam_betas) != 2:
            raise InputError(f"adam_betas={self.adam_betas!r} is not usable", "give two numbers such as 0.9, 0.999")
        for b in self.adam_betas:
            _float("adam beta", b, 0.0, 0.999999)
        for seed in self.sample_seeds:
            _int("sample seed", seed, 0, SEED_MAX)
        if self.mixed_precision not in MIXED_PRECISION:
            raise InputError(f"mixed precision '{self.mixed_precision}' is unknown", f"use one of {', '.join(MIXED_PRECISION)}")
        if self.optimizer not in OPTIMIZERS:
            raise InputError(f"optimizer '{self.optimizer}' is unknown", f"use one of {', '.join(OPTIMIZERS)}")
        if self.resolution is not None and self.resolution % 8:
            raise InputError(f"resolution {self.resolution} is not usable", "use a multiple of 8 such as 1024")

    def total_steps(self, n_instance: int) -> int:
        if self.max_steps:
            return int(self.max_steps)
        per_epoch = -(-n_instance // self.batch_size)
        return int(self.epochs) * per_epoch

    def fingerprint(self) -> str:
        """Hash of the fields that decide the weights: a checkpoint only resumes a run with the same."""
        io_only = {"checkpoint_every", "keep_checkpoints", "sample_every", "sample_prompts", "sample_seeds",
                   "sample_steps", "device"}
        data = {k: v for k, v in dataclasses.asdict(self).items() if k not in io_only}
        return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainingConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(f"unknown training setting '{unknown[0]}'", f"use one of {', '.join(sorted(known))}")
        data = dict(data)
        if "adam_betas" in data:
            data["adam_betas"] = tuple(data["adam_betas"])
        return cls(**data)


# (name, lowest, highest): the advertised range of every integer setting
_INT_RANGES = (
    ("rank", 1, 1024), ("epochs", 0, 100_000), ("max_steps", 1, 10_000_000), ("batch_size", 1, 256),
    ("resolution", 8, 8192), ("seed", 0, SEED_MAX), ("checkpoint_every", 1, 10_000_000),
    ("keep_checkpoints", 1, 1000), ("sample_every", 0, 10_000_000), ("sample_steps", 1, 1000),
)
# (name, lowest, highest): every float must also be finite
_FLOAT_RANGES = (
    ("lr_unet", 0.0, 1.0), ("lr_text", 0.0, 1.0), ("prior_loss_weight", 0.0, 100.0), ("weight_decay", 0.0, 10.0),
    ("adam_eps", 0.0, 1.0), ("max_grad_norm", 0.0, 1e6),
)


def _int(name: str, value: Any, low: int, high: int) -> None:
    check_int(name, value, low, high, what="training setting ")


def _float(name: str, value: Any, low: float, high: float) -> None:
    check_float(name, value, low, high, what="training setting ")


@dataclass(frozen=True)
class Preset:
    name: str
    explanation: str
    overrides: dict[str, Any]


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "12gb",
            "12 GB GPU: rank 16, bf16/fp16 weights, gradient checkpointing, 8-bit Adam (if bitsandbytes is "
            "installed), UNet-only with text encoders frozen",
            dict(rank=16, gradient_checkpointing=True, mixed_precision="auto", optimizer="adamw8bit",
                 train_text_encoders=False),
        ),
        Preset(
            "16gb",
            "16 GB GPU: rank 32, bf16/fp16, gradient checkpointing, 8-bit Adam when available, UNet + both "
            "text encoders as in the paper",
            dict(rank=32, gradient_checkpointing=True, mixed_precision="auto", optimizer="adamw8bit"),
        ),
        Preset(
            "24gb",
            "24 GB GPU: rank 32, bf16, gradient checkpointing, plain AdamW, UNet + both text encoders (paper recipe)",
            dict(rank=32, gradient_checkpointing=True, mixed_precision="auto", optimizer="adamw"),
        ),
        Preset(
            "40gb",
            "40 GB+ GPU (A100 class): rank 64, bf16, no gradient checkpointing (fastest), plain AdamW",
            dict(rank=64, gradient_checkpointing=False, mixed_precision="auto", optimizer="adamw"),
        ),
    )
}


# Recipes sized to a machine rather than to GPU memory: unlike the presets they change the recipe
# itself. "toy" is `lipe demo`'s: the shipped 64-px toy model learns a sprite's prior in a few hundred
# steps on a CPU (with a handful of class images, the job's ``class_images``: TOY_CLASS_IMAGES).
TOY_CLASS_IMAGES = 8
RECIPES: dict[str, Preset] = {
    "toy": Preset(
        "toy",
        "Toy model on a CPU: 300 steps at 64 px, rank 8, learning rate 1e-3 (as `lipe demo`; minutes, not hours)",
        dict(max_steps=300, resolution=64, rank=8, lr_unet=1e-3, lr_text=1e-3, checkpoint_every=50),
    ),
}


def config_from_preset(name: str | None, **overrides: Any) -> TrainingConfig:
    """Paper defaults, then a preset's memory settings (or a recipe's, ``RECIPES``), then explicit
    overrides (None values ignored)."""
    data: dict[str, Any] = {}
    if name:
        key = name.lower().replace(" ", "").replace("-", "")
        if key.isdigit():
            key += "gb"
        if key not in PRESETS and key not in RECIPES:
            raise InputError(f"training preset '{name}' is unknown", f"use one of {', '.join([*PRESETS, *RECIPES])}")
        data.update((PRESETS.get(key) or RECIPES[key]).overrides)
    data.update({k: v for k, v in overrides.items() if v is not None})
    cfg = TrainingConfig.from_dict(data)
    cfg.validate()
    return cfg
