"""GGUF metadata, read once for the whole house (model discovery, the LLaVA pair check, llama.cpp).

A small reader of the file's key/value header (GGUF v2/v3), no ``gguf`` package and no weights
touched: the key/value section sits before the tensors. Arrays longer than 16 items (vocabularies,
merges) are given by their length.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Any

GGUF_MAGIC = b"GGUF"
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9
LONG_ARRAY = 16  # longer arrays come back as their length


def read_gguf_metadata(path: str | os.PathLike[str], wanted: tuple[str, ...] | None = ("general.", "clip."),
                       max_keys: int = 4096, stop_at_vocabulary: bool = True) -> dict[str, Any]:
    """The keys starting with ``wanted`` (None: every key) of a GGUF file and their values.

    ``stop_at_vocabulary``: stop at the first ``tokenizer.*`` key once ``general.architecture`` is
    known (what classification needs comes before the large vocabulary arrays). Raises ValueError
    (or OSError, struct.error) for a file that is not a readable GGUF.
    """
    out: dict[str, Any] = {}
    with Path(path).open("rb") as fh:
        if fh.read(4) != GGUF_MAGIC:
            raise ValueError("not a GGUF file")
        (version,) = struct.unpack("<I", fh.read(4))
        if version < 2:
            raise ValueError(f"GGUF version {version} is too old")
        _n_tensors, n_kv = struct.unpack("<QQ", fh.read(16))

        def string() -> str:
            (n,) = struct.unpack("<Q", fh.read(8))
            if n > 1 << 24:
                raise ValueError("string too long")
            return fh.read(n).decode("utf-8", "replace")

        def value(vtype: int, keep: bool) -> Any:
            if vtype in _SCALARS:
                fmt = _SCALARS[vtype]
                return struct.unpack(fmt, fh.read(struct.calcsize(fmt)))[0]
            if vtype == _STRING:
                return string()
            if vtype == _ARRAY:
                etype, count = struct.unpack("<IQ", fh.read(12))
                if etype in _SCALARS and (not keep or count > LONG_ARRAY):
                    fh.seek(count * struct.calcsize(_SCALARS[etype]), os.SEEK_CUR)
                    return count if keep else None
                items = [value(etype, keep) for _ in range(count)]
                return (count if count > LONG_ARRAY else items) if keep else None
            raise ValueError(f"unknown GGUF value type {vtype}")

        for _ in range(min(n_kv, max_keys)):
            key = string()
            (vtype,) = struct.unpack("<I", fh.read(4))
            if stop_at_vocabulary and key.startswith("tokenizer.") and "general.architecture" in out:
                break
            keep = wanted is None or key.startswith(wanted)
            v = value(vtype, keep)
            if keep:
                out[key] = v
    return out
