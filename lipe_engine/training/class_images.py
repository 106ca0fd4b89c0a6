"""Class (regularization) images: the base SDXL model renders one image per regularization prompt.

Prior preservation (paper 2.1, Fig. 2b) trains on these pairs beside the reference photos so the
LoRA keeps the class's general look. Rendering them is the slowest part of data preparation, so:

* they are cached per class word *and* per rendering setup (model, size, steps, guidance, seed) in
  one folder, shared by every identity of the class (:func:`class_images_dir`);
* each image ``class_00012.png`` has its prompt beside it (``class_00012.txt``, kohya-style); an
  image whose text file matches its prompt is never rendered again, so a stopped run resumes where
  it was and asking for more prompts only renders the new ones;
* image ``i`` always uses seed ``seed + i``: the same prompt list gives the same images.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from ..errors import InputError
from ..images import to_pil
from ..models.loader import LoadedModel, load_sdxl
from ..models.vae import decode_latents
from ..progress import CancelToken, ProgressCallback, ProgressReporter, as_reporter
from ..prompts import check_class_word, class_cache_dir


def class_images_dir(cache_root: str | os.PathLike[str], class_word: str, model_id: str, resolution: int,
                     steps: int, guidance_scale: float, seed: int) -> Path:
    """``<cache_root>/<class>/images/<setup hash>``: one folder per class and rendering setup."""
    key = hashlib.sha256(f"{model_id}|{resolution}|{steps}|{guidance_scale}|{seed}".encode()).hexdigest()[:12]
    return class_cache_dir(cache_root, class_word) / "images" / f"{resolution}px_{key}"


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _done(png: Path, txt: Path, prompt: str) -> bool:
    try:
        return png.is_file() and txt.read_text(encoding="utf-8") == prompt
    except OSError:
        return False


def check_prompts(class_word: str, prompts: Sequence[str]) -> list[str]:
    """Every prompt must name the class: a prompt list of another class is an error, not a silent mix."""
    word = check_class_word(class_word)
    if not prompts:
        raise InputError(f"no regularization prompt for class '{word}'", "generate some with `lipe prompts CLASS --count N`")
    has = re.compile(rf"\b{re.escape(word)}", re.IGNORECASE)
    out = []
    for i, p in enumerate(prompts):
        text = " ".join(str(p).split())
        if not has.search(text):
            raise InputError(f"regularization prompt #{i + 1} does not name the class '{word}' ('{text[:60]}')",
                             "use prompts generated for this class word, or fix the class word")
        out.append(text)
    return out


def render_class_images(
    model: Any,
    class_word: str,
    prompts: Sequence[str],
    out_dir: str | os.PathLike[str],
    *,
    resolution: int | None = None,
    steps: int = 30,
    guidance_scale: float = 7.5,
    seed: int = 0,
    negative_prompt: str = "blurry, deformed, several subjects, text, watermark",
    progress: ProgressReporter | ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> list[tuple[Path, str]]:
    """Render (or reuse) one image per prompt into ``out_dir``; returns ``[(png, prompt), ...]`` in order.

    ``model`` is a ``LoadedModel`` (borrowed, not closed) or anything ``load_sdxl`` accepts (loaded
    only when some image is missing). Cancelling stops within one denoising step; finished images stay.
    """
    texts = check_prompts(class_word, prompts)
    if steps < 1:
        raise InputError(f"{steps} denoising steps render nothing", "use 1 or more (25-50 is usual)")
    folder = Path(out_dir).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    reporter = as_reporter(progress, cancel)
    items = [(folder / f"class_{i:05d}.png", folder / f"class_{i:05d}.txt", p) for i, p in enumerate(texts)]
    todo = [i for i, (png, txt, p) in enumerate(items) if not _done(png, txt, p)]
    reporter.start(f"class images '{class_word}'", len(texts))
    reporter.step(len(texts) - len(todo), cached=len(texts) - len(todo))
    if todo:
        loaded = model if isinstance(model, LoadedModel) else load_sdxl(model)
        pipe = loaded.pipe
        res = int(resolution or loaded.native_size)

        def on_step(_pipe: Any, _i: int, _t: Any, kwargs: dict) -> dict:
            reporter.check()  # cancel inside an image, not only between images
            return kwargs

        for i in todo:
            png, txt, prompt = items[i]
            with torch.no_grad():
                # latents out, decoded by our fp32-VAE helper: diffusers' own decode fails when the
                # VAE is fp32 and the UNet bf16/fp16 (devices.py's precision policy)
                latents = pipe(prompt=prompt, negative_prompt=negative_prompt or None, height=res, width=res,
                               num_inference_steps=steps, guidance_scale=guidance_scale,
                               generator=torch.Generator("cpu").manual_seed(seed + i),
                               callback_on_step_end=on_step, output_type="latent").images
                image = to_pil(decode_latents(pipe.vae, latents))[0]
            buf = io.BytesIO()
            image.save(buf, format="PNG")
            _write_atomic(png, buf.getvalue())
            _write_atomic(txt, prompt.encode("utf-8"))  # written last: its presence marks the pair complete
            reporter.step(image=i)
    return [(png, prompt) for png, _txt, prompt in items]
