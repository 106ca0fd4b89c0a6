"""The edit window's source prompt and model notice (a mixin of ``EditWindow``).

The source prompt is the photo's own description, as in the paper: this identity's caption of the
photo, else its generic caption naming the identity, an edited version's own prompt, else LLaVA's
description (on a worker thread, with progress and Cancel), else the subject words. Suggestions
change only the pose (or view) phrase inside it. When the shipped toy model would edit a photo that
is not from its toy world, a one-line notice with a Settings button says so before Edit is pressed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lipe_engine.editing.plan import source_from_library, style_source
from lipe_engine.errors import LipeError
from lipe_engine.prompts.actions import with_phrase
from lipe_engine.toyworld.photos import is_toy_model, looks_like_toy_photo

from ..settings_dialog import SettingsDialog
from ..workers import Worker
from .engine import caption_for_edit, suggestions_for

TOY_NOTICE = "The toy demo model cannot edit real photos."
TOY_NOTICE_BUTTON = "Settings…"


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

    def _fill_source_prompt(self) -> None:
        """The photo's caption (this identity's, else its generic one naming the subject), an edited
        version's own prompt, else LLaVA's description (started here), else the subject words."""
        text, note = None, ""
        iid = self.identity_id()
        edit_id = getattr(self.photo, "edit_id", None)
        if edit_id is not None:  # an edited version: its target prompt describes it
            try:
                text, note = self.ctx.library.get_edit(edit_id).target_prompt, "From this version's edit prompt."
            except LipeError:
                text = None
        elif getattr(self.photo, "content_hash", None):  # the engine's rule (lipe_engine.editing.plan)
            ident = self.ctx.library.get_identity(iid) if iid is not None else None
            try:
                found = source_from_library(self.ctx.library, self.photo, ident)
            except LipeError:
                found = None
            if found is not None:
                text, note = found[0], "From the photo's caption."
        if text:
            self._set_source(text, note, auto=False)
            return
        self._set_source(self._fallback_source(), "", auto=True)
        if self.llava_configured() and iid is not None and edit_id is None:
            self.describe_photo()
        else:
            self.source_note.setText(
                "The photo has no caption: describe its pose and setting here (or set LLaVA in Settings "
                "to have it described), so the edit changes only the pose."
            )

    def _fallback_source(self) -> str:
        """The identity's caption style with its token ("a photo of a sks dog", the engine's), while the
        subject words are the identity's; else the subject words as typed."""
        iid = self.identity_id()
        if iid is not None:
            ident = self.ctx.library.get_identity(iid)
            if self.subject.text().strip() == ident.instance_prompt:
                return style_source(self.ctx.library, ident)
        subject = self.subject.text().strip() or "subject"
        article = "an" if subject[:1].lower() in "aeiou" else "a"
        return f"a photo of {article} {subject}"

    def _set_source(self, text: str, note: str, auto: bool) -> None:
        self.source_prompt.setText(text)
        self._auto_source = text if auto else ""
        self.source_note.setText(note)

    def _on_subject(self, _text: str) -> None:
        if self.source_prompt.text() == self._auto_source:  # still the made-up one: follow the words
            self._set_source(self._fallback_source(), self.source_note.text(), auto=True)

    def use_suggestion(self, suggestion: str) -> None:
        """The source prompt with its pose (or view) phrase changed; the scene words stay."""
        self.prompt.setText(with_phrase(self.source_prompt.text(), self.subject.text().strip(), suggestion))

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

