"""A LLaVA-family captioner through llama-cpp-python's multimodal chat handlers.

llama-cpp-python ships one handler class per prompt format (``Llava15ChatHandler``,
``Llava16ChatHandler``, ...) and, in recent versions, ``MTMDChatHandler`` which uses the model's own
chat template. Which one fits is decided by the files: the projector (mmproj) GGUF says its
projector type (LLaVA's MLP projectors; 1.6 adds image grid pinpoints), the language model GGUF
may carry a chat template. A setting can name the handler when the guess is wrong.

Every photo is a fresh single-turn conversation (no history that could leak one photo's caption
into the next), sent as a downscaled JPEG data URI; the model is closed when the block ends, which
also frees the projector context (llama-cpp ties it to the model's exit stack).
"""

from __future__ import annotations

import base64
import contextlib
import inspect
import io
import os
import struct
from pathlib import Path
from typing import Any

from PIL import Image

from ..errors import InputError, ModelLoadError
from ..models.gguf import read_gguf_metadata
from ..prompts.llama import check_gguf, import_chat_formats, import_llama_cpp, open_llama

# handler setting name -> class name in llama_cpp.llama_chat_format
HANDLERS = {
    "llava15": "Llava15ChatHandler",
    "llava16": "Llava16ChatHandler",
    "mtmd": "MTMDChatHandler",
    "bakllava": "ObsidianChatHandler",
    "moondream": "MoondreamChatHandler",
    "nanollava": "NanoLlavaChatHandler",
    "llama3vision": "Llama3VisionAlphaChatHandler",
    "minicpmv26": "MiniCPMv26ChatHandler",
    "qwen25vl": "Qwen25VLChatHandler",
}
LLAVA_PROJECTORS = {"mlp", "mlp_norm", "ldp", "ldpv2"}
MAX_SIDE = 672  # LLaVA 1.6's largest tile; 1.5 resizes to 336 itself, so more pixels would only cost time
JPEG_QUALITY = 90


def gguf_metadata(path: Path) -> dict[str, Any]:
    """Every key/value of a GGUF file's header (long arrays by their length: ``models.gguf``)."""
    try:
        return read_gguf_metadata(path, wanted=None, max_keys=1 << 20, stop_at_vocabulary=False)
    except (ValueError, OSError, struct.error) as exc:
        raise ModelLoadError(f"'{path}' is not a readable GGUF file ({type(exc).__name__})",
                             "download the file again; it may be incomplete") from exc


def check_pair(llava: str | os.PathLike[str] | None, mmproj: str | os.PathLike[str] | None) -> tuple[Path, Path, dict, dict]:
    """Both files exist, are GGUF, and are what they claim (model vs. projector), or a one-line error."""
    if not llava or not str(llava).strip():
        raise InputError("no LLaVA model configured",
                         "pass --llava FILE.gguf (and --mmproj), set LIPE_LLAVA_GGUF, or pick it in Settings")
    if not mmproj or not str(mmproj).strip():
        raise InputError("no LLaVA projector (mmproj) configured",
                         "pass --mmproj FILE.gguf, set LIPE_LLAVA_MMPROJ, or pick the matching mmproj in Settings")
    model_path = check_gguf(llava, "LLaVA model")
    proj_path = check_gguf(mmproj, "LLaVA projector (mmproj)")
    model_meta, proj_meta = gguf_metadata(model_path), gguf_metadata(proj_path)
    if model_meta.get("general.architecture") == "clip":
        raise InputError(f"'{model_path.name}' is a projector (mmproj), not the language model",
                         "swap the two files: the mmproj goes to --mmproj")
    if proj_meta.get("general.architecture") != "clip":
        raise InputError(f"'{proj_path.name}' is not a multimodal projector (mmproj)",
                         "pick the mmproj-*.gguf file that belongs to the LLaVA model")
    return model_path, proj_path, model_meta, proj_meta


def available_handlers(llama_cpp: Any | None = None) -> list[str]:
    """Handler names the installed llama-cpp-python offers."""
    llama_cpp = llama_cpp or import_llama_cpp()
    fmt = getattr(llama_cpp, "llama_chat_format", None)
    if fmt is None:
        with contextlib.suppress(ImportError):
            fmt = import_chat_formats()
    return [name for name, cls in HANDLERS.items() if fmt is not None and hasattr(fmt, cls)]


