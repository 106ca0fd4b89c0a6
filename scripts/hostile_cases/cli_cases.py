"""Command-line abuse: numbers out of range, paths and prompts that are not UTF-8, unknown names, a closed stdout."""

from __future__ import annotations

import os
from pathlib import Path

from PIL import Image

from .sandbox import Argv, Case, Sandbox, Step

BAD_VALUES: list[tuple[str, Argv]] = [
    ("list limit -1", ["library", "list", "--limit", "-1"]),
    ("list limit huge", ["library", "list", "--limit", "99999999999999999999999"]),
    ("suggest top 0", ["identity", "suggest", "Rex", "--top", "0"]),
    ("suggest min-score nan", ["identity", "suggest", "Rex", "--min-score", "nan"]),
    ("export max-size 0", ["identity", "export", "Rex", "{root}/x", "--max-size", "0"]),
    ("export repeats 0", ["identity", "export", "Rex", "{root}/x", "--kohya-repeats", "0"]),
    ("export into /proc", ["identity", "export", "Rex", "/proc/lipe-export"]),
    ("export onto a photo", ["identity", "export", "Rex", "{root}/pics/photo_000.jpg"]),
    ("show unknown identity", ["identity", "show", "Nobody"]),
    ("show id 2**70", ["identity", "show", str(2**70)]),
    ("queue show huge id", ["queue", "show", "99999999999999999999"]),
    ("identity long name", ["identity", "create", "x" * 5000, "--class", "dog"]),
    ("identity control chars", ["identity", "create", "a\x1b[31mred\nline", "--class", "dog"]),
    ("add a file as folder", ["library", "add", "{root}/pics/photo_000.jpg"]),
    ("add the data folder", ["library", "add", "{root}/data"]),
    ("add missing folder", ["library", "add", "{root}/nothing"]),
    ("demo seed -1", ["demo", "--seed", "-1", "--out", "{root}/demo"]),
    ("demo steps 0", ["demo", "--steps", "0", "--out", "{root}/demo"]),
    ("train steps -5", ["train", "Rex", "--steps", "-5"]),
    ("train lr nan", ["train", "Rex", "--lr", "nan"]),
    ("train rank 0", ["train", "Rex", "--rank", "0"]),
    ("train preset unknown", ["train", "Rex", "--preset", "8gb"]),
    ("edit steps 0", ["edit", "{root}/pics/photo_000.jpg", "--prompt-source", "a dog", "--prompt-target", "a dog",
                      "--identity-prompt", "a sks dog", "--out", "{root}/o.png", "--steps", "0"]),
    ("edit out onto original", ["edit", "{root}/pics/photo_000.jpg", "--prompt-source", "a dog", "--prompt-target",
                                "a dog", "--identity-prompt", "a sks dog", "--out", "{root}/pics/photo_001.jpg",
                                "--overwrite"]),
    ("edit missing photo", ["edit", "{root}/none.jpg", "--prompt-source", "a", "--prompt-target", "b",
                            "--identity-prompt", "c", "--out", "{root}/o.png"]),
    ("edit empty prompt", ["edit", "{root}/pics/photo_000.jpg", "--prompt-source", "", "--prompt-target", "b",
                           "--identity-prompt", "c", "--out", "{root}/o.png"]),
    ("non-UTF-8 folder: add", ["library", "add", b"{root}/pics\xff"]),
    ("non-UTF-8 folder: scan", ["library", "scan", b"{root}/pics\xff"]),
    ("non-UTF-8 folder: remove", ["library", "remove", b"{root}/pics\xff"]),
    ("non-UTF-8 folder: list", ["library", "list", "--folder", b"{root}/pics\xff"]),
    ("non-UTF-8 photo: identity add", ["identity", "add", "Rex", b"{root}/pics\xff/a\xfe.jpg"]),
    ("non-UTF-8 prompt", ["edit", "{root}/pics/photo_000.jpg", "--prompt-source", b"a \xff dog",
                          "--prompt-target", "a dog", "--identity-prompt", "a sks dog", "--out", "{root}/o.png"]),
    ("non-UTF-8 identity name", ["identity", "create", b"R\xe9x", "--class", "dog"]),
    ("unknown command", ["frobnicate"]),
    ("restore unknown backup", ["library", "restore", "nope.sqlite"]),
]


def _fill(arg: str | bytes, root: Path) -> str | bytes:
    if isinstance(arg, bytes):
        return arg.replace(b"{root}", os.fsencode(root))
    return arg.replace("{root}", str(root))


def _cli_case(name: str, argv: Argv, quick: bool) -> Case:
    def setup(sb: Sandbox) -> list[Step]:
        sb.library(3)
        odd = Path(os.fsdecode(os.fsencode(sb.root) + b"/pics\xff"))
        odd.mkdir()
        Image.new("RGB", (30, 20)).save(Path(os.fsdecode(os.fsencode(odd) + b"/a\xfe.jpg")), "JPEG")
        sb.protect(odd, original=True)
        return [Step([_fill(a, sb.root) for a in argv], ok_rcs=(2,) if name != "unknown command" else (2,))]
    return Case(name, "command-line abuse", setup, quick=quick)


def _closed_stdout_case(argv: Argv) -> Case:
    def setup(sb: Sandbox) -> list[Step]:
        sb.library(2)
        return [Step(argv, close_stdout=True, ok_rcs=(0,))]
    return Case(f"`lipe {' '.join(map(str, argv))} >&-`", "command-line abuse", setup, quick=argv == ["library", "list"])
