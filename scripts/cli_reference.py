"""Write docs/cli-reference.md from the `lipe` parsers (or, with --check, say whether it is current).

    python scripts/cli_reference.py            # regenerate (also: make cli-reference)
    python scripts/cli_reference.py --check    # exit 1 when the page differs from the parsers
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lipe_engine.cli._reference import render

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "cli-reference.md"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare only; exit 1 when the page is stale")
    ap.add_argument("--out", type=Path, default=PAGE)
    args = ap.parse_args()
    text = render()
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.is_file() else ""
        if current != text:
            print(f"{args.out} is stale: run `make cli-reference`", file=sys.stderr)
            return 1
        return 0
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
