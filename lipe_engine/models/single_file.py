"""Export a diffusers SDXL pipeline as one original-layout ("sgm"/LDM) ``.safetensors`` checkpoint.

The file uses the key layout of Stability's original SDXL checkpoints, so other tools (ComfyUI,
AUTOMATIC1111, diffusers' ``from_single_file``) can read a model that LIPE merged or fine-tuned:

- UNet -> ``model.diffusion_model.*`` (``input_blocks``/``middle_block``/``output_blocks``)
- VAE -> ``first_stage_model.*`` (``encoder.down.N.block.M``, ``mid.attn_1`` as 1x1 convolutions)
- text_encoder (CLIP ViT-L) -> ``conditioner.embedders.0.transformer.text_model.*`` (HF layout)
- text_encoder_2 (OpenCLIP bigG) -> ``conditioner.embedders.1.model.*`` in OpenCLIP layout
  (``transformer.resblocks.N``, fused ``attn.in_proj_weight``, ``text_projection`` as ``x @ P``)

The mapping is the inverse of the LDM->diffusers conversion that diffusers applies when loading,
written here from the layouts themselves. Tokenizers and the scheduler are not weights: loading the
file back needs a diffusers SDXL folder for configs (``load_sdxl(path, config=folder)``).

Caveat (diffusers, not the file): ``from_single_file`` tells the two text encoders apart by their
width (768 vs 1280 in real SDXL). A model whose two encoders have the same width exports correctly
but diffusers then loads ``text_encoder_2`` from the wrong embedder; :func:`export_single_file`
warns about it.
"""

from __future__ import annotations

import os
import re
import tempfile
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from peft.tuners.lora import LoraLayer
from safetensors.torch import save_file

from ..errors import InputError, ModelLoadError
from ..progress import CancelToken, ProgressCallback, ProgressReporter, as_reporter
from .loader import load_sdxl

UNET_PREFIX = "model.diffusion_model."
VAE_PREFIX = "first_stage_model."
CLIP_L_PREFIX = "conditioner.embedders.0.transformer."
OPEN_CLIP_PREFIX = "conditioner.embedders.1.model."

Tensors = dict[str, torch.Tensor]

# ---------------------------------------------------------------- UNet

_UNET_FIXED = {
    "time_embedding.linear_1": "time_embed.0",
    "time_embedding.linear_2": "time_embed.2",
    "add_embedding.linear_1": "label_emb.0.0",
    "add_embedding.linear_2": "label_emb.0.2",
    "conv_in": "input_blocks.0.0",
    "conv_norm_out": "out.0",
    "conv_out": "out.2",
}
_RESNET_PARTS = {
    "norm1": "in_layers.0",
    "conv1": "in_layers.2",
    "norm2": "out_layers.0",
    "conv2": "out_layers.3",
    "time_emb_proj": "emb_layers.1",
    "conv_shortcut": "skip_connection",
}
_DOWN = re.compile(r"^down_blocks\.(\d+)\.(resnets|attentions|downsamplers)\.(\d+)\.(.+)$")
_UP = re.compile(r"^up_blocks\.(\d+)\.(resnets|attentions|upsamplers)\.(\d+)\.(.+)$")
_MID = re.compile(r"^mid_block\.(resnets|attentions)\.(\d+)\.(.+)$")


def _resnet_part(rest: str) -> str:
    head, _, tail = rest.partition(".")
    if head not in _RESNET_PARTS:
        raise KeyError(rest)
    return f"{_RESNET_PARTS[head]}.{tail}"


def _layers_per_block(config: Mapping[str, Any]) -> int:
    lpb = config["layers_per_block"]
    if isinstance(lpb, (list, tuple)):
        if len(set(lpb)) != 1:
            raise InputError(
                f"UNet layers_per_block {list(lpb)} differs per block",
                "only SDXL-style UNets (same depth in every block) can be exported",
            )
        lpb = lpb[0]
    return int(lpb)


