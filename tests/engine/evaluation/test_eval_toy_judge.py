"""`lipe eval` on a toy-world dataset judges every edit with the toy world's judge; toy_case.json is
read as a hostile file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lipe_engine.errors import InputError
from lipe_engine.evaluation.dataset import load_dataset
from lipe_engine.evaluation.results import ResultsTable, markdown_table
from lipe_engine.evaluation.toy_dataset import make_toy_dataset
from lipe_engine.evaluation.toy_judging import TOY_CASE_FILE, judge_rows, load_toy_cases

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_toy_dataset(tmp_path_factory.mktemp("judge_ds") / "toy", n_subjects=2, seed=3)


def test_toy_subjects_are_judged_and_the_table_leads_with_success(tmp_path: Path, dataset: Path) -> None:
    """A no-op (the test photo) fails, the truth (the individual drawn in the target pose) succeeds."""
    out = tmp_path / "out"
    results = ResultsTable(out / "results.csv")
    subjects = load_dataset(dataset)
    for subject in subjects:
        cases = load_toy_cases(subject.folder, len(subject.targets))
        assert cases is not None and len(cases) == len(subject.targets)
        for k, case in enumerate(cases):
            assert case.target_pose in subject.targets[k]  # the prompt names the pose the case expects
            for method, image in (("noop", case.scene.render()[0]),
                                  ("truth", case.scene.with_pose(case.target_pose).render()[0])):
                path = out / "images" / method / subject.name / f"target{k}.png"
                path.parent.mkdir(parents=True, exist_ok=True)
                image.save(path)
                results.put({"subject": subject.name, "method": method, "target_index": k,
                             "image": str(path.relative_to(out))})
    judged = judge_rows(list(results.rows.values()), {s.name: s for s in subjects}, out)
    assert len(judged) == len(results.rows)
    for row in judged:
        results.put(row)
    assert not judge_rows(list(results.rows.values()), {s.name: s for s in subjects}, out)  # done once
    table = results.summary(["noop", "truth"])
    assert table["noop"]["toy_success"] == 0.0 and table["truth"]["toy_success"] == 1.0
    assert table["noop"]["toy_identity"] is None  # no no-op edit reached the pose
    md = markdown_table(table, {"noop": "no-op"})
    assert "toy judge: success ↑" in md.splitlines()[0]
    assert "| no-op | 4 |" in md and "0%" in md and "100%" in md


@pytest.mark.parametrize("damage, message", [
    (lambda d: d.update(format="other"), "unknown format"),
    (lambda d: d["scene"].update(cx=float("nan")), "finite"),
    (lambda d: d["scene"].update(scale=1e9), "inside the photo"),
    (lambda d: d["scene"].update(setting="on the moon"), "unknown setting"),
    (lambda d: d["scene"]["individual"].update(colour="ultraviolet"), "ultraviolet"),
    (lambda d: d["scene"].update(extra=1), "fields differ"),
    (lambda d: d.update(target_poses=["dancing"]), "target_poses"),
])
def test_hostile_toy_case_files_are_refused_in_one_line(tmp_path: Path, dataset: Path, damage, message) -> None:
    subject = load_dataset(dataset)[0]
    data = json.loads((subject.folder / TOY_CASE_FILE).read_text())
    damage(data)
    folder = tmp_path / "subject"
    folder.mkdir()
    (folder / TOY_CASE_FILE).write_text(json.dumps(data))
    with pytest.raises(InputError, match=message) as err:
        load_toy_cases(folder, len(subject.targets))
    assert "\n" not in str(err.value) and "toy_case.json" in str(err.value)


def test_subjects_without_a_toy_case_are_not_judged(tmp_path: Path) -> None:
    assert load_toy_cases(tmp_path, 1) is None
