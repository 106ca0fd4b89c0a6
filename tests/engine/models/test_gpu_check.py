"""scripts/gpu_check.py: its CPU dry run (every phase on the tiny model), and how it makes carried
wheels importable on a machine that lacks them."""

from __future__ import annotations

import importlib
import json
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "scripts"))
gpu_check = importlib.import_module("gpu_check")


@pytest.mark.usefixtures("one_torch_thread")
def test_dry_run_measures_every_phase_and_writes_json_and_table(tmp_path):
    assert gpu_check.main(["--dry-run", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    phases = {r["phase"].split(",")[0]: r for r in report["phases"]}
    nima, peer = phases["NIMA edit"], phases["LEDITS++ (diffusers)"]
    assert nima["finite"] and nima["unet_rows"] < peer["unet_rows"] and nima["peak_gib"] > 0
    assert report["nima_over_ledits"] > 0 and report["dry_run"] and report["steps"] == 4
    batch = phases["output-batch estimate vs what fits"]
    assert batch["batch_estimated"] >= 1 and batch["batch_that_fits"] >= 1 and batch["measured_gib_per_output"] > 0
    trained = [r for r in report["phases"] if r["phase"].startswith("train step")]
    assert len(trained) == 4 and all(r["fits"] and r["loss"] == r["loss"] for r in trained)  # loss not NaN
    table = (tmp_path / "gpu_check.md").read_text()
    assert "| NIMA edit, 64 px, 4 steps |" in table and "budget 12 GiB: fits" in table


def _wheel(folder: Path, name: str, tag: str) -> Path:
    path = folder / f"{name}-1.0-{tag}.whl"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{name}/__init__.py", "VALUE = 42\n")
        zf.writestr(f"{name}-1.0.dist-info/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    return path


def test_carried_wheels_are_unpacked_only_where_missing_and_compatible(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "path", list(sys.path))
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    ours = f"cp{sys.version_info.major}{sys.version_info.minor}"
    good = _wheel(wheels, "lipe_carried_pkg", "py3-none-any")
    _wheel(wheels, "lipe_other_python", "cp27-cp27mu-manylinux1_x86_64")  # another Python: left alone
    assert gpu_check._compatible(good) and gpu_check._compatible(Path(f"x-1-{ours}-{ours}-manylinux_2_17_x86_64.whl"))
    assert gpu_check._compatible(Path("x-1-cp38-abi3-manylinux2014_x86_64.whl"))  # stable ABI, older build
    assert not gpu_check._compatible(Path("x-1-cp38-abi3-macosx_11_0_arm64.whl"))
    site = tmp_path / "site"
    done = gpu_check.install_carried_wheels(wheels, site, modules=("lipe_carried_pkg",))
    assert done == [good.name] and importlib.import_module("lipe_carried_pkg").VALUE == 42
    assert not (site / "lipe_other_python").exists()
    assert gpu_check.install_carried_wheels(wheels, site, modules=("lipe_carried_pkg",)) == []  # importable now


def test_missing_wheels_say_how_to_get_them(tmp_path):
    with pytest.raises(SystemExit, match="make gpu-wheels"):
        gpu_check.install_carried_wheels(tmp_path / "absent", tmp_path / "site", modules=("lipe_never_there",))


def test_carried_set_is_locked_and_leaves_torch_to_the_machine():
    pins = gpu_check.locked_versions()
    closure = gpu_check.dependency_closure()
    assert {"diffusers", "transformers", "peft", "accelerate", "safetensors", "huggingface-hub"} <= set(closure)
    assert "torch" not in closure and not any(n.startswith("nvidia") for n in closure)
    assert all(n in pins for n in closure)  # every carried wheel has its locked version