def unet_to_ldm(state: Mapping[str, torch.Tensor], config: Mapping[str, Any]) -> Tensors:
    """diffusers ``UNet2DConditionModel`` keys -> original ``model.diffusion_model`` keys (no prefix)."""
    per = _layers_per_block(config) + 1  # LDM counts the down/upsampler as one more layer
    up_with_attn = {int(k.split(".")[1]) for k in state if k.startswith("up_blocks.") and ".attentions." in k}
    out: Tensors = {}
    for key, value in state.items():
        first, _, rest = key.rpartition(".")  # rest = weight / bias
        if first in _UNET_FIXED:
            out[f"{_UNET_FIXED[first]}.{rest}"] = value
        elif m := _DOWN.match(key):
            b, kind, j, tail = int(m[1]), m[2], int(m[3]), m[4]
            if kind == "resnets":
                out[f"input_blocks.{1 + b * per + j}.0.{_resnet_part(tail)}"] = value
            elif kind == "attentions":
                out[f"input_blocks.{1 + b * per + j}.1.{tail}"] = value
            else:
                out[f"input_blocks.{b * per + per}.0.{tail.replace('conv.', 'op.', 1)}"] = value
        elif m := _MID.match(key):
            kind, j, tail = m[1], int(m[2]), m[3]
            if kind == "resnets":
                out[f"middle_block.{2 * j}.{_resnet_part(tail)}"] = value
            else:
                out[f"middle_block.{2 * j + 1}.{tail}"] = value
        elif m := _UP.match(key):
            b, kind, j, tail = int(m[1]), m[2], int(m[3]), m[4]
            if kind == "resnets":
                out[f"output_blocks.{b * per + j}.0.{_resnet_part(tail)}"] = value
            elif kind == "attentions":
                out[f"output_blocks.{b * per + j}.1.{tail}"] = value
            else:
                slot = 2 if b in up_with_attn else 1
                out[f"output_blocks.{b * per + per - 1}.{slot}.{tail}"] = value
        else:
            raise InputError(f"UNet weight '{key}' has no place in the SDXL checkpoint layout",
                             "only plain SDXL UNets can be exported (no adapters or extra embeddings)")
    return out


# ---------------------------------------------------------------- VAE

_VAE_FIXED = {"conv_norm_out": "norm_out"}
_VAE_ATTN = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "proj_out"}


def _vae_resnet(tail: str) -> str:
    return tail.replace("conv_shortcut", "nin_shortcut", 1)


def vae_to_ldm(state: Mapping[str, torch.Tensor], config: Mapping[str, Any]) -> Tensors:
    """diffusers ``AutoencoderKL`` keys -> original ``first_stage_model`` keys (no prefix)."""
    n_up = len(config["up_block_types"])
    out: Tensors = {}
    for key, value in state.items():
        if key.startswith(("quant_conv.", "post_quant_conv.")):
            out[key] = value
            continue
        part, _, rest = key.partition(".")  # encoder / decoder
        if m := re.match(r"^down_blocks\.(\d+)\.resnets\.(\d+)\.(.+)$", rest):
            new = f"down.{m[1]}.block.{m[2]}.{_vae_resnet(m[3])}"
        elif m := re.match(r"^down_blocks\.(\d+)\.downsamplers\.0\.(.+)$", rest):
            new = f"down.{m[1]}.downsample.{m[2]}"
        elif m := re.match(r"^up_blocks\.(\d+)\.resnets\.(\d+)\.(.+)$", rest):
            new = f"up.{n_up - 1 - int(m[1])}.block.{m[2]}.{_vae_resnet(m[3])}"
        elif m := re.match(r"^up_blocks\.(\d+)\.upsamplers\.0\.(.+)$", rest):
            new = f"up.{n_up - 1 - int(m[1])}.upsample.{m[2]}"
        elif m := re.match(r"^mid_block\.resnets\.(\d+)\.(.+)$", rest):
            new = f"mid.block_{int(m[1]) + 1}.{_vae_resnet(m[2])}"
        elif m := re.match(r"^mid_block\.attentions\.0\.(group_norm|to_q|to_k|to_v|to_out\.0)\.(.+)$", rest):
            new = f"mid.attn_1.{_VAE_ATTN[m[1]]}.{m[2]}"
            if m[1] != "group_norm" and value.ndim == 2:
                value = value[:, :, None, None]  # the original VAE attention uses 1x1 convolutions
        else:
            first, _, leaf = rest.rpartition(".")
            if first not in ("conv_in", "conv_out", "conv_norm_out"):
                raise InputError(f"VAE weight '{key}' has no place in the SDXL checkpoint layout",
                                 "only a standard AutoencoderKL can be exported")
            new = f"{_VAE_FIXED.get(first, first)}.{leaf}"
        out[f"{part}.{new}"] = value
    return out


