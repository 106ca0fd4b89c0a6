"""SDXL at real scale (random weights, SDXL base's exact architecture): time and peak memory.

Measures, on the device and precision given:
  1. one NIMA edit (inversion + edit, one target prompt): wall time, UNet evaluations, peak memory;
  2. one LoRA training step for each memory preset (training/config.py: 12gb, 16gb, 24gb, 40gb),
     with prior preservation (one reference photo + one class image per step): step time and peak
     memory against the preset's budget;
  3. class-image generation (one image): wall time and peak memory.
Peak memory is CUDA's ``max_memory_allocated`` on a GPU and the process's peak RSS (VmHWM, reset
before each phase through /proc/self/clear_refs) on a CPU; on a CPU it therefore also counts the
Python process itself, and a preset's budget is a GPU's, so there "fits" only says how the CPU
figure compares.

The weights are noise (lipe_engine/models/sdxl_architecture.py): the numbers are of cost, not of
quality. On a GPU: ``--device cuda`` (1024 px, 100 steps by default). On a CPU: 512 px, 2 steps by
default, bf16 weights (fp32 SDXL needs ~14 GB; the VAE stays fp32 as everywhere).

    python benchmarks/sdxl_scale.py --device cpu --size 512 --steps 2
    python benchmarks/sdxl_scale.py --device cuda            # 1024 px, 100 steps
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from lipe_engine.devices import pick_device, pick_dtype  # noqa: E402
from lipe_engine.models.sdxl_architecture import build_random_sdxl  # noqa: E402
from lipe_engine.nima import EditParams, edit_image  # noqa: E402
from lipe_engine.training import PRESETS, config_from_preset, train_identity_lora  # noqa: E402
from lipe_engine.training.class_images import render_class_images  # noqa: E402

GIB = 2**30


class PeakMemory:
    """Peak memory of one phase: CUDA allocator peak, or the process's peak RSS on a CPU."""

    def __init__(self, device: torch.device) -> None:
        self.device = device

    def reset(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(self.device)
            return
        with contextlib.suppress(OSError):
            Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS

    def peak_bytes(self) -> int:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            return int(torch.cuda.max_memory_allocated(self.device))
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        import resource

        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def photo(size: int, seed: int) -> Image.Image:
    rng = np.random.RandomState(seed)
    arr = (rng.rand(max(1, size // 16), max(1, size // 16), 3) * 255).astype(np.uint8)
    return Image.fromarray(arr).resize((size, size), Image.Resampling.BICUBIC)


def bench_edit(model, size: int, steps: int, mem: PeakMemory) -> dict:
    params = EditParams(steps=steps, skip=min(10, steps // 10), seeds=(None,))
    mem.reset()
    t0 = time.perf_counter()
    res = edit_image(model, photo(size, 0), "a photo of a sks dog sitting", ["a photo of a sks dog standing"],
                     "a sks dog", params)
    wall = time.perf_counter() - t0
    finite = bool(np.isfinite(np.asarray(res.images[0], dtype=np.float32)).all())
    return {"phase": "NIMA edit", "seconds": wall, "unet_calls": int(res.stats["unet_calls"]),
            "unet_rows": int(res.stats["unet_rows"]),
            "inversion_s": res.stats["inversion_s"], "edit_s": res.stats["edit_s"],
            "peak_gib": mem.peak_bytes() / GIB, "finite": finite}


def bench_training(model, preset: str, size: int, mixed: str, mem: PeakMemory, tmp: Path) -> dict:
    cfg = config_from_preset(preset, max_steps=1, resolution=size, mixed_precision=mixed,
                             device=str(model.device), checkpoint_every=1000)
    times: dict[str, float] = {}

    def progress(ev) -> None:
        if ev.stage.startswith("train"):
            times.setdefault("start" if ev.step == 0 else "step", time.perf_counter())

    instance = [(photo(size, 1), "a photo of a sks dog sitting on grass")]
    classes = [(photo(size, 2), "a photo of a dog running on a beach")]
    mem.reset()
    out = tmp / f"train_{preset}"
    train_identity_lora(model, instance, classes, out, cfg, progress=progress)
    peak = mem.peak_bytes()
    summary = json.loads((out / "training.json").read_text())
    budget = int(preset.rstrip("gb")) * GIB
    import shutil

    shutil.rmtree(out, ignore_errors=True)
    return {"phase": f"train step, preset {preset}", "seconds": times["step"] - times["start"],
            "peak_gib": peak / GIB, "budget_gib": budget / GIB, "fits": peak <= budget,
            "loss": summary["final_loss"], "optimizer": summary["optimizer_used"],
            "settings": PRESETS[preset].overrides}


def bench_class_images(model, size: int, steps: int, mem: PeakMemory, tmp: Path) -> dict:
    mem.reset()
    t0 = time.perf_counter()
    done = render_class_images(model, "dog", ["a photo of a dog in a park"], tmp / "class", resolution=size,
                               steps=steps)
    wall = time.perf_counter() - t0
    arr = np.asarray(Image.open(done[0][0]), dtype=np.float32)
    return {"phase": "class image", "seconds": wall, "peak_gib": mem.peak_bytes() / GIB,
            "finite": bool(np.isfinite(arr).all())}


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--dtype", default=None, help="fp32, fp16 or bf16 (default: bf16 on CPU, the device's on GPU)")
    ap.add_argument("--size", type=int, default=None, help="pixels (default 1024 on a GPU, 512 on a CPU)")
    ap.add_argument("--steps", type=int, default=None, help="edit / class-image steps (default 100 GPU, 2 CPU)")
    ap.add_argument("--presets", default=",".join(PRESETS), help="comma-separated; '' for none")
    ap.add_argument("--no-class-images", action="store_true")
    ap.add_argument("--no-edit", action="store_true")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--json", default=None, help="also write the rows to this file")
    ap.add_argument("--train-size", type=int, default=None, help="pixels for the training steps (default --size)")
    ap.add_argument("--architecture", choices=["sdxl", "tiny"], default="sdxl",
                    help="tiny: the tests' tiny model (checks the script in seconds; its memory means nothing)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    gpu = device.type != "cpu"
    dtype = pick_dtype(device, args.dtype or (None if gpu else "bf16"))
    size = args.size or (1024 if gpu else 512)
    steps = args.steps or (100 if gpu else 2)
    mixed = {torch.float32: "no", torch.bfloat16: "bf16", torch.float16: "fp16"}[dtype]
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({os.cpu_count()} cores)"
    train_size = args.train_size or size
    print(f"# {args.architecture}-architecture random weights on {name}: edit and class image {size} px, "
          f"{steps} steps; training {train_size} px; weights {dtype}, VAE fp32")

    mem = PeakMemory(device)
    mem.reset()
    t0 = time.perf_counter()
    if args.architecture == "tiny":
        from lipe_engine.models.loader import load_sdxl
        from lipe_engine.models.tiny import build_tiny_sdxl

        tiny_dir = tempfile.mkdtemp(prefix="lipe_tiny_")
        model = load_sdxl(build_tiny_sdxl(Path(tiny_dir) / "model"), device=str(device), dtype=dtype)
    else:
        model = build_random_sdxl(str(device), dtype)
    rows = [{"phase": "build model", "seconds": time.perf_counter() - t0, "peak_gib": mem.peak_bytes() / GIB}]
    print(f"built in {rows[0]['seconds']:.0f} s", flush=True)
    if not args.no_edit:
        rows.append(bench_edit(model, size, steps, mem))
        print(rows[-1], flush=True)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for preset in [p for p in args.presets.split(",") if p]:
            rows.append(bench_training(model, preset, args.train_size or size, mixed, mem, tmp))
            print(rows[-1], flush=True)
        if not args.no_class_images:
            rows.append(bench_class_images(model, size, steps, mem, tmp))
            print(rows[-1], flush=True)

    print("\n| phase | seconds | peak memory (GiB) | budget (GiB) | notes |\n|---|---|---|---|---|")
    for r in rows:
        notes = []
        if "unet_calls" in r:
            notes.append(f"{r['unet_calls']} UNet calls, {r['unet_rows']} latent rows")
        if "fits" in r:
            notes.append("fits" if r["fits"] else "OVER BUDGET")
            notes.append(f"optimizer {r['optimizer']}")
        if "finite" in r:
            notes.append("finite output" if r["finite"] else "NON-FINITE OUTPUT")
        budget = f"{r['budget_gib']:.0f}" if "budget_gib" in r else ""
        print(f"| {r['phase']} | {r['seconds']:.1f} | {r['peak_gib']:.2f} | {budget} | {', '.join(notes)} |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1, default=str))
    return rows


if __name__ == "__main__":
    main()
