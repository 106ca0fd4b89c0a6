"""Quality gate of the toy model (world v2): VAE round trip and text-to-image, a candidate against the
shipped model in the same process, with spread.

VAE: PSNR of held-out world photos encoded and decoded, over the photo and over the sprite (gate
>= 32 dB and >= 28 dB). Text-to-image: one sample (diffusers' SDXL pipeline, the model's own) per
caption of a held-out scene (a kind/colour/pose/facing/setting combination training skips), read by
the toy world's picture reader: kind, pose, facing and colour family all right in >= 90% (gate); the
judge's pose network (lipe_engine/toyworld/judge.py, on the reader's background estimate) is printed
beside it. The
samples are split into --groups groups for the spread; the reader's accuracy on the true renders of
the same captions is printed as its ceiling. Writes a sheet of the candidate's samples (--sheet).

    python benchmarks/toy_model_quality.py [--model DIR] [--baseline DIR|''] [--prompts 48] [--groups 4]
        [--steps 30] [--guidance 5] [--vae-photos 40] [--sheet toy_quality_samples.png]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from lipe_engine.models.loader import load_sdxl  # noqa: E402
from lipe_engine.toyworld import TOY_MODEL_DIR  # noqa: E402
from lipe_engine.toyworld.quality import (  # noqa: E402
    TEXT_TO_IMAGE_RATE,
    VAE_PHOTO_DB,
    VAE_SUBJECT_DB,
    Samples,
    held_out_scenes,
    judge_readings,
    reader_ceiling,
    text_to_image,
    vae_round_trip,
)


def spread(values: list[float]) -> str:
    a = np.asarray(values, dtype=float)
    return f"{a.mean():.1f} ± {a.std():.1f} (min {a.min():.1f})"


def grouped(samples: Samples, groups: int, attr: str | None = None) -> str:
    n = len(samples.scenes)
    rates = []
    for g in range(groups):
        idx = list(range(g, n, groups))
        sub = Samples([samples.scenes[i] for i in idx], [], [samples.readings[i] for i in idx])
        rates.append(sub.rate(attr))
    return f"{samples.rate(attr):.0%} (groups {min(rates):.0%}-{max(rates):.0%})"


def measure(source: str, scenes: list, args: argparse.Namespace) -> tuple[dict[str, str], Samples, dict]:
    model = load_sdxl(source, device="cpu", dtype="fp32")
    model.pipe.set_progress_bar_config(disable=True)
    t0 = time.perf_counter()
    trip = vae_round_trip(model.pipe.vae, n=args.vae_photos)
    t_vae = time.perf_counter() - t0
    t0 = time.perf_counter()
    samples = text_to_image(model, scenes, steps=args.steps, guidance=args.guidance)
    t_t2i = time.perf_counter() - t0
    size = sum(p.stat().st_size for p in Path(source).rglob("*.safetensors"))
    judged = Samples(samples.scenes, samples.images, judge_readings(samples.images))
    row = {
        "VAE photo PSNR dB": spread(trip.photo_db),
        "VAE subject PSNR dB": spread(trip.subject_db),
        "all four right (reader)": grouped(samples, args.groups),
        **{f"{a} right (reader)": grouped(samples, args.groups, a) for a in ("kind", "pose", "facing", "colour")},
        "all four right (judge's pose net + reader's colour)": grouped(judged, args.groups),
        "UNet parameters (M)": f"{sum(p.numel() for p in model.pipe.unet.parameters()) / 1e6:.1f}",
        "weights on disk (MB)": f"{size / 1e6:.1f}",
        "seconds (VAE / text-to-image)": f"{t_vae:.0f} / {t_t2i:.0f}",
    }
    gate = {"vae_photo": float(np.mean(trip.photo_db)), "vae_subject": float(np.mean(trip.subject_db)),
            "t2i": samples.rate()}
    return row, samples, gate


def sheet(samples: Samples, path: str, per_row: int = 8, scale: int = 3) -> None:
    tiles = [np.asarray(im.convert("RGB")) for im in samples.images]
    while len(tiles) % per_row:
        tiles.append(np.zeros_like(tiles[0]))
    rows = [np.concatenate(tiles[i:i + per_row], axis=1) for i in range(0, len(tiles), per_row)]
    grid = np.concatenate(rows, axis=0)
    Image.fromarray(grid).resize((grid.shape[1] * scale, grid.shape[0] * scale),
                                 Image.Resampling.NEAREST).save(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(TOY_MODEL_DIR), help="candidate model folder")
    ap.add_argument("--baseline", default=str(TOY_MODEL_DIR), help="baseline folder ('' for none)")
    ap.add_argument("--prompts", type=int, default=48, help="held-out captions, one sample each")
    ap.add_argument("--groups", type=int, default=4, help="groups of samples for the spread")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--guidance", type=float, default=5.0)
    ap.add_argument("--vae-photos", type=int, default=40)
    ap.add_argument("--sheet", default="toy_quality_samples.png", help="candidate's samples PNG ('' for none)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    scenes = held_out_scenes(args.prompts)
    ceiling = reader_ceiling(scenes)
    judged_truth = Samples(scenes, ceiling.images, judge_readings(ceiling.images))
    print(f"{len(scenes)} held-out captions, e.g. '{scenes[0].caption()}'")
    print(f"on the true renders of the same captions (the ceilings): reader, all four {grouped(ceiling, args.groups)}; "
          f"judge's pose net + reader's colour {grouped(judged_truth, args.groups)}")
    sources = {"candidate": args.model}
    if args.baseline and os.path.realpath(args.baseline) != os.path.realpath(args.model):
        sources = {"baseline": args.baseline, **sources}
    rows, gates = {}, {}
    for name, source in sources.items():
        rows[name], samples, gates[name] = measure(source, scenes, args)
        if name == "candidate" and args.sheet:
            sheet(samples, args.sheet)
            print(f"samples sheet: {args.sheet} (captions in order: {', '.join(s.caption() for s in scenes[:3])}, ...)")
    names = list(rows)
    print("\n| measure | " + " | ".join(f"{n} ({sources[n]})" for n in names) + " |")
    print("|---|" + "---|" * len(names))
    for key in rows[names[0]]:
        print(f"| {key} | " + " | ".join(rows[n][key] for n in names) + " |")
    g = gates["candidate"]
    print(f"\ngate (candidate): VAE photo {g['vae_photo']:.1f} dB (>= {VAE_PHOTO_DB}), subject "
          f"{g['vae_subject']:.1f} dB (>= {VAE_SUBJECT_DB}), text-to-image {g['t2i']:.0%} (>= {TEXT_TO_IMAGE_RATE:.0%}): "
          + ("PASS" if g["vae_photo"] >= VAE_PHOTO_DB and g["vae_subject"] >= VAE_SUBJECT_DB
             and g["t2i"] >= TEXT_TO_IMAGE_RATE else "FAIL"))
    if "baseline" in gates:
        b = gates["baseline"]
        ratio = g["t2i"] / b["t2i"] if b["t2i"] > 0 else float("inf")
        print(f"candidate / baseline: text-to-image {ratio:.2f}x, VAE subject {g['vae_subject'] - b['vae_subject']:+.1f} dB")


if __name__ == "__main__":
    main()