def choose_handler(model_meta: dict, proj_meta: dict, available: list[str], wanted: str | None = None) -> str:
    """The handler name for this model/projector pair (``wanted`` wins when it is installed)."""
    if wanted:
        key = wanted.lower().replace("-", "").replace(".", "").replace("_", "")
        key = {"llava": "llava15", "llava1": "llava15", "auto": ""}.get(key, key)
        if key:
            if key not in available:
                raise InputError(f"captioner chat handler '{wanted}' is not offered by the installed llama-cpp-python",
                                 f"use one of {', '.join(available) or 'none (update llama-cpp-python)'}")
            return key
    projector = str(proj_meta.get("clip.projector_type") or proj_meta.get("clip.vision.projector_type") or "mlp").lower()
    name = str(model_meta.get("general.name", "")).lower().replace("-", "").replace(" ", "")
    for hint in ("moondream", "nanollava", "minicpm", "qwen2.5vl", "qwen25vl"):
        if hint.replace(".", "") in name.replace(".", ""):
            pick = {"minicpm": "minicpmv26", "qwen2.5vl": "qwen25vl"}.get(hint, hint)
            if pick in available:
                return pick
    if projector in LLAVA_PROJECTORS or "llava" in name:
        pick = "llava16" if "clip.vision.image_grid_pinpoints" in proj_meta else "llava15"
        if pick in available:
            return pick
    if "mtmd" in available and model_meta.get("tokenizer.chat_template"):
        return "mtmd"  # other projector families: the model's own chat template knows the format
    if "llava15" in available:
        return "llava15"
    raise InputError("the installed llama-cpp-python has no multimodal chat handler",
                     "install llama-cpp-python 0.2.26 or newer")


def make_handler(name: str, mmproj: Path, use_gpu: bool = True) -> Any:
    fmt = import_chat_formats()
    cls = getattr(fmt, HANDLERS[name])
    params = inspect.signature(cls.__init__).parameters
    kwargs: dict[str, Any] = {"clip_model_path": str(mmproj), "verbose": False}
    if "use_gpu" in params:
        kwargs["use_gpu"] = use_gpu
    try:
        return cls(**kwargs)
    except (ValueError, RuntimeError, OSError) as exc:
        raise ModelLoadError(f"could not load the LLaVA projector '{mmproj.name}' ({str(exc)[:120]})",
                             "check that the mmproj file matches the model and llama-cpp-python") from exc


def image_data_uri(image: Image.Image, max_side: int = MAX_SIDE, quality: int = JPEG_QUALITY) -> str:
    """The photo as a downscaled JPEG ``data:`` URI (aspect ratio kept, never upscaled)."""
    im = image.convert("RGB")
    if max(im.size) > max_side:
        im = im.copy()
        im.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def single_turn(data_uri: str, request: str) -> list[dict[str, Any]]:
    """A brand-new conversation for one photo: one user message, image first, then the request."""
    return [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": data_uri}},
                                         {"type": "text", "text": request}]}]


class LlavaCaptioner:
    """``with LlavaCaptioner(model, mmproj) as cap: raw = cap.describe(image, request)``; closed after."""

    def __init__(self, llava: str | os.PathLike[str] | None, mmproj: str | os.PathLike[str] | None, *,
                 handler: str | None = None, n_ctx: int = 4096, n_gpu_layers: int = -1, max_tokens: int = 160,
                 temperature: float = 0.2, seed: int = 0, max_side: int = MAX_SIDE) -> None:
        self.model_path, self.mmproj_path, model_meta, proj_meta = check_pair(llava, mmproj)
        self.handler_name = choose_handler(model_meta, proj_meta, available_handlers(), handler)
        self.n_ctx, self.n_gpu_layers, self.max_tokens = n_ctx, n_gpu_layers, max_tokens
        self.temperature, self.seed, self.max_side = temperature, seed, max_side
        self._llm: Any = None
        self._stack: contextlib.ExitStack | None = None

    @property
    def model_name(self) -> str:
        return f"{self.model_path.name}+{self.mmproj_path.name} ({self.handler_name})"

    def __enter__(self) -> LlavaCaptioner:
        handler = make_handler(self.handler_name, self.mmproj_path, use_gpu=self.n_gpu_layers != 0)
        self._stack = contextlib.ExitStack()
        self._llm = self._stack.enter_context(open_llama(
            self.model_path, n_ctx=self.n_ctx, seed=self.seed, chat_handler=handler,
            n_gpu_layers=self.n_gpu_layers, what="LLaVA"))
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._stack is not None:
            self._stack.close()
        self._stack, self._llm = None, None

    def describe(self, image: Image.Image, request: str) -> str:
        """The model's raw answer for one photo (one fresh conversation)."""
        if self._llm is None:
            raise RuntimeError("use LlavaCaptioner as a context manager")
        messages = single_turn(image_data_uri(image, self.max_side), request)
        try:
            reply = self._llm.create_chat_completion(messages=messages, temperature=self.temperature,
                                                     max_tokens=self.max_tokens, seed=self.seed)
        except (ValueError, RuntimeError) as exc:
            raise ModelLoadError(f"the LLaVA model failed on a photo ({str(exc).splitlines()[0][:140] if str(exc) else type(exc).__name__})",
                                 "check that the model and mmproj belong together and n_ctx fits the image tokens") from exc
        return str(reply["choices"][0]["message"].get("content") or "")

