#!/usr/bin/env python
"""Train the toy-world model: a tiny SDXL-architecture pipeline, on CPU, from the procedural world.

Stage "vae": AutoencoderKL as an autoencoder (MSE + tiny KL) on world photos; at the end its
``scaling_factor`` is set to 1/std of the latents. Stage "unet": UNet + both CLIP text encoders
with the standard epsilon-prediction loss (min-SNR weighted) under SDXL's noise schedule and time
ids, 15% caption dropout (zeros like SDXL's ``force_zeros_for_empty_prompt``, or "") so
classifier-free guidance works, EMA weights. Checkpoints to --work every --ckpt-every steps and
resumes from there; --export writes the diffusers folder (safetensors) used by the app.

    nice -n 10 python scripts/train_toy_model.py --stage vae --minutes 12
    nice -n 10 python scripts/train_toy_model.py --stage unet --minutes 600 --export tmp/toy_v2
    bash scripts/train_toy_model_gpu.sh      # the same on a lent GPU (--device cuda, bigger batches)

The shipped model (v1 recipe: VAE /2 24/48, UNet 16/32/64; 2 shared CPU cores): vae 18 min; unet 95 min
(lr 8e-4, 2 threads, 8,325 steps), then resumed for 105 min (--lr 4e-4 --threads 1); decoder 55 min
alongside the first unet run. The v2 recipe (CONFIG below) and its measurements: docs/toy-world.md.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]

from lipe_engine.models.edit_defaults import EDIT_DEFAULTS_FILE  # noqa: E402
from lipe_engine.models.prompts import encode_sdxl_prompts  # noqa: E402
from lipe_engine.models.tiny import (  # noqa: E402
    SDXL_SCHEDULER_CONFIG,
    TinySDXLConfig,
    build_tiny_components,
    build_tiny_sdxl,
)
from lipe_engine.toyworld import TOY_EDIT_PARAMS  # noqa: E402
from lipe_engine.toyworld.quality import vae_round_trip  # noqa: E402
from lipe_engine.toyworld.world import WORDS, held_out_of_training, random_scene  # noqa: E402

# v2 (world v2): the VAE keeps the full 64 px resolution (vae_scale_factor 1) with SDXL's 4 latent
# channels: the 4-channel VAE at /2 lost the markings (18.7 dB on the sprite), and an 8-channel one
# (32.7 / 26.9 dB after 32 min) breaks diffusers' LEDITS++ SDXL pipeline, which assumes 4 channels.
# The UNet gets a fourth level instead, so each level costs about what one of 16/32/64 at /2 did:
# 16/32/64/128 at 64/32/16/8 px, attention at 16 and 8 (NIMA records at latent/4 = 16x16 cells, what
# the /2 model's latent/2 gave). 4.2 M parameters; one CPU step about 1.3x the 32/64/128 UNet at /2.
CONFIG = TinySDXLConfig(
    unet_channels=(16, 32, 64, 128), unet_layers_per_block=1, unet_heads=(1, 1, 2, 4),
    transformer_layers=(1, 1, 1, 1), plain_down_blocks=2, vae_channels=(32,), vae_layers_per_block=2,
    vae_mid_attention=False, latent_channels=4, text_hidden=64, text_layers=2, text_heads=4, text2_hidden=64,
    projection_dim=64, time_embed_dim=16, sample_size=64, norm_groups=8,
)
# NIMA settings written next to the model: as the shipped model's, but the attention is recorded at
# latent/4 (16x16 cells on a 64x64 latent, 4 px each, like the /2 model's latent/2).
EDIT_PARAMS = dict(TOY_EDIT_PARAMS)  # record_downsample 4
SUBJECT_WEIGHT = 3.0  # extra weight of sprite pixels in the VAE loss: the markings are the identity


DEV = torch.device("cpu")  # --device: where the models and latents live (the pool renders on the CPU)
LOG_EVERY = int(os.environ.get("TOY_LOG_EVERY", "50"))
CKPT_EVERY = int(os.environ.get("TOY_CKPT_EVERY", "500"))


def log(work: Path, msg: str) -> None:
    line = f"{time.strftime('%H:%M:%S')} {msg}"
    print(line, flush=True)
    with (work / "train.log").open("a") as fh:
        fh.write(line + "\n")


def render_training_scene(seed: int) -> tuple[np.ndarray, np.ndarray, str]:
    """One training scene from its own seed (so worker processes draw the same scenes as one process
    would): RGB in [0, 1], sprite mask, caption. Never one of the quality benchmark's held-out prompts."""
    rng = np.random.default_rng(seed)
    scene = random_scene(rng)
    while held_out_of_training(scene):
        scene = random_scene(rng)
    rgb, mask = scene.render_arrays()
    return rgb, mask, scene.caption()


