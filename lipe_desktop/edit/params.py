"""The "Advanced" parameters box of the edit window (steps, guidance, lambda, threshold, seed, count)."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QCheckBox, QDoubleSpinBox, QFormLayout, QGroupBox, QSpinBox, QWidget


def _spin(parent: QWidget, lo: int, hi: int, value: int, tip: str) -> QSpinBox:
    s = QSpinBox(parent)
    s.setRange(lo, hi)
    s.setValue(value)
    s.setToolTip(tip)
    return s


def _dspin(parent: QWidget, lo: float, hi: float, value: float, step: float, tip: str) -> QDoubleSpinBox:
    s = QDoubleSpinBox(parent)
    s.setRange(lo, hi)
    s.setSingleStep(step)
    s.setDecimals(2)
    s.setValue(value)
    s.setToolTip(tip)
    return s


class AdvancedParams(QGroupBox):
    """Collapsed by default (checkable group box); ``values()`` gives ``EditParams`` keyword args."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__("Advanced", parent)
        self.setCheckable(True)
        self.setChecked(False)
        self.steps = _spin(self, 2, 1000, 100, "Denoising steps (100 in the paper; fewer is faster)")
        self.skip = _spin(self, 0, 999, 10, "Start the edit this many steps below the noisiest")
        self.cfg_source = _dspin(self, 0.0, 30.0, 3.5, 0.5, "Guidance for the source prompt (inversion)")
        self.cfg_target = _dspin(self, 0.0, 30.0, 7.5, 0.5, "Guidance for the target prompt")
        self.mask_lambda = _spin(self, 0, 16, 1, "Self-attention refinement power of the identity mask")
        self.threshold = _dspin(self, 0.0, 1.0, 0.3, 0.05, "Identity mask threshold")
        self.seed = _spin(self, -1, 2_147_483_647, -1, "-1: the pure edit-friendly noise; otherwise a seed")
        # shown by the edit window outside this (collapsed) box, next to the target prompts
        self.count = _spin(self, 1, 8, 1, "Results per target prompt (different seeds), all from one inversion")
        self.use_mask = QCheckBox("Use the identity mask (NIMA blend)", self)
        self.use_mask.setChecked(True)
        self.composite = QCheckBox("Paste the result into the original photo", self)
        form = QFormLayout(self)
        for label, w in (
            ("Steps", self.steps), ("Skip", self.skip), ("Source guidance", self.cfg_source),
            ("Target guidance", self.cfg_target), ("Mask λ", self.mask_lambda), ("Mask threshold", self.threshold),
            ("First seed", self.seed),
        ):  # fmt: skip
            form.addRow(label, w)
        form.addRow(self.use_mask)
        form.addRow(self.composite)
        self.toggled.connect(self._show_fields)
        self._show_fields(False)

    def _show_fields(self, on: bool) -> None:
        for child in self.findChildren(QWidget):
            if child is not self.count and not self.count.isAncestorOf(child):  # the window shows count
                child.setVisible(on)
        self.setFlat(not on)  # collapsed: just the check box, no empty frame under it
        self.setMaximumHeight(16_777_215 if on else self.fontMetrics().height() + 12)

    def show_model_defaults(self, defaults: dict[str, Any]) -> None:
        """Start from the settings the chosen model ships with (e.g. the toy model's fewer steps);
        its settings without a field here still apply, added by the engine when the edit runs."""
        fields = {"steps": self.steps, "skip": self.skip, "cfg_source": self.cfg_source,
                  "cfg_target": self.cfg_target, "mask_lambda": self.mask_lambda, "mask_threshold": self.threshold}
        for name, widget in fields.items():
            value = defaults.get(name)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                widget.setValue(value)  # type: ignore[attr-defined]
        if isinstance(defaults.get("use_mask"), bool):
            self.use_mask.setChecked(defaults["use_mask"])
        if isinstance(defaults.get("composite"), bool):
            self.composite.setChecked(defaults["composite"])

    def seeds(self) -> list[int | None]:
        n, s = self.count.value(), self.seed.value()
        if s < 0:
            return [None] + list(range(1, n))
        return [s + i for i in range(n)]

    def values(self) -> dict[str, Any]:
        steps = self.steps.value()
        return {
            "steps": steps,
            "skip": min(self.skip.value(), steps - 1),
            "cfg_source": self.cfg_source.value(),
            "cfg_target": self.cfg_target.value(),
            "mask_lambda": self.mask_lambda.value(),
            "mask_threshold": self.threshold.value(),
            "use_mask": self.use_mask.isChecked(),
            "composite": self.composite.isChecked(),
            "seeds": self.seeds(),
        }
