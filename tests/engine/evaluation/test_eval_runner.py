"""`lipe eval` end to end on CPU: tiny SDXL + tiny DINOv2/CLIP (saved, reloaded), a toy-world dataset."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from lipe_engine.baselines.methods import parse_methods
from lipe_engine.encoders.tiny import build_tiny_clip, build_tiny_dinov2
from lipe_engine.errors import Cancelled, InputError
from lipe_engine.evaluation.dataset import load_dataset, strip_token
from lipe_engine.evaluation.results import FIELDS, ResultsTable, markdown_table
from lipe_engine.evaluation.runner import EvalConfig, Evaluation
from lipe_engine.evaluation.toy_dataset import make_toy_dataset
from lipe_engine.nima import EditParams
from lipe_engine.progress import CancelToken

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def metric_dirs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("eval_metric_models")
    return build_tiny_dinov2(root / "dino"), build_tiny_clip(root / "clip")


@pytest.fixture(scope="module")
def toy_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_toy_dataset(tmp_path_factory.mktemp("eval_ds") / "toy", n_subjects=2, seed=1)


def test_dataset_layout_checks(tmp_path, toy_dataset):
    subjects = load_dataset(toy_dataset)
    assert [len(s.references) for s in subjects] == [3, 3]
    assert all(s.token == "sks" and "sks" in s.source and s.targets for s in subjects)
    assert strip_token("a photo of a SKS dog, sks.", "sks") == "a photo of a dog, ."
    with pytest.raises(InputError, match="does not exist"):
        load_dataset(tmp_path / "missing")
    bad = tmp_path / "bad" / "cat"
    bad.mkdir(parents=True)
    (bad / "prompts.json").write_text(json.dumps({"source": "a", "targets": ["b"], "identity": "c", "class": "cat"}))
    with pytest.raises(InputError, match="0 test images"):
        load_dataset(bad.parent)
    with pytest.raises(InputError, match="no subject named"):
        load_dataset(toy_dataset, ["nobody"])
    with pytest.raises(InputError, match="unknown method"):
        parse_methods("lipe,imagic")


def test_results_table_roundtrip_and_markdown(tmp_path):
    t = ResultsTable(tmp_path / "r.csv")
    t.put({"subject": "a", "method": "lipe", "target_index": 0, "image": "x.png", "dinov2_i": 0.5, "clip_i": 0.25,
           "clip_t": 0.2, "clip_d": 0.1})
    t.put({"subject": "b", "method": "lipe", "target_index": 0, "image": "y.png", "dinov2_i": 0.7, "clip_i": 0.75,
           "clip_t": 0.3, "clip_d": None})
    again = ResultsTable(tmp_path / "r.csv")
    assert again.done(("a", "lipe", 0)) and not again.done(("a", "lipe", 1))
    assert len(again.unscored()) == 2  # the second lacks CLIP-D, both the normalised CLIP-D
    s = again.summary(["lipe", "masactrl"])
    assert s["lipe"]["n"] == 2 and s["lipe"]["dinov2_i"] == pytest.approx(0.6)
    assert s["lipe"]["clip_d"] == pytest.approx(0.1) and s["masactrl"]["clip_i"] is None
    md = markdown_table(s, {"lipe": "LIPE (ours)"})
    assert "| LIPE (ours) | 2 | 0.6000 | 0.5000 | 0.2500 | 0.1000 | n/a |" in md
    assert "| masactrl | 0 | n/a |" in md
    assert not list(tmp_path.glob(".r.csv.*"))  # no temp files left behind


def _config(out: Path, methods: str) -> EvalConfig:
    from lipe_engine.training import TrainingConfig

    return EvalConfig(
        methods=parse_methods(methods), out_dir=out,
        # Random weights make the self-attention nearly uniform, so the lambda=1 mask is constant;
        # M^1 alone at 0.95 of its maximum covers ~35-80% of the toy photos (NIMA != no mask).
        edit=EditParams(steps=3, skip=1, mask_lambda=0, mask_threshold=0.95, mask_dilate=0),
        training=TrainingConfig(max_steps=2, rank=2, resolution=64, checkpoint_every=1000, device="cpu"),
    )


@pytest.fixture(scope="module")
def eval_model(tiny_sdxl_dir):
    from lipe_engine.models.loader import load_sdxl

    return load_sdxl(tiny_sdxl_dir, device="cpu", dtype="fp32")


def test_eval_all_methods_end_to_end(tmp_path, toy_dataset, metric_dirs, eval_model):
    from lipe_engine.metrics import Scorer

    out = tmp_path / "out"
    subject = load_dataset(toy_dataset)[0]
    from lipe_engine.baselines.methods import DEFAULT_METHODS

    cfg = _config(out, ",".join(DEFAULT_METHODS))
    cfg.subjects = [subject.name]
    events = []
    ev = Evaluation(toy_dataset, cfg, lambda: eval_model, lambda: Scorer.load(*metric_dirs, device="cpu"),
                    progress=events.append)
    summary = ev.run()
    n = len(subject.targets) * len(DEFAULT_METHODS)
    assert (summary.edited, summary.skipped, summary.scored) == (n, 0, n)
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert len(rows) == n and list(rows[0]) == list(FIELDS)
    for r in rows:
        assert (out / r["image"]).is_file()
        assert "sks" not in r["target_prompt"]
        for m in ("dinov2_i", "clip_i", "clip_t", "clip_d"):
            assert -1.0 <= float(r[m]) <= 1.0
    # both priors trained once, on their own captions
    done = {k: json.loads((out / "priors" / subject.name / k / "done.json").read_text())
            for k in ("editing-captions", "dreambooth")}
    assert done["dreambooth"]["captions"] == [f"a photo of {subject.identity}"] * 3
    assert done["editing-captions"]["captions"] == [subject.captions[p.name] for p in subject.references]
    # different methods give different images (the priors and editors are really used)
    imgs = {r["method"]: (out / r["image"]).read_bytes() for r in rows if r["target_index"] == "0"}
    same = [(a, b) for a in imgs for b in imgs if a < b and imgs[a] == imgs[b]]
    assert not same
    assert eval_model.loras == []  # priors unloaded at the end
    table = (out / "table.md").read_text()
    for label in ("LIPE (ours)", "LIPE + pixel composite", "MasaCtrl", "DreamCtrl", "LEDITS++ (diffusers)",
                  "LIPE w/o editing captions", "LIPE w/o NIMA mask", "General prior (no LoRA) + NIMA"):
        assert f"| {label} | {len(subject.targets)} | " in table
    assert "n/a" not in table
    stages = {e.stage for e in events}
    assert {"eval: editing", "eval: scoring", "masactrl", "editing", "LEDITS++"} <= stages
    # the comparison grid: a row per target, columns input + every method, cells of 160 px + 4 px gaps
    from PIL import Image

    grid = Image.open(out / "grid.png")
    assert grid.width == (1 + len(DEFAULT_METHODS)) * 164 + 4
    assert grid.height > len(subject.targets) * 164


def test_eval_resumes_after_interruption(tmp_path, toy_dataset, eval_model):
    out = tmp_path / "out"
    cfg = _config(out, "masactrl,nima-noprior")
    cfg.score = False
    cfg.max_batch = 1
    token = CancelToken()

    def stop_after_first(ev):  # noqa: ANN001
        if ev.stage == "eval: editing" and ev.step == 1:
            token.cancel()

    with pytest.raises(Cancelled):
        Evaluation(toy_dataset, cfg, lambda: eval_model, progress=stop_after_first, cancel=token).run()
    first = ResultsTable(out / "results.csv")
    assert len(first.rows) == 1
    (row,) = first.rows.values()
    mtime = (out / row["image"]).stat().st_mtime_ns
    total = sum(len(s.targets) for s in load_dataset(toy_dataset)) * 2
    summary = Evaluation(toy_dataset, cfg, lambda: eval_model).run()
    assert (summary.edited, summary.skipped, summary.scored) == (total - 1, 1, 0)
    assert (out / row["image"]).stat().st_mtime_ns == mtime  # the done item was not redone
    assert len(ResultsTable(out / "results.csv").rows) == total
    assert "n/a" in summary.markdown  # not scored yet
    again = Evaluation(toy_dataset, cfg, lambda: eval_model).run()
    assert (again.edited, again.skipped) == (0, total)


def test_regularization_images_reach_both_priors(tmp_path, eval_model, monkeypatch):
    import lipe_engine.evaluation.runner as runner

    ds = make_toy_dataset(tmp_path / "reg", n_subjects=1, seed=3, n_regularization=2)
    (subject,) = load_dataset(ds)
    assert [p.name for p, _ in subject.regularization] == ["class1.png", "class2.png"]
    assert all("sks" not in c and subject.class_word in c for _, c in subject.regularization)
    seen = {}

    def fake_prior(model, subj, kind, out_dir, training, class_items, progress, cancel):  # noqa: ANN001
        seen[kind] = class_items
        return None  # no LoRA: only the arguments matter here

    monkeypatch.setattr(runner, "ensure_prior", fake_prior)
    cfg = _config(tmp_path / "out", "lipe,dreamctrl")
    cfg.score = False
    Evaluation(ds, cfg, lambda: eval_model).run()
    assert seen == {"editing-captions": subject.regularization, "dreambooth": subject.regularization}
    # a caption map without the file falls back to "a photo of a <class>"
    data = json.loads((ds / subject.name / "prompts.json").read_text())
    del data["regularization"]["class2.png"]
    (ds / subject.name / "prompts.json").write_text(json.dumps(data))
    assert load_dataset(ds)[0].regularization[1][1] == f"a photo of a {subject.class_word}"
