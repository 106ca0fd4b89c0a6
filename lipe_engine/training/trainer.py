"""The training loop: DreamBooth-style LoRA fine-tuning of SDXL with prior preservation.

Each step takes ``batch_size`` reference photos (with their own captions) and as many class images
(with their own prompts), noises their cached latents at random timesteps, and minimises
``mse(instance) + prior_loss_weight * mse(class)`` on the noise (or v) prediction, updating only the
LoRA adapters with AdamW. All randomness of step ``k`` (photo order, noise, timesteps) comes from
generators seeded by (seed, k), so a run stopped at step k and resumed from its checkpoint makes the
same updates as one that never stopped.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from accelerate import Accelerator
from accelerate.state import AcceleratorState
from PIL import Image

from ..devices import VAE_DTYPE, pick_device, training_precision
from ..errors import Cancelled, InputError
from ..images import to_pil
from ..models.loader import LoadedModel, import_diffusers, load_sdxl
from ..models.prompts import encode_sdxl_prompts
from ..models.vae import decode_latents
from ..owned_outputs import OwnedFolder
from ..photo_reader import open_photo
from ..progress import CancelToken, ProgressCallback, ProgressReporter, as_reporter
from . import checkpoint, deferred, lora
from .config import TrainingConfig
from .data import Example, Item, encode_latents, load_examples
from .output_lock import LOCK_NAME, training_output_lock


def _gen(*key: int) -> torch.Generator:
    seed = 0
    for k in key:
        seed = (seed * 1_000_003 + int(k)) % (2**63 - 1)
    return torch.Generator("cpu").manual_seed(seed)


def _make_optimizer(params: dict[str, list[torch.nn.Parameter]], cfg: TrainingConfig) -> tuple[torch.optim.Optimizer, str]:
    groups = [{"params": params["unet"], "lr": cfg.lr_unet}]
    groups += [{"params": params[k], "lr": cfg.lr_text} for k in ("text_encoder", "text_encoder_2") if k in params]
    kwargs: dict[str, Any] = dict(betas=cfg.adam_betas, eps=cfg.adam_eps, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adamw8bit":
        bnb = deferred.bitsandbytes()
        if bnb is not None:  # else AdamW, recorded in training.json as the optimizer actually used
            return bnb.optim.AdamW8bit(groups, **kwargs), "adamw8bit"
    return torch.optim.AdamW(groups, **kwargs), "adamw"


def _accelerator(factory: Any, mixed_precision: str, device: torch.device) -> Any:
    """An ``Accelerator`` for this run. accelerate keeps one process-wide state and refuses a second
    precision in the same process (the app, a queue worker and the tests train runs of different
    precisions one after another), so a state of another precision is cleared first."""
    state = AcceleratorState._shared_state
    if state and str(state.get("_mixed_precision", mixed_precision)) != mixed_precision:
        AcceleratorState._reset_state()
    return factory(mixed_precision=mixed_precision, cpu=device.type == "cpu")


# Everything a training writes into its output folder (see TrainingJob's docstring).
OUTPUT_NAMES = ("lora/", "lora_kohya.safetensors", "checkpoints/", "samples/", "cache/", "training.json", LOCK_NAME)


def claim_output(folder: Path, option: str = "--output") -> None:
    """A folder of the user's (their own lora/ or samples/) is refused, never overwritten; an earlier
    training's output (also one from before the manifest: it has training.json or checkpoints/) is ours."""
    OwnedFolder.claim(folder, "train", OUTPUT_NAMES, option=option,
                      adopt=lambda d: (d / "training.json").is_file() or (d / "checkpoints").is_dir())


