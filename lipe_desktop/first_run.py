"""First start: a welcome dialog that lists the models already on this machine.

The shipped toy-world model is preselected, so the app works at once on any CPU. Models found by
:mod:`lipe_engine.models.discovery` (Hugging Face cache, common model folders, single-file
checkpoints, GGUF files) are offered next to it. Nothing is downloaded here: the one download on
offer (SDXL base from Hugging Face) is only a choice that sets the model id and allows downloads;
the weights are fetched when the user first loads the model, after this explicit click.

The app calls :func:`maybe_show_first_run` once at start (not in ``--smoke``); it shows the dialog
only on the first start (a marker file in the data dir records that it ran) and only when no editing
model is configured yet. ``LIPE_NO_FIRST_RUN=1`` suppresses it (installers' smoke checks, kiosks).
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from lipe_engine import locations
from lipe_engine.models.discovery import Kind, discover_models

from .settings import CLIP_LABEL, AppSettings

log = logging.getLogger(__name__)

MARKER_NAME = "first-run.json"
SDXL_BASE_ID = "stabilityai/stable-diffusion-xl-base-1.0"
HELPER_ROLES = (
    ("llava_gguf", "Captioning (LLaVA)"),
    ("llm_gguf", "Prompt writer (LLM)"),
    ("clip_model", CLIP_LABEL),
)


@dataclass(frozen=True)
class ModelOption:
    """One choice in the dialog: ``value`` goes into the settings field ``field``."""

    kind: str  # "toy" | "sdxl" | "download" | "helper"
    label: str
    value: str
    field: str = "sdxl_model"
    detail: str = ""
    available: bool = True
    companion: str = ""  # LLaVA: the mmproj file, goes into ``llava_mmproj``


def toy_option() -> ModelOption:
    folder = locations.toy_model_dir()
    ok = locations.toy_model_installed()
    detail = (
        (
            "Tiny SDXL-architecture model trained on the toy sprite world: runs on any CPU in minutes. "
            "Good for trying the whole flow; not for real photos."
        )
        if ok
        else f"Not found at {folder}: this checkout has no trained toy model."
    )
    # "" means "the default model", which is the toy model; the settings follow the checkout.
    label = "Toy world model (ready now, CPU)" if ok else "Toy world model"
    return ModelOption("toy", label, "", detail=detail, available=ok)


def download_option() -> ModelOption:
    return ModelOption(
        "download",
        "Stable Diffusion XL base 1.0 from Hugging Face (about 7 GB)",
        SDXL_BASE_ID,
        detail="Choosing this allows downloads; the weights are fetched the first time you edit.",
    )


def discovered_options(found: list | None = None) -> list[ModelOption]:
    """Models already on this machine (engine discovery: HF cache, model folders, GGUF files)."""
    if found is None:
        try:
            found = discover_models()
        except Exception as exc:  # noqa: BLE001 - a bad folder must never stop the app from starting
            log.warning("model discovery failed: %s", exc)
            return []
    return [opt for opt in map(option_from_found, found) if opt is not None]


def _gb(size: int) -> str:
    return f"{size / 1e9:.1f} GB" if size >= 1e8 else f"{size / 1e6:.0f} MB"


def option_from_found(m) -> ModelOption | None:
    """A :class:`lipe_engine.models.discovery.FoundModel` as a dialog choice (None: not offered)."""
    where = f"{m.repo_id} (Hugging Face cache)" if m.repo_id else str(m.path)
    detail = f"{where}, {_gb(m.size)}" + (f". {m.note[0].upper()}{m.note[1:]}." if m.note else "")
    if m.kind in (Kind.SDXL_DIFFUSERS, Kind.SDXL_CHECKPOINT, Kind.OTHER_DIFFUSION):
        usable = m.usable and m.kind != Kind.OTHER_DIFFUSION
        return ModelOption("sdxl", m.label, m.load_arg, detail=detail, available=usable)
    field = {Kind.LLAVA_GGUF: "llava_gguf", Kind.LLM_GGUF: "llm_gguf", Kind.CLIP: "clip_model"}.get(m.kind)
    if field is None or not m.usable:
        return None
    return ModelOption(
        "helper",
        m.label,
        str(m.path),
        field=field,
        detail=detail,
        companion=str(m.companion) if m.companion else "",
    )


class FirstRunDialog(QDialog):
    """Welcome: pick the editing model (toy preselected) and optional GGUF helpers; or skip."""

    def __init__(self, options: list[ModelOption], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Welcome to LIPE Desktop")
        self.setObjectName("firstRunDialog")
        layout = QVBoxLayout(self)
        intro = QLabel(
            "<b>Welcome.</b> LIPE learns what your subject looks like from a few photos and then "
            "changes its pose in another photo. Pick the model to edit with; you can change it later "
            "in Settings.<br><i>Nothing has been downloaded.</i>",
            self,
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)

        local = {o.value for o in options if o.kind == "sdxl" and o.available}
        # No download offer for a repo that is already in the cache.
        sdxl = [o for o in options if o.kind != "helper" and not (o.kind == "download" and o.value in local)]
        box = QGroupBox("Editing model", self)
        box_layout = QVBoxLayout(box)
        self.models = QListWidget(box)
        self.models.setObjectName("modelList")
        for opt in sdxl:
            item = QListWidgetItem(opt.label if opt.available else f"{opt.label} (unavailable)")
            item.setData(Qt.ItemDataRole.UserRole, opt)
            item.setToolTip(opt.detail)
            if not opt.available:
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEnabled & ~Qt.ItemFlag.ItemIsSelectable)
            self.models.addItem(item)
        box_layout.addWidget(self.models)
        self.detail = QLabel(box)
        self.detail.setWordWrap(True)
        box_layout.addWidget(self.detail)
        layout.addWidget(box)
        self.models.currentItemChanged.connect(self._show_detail)
        # Preselect the first local model (the toy); never a download, which needs a deliberate click.
        first = next((i for i in range(self.models.count())
                      if self._option(i).available and self._option(i).kind != "download"), None)
        if first is not None:
            self.models.setCurrentRow(first)
        found = sum(o.kind == "sdxl" and o.available for o in sdxl)
        self.summary = QLabel(
            f"Found {found} usable SDXL model(s) on this computer."
            if found
            else "No SDXL models found on this computer (Hugging Face cache, common model folders).",
            self,
        )
        layout.addWidget(self.summary)

        self.roles: dict[str, QComboBox] = {}
        helpers_found = [o for o in options if o.kind == "helper"]
        if helpers_found:
            helpers = QGroupBox("Captioning and prompt models found (optional)", self)
            form = QFormLayout(helpers)
            for field, title in HELPER_ROLES:
                candidates = [o for o in helpers_found if o.field == field]
                if not candidates:
                    continue
                combo = QComboBox(helpers)
                combo.setObjectName(field)
                combo.addItem("(none)", None)
                for opt in candidates:
                    combo.addItem(opt.label, opt)
                    combo.setItemData(combo.count() - 1, opt.detail, Qt.ItemDataRole.ToolTipRole)
                combo.setCurrentIndex(1)
                form.addRow(title, combo)
                self.roles[field] = combo
            layout.addWidget(helpers)

        buttons = QDialogButtonBox(self)
        self.start = buttons.addButton("Start", QDialogButtonBox.ButtonRole.AcceptRole)
        self.skip = buttons.addButton("Skip", QDialogButtonBox.ButtonRole.RejectRole)
        self.start.setEnabled(first is not None)
        self.models.currentItemChanged.connect(lambda item, _prev: self.start.setEnabled(item is not None))
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(560, 420)

    def _option(self, row: int) -> ModelOption:
        return self.models.item(row).data(Qt.ItemDataRole.UserRole)

    def _show_detail(self, item: QListWidgetItem | None) -> None:
        self.detail.setText(item.data(Qt.ItemDataRole.UserRole).detail if item is not None else "")

    def selected_model(self) -> ModelOption | None:
        item = self.models.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def apply_to(self, settings: AppSettings) -> bool:
        """Write the choices into ``settings``; True when something changed."""
        before = dict(vars(settings))
        chosen = self.selected_model()
        if chosen is not None and chosen.available:
            settings.sdxl_model = chosen.value
            if chosen.kind == "download":
                settings.allow_downloads = True
        for field, combo in self.roles.items():
            opt = combo.currentData()
            if opt is not None:
                setattr(settings, field, opt.value)
                if field == "llava_gguf" and opt.companion:
                    settings.llava_mmproj = opt.companion
        return dict(vars(settings)) != before


def _marker(data_dir: Path) -> Path:
    return Path(data_dir) / MARKER_NAME


def needs_first_run(settings: AppSettings, data_dir: Path) -> bool:
    """First start with no editing model configured, and not suppressed by LIPE_NO_FIRST_RUN."""
    if os.environ.get("LIPE_NO_FIRST_RUN", "").strip() not in ("", "0"):
        return False
    return not _marker(data_dir).exists() and not settings.sdxl_model.strip()


def mark_done(data_dir: Path, choice: str) -> None:
    path = _marker(data_dir)
    tmp = path.with_suffix(".json.part")
    tmp.write_text(
        json.dumps({"done": time.strftime("%Y-%m-%dT%H:%M:%S"), "choice": choice}), encoding="utf-8"
    )
    os.replace(tmp, path)


def maybe_show_first_run(
    parent: QWidget | None, settings: AppSettings, data_dir: Path, options: list[ModelOption] | None = None
) -> bool:
    """Show the welcome dialog on the first start. Updates ``settings`` in place and saves them to
    ``data_dir``; returns True when the settings changed (emit your settings-changed signal then).
    """
    if not needs_first_run(settings, data_dir):
        return False
    if options is None:
        options = [toy_option(), *discovered_options(), download_option()]
    dialog = FirstRunDialog(options, parent)
    changed = False
    choice = "skipped"
    if dialog.exec() == QDialog.DialogCode.Accepted:
        changed = dialog.apply_to(settings)
        picked = dialog.selected_model()
        choice = picked.kind if picked is not None else "none"
        if changed:
            settings.save(Path(data_dir))
    mark_done(Path(data_dir), choice)
    log.info("first run: %s", choice)
    return changed


def run_at_start(ctx, parent: QWidget | None = None) -> bool:  # type: ignore[no-untyped-def]
    """What the app calls after showing its main window (not in ``--smoke``): the welcome dialog on
    the first start, then ``ctx.settingsChanged`` when the user's choice changed the settings."""
    try:
        changed = maybe_show_first_run(parent, ctx.settings, ctx.data_dir)
    except OSError as exc:  # an unwritable data dir must not stop the app from starting
        log.warning("first run: %s", exc)
        return False
    if changed:
        ctx.settingsChanged.emit()
    return changed
