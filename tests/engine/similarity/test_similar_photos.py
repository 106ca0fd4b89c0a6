"""'Find similar photos' with a tiny CLIP model built from a config, saved, and loaded back.

The CLIP is the app's one encoder (lipe_engine.encoders) under the one key ``clip_model``; the library
keeps only the vectors (lipe_engine.library.vectors).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hostile_helpers import hashes
from PIL import Image

from lipe_engine import locations
from lipe_engine.cli import main
from lipe_engine.encoders import ClipEncoder
from lipe_engine.errors import ModelLoadError
from lipe_engine.library import Library, LibraryError, vectors
from lipe_engine.similarity import clip_for_library, embed_photos, suggest_similar


def _load(folder: Path) -> ClipEncoder:
    return ClipEncoder(folder, device="cpu", text=False)  # this CLIP folder has no tokenizer


@pytest.fixture(scope="module")
def tiny_clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    torch.manual_seed(0)
    layer = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2)
    cfg = CLIPConfig(
        text_config=dict(layer, vocab_size=99, max_position_embeddings=16, bos_token_id=0, eos_token_id=1),
        vision_config=dict(layer, image_size=32, patch_size=8),
        projection_dim=16,
    )
    d = tmp_path_factory.mktemp("tiny_clip") / "clip"
    CLIPModel(cfg).eval().save_pretrained(d)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(d)
    return d


def _scene(seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).resize((96, 96), Image.NEAREST)


@pytest.fixture()
def lib_with_scenes(tmp_path: Path):
    photos = tmp_path / "photos"
    photos.mkdir()
    _scene(1).save(photos / "ref.png")
    _scene(1).save(photos / "near_copy.jpg", quality=80)  # same scene, re-encoded
    for s in range(2, 8):
        _scene(s).save(photos / f"other{s}.png")
    lib = Library.open(tmp_path / "data")
    lib.add_folder(photos)
    lib.scan()
    yield lib, photos
    lib.close()


def test_loader_and_embeddings(tiny_clip_dir: Path, lib_with_scenes) -> None:
    lib, photos = lib_with_scenes
    emb = _load(tiny_clip_dir)
    v = emb.unit_images([_scene(1), _scene(2)])
    assert v.shape == (2, 16) and v.dtype == np.float32 and np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5)
    raw = emb.images([_scene(1)]).numpy()[0]  # the metrics' raw embedding, same model: same direction
    assert np.allclose(raw / np.linalg.norm(raw), v[0], atol=1e-5)
    assert embed_photos(lib, emb) == 8
    assert embed_photos(lib, emb) == 0  # stored; nothing recomputed
    stored = vectors.load(lib, emb.source, [p.id for p in lib.list_photos()])
    assert len(stored) == 8 and all(x.shape == (16,) for x in stored.values())
    _scene(9).save(photos / "other2.png")
    lib.scan()
    assert embed_photos(lib, emb) == 1  # changed content is re-embedded


def test_suggestions_rank_and_never_override_the_user(tiny_clip_dir: Path, lib_with_scenes) -> None:
    lib, photos = lib_with_scenes
    before = hashes(p for p in photos.iterdir())
    rex = lib.create_identity("Rex", "dog")
    with pytest.raises(LibraryError, match="no confirmed photos"):
        suggest_similar(lib, rex, _load(tiny_clip_dir))
    lib.add_identity_photos(rex, [photos / "ref.png"])
    lib.reject_identity_photos(rex, [photos / "other3.png"])
    lib.add_identity_photos(rex, [photos / "other4.png"], role="target")
    found = suggest_similar(lib, rex, _load(tiny_clip_dir), top_k=3)
    names = [p.path.name for p, _s in found]
    assert names[0] == "near_copy.jpg" and found[0][1] > 0.99
    assert (
        len(found) == 3 and "other3.png" not in names and "other4.png" not in names and "ref.png" not in names
    )
    assert all(a[1] >= b[1] for a, b in zip(found, found[1:], strict=False))
    status = {x.photo.path.name: (x.status, x.role) for x in lib.identity_photos(rex, status=None)}
    assert status["ref.png"] == ("confirmed", "reference")
    assert status["other3.png"][0] == "rejected" and status["other4.png"] == ("confirmed", "target")
    assert sum(1 for s, _r in status.values() if s == "suggested") == 3
    assert hashes(p for p in photos.iterdir()) == before


def test_no_model_in_the_cache_says_how_to_set_one(tmp_path: Path, lib_with_scenes, monkeypatch, capsys) -> None:
    lib, photos = lib_with_scenes
    for var in ("LIPE_CLIP_MODEL", "LIPE_EMBEDDING_MODEL"):
        monkeypatch.delenv(var, raising=False)
    rex = lib.create_identity("Rex", "dog")
    lib.add_identity_photos(rex, [photos / "ref.png"])
    # nothing set: the shipped id, which is not in this machine's (offline) cache
    with pytest.raises(ModelLoadError, match="openai/clip-vit-large-patch14' is not in the Hugging Face cache"):
        suggest_similar(lib, rex)
    with pytest.raises(ModelLoadError, match="does not exist"):
        clip_for_library(lib, tmp_path / "nope")
    with pytest.raises(ModelLoadError, match="not in the Hugging Face cache.*set-clip-model"):
        clip_for_library(lib, "someone/not-a-cached-model")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "config.json").write_text("{}")
    with pytest.raises(ModelLoadError, match="could not load the CLIP model"):
        clip_for_library(lib, tmp_path / "junk")
    rc = main(["identity", "suggest", "Rex", "--data-dir", str(lib.data_dir)])
    err = capsys.readouterr().err
    assert rc == 2 and "set-clip-model" in err and len(err.strip().splitlines()) == 1


def test_cli_set_model_and_suggest(tiny_clip_dir: Path, lib_with_scenes, monkeypatch, capsys) -> None:
    lib, photos = lib_with_scenes
    for var in ("LIPE_CLIP_MODEL", "LIPE_EMBEDDING_MODEL"):
        monkeypatch.delenv(var, raising=False)
    dd = ["--data-dir", str(lib.data_dir)]
    assert main(["library", "set-clip-model", str(tiny_clip_dir), *dd]) == 0
    assert lib.get_setting("clip_model") == str(tiny_clip_dir)  # the one key the metrics read too
    assert locations.resolve("clip_model", None, lib) == str(tiny_clip_dir)
    assert main(["identity", "create", "Rex", "--class", "dog", *dd]) == 0
    assert main(["identity", "add", "Rex", str(photos / "ref.png"), *dd]) == 0
    capsys.readouterr()
    assert main(["identity", "suggest", "Rex", "--top", "2", "-q", *dd]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 2 and out[0].endswith("near_copy.jpg")
    assert main(["library", "embed", "-q", *dd]) == 0


def test_a_choice_stored_under_the_old_key_is_moved_and_used(tiny_clip_dir: Path, lib_with_scenes,
                                                             monkeypatch, capsys) -> None:
    """A library from before one CLIP key: `embedding_model` (the CLI's "find similar") becomes `clip_model`."""
    lib, photos = lib_with_scenes
    for var in ("LIPE_CLIP_MODEL", "LIPE_EMBEDDING_MODEL"):
        monkeypatch.delenv(var, raising=False)
    lib.set_setting("embedding_model", str(tiny_clip_dir))  # as the old `set-embedding-model` stored it
    dd = ["--data-dir", str(lib.data_dir)]
    assert main(["identity", "create", "Rex", "--class", "dog", *dd]) == 0
    assert main(["identity", "add", "Rex", str(photos / "ref.png"), *dd]) == 0
    capsys.readouterr()
    assert main(["identity", "suggest", "Rex", "--top", "1", "-q", *dd]) == 0
    assert capsys.readouterr().out.strip().endswith("near_copy.jpg")
    assert lib.get_setting("clip_model") == str(tiny_clip_dir) and lib.get_setting("embedding_model") is None
    # the old command name still sets the one key
    assert main(["library", "set-embedding-model", "--clear", *dd]) == 0
    assert lib.get_setting("clip_model") is None
