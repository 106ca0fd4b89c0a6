"""The edit window's source prompt and model notice (a mixin of ``EditWindow``).

The source prompt is the engine's (``lipe_engine.editing.plan.plan_source``, the same rules as
``lipe edit --identity`` and the queue's edit jobs): the photo's own description, as in the paper;
a photo nobody described is described by LLaVA here, on a worker thread with progress and Cancel.
Suggestions are the engine's target prompts (``target_prompt``: only the pose or view phrase changes). When the shipped toy model would edit a photo that
is not from its toy world, a one-line notice with a Settings button says so before Edit is pressed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lipe_engine.editing.plan import (
    GENERIC_CAPTION,
    IDENTITY_CAPTION,
    VERSION_PROMPT,
    SourceChoice,
    plan_source,
    target_prompt,
)
from lipe_engine.errors import LipeError
from lipe_engine.toyworld.photos import is_toy_model, looks_like_toy_photo

from ..logs import user_message
from ..settings_dialog import SettingsDialog
from ..workers import Worker
from .engine import caption_for_edit, suggestions_for

TOY_NOTICE = "The toy demo model cannot edit real photos."
TOY_NOTICE_BUTTON = "Settings…"
NO_DESCRIPTION = "Nothing describes this photo yet: type the subject words, or describe the photo in the source prompt."
SOURCE_NOTES = {IDENTITY_CAPTION: "From the photo's caption.", GENERIC_CAPTION: "From the photo's caption.",
                VERSION_PROMPT: "From this version's edit prompt."}


class SourcePromptMixin:
    """Needs the window's ``ctx``, ``photo``, ``identity``, ``subject``, ``source_prompt``, ``source_note``,
    ``prompt``, ``toy_notice``, ``identity_note``, ``progress`` and ``_fill_chips``/``_set_running``."""

    ctx: Any
    photo: Any
    caption_worker: Worker | None
    worker: Worker | None
    _auto_source: str
    # widgets and methods of the window
    identity: Any
    identity_note: Any
    subject: Any
    source_prompt: Any
    source_note: Any
    prompt: Any
    toy_notice: Any
    progress: Any
    identity_id: Any
    _fill_chips: Any
    _set_running: Any
    _on_progress: Any
    parent: Any

    def toy_model_active(self) -> bool:
        return is_toy_model(self.ctx.settings.model_source())

    def refresh_model_notice(self) -> None:
        """Say before any edit when the shipped toy model would be asked to edit a real photo."""
        toy = self.toy_model_active()
        self.toy_notice.setVisible(toy and not looks_like_toy_photo(self.photo.path))
        iid = self.identity_id()
        cls = self.ctx.library.get_identity(iid).class_word if iid is not None else None
        self._fill_chips(suggestions_for(cls, toy))
        if iid is None:
            self.identity_note.setText(f"Edits use the base model ({self._model_name()}) without a personalized prior.")

    def _model_name(self) -> str:
        return "the toy-world demo model" if self.toy_model_active() else Path(self.ctx.settings.model_source()).name

    def open_settings(self) -> None:
        opener = getattr(self.parent(), "open_settings", None)
        if callable(opener):
            opener()
        else:  # a window opened on its own (tests, scripts): the same dialog

            dlg = SettingsDialog(self.ctx.settings, self)
            if dlg.exec():
                self.ctx.save_settings(dlg.result_settings())
        self.refresh_model_notice()

    def planned_source(self) -> SourceChoice | None:
        """The engine's source prompt for this photo, identity and subject words (no LLaVA run here:
        ``describe_photo`` runs it on a worker); None with the reason in the note when it cannot say."""
        base, version = self._photo_and_version()
        if self.identity_id() is None and not self.subject.text().strip() and version is None \
                and not self.ctx.library.get_caption(base):
            self.source_note.setText(NO_DESCRIPTION)  # the engine's line names command-line flags
            return None
        try:
            return plan_source(self.ctx.library, base, self.identity_id(), subject=self.subject.text().strip() or None,
                               version=version, describe=False)
        except LipeError as exc:
            self.source_note.setText(user_message(exc))
            return None

    def _fill_source_prompt(self) -> None:
        """The plan's source prompt (``lipe_engine.editing.plan.plan_source``); a photo nobody described
        is described by LLaVA when it is set (started here, on a worker)."""
        choice = self.planned_source()
        if choice is None:
            return
        self._set_source(choice.text, SOURCE_NOTES.get(choice.origin, ""), auto=choice.describable)
        if not choice.describable:
            return
        if self.llava_configured() and self.identity_id() is not None:
            self.describe_photo()
        else:
            self.source_note.setText(
                "The photo has no caption: describe its pose and setting here (or set LLaVA in Settings "
                "to have it described), so the edit changes only the pose."
            )

    def _photo_and_version(self) -> tuple[Any, int | None]:
        """The library photo and, for an edited version, its version id."""
        edit_id = getattr(self.photo, "edit_id", None)
        if edit_id is not None:
            return self.ctx.library.get_photo(self.photo.photo_id), edit_id
        return self.photo, None

    def _set_source(self, text: str, note: str, auto: bool) -> None:
        self.source_prompt.setText(text)
        self._auto_source = text if auto else ""
        self.source_note.setText(note)

    def _on_subject(self, _text: str) -> None:
        if self.source_prompt.text() == self._auto_source:  # still the made-up one: follow the words
            choice = self.planned_source()
            if choice is not None:
                self._set_source(choice.text, self.source_note.text(), auto=choice.describable)

    def use_suggestion(self, suggestion: str) -> None:
        """The engine's target prompt for ``suggestion``: the source prompt with its pose (or view)
        phrase changed, the scene words kept."""
        iid = self.identity_id()
        ident = self.ctx.library.get_identity(iid) if iid is not None else None
        subject = self.subject.text().strip() or (ident.instance_prompt if ident is not None else "subject")
        self.prompt.setText(target_prompt(self.source_prompt.text(), suggestion, ident, subject))

    def llava_configured(self) -> bool:
        s = self.ctx.settings
        return bool(s.llava_gguf.strip() and s.llava_mmproj.strip())

    def describe_photo(self) -> Worker | None:
        """Caption the photo with LLaVA on a worker thread (progress and Cancel as for an edit)."""
        iid = self.identity_id()
        if self.caption_worker is not None or self.worker is not None:
            return None
        if iid is None or not getattr(self.photo, "content_hash", None):
            self.source_note.setText("Choose an identity first: the description names it.")
            return None
        s = self.ctx.settings
        w = Worker("Describing the photo", caption_for_edit, self.ctx.data_dir, self.photo.id, iid,
                   {"llava_gguf": s.llava_gguf, "llava_mmproj": s.llava_mmproj})
        w.progress.connect(self._on_progress)
        w.succeeded.connect(self._on_caption)
        w.failed.connect(lambda msg: self.source_note.setText(f"Not described: {msg}"))
        w.cancelled.connect(lambda: self.source_note.setText("Description cancelled."))
        w.done.connect(self._on_caption_done)
        self.caption_worker = w
        self._set_running(True)
        self.source_note.setText("Describing the photo with LLaVA…")
        self.progress.setRange(0, 0)
        self.ctx.pool.start(w)
        return w

    def _on_caption(self, text: str) -> None:
        if self.source_prompt.text() in (self._auto_source, ""):  # the user's own words are kept
            self._set_source(text, "Described by LLaVA (stored as the photo's caption).", auto=False)

    def _on_caption_done(self) -> None:
        self.caption_worker = None
        if self.worker is None:  # an edit started meanwhile owns the progress bar
            self.progress.setRange(0, 1)
            self.progress.setValue(0)
        self._set_running(False)