# ---------------------------------------------------------------- text encoders


def _hf_text_model_keys(state: Mapping[str, torch.Tensor]) -> Tensors:
    """Newer transformers flatten ``CLIPTextModel``; checkpoints keep the ``text_model.`` prefix."""
    return {(k if k.startswith(("text_model.", "text_projection")) else f"text_model.{k}"): v
            for k, v in state.items()}


_OPEN_CLIP_LAYER = {
    "self_attn.out_proj": "attn.out_proj",
    "layer_norm1": "ln_1",
    "layer_norm2": "ln_2",
    "mlp.fc1": "mlp.c_fc",
    "mlp.fc2": "mlp.c_proj",
}


def clip_l_to_ldm(state: Mapping[str, torch.Tensor]) -> Tensors:
    """``CLIPTextModel`` -> ``conditioner.embedders.0.transformer.*`` keys (no prefix)."""
    return {k: v for k, v in _hf_text_model_keys(state).items() if not k.endswith("position_ids")}


def open_clip_to_ldm(state: Mapping[str, torch.Tensor]) -> Tensors:
    """``CLIPTextModelWithProjection`` -> OpenCLIP keys of ``conditioner.embedders.1.model`` (no prefix)."""
    sd = _hf_text_model_keys(state)
    out: Tensors = {}
    qkv: dict[tuple[int, str], dict[str, torch.Tensor]] = {}
    layer = re.compile(r"^text_model\.encoder\.layers\.(\d+)\.(.+)\.(weight|bias)$")
    fixed = {
        "text_model.embeddings.token_embedding.weight": "token_embedding.weight",
        "text_model.embeddings.position_embedding.weight": "positional_embedding",
        "text_model.final_layer_norm.weight": "ln_final.weight",
        "text_model.final_layer_norm.bias": "ln_final.bias",
    }
    for key, value in sd.items():
        if key.endswith("position_ids"):
            continue
        if key in fixed:
            out[fixed[key]] = value
        elif key == "text_projection.weight":
            out["text_projection"] = value.T.contiguous()  # OpenCLIP applies x @ P, nn.Linear x @ W.T
        elif m := layer.match(key):
            i, part, leaf = int(m[1]), m[2], m[3]
            if part in ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"):
                qkv.setdefault((i, leaf), {})[part[-6]] = value
            elif part in _OPEN_CLIP_LAYER:
                out[f"transformer.resblocks.{i}.{_OPEN_CLIP_LAYER[part]}.{leaf}"] = value
            else:
                raise InputError(f"text encoder 2 weight '{key}' is unknown", "export a standard SDXL model")
        else:
            raise InputError(f"text encoder 2 weight '{key}' is unknown", "export a standard SDXL model")
    for (i, leaf), parts in qkv.items():
        if set(parts) != {"q", "k", "v"}:
            raise InputError(f"text encoder 2 layer {i} lacks q/k/v {leaf}", "export a complete model")
        out[f"transformer.resblocks.{i}.attn.in_proj_{leaf}"] = torch.cat([parts["q"], parts["k"], parts["v"]])
    return out


# ---------------------------------------------------------------- whole pipeline


def merged_state_dict(module: torch.nn.Module) -> Tensors:
    """``module.state_dict()`` with active LoRA adapters merged into the base weights.

    PEFT wraps adapted layers (``x.base_layer.weight`` + ``x.lora_A/B``); the result has the plain
    keys again and each weight equals base + the scaled LoRA deltas that are active now (the ones
    ``load_lora``/``set_adapters`` selected). The live model is not changed.
    """
    sd = module.state_dict()
    if any("lora_magnitude_vector" in k for k in sd):
        raise InputError("the model has a DoRA adapter", "fuse it into the weights before exporting")
    out = {k.replace(".base_layer.", "."): v for k, v in sd.items() if ".lora_" not in k}
    for name, layer in module.named_modules():
        if not isinstance(layer, LoraLayer) or layer.disable_adapters:
            continue
        pending = [a for a in layer.active_adapters if a in layer.lora_A and a not in layer.merged_adapters]
        if pending:
            key = f"{name}.weight"
            weight = out[key].detach().clone()
            for adapter in pending:
                weight += layer.get_delta_weight(adapter).to(weight.dtype)  # type: ignore[attr-defined]
            out[key] = weight
    return out


