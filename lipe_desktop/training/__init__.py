"""Training queue: identities queued for LoRA training, run one at a time in a child process."""

from .panel import TrainingPanel

__all__ = ["TrainingPanel"]
