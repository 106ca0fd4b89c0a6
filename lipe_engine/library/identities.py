"""Identities (a subject: name, class word, rare token, kind) and which photos show them.

A photo's link to an identity has a role (``reference``: training photos; ``target``: photos to
edit) and a status: ``confirmed`` (the user said yes), ``suggested`` (embeddings think so) or
``rejected`` (the user said no). Suggestions never change a confirmed or rejected link; only a user
action (``add_identity_photos`` / ``reject_identity_photos`` / ``remove_identity_photos``) does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .db import LibraryError
from .photos import PhotoRef, PhotosMixin
from .records import KINDS, LINK_STATUSES, ROLES, Identity, IdentityPhoto, Photo

IdentityRef = int | str | Identity

# Rare tokens commonly used for DreamBooth/LoRA subjects; each identity gets one not used by another.
RARE_TOKENS = ("sks", "ohwx", "zwx", "bnha", "pcam", "qwv", "xjy", "vcx", "tqz", "mkq", "rvn", "jxl")
_PERSON_WORDS = {"person", "man", "woman", "boy", "girl", "child", "kid", "baby", "people", "lady", "guy"}
_PET_WORDS = {
    "dog", "cat", "puppy", "kitten", "pet", "rabbit", "bunny", "hamster", "parrot", "bird", "horse",
    "guinea pig", "ferret", "turtle", "fish",
}  # fmt: skip
_NAME_RE = re.compile(r"^[^\x00-\x1f/\\]{1,64}$")
_WORD_RE = re.compile(r"^[a-z][a-z \-]{0,39}$")
_TOKEN_RE = re.compile(r"^[a-z0-9]{2,16}$")


def guess_kind(class_word: str) -> str:
    w = class_word.strip().lower()
    if w in _PERSON_WORDS:
        return "person"
    if w in _PET_WORDS:
        return "pet"
    return "object"


class IdentitiesMixin(PhotosMixin):
    def create_identity(
        self, name: str, class_word: str, *, token: str | None = None, kind: str | None = None
    ) -> Identity:
        """A new identity; ``token`` defaults to a rare token no other identity uses."""
        name = name.strip()
        if not _NAME_RE.match(name) or not name.isprintable():  # no control or line-break characters
            raise LibraryError(
                f"identity name '{name}' is not usable",
                "use 1-64 characters without slashes or control characters",
            )
        cw = class_word.strip().lower()
        if not _WORD_RE.match(cw):
            raise LibraryError(
                f"class word '{class_word}' is not usable", "use a plain noun such as dog, cat, person or toy"
            )
        kind = kind or guess_kind(cw)
        if kind not in KINDS:
            raise LibraryError(f"identity kind '{kind}' is unknown", f"use one of {', '.join(KINDS)}")
        used = {r[0] for r in self._all("SELECT token FROM identities")}
        if token is None:
            token = next((t for t in RARE_TOKENS if t not in used), None) or f"sks{len(used)}"
        token = token.strip().lower()
        if not _TOKEN_RE.match(token):
            raise LibraryError(f"rare token '{token}' is not usable", "use 2-16 lowercase letters or digits")
        if token in used:
            raise LibraryError(f"rare token '{token}' is used by another identity", "pick another token")
        with self.transaction() as c:
            if c.execute("SELECT 1 FROM identities WHERE name = ?", (name,)).fetchone():
                raise LibraryError(
                    f"identity '{name}' already exists", "pick another name or use that identity"
                )
            cur = c.execute(
                "INSERT INTO identities(name, class_word, token, kind) VALUES (?, ?, ?, ?)",
                (name, cw, token, kind),
            )
        return self.get_identity(int(cur.lastrowid or 0))

    def get_identity(self, ref: IdentityRef) -> Identity:
        if isinstance(ref, Identity):
            ref = ref.id
        if isinstance(ref, int):
            row = self._one("SELECT * FROM identities WHERE id = ?", (ref,))
        else:
            row = self._one("SELECT * FROM identities WHERE name = ?", (ref.strip(),))
        if row is None:
            if isinstance(ref, int):  # an id from a record (a job, a LoRA): the identity was deleted
                raise LibraryError(f"identity #{ref} does not exist (it was deleted)",
                                   "list the identities with `lipe identity list`")
            raise LibraryError(
                f"identity '{ref}' does not exist", f"create it with `lipe identity create {ref} --class dog`"
            )
        return Identity.from_row(row)

    def list_identities(self) -> list[Identity]:
        return [Identity.from_row(r) for r in self._all("SELECT * FROM identities ORDER BY name")]

    def delete_identity(self, ref: IdentityRef) -> None:
        """Forget an identity, its photo links, its captions and LoRA records (files stay on disk)."""
        ident = self.get_identity(ref)
        with self.transaction() as c:
            c.execute("DELETE FROM identities WHERE id = ?", (ident.id,))

    # --- photo links ------------------------------------------------------------------------------

    def add_identity_photos(
        self, ref: IdentityRef, photos: Iterable[PhotoRef], role: str = "reference"
    ) -> int:
        """User confirms these photos show the identity (with ``role``); all or none are added."""
        if role not in ROLES:
            raise LibraryError(f"photo role '{role}' is unknown", f"use one of {', '.join(ROLES)}")
        ident = self.get_identity(ref)
        resolved = [self.get_photo(p) for p in photos]  # validate every photo before writing any
        for p in resolved:
            if p.missing:
                raise LibraryError(
                    f"photo '{p.path}' is missing on disk", "restore the file or rescan the library"
                )
        with self.transaction() as c:
            for p in resolved:
                c.execute(
                    "INSERT INTO identity_photos(identity_id, photo_id, role, status, score) "
                    "VALUES (?, ?, ?, 'confirmed', NULL) ON CONFLICT(identity_id, photo_id) "
                    "DO UPDATE SET role = excluded.role, status = 'confirmed', score = NULL",
                    (ident.id, p.id, role),
                )
        return len(resolved)

    def reject_identity_photos(self, ref: IdentityRef, photos: Iterable[PhotoRef]) -> int:
        """User says these photos do not show the identity; suggestions will not bring them back."""
        ident = self.get_identity(ref)
        resolved = [self.get_photo(p) for p in photos]
        with self.transaction() as c:
            for p in resolved:
                c.execute(
                    "INSERT INTO identity_photos(identity_id, photo_id, role, status) VALUES (?, ?, 'reference', "
                    "'rejected') ON CONFLICT(identity_id, photo_id) DO UPDATE SET status = 'rejected', score = NULL",
                    (ident.id, p.id),
                )
        return len(resolved)

    def remove_identity_photos(self, ref: IdentityRef, photos: Iterable[PhotoRef]) -> int:
        """Drop the links entirely (the photo may be suggested again later)."""
        ident = self.get_identity(ref)
        resolved = [self.get_photo(p) for p in photos]
        with self.transaction() as c:
            n = 0
            for p in resolved:
                n += c.execute(
                    "DELETE FROM identity_photos WHERE identity_id = ? AND photo_id = ?", (ident.id, p.id)
                ).rowcount
        return n

    def suggest_identity_photos(
        self, ref: IdentityRef, scored: Iterable[tuple[PhotoRef, float]], role: str = "reference"
    ) -> int:
        """Record suggestions; photos the user confirmed or rejected are left exactly as they are."""
        ident = self.get_identity(ref)
        resolved = [(self.get_photo(p), float(s)) for p, s in scored]
        n = 0
        with self.transaction() as c:
            for p, score in resolved:
                n += c.execute(
                    "INSERT INTO identity_photos(identity_id, photo_id, role, status, score) "
                    "VALUES (?, ?, ?, 'suggested', ?) ON CONFLICT(identity_id, photo_id) "
                    "DO UPDATE SET score = excluded.score WHERE identity_photos.status = 'suggested'",
                    (ident.id, p.id, role, score),
                ).rowcount
        return n

    def identity_photos(
        self, ref: IdentityRef, role: str | None = None, status: str | None = "confirmed"
    ) -> list[IdentityPhoto]:
        """Linked photos (``status=None``: every status), references first, then by time taken."""
        ident = self.get_identity(ref)
        if role is not None and role not in ROLES:
            raise LibraryError(f"photo role '{role}' is unknown", f"use one of {', '.join(ROLES)}")
        if status is not None and status not in LINK_STATUSES:
            raise LibraryError(f"link status '{status}' is unknown", f"use one of {', '.join(LINK_STATUSES)}")
        sql = (
            "SELECT p.*, ip.role AS ip_role, ip.status AS ip_status, ip.score AS ip_score FROM identity_photos ip "
            "JOIN photos p ON p.id = ip.photo_id WHERE ip.identity_id = ?"
        )
        params: list = [ident.id]
        if role is not None:
            sql += " AND ip.role = ?"
            params.append(role)
        if status is not None:
            sql += " AND ip.status = ?"
            params.append(status)
        sql += " ORDER BY ip.role = 'target', ip.score DESC, COALESCE(p.taken_at, p.added_at), p.id"
        return [
            IdentityPhoto(Photo.from_row(r), r["ip_role"], r["ip_status"], r["ip_score"])
            for r in self._all(sql, params)
        ]
