"""NIMA: non-rigid image editing via identity-aware mask blend (paper Sec. 2.2, Algorithm 1).

Two passes instead of the algorithm's three. Edit-friendly inversion evaluates the UNet, with the
source prompt and guidance, at exactly the latents x_t a reconstruction would visit (the sampler
reproduces the stored x_t), so the identity-aware attention for the source mask M^s is recorded
*during inversion*; the reconstruction pass of Algorithm 1 is never run. The edit pass then samples
all target prompts x seeds from the shared inversion, in batches that fit the device (batching.py),
recording the target masks M^e_t, forming M_t = M^s U M^e_t (Eq. 3) and blending with the inverted
latents (Eq. 4) each step.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Sequence
from contextlib import ExitStack, nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from PIL import Image

from ..edit_method import (
    StepCallback,
    StepHooks,
    at_original_size,
    check_prompt,
    check_targets,
    photo_multiple,
)
from ..edit_settings import DEFAULTS, SEED_MAX, check_int, check_settings, preview_schedule
from ..errors import InputError
from ..images import PreparedImage, prepare_image, to_pil, to_tensor
from ..models.loader import LoadedModel
from ..models.vae import decode_latents, encode_pixels
from ..progress import CancelToken, ProgressCallback, ProgressReporter, as_reporter
from .attention import AttentionRecorder, AttentionStore, recorded_layers, recording
from .batching import edit_batch_size, sample_in_batches
from .cache import CachedInversion, InversionCache, inversion_key
from .composite import composite, feathered_mask
from .denoiser import Denoiser
from .inversion import INVERSION_STEPS_PER_CALL, Inversion, invert_ddpm, make_schedule, sample_ddpm
from .masks import MaskParams, blend, identity_mask, union

STOPWORDS = {"a", "an", "the", "of", "photo", "picture", "image", "in", "on", "with", "and", ","}


@dataclass(frozen=True)
class EditParams:
    """Everything that controls an edit; JSON-serialisable (recorded with each saved edit).

    Defaults, ranges and the reasons for them are declared once in :mod:`lipe_engine.edit_settings`.
    """

    steps: int = DEFAULTS["steps"]
    cfg_source: float = DEFAULTS["cfg_source"]
    cfg_target: float = DEFAULTS["cfg_target"]
    skip: int = DEFAULTS["skip"]
    mask_lambda: int = DEFAULTS["mask_lambda"]
    mask_threshold: float = DEFAULTS["mask_threshold"]
    mask_softness: float = DEFAULTS["mask_softness"]
    mask_dilate: int = DEFAULTS["mask_dilate"]
    use_mask: bool = True  # False: the "without NIMA" ablation (no blend)
    composite: bool = False
    composite_dilate: int = DEFAULTS["composite_dilate"]
    composite_feather: int = DEFAULTS["composite_feather"]
    seeds: tuple[int | None, ...] = (None,)  # None: the pure edit-friendly noise maps
    variation: float = DEFAULTS["variation"]
    inversion_seed: int = DEFAULTS["inversion_seed"]
    record_downsample: int | None = DEFAULTS["record_downsample"]
    self_attention_stride: int = DEFAULTS["self_attention_stride"]
    identity_words: tuple[str, ...] | None = None
    keep_mask_history: bool = True

    def __post_init__(self) -> None:
        # JSON (saved edits, a model's lipe_edit_defaults.json) and Qt widgets give lists; the
        # params stay hashable and compare equal however they were built
        for name in ("seeds", "identity_words"):
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def preview(self) -> EditParams:
        """The same edit on the preview schedule (edit_settings.preview_schedule): at most a quarter
        of this edit's UNet work."""
        steps, skip = preview_schedule(self.steps, self.skip)
        return dataclasses.replace(self, steps=steps, skip=skip)

    def mask_params(self) -> MaskParams:
        return MaskParams(self.mask_lambda, self.mask_threshold, self.mask_softness, self.mask_dilate)

    def validate(self) -> None:
        """Every number is checked for type, finiteness and both ends of its range (one-line errors)."""
        check_settings(self)  # ranges from edit_settings.SETTINGS, as every method's
        if self.record_downsample is not None and self.record_downsample & (self.record_downsample - 1):
            raise InputError(f"record_downsample={self.record_downsample} is not a power of two",
                             "use 1, 2, 4, 8... (or leave it unset for the coarsest attention resolution)")
        for name in ("use_mask", "composite", "keep_mask_history"):
            if not isinstance(getattr(self, name), bool):
                raise InputError(f"{name}={getattr(self, name)!r} is not true or false", "use true or false")
        if not isinstance(self.seeds, tuple) or not self.seeds:
            raise InputError("no seeds given", "give at least one seed (or none for the plain edit)")
        for s in self.seeds:
            if s is not None:
                check_int("seed", s, 0, SEED_MAX)
        if self.identity_words is not None and (
                not isinstance(self.identity_words, tuple)
                or not all(isinstance(w, str) and w.strip() for w in self.identity_words)):
            raise InputError(f"identity words {self.identity_words!r} are not usable",
                             "give words of the identity prompt, e.g. sks dog")


