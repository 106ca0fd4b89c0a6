"""Captions of photos: generic, or specific to one identity (naming it by its rare token).

A caption the user edited is never silently replaced by a machine caption: ``set_caption`` from a
model (``by_user=False``) on a user-edited caption raises ``CaptionEditedError`` unless the caller
says what to do with ``if_user_edited="keep"`` (leave it, return it) or ``"overwrite"``.
"""

from __future__ import annotations

from ._base import now_iso
from .db import LibraryError
from .identities import IdentitiesMixin, IdentityRef
from .photos import PhotoRef
from .records import Caption

_POLICIES = ("raise", "keep", "overwrite")


class CaptionEditedError(LibraryError):
    """A machine caption would replace one the user wrote."""


class CaptionsMixin(IdentitiesMixin):
    def set_caption(
        self,
        photo: PhotoRef,
        text: str,
        *,
        identity: IdentityRef | None = None,
        model: str | None = None,
        prompt: str | None = None,
        by_user: bool = False,
        if_user_edited: str = "raise",
    ) -> Caption:
        """Store the caption of ``photo`` (for ``identity``, or generic); returns what is stored now."""
        if if_user_edited not in _POLICIES:
            raise LibraryError(
                f"caption policy '{if_user_edited}' is unknown", f"use one of {', '.join(_POLICIES)}"
            )
        text = " ".join(text.split())
        if not text:
            raise LibraryError("caption text is empty", "write a short description of the photo")
        p = self.get_photo(photo)
        iid = self.get_identity(identity).id if identity is not None else None
        with self.transaction() as c:
            row = c.execute(
                "SELECT * FROM captions WHERE photo_id = ? AND COALESCE(identity_id, 0) = ?", (p.id, iid or 0)
            ).fetchone()
            if row is not None and row["edited_by_user"] and not by_user:
                if if_user_edited == "keep":
                    return Caption.from_row(row)
                if if_user_edited == "raise":
                    raise CaptionEditedError(
                        f"caption of photo '{p.path.name}' was edited by the user",
                        "pass if_user_edited='keep' to leave it or 'overwrite' to replace it",
                    )
            if row is None:
                c.execute(
                    "INSERT INTO captions(photo_id, identity_id, model, prompt, text, edited_by_user, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (p.id, iid, model, prompt, text, int(by_user), now_iso()),
                )
            else:
                c.execute(
                    "UPDATE captions SET model = ?, prompt = ?, text = ?, edited_by_user = ?, updated_at = ? "
                    "WHERE id = ?",
                    (model, prompt, text, int(by_user), now_iso(), row["id"]),
                )
            out = c.execute(
                "SELECT * FROM captions WHERE photo_id = ? AND COALESCE(identity_id, 0) = ?", (p.id, iid or 0)
            ).fetchone()
        return Caption.from_row(out)

    def get_caption(
        self, photo: PhotoRef, *, identity: IdentityRef | None = None, fallback_generic: bool = True
    ) -> Caption | None:
        """The identity's caption of the photo (else the generic one if ``fallback_generic``), or None."""
        p = self.get_photo(photo)
        if identity is not None:
            iid = self.get_identity(identity).id
            row = self._one("SELECT * FROM captions WHERE photo_id = ? AND identity_id = ?", (p.id, iid))
            if row is not None or not fallback_generic:
                return Caption.from_row(row) if row is not None else None
        row = self._one("SELECT * FROM captions WHERE photo_id = ? AND identity_id IS NULL", (p.id,))
        return Caption.from_row(row) if row is not None else None

    def delete_caption(self, photo: PhotoRef, *, identity: IdentityRef | None = None) -> bool:
        p = self.get_photo(photo)
        iid = self.get_identity(identity).id if identity is not None else None
        with self.transaction() as c:
            n = c.execute(
                "DELETE FROM captions WHERE photo_id = ? AND COALESCE(identity_id, 0) = ?", (p.id, iid or 0)
            ).rowcount
        return n > 0
