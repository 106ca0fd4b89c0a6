"""The reduced hostile run (``scripts/hostile_run.py --quick``) in the default suite: every case through the
real ``lipe`` command, none with a traceback, a multi-line error, lost data or a written original."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _script():
    spec = importlib.util.spec_from_file_location("hostile_run", ROOT / "scripts" / "hostile_run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["hostile_run"] = module
    spec.loader.exec_module(module)
    return module


def test_the_quick_hostile_run_is_clean(tmp_path: Path) -> None:
    run = _script()
    cases = [c for c in run.build_cases() if c.quick]
    assert len(cases) >= 10 and len({c.family for c in cases}) == 5  # every family is represented
    outcomes = list(run.run_cases(cases, None, tmp_path, jobs=2))  # two cores in CI
    counts = run.summarise(outcomes)
    failures = [(o.name, o.details, o.data_lost, o.original_written) for o in outcomes if not o.ok]
    assert counts["ok"] == counts["cases"], failures


def test_the_judge_sees_a_traceback_lost_data_and_a_written_original(tmp_path: Path, monkeypatch) -> None:
    """The run's own checks can fail: a case that breaks each rule on purpose is caught."""
    run = _script()
    real_step = run.judging._run_step

    def step(sb, st, parallel):
        if st.argv == ["-c"]:  # stands for a command that crashed
            return 1, "Traceback (most recent call last):\n  ...\nKeyError: 'x'\n"
        return real_step(sb, st, parallel)

    monkeypatch.setattr(run.judging, "_run_step", step)  # where run_case looks it up

    def breaks_everything(sb):
        photos = sb.library(2, identity=False)
        mine = sb.root / "mine.txt"
        mine.write_text("mine")
        sb.protect(mine)
        # a command that crashes with a traceback, and (as setup of the check) a lost and a written file
        mine.unlink()
        photos[0].write_bytes(photos[0].read_bytes() + b"x")
        return [run.Step(["library", "list", "--limit", "not-a-number"], ok_rcs=(0,)),
                run.Step(["-c"], ok_rcs=(0,))]

    outcome = run.run_case(run.Case("broken on purpose", "self-check", breaks_everything), None, tmp_path)
    assert not outcome.ok and outcome.traceback and outcome.unexpected_rc
    assert outcome.data_lost and outcome.original_written
