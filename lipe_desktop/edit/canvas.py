"""The edit canvas: before/after slider or side by side, with mask overlays and opacity.

Masks: the source mask M^s (where the subject is), the final target mask of the chosen output, or
the target mask M_t at any edit step (step slider), drawn over the images with adjustable opacity.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSlider,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from .compare import CompareSlider, SideBySide
from .overlay import SOURCE_COLOR, TARGET_COLOR, mask_to_qimage

NO_MASK, SOURCE_MASK, TARGET_MASK, STEP_MASK = range(4)


class EditCanvas(QWidget):
    resultChanged = Signal(int)

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.slider_view = CompareSlider(self)
        self.side_view = SideBySide(self)
        self.tabs = QTabWidget(self)
        self.tabs.addTab(self.slider_view, "Before / after")
        self.tabs.addTab(self.side_view, "Side by side")
        self.result_box = QComboBox(self)
        self.result_box.setToolTip("Which output to show (one per prompt and seed)")
        self.result_box.setMinimumContentsLength(24)  # room for "…sks dog standing (seed 3)"
        self.result_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.mask_box = QComboBox(self)
        self.mask_box.addItems(["No mask", "Source mask", "Target mask (final)", "Target mask at step"])
        self.step = QSlider(Qt.Orientation.Horizontal, self)
        self.step.setToolTip("Edit step whose target mask is shown")
        self.step_label = QLabel("", self)
        self.opacity = QSlider(Qt.Orientation.Horizontal, self)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(50)
        self.opacity.setFixedWidth(120)
        self.opacity.setToolTip("Mask opacity")
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Output", self))
        controls.addWidget(self.result_box)
        controls.addSpacing(12)
        controls.addWidget(QLabel("Overlay", self))
        controls.addWidget(self.mask_box)
        controls.addWidget(self.step, 1)
        controls.addWidget(self.step_label)
        controls.addWidget(QLabel("Opacity", self))
        controls.addWidget(self.opacity)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.tabs, 1)
        lay.addLayout(controls)
        self.before: QImage | None = None
        self.afters: list[QImage] = []
        self.source_mask: Any = None
        self.target_masks: list[Any] = []
        self.histories: list[list[Any]] = []
        self.result_box.currentIndexChanged.connect(self._on_result)
        self.mask_box.currentIndexChanged.connect(self._refresh_overlay)
        self.step.valueChanged.connect(self._refresh_overlay)
        self.opacity.valueChanged.connect(self._refresh_overlay)
        self._refresh_overlay()

    # --- contents ---------------------------------------------------------------------------------

    def set_before(self, image: QImage | None) -> None:
        self.before = image
        self.afters, self.source_mask, self.target_masks, self.histories = [], None, [], []
        self.result_box.clear()
        self._show()

    def set_results(
        self,
        afters: list[QImage],
        source_mask: Any = None,
        target_masks: list[Any] | None = None,
        histories: list[list[Any]] | None = None,
        labels: list[str] | None = None,
    ) -> None:
        self.afters = list(afters)
        self.source_mask = source_mask
        self.target_masks = list(target_masks or [])
        self.histories = list(histories or [])
        self.result_box.blockSignals(True)
        self.result_box.clear()
        names = labels or [f"Result {i + 1}" for i in range(len(afters))]
        self.result_box.addItems(names[: len(afters)])
        self.result_box.blockSignals(False)
        self.result_box.setCurrentIndex(0 if afters else -1)
        self._on_result(0)

    def current_index(self) -> int:
        return max(0, self.result_box.currentIndex())

    def current_after(self) -> QImage | None:
        return self.afters[self.current_index()] if self.afters else None

    def set_mask_mode(self, mode: int, step: int | None = None) -> None:
        self.mask_box.setCurrentIndex(mode)
        if step is not None:
            self.step.setValue(step)

    def overlay_image(self) -> QImage | None:
        """The overlay now shown (None: no mask chosen or none available)."""
        mode = self.mask_box.currentIndex()
        i = self.current_index()
        if mode == SOURCE_MASK and self.source_mask is not None:
            return mask_to_qimage(self.source_mask, SOURCE_COLOR)
        if mode == TARGET_MASK and i < len(self.target_masks):
            return mask_to_qimage(self.target_masks[i], TARGET_COLOR)
        if mode == STEP_MASK and i < len(self.histories) and self.histories[i]:
            k = min(self.step.value(), len(self.histories[i]) - 1)
            return mask_to_qimage(self.histories[i][k], TARGET_COLOR)
        return None

    # --- internals --------------------------------------------------------------------------------

    def _on_result(self, _index: int) -> None:
        i = self.current_index()
        steps = len(self.histories[i]) if i < len(self.histories) else 0
        self.step.setRange(0, max(0, steps - 1))
        self.step.setValue(max(0, steps - 1))
        self._show()
        self.resultChanged.emit(i)

    def _show(self) -> None:
        after = self.current_after()
        self.slider_view.set_images(self.before, after)
        self.side_view.set_images(self.before, after)
        self._refresh_overlay()

    def _refresh_overlay(self, *_args: Any) -> None:
        mode = self.mask_box.currentIndex()
        self.step.setEnabled(mode == STEP_MASK and self.step.maximum() > 0)
        self.step_label.setText(
            f"step {self.step.value() + 1}/{self.step.maximum() + 1}" if mode == STEP_MASK else ""
        )
        img = self.overlay_image()
        alpha = self.opacity.value() / 100
        self.slider_view.set_overlay(img, alpha)
        self.side_view.set_overlay(img, alpha)
