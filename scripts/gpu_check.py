"""The GPU check in one command, for a lent accelerator that has nothing but Python and PyTorch.

Here (a machine that reaches the package registry), once:

    make gpu-wheels          # = python scripts/gpu_check.py --download-wheels

puts the locked wheels of what the check needs besides torch (diffusers, transformers, peft,
accelerate, safetensors, huggingface-hub and their own dependencies, versions from
requirements-lock.txt) into ``gpu-wheels/`` (git-ignored; carried with the working tree). On the
GPU machine, one command:

    sh scripts/gpu_check.sh              # = python scripts/gpu_check.py --out "${OUT:-gpu-check}"

installs those wheels into ``.gpu-site/`` (no index, no network; nothing is installed into the
machine's own Python) unless they are already importable, then, within ``--budget`` seconds (480),
measures on the full-size random SDXL (SDXL base's exact architecture, lipe_engine.models.
sdxl_architecture) in bf16 with the VAE in fp32:

1. NIMA at 1024 px, 100 steps (skip 10): seconds, UNet calls and latent rows, peak memory;
2. diffusers' LEDITS++ pipeline on the same photo, prompts and steps: the same figures, and the ratio;
3. one LoRA training step per memory preset (12gb ... 40gb) at 1024 px: peak memory against the
   preset's budget ("fits");
4. the edit's output-batch estimate (nima/batching.py) against what fits: the memory a sampled
   output really adds (peak of a 2-step edit with 1 and with 2 outputs) and the batch that memory
   allows, beside the estimate's.

It writes ``gpu_check.json`` and ``gpu_check.md`` (a markdown table) into ``--out``. A phase that
would start after the budget is spent is recorded as skipped. ``--dry-run`` runs every phase on the
CPU with the tests' tiny model at 64 px and 4 steps (the default tests run it).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
WHEELS = ROOT / "gpu-wheels"
SITE = ROOT / ".gpu-site"
# What the check imports besides torch; their dependencies are followed from the installed metadata.
TOP_LEVEL = ("diffusers", "transformers", "peft", "accelerate", "safetensors", "huggingface-hub", "numpy",
             "pillow", "psutil", "sqlite-utils")  # sqlite-utils: importing lipe_engine imports its library store
# Left out: torch and what only torch needs (the machine's PyTorch brings them); bitsandbytes, whose
# wheel alone is larger than what a run can carry (the 12gb/16gb presets then use AdamW, which the
# JSON says); and what huggingface-hub's command line and downloads need but the check never imports
# (a dry run's sys.modules: typer, rich, pydantic, hf-xet...). A run carries at most 64 MiB.
NOT_CARRIED = re.compile(r"^(torch|triton|nvidia-.*|sympy|mpmath|networkx|jinja2|markupsafe|setuptools|"
                         r"bitsandbytes|cuda-.*|typer|rich|pygments|click|pydantic|pydantic-core|hf-xet|"
                         r"lazy-importer|markdown-it-py|mdurl|shellingham|annotated-doc|annotated-types|"
                         r"typing-inspection|zipp|importlib-metadata)$")
GIB = 2**30


def locked_versions(lock: Path = ROOT / "requirements-lock.txt") -> dict[str, str]:
    pins = {}
    for line in lock.read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
        if m:
            pins[canonical(m.group(1))] = m.group(2)
    return pins


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def dependency_closure(roots: tuple[str, ...] = TOP_LEVEL) -> list[str]:
    """The roots and every distribution they require (no extras, markers of this Python), from the
    installed metadata, less what comes with PyTorch."""
    seen: set[str] = set()
    todo = [canonical(r) for r in roots]
    while todo:
        name = todo.pop()
        if name in seen or NOT_CARRIED.match(name):
            continue
        seen.add(name)
        try:
            requires = importlib.metadata.requires(name) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        for req in requires:
            if "extra ==" in req:
                continue
            marker = req.split(";", 1)[1] if ";" in req else ""
            if marker and not _marker_holds(marker):
                continue
            todo.append(canonical(re.split(r"[\s<>=!~\[;(]", req, maxsplit=1)[0]))
    return sorted(seen)


def _marker_holds(marker: str) -> bool:
    try:
        from packaging.markers import Marker

        return bool(Marker(marker).evaluate())
    except Exception:  # noqa: BLE001 - an unreadable marker: carry the package rather than miss it
        return True


def download_wheels(dest: Path, python_versions: list[str]) -> list[Path]:
    """``pip download`` the locked wheel of every package of the closure for each Python version
    (manylinux x86_64; pure-Python wheels once)."""
    pins = locked_versions()
    names = dependency_closure()
    dest.mkdir(parents=True, exist_ok=True)
    wanted = [f"{n}=={pins[n]}" for n in names if n in pins]
    (dest / "requirements.txt").write_text("\n".join(wanted) + "\n")
    for version in python_versions:
        subprocess.check_call([
            sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--dest", str(dest),
            "--python-version", version, "--implementation", "cp", "--platform", "manylinux2014_x86_64",
            "--platform", "manylinux_2_28_x86_64", "--platform", "manylinux_2_17_x86_64", *wanted])
    files = sorted(dest.glob("*.whl"))
    total = sum(f.stat().st_size for f in files) / 2**20
    print(f"{len(files)} wheels, {total:.0f} MiB in {dest} (a run carries at most 64 MiB)")
    return files


NEEDED_MODULES = ("diffusers", "transformers", "peft", "accelerate", "safetensors", "huggingface_hub")


def missing_modules(modules: tuple[str, ...] = NEEDED_MODULES) -> dict[str, str]:
    """Each module that cannot be imported, with why."""
    out = {}
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            out[module] = str(exc)
    return out


def _installed(name: str) -> bool:
    try:
        importlib.metadata.version(name)
        return True
    except importlib.metadata.PackageNotFoundError:
        return False


def _compatible(wheel: Path) -> bool:
    """A wheel this Python can use: pure Python, built for this CPython, or stable-ABI (abi3) built for
    this one or an older CPython; Linux x86_64."""
    python, abi, platform = wheel.name[:-4].split("-")[-3:]
    ours = (sys.version_info.major, sys.version_info.minor)
    if platform == "any":
        return any(tag in ("py3", f"cp{ours[0]}{ours[1]}") for tag in python.split("."))
    if "x86_64" not in platform or "linux" not in platform:
        return False
    for tag in python.split("."):
        m = re.fullmatch(r"cp(\d)(\d+)", tag)
        if m and (int(m.group(1)), int(m.group(2))) == ours and abi in (tag, "none", "abi3"):
            return True
        if m and abi == "abi3" and (int(m.group(1)), int(m.group(2))) <= ours:
            return True
    return False


def install_carried_wheels(wheels: Path = WHEELS, site: Path = SITE,
                           modules: tuple[str, ...] = NEEDED_MODULES) -> list[str]:
    """Make the carried packages importable: unpack each compatible wheel of a package this Python
    lacks into ``site`` (what an installer does for these wheels; no pip, index or network needed)
    and put it first on sys.path. Returns the unpacked wheels (none when ``modules`` import already)."""
    if not missing_modules(modules):
        return []
    if not wheels.is_dir():
        raise SystemExit(f"{', '.join(missing_modules(modules))} missing and no {wheels.name}/ folder: run "
                         "`make gpu-wheels` where the package registry is reachable and carry gpu-wheels")
    chosen: dict[str, Path] = {}
    for wheel in sorted(wheels.glob("*.whl")):
        name = canonical(wheel.name.split("-")[0])
        if _compatible(wheel) and not _installed(name):  # the machine's own numpy, pillow... stay
            chosen.setdefault(name, wheel)
    site.mkdir(parents=True, exist_ok=True)
    for wheel in chosen.values():
        with zipfile.ZipFile(wheel) as zf:
            zf.extractall(site)
    sys.path.insert(0, str(site))
    importlib.invalidate_caches()
    still = missing_modules(modules)
    if still:
        why = "; ".join(f"{m}: {e}" for m, e in still.items())
        raise SystemExit(f"still not importable after unpacking {wheels.name}/ for Python "
                         f"{sys.version_info.major}.{sys.version_info.minor} ({why}): download wheels for "
                         f"this Python (make gpu-wheels PYTHONS={sys.version_info.major}.{sys.version_info.minor})")
    return [w.name for w in chosen.values()]


# --- measurements --------------------------------------------------------------------------------


def measure(args: argparse.Namespace) -> dict[str, Any]:
    import numpy as np
    import torch

    sys.path.insert(0, str(ROOT))
    from benchmarks.sdxl_scale import PeakMemory, bench_training, photo
    from lipe_engine.baselines.ledits import LeditsParams, ledits_edit
    from lipe_engine.devices import pick_device
    from lipe_engine.nima import EditParams, edit_image
    from lipe_engine.nima.batching import MEMORY_FRACTION, edit_batch_size, free_memory_bytes, output_bytes
    from lipe_engine.training import PRESETS

    t_start = time.perf_counter()
    device = pick_device("cpu" if args.dry_run else args.device)
    dtype = torch.bfloat16
    size, steps = (64, 4) if args.dry_run else (args.size, args.steps)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({os.cpu_count()} cores)"
    report: dict[str, Any] = {"device": name, "torch": torch.__version__, "dry_run": args.dry_run,
                              "size": size, "steps": steps, "dtype": "bf16 (VAE fp32)",
                              "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "phases": []}
    mem = PeakMemory(device)

    def left() -> float:
        return args.budget - (time.perf_counter() - t_start)

    def phase(title: str, fn: Any) -> None:
        if left() <= 0:
            report["phases"].append({"phase": title, "skipped": "time budget spent"})
            return
        mem.reset()
        t0 = time.perf_counter()
        row = {"phase": title, **fn()}
        row.setdefault("seconds", time.perf_counter() - t0)
        report["phases"].append(row)
        print(json.dumps(row, default=str), flush=True)

    mem.reset()
    t0 = time.perf_counter()
    if args.dry_run:
        from lipe_engine.models.loader import load_sdxl
        from lipe_engine.models.tiny import build_tiny_sdxl

        model = load_sdxl(build_tiny_sdxl(Path(tempfile.mkdtemp(prefix="lipe_tiny_")) / "model"),
                          device="cpu", dtype=dtype)
    else:
        from lipe_engine.models.sdxl_architecture import build_random_sdxl

        model = build_random_sdxl(str(device), dtype)
    report["phases"].append({"phase": "build model", "seconds": time.perf_counter() - t0,
                             "peak_gib": mem.peak_bytes() / GIB})
    image = photo(size, 0)
    source, target, identity = "a photo of a sks dog sitting", "a photo of a sks dog standing", "a sks dog"
    skip = max(1, steps // 10)
    params = EditParams(steps=steps, skip=skip)

    def nima() -> dict[str, Any]:
        res = edit_image(model, image, source, [target], identity, params)
        ok = bool(np.isfinite(np.asarray(res.images[0], dtype=np.float32)).all())
        return {"unet_calls": int(res.stats["unet_calls"]), "unet_rows": int(res.stats["unet_rows"]),
                "peak_gib": mem.peak_bytes() / GIB, "finite": ok}

    def ledits() -> dict[str, Any]:
        calls = {"n": 0, "rows": 0}

        def hook(_m: Any, a: tuple, kw: dict) -> None:
            calls["n"] += 1
            calls["rows"] += int((a[0] if a else kw["sample"]).shape[0])

        handle = model.pipe.unet.register_forward_pre_hook(hook, with_kwargs=True)
        try:
            ledits_edit(model, image, source, [target], LeditsParams(steps=steps, skip=skip))
        finally:
            handle.remove()
        return {"unet_calls": calls["n"], "unet_rows": calls["rows"], "peak_gib": mem.peak_bytes() / GIB}

    # Untimed warm-up (CUDA context, cuDNN/cuBLAS heuristics, allocator): otherwise the first timed
    # phase, NIMA, pays them and the NIMA / LEDITS++ ratio is biased against it.
    t0 = time.perf_counter()
    edit_image(model, image, source, [target], identity, EditParams(steps=2, skip=0, seeds=(None,)))
    report["phases"].append({"phase": "warm-up (2-step edit, untimed)", "seconds": time.perf_counter() - t0})
    phase(f"NIMA edit, {size} px, {steps} steps", nima)
    phase(f"LEDITS++ (diffusers), {size} px, {steps} steps", ledits)
    nima_row, peer_row = report["phases"][2], report["phases"][3]
    if "seconds" in nima_row and "seconds" in peer_row:
        report["nima_over_ledits"] = nima_row["seconds"] / peer_row["seconds"]

    def batch_check() -> dict[str, Any]:
        short = EditParams(steps=2, skip=0, seeds=(None,))
        peaks = []
        for k in (1, 2):
            mem.reset()
            edit_image(model, image, source, [target] * k, identity, short, max_batch=k)
            peaks.append(mem.peak_bytes())
        per_output = max(1, peaks[1] - peaks[0])
        h = w = size // model.vae_scale_factor
        record = (h // 4, w // 4)
        estimate = output_bytes(model.pipe.unet, (h, w), record)
        free = free_memory_bytes(device) or 0
        return {"measured_gib_per_output": per_output / GIB, "estimated_gib_per_output": estimate / GIB,
                "estimate_over_measured": estimate / per_output,
                "batch_estimated": edit_batch_size(model.pipe.unet, device, (h, w), record, 64),
                "batch_that_fits": max(1, min(64, int(MEMORY_FRACTION * free) // per_output)),
                "free_gib": free / GIB}

    phase("output-batch estimate vs what fits", batch_check)
    with tempfile.TemporaryDirectory() as tmp:
        mixed = "bf16"
        for preset in PRESETS:
            phase(f"train step, preset {preset}, {args.train_size if not args.dry_run else size} px",
                  lambda p=preset: _train_row(bench_training(model, p, args.train_size if not args.dry_run else size,
                                                             mixed, mem, Path(tmp))))
    report["seconds_total"] = time.perf_counter() - t_start
    return report


def _train_row(row: dict[str, Any]) -> dict[str, Any]:
    row = dict(row)
    row.pop("phase", None)
    return row


def markdown(report: dict[str, Any]) -> str:
    lines = [f"GPU check on **{report['device']}** (torch {report['torch']}), measured {report['measured']}; "
             f"random SDXL-architecture weights, {report['dtype']}"
             + (" — CPU dry run with the tiny model, numbers mean nothing" if report["dry_run"] else ""),
             "", "| phase | seconds | peak memory (GiB) | notes |", "|---|---|---|---|"]
    for r in report["phases"]:
        if "skipped" in r:
            lines.append(f"| {r['phase']} | - | - | skipped: {r['skipped']} |")
            continue
        notes = []
        if "unet_calls" in r:
            notes.append(f"{r['unet_calls']} UNet calls, {r['unet_rows']} rows")
        if "budget_gib" in r:
            notes.append(f"budget {r['budget_gib']:.0f} GiB: {'fits' if r['fits'] else 'OVER BUDGET'}, "
                         f"optimizer {r.get('optimizer')}")
        if "batch_estimated" in r:
            notes.append(f"per output {r['measured_gib_per_output']:.2f} GiB measured vs "
                         f"{r['estimated_gib_per_output']:.2f} estimated; batch {r['batch_estimated']} estimated, "
                         f"{r['batch_that_fits']} fits")
        peak = f"{r['peak_gib']:.2f}" if "peak_gib" in r else ""
        lines.append(f"| {r['phase']} | {r.get('seconds', 0):.1f} | {peak} | {'; '.join(notes)} |")
    if "nima_over_ledits" in report:
        lines.append(f"\nNIMA / LEDITS++ wall time on this device: {report['nima_over_ledits']:.2f}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--download-wheels", action="store_true", help="fetch the carried wheels (here, not there)")
    ap.add_argument("--pythons", default=f"{sys.version_info.major}.{sys.version_info.minor}",
                    help="with --download-wheels: comma-separated Python versions of the GPU machine")
    ap.add_argument("--wheels", default=str(WHEELS))
    ap.add_argument("--out", default=os.environ.get("OUT") or "gpu-check", help="folder for the JSON and table")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--train-size", type=int, default=1024)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--budget", type=float, default=480.0, help="seconds; later phases are skipped past it")
    ap.add_argument("--dry-run", action="store_true", help="CPU, tiny model, 64 px, 4 steps (the tests)")
    args = ap.parse_args(argv)
    if args.download_wheels:
        download_wheels(Path(args.wheels), [v.strip() for v in args.pythons.split(",") if v.strip()])
        return 0
    installed = install_carried_wheels(Path(args.wheels))
    if installed:
        print(f"installed {len(installed)} carried wheels into {SITE}", flush=True)
    report = measure(args)
    report["installed_wheels"] = installed
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_check.json").write_text(json.dumps(report, indent=1, default=str))
    table = markdown(report)
    (out / "gpu_check.md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
