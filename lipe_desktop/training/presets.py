"""The training view's "what to queue" row (a mixin of ``TrainingPanel``): the preset that fits this
machine (the toy recipe without a GPU or with the toy model, else the largest GPU preset that fits),
its steps and class images, and what the job costs here, said before it is queued."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt

from . import jobs


class PresetChoiceMixin:
    """Needs the panel's ``ctx``, ``preset``, ``identity``, ``steps``, ``class_images``, ``estimate``,
    ``preset_help``, ``gpu_gb`` and its ``machineKnown`` signal."""

    ctx: Any
    preset: Any
    identity: Any
    steps: Any
    class_images: Any
    estimate: Any
    preset_help: Any
    gpu_gb: float | None
    machineKnown: Any

    def _fill_presets(self, presets: dict[str, str], gpu_gb: float) -> None:
        self.gpu_gb = gpu_gb
        for name, text in presets.items():
            gb = jobs.preset_gb(name)
            fits = gpu_gb >= gb * 0.9 if gb else gpu_gb > 0
            self.preset.addItem(f"{name.upper().replace('GB', ' GB')} GPU" + ("" if fits else " (does not fit)"), name)
            self.preset.setItemData(self.preset.count() - 1, text, Qt.ItemDataRole.ToolTipRole)
        self.preset.setCurrentIndex(max(0, self.preset.findData(self.machine_preset())))
        self._preset_changed()
        self.machineKnown.emit(gpu_gb)

    def machine_preset(self) -> str | None:
        """The preset that fits this machine: the toy recipe for the toy model or without a GPU, else
        the largest GPU preset that fits its memory (the paper's own settings from 40 GB)."""
        gpu = self.gpu_gb or 0.0
        if jobs.is_toy(self.ctx.settings.model_source()) or gpu <= 0:
            return "toy"
        fitting = [n for n in ("12gb", "16gb", "24gb", "40gb") if gpu >= jobs.preset_gb(n) * 0.9]
        return fitting[-1] if fitting else "12gb"

    def _preset_changed(self, *_a: Any) -> None:
        name = self.preset.currentData()
        self.preset_help.setText(self.preset.currentData(Qt.ItemDataRole.ToolTipRole) or "")
        steps, class_images = jobs.preset_steps(name, self._reference_count())
        for box, value in ((self.steps, steps), (self.class_images, class_images)):
            box.blockSignals(True)
            box.setValue(value)
            box.blockSignals(False)
        self._update_estimate()

    def _reference_count(self) -> int:
        iid = self.identity.currentData()
        if iid is None:
            return 4
        try:
            return max(1, len(self.ctx.library.identity_photos(iid, role="reference")))
        except Exception:  # noqa: BLE001 - deleted meanwhile
            return 4

    def _update_estimate(self) -> None:
        text = jobs.estimate_text(self.steps.value(), self.class_images.value(),
                                  toy=jobs.is_toy(self.ctx.settings.model_source()), gpu_gb=self.gpu_gb)
        self.estimate.setText(text)
