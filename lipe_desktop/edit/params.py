"""The "Advanced" parameters box of the edit window (steps, guidance, lambda, threshold, seed, count)."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QCheckBox, QDoubleSpinBox, QFormLayout, QGroupBox, QSpinBox, QWidget

from lipe_engine.edit_settings import EDIT_OPTIONS, SETTINGS, Setting


def _setting_spin(parent: QWidget, s: Setting) -> QSpinBox | QDoubleSpinBox:
    """A spin box with the engine's range, default and help for ``s`` (declared once there)."""
    tip = s.help[:1].upper() + s.help[1:]
    if s.kind is int:
        return _spin(parent, int(s.low), int(s.high), int(s.default or 0), tip)
    return _dspin(parent, float(s.low), float(s.high), float(s.default or 0.0), s.step, tip)


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
        spins = {name: _setting_spin(self, SETTINGS[name]) for name in EDIT_OPTIONS}
        self.fields: dict[str, QSpinBox | QDoubleSpinBox] = spins  # EditParams name -> its widget
        self.steps, self.skip = spins["steps"], spins["skip"]
        self.cfg_source, self.cfg_target = spins["cfg_source"], spins["cfg_target"]
        self.mask_lambda, self.threshold = spins["mask_lambda"], spins["mask_threshold"]
        self.seed = _spin(self, -1, 2_147_483_647, -1, "-1: the pure edit-friendly noise; otherwise a seed")
        # shown by the edit window outside this (collapsed) box, next to the target prompts
        self.count = _spin(self, 1, 8, 1, "Results per target prompt (different seeds), all from one inversion")
        self.use_mask = QCheckBox("Use the identity mask (NIMA blend)", self)
        self.use_mask.setChecked(True)
        self.composite = QCheckBox("Paste the result into the original photo", self)
        form = QFormLayout(self)
        for name, widget in spins.items():
            form.addRow(SETTINGS[name].label, widget)
        form.addRow("First seed", self.seed)
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
        for name, widget in self.fields.items():
            value = defaults.get(name)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                widget.setValue(value)  # type: ignore[attr-defined, arg-type]  # a spin box of the field's type
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
            **{name: w.value() for name, w in self.fields.items() if name not in ("steps", "skip")},
            "use_mask": self.use_mask.isChecked(),
            "composite": self.composite.isChecked(),
            "seeds": self.seeds(),
        }