def pipeline_to_ldm(pipe: Any) -> Tensors:
    """All four SDXL weight sets of ``pipe`` (LoRAs merged) as one dict in the original layout."""
    parts: list[tuple[str, Callable[[], Tensors]]] = [
        (UNET_PREFIX, lambda: unet_to_ldm(merged_state_dict(pipe.unet), pipe.unet.config)),
        (VAE_PREFIX, lambda: vae_to_ldm(merged_state_dict(pipe.vae), pipe.vae.config)),
        (CLIP_L_PREFIX, lambda: clip_l_to_ldm(merged_state_dict(pipe.text_encoder))),
        (OPEN_CLIP_PREFIX, lambda: open_clip_to_ldm(merged_state_dict(pipe.text_encoder_2))),
    ]
    out: Tensors = {}
    for prefix, convert in parts:
        out.update({prefix + k: v for k, v in convert().items()})
    return out


def _as_pipeline(pipe_or_folder: Any) -> Any:
    if hasattr(pipe_or_folder, "pipe"):  # a LoadedModel
        return pipe_or_folder.pipe
    if isinstance(pipe_or_folder, (str, os.PathLike)):
        return load_sdxl(pipe_or_folder, device="cpu").pipe
    if all(hasattr(pipe_or_folder, n) for n in ("unet", "vae", "text_encoder", "text_encoder_2")):
        return pipe_or_folder
    raise InputError(f"cannot export {type(pipe_or_folder).__name__}",
                     "give an SDXL pipeline, a LoadedModel or a diffusers SDXL folder")


def export_single_file(
    pipe_or_folder: Any,
    path: str | os.PathLike[str],
    dtype: torch.dtype | None = None,
    progress: ProgressReporter | ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> Path:
    """Write ``pipe_or_folder`` (pipeline, ``LoadedModel`` or diffusers folder) as one ``.safetensors``.

    Active LoRA adapters (e.g. from ``load_lora``) are merged in, so the file is the personalised
    model as one checkpoint for other tools.

    ``dtype`` (e.g. ``torch.float16``) converts floating weights; default keeps them as they are.
    The file is written to a temporary name and renamed, so a cancelled or failed export never
    leaves a half-written checkpoint at ``path``. Returns the path.
    """
    target = Path(path).expanduser()
    if target.suffix != ".safetensors":
        raise InputError(f"'{target}' does not end in .safetensors", "name the exported file *.safetensors")
    if not target.parent.is_dir():
        raise InputError(f"folder '{target.parent}' does not exist", "create it or choose another folder")
    reporter = as_reporter(progress, cancel)
    reporter.start("export", 3)
    pipe = _as_pipeline(pipe_or_folder)
    if pipe.text_encoder.config.hidden_size == pipe.text_encoder_2.config.hidden_size:
        warnings.warn("both text encoders have the same width: diffusers' from_single_file cannot tell "
                      "them apart when loading this file", stacklevel=2)
    reporter.step()
    tensors: Tensors = {}
    storages: set[int] = set()
    for key, value in pipeline_to_ldm(pipe).items():
        if value.device.type == "meta":
            raise ModelLoadError(f"weight '{key}' was never loaded (meta tensor)", "load the model fully first")
        t = value.detach().to("cpu")
        if dtype is not None and t.is_floating_point():
            t = t.to(dtype)
        t = t.contiguous()
        ptr = t.untyped_storage().data_ptr()
        if ptr in storages:  # safetensors refuses tensors that share memory (tied weights)
            t = t.clone()
        storages.add(t.untyped_storage().data_ptr())
        tensors[key] = t
    reporter.step()
    metadata = {
        "format": "pt",
        "modelspec.sai_model_spec": "1.0.0",
        "modelspec.architecture": "stable-diffusion-xl-v1-base",
        "modelspec.implementation": "https://github.com/Stability-AI/generative-models",
        "modelspec.title": target.stem,
        "lipe.exported_by": "lipe_engine.models.single_file",
    }
    fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=".partial", dir=target.parent)
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata=metadata)
        reporter.check()
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    reporter.step()
    return target
