"""``lipe edit`` end to end on the tiny model: outputs, masks, untouched original, clear errors."""

from __future__ import annotations

import hashlib

import numpy as np
from PIL import Image

from lipe_engine.cli import main


def _photo(path):
    rng = np.random.RandomState(0)
    Image.fromarray((rng.rand(8, 8, 3) * 255).astype(np.uint8)).resize((64, 48)).save(path)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _args(img, model, out, *extra):
    return ["edit", str(img), "--prompt-source", "a photo of a sks dog sitting",
            "--prompt-target", "a photo of a sks dog standing", "--identity-prompt", "a sks dog",
            "--model", str(model), "--out", str(out), "--steps", "6", "--skip", "1", "--quiet", *extra]


def test_cli_edit_writes_image_and_masks(tiny_sdxl_dir, tmp_path, capsys):
    img = tmp_path / "dog.jpg"
    digest = _photo(img)
    out = tmp_path / "out" / "edited.png"
    rc = main(_args(img, tiny_sdxl_dir, out, "--save-masks", str(tmp_path / "masks"),
                    "--cache-dir", str(tmp_path / "cache"), "--seed", "3"))
    assert rc == 0
    outs = sorted((tmp_path / "out").glob("edited_*.png"))
    assert len(outs) == 2 and Image.open(outs[0]).size == (64, 48)
    masks = {p.name for p in (tmp_path / "masks").iterdir()}
    assert {"source_mask.png", "target_mask_1.png", "union_mask_2.png"} <= masks
    assert hashlib.sha256(img.read_bytes()).hexdigest() == digest  # original never written
    assert list((tmp_path / "cache").glob("*.pt"))  # inversion cached for the next edit
    from lipe_engine.editing.provenance import DIGITAL_SOURCE_TYPE, read_provenance

    assert read_provenance(outs[0]).digital_source_type == DIGITAL_SOURCE_TYPE  # marked as made by a model


def test_cli_edit_refuses_to_overwrite_the_original(tiny_sdxl_dir, tmp_path, capsys):
    img = tmp_path / "dog.png"
    digest = _photo(img)
    assert main(_args(img, tiny_sdxl_dir, img)) == 2
    assert "overwrite the original" in capsys.readouterr().err
    assert hashlib.sha256(img.read_bytes()).hexdigest() == digest


def test_cli_edit_wrong_model_folder(tmp_path, capsys):
    img = tmp_path / "dog.png"
    _photo(img)
    assert main(_args(img, tmp_path, tmp_path / "o.png")) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("lipe: error:") and "model_index.json" in err and len(err.splitlines()) == 1


def test_cli_edit_preview_runs_the_preview_schedule(tiny_sdxl_dir, tmp_path, capsys, monkeypatch):
    import lipe_engine.nima as nima

    real, used = nima.edit_image, []

    def recording_edit(*args, **kwargs):
        res = real(*args, **kwargs)
        used.append(res.params)
        return res

    monkeypatch.setattr(nima, "edit_image", recording_edit)
    img = tmp_path / "dog.jpg"
    _photo(img)
    out = tmp_path / "preview.png"
    args = _args(img, tiny_sdxl_dir, out)
    args[args.index("--steps") + 1], args[args.index("--skip") + 1] = "20", "2"
    assert main([*args, "--preview"]) == 0
    assert out.exists() and [(p.steps, p.skip) for p in used] == [(5, 1)]  # 4 of the full 18 sampled steps


def test_cli_edit_by_identity_preview_runs_the_preview_schedule(tiny_sdxl_dir, tmp_path, capsys, monkeypatch):
    """``--identity NAME --to CHANGE --preview``: the same preview schedule as the expert path, and the
    saved version's recipe says so (a redo replays the preview, not a full edit)."""
    import lipe_engine.nima as nima
    from lipe_engine.library import Library
    from lipe_engine.testing.libraries import make_library

    real, used = nima.edit_image, []

    def recording_edit(*args, **kwargs):
        res = real(*args, **kwargs)
        used.append(res.params)
        return res

    monkeypatch.setattr(nima, "edit_image", recording_edit)
    data, _ = make_library(tmp_path, 1)
    with Library.open(data) as lib:
        lib.set_setting("sdxl_model", str(tiny_sdxl_dir))
        photo = lib.list_photos()[0]
        lib.add_identity_photos(lib.create_identity("Rex", "dog"), [photo])
    args = ["edit", str(photo.path), "--identity", "Rex", "--to", "standing", "--steps", "20", "--skip", "2",
            "--quiet", "--data-dir", str(data)]
    assert main([*args, "--preview", "--plan"]) == 0
    assert "preview: 4 of 18 sampled steps" in capsys.readouterr().out
    assert main([*args, "--preview"]) == 0
    assert [(p.steps, p.skip) for p in used] == [(5, 1)]  # 4 of the full 18 sampled steps
    with Library.open(data) as lib:
        (edit,) = lib.list_edits(photo)
        assert (edit.recipe["params"]["steps"], edit.recipe["params"]["skip"]) == (5, 1)