class TrainingJob:
    """One LoRA training run into ``output_dir``; ``run()`` resumes by itself from its checkpoints.

    Layout of ``output_dir``: ``lora/`` (diffusers format), ``lora_kohya.safetensors``,
    ``checkpoints/step_N/``, ``samples/step_N_seed_S.png``, ``cache/latents.safetensors``,
    ``training.json`` (settings, losses, timings).
    """

    def __init__(
        self,
        model_source: str | Path | LoadedModel,
        instance_items: Sequence[Item],
        class_items: Sequence[Item] | None,
        output_dir: str | Path,
        config: TrainingConfig | None = None,
        progress: ProgressReporter | ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        name: str | None = None,
    ) -> None:
        self.config = config or TrainingConfig()
        self.config.validate()
        if not instance_items:
            raise InputError("no reference photo to learn the identity from", "add 1 or more photos (3-5 work best)")
        self.model_source = model_source
        self.instance_items = list(instance_items)
        self.class_items = list(class_items or [])
        self.output_dir = Path(output_dir).expanduser()
        self.reporter = as_reporter(progress, cancel)
        self.losses: list[float] = []
        self.start_step = 0
        self.total_steps = self.config.total_steps(len(self.instance_items))
        self.optimizer_used = ""
        # what other tools list the kohya file under (an identity's name; else the output folder's)
        self.name = (name or "").strip() or self.output_dir.name or "lipe-prior"

    @property
    def lora_dir(self) -> Path:
        return self.output_dir / "lora"

    @property
    def kohya_file(self) -> Path:
        return self.output_dir / "lora_kohya.safetensors"

    def run(self) -> Path:
        """Train (or finish a stopped run); returns the diffusers-format LoRA folder."""
        claim_output(self.output_dir)
        with training_output_lock(self.output_dir):  # before the model loads: a second run is refused at once
            for image, _text in self._paths_of(self.instance_items):
                open_photo(image, "reference photo")  # a damaged or bomb photo: one line before gigabytes load
            return self._run()

    @staticmethod
    def _paths_of(items: Sequence[Item]) -> list[Item]:
        return [it for it in items if isinstance(it, tuple) and len(it) == 2 and not isinstance(it[0], Image.Image)]

    def _run(self) -> Path:
        cfg = self.config
        borrowed = isinstance(self.model_source, LoadedModel)
        if isinstance(self.model_source, LoadedModel):
            model = self.model_source
        else:
            _, load_dtype = training_precision(pick_device(cfg.device), cfg.mixed_precision)
            model = load_sdxl(self.model_source, device=cfg.device, dtype=load_dtype)
        pipe, device = model.pipe, model.device
        mp, weight_dtype = training_precision(device, cfg.mixed_precision, model.dtype if borrowed else None)
        res = cfg.resolution or model.native_size
        self.reporter.start("prepare training data", 2)
        instances = load_examples(self.instance_items, res, "reference photo")
        classes = load_examples(self.class_items, res, "class image")
        self.reporter.step()
        fingerprint = self._fingerprint(model, instances, classes)
        resume_from = checkpoint.find_resumable(self.output_dir, fingerprint)
        pipe.vae.to(device, VAE_DTYPE)
        inst_lat = encode_latents(pipe.vae, instances, device, self.output_dir / "cache")
        cls_lat = encode_latents(pipe.vae, classes, device, self.output_dir / "cache") if classes else None
        self.reporter.step()
        for part in ("unet", "text_encoder", "text_encoder_2"):
            getattr(pipe, part).to(device, weight_dtype)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)  # adapter init is part of the run: same seed, same start
            modules = lora.attach(pipe, cfg.rank, cfg.train_text_encoders)
        try:
            return self._train(pipe, device, mp, weight_dtype, modules, instances, classes, inst_lat, cls_lat,
                               fingerprint, resume_from, res)
        finally:
            if borrowed:  # hand the caller's model back as it came (adapters off, no checkpointing)
                lora.detach(modules)
                if cfg.gradient_checkpointing:
                    pipe.unet.disable_gradient_checkpointing()
                    for part in ("text_encoder", "text_encoder_2"):
                        off = getattr(getattr(pipe, part), "gradient_checkpointing_disable", None)
                        if off is not None:
                            off()

    def _fingerprint(self, model: LoadedModel, instances: list[Example], classes: list[Example]) -> str:
        h = hashlib.sha256(self.config.fingerprint().encode())
        h.update(model.model_id.encode())
        for ex in instances + classes:
            h.update(ex.digest.encode())
        return h.hexdigest()[:16]

    def _train(self, pipe, device, mp, weight_dtype, modules, instances, classes, inst_lat, cls_lat,
               fingerprint, resume_from, res) -> Path:
        cfg = self.config
        accelerator = _accelerator(Accelerator, mp, device)
        if cfg.gradient_checkpointing:
            pipe.unet.enable_gradient_checkpointing()
            if cfg.train_text_encoders:
                pipe.text_encoder.gradient_checkpointing_enable()
                pipe.text_encoder_2.gradient_checkpointing_enable()
        params = lora.trainable_parameters(modules)
        optimizer, self.optimizer_used = _make_optimizer(params, cfg)
        optimizer = accelerator.prepare(optimizer)
        if resume_from is not None:
            lora_state, opt_state, state = checkpoint.load(resume_from)
            lora.load_peft_state(modules, lora_state)
            optimizer.load_state_dict(opt_state["optimizer"])
            if accelerator.scaler is not None and opt_state.get("scaler"):
                accelerator.scaler.load_state_dict(opt_state["scaler"])
            self.start_step = int(state["step"])
            self.losses = list(state.get("losses", []))[: self.start_step]
        noise_scheduler = import_diffusers().DDPMScheduler.from_config(pipe.scheduler.config)
        all_params = [p for group in params.values() for p in group]
        for m in modules.values():
            m.train()
        state_extra = {"fingerprint": fingerprint, "total_steps": self.total_steps}
        t0 = time.perf_counter()
        step = self.start_step
        stage = "train" if step == 0 else f"train (resumed at step {step})"
        self.reporter.start(stage, self.total_steps - step)
        try:
            while step < self.total_steps:
                loss = self._step(step, pipe, device, weight_dtype, accelerator, noise_scheduler,
                                  instances, classes, inst_lat, cls_lat)
                accelerator.backward(loss)
                if cfg.max_grad_norm:
                    accelerator.clip_grad_norm_(all_params, cfg.max_grad_norm)
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                step += 1
                self.losses.append(float(loss.detach()))
                if step % cfg.checkpoint_every == 0 and step < self.total_steps:
                    self._checkpoint(step, modules, optimizer, accelerator, state_extra)
                if cfg.sample_every and step % cfg.sample_every == 0:
                    self.render_samples(pipe, step, res, [ex.text for ex in instances])
                self.reporter.step(loss=self.losses[-1], global_step=step)
        except Cancelled:
            self._checkpoint(step, modules, optimizer, accelerator, state_extra)
            raise
        finally:
            for m in modules.values():
                m.eval()
        self.reporter.start("save LoRA", 1)
        lora.export(pipe, modules, self.lora_dir, self.kohya_file, self._kohya_info(step, res, instances, classes, pipe, mp))
        self._checkpoint(step, modules, optimizer, accelerator, state_extra)
        self._write_summary(step, time.perf_counter() - t0, res)
        self.reporter.step()
        return self.lora_dir

    def _kohya_info(self, step, res, instances, classes, pipe, mp) -> lora.KohyaInfo:
        cfg = self.config
        source = self.model_source
        base = source.source if isinstance(source, LoadedModel) else str(source)
        return lora.KohyaInfo(
            title=self.name, steps=step, resolution=res, captions=[ex.text for ex in instances],
            base_model=Path(base).name or base, num_class_images=len(classes), lr_unet=cfg.lr_unet,
            lr_text=cfg.lr_text if cfg.train_text_encoders else None, seed=cfg.seed,
            prediction_type="v" if pipe.scheduler.config.get("prediction_type") == "v_prediction" else "epsilon",
            mixed_precision=mp,
        )

    def _step(self, step, pipe, device, weight_dtype, accelerator, noise_scheduler,
              instances, classes, inst_lat, cls_lat) -> torch.Tensor:
        cfg = self.config
        n, b = len(instances), cfg.batch_size
        per_epoch = math.ceil(n / b)
        epoch, pos = divmod(step, per_epoch)
        perm = torch.randperm(n, generator=_gen(cfg.seed, 1, epoch)).tolist()
        idx = [perm[(pos * b + j) % n] for j in range(b)]
        texts = [instances[i].text for i in idx]
        time_ids = [instances[i].time_ids for i in idx]
        latents = inst_lat[idx]
        if classes:
            m = len(classes)
            cidx = []
            for j in range(b):
                k = step * b + j
                cperm = torch.randperm(m, generator=_gen(cfg.seed, 2, k // m)).tolist()
                cidx.append(cperm[k % m])
            texts += [classes[i].text for i in cidx]
            time_ids += [classes[i].time_ids for i in cidx]
            latents = torch.cat([latents, cls_lat[cidx]])
        g = _gen(cfg.seed, 3, step)
        noise = torch.randn(latents.shape, generator=g)
        timesteps = torch.randint(0, noise_scheduler.config.num_train_timesteps, (latents.shape[0],), generator=g)
        noisy = noise_scheduler.add_noise(latents, noise, timesteps)
        if noise_scheduler.config.prediction_type == "v_prediction":
            target = noise_scheduler.get_velocity(latents, noise, timesteps)
        else:
            target = noise
        with accelerator.autocast():
            prompt_embeds, pooled = encode_sdxl_prompts(pipe, texts, device, grad=cfg.train_text_encoders)
            pred = pipe.unet(
                noisy.to(device, weight_dtype),
                timesteps.to(device),
                encoder_hidden_states=prompt_embeds.to(weight_dtype),
                added_cond_kwargs={"text_embeds": pooled.to(weight_dtype),
                                   "time_ids": torch.tensor(time_ids, device=device, dtype=weight_dtype)},
            ).sample
        pred, target = pred.float(), target.to(device).float()
        if classes:
            pred_i, pred_c = pred.chunk(2)
            tgt_i, tgt_c = target.chunk(2)
            return F.mse_loss(pred_i, tgt_i) + cfg.prior_loss_weight * F.mse_loss(pred_c, tgt_c)
        return F.mse_loss(pred, target)

    def _checkpoint(self, step, modules, optimizer, accelerator, extra) -> None:
        if step <= 0:
            return
        opt_state = {"optimizer": optimizer.state_dict(),
                     "scaler": accelerator.scaler.state_dict() if accelerator.scaler is not None else None}
        checkpoint.save(self.output_dir, step, lora.peft_state(modules), opt_state,
                        dict(extra, losses=self.losses), self.config.keep_checkpoints)

    @torch.no_grad()
    def render_samples(self, pipe, step: int, res: int, captions: list[str]) -> list[Path]:
        """Images at fixed seeds with the current adapters (same seeds every time: progress is comparable)."""
        cfg = self.config
        prompts = cfg.sample_prompts or captions[:1]
        folder = self.output_dir / "samples"
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        modes = [(m, m.training) for m in (pipe.unet, pipe.text_encoder, pipe.text_encoder_2)]
        for m, _ in modes:
            m.eval()
        for pi, prompt in enumerate(prompts):
            for seed in cfg.sample_seeds:
                latents = pipe(prompt=prompt, height=res, width=res, num_inference_steps=cfg.sample_steps,
                               generator=torch.Generator("cpu").manual_seed(seed), output_type="latent").images
                image = to_pil(decode_latents(pipe.vae, latents))[0]  # fp32 VAE, bf16/fp16 UNet
                path = folder / f"step_{step:06d}_prompt_{pi}_seed_{seed}.png"
                image.save(path)
                written.append(path)
        for m, was_training in modes:
            m.train(was_training)
        return written

    def _write_summary(self, step: int, seconds: float, res: int) -> None:
        done = step - self.start_step
        summary = {
            "config": self.config.to_dict(),
            "optimizer_used": self.optimizer_used,
            "steps": step,
            "resolution": res,
            "resumed_from_step": self.start_step,
            "seconds_this_run": round(seconds, 2),
            "seconds_per_step": round(seconds / done, 4) if done else None,
            "first_loss": self.losses[0] if self.losses else None,
            "final_loss": self.losses[-1] if self.losses else None,
            "losses": self.losses,
        }
        (self.output_dir / "training.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
