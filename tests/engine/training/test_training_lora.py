"""LoRA identity-prior training on the tiny SDXL model: loss, export round-trip, resume, cancel, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from lipe_engine.errors import Cancelled, InputError, LipeError
from lipe_engine.models.loader import load_lora, load_sdxl
from lipe_engine.models.prompts import encode_sdxl_prompts as encode_prompts
from lipe_engine.progress import CancelToken
from lipe_engine.training import PRESETS, TrainingConfig, config_from_preset, train_identity_lora

RES = 32  # pixels; latent 16x16 keeps a CPU step well under a second


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _photo(color, box_color, shift=0) -> Image.Image:
    a = np.zeros((40, 48, 3), np.uint8)
    a[:] = color
    a[10 + shift : 30 + shift, 14:34] = box_color
    return Image.fromarray(a)


@pytest.fixture(scope="module")
def instance_items():
    return [
        (_photo((200, 40, 40), (250, 250, 250)), "a photo of a sks dog sitting on grass"),
        (_photo((40, 200, 40), (250, 250, 250), shift=4), "a sks dog standing in a park"),
    ]


@pytest.fixture(scope="module")
def class_items():
    return [
        (_photo((90, 90, 90), (10, 10, 200)), "a dog running on a beach"),
        (_photo((20, 20, 20), (200, 200, 10)), "a dog lying in a room"),
    ]


def _config(**kw) -> TrainingConfig:
    base = dict(max_steps=12, resolution=RES, rank=8, lr_unet=5e-3, lr_text=5e-3, checkpoint_every=100)
    base.update(kw)
    return TrainingConfig(**base)


@torch.no_grad()
def _eval_loss(model, items) -> float:
    """Denoising loss on fixed noise/timesteps for the reference photos with their captions."""
    from lipe_engine.training.data import encode_latents, load_examples

    pipe = model.pipe
    ex = load_examples(items, RES, "photo")
    lat = encode_latents(pipe.vae, ex, model.device, None)
    g = torch.Generator().manual_seed(123)
    losses = []
    for t in (100, 300, 500, 700, 900):
        noise = torch.randn(lat.shape, generator=g)
        ts = torch.full((len(ex),), t)
        from diffusers import DDPMScheduler

        sched = DDPMScheduler.from_config(pipe.scheduler.config)
        noisy = sched.add_noise(lat, noise, ts)
        emb, pooled = encode_prompts(pipe, [e.text for e in ex], model.device, grad=False)
        pred = pipe.unet(noisy, ts, encoder_hidden_states=emb,
                         added_cond_kwargs={"text_embeds": pooled, "time_ids": torch.tensor([e.time_ids for e in ex]).float()}).sample
        losses.append(torch.mean((pred - noise) ** 2).item())
    return float(np.mean(losses))


@pytest.fixture(scope="module")
def trained(tiny_sdxl_dir, instance_items, class_items, tmp_path_factory):
    out = tmp_path_factory.mktemp("train") / "run"
    events = []
    lora_dir = train_identity_lora(str(tiny_sdxl_dir), instance_items, class_items, out,
                                   _config(max_steps=40, sample_every=20, sample_steps=2), progress=events.append)
    return out, lora_dir, events


def test_training_lowers_loss_and_lora_changes_unet(trained, tiny_sdxl_dir, instance_items):
    out, lora_dir, events = trained
    base = load_sdxl(tiny_sdxl_dir, device="cpu", dtype="fp32")
    before = _eval_loss(base, instance_items)
    tuned = load_sdxl(tiny_sdxl_dir, device="cpu", dtype="fp32")
    load_lora(tuned, lora_dir)
    after = _eval_loss(tuned, instance_items)
    assert after < before * 0.95, (before, after)
    summary = json.loads((out / "training.json").read_text())
    assert summary["steps"] == 40 and len(summary["losses"]) == 40
    train_events = [e for e in events if e.stage == "train"]
    assert train_events[-1].step == 40 and train_events[-1].total == 40
    assert "loss" in train_events[-1].info and train_events[-1].eta_s is not None
    samples = sorted(p.name for p in (out / "samples").iterdir())
    assert samples == [f"step_0000{s}_prompt_0_seed_{k}.png" for s in (20, 40) for k in (0, 1)]


def test_kohya_file_loads_to_same_weights_as_diffusers_folder(trained, tiny_sdxl_dir):
    out, lora_dir, _ = trained
    kohya = out / "lora_kohya.safetensors"
    from safetensors.torch import load_file

    keys = load_file(str(kohya)).keys()
    assert any(k.startswith("lora_unet_") for k in keys) and any(k.startswith("lora_te1_") for k in keys)
    assert any(k.startswith("lora_te2_") for k in keys) and any(k.endswith(".alpha") for k in keys)
    outputs = []
    for src in (None, lora_dir, kohya):
        m = load_sdxl(tiny_sdxl_dir, device="cpu", dtype="fp32")
        if src is not None:
            load_lora(m, src)
        with torch.no_grad():
            emb, pooled = encode_prompts(m.pipe, ["a sks dog"], m.device, grad=False)
            x = torch.randn(1, 4, 16, 16, generator=torch.Generator().manual_seed(0))
            outputs.append(m.pipe.unet(x, torch.tensor([500]), encoder_hidden_states=emb,
                                       added_cond_kwargs={"text_embeds": pooled, "time_ids": torch.tensor([[32.0, 32, 0, 0, 32, 32]])}).sample)
    assert (outputs[0] - outputs[1]).abs().max() > 1e-3  # the LoRA changes the UNet's prediction
    torch.testing.assert_close(outputs[1], outputs[2], atol=1e-5, rtol=1e-4)


def test_cancel_then_resume_matches_uninterrupted_run(tiny_sdxl_dir, instance_items, class_items, tmp_path):
    from safetensors.torch import load_file

    cfg = dict(max_steps=10, train_text_encoders=True, gradient_checkpointing=True)
    full = train_identity_lora(str(tiny_sdxl_dir), instance_items, class_items, tmp_path / "full", _config(**cfg))

    token = CancelToken()

    def stop_at_6(ev):
        if ev.stage.startswith("train") and ev.info.get("global_step") == 6:
            token.cancel()

    run = tmp_path / "interrupted"
    with pytest.raises(Cancelled):
        train_identity_lora(str(tiny_sdxl_dir), instance_items, class_items, run, _config(**cfg),
                            progress=stop_at_6, cancel=token)
    # a consistent state: one complete checkpoint at the cancelled step, no half-written folders or output
    ckpts = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert ckpts == ["step_000006"]
    assert json.loads((run / "checkpoints/step_000006/state.json").read_text())["step"] == 6
    assert not (run / "lora").exists()

    events = []
    resumed = train_identity_lora(str(tiny_sdxl_dir), instance_items, class_items, run, _config(**cfg),
                                  progress=events.append)
    assert any(e.stage == "train (resumed at step 6)" and e.total == 4 for e in events)
    a = load_file(str(full / "pytorch_lora_weights.safetensors"))
    b = load_file(str(resumed / "pytorch_lora_weights.safetensors"))
    assert a.keys() == b.keys() and any("text_encoder" in k for k in a)
    # Tolerance: same CPU, same per-step seeds -> identical up to float reordering (1e-6 absolute).
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=1e-6, rtol=0)
    assert json.loads((run / "training.json").read_text())["resumed_from_step"] == 6


def test_resume_refuses_checkpoints_of_other_settings(tiny_sdxl_dir, instance_items, tmp_path):
    train_identity_lora(str(tiny_sdxl_dir), instance_items, None, tmp_path, _config(max_steps=2))
    with pytest.raises(InputError, match="other settings"):
        train_identity_lora(str(tiny_sdxl_dir), instance_items, None, tmp_path, _config(max_steps=2, rank=4))


def test_bad_inputs_give_one_line_errors(tiny_sdxl_dir, tmp_path):
    with pytest.raises(InputError, match="no reference photo"):
        train_identity_lora(str(tiny_sdxl_dir), [], None, tmp_path / "a", _config())
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a jpeg at all")
    with pytest.raises(InputError, match="is not an image") as info:
        train_identity_lora(str(tiny_sdxl_dir), [(bad, "a sks dog")], None, tmp_path / "b", _config())
    assert "\n" not in str(info.value) and str(bad) in str(info.value)
    with pytest.raises(InputError, match="does not exist"):
        train_identity_lora(str(tiny_sdxl_dir), [(tmp_path / "missing.png", "a sks dog")], None, tmp_path / "c", _config())
    with pytest.raises(InputError, match="empty caption"):
        train_identity_lora(str(tiny_sdxl_dir), [(_photo((1, 2, 3), (4, 5, 6)), " ")], None, tmp_path / "d", _config())
    with pytest.raises(LipeError, match="does not exist"):
        train_identity_lora(str(tmp_path / "nomodel"), [(_photo((1, 2, 3), (4, 5, 6)), "a sks dog")], None,
                            tmp_path / "e", _config())


def test_presets_and_paper_defaults():
    cfg = TrainingConfig()
    assert (cfg.lr_unet, cfg.lr_text, cfg.epochs) == (5e-4, 5e-4, 1000)
    assert cfg.total_steps(5) == 5000
    for name, preset in PRESETS.items():
        c = config_from_preset(name)
        assert preset.explanation and "\n" not in preset.explanation
        assert c.lr_unet == 5e-4 and c.epochs == 1000
    assert config_from_preset("16").rank == PRESETS["16gb"].overrides["rank"]
    assert config_from_preset("12gb", rank=8).rank == 8
    with pytest.raises(InputError, match="preset '8gb' is unknown"):
        config_from_preset("8gb")
    with pytest.raises(InputError, match="unknown training setting"):
        TrainingConfig.from_dict({"learning_rate": 1})
    with pytest.raises(InputError, match="rank"):
        TrainingConfig(rank=0).validate()
