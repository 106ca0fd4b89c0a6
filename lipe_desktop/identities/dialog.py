"""The "New identity" dialog: name, class word, kind (person / pet / object)."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
)


class NewIdentityDialog(QDialog):
    def __init__(self, parent: Any = None, photos: int = 0) -> None:
        super().__init__(parent)
        self.setWindowTitle("New identity")
        self.setMinimumWidth(420)  # the class word's hint ("a plain noun: dog, cat, person, toy…") was cut
        self.name = QLineEdit(self)
        self.name.setPlaceholderText("e.g. Rex")
        self.class_word = QLineEdit(self)
        self.class_word.setPlaceholderText("a plain noun: dog, cat, person, toy…")
        self.kind = QComboBox(self)
        self.kind.addItem("Guess from the class word", None)
        for k in ("person", "pet", "object"):
            self.kind.addItem(k.capitalize(), k)
        form = QFormLayout()
        form.addRow("Name", self.name)
        form.addRow("Class word", self.class_word)
        form.addRow("Kind", self.kind)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        why = QLabel("The class word is what the subject is (dog, cat, person, mug): the prior keeps it a "
                     "dog while learning what makes it this one.", self)
        why.setWordWrap(True)
        lay.addWidget(why)
        if photos:
            lay.addWidget(QLabel(f"The {photos} selected photo(s) become its reference photos.", self))
        lay.addLayout(form)
        lay.addWidget(buttons)

    def values(self) -> tuple[str, str, str | None]:
        return self.name.text().strip(), self.class_word.text().strip(), self.kind.currentData()
