"""The Linux installer, run for real: a fresh prefix, CPU torch, the app, launchers, desktop entry.

CI-sized: pip reuses the machine's wheel cache and skips byte-compiling (``--no-compile``); the
script itself is the one users run. The torch build is chosen by the script's own detection, which
is checked separately with a fake ``nvidia-smi`` in dry-run mode (no GPU needed).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
INSTALL = REPO / "installers" / "linux" / "install.sh"
UNINSTALL = REPO / "installers" / "linux" / "uninstall.sh"

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux installer")


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIPE_", "VIRTUAL_ENV", "XDG_"))}
    # The real user's pip cache: wheels downloaded once are reused (a fresh HOME would re-download).
    cache = os.environ.get("PIP_CACHE_DIR") or str(Path.home() / ".cache" / "pip")
    env.update(HOME=str(home), PIP_CACHE_DIR=cache, QT_QPA_PLATFORM="offscreen", **extra)
    # Drop this test run's venv from PATH so the installer picks a system python, as a user's would.
    venv_bin = str(Path(sys.prefix) / "bin")
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != venv_bin)
    return env


def _run(cmd: list[str], env: dict[str, str], timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)


# ------------------------------------------------------------------ torch detection (dry run)


def _fake_nvidia_smi(bin_dir: Path, cuda: str | None, works: bool = True) -> None:
    bin_dir.mkdir(parents=True, exist_ok=True)
    header = f"| NVIDIA-SMI 570.86   Driver Version: 570.86   CUDA Version: {cuda}     |" if cuda else "| NVIDIA-SMI |"
    script = bin_dir / "nvidia-smi"
    body = f'echo "{header}"; echo "GPU 0: NVIDIA Fake (UUID: GPU-0)"' if works else 'echo "NVIDIA-SMI has failed" >&2; exit 9'
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)


def _plan(tmp_path: Path, fake: tuple[str | None, bool] | None, *args: str, **env_extra: str):
    env = _env(tmp_path, **env_extra)
    if fake is not None:
        fake_bin = tmp_path / "fakebin"
        _fake_nvidia_smi(fake_bin, *fake)
        env["PATH"] = f"{fake_bin}{os.pathsep}{env['PATH']}"
    else:  # hide a real nvidia-smi so the test means the same on a GPU machine
        env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if not (Path(p) / "nvidia-smi").exists())
    return _run(["bash", str(INSTALL), "--dry-run", "--prefix", str(tmp_path / "p"), *args], env, timeout=60)


def test_dry_run_picks_cpu_without_driver(tmp_path: Path) -> None:
    r = _plan(tmp_path, None)
    assert r.returncode == 0, r.stderr
    assert "mode=cpu" in r.stdout and "index=https://download.pytorch.org/whl/cpu" in r.stdout
    assert not (tmp_path / "p").exists(), "a dry run must not create the prefix"


@pytest.mark.parametrize(("cuda", "tag"), [("13.0", "cu130"), ("12.9", "cu128"), ("12.6", "cu126")])
def test_dry_run_picks_cuda_build_the_driver_can_run(tmp_path: Path, cuda: str, tag: str) -> None:
    r = _plan(tmp_path, (cuda, True))
    assert r.returncode == 0, r.stderr
    assert f"mode=cuda spec=torch==2.13.0 cuda_tag={tag} index=https://download.pytorch.org/whl/{tag}" in r.stdout


def test_dry_run_overrides_and_errors(tmp_path: Path) -> None:
    forced = _plan(tmp_path, ("12.8", True), "--torch", "cpu")
    assert "mode=cpu" in forced.stdout, forced.stdout
    by_env = _plan(tmp_path, None, LIPE_TORCH="cuda", LIPE_CUDA_TAG="cu126")
    assert "index=https://download.pytorch.org/whl/cu126" in by_env.stdout, by_env.stdout
    broken_driver = _plan(tmp_path, ("12.8", False))
    assert "mode=cpu" in broken_driver.stdout, "nvidia-smi that fails means no usable driver"
    old = _plan(tmp_path, ("11.8", True))
    assert old.returncode != 0 and "older than 12.6" in old.stderr
    bad = _plan(tmp_path, None, "--torch", "rocm")
    assert bad.returncode != 0 and "not one of auto, cpu, cuda, skip" in bad.stderr


# ------------------------------------------------------------------ the real install


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("installer")
    home, prefix = root / "home", root / "prefix"
    home.mkdir()
    env = _env(home, LIPE_TORCH="cpu", LIPE_PIP_ARGS="--no-compile", LIPE_DATA_DIR=str(root / "data"))
    # The pinned CPU wheel comes from pip's own configuration on this machine; elsewhere the default
    # index (download.pytorch.org/whl/cpu) is used unless LIPE_TORCH_INDEX says otherwise.
    env["LIPE_TORCH_INDEX"] = os.environ.get("LIPE_TORCH_INDEX", "pip")
    t0 = time.monotonic()
    r = _run(["bash", str(INSTALL), "--prefix", str(prefix)], env)
    seconds = time.monotonic() - t0
    assert r.returncode == 0, f"install failed ({seconds:.0f}s):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    size = subprocess.run(["du", "-sm", str(prefix)], capture_output=True, text=True).stdout.split()[:1]
    print(f"fresh install: {seconds:.0f}s, prefix {size[0] if size else '?'} MB")
    return {"root": root, "home": home, "prefix": prefix, "env": env, "log": r.stdout}


def test_install_creates_venv_with_cpu_torch_and_lipe(installed) -> None:
    venv = installed["prefix"] / "venv"
    r = _run([str(venv / "bin" / "python"), "-c", "import torch; print(torch.__version__, torch.version.cuda)"],
             installed["env"], timeout=120)
    assert r.returncode == 0, r.stderr
    version, cuda = r.stdout.split()
    assert version.startswith("2.13.0") and cuda == "None", r.stdout
    assert f"torch {version} (cpu build)" in installed["log"], installed["log"][-500:]
    # Through the launcher link, as a user would type it.
    link = installed["home"] / ".local" / "bin" / "lipe"
    assert link.is_symlink() and link.resolve() == (venv / "bin" / "lipe").resolve()
    r = _run([str(link), "--version"], installed["env"], timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "lipe 0.1.0", (r.stdout, r.stderr)


def test_install_has_exactly_the_locked_versions(installed) -> None:
    """Every package the installed venv holds that the lock names is at the locked version, with the
    desktop and captioning extras (llama-cpp-python) installed by default."""
    from lipe_engine.doctor import LOCK_NAME, base_version, canonical, read_lock

    pins = read_lock(REPO / LOCK_NAME)
    venv_py = installed["prefix"] / "venv" / "bin" / "python"
    r = _run([str(venv_py), "-m", "pip", "list", "--format=json"], installed["env"], timeout=120)
    assert r.returncode == 0, r.stderr
    have = {canonical(d["name"]): d["version"] for d in json.loads(r.stdout)}
    assert {"torch", "diffusers", "transformers", "peft", "pyside6-essentials", "llama-cpp-python"} <= set(have)
    wrong = {n: (v, pins[n]) for n, v in have.items() if n in pins and base_version(v) != base_version(pins[n])}
    assert not wrong, f"not the locked versions: {wrong}"


def test_desktop_smoke_starts_offscreen(installed) -> None:
    app_py = REPO / "lipe_desktop" / "app.py"
    if not app_py.is_file() or "--smoke" not in app_py.read_text(encoding="utf-8"):
        pytest.skip("lipe_desktop/app.py has no --smoke yet")
    exe = installed["home"] / ".local" / "bin" / "lipe-desktop"
    env = dict(installed["env"], LIPE_NO_FIRST_RUN="1")
    r = _run([str(exe), "--smoke"], env, timeout=300)
    assert r.returncode == 0, f"lipe-desktop --smoke exited {r.returncode}:\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}"


def test_desktop_entry_and_icon(installed) -> None:
    data = installed["home"] / ".local" / "share"
    entry = data / "applications" / "lipe-desktop.desktop"
    lines = dict(line.split("=", 1) for line in entry.read_text().splitlines() if "=" in line)
    assert lines["Type"] == "Application" and lines["Name"] == "LIPE Desktop"
    assert lines["Exec"] == f'"{installed["prefix"] / "venv" / "bin" / "lipe-desktop"}" %F'
    assert Path(lines["TryExec"]).is_file() and os.access(lines["TryExec"], os.X_OK)
    icon = Path(lines["Icon"])
    assert icon.is_file() and ET.parse(icon).getroot().tag.endswith("svg")
    if shutil.which("desktop-file-validate"):
        r = subprocess.run(["desktop-file-validate", str(entry)], capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr


def test_second_run_reuses_everything_then_uninstall(installed) -> None:
    env, prefix, home = installed["env"], installed["prefix"], installed["home"]
    torch_dir = next((prefix / "venv" / "lib").glob("python3*/site-packages/torch"))
    stamp = torch_dir.stat().st_mtime_ns
    r = _run(["bash", str(INSTALL), "--prefix", str(prefix)], env)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "reusing venv" in r.stdout and "torch already installed" in r.stdout
    assert "already installed from" in r.stdout, "an unchanged editable app needs no pip run"
    assert torch_dir.stat().st_mtime_ns == stamp, "a re-run must not reinstall torch"

    # Something of the user's in the data dir and a foreign launcher: both must survive.
    data_dir = Path(env["LIPE_DATA_DIR"])
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "library.db").write_text("user data")
    r = _run(["bash", str(UNINSTALL), "--prefix", str(prefix)], dict(env), timeout=60)
    assert r.returncode != 0 and "--yes" in r.stderr, "without a terminal it must ask for --yes"
    r = _run(["bash", str(UNINSTALL), "--prefix", str(prefix), "--yes"], env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert not prefix.exists()
    assert not (home / ".local" / "bin" / "lipe").exists()
    assert not (home / ".local" / "share" / "applications" / "lipe-desktop.desktop").exists()
    assert (data_dir / "library.db").read_text() == "user data"
    r = _run(["bash", str(UNINSTALL), "--prefix", str(home), "--yes"], env, timeout=60)
    assert r.returncode != 0 and "not made by install.sh" in r.stderr
    assert home.is_dir()
