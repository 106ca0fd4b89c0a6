"""Model sources: single-file export/load round trip, Hugging Face cache ids, discovery of local models.

Everything runs offline on tiny models. The single-file round trip uses a tiny SDXL whose second
text encoder is wider than the first (like real SDXL, 768 vs 1280): diffusers' ``from_single_file``
tells the two encoders apart by width, see ``test_equal_width_text_encoders_fail_clearly``.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import torch

from lipe_engine.errors import Cancelled, InputError, ModelLoadError
from lipe_engine.models.loader import DEFAULT_SDXL_CONFIG_REPO, load_sdxl
from lipe_engine.models.single_file import export_single_file
from lipe_engine.progress import CancelToken

PARTS = ("unet", "vae", "text_encoder", "text_encoder_2")


# ------------------------------------------------------------------ helpers / fixtures


@pytest.fixture(scope="module")
def sf_tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from lipe_engine.models.tiny import TinySDXLConfig, build_tiny_sdxl

    return build_tiny_sdxl(tmp_path_factory.mktemp("sf_tiny") / "model", config=TinySDXLConfig(text2_hidden=48))


@pytest.fixture(scope="module")
def perturbed(sf_tiny_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """The tiny model with every weight nudged, exported to one file.

    Nudging matters: if diffusers silently fell back to the config folder's own weights for a
    component, the round trip would still compare equal against the unmodified folder.
    """
    model = load_sdxl(sf_tiny_dir, device="cpu", dtype="fp32")
    gen = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for part in PARTS:
            for p in getattr(model.pipe, part).parameters():
                p.add_(0.01 * torch.randn(p.shape, generator=gen))
    path = export_single_file(model, tmp_path_factory.mktemp("sf_file") / "merged.safetensors")
    return model, path


def _assert_same_weights(a, b) -> None:
    for part in PARTS:
        sa, sb = getattr(a, part).state_dict(), getattr(b, part).state_dict()
        assert sa.keys() == sb.keys(), part
        for key, value in sa.items():
            assert not sb[key].is_meta, f"{part}.{key} not loaded"
            assert torch.equal(value, sb[key]), f"{part}.{key} differs"


def _unet_out(pipe) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    unet = pipe.unet
    x = torch.randn(1, 4, 8, 8, generator=gen)
    ctx = torch.randn(1, 5, unet.config.cross_attention_dim, generator=gen)
    pooled = torch.randn(1, pipe.text_encoder_2.config.projection_dim, generator=gen)
    time_ids = torch.tensor([[64.0, 64.0, 0.0, 0.0, 64.0, 64.0]])
    with torch.no_grad():
        return unet(x, 500, ctx, added_cond_kwargs={"text_embeds": pooled, "time_ids": time_ids}).sample


def _safetensors_header(path: Path) -> dict:
    with path.open("rb") as fh:
        n = int.from_bytes(fh.read(8), "little")
        return json.loads(fh.read(n))


def _lay_out_hub_cache(cache: Path, repo_id: str, folder: Path, rev: str = "0123abcd" * 5) -> Path:
    """Put a diffusers folder into ``cache`` the way huggingface_hub stores downloads."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    snap = repo / "snapshots" / rev
    for f in folder.rglob("*"):
        if f.is_file():
            rel = f.relative_to(folder)
            blob = repo / "blobs" / f"{abs(hash(str(rel))):x}"
            blob.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f, blob)
            (snap / rel).parent.mkdir(parents=True, exist_ok=True)
            os.symlink(os.path.relpath(blob, (snap / rel).parent), snap / rel)
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(rev)
    return snap


