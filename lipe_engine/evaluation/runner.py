"""``lipe eval``: run every method on every subject of a dataset, score the edits, write the table.

Work is done in two resumable phases:

1. editing: for each subject, the methods are grouped by the prior they need (none, LIPE's,
   DreamBooth's); each prior is trained once (or taken from the dataset / a previous run) and
   loaded as a LoRA; each method edits the test photo toward all target prompts not yet done.
   Every edited image is written (atomically) before its row enters ``results.csv``;
2. scoring: every row without metric values gets DINOv2-I, CLIP-I, CLIP-T and CLIP-D from the
   saved image and the test photo (prompts without the identifier word).

Running the same command again skips what ``results.csv`` already holds, so an interrupted run
(Ctrl-C, crash, power cut) loses at most the item in progress. ``table.md`` is rewritten at the end.

Output folder::

    OUT/results.csv   one row per (subject, method, target): prompts, image path, seconds, metrics
    OUT/table.md      Table-2-style means per method
    OUT/grid.png      comparison grid like the paper's Fig. 5: a row per (subject, target) with its
                      target prompt; columns: the test photo, then each method's edit
    OUT/images/<method>/<subject>/target<k>.png
    OUT/priors/<subject>/<kind>/   trained LoRAs (reused on resume)
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from ..baselines.ledits import LeditsParams
from ..baselines.masactrl import MasaCtrlParams
from ..baselines.methods import METHODS, Method, run_method
from ..errors import InputError
from ..models.loader import LoadedModel, load_lora
from ..nima import EditParams, InversionCache
from ..owned_outputs import OwnedFolder
from ..photo_reader import open_photo
from ..progress import CancelToken, ProgressCallback, ProgressReporter
from .dataset import Subject, load_dataset
from .grid import GridRow, save_grid
from .priors import ensure_prior
from .results import FIELDS, ResultsTable, atomic_write_text, markdown_table
from .toy_judging import judge_rows

MAX_GRID_ROWS = 48  # a bigger dataset's grid would be too tall to look at; the first rows are drawn
ModelFactory = Callable[[], LoadedModel]
ScorerFactory = Callable[[], object]


@dataclass
class EvalConfig:
    methods: list[Method]
    out_dir: Path
    edit: EditParams = field(default_factory=EditParams)
    masactrl: MasaCtrlParams = field(default_factory=MasaCtrlParams)
    ledits: LeditsParams = field(default_factory=LeditsParams)
    training: object | None = None  # lipe_engine.training.TrainingConfig (None: the paper's defaults)
    subjects: list[str] | None = None
    max_batch: int = 4  # target prompts edited together (one inversion, one batched reverse process)
    score: bool = True


@dataclass
class EvalSummary:
    edited: int
    skipped: int
    scored: int
    table: dict[str, dict[str, float | int | None]]
    markdown: str


# What an evaluation writes into its output folder; anything else there (a user's own results.csv) is
# never replaced (lipe_engine/owned_outputs.py).
OUTPUT_NAMES = ("results.csv", "table.md", "grid.png", "images/", "priors/")


def _earlier_evaluation(out: Path) -> bool:
    """An output folder of a run from before output manifests: its results.csv has exactly our header."""
    try:
        with (out / "results.csv").open(encoding="utf-8") as fh:
            return fh.readline().rstrip("\r\n") == ",".join(FIELDS)
    except (OSError, UnicodeDecodeError):
        return False


def image_path(out_dir: Path, method: str, subject: str, index: int) -> Path:
    return out_dir / "images" / method / subject / f"target{index}.png"


def _save_png(img: Image.Image, path: Path) -> None:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(buf.getvalue())
    tmp.replace(path)


def _set_prior(model: LoadedModel, lora: Path | None) -> None:
    if model.loras:
        model.pipe.unload_lora_weights()
        model.loras.clear()
    if lora is not None:
        load_lora(model, lora)


def _prompts(subject: Subject, method: Method) -> tuple[str, list[str], str]:
    if method.prior is None:
        return (subject.plain(subject.source), [subject.plain(t) for t in subject.targets],
                subject.plain(subject.identity))
    return subject.source, list(subject.targets), subject.identity


class Evaluation:
    """One evaluation run over a dataset folder; see the module docstring."""

    def __init__(
        self,
        dataset: str | Path,
        config: EvalConfig,
        model_factory: ModelFactory,
        scorer_factory: ScorerFactory | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> None:
        if not config.methods:
            raise InputError("no methods given", f"use some of {', '.join(METHODS)}")
        self.subjects = load_dataset(dataset, config.subjects)
        OwnedFolder.claim(config.out_dir, "eval", OUTPUT_NAMES, adopt=_earlier_evaluation)
        self.config = config
        self.model_factory = model_factory
        self.scorer_factory = scorer_factory
        self.callback = progress
        self.cancel = cancel or CancelToken()
        self.results = ResultsTable(config.out_dir / "results.csv")
        self._model: LoadedModel | None = None

    def _reporter(self) -> ProgressReporter:
        return ProgressReporter(self.callback, self.cancel)

    @property
    def model(self) -> LoadedModel:
        if self._model is None:
            self._model = self.model_factory()
        return self._model

    def pending(self) -> list[tuple[Subject, Method, int]]:
        return [(s, m, k) for s in self.subjects for m in self.config.methods for k in range(len(s.targets))
                if not self.results.done((s.name, m.name, k))]

    def run(self) -> EvalSummary:
        scorer = None
        if self.config.score and self.scorer_factory is not None:
            scorer = self.scorer_factory()  # fail before hours of editing if the metric models are absent
        todo = self.pending()
        total = sum(len(s.targets) for s in self.subjects) * len(self.config.methods)
        overall = self._reporter()
        overall.start("eval: editing", len(todo))
        for subject in self.subjects:
            mine = [(m, k) for s, m, k in todo if s is subject]
            if mine:
                self._edit_subject(subject, mine, overall)
        self._set_prior_none()
        scored = self._score(scorer) if scorer is not None else 0
        self._judge_toy()
        return self._finish(len(todo), total - len(todo), scored)

    def _set_prior_none(self) -> None:
        if self._model is not None and self._model.loras:
            _set_prior(self._model, None)

    def _edit_subject(self, subject: Subject, items: list[tuple[Method, int]], overall: ProgressReporter) -> None:
        kinds = list(dict.fromkeys(m.prior for m, _ in items))
        kinds.sort(key=lambda k: (k is not None, k or ""))
        photo = open_photo(subject.test_image)
        for kind in kinds:
            model = self.model
            _set_prior(model, None)
            lora = None
            if kind is not None:
                lora = ensure_prior(model, subject, kind, self.config.out_dir, self.config.training,
                                    list(subject.regularization) or None, self._reporter(), self.cancel)
            _set_prior(model, lora)
            cache = InversionCache(None)  # shared by the NIMA methods on this prior (same inversion)
            for method in dict.fromkeys(m for m, _ in items if m.prior == kind):
                indices = [k for m, k in items if m is method]
                for start in range(0, len(indices), max(1, self.config.max_batch)):
                    chunk = indices[start : start + max(1, self.config.max_batch)]
                    self._edit_chunk(subject, method, chunk, photo, cache, overall)

    def _edit_chunk(self, subject: Subject, method: Method, indices: list[int], photo: Image.Image,
                    cache: InversionCache, overall: ProgressReporter) -> None:
        source, targets, identity = _prompts(subject, method)
        t0 = time.perf_counter()
        images = run_method(method, self.model, photo, source, [targets[k] for k in indices], identity,
                            self.config.edit, self.config.masactrl, self._reporter(), self.cancel, cache,
                            self.config.ledits)
        seconds = (time.perf_counter() - t0) / len(indices)
        for k, img in zip(indices, images, strict=True):
            path = image_path(self.config.out_dir, method.name, subject.name, k)
            _save_png(img, path)
            self.results.put({
                "subject": subject.name, "method": method.name, "target_index": k,
                "source_prompt": subject.plain(subject.source), "target_prompt": subject.plain(subject.targets[k]),
                "image": str(path.relative_to(self.config.out_dir)), "seconds": round(seconds, 3),
            })
            overall.step(subject=subject.name, method=method.name)

    def _score(self, scorer: object) -> int:
        rows = self.results.unscored()
        rep = self._reporter()
        rep.start("eval: scoring", len(rows))
        sources: dict[str, Image.Image] = {}
        by_name = {s.name: s for s in self.subjects}
        n = 0
        for row in rows:
            subject = by_name.get(row["subject"])
            path = self.config.out_dir / row["image"]
            if subject is None or not path.is_file():
                rep.step()
                continue
            if subject.name not in sources:
                sources[subject.name] = open_photo(subject.test_image)
            edited = open_photo(path)
            values = scorer.score(sources[subject.name], edited, row["source_prompt"],  # type: ignore[attr-defined]
                                  row["target_prompt"])
            self.results.put({**row, **values})
            n += 1
            rep.step(subject=subject.name, method=row["method"])
        return n

    def _judge_toy(self) -> None:
        """Toy-world subjects: every edit judged by the toy world's judge (success, pose, identity)."""
        for row in judge_rows(list(self.results.rows.values()), {s.name: s for s in self.subjects},
                              self.config.out_dir):
            self.results.put(row)

    def _finish(self, edited: int, skipped: int, scored: int) -> EvalSummary:
        names = [m.name for m in self.config.methods]
        table = self.results.summary(names)
        md = markdown_table(table, {m.name: m.label for m in self.config.methods})
        atomic_write_text(self.config.out_dir / "table.md", md)
        self.write_grid()
        return EvalSummary(edited, skipped, scored, table, md)

    def write_grid(self) -> Path | None:
        """OUT/grid.png from the images on disk (also those of earlier, resumed runs)."""
        out = self.config.out_dir
        methods = self.config.methods
        rows = []
        for subject in self.subjects:
            photo = open_photo(subject.test_image)
            for k, target in enumerate(subject.targets):
                paths = [image_path(out, m.name, subject.name, k) for m in methods]
                if not any(p.is_file() for p in paths):
                    continue
                images = [open_photo(p) if p.is_file() else None for p in paths]
                rows.append(GridRow(f"{subject.name}: {target}", [photo, *images]))
        if not rows:
            return None
        return save_grid(rows[:MAX_GRID_ROWS], ["input", *[m.label for m in methods]], out / "grid.png")
