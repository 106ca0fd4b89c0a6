"""Running a case's steps as a terminal would and judging the outcome: a traceback, an error that is not
one line, an unexpected exit code, a user's file lost, an original photo written."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from .sandbox import Case, Sandbox, Step, _env, _sha


@dataclass
class Outcome:
    name: str
    family: str
    ok: bool = True
    traceback: bool = False
    not_one_line: bool = False
    unexpected_rc: bool = False
    data_lost: list[str] = field(default_factory=list)
    original_written: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)


def _run_step(sb: Sandbox, step: Step, parallel: list[subprocess.Popen]) -> tuple[int | None, str]:
    cmd: list[str | bytes] = [sys.executable, "-m", "lipe_engine", *step.argv]
    if step.close_stdout:
        cmd = [sys.executable, "-c", "import os, sys; os.close(1); os.execv(sys.executable, sys.argv[1:])", *cmd]
    p = subprocess.Popen(cmd, env=_env(sb), stdout=None if step.close_stdout else subprocess.PIPE,
                         stderr=subprocess.PIPE)
    if step.kill_after is not None and step.kill_after < 0:
        parallel.append(p)
        return None, ""
    if step.kill_after is not None:
        time.sleep(step.kill_after)
        p.send_signal(signal.SIGKILL)
    try:
        _, err = p.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        p.kill()
        _, err = p.communicate()
        return -999, "hung"
    return (None if step.kill_after is not None else p.returncode), err.decode("utf-8", "replace")


def run_case(case: Case, photo_source: Path | None, keep: Path | None) -> Outcome:
    out = Outcome(case.name, case.family)
    root = Path(tempfile.mkdtemp(prefix="lipe-hostile-", dir=keep))
    sb = Sandbox(root, photo_source)
    try:
        try:
            steps = case.setup(sb)
        except Exception as exc:  # noqa: BLE001 - a setup failure is reported as such, the run goes on
            out.ok = False
            out.details.append(f"setup failed: {exc}")
            return out
        parallel: list[subprocess.Popen] = []
        for step in steps:
            rc, err = _run_step(sb, step, parallel)
            for p in parallel if rc is not None else []:
                _, perr = p.communicate(timeout=600)
                out.traceback |= "Traceback" in perr.decode("utf-8", "replace")
            parallel = [] if rc is not None else parallel
            lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith(("  0%", "\r"))]
            shown = " ".join(map(lambda a: os.fsdecode(a) if isinstance(a, bytes) else a, step.argv))[:120]
            if "Traceback" in err:
                out.traceback = True
                out.details.append(f"`lipe {shown}`: traceback: {err.strip().splitlines()[-1][:200]}")
            if rc == 2 and (len(lines) != 1 or not lines[0].startswith("lipe: error:")):
                out.not_one_line = True
                out.details.append(f"`lipe {shown}`: error is {len(lines)} lines: {' | '.join(lines)[:300]}")
            if rc is not None and rc not in step.ok_rcs:
                out.unexpected_rc = True
                out.details.append(f"`lipe {shown}`: exit code {rc} (expected {step.ok_rcs}): "
                                   f"{(lines or [''])[-1][:200]}")
        holder = getattr(sb, "holder", None)
        if holder is not None:
            holder.kill()
            holder.wait()
        for path, (digest, mtime) in sb.protected.items():
            changed = not path.is_file() or _sha(path) != digest
            if path in sb.originals and (changed or path.stat().st_mtime != mtime):
                out.original_written.append(str(path))
            elif changed:
                out.data_lost.append(str(path))
        out.ok = not (out.traceback or out.not_one_line or out.unexpected_rc or out.data_lost or out.original_written)
        return out
    finally:
        if keep is None:
            shutil.rmtree(root, ignore_errors=True)


def run_cases(cases: list[Case], photo_source: Path | None, keep: Path | None, jobs: int = 1) -> Iterator[Outcome]:
    """Outcomes in the cases' order; ``jobs`` cases at once (each in its own sandbox: they share nothing)."""
    if jobs <= 1:
        for case in cases:
            yield run_case(case, photo_source, keep)
        return
    with ThreadPoolExecutor(jobs) as pool:
        yield from pool.map(lambda c: run_case(c, photo_source, keep), cases)


def summarise(outcomes: list[Outcome]) -> dict[str, int]:
    return {
        "cases": len(outcomes),
        "ok": sum(o.ok for o in outcomes),
        "traceback": sum(o.traceback for o in outcomes),
        "error not one line": sum(o.not_one_line for o in outcomes),
        "unexpected exit code": sum(o.unexpected_rc for o in outcomes),
        "data lost": sum(bool(o.data_lost) for o in outcomes),
        "original written": sum(bool(o.original_written) for o in outcomes),
    }
