"""Plain, immutable records returned by the library (no live DB handles inside)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROLES = ("reference", "target")
KINDS = ("person", "pet", "object")
JOB_STATES = ("queued", "running", "done", "failed", "cancelled")
LINK_STATUSES = ("confirmed", "suggested", "rejected")


# The library file is read as a hostile file too: a row written by another tool (or a damaged one that
# still passes the integrity check) may hold a BLOB where text belongs, or JSON that does not parse.
# Records then carry a usable stand-in, so listing never fails; running such a job fails in one line.


def _path(value: Any) -> Path:
    if isinstance(value, (bytes, bytearray)):  # (a file name the scan would have refused as not UTF-8)
        return Path(bytes(value).decode("utf-8", "replace"))
    return Path(str(value) if value is not None else "")


def _text(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    return "" if value is None else str(value)


def _opt_text(value: Any) -> str | None:
    return None if value is None else _text(value)


def _json(value: Any, default: Any) -> Any:
    """``value`` parsed as JSON of the same type as ``default``; anything else is ``default``."""
    if value is None:
        return default
    try:
        parsed = json.loads(value)
    except (TypeError, ValueError, RecursionError):
        return default
    return parsed if isinstance(parsed, type(default)) else default


def _number(value: Any, kind: type, default: Any = 0) -> Any:
    try:
        return kind(value)
    except (TypeError, ValueError, OverflowError):
        return default


@dataclass(frozen=True)
class Folder:
    id: int
    path: Path
    added_at: str
    last_scan_at: str | None
    missing: bool

    @classmethod
    def from_row(cls, r: sqlite3.Row) -> Folder:
        return cls(r["id"], _path(r["path"]), _text(r["added_at"]), _opt_text(r["last_scan_at"]), bool(r["missing"]))


@dataclass(frozen=True)
class Photo:
    id: int
    folder_id: int
    path: Path
    content_hash: str  # sha256 of the file's bytes
    size: int  # bytes
    mtime: float
    width: int  # as displayed, i.e. after the EXIF orientation is applied
    height: int
    taken_at: str | None  # ISO "YYYY-MM-DDTHH:MM:SS" from EXIF, if any
    orientation: int  # EXIF orientation tag (1 = upright)
    format: str  # "JPEG", "PNG", "WEBP", "HEIF"
    missing: bool  # file gone at the last scan (records that refer to it are kept)
    duplicate_of: int | None  # id of the first photo with identical content
    added_at: str

    # Columns in field order, for the fast path of listing thousands of photos (plain tuples).
    COLUMNS = (
        "id, folder_id, path, content_hash, size, mtime, width, height, taken_at, orientation, format, missing, "
        "duplicate_of, added_at"
    )

    @classmethod
    def from_tuple(cls, t: tuple) -> Photo:
        return cls(
            t[0], t[1], _path(t[2]), _text(t[3]), _number(t[4], int), _number(t[5], float, 0.0), _number(t[6], int),
            _number(t[7], int), _opt_text(t[8]), _number(t[9], int, 1), _text(t[10]), bool(t[11]), t[12], _text(t[13]),
        )  # fmt: skip

    @classmethod
    def from_row(cls, r: sqlite3.Row) -> Photo:
        return cls.from_tuple(tuple(r[c.strip()] for c in cls.COLUMNS.split(",")))


@dataclass(frozen=True)
class Identity:
    id: int
    name: str
    class_word: str  # e.g. "dog"
    token: str  # rare token, e.g. "sks"
    kind: str  # person | pet | object
    created_at: str

    @property
    def instance_prompt(self) -> str:
        """``"sks dog"``: how captions and prompts name this subject."""
        return f"{self.token} {self.class_word}"

    @classmethod
    def from_row(cls, r: sqlite3.Row) -> Identity:
        return cls(r["id"], _text(r["name"]), _text(r["class_word"]), _text(r["token"]), _text(r["kind"]),
                   _text(r["created_at"]))


@dataclass(frozen=True)
class IdentityPhoto:
    photo: Photo
    role: str  # reference | target
    status: str  # confirmed (by the user) | suggested (by embeddings) | rejected (by the user)
    score: float | None  # similarity for suggestions


@dataclass(frozen=True)
class Caption:
    id: int
    photo_id: int
    identity_id: int | None  # None = generic caption of the photo
    model: str | None
    prompt: str | None
    text: str
    edited_by_user: bool
    updated_at: str

    @classmethod
    def from_row(cls, r: sqlite3.Row) -> Caption:
        return cls(
            r["id"], r["photo_id"], r["identity_id"], _opt_text(r["model"]), _opt_text(r["prompt"]), _text(r["text"]),
            bool(r["edited_by_user"]), _text(r["updated_at"]),
        )  # fmt: skip


@dataclass(frozen=True)
class Job:
    id: int
    kind: str  # e.g. "train", "caption", "edit", "embed"
    state: str  # queued | running | done | failed | cancelled
    progress: float  # 0..1
    message: str
    config: dict[str, Any]
    result: Any
    log: str
    identity_id: int | None
    created_at: str
    started_at: str | None
    updated_at: str
    finished_at: str | None

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed", "cancelled")

    @classmethod
    def from_row(cls, r: sqlite3.Row) -> Job:
        return cls(
            r["id"], _text(r["kind"]), _text(r["state"]), _number(r["progress"], float, 0.0), _text(r["message"]),
            _json(r["config"], {}), _result(r["result"]), _text(r["log"]), r["identity_id"],
            _text(r["created_at"]), _opt_text(r["started_at"]), _text(r["updated_at"]), _opt_text(r["finished_at"]),
        )  # fmt: skip


def _result(value: Any) -> Any:
    if value is None:
        return None
    try:
        return json.loads(value)
    except (TypeError, ValueError, RecursionError):
        return None


@dataclass(frozen=True)
class Lora:
    id: int
    identity_id: int
    path: Path
    base_model: str
    settings: dict[str, Any]
    job_id: int | None
    created_at: str

    @classmethod
    def from_row(cls, r: sqlite3.Row) -> Lora:
        return cls(
            r["id"], r["identity_id"], _path(r["path"]), _text(r["base_model"]), _json(r["settings"], {}),
            r["job_id"], _text(r["created_at"]),
        )  # fmt: skip


@dataclass(frozen=True)
class Edit:
    id: int
    photo_id: int
    parent_edit_id: int | None  # an edit of an edit
    identity_id: int | None
    lora_id: int | None
    source_prompt: str
    target_prompt: str
    params: dict[str, Any]
    mask_paths: list[str]
    output_path: Path
    job_id: int | None
    created_at: str
    recipe: dict[str, Any] = field(default_factory=dict)  # what made it (lipe_engine.editing.recipe)

    @classmethod
    def from_row(cls, r: sqlite3.Row) -> Edit:
        return cls(
            r["id"], r["photo_id"], r["parent_edit_id"], r["identity_id"], r["lora_id"], _text(r["source_prompt"]),
            _text(r["target_prompt"]), _json(r["params"], {}), _json(r["mask_paths"], []), _path(r["output_path"]),
            r["job_id"], _text(r["created_at"]), _json_dict(r["recipe"]),
        )  # fmt: skip


RESULT_STATUSES = ("pending", "kept", "discarded")


@dataclass(frozen=True)
class EditCandidate:
    """One result of a queued edit, waiting for the user's review (kept ones become edits)."""

    id: int
    job_id: int | None
    photo_id: int
    identity_id: int | None
    path: Path
    source_prompt: str
    target_prompt: str
    seed: int | None
    recipe: dict[str, Any]
    mask_paths: list[str]
    status: str  # pending | kept | discarded
    edit_id: int | None  # the version it became
    created_at: str

    @classmethod
    def from_row(cls, r: sqlite3.Row) -> EditCandidate:
        return cls(
            r["id"], r["job_id"], r["photo_id"], r["identity_id"], Path(r["path"]), r["source_prompt"],
            r["target_prompt"], r["seed"], _json_dict(r["recipe"]), json.loads(r["mask_paths"]), r["status"],
            r["edit_id"], r["created_at"],
        )  # fmt: skip


def _json_dict(text: str | None) -> dict[str, Any]:
    """A JSON object column; anything else (a damaged or foreign value) reads as empty."""
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


@dataclass
class ScanReport:
    """What one scan did; ``skipped`` holds (path, reason) for every file that was not imported."""

    added: int = 0
    changed: int = 0
    removed: int = 0
    unchanged: int = 0
    duplicates: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.added} added, {self.changed} changed, {self.removed} removed, {self.unchanged} unchanged, "
            f"{self.duplicates} duplicates, {len(self.skipped)} skipped"
        )
