"""``lipe doctor``: check the installed packages, device, models, data folder and Qt, one line each."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .. import doctor
from ..errors import LipeError
from ..library.library import Library, default_data_dir
from ..locations import DB_NAME


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "doctor",
        help="check that this machine can run LIPE (packages, device, models, data folder, Qt)",
        description="Each problem is one line 'what: fix'. Exit code 1 when something the main job "
                    "(edit, train, demo) needs is broken, else 0.",
    )
    p.add_argument("--data-dir", metavar="DIR", default=None,
                   help="library folder (default: $LIPE_DATA_DIR, else the user data folder)")
    p.add_argument("--device", default=None, help="device to check (default: auto)")
    p.add_argument("--precision", default=None, help="auto, fp32, fp16 or bf16")
    p.add_argument("--no-qt", action="store_true", help="skip starting Qt (the desktop app's check)")
    p.add_argument("--problems", action="store_true", help="print only warnings and errors")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def _library(data_dir: str | None):
    """The library's settings take part in model resolution, but doctor never creates a library."""
    folder = Path(data_dir).expanduser() if data_dir else default_data_dir()
    if not (folder / DB_NAME).is_file():
        return None
    return Library.open(folder)


def run(args: argparse.Namespace) -> int:
    lib = None
    findings = []
    try:
        lib = _library(args.data_dir)
    except LipeError as exc:
        findings.append(doctor.Finding("error", exc.what, exc.fix))
    try:
        findings += doctor.run_checks(lib, Path(args.data_dir).expanduser() if args.data_dir else None,
                                      qt=not args.no_qt, device=args.device, precision=args.precision)
    finally:
        if lib is not None:
            lib.close()
    shown = [f for f in findings if f.is_problem] if args.problems else findings
    if args.json:
        print(json.dumps([{"severity": f.severity, "what": f.what, "fix": f.fix} for f in shown], indent=1))
    else:
        for finding in shown:
            print(finding.line())
        errors = sum(f.severity == "error" for f in findings)
        warnings = sum(f.severity == "warning" for f in findings)
        print(f"{errors} error(s), {warnings} warning(s)")
    return doctor.exit_code(findings)
