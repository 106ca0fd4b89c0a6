"""Comparison grids like the paper's Fig. 5-7: one row per edit, columns input + each method.

Each row is labelled with its target prompt (above the row), each column with the method's name
(at the top). Cells are the images scaled to one size (nearest-neighbour when enlarging small
photos such as the toy world's 64 px ones, so pixels stay visible as pixels).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont


@dataclass
class GridRow:
    prompt: str  # the target prompt, written above the row
    images: list[Image.Image | None]  # input first, then one per method column (None: missing)


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has one bitmap size
        return ImageFont.load_default()


def _wrapped(text: str, font: ImageFont.ImageFont | ImageFont.FreeTypeFont, width: int) -> list[str]:
    avg = max(1.0, font.getlength("abcdefghijklmnopqrstuvwxyz") / 26)
    return textwrap.wrap(text, max(8, int(width / avg))) or [""]


def comparison_grid(rows: list[GridRow], columns: list[str], cell: int = 160) -> Image.Image:
    """The grid as one RGB image; ``columns`` names every column, the input's first."""
    if not rows:
        raise ValueError("a comparison grid needs at least one row")
    n = len(columns)
    if any(len(r.images) != n for r in rows):
        raise ValueError(f"every row needs {n} images (input + methods)")
    pad = 4
    font = _font(max(10, cell // 12))
    line_h = int(font.getbbox("Ag")[3]) + 3
    head_lines = [_wrapped(c, font, cell) for c in columns]
    head_h = line_h * max(len(h) for h in head_lines) + pad
    width = n * (cell + pad) + pad
    prompt_lines = [_wrapped(r.prompt, font, width - 2 * pad) for r in rows]
    height = head_h + sum(line_h * len(p) + cell + 2 * pad for p in prompt_lines) + pad
    out = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(out)
    for j, lines in enumerate(head_lines):
        for k, line in enumerate(lines):
            draw.text((pad + j * (cell + pad), pad + k * line_h), line, fill="black", font=font)
    y = head_h
    for row, lines in zip(rows, prompt_lines, strict=True):
        for k, line in enumerate(lines):
            draw.text((pad, y + pad + k * line_h), line, fill=(40, 40, 120), font=font)
        y += pad + line_h * len(lines)
        for j, img in enumerate(row.images):
            x = pad + j * (cell + pad)
            if img is None:
                draw.rectangle([x, y, x + cell - 1, y + cell - 1], outline="grey")
                draw.line([x, y, x + cell - 1, y + cell - 1], fill="grey")
                continue
            im = img.convert("RGB")
            scale = cell / max(im.size)
            size = (max(1, round(im.width * scale)), max(1, round(im.height * scale)))
            resample = Image.Resampling.NEAREST if scale >= 2 else Image.Resampling.LANCZOS
            im = im.resize(size, resample)
            out.paste(im, (x + (cell - size[0]) // 2, y + (cell - size[1]) // 2))
        y += cell + pad
    return out


def save_grid(rows: list[GridRow], columns: list[str], path: str | Path, cell: int = 160) -> Path:
    """Write the grid PNG (through a temporary file, so a crash leaves no half picture)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    comparison_grid(rows, columns, cell).save(tmp, format="PNG")
    tmp.replace(path)
    return path