class Pool:
    """A refreshed pool of rendered scenes: (N, 3, 64, 64) in [-1, 1], sprite masks and captions.

    With ``workers`` > 0 (a GPU machine's many cores) scenes render in worker processes, and each
    refresh hands back the scenes asked for one call earlier, so rendering overlaps the GPU's step."""

    def __init__(self, n: int, seed: int, workers: int = 0) -> None:
        self.rng = np.random.default_rng(seed)
        self.next_seed = seed * 1_000_003
        self.images = torch.zeros(n, 3, 64, 64)
        self.masks = torch.zeros(n, 1, 64, 64)
        self.captions = [""] * n
        self.procs = None
        self.pending = None
        if workers > 0:
            import multiprocessing

            self.procs = multiprocessing.get_context("fork").Pool(workers)
        for i, scene in zip(range(n), self._render(n), strict=False):
            self._store(i, scene)

    def _render(self, k: int) -> list[tuple[np.ndarray, np.ndarray, str]]:
        seeds = list(range(self.next_seed, self.next_seed + k))
        self.next_seed += k
        if self.procs is None:
            return [render_training_scene(s) for s in seeds]
        return self.procs.map(render_training_scene, seeds, chunksize=max(1, k // 64))

    def _store(self, i: int, scene: tuple[np.ndarray, np.ndarray, str]) -> None:
        rgb, mask, caption = scene
        self.images[i] = torch.from_numpy(rgb).permute(2, 0, 1) * 2 - 1
        self.masks[i, 0] = torch.from_numpy(mask)
        self.captions[i] = caption

    def refresh(self, k: int) -> list[int]:
        idx = self.rng.choice(len(self.captions), size=k, replace=False).tolist()
        if self.procs is None:
            scenes = self._render(k)
        else:  # collect the scenes started last call, start the next ones
            scenes = self.pending.get() if self.pending is not None else self._render(k)
            seeds = list(range(self.next_seed, self.next_seed + k))
            self.next_seed += k
            self.pending = self.procs.map_async(render_training_scene, seeds, chunksize=max(1, k // 16))
        for i, scene in zip(idx, scenes, strict=True):
            self._store(i, scene)
        return idx

    def batch(self, b: int) -> tuple[torch.Tensor, list[str], np.ndarray]:
        idx = self.rng.choice(len(self.captions), size=b, replace=False)
        return self.images[idx], [self.captions[i] for i in idx], idx


def load_pipe(folder: Path):
    from diffusers import StableDiffusionXLPipeline

    return StableDiffusionXLPipeline.from_pretrained(folder, torch_dtype=torch.float32, local_files_only=True)


def train_vae(pipe, work: Path, minutes: float, batch: int, lr: float) -> None:
    vae = pipe.vae
    vae.train()
    opt = torch.optim.AdamW(vae.parameters(), lr=lr, weight_decay=0.0)
    state = work / "vae_opt.pt"
    step = 0
    if state.exists():
        saved = torch.load(state, weights_only=True, map_location=DEV)
        opt.load_state_dict(saved["opt"])
        step = saved["step"]
    pool = Pool(int(os.environ.get("TOY_POOL", "2048")), seed=1000 + step)
    t_end = time.time() + minutes * 60
    while time.time() < t_end:
        x, _, idx = pool.batch(batch)
        m = pool.masks[idx]
        oy, ox = np.random.randint(16, 33), np.random.randint(8, 25)  # crops around where sprites stand
        x, m = x[:, :, oy:oy + 32, ox:ox + 32].to(DEV), m[:, :, oy:oy + 32, ox:ox + 32].to(DEV)  # 4x cheaper
        post = vae.encode(x).latent_dist
        z = post.sample()
        rec = vae.decode(z).sample
        err = (rec - x) ** 2
        mse = err.mean()
        kl = post.kl().mean() / x[0].numel()
        loss = (err * (1 + SUBJECT_WEIGHT * m)).mean() + 1e-4 * kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        pool.refresh(4)
        if step % LOG_EVERY == 0:
            psnr = 10 * np.log10(4.0 / max(mse.item(), 1e-12))
            log(work, f"vae step {step} mse {mse.item():.5f} psnr {psnr:.2f} kl {kl.item():.4f}")
        if step % CKPT_EVERY == 0:
            save_vae(pipe, work, opt, step)
            vae.eval()
            photo, subject = vae_psnr(pipe.vae)
            vae.train()
            log(work, f"vae held-out psnr photo {photo:.2f} dB subject {subject:.2f} dB")
    save_vae(pipe, work, opt, step)


def train_decoder(pipe, work: Path, minutes: float, batch: int, lr: float) -> None:
    """Keep improving the VAE decoder with the encoder frozen: the latent space the UNet learns in
    stays fixed, so this runs alongside the UNet stage."""
    vae = pipe.vae
    vae.encoder.requires_grad_(False)
    vae.quant_conv.requires_grad_(False)
    params = list(vae.decoder.parameters()) + list(vae.post_quant_conv.parameters())
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    state = work / "decoder_state.pt"
    step = 0
    if state.exists():
        saved = torch.load(state, weights_only=True, map_location=DEV)
        vae.load_state_dict(saved["vae"])
        opt.load_state_dict(saved["opt"])
        step = saved["step"]
    pool = Pool(int(os.environ.get("TOY_POOL", "2048")), seed=3000 + step)
    t_end = time.time() + minutes * 60
    while time.time() < t_end:
        x, _, idx = pool.batch(batch)
        x, m = x.to(DEV), pool.masks[idx].to(DEV)
        with torch.no_grad():
            post = vae.encode(x).latent_dist
            z = post.mean + post.std * torch.randn_like(post.mean) * 0.5
        f = x.shape[-1] // z.shape[-1]  # the VAE's downsampling factor
        oy, ox = np.random.randint(16, 33) // f, np.random.randint(8, 25) // f  # crops around the sprites
        z = z[:, :, oy:oy + 32 // f, ox:ox + 32 // f]
        x, m = x[:, :, f * oy:f * oy + 32, f * ox:f * ox + 32], m[:, :, f * oy:f * oy + 32, f * ox:f * ox + 32]
        err = (vae.decode(z).sample - x) ** 2
        mse = err.mean()
        loss = (err * (1 + SUBJECT_WEIGHT * m)).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        pool.refresh(4)
        if step % LOG_EVERY == 0:
            log(work, f"decoder step {step} mse {mse.item():.5f} psnr {10 * np.log10(4.0 / mse.item()):.2f}")
        if step % CKPT_EVERY == 0 or time.time() >= t_end:
            tmp = work / "decoder_state.tmp"
            torch.save({"vae": vae.state_dict(), "opt": opt.state_dict(), "step": step}, tmp)
            tmp.replace(state)
            vae.eval()
            photo, subject = vae_psnr(vae)
            vae.train()
            log(work, f"decoder held-out psnr photo {photo:.2f} dB subject {subject:.2f} dB")
            log(work, f"decoder checkpoint step {step}")


def vae_psnr(vae) -> tuple[float, float]:
    """Mean round-trip PSNR (dB) of the quality benchmark's 40 held-out photos: photo, sprite."""
    trip = vae_round_trip(vae)
    return float(np.mean(trip.photo_db)), float(np.mean(trip.subject_db))


@torch.no_grad()
def latent_std(pipe) -> float:
    pool = Pool(256, seed=7)
    z = pipe.vae.encode(pool.images.to(DEV)).latent_dist.mean
    return float(z.std())


def save_vae(pipe, work: Path, opt, step: int) -> None:
    pipe.vae.register_to_config(scaling_factor=1.0 / latent_std(pipe))
    pipe.save_pretrained(work / "model", safe_serialization=True)
    torch.save({"opt": opt.state_dict(), "step": step}, work / "vae_opt.pt")
    log(work, f"vae checkpoint step {step} scaling_factor {pipe.vae.config.scaling_factor:.4f}")


def init_text_encoders(pipe, work: Path, source: Path = ROOT / "resources" / "toy_model") -> None:
    """Start both text encoders from the shipped toy model's when their shapes match (same words,
    same widths): they already tell kinds, poses, views and colours apart, which saves UNet steps."""
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    try:
        te1 = CLIPTextModel.from_pretrained(source / "text_encoder", local_files_only=True)
        te2 = CLIPTextModelWithProjection.from_pretrained(source / "text_encoder_2", local_files_only=True)
        pipe.text_encoder.load_state_dict(te1.float().state_dict())
        pipe.text_encoder_2.load_state_dict(te2.float().state_dict())
    except (OSError, RuntimeError, ValueError) as exc:
        log(work, f"text encoders from scratch ({source} not usable: {exc})")
        return
    log(work, f"text encoders initialised from {source}")


EMA_DECAY = float(os.environ.get("TOY_EMA", "0.998"))
REFRESH = int(os.environ.get("TOY_REFRESH", "2"))  # scenes re-rendered per UNet step
WORKERS = int(os.environ.get("TOY_WORKERS", "0"))  # render processes (0: in this process)
CONTINUE = False  # --continue-from: train the loaded folder's own UNet and text encoders
BASE_STEPS = 0  # with --continue-from: the UNet steps that folder's weights had already seen


def train_unet(pipe, work: Path, minutes: float, batch: int, lr: float) -> None:
    from diffusers import DDPMScheduler

    sched = DDPMScheduler.from_config(SDXL_SCHEDULER_CONFIG)
    state = work / "unet_state.pt"
    if not state.exists() and not CONTINUE:  # fresh UNet/text encoders at CONFIG's sizes over the trained VAE
        fresh = build_tiny_components(CONFIG, vocab_size=len(pipe.tokenizer))
        pipe.unet, pipe.text_encoder, pipe.text_encoder_2 = (fresh["unet"], fresh["text_encoder"],
                                                             fresh["text_encoder_2"])
        init_text_encoders(pipe, work)
        pipe.to(DEV)
    modules = torch.nn.ModuleDict({"unet": pipe.unet, "te1": pipe.text_encoder, "te2": pipe.text_encoder_2})
    modules.train()
    pipe.vae.eval().requires_grad_(False)
    opt = torch.optim.AdamW(modules.parameters(), lr=lr, weight_decay=1e-2)
    ema = copy.deepcopy(modules).eval().requires_grad_(False)
    step = 0
    if state.exists():
        saved = torch.load(state, weights_only=True, map_location=DEV)
        modules.load_state_dict(saved["modules"])
        ema.load_state_dict(saved["ema"])
        opt.load_state_dict(saved["opt"])
        step = saved["step"]
    scale = pipe.vae.config.scaling_factor
    pool_file = work / "unet_pool.pt"
    if pool_file.exists():  # resuming: skip re-rendering and re-encoding the pool
        pool = Pool(0, seed=5000 + step)
        saved_pool = torch.load(pool_file, weights_only=True, map_location="cpu")
        pool.images, pool.captions = saved_pool["images"], saved_pool["captions"]
        lat = saved_pool["lat"].to(DEV)
        pool.masks = torch.zeros(len(pool.captions), 1, 64, 64)
    else:
        pool = Pool(int(os.environ.get("TOY_POOL", "4096")), seed=5000 + step, workers=WORKERS)
        with torch.no_grad():
            lat = torch.cat([pipe.vae.encode(pool.images[i:i + 128].to(DEV)).latent_dist.mean
                             for i in range(0, len(pool.captions), 128)]) * scale
        torch.save({"images": pool.images, "captions": pool.captions, "lat": lat}, pool_file)
    time_ids = torch.tensor([[64.0, 64.0, 0.0, 0.0, 64.0, 64.0]], device=DEV)
    alphas = sched.alphas_cumprod.to(DEV)
    snr = alphas / (1 - alphas)
    t_end = time.time() + minutes * 60
    t0, losses = time.time(), []
    while time.time() < t_end:
        _, caps, idx = pool.batch(batch)
        x0 = lat[idx]
        drop = np.random.rand(batch)
        caps = ["" if d < 0.15 else c for d, c in zip(drop, caps, strict=True)]
        embeds, pooled = encode_sdxl_prompts(pipe, caps, grad=True)
        zero = torch.from_numpy(drop < 0.08).float()[:, None].to(DEV)
        embeds = embeds * (1 - zero[:, :, None])
        pooled = pooled * (1 - zero)
        noise = torch.randn_like(x0)
        t = torch.randint(0, 1000, (batch,), device=DEV)
        xt = sched.add_noise(x0, noise, t)
        pred = pipe.unet(xt, t, encoder_hidden_states=embeds,
                         added_cond_kwargs={"text_embeds": pooled, "time_ids": time_ids.repeat(batch, 1)}).sample
        weight = torch.clamp(snr[t], max=5.0) / snr[t]
        loss = (weight * ((pred - noise) ** 2).mean(dim=(1, 2, 3))).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(modules.parameters(), 1.0)
        for g in opt.param_groups:
            g["lr"] = lr * min(1.0, (step + 1) / 200)
        opt.step()
        step += 1
        decay = min(EMA_DECAY, (1 + step) / (10 + step))
        with torch.no_grad():
            for pe, pm in zip(ema.parameters(), modules.parameters(), strict=True):
                pe.lerp_(pm, 1 - decay)
        losses.append(loss.item())
        new = pool.refresh(REFRESH)
        with torch.no_grad():
            lat[new] = pipe.vae.encode(pool.images[new].to(DEV)).latent_dist.mean * scale
        if step % LOG_EVERY == 0:
            log(work, f"unet step {step} loss {np.mean(losses):.4f} ({(time.time() - t0) / LOG_EVERY:.2f}s/step)")
            t0, losses = time.time(), []
        if step % CKPT_EVERY == 0:
            save_unet(pipe, work, modules, ema, opt, step)
            export(pipe, work, work / "export")
    save_unet(pipe, work, modules, ema, opt, step)


def save_unet(pipe, work: Path, modules, ema, opt, step: int) -> None:
    tmp = work / "unet_state.tmp"
    torch.save({"modules": modules.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(),
                "step": step}, tmp)
    tmp.replace(work / "unet_state.pt")
    (work / "step.json").write_text(json.dumps({"step": step}))
    log(work, f"unet checkpoint step {step}")


def export(pipe, work: Path, out: Path) -> None:
    """Write the pipeline with EMA weights as a diffusers folder (fp16 safetensors, loaded as fp32)."""
    saved = torch.load(work / "unet_state.pt", weights_only=True, map_location=DEV)
    ema = saved["ema"]
    export_pipe = copy.deepcopy(pipe)
    if (work / "decoder_state.pt").exists():  # decoder trained on with the encoder frozen
        vae_state = torch.load(work / "decoder_state.pt", weights_only=True, map_location=DEV)["vae"]
        keep = {k: v for k, v in vae_state.items() if k.startswith(("decoder.", "post_quant_conv."))}
        export_pipe.vae.load_state_dict(keep, strict=False)
    for name, module in (("unet", export_pipe.unet), ("te1", export_pipe.text_encoder),
                         ("te2", export_pipe.text_encoder_2)):
        module.load_state_dict({k[len(name) + 1:]: v for k, v in ema.items() if k.startswith(name + ".")})
    export_pipe.to(torch.float16)
    export_pipe.save_pretrained(out, safe_serialization=True)
    info = {"unet_steps": BASE_STEPS + saved["step"], "words": list(WORDS)}
    if BASE_STEPS:
        info["continued_after_steps"] = BASE_STEPS
    (out / "toy_model.json").write_text(json.dumps(info))
    (out / EDIT_DEFAULTS_FILE).write_text(json.dumps(EDIT_PARAMS, indent=1) + "\n")
    log(work, f"exported step {saved['step']} to {out}")


@torch.no_grad()
def sample_sheet(folder: Path, out_png: Path, steps: int = 30, cfg: float = 5.0) -> None:
    """A grid to look at: rows are kinds x poses, columns seeds; last row VAE round trips."""
    from PIL import Image

    from lipe_engine.models.loader import load_sdxl
    from lipe_engine.toyworld import POSES, scene_from_seed

    model = load_sdxl(folder, device="cpu", dtype="fp32")
    pipe = model.pipe
    rows = []
    for kind, colour in (("dog", "red"), ("bird", "blue"), ("robot", "yellow")):
        for pose in POSES[kind]:
            act = "with arms up" if pose == "arms up" else pose
            prompt = f"close-up photo, a {colour} {kind} {act} facing left, on green grass"
            gen = torch.Generator().manual_seed(0)
            ims = pipe(prompt, num_inference_steps=steps, guidance_scale=cfg, height=64, width=64,
                       num_images_per_prompt=4, generator=gen).images
            rows.append(np.concatenate([np.asarray(i) for i in ims], axis=1))
    scenes = [scene_from_seed(s) for s in range(2)]
    x = torch.stack([torch.from_numpy(sc.render_arrays()[0]).permute(2, 0, 1) * 2 - 1 for sc in scenes])
    rec = pipe.vae.decode(pipe.vae.encode(x).latent_dist.mean).sample.clamp(-1, 1)
    psnr, subject = vae_psnr(pipe.vae)
    pair = [((t.permute(1, 2, 0).numpy() + 1) * 127.5).astype(np.uint8) for t in (x[0], rec[0], x[1], rec[1])]
    rows.append(np.concatenate(pair, axis=1))
    grid = np.concatenate(rows, axis=0)
    Image.fromarray(grid).resize((grid.shape[1] * 3, grid.shape[0] * 3), Image.Resampling.NEAREST).save(out_png)
    print(f"wrote {out_png}; VAE round-trip PSNR {psnr:.2f} dB photo, {subject:.2f} dB subject (40 held-out)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stage", choices=["vae", "decoder", "unet", "export", "sample"], required=True)
    ap.add_argument("--work", type=Path, default=Path(os.environ.get("TOY_WORK", ROOT / "tmp" / "toy_train")))
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu", help="cpu or cuda (see scripts/train_toy_model_gpu.sh)")
    ap.add_argument("--export", type=Path, default=None, help="write the diffusers folder here afterwards")
    ap.add_argument("--continue-from", type=Path, default=None,
                    help="unet stage with no checkpoint in --work: start from this exported folder's weights "
                         "(e.g. a CPU run's export) with a fresh optimizer, instead of a fresh UNet")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    args.work.mkdir(parents=True, exist_ok=True)
    if args.stage == "sample":
        sample_sheet(args.export or args.work / "export", args.work / "samples.png")
        return 0
    model_dir = args.work / "model"
    if args.continue_from is None and not (model_dir / "model_index.json").exists():
        build_tiny_sdxl(model_dir, config=CONFIG, words=WORDS)
        log(args.work, f"built fresh tiny SDXL at {model_dir}")
    global DEV, CONTINUE, BASE_STEPS
    DEV = torch.device(args.device)
    if DEV.type == "cuda":  # TF32 matmuls/convs: the toy model's numbers do not need full fp32 there
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    if args.continue_from is not None and not (args.work / "unet_state.pt").exists():
        model_dir, CONTINUE = args.continue_from, True
        (args.work / "continued_from.json").write_text((model_dir / "toy_model.json").read_text())
    if (args.work / "continued_from.json").exists():
        BASE_STEPS = int(json.loads((args.work / "continued_from.json").read_text()).get("unet_steps", 0))
        log(args.work, f"unet from {model_dir}'s weights (fresh optimizer)")
    pipe = load_pipe(model_dir).to(DEV)
    if args.stage == "vae":
        train_vae(pipe, args.work, args.minutes, args.batch, args.lr or 1e-3)
    elif args.stage == "decoder":
        train_decoder(pipe, args.work, args.minutes, args.batch, args.lr or 5e-4)
    elif args.stage == "unet":
        train_unet(pipe, args.work, args.minutes, args.batch, args.lr or 8e-4)
    if args.export is not None or args.stage == "export":
        export(pipe, args.work, args.export or ROOT / "resources" / "toy_model")
    return 0


if __name__ == "__main__":
    sys.exit(main())
