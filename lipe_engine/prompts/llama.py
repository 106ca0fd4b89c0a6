"""Open a local GGUF model with llama-cpp-python, with one-line errors, and always close it after.

Shared by the regularization-prompt generator and the captioner. Nothing is downloaded: the user
points at GGUF files on disk.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import InputError, ModelLoadError
from ..models.gguf import GGUF_MAGIC


def check_gguf(path: str | os.PathLike[str] | None, what: str) -> Path:
    """The path of an existing GGUF file, or an error naming it and how to get one."""
    if path is None or not str(path).strip():
        raise InputError(f"no {what} GGUF file configured", f"set the {what} model path (a .gguf file) in settings or pass it")
    p = Path(path).expanduser()
    if not p.is_file():
        raise InputError(f"{what} GGUF file '{p}' does not exist", "check the path or download the .gguf file first")
    with p.open("rb") as fh:
        if fh.read(4) != GGUF_MAGIC:
            raise ModelLoadError(f"'{p}' is not a GGUF file", f"give the {what} model in .gguf format (llama.cpp)")
    return p


def import_llama_cpp() -> Any:
    try:
        import llama_cpp
    except ImportError as exc:
        # `make demo` leaves it out on purpose (it compiles for minutes); the full install has it
        raise InputError(
            "llama-cpp-python is not installed (captioning and LLM prompts need it)",
            "run `make install` in the checkout, or pip install -c requirements-lock.txt '.[llm]'",
        ) from exc
    return llama_cpp


def import_chat_formats() -> Any:
    """``llama_cpp.llama_chat_format`` (the multimodal chat handlers), with the same one-line error."""
    import_llama_cpp()
    import llama_cpp.llama_chat_format as fmt

    return fmt


@contextlib.contextmanager
def open_llama(model_path: Path, *, n_ctx: int = 4096, seed: int = 0, chat_handler: Any = None,
               n_gpu_layers: int = -1, what: str = "language") -> Iterator[Any]:
    """A ``llama_cpp.Llama`` that is closed (memory freed) when the block ends, even on errors."""
    llama_cpp = import_llama_cpp()
    try:
        llm = llama_cpp.Llama(model_path=str(model_path), n_ctx=n_ctx, seed=seed, chat_handler=chat_handler,
                              n_gpu_layers=n_gpu_layers, verbose=False, logits_all=False)
    except (ValueError, RuntimeError, OSError) as exc:
        raise ModelLoadError(
            f"could not load the {what} model '{model_path}' ({str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__})",
            "check that it is a complete llama.cpp GGUF file supported by the installed llama-cpp-python",
        ) from exc
    try:
        yield llm
    finally:
        close = getattr(llm, "close", None)
        if close is not None:
            close()
        if chat_handler is not None:
            for name in ("close", "_exit_stack"):
                obj = getattr(chat_handler, name, None)
                if callable(obj):
                    with contextlib.suppress(Exception):
                        obj()
                elif obj is not None and hasattr(obj, "close"):
                    with contextlib.suppress(Exception):
                        obj.close()
