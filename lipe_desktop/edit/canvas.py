"""The edit canvas: before/after slider or side by side, with mask overlays and a legend.

Masks: the source mask M^s (where the subject is), the final target mask M^e_t of the chosen output,
the final edit region M_t = M^s U M^e_t, or M_t at any edit step (step slider). Each is drawn as an
outline plus a translucent fill (the opacity slider sets the fill) over the photo; the legend under
the views names the mask shown and what it means.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QTextDocumentFragment
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
from .overlay import SOURCE_COLOR, TARGET_COLOR, UNION_COLOR, mask_to_qimage

NO_MASK, SOURCE_MASK, TARGET_MASK, STEP_MASK, UNION_MASK = range(5)
# plain words on screen; the paper's symbols (M^s, M^e_t, M_t) only in the code and the user guide
MASK_CHOICES = ("No mask", "Where the subject was", "Where the subject goes", "Area the edit may change, by step",
                "Area the edit may change")  # fmt: skip
LEGENDS = {
    SOURCE_MASK: (SOURCE_COLOR, "subject before", "where the subject is in the photo"),
    TARGET_MASK: (TARGET_COLOR, "subject after", "where the edited subject is (last step)"),
    STEP_MASK: (UNION_COLOR, "edit area", "both together at step {step}: outside it the photo is kept as it was"),
    UNION_MASK: (UNION_COLOR, "edit area", "both together (last step): outside it the photo is kept as it was"),
}


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
        self.mask_box.addItems(list(MASK_CHOICES))
        self.legend = QLabel("", self)
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend.setWordWrap(True)
        self.step = QSlider(Qt.Orientation.Horizontal, self)
        self.step.setToolTip("Edit step whose target mask is shown")
        self.step.setMinimumWidth(140)  # room to scrub through the steps
        self.step_label = QLabel("", self)
        self.opacity = QSlider(Qt.Orientation.Horizontal, self)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(35)
        self.opacity.setFixedWidth(120)
        self.opacity.setToolTip("Opacity of the mask's fill (its outline always shows)")
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Output", self))
        controls.addWidget(self.result_box)
        controls.addSpacing(12)
        controls.addWidget(QLabel("Overlay", self))
        controls.addWidget(self.mask_box)
        controls.addWidget(self.step, 3)
        controls.addWidget(self.step_label)
        controls.addStretch(1)
        controls.addWidget(QLabel("Fill", self))
        controls.addWidget(self.opacity)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.tabs, 1)
        lay.addLayout(controls)
        lay.addWidget(self.legend)
        self.before: QImage | None = None
        self.afters: list[QImage] = []
        self.source_mask: Any = None
        self.target_masks: list[Any] = []
        self.union_masks: list[Any] = []
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
        self.union_masks = []
        self.result_box.clear()
        self._show()

    def set_results(
        self,
        afters: list[QImage],
        source_mask: Any = None,
        target_masks: list[Any] | None = None,
        histories: list[list[Any]] | None = None,
        labels: list[str] | None = None,
        union_masks: list[Any] | None = None,
    ) -> None:
        self.afters = list(afters)
        self.union_masks = list(union_masks or [])
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
        found = self._mask_shown()
        if found is None:
            return None
        mask, color = found
        ref = self.before if self.before is not None and not self.before.isNull() else self.current_after()
        size = (ref.width(), ref.height()) if ref is not None and not ref.isNull() else None
        return mask_to_qimage(mask, color, fill=self.opacity.value() / 100, size=size)

    def _mask_shown(self) -> tuple[Any, Any] | None:
        mode = self.mask_box.currentIndex()
        i = self.current_index()
        if mode == SOURCE_MASK and self.source_mask is not None:
            return self.source_mask, SOURCE_COLOR
        if mode == TARGET_MASK and i < len(self.target_masks):
            return self.target_masks[i], TARGET_COLOR
        if mode == UNION_MASK and i < len(self.union_masks):
            return self.union_masks[i], UNION_COLOR
        if mode == STEP_MASK and i < len(self.histories) and self.histories[i]:
            k = min(self.step.value(), len(self.histories[i]) - 1)
            return self.histories[i][k], UNION_COLOR
        return None

    def legend_text(self) -> str:
        """What the legend says now (plain text, for tests and tooltips)."""
        return QTextDocumentFragment.fromHtml(self.legend.text()).toPlainText() if self.legend.text() else ""

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
        self.step.setVisible(mode == STEP_MASK)
        self.step_label.setText(
            f"step {self.step.value() + 1}/{self.step.maximum() + 1}" if mode == STEP_MASK else ""
        )
        img = self.overlay_image()
        self.slider_view.set_overlay(img, 1.0)  # the fill's opacity is in the overlay's own alpha
        self.side_view.set_overlay(img, 1.0)
        self._refresh_legend(img is not None)

    def _refresh_legend(self, shown: bool) -> None:
        mode = self.mask_box.currentIndex()
        if not shown or mode not in LEGENDS:
            self.legend.setText("" if mode == NO_MASK else "No mask to show yet: run an edit first.")
            return
        color, symbol, what = LEGENDS[mode]
        what = what.format(step=f"{self.step.value() + 1}/{self.step.maximum() + 1}")
        self.legend.setText(f'<span style="color:{color.name()}; font-size:16px">■</span> '
                            f"<b>{symbol}</b> — {what}")
