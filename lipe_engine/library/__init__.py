"""Photo library and identities: the SQLite store every part of the app shares (no Qt here).

Public API (stable; other parts of the app code against this)::

    from lipe_engine.library import Library, LibraryError
    lib = Library.open(path=None)   # data dir: path > $LIPE_DATA_DIR > platformdirs user data dir
                                    # (holds library.sqlite, thumbs/, edits/, loras/); also a context manager
    lib.close()

    # folders and photos (originals are only ever read)
    folder = lib.add_folder("~/Pictures")            # Folder(id, path, added_at, last_scan_at, missing)
    report = lib.scan(folders=None, progress=cb, cancel=token)     # ScanReport: added/changed/removed/
                                                     # unchanged/duplicates, skipped=[(path, reason)]
    lib.list_folders(); lib.get_folder(id_or_path); lib.remove_folder(ref)
    lib.list_photos(folder=None, include_missing=False, include_duplicates=True,
                    order="taken"|"path"|"added", limit=None, offset=0) -> list[Photo]
    lib.count_photos(...); lib.get_photo(id_or_path) -> Photo; lib.duplicates_of(photo)
    lib.scan_issues(folder=None) -> [(path, reason)]   # files the last scans skipped
    lib.thumbnails.get(photo) -> Path                  # cached JPEG thumbnail (256 px, size-capped)
    # Photo: id, folder_id, path, content_hash (sha256 of bytes), size, mtime, width, height (upright),
    #        taken_at (EXIF, ISO), orientation (EXIF tag), format, missing, duplicate_of, added_at

    # identities (Identity: id, name, class_word, token, kind, created_at, .instance_prompt "sks dog")
    ident = lib.create_identity("Rex", "dog", token=None, kind=None)   # token: a free rare token
    lib.get_identity(name_or_id); lib.list_identities(); lib.delete_identity(ref)
    lib.add_identity_photos(ident, [photo, ...], role="reference"|"target")   # user-confirmed
    lib.reject_identity_photos(ident, photos); lib.remove_identity_photos(ident, photos)
    lib.suggest_identity_photos(ident, [(photo, score)])     # never touches confirmed/rejected links
    lib.identity_photos(ident, role=None, status="confirmed"|"suggested"|"rejected"|None)
        -> list[IdentityPhoto(photo, role, status, score)]

    # captions (generic, or per identity); a user-edited caption is never silently overwritten
    lib.set_caption(photo, text, identity=None, model=None, prompt=None, by_user=False,
                    if_user_edited="raise"|"keep"|"overwrite") -> Caption   # raises CaptionEditedError
    lib.get_caption(photo, identity=None, fallback_generic=True) -> Caption | None
    lib.delete_caption(photo, identity=None)

    # jobs: queued -> running -> done|failed|cancelled (finished jobs are never reopened)
    job = lib.create_job("train", config={...}, identity=ident.id)   # Job(id, kind, state, progress,
    lib.update_job(job.id, state=, progress=0..1, message=, result=, log="appended line")  # message,
    lib.get_job(id); lib.list_jobs(kind=None, states=None, limit=None)   # config, result, log, ...)
    lib.claim_next_job(kind=None) -> Job | None    # atomic: oldest queued -> running
    lib.append_job_log(id, text); lib.delete_job(id)

    # outputs: LoRA priors and edits (new files under the data dir, versions of their photo)
    d = lib.new_lora_dir(ident); lora = lib.record_lora(ident, path, base_model, settings, job_id=None)
    lib.list_loras(ident); lib.latest_lora(ident); lib.get_lora(id)
    out = lib.new_edit_path(photo, ".png")     # write the image there, then:
    edit = lib.record_edit(photo, out, source_prompt=, target_prompt=, params={}, mask_paths=[],
                           parent_edit=None, identity=None, lora_id=None, job_id=None)
    lib.list_edits(photo); lib.get_edit(id); lib.delete_edit(id)   # versions (recipe: what made them)
    lib.add_edit_result(...); lib.list_edit_results(job_id=, photo=, status=)   # queued edits' results
    lib.keep_edit_result(id) -> Edit; lib.discard_edit_result(id)               # the morning review

    # backups (lipe_engine.library.backup): SQLite online copies in <data dir>/backups/, made before
    # migrations and daily (on open and, at most hourly, after writes); restore moves the current file aside
    lib.backup_now("manual") -> Path; lib.backup_if_due() -> Path | None
    backup.list_backups(data_dir) -> [Backup(path, created, reason)]; backup.restore(data_dir, name_or_number)
    # a damaged file (quick_check on open) or an empty one where a library lived raises LibraryError

    # settings (key/value strings), e.g. the model choices of lipe_engine.locations
    lib.get_setting(key, default=None); lib.set_setting(key, value_or_None)
    lib.transaction()   # context manager: one BEGIN IMMEDIATE write (for multi-call atomicity)

    # photo vectors (computed by lipe_engine.similarity with the one CLIP of lipe_engine.encoders)
    vectors.embedded(lib, model) -> {(photo_id, content_hash)}; vectors.store(lib, model, [(photo, vec)])
    vectors.load(lib, model, ids) -> {photo_id: vector}

    # training dataset for kohya_ss / OneTrainer (lipe_engine.library.export)
    export.export_identity(lib, ident, out_dir, role="reference", max_size=None, kohya_repeats=None,
                           progress=cb, cancel=token) -> ExportResult(dir, images)   # + same-stem .txt

Settings used by the library: ``thumbnail_cache_mb`` (default 512). Every bad input
raises ``LibraryError`` (a ``LipeError``) with a one-line "what: fix." message. Use one ``Library``
per thread (or process); WAL plus a busy timeout let the GUI and the CLI share one file.
"""

from __future__ import annotations

from . import backup
from .captions import CaptionEditedError
from .db import SCHEMA_VERSION, LibraryError
from .library import ENV_DATA_DIR, Library, default_data_dir
from .opening import MissingLibraryError
from .records import (
    Caption,
    Edit,
    EditCandidate,
    Folder,
    Identity,
    IdentityPhoto,
    Job,
    Lora,
    Photo,
    ScanReport,
)

__all__ = [
    "backup",
    "ENV_DATA_DIR",
    "SCHEMA_VERSION",
    "Caption",
    "CaptionEditedError",
    "Edit",
    "EditCandidate",
    "Folder",
    "Identity",
    "IdentityPhoto",
    "Job",
    "Library",
    "LibraryError",
    "Lora",
    "MissingLibraryError",
    "Photo",
    "ScanReport",
    "default_data_dir",
]
