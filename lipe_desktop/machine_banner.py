"""What this machine can do, said at start: no GPU found, the toy model in use, and what that means,
with a one-click toy album ("Try it on toy photos") so a CPU user sees the method work."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton


def machine_summary(toy: bool, gpu_gb: float | None) -> str:
    """One or two sentences about this machine and model ("" when nothing needs saying)."""
    if toy and gpu_gb is not None and gpu_gb <= 0:
        return ("No GPU found, so LIPE uses its small toy model. It learns and edits the toy world's own "
                "sprite photos in minutes on this computer; your real photos need the SDXL model on a GPU.")
    if toy:
        return ("The toy model is in use: it edits only the toy world's sprite photos. Choose the SDXL model "
                "in Settings to edit real photos" + (f" on this GPU ({gpu_gb:.0f} GB)." if gpu_gb else "."))
    if gpu_gb is not None and gpu_gb <= 0:
        return ("No GPU found: learning an identity and editing real photos with SDXL on this computer's "
                "processor takes hours. Try the method on toy photos first, or use a computer with a GPU.")
    return ""


class MachineBanner(QFrame):
    tryToyRequested = Signal()
    settingsRequested = Signal()

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.setObjectName("machineBanner")
        self.setStyleSheet("#machineBanner { background: #fff3cd; border-radius: 4px; } "
                           "#machineBanner QLabel { color: #5c4400; }")
        self.label = QLabel("", self)
        self.label.setWordWrap(True)
        self.try_btn = QPushButton("Try it on toy photos", self)
        self.try_btn.setToolTip("Adds a folder of toy-world photos and an identity of their dog to the library")
        self.settings_btn = QPushButton("Settings…", self)
        self.close_btn = QPushButton("Hide", self)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(10, 6, 10, 6)
        lay.addWidget(self.label, 1)
        for b in (self.try_btn, self.settings_btn, self.close_btn):
            lay.addWidget(b)
        self.try_btn.clicked.connect(lambda: self.tryToyRequested.emit())
        self.settings_btn.clicked.connect(lambda: self.settingsRequested.emit())
        self.close_btn.clicked.connect(lambda: self.dismiss())
        self.dismissed = False
        self.setVisible(False)

    def show_for(self, toy: bool, gpu_gb: float | None) -> None:
        text = machine_summary(toy, gpu_gb)
        self.label.setText(text)
        self.setVisible(bool(text) and not self.dismissed)

    def dismiss(self) -> None:
        self.dismissed = True
        self.setVisible(False)
