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


@dataclass(frozen=True)
class Folder:
    id: int
    path: Path
    added_at: str
    last_scan_at: str | None
    missing: bool

    @classmethod
    def from_row(cls, r: sqlite3.Row) -> Folder:
        return cls(r["id"], Path(r["path"]), r["added_at"], r["last_scan_at"], bool(r["missing"]))


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
            t[0], t[1], Path(t[2]), t[3], t[4], t[5], t[6], t[7], t[8], t[9], t[10], bool(t[11]), t[12], t[13]
        )

    @classmethod
    def from_row(cls, r: sqlite3.Row) -> Photo:
        return cls(
            r["id"], r["folder_id"], Path(r["path"]), r["content_hash"], r["size"], r["mtime"],
            r["width"], r["height"], r["taken_at"], r["orientation"], r["format"], bool(r["missing"]),
            r["duplicate_of"], r["added_at"],
        )  # fmt: skip


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
        return cls(r["id"], r["name"], r["class_word"], r["token"], r["kind"], r["created_at"])


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
            r["id"], r["photo_id"], r["identity_id"], r["model"], r["prompt"], r["text"],
            bool(r["edited_by_user"]), r["updated_at"],
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
            r["id"], r["kind"], r["state"], r["progress"], r["message"], json.loads(r["config"]),
            json.loads(r["result"]) if r["result"] is not None else None, r["log"], r["identity_id"],
            r["created_at"], r["started_at"], r["updated_at"], r["finished_at"],
        )  # fmt: skip


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
            r["id"], r["identity_id"], Path(r["path"]), r["base_model"], json.loads(r["settings"]),
            r["job_id"], r["created_at"],
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
            r["id"], r["photo_id"], r["parent_edit_id"], r["identity_id"], r["lora_id"], r["source_prompt"],
            r["target_prompt"], json.loads(r["params"]), json.loads(r["mask_paths"]), Path(r["output_path"]),
            r["job_id"], r["created_at"], _json_dict(r["recipe"]),
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
