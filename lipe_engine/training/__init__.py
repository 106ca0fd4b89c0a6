"""Learn a personalized identity prior: LoRA fine-tuning of SDXL on 3-5 captioned photos (LIPE 2.1).

Plain Python entry point (no library database needed)::

    from lipe_engine.training import TrainingConfig, config_from_preset, train_identity_lora

    lora_dir = train_identity_lora(
        model_source,            # SDXL folder / .safetensors / cached hub id, or a LoadedModel (borrowed:
                                 #   adapters are removed again afterwards)
        instance_images,         # [(PIL.Image or path, "a photo of a sks dog sitting on grass"), ...]
        class_items,             # [(PIL.Image or path, "a dog running on a beach"), ...] or None (no prior loss)
        output_dir,              # where lora/, lora_kohya.safetensors, checkpoints/, samples/ go
        config=TrainingConfig(max_steps=200, resolution=64),  # or config_from_preset("16gb"); default = paper
        progress=callback,       # ProgressReporter or callable(ProgressEvent); info has loss, global_step
        cancel=token,            # CancelToken; cancelling checkpoints the current step and raises Cancelled
        name="Rex",              # the kohya file's title in A1111/ComfyUI (default: output_dir's name)
    )
    # -> Path of the diffusers-format LoRA folder: load_lora(model, lora_dir) or pipe.load_lora_weights(lora_dir)
    #    output_dir / "lora_kohya.safetensors" is the same LoRA in kohya naming.

Calling it again with the same ``output_dir`` resumes from the newest checkpoint (same weights as an
uninterrupted run); a finished run simply re-exports. Defaults follow the paper (AdamW, lr 5e-4 for the
UNet and both text encoders, 1000 epochs, attention layers only); ``PRESETS`` name memory budgets.
Data helpers: ``lipe_engine.prompts`` (regularization prompts), ``lipe_engine.captioning`` (captions),
``lipe_engine.training.class_images.render_class_images`` (class images, cached per class).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..models.loader import LoadedModel
from ..progress import CancelToken, ProgressCallback, ProgressReporter
from .config import PRESETS, Preset, TrainingConfig, config_from_preset
from .data import Item
from .trainer import TrainingJob

__all__ = ["PRESETS", "Preset", "TrainingConfig", "TrainingJob", "config_from_preset", "train_identity_lora"]


def train_identity_lora(
    model_source: str | Path | LoadedModel,
    instance_images: Sequence[Item],
    class_items: Sequence[Item] | None,
    output_dir: str | Path,
    config: TrainingConfig | None = None,
    progress: ProgressReporter | ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    name: str | None = None,
) -> Path:
    """Train (or resume) a LoRA identity prior; returns the diffusers-format LoRA folder. ``name`` is
    what other tools list the kohya file under (default: the output folder's name)."""
    return TrainingJob(model_source, instance_images, class_items, output_dir, config, progress, cancel,
                       name=name).run()
