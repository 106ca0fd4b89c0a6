#!/usr/bin/env python3
"""The hostile run: generate hostile cases and run each through the real ``lipe`` command.

Every case gets its own sandbox (a data folder and copies of photos), prepares something hostile
(damaged or crafted photos, damaged or odd databases, a deleted library file, numbers out of range,
arguments that are not UTF-8, a closed stdout, output folders holding the user's files, kill -9 in
the middle of a scan...) and runs one or more ``python -m lipe_engine ...`` commands in separate
processes, exactly as a terminal would. Each case is then judged on four things:

* **traceback**: a Python traceback on stderr (a bad input must be one line, exit code 2);
* **not one line**: an error (exit code 2) that is not exactly one ``lipe: error:`` line;
* **data lost**: a file the user had (their photos, their own files beside an output, the library's
  backups) is gone or changed;
* **original written**: an original photo's bytes or modification time changed.

A case with none of these (and an exit code the case allows) is OK. ``--quick`` runs the reduced set the
default test suite runs (``tests/hostile/test_hostile_run.py``); without it, the full set.

    python scripts/hostile_run.py [--quick] [--photos DIR] [--json OUT.json] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from hostile_cases import build_cases, judging  # noqa: E402
from hostile_cases.judging import Outcome, run_case, run_cases, summarise  # noqa: E402
from hostile_cases.sandbox import Case, Sandbox, Step  # noqa: E402

__all__ = ["Case", "Outcome", "Sandbox", "Step", "build_cases", "judging", "run_case", "run_cases", "summarise"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="the reduced set the default test suite runs")
    ap.add_argument("--photos", type=Path, default=None, help="copy the sandboxes' photos from here (JPEGs)")
    ap.add_argument("--only", default=None, help="run the cases whose name contains this text")
    ap.add_argument("--jobs", type=int, default=1, help="cases run at once (default 1)")
    ap.add_argument("--json", type=Path, default=None, help="write every outcome here")
    ap.add_argument("--keep", type=Path, default=None, help="keep the sandboxes under this folder")
    args = ap.parse_args(argv)
    cases = [c for c in build_cases() if (c.quick or not args.quick) and (args.only is None or args.only in c.name)]
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    started = time.time()
    outcomes = []
    for i, o in enumerate(run_cases(cases, args.photos, args.keep, args.jobs), start=1):
        outcomes.append(o)
        print(f"[{i:>3}/{len(cases)}] {'OK  ' if o.ok else 'FAIL'} {o.family}: {o.name}", flush=True)
        for d in o.details + [f"data lost: {p}" for p in o.data_lost] + [f"original written: {p}" for p in o.original_written]:
            print(f"        {d}", flush=True)
    counts = summarise(outcomes)
    by_family = Counter(o.family for o in outcomes)
    print(f"\nhostile run ({'quick' if args.quick else 'full'}), {time.time() - started:.0f} s:")
    for k, v in counts.items():
        print(f"  {k:<22} {v}")
    print("  by family: " + ", ".join(f"{k} {v}" for k, v in by_family.items()))
    if args.json:
        args.json.write_text(json.dumps({"counts": counts, "outcomes": [o.__dict__ for o in outcomes]}, indent=1))
    return 0 if counts["ok"] == counts["cases"] else 1


if __name__ == "__main__":
    sys.exit(main())
