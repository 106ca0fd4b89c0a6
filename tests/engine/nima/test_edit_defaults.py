"""Edit settings a model ships with (lipe_edit_defaults.json): precedence, clear errors, CLI and GUI use."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lipe_engine.errors import InputError
from lipe_engine.models.edit_defaults import EDIT_DEFAULTS_FILE, read_edit_defaults
from lipe_engine.nima import EditParams, edit_params_for, model_edit_defaults


def _model_with(tmp_path: Path, tiny_sdxl_dir: Path, defaults: object | str) -> Path:
    """A model folder sharing the tiny model's weights (symlinks) with its own defaults file."""
    folder = tmp_path / "model"
    folder.mkdir()
    for entry in tiny_sdxl_dir.iterdir():
        (folder / entry.name).symlink_to(entry)
    text = defaults if isinstance(defaults, str) else json.dumps(defaults)
    (folder / EDIT_DEFAULTS_FILE).write_text(text, encoding="utf-8")
    return folder


def test_explicit_over_model_over_paper(tmp_path: Path) -> None:
    (tmp_path / EDIT_DEFAULTS_FILE).write_text(json.dumps({"steps": 30, "skip": 3, "record_downsample": 2}))
    p = edit_params_for(tmp_path, skip=5, cfg_target=None)
    assert (p.steps, p.skip, p.record_downsample) == (30, 5, 2)  # skip given, the rest the model's
    assert p.cfg_target == EditParams().cfg_target  # None: not given, and the model says nothing
    assert edit_params_for(tmp_path / "elsewhere") == EditParams()  # no file: the paper's settings
    assert edit_params_for("stabilityai/stable-diffusion-xl-base-1.0", seeds=[None, 3]).seeds == (None, 3)
    assert model_edit_defaults(None) == {} and read_edit_defaults("") == {}
    # lists from JSON or Qt become tuples in EditParams itself: equal and hashable however built
    from_json = EditParams(seeds=[None, 3], identity_words=["sks"])
    assert from_json == EditParams(seeds=(None, 3), identity_words=("sks",)) and hash(from_json)


@pytest.mark.parametrize(("content", "words"), [
    ("{not json", "not readable JSON"),
    ("[1, 2]", "does not hold a JSON object"),
    (json.dumps({"mask_treshold": 0.5}), "unknown edit settings ['mask_treshold']"),
    (json.dumps({"steps": 10, "skip": 40}), "bad edit setting (skip=40 is out of range"),
    (json.dumps({"steps": "many"}), "bad edit setting"),
])
def test_bad_defaults_file_is_one_clear_line_naming_it(tmp_path: Path, content: str, words: str) -> None:
    (tmp_path / EDIT_DEFAULTS_FILE).write_text(content)
    with pytest.raises(InputError) as info:
        edit_params_for(tmp_path)
    msg = str(info.value)
    assert words in msg and str(tmp_path / EDIT_DEFAULTS_FILE) in msg and len(msg.splitlines()) == 1
    assert "delete" in msg  # says the fix


def test_cli_edit_uses_the_models_steps_unless_given(tiny_sdxl_dir: Path, tmp_path: Path, capsys) -> None:
    from PIL import Image

    from lipe_engine.cli import main

    model = _model_with(tmp_path, tiny_sdxl_dir, {"steps": 4, "skip": 1, "mask_threshold": 0.5})
    img = tmp_path / "dog.png"
    Image.new("RGB", (64, 64), (120, 90, 60)).save(img)
    args = ["edit", str(img), "--prompt-source", "a sks dog sitting", "--prompt-target", "a sks dog standing",
            "--identity-prompt", "a sks dog", "--model", str(model), "--cache-dir", str(tmp_path / "cache")]
    assert main([*args, "--out", str(tmp_path / "a.png")]) == 0
    err = capsys.readouterr().err
    assert "editing: 3/3" in err and "editing: 90/90" not in err  # 4 steps, 1 skipped: the model's
    assert main([*args, "--out", str(tmp_path / "b.png"), "--steps", "6"]) == 0
    assert "editing: 5/5" in capsys.readouterr().err  # --steps wins; skip still the model's
    (model / EDIT_DEFAULTS_FILE).write_text(json.dumps({"steps": 4, "skip": 9}))
    assert main([*args, "--out", str(tmp_path / "c.png")]) == 2
    assert EDIT_DEFAULTS_FILE in capsys.readouterr().err