@dataclass
class EditResult:
    images: list[Image.Image]  # one per (target prompt, seed), at the photo's original size
    latents: torch.Tensor  # edited x_0, (k, C, h, w)
    source_mask: np.ndarray  # M^s (h, w) at latent resolution
    target_masks: list[np.ndarray]  # final M^e per output
    union_masks: list[np.ndarray]  # final M_t per output
    mask_history: list[list[np.ndarray]]  # per output, M_t at every edit step
    processed_input: Image.Image  # the photo at model resolution
    prompts: list[str]
    seeds: list[int | None]
    inversion: Inversion
    cache_hit: bool
    params: EditParams = EditParams()  # the settings the engine used (what a saved edit records)
    stats: dict[str, float] = field(default_factory=dict)

    def params_of(self, index: int) -> dict[str, Any]:
        """The settings that made output ``index``, its own seed included (it can be made again)."""
        return {**self.params.to_dict(), "seeds": [self.seeds[index]]}


def identity_token_index(tokenizer: Any, prompt: str, words: tuple[str, ...] | None) -> list[int]:
    """Positions (after BOS) of the identity prompt's subject tokens, e.g. 'sks' and 'dog'."""
    ids = tokenizer(prompt, add_special_tokens=False).input_ids
    pieces = [tokenizer.decode([i]).strip().lower() for i in ids]
    wanted = {w.lower() for w in words} if words else None
    keep = [k for k, p in enumerate(pieces) if (p in wanted if wanted else p not in STOPWORDS)]
    if wanted and not keep:
        raise InputError(f"none of the identity words {sorted(wanted)} occur in '{prompt}'",
                         "use words of the identity prompt")
    return [1 + k for k in (keep or range(len(ids)))]


