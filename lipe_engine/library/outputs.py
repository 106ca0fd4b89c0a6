"""What the app produces: LoRA priors of identities and edits of photos (new files, never originals).

Edits live in ``<data dir>/edits/<photo id>/``; ``new_edit_path`` hands out a fresh name there and
``record_edit`` refuses an output path that is one of the library's photos, so an original can never
be recorded as (or overwritten by) an edit. An edit of an edit names its ``parent_edit``; together
they are the versions of their photo.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..locations import DataLayout
from ._base import to_json
from .captions import CaptionsMixin
from .db import LibraryError
from .identities import IdentityRef
from .photos import PhotoRef
from .records import Edit, Lora


class OutputsMixin(CaptionsMixin):
    # --- LoRA priors ------------------------------------------------------------------------------

    @property
    def loras_dir(self) -> Path:
        return DataLayout(self.data_dir).loras

    def new_lora_dir(self, identity: IdentityRef) -> Path:
        """A fresh, empty folder for a LoRA of ``identity`` under the data dir (created)."""
        ident = self.get_identity(identity)
        d = self.loras_dir / f"{ident.id}" / uuid.uuid4().hex[:12]
        d.mkdir(parents=True)
        return d

    def record_lora(
        self,
        identity: IdentityRef,
        path: str | os.PathLike[str],
        base_model: str,
        settings: dict[str, Any] | None = None,
        *,
        job_id: int | None = None,
    ) -> Lora:
        ident = self.get_identity(identity)
        p = Path(path).expanduser().absolute()
        if not p.exists():
            raise LibraryError(f"LoRA '{p}' does not exist", "save the trained weights before recording them")
        with self.transaction() as c:
            # A runner killed after this commit records the same files again on resume: one row, not two.
            row = c.execute("SELECT id FROM loras WHERE identity_id = ? AND path = ? AND job_id IS ?",
                            (ident.id, str(p), job_id)).fetchone()
            if row is not None:
                return self.get_lora(int(row[0]))
            cur = c.execute(
                "INSERT INTO loras(identity_id, path, base_model, settings, job_id) VALUES (?, ?, ?, ?, ?)",
                (ident.id, str(p), str(base_model), to_json(settings or {}, "LoRA settings"), job_id),
            )
        return self.get_lora(int(cur.lastrowid or 0))

    def get_lora(self, lora_id: int) -> Lora:
        row = self._one("SELECT * FROM loras WHERE id = ?", (lora_id,))
        if row is None:
            raise LibraryError(f"LoRA {lora_id} does not exist", "train one with `lipe train`")
        return Lora.from_row(row)

    def list_loras(self, identity: IdentityRef | None = None) -> list[Lora]:
        """Newest first."""
        if identity is None:
            rows = self._all("SELECT * FROM loras ORDER BY id DESC")
        else:
            rows = self._all(
                "SELECT * FROM loras WHERE identity_id = ? ORDER BY id DESC",
                (self.get_identity(identity).id,),
            )
        return [Lora.from_row(r) for r in rows]

    def latest_lora(self, identity: IdentityRef) -> Lora | None:
        loras = self.list_loras(identity)
        return loras[0] if loras else None

    # --- edits ------------------------------------------------------------------------------------

    @property
    def edits_dir(self) -> Path:
        return DataLayout(self.data_dir).edits

    def new_edit_path(self, photo: PhotoRef, suffix: str = ".png") -> Path:
        """A fresh file name for an edit of ``photo`` under the data dir (folder created, file not)."""
        p = self.get_photo(photo)
        d = self.edits_dir / str(p.id)
        d.mkdir(parents=True, exist_ok=True)
        return d / f"{p.path.stem[:40]}_edit_{uuid.uuid4().hex[:10]}{suffix}"

    def record_edit(
        self,
        photo: PhotoRef,
        output_path: str | os.PathLike[str],
        *,
        source_prompt: str = "",
        target_prompt: str = "",
        params: dict[str, Any] | None = None,
        mask_paths: Sequence[str | os.PathLike[str]] | None = None,
        parent_edit: int | None = None,
        identity: IdentityRef | None = None,
        lora_id: int | None = None,
        job_id: int | None = None,
        recipe: dict[str, Any] | None = None,
    ) -> Edit:
        """Record a written edit output as a new version of ``photo`` (``recipe``: what made it)."""
        p = self.get_photo(photo)
        out = Path(output_path).expanduser().absolute()
        if not out.is_file():
            raise LibraryError(
                f"edit output '{out}' does not exist", "write the image before recording the edit"
            )
        real = os.path.realpath(out)
        clash = self._one("SELECT id FROM photos WHERE path = ? OR path = ?", (str(out), real))
        if clash is not None:
            raise LibraryError(
                f"edit output '{out}' is an original photo of the library",
                "write edits to a new file (Library.new_edit_path)",
            )
        if parent_edit is not None:
            parent = self.get_edit(parent_edit)
            if parent.photo_id != p.id:
                raise LibraryError(
                    f"edit {parent_edit} is a version of another photo",
                    "give an edit of the same photo as parent",
                )
        iid = self.get_identity(identity).id if identity is not None else None
        if lora_id is not None:
            self.get_lora(lora_id)
        masks = [str(Path(m).expanduser().absolute()) for m in (mask_paths or [])]
        with self.transaction() as c:
            cur = c.execute(
                "INSERT INTO edits(photo_id, parent_edit_id, identity_id, lora_id, source_prompt, target_prompt, "
                "params, mask_paths, output_path, job_id, recipe) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    p.id, parent_edit, iid, lora_id, source_prompt, target_prompt,
                    to_json(params or {}, "edit params"), json.dumps(masks), str(out), job_id,
                    to_json(recipe or {}, "edit recipe"),
                ),
            )  # fmt: skip
        return self.get_edit(int(cur.lastrowid or 0))

    def get_edit(self, edit_id: int) -> Edit:
        row = self._one("SELECT * FROM edits WHERE id = ?", (edit_id,))
        if row is None:
            raise LibraryError(
                f"version (edit) {edit_id} does not exist", "list a photo's versions with `lipe versions PHOTO`"
            )
        return Edit.from_row(row)

    def list_edits(self, photo: PhotoRef | None = None) -> list[Edit]:
        """A photo's versions, oldest first (all edits when ``photo`` is None)."""
        if photo is None:
            rows = self._all("SELECT * FROM edits ORDER BY id")
        else:
            rows = self._all(
                "SELECT * FROM edits WHERE photo_id = ? ORDER BY id", (self.get_photo(photo).id,)
            )
        return [Edit.from_row(r) for r in rows]
