"""A non-editable install carries the shipped resources: the wheel has them, an installed copy finds them.

The slow test is the real thing: ``pip wheel .``, a fresh venv, ``pip install`` of the wheel (torch
from ``pip install torch==2.13.0``, the rest constrained by requirements-lock.txt when the checkout
has one), then ``lipe demo`` from that venv, outside the checkout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ("icons/lipe-desktop.svg", "toy_model/model_index.json", "toy_model/unet/config.json",
           "toy_model/unet/diffusion_pytorch_model.safetensors", "toy_model/lipe_edit_defaults.json")


def _source_copy(dest: Path) -> Path:
    """The project without build leftovers (a stale build/ would leak into the wheel)."""
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "build", "dist", "*.egg-info", ".git")
    for name in ("lipe_engine", "lipe_desktop", "resources"):
        shutil.copytree(ROOT / name, dest / name, ignore=skip)
    for name in ("setup.py", "pyproject.toml", "README.md"):
        if (ROOT / name).is_file():
            shutil.copy2(ROOT / name, dest / name)
    return dest


def _build_wheel(tmp: Path) -> Path:
    src = _source_copy(tmp / "src")
    out = tmp / "wheels"
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--no-build-isolation",
                        "-q", "-w", str(out)], cwd=src, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    (wheel,) = out.glob("lipe_desktop-*.whl")
    return wheel


def test_resources_are_found_in_the_checkout() -> None:
    from lipe_engine import toyworld
    from lipe_engine.resources import resource_path, resources_dir

    assert resources_dir() == ROOT / "resources"
    assert resource_path("toy_model") == toyworld.TOY_MODEL_DIR
    for rel in SHIPPED:
        assert resource_path(*rel.split("/")).is_file(), rel


def test_no_module_builds_its_own_path_to_resources() -> None:
    """Every caller goes through lipe_engine.resources (one place, works installed too)."""
    offenders = []
    for folder in ("lipe_engine", "lipe_desktop"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.name == "resources.py":
                continue
            text = path.read_text(encoding="utf-8")
            if '/ "resources"' in text or "'resources'" in text or '"resources" /' in text:
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


@pytest.mark.slow
def test_wheel_carries_code_and_resources(tmp_path: Path) -> None:
    wheel = _build_wheel(tmp_path)
    names = set(zipfile.ZipFile(wheel).namelist())
    for rel in SHIPPED:
        assert f"lipe_engine/_resources/{rel}" in names, rel
    for module in ("lipe_engine/cli/__init__.py", "lipe_engine/evaluation/runner.py",
                   "lipe_desktop/album/page.py", "lipe_engine/resources.py"):
        assert module in names
    assert not any(n.startswith(("resources/", "tests/")) for n in names)  # nothing at the top level


@pytest.mark.slow
def test_wheel_installs_in_a_fresh_venv_and_the_demo_runs(tmp_path: Path) -> None:
    wheel = _build_wheel(tmp_path)
    venv = tmp_path / "venv"
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", str(venv)], check=True, timeout=300)
    py = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env.update(OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", LIPE_DATA_DIR=str(tmp_path / "data"),
               LIPE_CACHE_DIR=str(tmp_path / "cache"), LIPE_LOG_DIR=str(tmp_path / "logs"))
    lock = ROOT / "requirements-lock.txt"
    pins = ["-c", str(lock)] if lock.is_file() else ["transformers==5.23.0"]

    def pip(*args: str) -> None:
        r = subprocess.run([str(py), "-m", "pip", "install", "-q", *args], capture_output=True, text=True,
                           env=env, timeout=1800, cwd=tmp_path)
        assert r.returncode == 0, r.stderr[-3000:]

    pip("torch==2.13.0", *(pins if lock.is_file() else []))  # the local CPU wheel (PIP_FIND_LINKS)
    pip(str(wheel), *pins)
    where = subprocess.run(
        [str(py), "-c", "import lipe_engine, lipe_engine.resources as r; print(lipe_engine.__file__); "
                        "print(r.resource_path('toy_model', 'model_index.json'))"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300, check=True,
    ).stdout.split()
    assert all(str(venv) in w for w in where), where  # the installed copy, not this checkout
    assert Path(where[1]).is_file()
    out = tmp_path / "demo"
    r = subprocess.run([str(venv / "bin" / "lipe"), "demo", "--out", str(out), "--lora-steps", "20",
                        "--steps", "12", "--threads", "1"],
                       capture_output=True, text=True, env=env, cwd=tmp_path, timeout=1800)
    assert r.returncode == 0, r.stderr[-3000:]
    assert (out / "report.json").is_file()
    assert str(ROOT) not in r.stdout + r.stderr  # nothing was read from the checkout
