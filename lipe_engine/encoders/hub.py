"""Load a transformers model or processor from a folder or the Hugging Face cache, never the network.

``source`` is a local folder (``save_pretrained`` layout: config, weights, preprocessor config and,
for CLIP, the tokenizer) or a hub id already in the cache. ``where`` is how the user sets that model
(a flag, a ``lipe`` command, a Settings field): every error's fix names it.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

from ..errors import ModelLoadError

_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:160] if text else type(exc).__name__


def resolve(source: str | os.PathLike[str], what: str, where: str) -> str:
    """``source`` as a folder path or a hub id; a missing folder or a malformed one is refused."""
    text = str(source).strip()
    path = Path(text).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelLoadError(
                f"{what} folder '{path}' has no config.json",
                f"point {where} to a folder written by save_pretrained (config, weights, preprocessor)",
            )
        return str(path)
    if not _REPO_ID.match(text) or text.startswith((".", "/", "~")):
        raise ModelLoadError(f"{what} folder '{path}' does not exist", f"give an existing folder to {where}")
    return text


def load_pretrained(loader: Any, source: str, what: str, where: str, **kw: Any) -> Any:
    """``loader.from_pretrained(source)`` offline; any failure is one line naming ``what`` and the fix."""
    quiet = logging.getLogger("transformers")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # torchvision-less fallbacks are announced as warnings
    try:
        return loader.from_pretrained(source, local_files_only=True, **kw)
    except (OSError, ValueError, KeyError, RuntimeError, TypeError) as exc:
        if Path(source).is_dir():
            raise ModelLoadError(
                f"could not load the {what} from '{source}' ({_first_line(exc)})",
                "the folder needs config.json, the weights and preprocessor_config.json",
            ) from exc
        raise ModelLoadError(
            f"{what} '{source}' is not in the Hugging Face cache",
            f"download it once (hf download {source}) or give a local folder to {where}",
        ) from exc
    finally:
        quiet.setLevel(level)
