"""GGUF metadata is read by one reader for discovery, the LLaVA pair check and llama.cpp's file check."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lipe_engine.models.gguf import LONG_ARRAY, read_gguf_metadata

ROOT = Path(__file__).resolve().parents[3]


def _write(path: Path) -> Path:
    gguf = pytest.importorskip("gguf")
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name("tiny llava v1.5")
    w.add_array("clip.vision.image_grid_pinpoints", [336, 672, 672, 336])
    w.add_token_list([f"t{i}" for i in range(40)])
    w.add_chat_template("{{ messages }}")
    w.add_tensor("w", np.zeros((2, 2), np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def test_one_reader_for_classification_and_the_full_header(tmp_path: Path) -> None:
    path = _write(tmp_path / "m.gguf")
    short = read_gguf_metadata(path)
    assert short["general.architecture"] == "llama" and short["general.name"] == "tiny llava v1.5"
    assert short["clip.vision.image_grid_pinpoints"] == [336, 672, 672, 336]
    assert not any(k.startswith("tokenizer.") for k in short)
    full = read_gguf_metadata(path, wanted=None, stop_at_vocabulary=False)
    assert full["tokenizer.ggml.tokens"] == 40 > LONG_ARRAY  # a vocabulary by its length
    assert full["tokenizer.chat_template"] == "{{ messages }}"
    (tmp_path / "bad.gguf").write_bytes(b"GGUX" + bytes(20))
    with pytest.raises(ValueError, match="not a GGUF"):
        read_gguf_metadata(tmp_path / "bad.gguf")


def test_no_second_gguf_parser_in_the_house() -> None:
    hits = [p for folder in ("lipe_engine", "lipe_desktop") for p in (ROOT / folder).rglob("*.py")
            if "GGUFReader" in p.read_text(encoding="utf-8") or 'b"GGUF"' in p.read_text(encoding="utf-8")]
    assert [str(p.relative_to(ROOT)) for p in hits] == ["lipe_engine/models/gguf.py"]
