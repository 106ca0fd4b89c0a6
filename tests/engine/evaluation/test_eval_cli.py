"""`lipe eval` as a user types it: toy-world dataset, tiny SDXL, tiny DINOv2/CLIP, progress, resume."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from lipe_engine.cli import main
from lipe_engine.encoders.tiny import build_tiny_clip, build_tiny_dinov2

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def metric_dirs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("cli_metric_models")
    return build_tiny_dinov2(root / "dino"), build_tiny_clip(root / "clip")


def _argv(ds: Path, out: Path, model: Path, dino: Path | str, clip: Path | str, *extra: str) -> list[str]:
    return ["eval", str(ds), "--make-toy-dataset", "1", "--out", str(out), "--model", str(model),
            "--dino-model", str(dino), "--clip-model", str(clip), "--device", "cpu", "--precision", "fp32",
            "--steps", "3", "--skip", "1", "--mask-lambda", "0", "--mask-threshold", "0.95",
            "--train-steps", "2", "--train-rank", "2", "--train-resolution", "64", "--train-lr", "1e-3",
            "--threads", "1", *extra]


def test_cli_runs_scores_and_resumes(tmp_path, tiny_sdxl_dir, metric_dirs, capsys) -> None:
    ds, out = tmp_path / "toy", tmp_path / "out"
    argv = _argv(ds, out, tiny_sdxl_dir, *metric_dirs, "--methods", "lipe,masactrl,lipe-nomask")
    assert main(argv) == 0
    first = capsys.readouterr()
    rows = list(csv.DictReader((out / "results.csv").open(encoding="utf-8")))
    n_targets = len({r["target_index"] for r in rows})
    assert n_targets >= 1 and len(rows) == 3 * n_targets
    assert all(r["clip_d"] != "" and (out / r["image"]).is_file() for r in rows)
    assert all(r["toy_success"] in ("0", "1") for r in rows)  # toy subjects: judged by the toy world's judge
    # progress lines for the whole run and for each editor, then the table on stdout
    assert f"eval: editing: {3 * n_targets}/{3 * n_targets}" in first.err
    assert "eval: scoring:" in first.err and "masactrl:" in first.err
    assert f"edited {3 * n_targets}, already done 0, scored {3 * n_targets}" in first.err
    assert first.out.startswith("| Method | n | DINOv2-I ↑ | CLIP-I ↑ | CLIP-T ↑ | CLIP-D ↑ |")
    assert "| toy judge: success ↑ | pose reached ↑ | identity, pose reached ↑ |" in first.out.splitlines()[0]
    for label in ("LIPE (ours)", "MasaCtrl", "LIPE w/o NIMA mask"):
        assert f"| {label} | {n_targets} | " in first.out
    assert (out / "table.md").read_text(encoding="utf-8") == first.out

    # The same command again: the dataset is kept, nothing is edited or scored twice.
    stamps = {r["image"]: (out / r["image"]).stat().st_mtime_ns for r in rows}
    assert main(argv) == 0
    again = capsys.readouterr()
    assert "using the toy dataset already in" in again.err
    assert f"edited 0, already done {3 * n_targets}, scored 0" in again.err
    assert again.out == first.out
    assert stamps == {r: (out / r).stat().st_mtime_ns for r in stamps}


def test_cli_missing_metric_model_fails_before_editing(tmp_path, tiny_sdxl_dir, metric_dirs, capsys) -> None:
    ds, out = tmp_path / "toy", tmp_path / "out"
    argv = _argv(ds, out, tiny_sdxl_dir, metric_dirs[0], "nobody/no-such-clip", "--methods", "masactrl")
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("lipe: error: CLIP model 'nobody/no-such-clip' is not in the Hugging Face cache")
    assert "hf download nobody/no-such-clip" in err[-1]
    assert not (out / "results.csv").exists() and not (out / "images").exists()
    # --no-metrics edits anyway; a later run with the models scores those rows
    assert main([*argv, "--no-metrics"]) == 0
    assert "n/a" in capsys.readouterr().out
    fixed = _argv(ds, out, tiny_sdxl_dir, *metric_dirs, "--methods", "masactrl")
    assert main(fixed) == 0
    done = capsys.readouterr()
    assert "edited 0," in done.err and "n/a" not in done.out


def test_cli_bad_method_is_one_line(tmp_path, capsys) -> None:
    assert main(["eval", str(tmp_path), "--out", str(tmp_path / "o"), "--methods", "lipe,imagic"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "lipe: error: unknown method 'imagic': use some of lipe, lipe-composite, masactrl, dreamctrl, " \
                  "ledits, lipe-nocaptions, lipe-nomask, nima-noprior, nima-noprior-nomask."
