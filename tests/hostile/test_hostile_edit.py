"""Hostile `lipe edit` inputs: output paths, existing files, library photos, non-finite and boundary
parameters. Each is refused in one line *before any model loads* and the photos are left as they were."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hostile_helpers import hashes, integrity_ok, no_model_load, one_line_error, run_cli, sha
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from lipe_engine.errors import InputError
from lipe_engine.models.edit_defaults import EDIT_DEFAULTS_FILE
from lipe_engine.nima import EditParams, edit_params_for

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _photo(path: Path, seed: int = 0) -> Path:
    rng = np.random.RandomState(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((rng.rand(8, 8, 3) * 255).astype(np.uint8)).resize((64, 48)).save(path)
    return path


def _edit(img, out, *extra, model="unused-model"):
    return ["edit", str(img), "--prompt-source", "a photo of a sks dog sitting",
            "--prompt-target", "a photo of a sks dog standing", "--identity-prompt", "a sks dog",
            "--model", str(model), "--out", str(out), "--quiet", *extra]


@pytest.fixture(autouse=True)
def _no_user_library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIPE_DATA_DIR", str(tmp_path / "no-library"))  # never the user's real library


@pytest.fixture()
def photos(tmp_path: Path) -> list[Path]:
    return [_photo(tmp_path / "pics" / f"p{i}.png", i) for i in range(3)]


def test_missing_photo_is_named_before_any_model_loads(tmp_path, capsys, monkeypatch):
    no_model_load(monkeypatch)
    rc, _, err = run_cli(capsys, *_edit(tmp_path / "missing.jpg", tmp_path / "o.png"))
    assert rc == 2
    one_line_error(err, "missing.jpg", "does not exist")


@pytest.mark.parametrize("case", ["existing", "numbered", "proc", "under_file", "folder", "masks_file",
                                  "masks_under_file", "no_suffix", "cache_is_a_file", "missing_lora"])
def test_unusable_or_existing_outputs_are_refused_before_work(tmp_path, photos, capsys, monkeypatch, case):
    no_model_load(monkeypatch)
    img, other = photos[0], photos[1]
    extra: list[str] = []
    out = tmp_path / "out.png"
    if case == "existing":  # another photo: silently overwritten before
        out = other
    elif case == "numbered":  # two targets write out_1/out_2: out_2 exists
        _photo(tmp_path / "out_2.png", 7)
        extra = ["--prompt-target", "a photo of a sks dog lying"]
    elif case == "proc":
        out = Path("/proc/lipe-x.png")
    elif case == "under_file":
        out = other / "x.png"
    elif case == "folder":
        out = tmp_path / "pics"
    elif case == "masks_file":
        extra = ["--save-masks", str(other)]
    elif case == "masks_under_file":
        extra = ["--save-masks", str(other / "masks")]
    elif case == "no_suffix":
        out = tmp_path / "out.txt"
    elif case == "cache_is_a_file":
        extra = ["--cache-dir", str(other)]
    elif case == "missing_lora":
        extra = ["--lora", str(tmp_path / "no-such-lora")]
    before = hashes([*photos, *tmp_path.glob("out_*.png")])
    rc, out_text, err = run_cli(capsys, *_edit(img, out, *extra))
    assert rc == 2
    one_line_error(err, "lipe: error:")
    assert hashes([*photos, *tmp_path.glob("out_*.png")]) == before
    assert not (tmp_path / "out.png").exists() and not out_text.strip()


def test_existing_output_needs_overwrite_and_a_library_photo_is_never_overwritten(
        tmp_path, photos, capsys, monkeypatch):
    from lipe_engine.library import Library

    data = tmp_path / "data"
    with Library.open(data) as lib:
        lib.scan([lib.add_folder(tmp_path / "pics").id])
    no_model_load(monkeypatch)
    before = hashes(photos)
    rc, _, err = run_cli(capsys, *_edit(photos[0], photos[1], "--data-dir", tmp_path / "no-library"))
    assert rc == 2
    one_line_error(err, str(photos[1]), "--overwrite")
    for extra in ([], ["--overwrite"]):
        rc, _, err = run_cli(capsys, *_edit(photos[0], photos[1], *extra, "--data-dir", data))
        assert rc == 2
        one_line_error(err, str(photos[1]), "original photo of the library")
    assert hashes(photos) == before
    integrity_ok(data / "library.sqlite")


def test_overwrite_replaces_a_previous_output(tiny_sdxl_dir, tmp_path, photos, capsys):
    out = _photo(tmp_path / "old_result.png", 9)
    old = sha(out)
    before = hashes(photos)
    rc, _, err = run_cli(capsys, *_edit(photos[0], out, "--steps", "4", "--skip", "1", "--overwrite",
                                         "--cache-dir", tmp_path / "cache", model=tiny_sdxl_dir))
    assert rc == 0, err
    assert sha(out) != old and Image.open(out).size == (64, 48)
    assert hashes(photos) == before


@pytest.mark.parametrize("option", [
    ("--cfg-target", "nan"), ("--cfg-source", "inf"), ("--cfg-target=-inf",), ("--mask-threshold", "nan"),
    ("--steps", "1"), ("--steps", "1001"), ("--skip", "-1"), ("--mask-lambda", "-1"), ("--mask-lambda", "17"),
    ("--seed", "-1"), ("--seed", str(2**64)), ("--cfg-target", "1e309"), ("--cfg-source", "1e6"),
    ("--prompt-target", " "), ("--identity-prompt", ""),
])
def test_non_finite_and_out_of_range_options_are_refused_before_any_model_loads(
        tmp_path, photos, capsys, monkeypatch, option):
    no_model_load(monkeypatch)
    rc, _, err = run_cli(capsys, *_edit(photos[0], tmp_path / "o.png", *option))
    assert rc == 2
    one_line_error(err, "lipe: error:")
    assert not (tmp_path / "o.png").exists()


@pytest.mark.parametrize("content", [
    '{"cfg_target": NaN}', '{"mask_threshold": Infinity}', '{"record_downsample": 0}',
    '{"record_downsample": -2}', '{"composite_dilate": -1}', '{"variation": NaN}', '{"steps": true}',
    '{"seeds": [1.5]}', '{"mask_softness": -Infinity}', '{"inversion_seed": -1}',
    '{"cfg_target": 1' + '0' * 400 + '}', '{"steps": 1' + '0' * 400 + '}', '{"cfg_source": 1e400}',
])
def test_bad_values_in_a_models_defaults_file_are_one_line(tmp_path, content):
    (tmp_path / EDIT_DEFAULTS_FILE).write_text(content)
    with pytest.raises(InputError) as info:
        edit_params_for(tmp_path)
    assert len(str(info.value).splitlines()) == 1 and EDIT_DEFAULTS_FILE in str(info.value)


# every float field of EditParams: any non-finite value is refused, any finite value either passes or
# is refused with an InputError (never another exception)
FLOATS = ("cfg_source", "cfg_target", "mask_threshold", "mask_softness", "variation")
INTS = ("steps", "skip", "mask_lambda", "mask_dilate", "composite_dilate", "composite_feather",
        "inversion_seed", "record_downsample", "self_attention_stride")


@settings(max_examples=200, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(FLOATS), value=st.floats(allow_nan=True, allow_infinity=True))
def test_every_float_parameter_is_checked(name, value):
    try:
        EditParams(**{name: value}).validate()
    except InputError as exc:
        assert len(str(exc).splitlines()) == 1
    else:
        assert math.isfinite(value)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(name=st.sampled_from(INTS), value=st.integers(min_value=-(2**70), max_value=2**70))
def test_every_integer_parameter_is_checked_at_both_ends(name, value):
    try:
        p = EditParams(**{name: value, **({"steps": 1000} if name == "skip" else {})})
        p.validate()
    except InputError as exc:
        assert len(str(exc).splitlines()) == 1
    else:
        assert -(2**31) < value < 2**32  # nothing absurd gets through


@pytest.mark.parametrize(("name", "low", "high"), [
    ("steps", 2, 1000), ("mask_lambda", 0, 16), ("self_attention_stride", 1, 64), ("mask_dilate", 0, 64),
    ("composite_dilate", 0, 256), ("composite_feather", 0, 256), ("inversion_seed", 0, 2**32 - 1),
    ("record_downsample", 1, 64),
])
def test_integer_parameters_at_their_advertised_boundaries(name, low, high):
    EditParams(**{name: low, "skip": 0}).validate()
    EditParams(**{name: high, "skip": 0}).validate()
    for bad in (low - 1, high + 1):
        with pytest.raises(InputError):
            EditParams(**{name: bad, "skip": 0}).validate()


def test_seeds_must_be_integers_in_range():
    EditParams(seeds=(None, 0, 2**32 - 1)).validate()
    for bad in ((-1,), (2**32,), (1.5,), ("3",), (True,)):
        with pytest.raises(InputError):
            EditParams(seeds=bad).validate()


def test_the_advertised_maximum_of_1000_steps_makes_a_schedule():
    from diffusers import EulerDiscreteScheduler

    from lipe_engine.models.tiny import SDXL_SCHEDULER_CONFIG
    from lipe_engine.nima.inversion import make_schedule

    sched = make_schedule(EulerDiscreteScheduler.from_config(SDXL_SCHEDULER_CONFIG), 1000)
    assert sched.n == 1000 and len(set(sched.timesteps)) == 1000
    assert max(sched.timesteps) == 999 and min(sched.timesteps) == 0
    assert sched.timesteps == sorted(sched.timesteps, reverse=True)
    assert bool((sched.abar_prev >= sched.abar).all())
    # the paper's 100 steps are unchanged by the fix
    assert make_schedule(EulerDiscreteScheduler.from_config(SDXL_SCHEDULER_CONFIG), 100).timesteps[:2] == [991, 981]


def test_cli_edit_with_1000_steps_runs(tiny_sdxl_dir, tmp_path, photos, capsys):
    out = tmp_path / "o.png"
    rc, _, err = run_cli(capsys, *_edit(photos[0], out, "--steps", "1000", "--skip", "997",
                                         model=tiny_sdxl_dir))
    assert rc == 0, err
    assert Image.open(out).size == (64, 48)


def test_nan_guidance_never_yields_an_image(tiny_sdxl_dir, tmp_path, photos, capsys):
    model = tmp_path / "model"
    model.mkdir()
    for entry in Path(tiny_sdxl_dir).iterdir():
        (model / entry.name).symlink_to(entry)
    (model / EDIT_DEFAULTS_FILE).write_text(json.dumps({"steps": 4, "skip": 1}).replace("}", ', "cfg_target": NaN}'))
    rc, _, err = run_cli(capsys, *_edit(photos[0], tmp_path / "o.png", model=model))
    assert rc == 2
    one_line_error(err, EDIT_DEFAULTS_FILE)
    assert not (tmp_path / "o.png").exists()


@pytest.mark.parametrize("kind", ["empty", "truncated", "not_an_image", "folder", "bomb"])
def test_malformed_photos_are_one_line_before_any_model_loads(tmp_path, photos, capsys, monkeypatch, kind):
    no_model_load(monkeypatch)
    bad = tmp_path / "bad.png"
    if kind == "empty":
        bad.write_bytes(b"")
    elif kind == "truncated":
        bad.write_bytes(photos[0].read_bytes()[:200])
    elif kind == "not_an_image":
        bad.write_text("hello")
    elif kind == "folder":
        bad.mkdir()
    elif kind == "bomb":  # a PNG header claiming 100000 x 100000 pixels
        import struct
        import zlib

        ihdr = struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)
        chunk = b"IHDR" + ihdr
        bad.write_bytes(b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk)))
    rc, _, err = run_cli(capsys, *_edit(bad, tmp_path / "o.png"))
    assert rc == 2
    one_line_error(err, "bad.png")
    assert not (tmp_path / "o.png").exists()


def test_a_crafted_pickle_in_the_inversion_cache_runs_nothing(tmp_path):
    import pickle

    import torch

    from lipe_engine.nima import InversionCache

    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "k.pt").write_bytes(pickle.dumps(Payload()))
    assert InversionCache(tmp_path / "cache").get("k", torch.device("cpu")) is None
    assert not marker.exists()


@settings(max_examples=120, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.text(min_size=1, max_size=40), suffix=st.sampled_from([".png", ".jpg", ".webp", "", ".PNG"]))
def test_any_output_name_is_checked_or_reaches_the_model_in_one_line(tmp_path, photos, capsys, monkeypatch,
                                                                     name, suffix):
    import lipe_engine.models.loader as loader

    def reached(*a, **k):
        raise InputError("model reached", "stop here")

    monkeypatch.setattr(loader, "load_sdxl", reached)
    before = hashes(photos)
    out = tmp_path / "outs" / f"{name}{suffix}"
    rc, _, err = run_cli(capsys, *_edit(photos[0], out))
    assert rc == 2
    one_line_error(err, "lipe: error:")
    assert hashes(photos) == before
    outs = tmp_path / "outs"
    assert not outs.exists() or not any(p.is_file() for p in outs.rglob("*"))
