"""Settings: model locations (checked as you type, with a one-line message each), device,
precision, memory mode. Nothing is downloaded unless "Allow downloads" is ticked; "Find models"
only reads file headers."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from lipe_engine.models.discovery import Kind, discover_models

from .settings import CLIP_LABEL, DEVICES, MEMORY_MODE_HELP, MEMORY_MODES, PRECISIONS, AppSettings, validate

_PATHS = (
    (
        "sdxl_model",
        "SDXL model",
        "empty: the shipped toy model; or a diffusers folder, .safetensors file, Hugging Face id",
        "any",
    ),
    ("llava_gguf", "LLaVA (captions)", "LLaVA .gguf used to caption photos", "file"),
    ("llava_mmproj", "LLaVA projector", "the matching mmproj .gguf", "file"),
    ("llm_gguf", "LLM (prompts)", ".gguf language model that writes edit prompts", "file"),
    ("clip_model", CLIP_LABEL, "CLIP folder or id ('Suggest similar photos', metrics)", "dir"),
)


class SettingsDialog(QDialog):
    def __init__(self, settings: AppSettings, parent: Any = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setMinimumWidth(640)
        self._orig = settings
        self.edits: dict[str, QLineEdit] = {}
        self.messages: dict[str, QLabel] = {}
        form = QFormLayout()
        for name, label, tip, kind in _PATHS:
            edit = QLineEdit(getattr(settings, name), self)
            edit.setPlaceholderText(tip)
            edit.setToolTip(tip)
            browse = QPushButton("Browse…", self)
            browse.clicked.connect(lambda _c=False, e=edit, k=kind: self._browse(e, k))
            row = QHBoxLayout()
            row.addWidget(edit, 1)
            row.addWidget(browse)
            msg = QLabel("", self)
            msg.setWordWrap(True)
            msg.setStyleSheet("color: #b3261e;")
            box = QVBoxLayout()
            box.setSpacing(2)
            box.addLayout(row)
            box.addWidget(msg)
            holder = QWidget(self)
            holder.setLayout(box)
            form.addRow(label, holder)
            self.edits[name], self.messages[name] = edit, msg
            edit.textChanged.connect(self.revalidate)
        self.allow_downloads = QCheckBox("Allow downloads: fetch a Hugging Face model id I typed above", self)
        self.allow_downloads.setChecked(settings.allow_downloads)
        self.allow_downloads.toggled.connect(self.revalidate)
        form.addRow("", self.allow_downloads)
        self.find_btn = QPushButton("Find models on this computer", self)
        self.find_btn.setToolTip("Looks in the Hugging Face cache and common model folders (headers only)")
        self.find_btn.clicked.connect(self.find_models)
        self.found = QComboBox(self)
        self.found.setVisible(False)
        self.found.activated.connect(self._use_found)
        form.addRow("", self.find_btn)
        form.addRow("", self.found)
        self.device = self._combo(DEVICES, settings.device)
        self.precision = self._combo(PRECISIONS, settings.precision)
        self.memory = self._combo(MEMORY_MODES, settings.memory_mode)
        self.memory_help = QLabel(MEMORY_MODE_HELP.get(settings.memory_mode, ""), self)
        self.memory_help.setWordWrap(True)
        self.memory.currentTextChanged.connect(
            lambda t: self.memory_help.setText(MEMORY_MODE_HELP.get(t, ""))
        )
        self.device_msg = QLabel("", self)
        self.device_msg.setStyleSheet("color: #b3261e;")
        self.device.currentTextChanged.connect(self.revalidate)
        form.addRow("Device", self.device)
        form.addRow("", self.device_msg)
        form.addRow("Precision", self.precision)
        form.addRow("Memory mode", self.memory)
        form.addRow("", self.memory_help)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        # the dialog grows with its messages: a wrapped error line is never cut off
        lay.setSizeConstraint(QLayout.SizeConstraint.SetMinimumSize)
        lay.addLayout(form)
        lay.addWidget(self.buttons)
        self.revalidate()

    def _combo(self, values: tuple[str, ...], current: str) -> QComboBox:
        c = QComboBox(self)
        c.addItems(list(values))
        c.setCurrentText(current if current in values else values[0])
        return c

    def _browse(self, edit: QLineEdit, kind: str) -> None:
        if kind == "dir":
            path = QFileDialog.getExistingDirectory(self, "Choose a folder")
        else:
            path, _ = QFileDialog.getOpenFileName(
                self, "Choose a file", "", "Models (*.gguf *.safetensors *.ckpt);;All (*)"
            )
            if not path and kind == "any":
                path = QFileDialog.getExistingDirectory(self, "Or choose a diffusers folder")
        if path:
            edit.setText(path)

    def result_settings(self) -> AppSettings:
        paths: dict[str, Any] = {name: e.text().strip() for name, e in self.edits.items()}
        return replace(
            self._orig,
            **paths,
            allow_downloads=self.allow_downloads.isChecked(),
            device=self.device.currentText(),
            precision=self.precision.currentText(),
            memory_mode=self.memory.currentText(),
        )

    def find_models(self) -> int:
        """Fill the "found" list from the engine's discovery (reads headers only; a second or two)."""
        targets = {
            Kind.SDXL_DIFFUSERS: "sdxl_model",
            Kind.SDXL_CHECKPOINT: "sdxl_model",
            Kind.LLAVA_GGUF: "llava_gguf",
            Kind.LLM_GGUF: "llm_gguf",
            Kind.CLIP: "clip_model",
        }
        self.found.clear()
        self.found.addItem("Choose a model found on this computer…", None)
        for hit in discover_models(max_entries=50_000):
            field = targets.get(hit.kind)
            if field and hit.usable:
                self.found.addItem(f"{hit.label} — {hit.kind} — {hit.path}", (field, hit))
        self.found.setVisible(True)
        n = self.found.count() - 1
        if n == 0:
            self.found.setItemText(0, "No models found (pick them with Browse…)")
        return n

    def _use_found(self, index: int) -> None:
        data = self.found.itemData(index)
        if not data:
            return
        field, hit = data
        self.edits[field].setText(hit.repo_id or str(hit.path) if hit.source == "hf-cache" else str(hit.path))
        if field == "llava_gguf" and hit.companion is not None:
            self.edits["llava_mmproj"].setText(str(hit.companion))

    def revalidate(self, *_args: Any) -> dict[str, str]:
        problems = validate(self.result_settings())
        for name, label in self.messages.items():
            label.setText(problems.get(name, ""))
            label.setVisible(name in problems)
        self.device_msg.setText(problems.get("device", ""))
        self.device_msg.setVisible("device" in problems)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(not problems)
        self._fit_messages()
        return problems

    def _fit_messages(self) -> None:
        """A wrapped message gets the height its lines need (Qt's form rows give a label one line)."""
        for label in [*self.messages.values(), self.device_msg]:
            if not label.isHidden():
                label.setMinimumHeight(label.heightForWidth(max(label.width(), 200)))

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        self._fit_messages()
