"""The results CSV (one row per edited image) and the Table-2-style Markdown summary.

The CSV is rewritten through a temporary file and ``os.replace`` after every row, so an
interrupted run leaves either the old or the new complete file, never half a row; rows present
are the items already done, which is how a resumed run knows what to skip.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from ..metrics import LABELS, METRICS
from ..metrics.formulas import mean
from .toy_judging import JUDGE_FIELDS

FIELDS = ("subject", "method", "target_index", "source_prompt", "target_prompt", "image", "seconds",
          *METRICS, *JUDGE_FIELDS)
# the toy judge's columns in table.md (toy-world subjects only): success is the headline
JUDGE_LABELS = {"toy_success": "toy judge: success", "toy_pose_reached": "pose reached",
                "toy_identity": "identity, pose reached"}
Key = tuple[str, str, int]


def row_key(row: dict) -> Key:
    return (str(row["subject"]), str(row["method"]), int(row["target_index"]))


def atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class ResultsTable:
    """Rows of ``results.csv`` in memory, keyed by (subject, method, target index)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.rows: dict[Key, dict[str, str]] = {}
        if self.path.is_file():
            with self.path.open(encoding="utf-8", newline="") as fh:
                for row in csv.DictReader(fh):
                    if row.get("subject") and row.get("method") and (row.get("target_index") or "").isdigit():
                        self.rows[row_key(row)] = {f: row.get(f) or "" for f in FIELDS}

    def done(self, key: Key) -> bool:
        return key in self.rows

    def unscored(self) -> list[dict[str, str]]:
        return [r for r in self.rows.values() if any(r.get(m, "") == "" for m in METRICS)]

    def put(self, row: dict) -> None:
        """Add or replace one row and rewrite the file atomically."""
        clean = {f: _fmt(row.get(f)) for f in FIELDS}
        self.rows[row_key(clean)] = clean
        self.save()

    def save(self) -> None:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        for key in sorted(self.rows):
            writer.writerow(self.rows[key])
        atomic_write_text(self.path, buf.getvalue())

    def summary(self, methods: Iterable[str]) -> dict[str, dict[str, float | int | None]]:
        """Per method: number of edited images and the mean of each metric over scored rows."""
        out: dict[str, dict[str, float | int | None]] = {}
        for m in methods:
            rows = [r for r in self.rows.values() if r["method"] == m]
            stats: dict[str, float | int | None] = {"n": len(rows)}
            for metric in METRICS:
                stats[metric] = mean(float(r[metric]) for r in rows if r.get(metric, "") != "")
            judged = [r for r in rows if r.get("toy_success", "") != ""]
            if judged:  # identity only over the edits that reached the pose: a no-op cannot win on it
                stats["toy_judged"] = len(judged)
                stats["toy_success"] = mean(float(r["toy_success"]) for r in judged)
                stats["toy_pose_reached"] = mean(float(r["toy_pose_reached"]) for r in judged)
                stats["toy_identity"] = mean(float(r["toy_identity"]) for r in judged if r["toy_pose_reached"] == "1")
            out[m] = stats
        return out


def _fmt(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6f}"
    return str(v)


def markdown_table(summary: dict[str, dict[str, float | int | None]], names: dict[str, str]) -> str:
    """Table 2 layout: one row per method, the metric columns (higher is better); for toy-world
    subjects the toy judge's success rate, pose-reached rate and identity (over reached) follow."""
    judged = any("toy_judged" in s for s in summary.values())
    extra = list(JUDGE_LABELS) if judged else []
    head = "| Method | n | " + " | ".join(f"{LABELS[m]} ↑" for m in METRICS) + "".join(
        f" | {JUDGE_LABELS[k]} ↑" for k in extra) + " |"
    lines = [head, "|" + "---|" * (len(METRICS) + 2 + len(extra))]
    for method, stats in summary.items():
        cells = []
        for m in METRICS:
            v = stats.get(m)
            cells.append("n/a" if v is None else f"{float(v):.4f}")
        for k in extra:
            v = stats.get(k)
            cells.append("n/a" if v is None else f"{float(v):.0%}" if k != "toy_identity" else f"{float(v):.3f}")
        lines.append(f"| {names.get(method, method)} | {stats['n']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
