"""Model loading: the tiny SDXL goes through the same loader as real weights, bad paths fail clearly."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from lipe_engine.errors import ModelLoadError
from lipe_engine.models.loader import load_sdxl
from lipe_engine.models.tokenizer_files import build_vocab


def test_tiny_model_has_sdxl_architecture(tiny_model):
    pipe = tiny_model.pipe
    assert type(pipe).__name__ == "StableDiffusionXLPipeline"
    assert pipe.unet.config.addition_embed_type == "text_time"
    assert type(pipe.text_encoder_2).__name__ == "CLIPTextModelWithProjection"
    assert tiny_model.native_size == 64
    assert tiny_model.dtype == torch.float32 and tiny_model.device.type == "cpu"


def test_generated_tokenizer_makes_words_single_tokens(tiny_model):
    tok = tiny_model.pipe.tokenizer
    ids = tok("a sks dog", add_special_tokens=False).input_ids
    assert len(ids) == 3
    # both SDXL tokenizers share one vocabulary, so identity-word indices line up
    assert tok("sks dog").input_ids == tiny_model.pipe.tokenizer_2("sks dog").input_ids
    # unknown words still tokenize into byte-level pieces
    assert len(tok("zebra", add_special_tokens=False).input_ids) > 1


def test_vocab_is_deterministic():
    assert build_vocab(["dog", "sks"]) == build_vocab(["dog", "sks"])


def test_missing_path_is_a_clear_error(tmp_path):
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_sdxl(tmp_path / "nope", device="cpu")


def test_folder_without_model_index(tmp_path):
    with pytest.raises(ModelLoadError, match="model_index.json"):
        load_sdxl(tmp_path, device="cpu")


def test_non_sdxl_folder(tmp_path, tiny_sdxl_dir: Path):
    broken = tmp_path / "sd15"
    shutil.copytree(tiny_sdxl_dir, broken)
    shutil.rmtree(broken / "text_encoder_2")
    idx = json.loads((broken / "model_index.json").read_text())
    idx.pop("text_encoder_2")
    (broken / "model_index.json").write_text(json.dumps(idx))
    with pytest.raises(ModelLoadError, match="not an SDXL model"):
        load_sdxl(broken, device="cpu")


def test_truncated_safetensors_file(tmp_path):
    bad = tmp_path / "model.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{\"a\":")
    with pytest.raises(ModelLoadError, match="not a readable .safetensors"):
        load_sdxl(bad, device="cpu")


def test_wrong_suffix_file(tmp_path):
    f = tmp_path / "photo.jpg"
    f.write_bytes(b"\xff\xd8")
    with pytest.raises(ModelLoadError, match="not a model checkpoint"):
        load_sdxl(f, device="cpu")


def test_hub_id_not_in_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    with pytest.raises(ModelLoadError, match="not in the Hugging Face cache"):
        load_sdxl("someone/not-cached-sdxl", device="cpu")


def test_bad_device_and_dtype():
    from lipe_engine.devices import pick_device, pick_dtype
    from lipe_engine.errors import InputError

    with pytest.raises(InputError, match="precision"):
        pick_dtype(torch.device("cpu"), "fp8")
    with pytest.raises(InputError):
        pick_device("tpu:9")
