"""Training checkpoints from a hostile or damaged output folder: nothing is unpickled, damage is one line."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import torch

from lipe_engine.errors import InputError
from lipe_engine.training import checkpoint


class _Payload:
    """Unpickling this creates ``marker``: what a crafted checkpoint would do with os.system."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _adamw_state() -> dict:
    p = [torch.nn.Parameter(torch.randn(3, 2)), torch.nn.Parameter(torch.randn(4))]
    opt = torch.optim.AdamW(p, lr=1e-3, betas=(0.9, 0.99))
    for _ in range(2):
        (p[0].sum() + p[1].square().sum()).backward()
        opt.step()
    return {"optimizer": opt.state_dict(), "scaler": {"scale": 65536.0, "growth_factor": 2.0, "_growth_tracker": 3}}


def _same(a, b) -> None:
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    elif isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b)
        for k in a:
            _same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _same(x, y)
    else:
        assert a == b and type(a) is type(b)


def _save(tmp_path: Path, step: int = 3) -> Path:
    lora = {"w": torch.randn(2, 2)}
    return checkpoint.save(tmp_path, step, lora, _adamw_state(), {"fingerprint": "f"}, keep=2)


def test_optimizer_state_round_trips_without_pickle(tmp_path: Path) -> None:
    state = _adamw_state()
    folder = checkpoint.save(tmp_path, 3, {"w": torch.ones(2)}, state, {"fingerprint": "f"}, keep=2)
    assert not list(folder.glob("*.pt")) and not list(folder.glob("*.pkl"))
    _, opt, meta = checkpoint.load(folder)
    _same(state, opt)
    assert meta["step"] == 3
    # a fresh optimizer takes the loaded state
    p = [torch.nn.Parameter(torch.randn(3, 2)), torch.nn.Parameter(torch.randn(4))]
    torch.optim.AdamW(p, lr=1e-3).load_state_dict(opt["optimizer"])


def test_a_crafted_pickle_in_a_checkpoint_runs_nothing(tmp_path: Path) -> None:
    folder = _save(tmp_path)
    for f in folder.iterdir():
        if f.name.startswith("optimizer"):
            f.unlink()
    marker = tmp_path / "pwned"
    (folder / "optimizer.pt").write_bytes(pickle.dumps({"optimizer": _Payload(marker)}))
    with pytest.raises(InputError) as info:
        checkpoint.load(folder)
    assert not marker.exists()
    msg = str(info.value)
    assert len(msg.splitlines()) == 1 and str(folder) in msg


def test_an_old_checkpoint_with_plain_tensors_is_migrated_safely(tmp_path: Path) -> None:
    folder = _save(tmp_path)
    for f in folder.iterdir():
        if f.name.startswith("optimizer"):
            f.unlink()
    state = _adamw_state()
    torch.save(state, folder / "optimizer.pt")  # the layout of checkpoints written before the fix
    _, opt, _ = checkpoint.load(folder)
    _same(state, opt)


@pytest.mark.parametrize("damage", ["truncate_lora", "truncate_state", "truncate_optimizer", "delete_optimizer",
                                    "garbage_json"])
def test_a_damaged_checkpoint_is_one_line(tmp_path: Path, damage: str) -> None:
    folder = _save(tmp_path)
    files = {f.name: f for f in folder.iterdir()}
    if damage == "truncate_lora":
        data = files["lora.safetensors"].read_bytes()
        files["lora.safetensors"].write_bytes(data[: len(data) // 2])
    elif damage == "truncate_state":
        files["state.json"].write_text('{"fingerprint": "f", "st')
    elif damage == "truncate_optimizer":
        f = next(f for n, f in files.items() if n.startswith("optimizer") and n.endswith(".safetensors"))
        f.write_bytes(f.read_bytes()[:40])
    elif damage == "delete_optimizer":
        for n, f in files.items():
            if n.startswith("optimizer"):
                f.unlink()
    elif damage == "garbage_json":
        f = next(f for n, f in files.items() if n.startswith("optimizer") and n.endswith(".json"))
        f.write_text(json.dumps({"unexpected": [1, 2]}))
    with pytest.raises(InputError) as info:
        checkpoint.find_resumable(tmp_path, "f") and checkpoint.load(folder)
    msg = str(info.value)
    assert len(msg.splitlines()) == 1 and str(folder) in msg and "delete" in msg


UNSAFE = "weights_only=" + "False"  # spelled apart so that a grep of the project finds nothing, this included


def test_no_code_path_unpickles() -> None:
    """Every torch.load says weights_only=True (the default only since torch 2.6; we allow 2.2)."""
    root = Path(__file__).resolve().parents[2]
    hits = []
    for d in ("lipe_engine", "lipe_desktop", "scripts", "benchmarks"):
        for p in (root / d).rglob("*.py"):
            for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), start=1):
                if UNSAFE in line or ("torch.load(" in line and "weights_only=True" not in line):
                    hits.append(f"{p.relative_to(root)}:{n}")
    assert hits == []


# --- through `lipe train`: a crafted or damaged checkpoint in the output folder one resumes from ------


@pytest.fixture()
def trained(tmp_path: Path, monkeypatch, tiny_sdxl_dir: Path, one_torch_thread):
    from lipe_engine.library import Library
    from lipe_engine.testing.libraries import make_library

    for var in ("LIPE_LLAVA_GGUF", "LIPE_LLAVA_MMPROJ", "LIPE_LLM_GGUF", "LIPE_SDXL_MODEL"):
        monkeypatch.delenv(var, raising=False)
    data, folder = make_library(tmp_path, 3)
    with Library.open(data) as lib:
        lib.set_setting("sdxl_model", str(tiny_sdxl_dir))
        lib.add_identity_photos(lib.create_identity("Rex", "dog"), lib.list_photos())
    out = tmp_path / "prior"
    argv = ["train", "Rex", "--steps", "2", "--resolution", "32", "--rank", "4", "--checkpoint-every", "1",
            "--class-images", "0", "--no-caption", "--output", str(out), "--quiet", "--data-dir", str(data)]
    from lipe_engine.cli import main

    assert main(argv) == 0
    return argv, out, sorted(folder.iterdir())


@pytest.mark.slow
@pytest.mark.parametrize("attack", ["pickle", "truncated"])
def test_lipe_train_resuming_a_crafted_or_damaged_checkpoint_is_one_line(trained, capsys, tmp_path, attack):
    from hostile_helpers import hashes, one_line_error, run_cli

    argv, out, photos = trained
    before = hashes(photos)
    newest = checkpoint.list_checkpoints(out)[-1]
    marker = tmp_path / "pwned"
    if attack == "pickle":
        for f in newest.iterdir():
            if f.name.startswith("optimizer"):
                f.unlink()
        (newest / "optimizer.pt").write_bytes(pickle.dumps({"optimizer": _Payload(marker)}))
    else:
        data = (newest / "lora.safetensors").read_bytes()
        (newest / "lora.safetensors").write_bytes(data[: len(data) // 3])
    rc, _, err = run_cli(capsys, *argv)
    assert rc == 2
    one_line_error(err, str(newest), "delete that checkpoint folder")
    assert not marker.exists()
    assert hashes(photos) == before