@pytest.fixture()
def hub_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Hugging Face cache that huggingface_hub uses for this test (it reads env at import)."""
    import huggingface_hub.constants as hf_constants

    cache = tmp_path / "hf" / "hub"
    cache.mkdir(parents=True)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(cache))
    return cache


# ------------------------------------------------------------------ single file


def test_single_file_round_trip_identical(perturbed, sf_tiny_dir: Path):
    model, path = perturbed
    loaded = load_sdxl(path, device="cpu", dtype="fp32", config=str(sf_tiny_dir))
    assert loaded.model_id.startswith("file:")
    _assert_same_weights(model.pipe, loaded.pipe)
    ref = _unet_out(model.pipe)
    # tensors mapped from the file are not 64-byte aligned, so CPU kernels may round differently
    torch.testing.assert_close(_unet_out(loaded.pipe), ref, atol=1e-5, rtol=0)
    with torch.no_grad():
        for p in loaded.pipe.unet.parameters():
            p.data = p.data.clone()  # fresh, aligned storage: now bit-identical
    assert torch.equal(_unet_out(loaded.pipe), ref)
    assert not torch.equal(_unet_out(model.pipe), _unet_out(load_sdxl(sf_tiny_dir, device="cpu").pipe))


def test_exported_file_uses_original_sdxl_layout(perturbed):
    model, path = perturbed
    header = _safetensors_header(path)
    meta = header.pop("__metadata__")
    assert meta["modelspec.architecture"] == "stable-diffusion-xl-v1-base"
    prefixes = {k.split(".")[0] for k in header}
    assert prefixes == {"model", "first_stage_model", "conditioner"}
    assert not any(k.startswith(("model.diffusion_model.down_blocks", "first_stage_model.encoder.down_blocks"))
                   for k in header)
    shapes = {k: v["shape"] for k, v in header.items()}
    assert shapes["model.diffusion_model.label_emb.0.0.weight"] == [128, 6 * 8 + 32]
    assert shapes["model.diffusion_model.input_blocks.2.0.op.weight"] == [32, 32, 3, 3]  # downsampler
    assert "model.diffusion_model.output_blocks.1.2.conv.weight" in shapes  # upsampler after attention
    assert shapes["first_stage_model.encoder.mid.attn_1.q.weight"] == [64, 64, 1, 1]
    assert "first_stage_model.decoder.up.1.upsample.conv.weight" in shapes  # decoder order is reversed
    assert "conditioner.embedders.0.transformer.text_model.embeddings.position_embedding.weight" in shapes
    oc = "conditioner.embedders.1.model."
    assert shapes[oc + "positional_embedding"] == [77, 48]
    assert shapes[oc + "transformer.resblocks.0.attn.in_proj_weight"] == [3 * 48, 48]
    assert shapes[oc + "text_projection"] == [48, 32]  # OpenCLIP: x @ P
    n_weights = sum(len(getattr(model.pipe, p).state_dict()) for p in PARTS)
    n_fused = 2 * model.pipe.text_encoder_2.config.num_hidden_layers * 2  # q,k,v -> in_proj (w and b)
    assert len(header) == n_weights - n_fused


def test_export_merges_active_lora(sf_tiny_dir: Path, tmp_path: Path):
    from peft import LoraConfig

    model = load_sdxl(sf_tiny_dir, device="cpu", dtype="fp32")
    base_out = _unet_out(model.pipe)
    torch.manual_seed(3)
    model.pipe.unet.add_adapter(LoraConfig(r=4, lora_alpha=4, init_lora_weights=False,
                                           target_modules=["to_q", "to_k", "to_v", "to_out.0"]), "a")
    model.pipe.unet.set_adapters(["a"], weights=[0.5])
    model.pipe.text_encoder_2.add_adapter(LoraConfig(r=4, lora_alpha=4, init_lora_weights=False,
                                                     target_modules=["q_proj", "v_proj"]), "t")
    ids = torch.tensor([[5, 6, 7, 8]])
    with torch.no_grad():
        lora_out, lora_text = _unet_out(model.pipe), model.pipe.text_encoder_2(ids).text_embeds
    assert not torch.allclose(lora_out, base_out, atol=1e-4)
    path = export_single_file(model, tmp_path / "personal.safetensors")
    torch.testing.assert_close(_unet_out(model.pipe), lora_out, atol=0, rtol=0)  # live model untouched
    loaded = load_sdxl(path, device="cpu", dtype="fp32", config=str(sf_tiny_dir))
    with torch.no_grad():
        torch.testing.assert_close(loaded.pipe.text_encoder_2(ids).text_embeds, lora_text, atol=1e-5, rtol=0)
    torch.testing.assert_close(_unet_out(loaded.pipe), lora_out, atol=1e-5, rtol=0)


def test_export_from_folder_fp16(sf_tiny_dir: Path, tmp_path: Path):
    out = export_single_file(sf_tiny_dir, tmp_path / "half.safetensors", dtype=torch.float16)
    dtypes = {v["dtype"] for k, v in _safetensors_header(out).items() if k != "__metadata__"}
    assert dtypes == {"F16"}


def test_export_bad_target_and_cancel(sf_tiny_dir: Path, tmp_path: Path):
    with pytest.raises(InputError, match=".safetensors"):
        export_single_file(sf_tiny_dir, tmp_path / "model.ckpt")
    with pytest.raises(InputError, match="does not exist"):
        export_single_file(sf_tiny_dir, tmp_path / "nope" / "model.safetensors")
    with pytest.raises(InputError, match="cannot export"):
        export_single_file(object(), tmp_path / "model.safetensors")
    token = CancelToken()
    with pytest.raises(Cancelled):  # cancelled after converting, before writing
        export_single_file(sf_tiny_dir, tmp_path / "c.safetensors", cancel=token,
                           progress=lambda ev: token.cancel() if ev.step == 2 else None)
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def test_single_file_without_config_offline_is_a_clear_error(perturbed, hub_cache: Path):
    _, path = perturbed
    with pytest.raises(ModelLoadError, match="needs the SDXL configs") as err:
        load_sdxl(path, device="cpu")
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_single_file_never_downloads_configs(perturbed, hub_cache: Path, monkeypatch: pytest.MonkeyPatch):
    """Online or not, a missing config repo is an error, not a silent download (diffusers would try)."""
    import diffusers.loaders.single_file as dsf
    import huggingface_hub.constants as hf_constants

    calls: list[bool] = []
    real = dsf.snapshot_download

    def spy(*args, **kwargs):
        calls.append(bool(kwargs.get("local_files_only")))
        if not kwargs.get("local_files_only"):
            raise OSError("network use attempted")
        return real(*args, **kwargs)

    monkeypatch.setattr(dsf, "snapshot_download", spy)
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    with pytest.raises(ModelLoadError, match="needs the SDXL configs"):
        load_sdxl(perturbed[1], device="cpu")
    assert False not in calls


def test_single_file_uses_default_config_repo_from_cache(perturbed, sf_tiny_dir: Path, hub_cache: Path):
    model, path = perturbed
    _lay_out_hub_cache(hub_cache, DEFAULT_SDXL_CONFIG_REPO, sf_tiny_dir)
    loaded = load_sdxl(path, device="cpu", dtype="fp32")
    _assert_same_weights(model.pipe, loaded.pipe)


def test_incomplete_checkpoint_is_a_clear_error(perturbed, sf_tiny_dir: Path, tmp_path: Path):
    from safetensors.torch import load_file, save_file

    _, path = perturbed
    sd = load_file(path)
    unet_only = tmp_path / "unet_only.safetensors"
    save_file({k: v for k, v in sd.items() if k.startswith("model.")}, unet_only)
    with pytest.raises(ModelLoadError, match="could not load the checkpoint"):
        load_sdxl(unet_only, device="cpu", config=str(sf_tiny_dir))
    holes = tmp_path / "holes.safetensors"
    save_file({k: v for k, v in sd.items() if "output_blocks.3" not in k}, holes)
    with pytest.raises(ModelLoadError, match="could not load the checkpoint|no usable weights for unet"):
        load_sdxl(holes, device="cpu", config=str(sf_tiny_dir))


def test_equal_width_text_encoders_fail_clearly(tiny_sdxl_dir: Path, tmp_path: Path):
    """The default tiny model has two 32-wide text encoders; diffusers then mixes them up on load."""
    with pytest.warns(UserWarning, match="same width"):
        path = export_single_file(tiny_sdxl_dir, tmp_path / "tiny.safetensors")
    with pytest.raises(ModelLoadError, match="no usable weights for text_encoder_2"):
        load_sdxl(path, device="cpu", config=str(tiny_sdxl_dir))


def test_real_sdxl_structure_matches_diffusers_converters():
    """Full-size SDXL shapes on the meta device (no memory): diffusers recognises the export as
    ``xl_base`` and its own LDM->diffusers converters map every key back with the same shape."""
    from accelerate import init_empty_weights
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from diffusers.loaders import single_file_utils as sfu
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    from lipe_engine.models.single_file import pipeline_to_ldm

    with init_empty_weights():
        unet = UNet2DConditionModel(
            sample_size=128, block_out_channels=(320, 640, 1280), layers_per_block=2,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
            attention_head_dim=(5, 10, 20), transformer_layers_per_block=(1, 2, 10), use_linear_projection=True,
            addition_embed_type="text_time", addition_time_embed_dim=256,
            projection_class_embeddings_input_dim=2816, cross_attention_dim=2048)
        vae = AutoencoderKL(block_out_channels=(128, 256, 512, 512), layers_per_block=2, latent_channels=4,
                            down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4)
        te1 = CLIPTextModel(CLIPTextConfig(hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                                           num_attention_heads=12))
        te2 = CLIPTextModelWithProjection(CLIPTextConfig(hidden_size=1280, intermediate_size=5120,
                                                         num_hidden_layers=32, num_attention_heads=20,
                                                         projection_dim=1280))

    class Pipe:
        pass

    pipe = Pipe()
    pipe.unet, pipe.vae, pipe.text_encoder, pipe.text_encoder_2 = unet, vae, te1, te2  # type: ignore[attr-defined]
    ldm = pipeline_to_ldm(pipe)
    assert sfu.infer_diffusers_model_type(ldm) == "xl_base"
    for key in ("model.diffusion_model.input_blocks.6.0.op.weight", "model.diffusion_model.output_blocks.5.2.conv.bias",
                "model.diffusion_model.input_blocks.8.1.transformer_blocks.9.attn2.to_k.weight",
                "model.diffusion_model.middle_block.2.emb_layers.1.weight",
                "first_stage_model.decoder.up.3.upsample.conv.weight", "first_stage_model.encoder.down.3.block.1.conv2.bias",
                "conditioner.embedders.1.model.transformer.resblocks.31.mlp.c_proj.bias"):
        assert key in ldm, key

    def same(model, converted):
        ref = {k: tuple(v.shape) for k, v in model.state_dict().items()}
        assert {k: tuple(v.shape) for k, v in converted.items()} == ref

    same(unet, sfu.convert_ldm_unet_checkpoint(ldm, unet.config))
    same(vae, sfu.convert_ldm_vae_checkpoint(ldm, vae.config))
    same(te2, sfu.convert_open_clip_checkpoint(te2, ldm, prefix="conditioner.embedders.1.model."))
    clip_l = sfu.convert_ldm_clip_checkpoint(ldm)
    same(te1, {k.removeprefix("text_model.") if not hasattr(te1, "text_model") else k: v for k, v in clip_l.items()})


# ------------------------------------------------------------------ Hugging Face cache


def test_load_by_repo_id_from_hf_cache(tiny_sdxl_dir: Path, tiny_model, hub_cache: Path):
    snap = _lay_out_hub_cache(hub_cache, "someorg/tiny-sdxl", tiny_sdxl_dir)
    assert (snap / "unet").is_dir() and (snap / "model_index.json").is_symlink()
    model = load_sdxl("someorg/tiny-sdxl", device="cpu", dtype="fp32")
    assert model.model_id == f"hub:someorg/tiny-sdxl:{snap.name}"
    _assert_same_weights(tiny_model.pipe, model.pipe)
    with pytest.raises(ModelLoadError, match="not in the Hugging Face cache"):
        load_sdxl("someorg/other-sdxl", device="cpu")


def test_hf_cache_without_weights_is_a_clear_error(tiny_sdxl_dir: Path, hub_cache: Path, tmp_path: Path):
    configs = tmp_path / "configs_only"
    shutil.copytree(tiny_sdxl_dir, configs, ignore=shutil.ignore_patterns("*.safetensors"))
    _lay_out_hub_cache(hub_cache, "someorg/configs-only", configs)
    with pytest.raises(ModelLoadError, match="someorg/configs-only"):
        load_sdxl("someorg/configs-only", device="cpu")


# ------------------------------------------------------------------ discovery


def _st(path: Path, shapes: dict[str, tuple[int, ...]], metadata: dict[str, str] | None = None) -> Path:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: torch.zeros(s) for k, s in shapes.items()}, str(path), metadata=metadata)
    return path


def _gguf(path: Path, arch: str, name: str | None = None, vocab: int = 0) -> Path:
    import gguf
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    w = gguf.GGUFWriter(str(path), arch)
    if name:
        w.add_name(name)
    if arch == "clip":
        w.add_clip_has_vision_encoder(True)
    if vocab:
        w.add_token_list([f"tok{i}" for i in range(vocab)])
    w.add_tensor("t", np.zeros(4, np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def _fake_diffusers(folder: Path, cls: str = "StableDiffusionXLPipeline", te2: bool = True,
                    weights: bool = True, in_channels: int = 4) -> Path:
    parts = {"unet": "UNet2DConditionModel", "vae": "AutoencoderKL", "text_encoder": "CLIPTextModel",
             "text_encoder_2": "CLIPTextModelWithProjection"}
    index: dict = {"_class_name": cls}
    for part, klass in parts.items():
        index[part] = ["diffusers", klass] if (te2 or part != "text_encoder_2") else [None, None]
        (folder / part).mkdir(parents=True)
        (folder / part / "config.json").write_text(json.dumps({"in_channels": in_channels}))
        if weights:
            (folder / part / "model.safetensors").write_bytes(b"0" * 1000)
    (folder / "model_index.json").write_text(json.dumps(index))
    return folder


SDXL_CKPT = {"model.diffusion_model.input_blocks.0.0.weight": (2, 4, 1, 1), "first_stage_model.quant_conv.bias": (2,),
             "conditioner.embedders.0.transformer.text_model.final_layer_norm.bias": (2,),
             "conditioner.embedders.1.model.ln_final.bias": (2,)}


@pytest.fixture()
def fake_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, perturbed) -> Path:
    home = tmp_path / "home"
    models = home / "models"
    _fake_diffusers(models / "my-sdxl")
    _fake_diffusers(models / "sd15", cls="StableDiffusionPipeline", te2=False)
    _fake_diffusers(models / ".hidden" / "secret-sdxl")
    _fake_diffusers(models / "a" / "b" / "c" / "d" / "too-deep-sdxl")
    webui = home / "stable-diffusion-webui" / "models"
    _st(webui / "Stable-diffusion" / "juggernautXL.safetensors", SDXL_CKPT)
    _st(webui / "Stable-diffusion" / "v1-5.safetensors", {"model.diffusion_model.out.2.bias": (4,),
                                                          "cond_stage_model.transformer.x": (1,)})
    _st(webui / "Stable-diffusion" / "refiner.safetensors", {"conditioner.embedders.0.model.ln_final.bias": (2,)})
    _st(webui / "Stable-diffusion" / "no-vae.safetensors",
        {k: v for k, v in SDXL_CKPT.items() if not k.startswith("first_stage")})
    (webui / "Stable-diffusion" / "broken.safetensors").write_bytes(b"\xff" * 20)
    _st(webui / "Lora" / "dog_xl.safetensors", {"lora_unet_input_blocks_4_1_proj_in.lora_down.weight": (2, 2),
                                                "lora_te2_text_model_x.lora_up.weight": (2, 2)})
    _st(webui / "Lora" / "old.safetensors", {"lora_te_text_model_x.lora_down.weight": (2, 2)})
    _st(models / "sks-dog" / "pytorch_lora_weights.safetensors", {"unet.x.lora_A.weight": (2, 2)})
    comfy = home / "ComfyUI" / "models" / "checkpoints"
    comfy.mkdir(parents=True)
    shutil.copy(perturbed[1], comfy / "merged.safetensors")
    llava = home / ".cache" / "lm-studio" / "models" / "cjpais" / "llava-gguf"
    _gguf(llava / "llava-v1.6-mistral-7b.Q4_K_M.gguf", "llama", "llava-v1.6-mistral-7b")
    _gguf(llava / "llava-v1.6-mistral-7b.Q5_K_M.gguf", "llama", "llava-v1.6-mistral-7b")
    _gguf(llava / "mmproj-model-f16.gguf", "clip")
    _gguf(home / "llama.cpp" / "models" / "tinyllama-1.1b.Q8_0.gguf", "llama", "TinyLlama", vocab=3000)
    (home / "llama.cpp" / "models" / "junk.gguf").write_bytes(b"GGUF\x01")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("LIPE_MODEL_DIRS", raising=False)
    return home


def test_discovery_finds_local_models(fake_home: Path, hub_cache: Path, tiny_sdxl_dir: Path, tmp_path: Path):
    import time

    from lipe_engine.models.discovery import Kind, discover_models

    _lay_out_hub_cache(hub_cache, "someorg/tiny-sdxl", tiny_sdxl_dir)
    _fake_diffusers(tmp_path / "cfg", weights=False)
    _lay_out_hub_cache(hub_cache, DEFAULT_SDXL_CONFIG_REPO, tmp_path / "cfg")
    clip = tmp_path / "clip"
    _st(clip / "model.safetensors", {"w": (2,)})
    (clip / "config.json").write_text(json.dumps({"model_type": "clip"}))
    _lay_out_hub_cache(hub_cache, "openai/clip-vit-base-patch32", clip)
    dino = tmp_path / "dino"
    _st(dino / "model.safetensors", {"w": (2,)})
    (dino / "config.json").write_text(json.dumps({"model_type": "dinov2"}))
    _lay_out_hub_cache(hub_cache, "facebook/dinov2-small", dino)

    t0 = time.perf_counter()
    found = discover_models()
    elapsed = time.perf_counter() - t0
    by_label = {f.label: f for f in found}
    kinds = [f.kind for f in found]
    assert kinds == sorted(kinds, key=[Kind.SDXL_DIFFUSERS, Kind.SDXL_CHECKPOINT, Kind.LORA, Kind.LLAVA_GGUF,
                                       Kind.LLM_GGUF, Kind.CLIP, Kind.DINOV2, Kind.OTHER_DIFFUSION].index)

    hub = by_label["someorg/tiny-sdxl"]
    assert (hub.kind, hub.source, hub.usable, hub.load_arg) == (Kind.SDXL_DIFFUSERS, "hf-cache", True,
                                                                 "someorg/tiny-sdxl")
    assert hub.size == sum(f.stat().st_size for f in tiny_sdxl_dir.rglob("*") if f.is_file())
    cfg_only = by_label[DEFAULT_SDXL_CONFIG_REPO]
    assert not cfg_only.usable and "configs only" in cfg_only.note
    assert by_label["my-sdxl"].kind == Kind.SDXL_DIFFUSERS and by_label["my-sdxl"].load_arg.endswith("my-sdxl")
    assert by_label["sd15"].kind == Kind.OTHER_DIFFUSION and not by_label["sd15"].usable
    assert "secret-sdxl" not in by_label and "too-deep-sdxl" not in by_label

    assert by_label["juggernautXL"].kind == Kind.SDXL_CHECKPOINT and by_label["juggernautXL"].usable
    assert by_label["merged"].kind == Kind.SDXL_CHECKPOINT  # exported file: label from modelspec.title
    assert not by_label["no-vae"].usable and "first_stage_model" in by_label["no-vae"].note
    assert "SD 1.x" in by_label["v1-5"].note and "refiner" in by_label["refiner"].note
    assert "broken" not in " ".join(by_label)
    assert by_label["dog_xl (LoRA, SDXL)"].usable and not by_label["old (LoRA)"].usable
    assert by_label["sks-dog (LoRA)"].usable  # diffusers/PEFT LoRA named after its folder

    pairs = [f for f in found if f.kind == Kind.LLAVA_GGUF]
    assert sorted(f.label for f in pairs) == ["llava-v1.6-mistral-7b (Q4_K_M) + vision projector",
                                              "llava-v1.6-mistral-7b (Q5_K_M) + vision projector"]
    assert all(f.companion is not None and f.companion.name == "mmproj-model-f16.gguf" for f in pairs)
    assert pairs[0].size == pairs[0].path.stat().st_size + pairs[0].companion.stat().st_size  # type: ignore[union-attr]
    llm = [f for f in found if f.kind == Kind.LLM_GGUF]
    assert [f.label for f in llm] == ["TinyLlama (Q8_0)"]
    assert by_label["openai/clip-vit-base-patch32"].kind == Kind.CLIP
    assert by_label["facebook/dinov2-small"].kind == Kind.DINOV2
    assert elapsed < 2.0, f"discovery took {elapsed:.2f}s"


def test_discovery_options(fake_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from lipe_engine.models.discovery import Kind, default_search_dirs, discover_models, inspect_path

    extra = tmp_path / "extra"
    _gguf(extra / "phi.gguf", "phi3", "Phi 3 mini")
    monkeypatch.setenv("LIPE_MODEL_DIRS", f"{extra}{os.pathsep}{tmp_path / 'missing'}")
    dirs = default_search_dirs()
    assert dirs[0] == extra and fake_home / "models" in dirs and tmp_path / "missing" not in dirs
    only = discover_models([fake_home / "models"], include_defaults=False, hf_cache=False)
    assert {f.label for f in only} == {"my-sdxl", "sd15", "sks-dog (LoRA)"}
    deep = discover_models([fake_home / "models"], include_defaults=False, hf_cache=False, max_depth=6)
    assert "too-deep-sdxl" in {f.label for f in deep}
    assert discover_models([fake_home], include_defaults=False, hf_cache=False, max_entries=3) == []
    [phi] = inspect_path(extra / "phi.gguf")
    assert (phi.kind, phi.label) == (Kind.LLM_GGUF, "Phi 3 mini")
    assert inspect_path(tmp_path / "nothing-here") == []
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        discover_models([fake_home], include_defaults=False, hf_cache=False, cancel=token)


def test_inpainting_unet_is_refused_but_a_wider_latent_base_is_not(tmp_path: Path) -> None:
    """An inpainting UNet takes 9 channels and gives 4; a base UNet gives what it takes (the toy model's
    VAE has 8 latent channels, SDXL's 4)."""
    from lipe_engine.models.discovery import classify_diffusers_folder

    def folder(name: str, cin: int, cout: int) -> Path:
        f = _fake_diffusers(tmp_path / name)
        (f / "unet" / "config.json").write_text(json.dumps({"in_channels": cin, "out_channels": cout}))
        return f

    inpaint = classify_diffusers_folder(folder("inpaint", 9, 4), "inpaint")
    assert inpaint is not None and not inpaint.usable and "inpainting" in inpaint.note
    for name, channels in (("sdxl", 4), ("toy8", 8)):
        found = classify_diffusers_folder(folder(name, channels, channels), name)
        assert found is not None and found.usable, name
