"""Versions of a photo and the edit results waiting for review.

A version (an ``edits`` row) is a file the app wrote under ``<data dir>/edits/`` with the recipe
that made it. Results of a queued edit job are ``edit_results`` rows (``pending``) until the user
keeps them (they become versions) or discards them (their files are deleted). Deleting a version
deletes its record and the files the app wrote for it, nothing else: the original, other versions
(an edit of it keeps its own record, its parent link cleared) and files outside the data folder stay.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..locations import DataLayout
from ._base import to_json
from .db import LibraryError
from .identities import IdentityRef
from .outputs import OutputsMixin
from .photos import PhotoRef
from .records import RESULT_STATUSES, Edit, EditCandidate


class VersionsMixin(OutputsMixin):
    def _owned_file(self, path: str | os.PathLike[str]) -> Path | None:
        """``path`` when it is a file the app wrote (under the data folder's edits/), else None."""
        edits = Path(os.path.realpath(DataLayout(self.data_dir).edits))
        real = Path(os.path.realpath(path))
        if edits not in real.parents or not real.is_file():
            return None
        clash = self._one("SELECT 1 FROM photos WHERE path IN (?, ?)", (str(path), str(real)))
        return None if clash is not None else real

    def _remove_files(self, paths: Sequence[str | os.PathLike[str]]) -> list[Path]:
        removed = []
        for p in paths:
            owned = self._owned_file(p)
            if owned is not None:
                try:
                    owned.unlink()
                    removed.append(owned)
                except FileNotFoundError:
                    pass
        return removed

    def delete_edit(self, edit_id: int) -> list[Path]:
        """Delete version ``edit_id``: its record, then its image and mask files (app-made ones only);
        returns the files removed. Versions made from it keep their own records and files."""
        edit = self.get_edit(edit_id)
        shared = {str(r[0]) for r in self._all("SELECT output_path FROM edits WHERE id != ?", (edit_id,))}
        with self.transaction() as c:
            c.execute("DELETE FROM edits WHERE id = ?", (edit_id,))
            c.execute("UPDATE edit_results SET status = 'discarded' WHERE edit_id IS NULL AND path = ?",
                      (str(edit.output_path),))
        files = [p for p in [str(edit.output_path), *edit.mask_paths] if p not in shared]
        return self._remove_files(files)

    # --- results of queued edits --------------------------------------------------------------------

    def add_edit_result(self, photo: PhotoRef, path: str | os.PathLike[str], *, job_id: int | None,
                        identity: IdentityRef | None, source_prompt: str, target_prompt: str,
                        seed: int | None, recipe: dict[str, Any], mask_paths: Sequence[str] = ()) -> EditCandidate:
        """Record a written result of a queued edit, pending the user's review."""
        p = self.get_photo(photo)
        out = Path(path).absolute()
        if self._owned_file(out) is None:
            raise LibraryError(f"edit result '{out}' is not a file under the data folder's edits",
                               "write results with the edit job (lipe_engine.editing.job)")
        iid = self.get_identity(identity).id if identity is not None else None
        with self.transaction() as c:
            cur = c.execute(
                "INSERT INTO edit_results(job_id, photo_id, identity_id, path, source_prompt, target_prompt, seed, "
                "recipe, mask_paths) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (job_id, p.id, iid, str(out), source_prompt, target_prompt, seed, to_json(recipe, "edit recipe"),
                 json.dumps([str(m) for m in mask_paths])))
        return self.get_edit_result(int(cur.lastrowid or 0))

    def get_edit_result(self, result_id: int) -> EditCandidate:
        row = self._one("SELECT * FROM edit_results WHERE id = ?", (result_id,))
        if row is None:
            raise LibraryError(f"edit result {result_id} does not exist", "list them with `lipe versions review`")
        return EditCandidate.from_row(row)

    def list_edit_results(self, *, job_id: int | None = None, photo: PhotoRef | None = None,
                          status: str | None = None) -> list[EditCandidate]:
        """Results in the order they were made (a photo's targets x seeds together)."""
        sql, params = "SELECT * FROM edit_results WHERE 1=1", list[Any]()
        if job_id is not None:
            sql += " AND job_id = ?"
            params.append(job_id)
        if photo is not None:
            sql += " AND photo_id = ?"
            params.append(self.get_photo(photo).id)
        if status is not None:
            if status not in RESULT_STATUSES:
                raise LibraryError(f"result status '{status}' is unknown", f"use one of {', '.join(RESULT_STATUSES)}")
            sql += " AND status = ?"
            params.append(status)
        return [EditCandidate.from_row(r) for r in self._all(sql + " ORDER BY id", params)]

    def keep_edit_result(self, result_id: int) -> Edit:
        """The result becomes a version of its photo (its file and recipe as they are)."""
        res = self.get_edit_result(result_id)
        if res.status == "kept" and res.edit_id is not None:
            return self.get_edit(res.edit_id)
        if res.status == "discarded":
            raise LibraryError(f"edit result {result_id} was discarded (its file is deleted)",
                               "redo the edit to make it again")
        lora = res.recipe.get("lora") if isinstance(res.recipe.get("lora"), dict) else None
        lora_id = lora.get("id") if lora else None
        if lora_id is not None and self._one("SELECT 1 FROM loras WHERE id = ?", (lora_id,)) is None:
            lora_id = None  # the prior's record was deleted since; the recipe still names its file and hash
        moves = self._beside_original(res)  # the job's folder -> edits/<photo id>/, with the photo's name
        try:
            with self.transaction():
                image = moves[0][1] if moves else res.path
                masks = [str(dict(moves).get(Path(m), m)) for m in res.mask_paths]
                edit = self.record_edit(
                    res.photo_id, image, source_prompt=res.source_prompt, target_prompt=res.target_prompt,
                    params=res.recipe.get("params") or {}, mask_paths=masks, identity=res.identity_id,
                    lora_id=lora_id if isinstance(lora_id, int) else None, job_id=res.job_id, recipe=res.recipe)
                self.conn.execute("UPDATE edit_results SET status = 'kept', edit_id = ?, path = ?, mask_paths = ? "
                                  "WHERE id = ?", (edit.id, str(image), json.dumps(masks), res.id))
        except BaseException:
            for src, dest in reversed(moves):  # nothing recorded: the files go back where the result says
                if dest.exists() and not src.exists():
                    os.replace(dest, src)
            raise
        return edit

    def _beside_original(self, res: EditCandidate) -> list[tuple[Path, Path]]:
        """Move a result's image and masks next to the photo's other versions; (from, to) pairs."""
        if not res.path.is_file():
            raise LibraryError(f"edit result {res.id}'s file '{res.path}' is gone", "discard it, or redo the edit")
        dest = Path(self.new_edit_path(res.photo_id, res.path.suffix or ".png"))
        pairs = [(res.path, dest)]
        for m in res.mask_paths:
            src = Path(m)
            if src.is_file():
                tail = src.name[len(res.path.stem):] if src.name.startswith(res.path.stem) else f"-{src.name}"
                pairs.append((src, dest.with_name(dest.stem + tail)))  # "-source-mask.png" stays
        done: list[tuple[Path, Path]] = []
        try:
            for src, to in pairs:
                if to.exists():
                    raise LibraryError(f"'{to}' already exists", "try again")
                os.replace(src, to)
                done.append((src, to))
        except BaseException:
            for src, to in reversed(done):
                os.replace(to, src)
            raise
        return done

    def discard_edit_result(self, result_id: int) -> list[Path]:
        """Mark the result discarded and delete its files (a kept one is a version: delete that instead)."""
        res = self.get_edit_result(result_id)
        if res.status == "kept":
            raise LibraryError(f"edit result {result_id} was kept as version {res.edit_id}",
                               f"delete the version instead (`lipe versions delete {res.edit_id}`)")
        with self.transaction() as c:
            c.execute("UPDATE edit_results SET status = 'discarded' WHERE id = ?", (res.id,))
        return self._remove_files([res.path, *res.mask_paths])
