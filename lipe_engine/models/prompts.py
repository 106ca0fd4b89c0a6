"""SDXL prompt encoding for training (the trainer and the toy model's script): one implementation.

The penultimate hidden states of both CLIP text encoders, concatenated, and the second encoder's
pooled, projected output, as SDXL was trained. Gradients flow when ``grad`` is set (text-encoder
LoRA). Editing goes through the pipeline's own ``encode_prompt`` (``nima.denoiser``), which computes
the same tensors without gradients.
"""

from __future__ import annotations

from typing import Any

import torch


def encode_sdxl_prompts(pipe: Any, texts: list[str], device: torch.device | None = None,
                        grad: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """(embeds (n, 77, D1 + D2), pooled (n, P)) for ``texts``; ``device``: the text encoders' by default."""
    embeds, pooled = [], None
    with torch.set_grad_enabled(grad and torch.is_grad_enabled()):
        for tok, enc in ((pipe.tokenizer, pipe.text_encoder), (pipe.tokenizer_2, pipe.text_encoder_2)):
            ids = tok(texts, padding="max_length", max_length=tok.model_max_length, truncation=True,
                      return_tensors="pt").input_ids.to(device if device is not None else enc.device)
            out = enc(ids, output_hidden_states=True)
            embeds.append(out.hidden_states[-2])
            pooled = getattr(out, "text_embeds", None)
    assert pooled is not None
    return torch.cat(embeds, dim=-1), pooled