class NimaSession:
    """One photo with one model: inversion (cached) and any number of edits on top of it."""

    def __init__(self, model: LoadedModel, image: str | os.PathLike[str] | Image.Image,
                 source_prompt: str, identity_prompt: str, params: EditParams,
                 cache: InversionCache | None = None) -> None:
        params.validate()
        pipe = model.pipe
        self.model, self.params, self.cache = model, params, cache
        self.source_prompt = check_prompt(source_prompt, "source prompt", pipe.tokenizer)
        self.identity_prompt = check_prompt(identity_prompt, "identity prompt", pipe.tokenizer)
        self.photo: PreparedImage = prepare_image(image, model.native_size, photo_multiple(model))
        self.denoiser = Denoiser(pipe, self.photo.image.size)
        self.schedule = make_schedule(pipe.scheduler, params.steps)
        ident = self.denoiser.encode([self.identity_prompt])
        tokens = identity_token_index(pipe.tokenizer, self.identity_prompt, params.identity_words)
        self.recorder = AttentionRecorder(ident.embeds, tokens, params.self_attention_stride)
        self.denoiser.before_call = self._set_cond_rows
        # inversion steps per UNet call (inversion.py); 1 evaluates them one by one as the
        # algorithm is written (bit-identical to the three-pass reference, tests)
        self.inversion_steps_per_call = INVERSION_STEPS_PER_CALL
        w, h = self.photo.image.size
        self.latent_hw = (h // model.vae_scale_factor, w // model.vae_scale_factor)
        _, self.record_factor = recorded_layers(pipe.unet, params.record_downsample)

    def _set_cond_rows(self, n: int) -> None:
        self.recorder.cond_slice = slice(n, 2 * n)  # Denoiser batches [uncond x n, cond x n]

    def _new_store(self, n: int) -> AttentionStore:
        h, w = self.latent_hw
        f = self.record_factor
        return AttentionStore(n, (h // f, w // f), self.model.device)

    @torch.no_grad()
    def encode_photo(self) -> torch.Tensor:
        return encode_pixels(self.model.pipe.vae, to_tensor(self.photo.image))

    def cache_key(self) -> str:
        p = self.params
        return inversion_key(
            photo=self.photo.content_hash, size=self.photo.image.size, model=self.model.cache_key,
            source=self.source_prompt, identity=self.identity_prompt, steps=p.steps, cfg=p.cfg_source,
            skip=p.skip, seed=p.inversion_seed, record=p.record_downsample,
            sa_stride=p.self_attention_stride, words=p.identity_words,
            dtype=str(self.model.dtype),
        )

    def _fits(self, hit: CachedInversion) -> bool:
        """A cache entry with this edit's schedule and latent size (one of another shape would crash the
        edit; it is recomputed instead)."""
        inv = hit.inversion
        if inv.schedule.timesteps != list(self.schedule.timesteps) or inv.skip != self.params.skip:
            return False
        factor = getattr(self.model.pipe, "vae_scale_factor", None)
        w, h = self.photo.image.size
        return not isinstance(factor, int) or tuple(inv.xs[0].shape[-2:]) == (h // factor, w // factor)

    def invert(self, reporter: ProgressReporter) -> tuple[CachedInversion, bool]:
        """Inversion + source-mask recording in one pass (or from the cache)."""
        key = self.cache_key()
        if self.cache is not None:
            hit = self.cache.get(key, self.model.device)
            if hit is not None and self._fits(hit):
                return hit, True
        x0 = self.encode_photo()
        cond = self.denoiser.encode([self.source_prompt])
        gen = torch.Generator().manual_seed(self.params.inversion_seed)
        with recording(self.model.pipe.unet, self.recorder, self.params.record_downsample):
            store = self._new_store(1)
            self.recorder.store = store
            try:
                inv = invert_ddpm(self.denoiser, x0, cond, self.params.cfg_source, self.schedule,
                                  self.params.skip, gen, reporter, self.inversion_steps_per_call)
            finally:
                self.recorder.store = None
        item = CachedInversion(inv, store)
        if self.cache is not None:
            self.cache.put(key, item)
        return item, False

    def edit(self, target_prompts: list[str], reporter: ProgressReporter,
             fixed_mask: torch.Tensor | None = None, max_batch: int | None = None,
             on_step: StepCallback | None = None) -> EditResult:
        """Edit toward each target prompt x seed; outputs are sampled in batches that fit the device
        (``max_batch`` caps a batch; None: as many as the free memory allows, see batching.py).
        ``on_step``: the seam's per-step callback (edit_method.StepEvent) during sampling."""
        p = self.params
        targets = check_targets(target_prompts, self.model.pipe.tokenizer)
        if fixed_mask is not None and tuple(fixed_mask.shape[-2:]) != self.latent_hw:
            raise InputError(f"the given mask is {tuple(fixed_mask.shape[-2:])}",
                             f"give a mask at latent size {self.latent_hw}")
        t0 = time.perf_counter()
        calls0, rows0 = self.denoiser.unet_calls, self.denoiser.unet_rows
        record = p.use_mask and fixed_mask is None
        with ExitStack() as installed:
            if record:  # the recording processors once for inversion and sampling (recording is re-entrant)
                installed.enter_context(recording(self.model.pipe.unet, self.recorder, p.record_downsample))
            cached, hit = self.invert(reporter)
            t_inv = time.perf_counter() - t0
            inv, src_store = cached.inversion, cached.source_store
            mp = p.mask_params()
            src_mask = identity_mask(src_store, self.latent_hw, mp)  # M^s (1, 1, h, w)
            prompts = [t for t in targets for _ in p.seeds]
            seeds = [s for _ in targets for s in p.seeds]
            k = len(prompts)
            h, w = self.latent_hw
            record_hw = (h // self.record_factor, w // self.record_factor) if record else None
            batch = edit_batch_size(self.model.pipe.unet, self.model.device, self.latent_hw, record_hw, k, max_batch)

            def run(rows: Sequence[int]) -> dict[str, Any]:
                stage = "editing" if len(rows) == k else f"editing (outputs {rows[0] + 1}-{rows[-1] + 1} of {k})"
                return self._sample(inv, src_mask, [prompts[j] for j in rows], [seeds[j] for j in rows],
                                    fixed_mask, record, reporter, stage, on_step)

            parts = sample_in_batches(list(range(k)), batch, run, self.model.device)
        x0 = torch.cat([part["x0"] for part in parts])
        history = [hist for part in parts for hist in part["history"]]
        last = {key: torch.cat([part[key] for part in parts]) for key in ("target", "union") if key in parts[0]}
        t_edit = time.perf_counter() - t0 - t_inv
        images = self.decode(x0, last.get("union"))
        zeros = np.zeros(self.latent_hw, np.float32)
        return EditResult(
            images=images, latents=x0, source_mask=src_mask[0, 0].cpu().numpy(),
            target_masks=[last["target"][j, 0].cpu().numpy() if "target" in last else zeros for j in range(k)],
            union_masks=[last["union"][j, 0].cpu().numpy() if "union" in last else zeros for j in range(k)],
            mask_history=history, processed_input=self.photo.image, prompts=prompts, seeds=seeds,
            inversion=inv, cache_hit=hit, params=p,
            stats={"unet_calls": float(self.denoiser.unet_calls - calls0),
                   "unet_rows": float(self.denoiser.unet_rows - rows0), "inversion_s": t_inv,
                   "edit_s": t_edit},
        )

    def _sample(self, inv: Inversion, src_mask: torch.Tensor, prompts: list[str], seeds: list[int | None],
                fixed_mask: torch.Tensor | None, record: bool, reporter: ProgressReporter,
                stage: str, on_step: StepCallback | None = None) -> dict[str, Any]:
        """One batch of outputs through the reverse process (blend of Eq. 4 at every step)."""
        p = self.params
        mp = p.mask_params()
        k = len(prompts)
        cond = self.denoiser.encode(prompts)
        tgt_store = self._new_store(k)
        history: list[list[np.ndarray]] = [[] for _ in range(k)]
        last: dict[str, torch.Tensor] = {}
        # one generator per seed, drawing one map per step: a seed's noise is the same whatever
        # batch its output lands in
        gens = {s: torch.Generator().manual_seed(s) for s in set(seeds) if s is not None}

        def noise(i: int) -> torch.Tensor:
            z = inv.zs[i]
            assert z is not None
            rows = []
            fresh = {s: torch.randn(z.shape, generator=g) for s, g in gens.items()}
            for s in seeds:
                if s is None:
                    rows.append(z)
                else:
                    n = fresh[s].to(z.device)
                    rows.append((1 - p.variation) ** 0.5 * z + p.variation**0.5 * n)
            return torch.cat(rows)

        def after(i: int, x: torch.Tensor) -> torch.Tensor:
            if fixed_mask is not None:
                m = fixed_mask.to(x.device).float().expand(k, 1, *x.shape[-2:])
            elif p.use_mask:
                tgt = identity_mask(tgt_store, self.latent_hw, mp)  # M^e_t
                last["target"] = tgt
                m = union(src_mask, tgt)  # Eq. 3
            else:
                return x
            last["union"] = m
            if p.keep_mask_history:
                for j in range(k):
                    history[j].append(m[j, 0].cpu().numpy().copy())
            return blend(x, inv.xs[i + 1].to(x.dtype), m)  # Eq. 4

        # layers keep the user's processors when nothing is recorded
        ctx = recording(self.model.pipe.unet, self.recorder, p.record_downsample) if record else nullcontext()
        with ctx:
            self.recorder.store = tgt_store if record else None
            try:
                x0 = sample_ddpm(self.denoiser, inv, cond, p.cfg_target, noise, reporter, stage,
                                 StepHooks(after_step=after, on_step=on_step))
            finally:
                self.recorder.store = None
        return {"x0": x0, "history": history, **last}

    @torch.no_grad()
    def decode(self, latents: torch.Tensor, mask: torch.Tensor | None) -> list[Image.Image]:
        vae = self.model.pipe.vae
        # one output at a time: the fp32 VAE decoder's activations at 1024 px are GBs per image
        imgs = torch.cat([decode_latents(vae, latents[j : j + 1]) for j in range(latents.shape[0])])
        out = []
        original = self.photo.original
        for j, img in enumerate(to_pil(imgs)):
            if self.params.composite and mask is not None:
                scale = max(original.size) / 256
                alpha = feathered_mask(mask[j : j + 1].cpu(), original.size,
                                       round(self.params.composite_dilate * scale),
                                       round(self.params.composite_feather * scale))
                out.append(composite(img, original, alpha))
            else:
                out.extend(at_original_size([img], self.photo))
        return out


def edit_image(
    model: LoadedModel,
    image: str | os.PathLike[str] | Image.Image,
    source_prompt: str,
    target_prompts: list[str] | str,
    identity_prompt: str,
    params: EditParams = EditParams(),
    progress: ProgressReporter | ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    cache: InversionCache | None = None,
    fixed_mask: torch.Tensor | None = None,
    max_batch: int | None = None,
    on_step: StepCallback | None = None,
) -> EditResult:
    """Edit the subject of ``image`` toward each target prompt (x each seed); see module docstring.

    ``fixed_mask`` (1, 1, h, w) replaces M_t (tests and manual masks). ``max_batch`` caps how many
    outputs one reverse process samples at once (None: what the device's free memory allows).
    """
    reporter = as_reporter(progress, cancel)
    session = NimaSession(model, image, source_prompt, identity_prompt, params, cache)
    targets = [target_prompts] if isinstance(target_prompts, str) else list(target_prompts)
    return session.edit(targets, reporter, fixed_mask, max_batch, on_step)
