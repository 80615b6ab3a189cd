"""The dialog that adds one triplet: an original, its target and the instruction."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QHBoxLayout, QLineEdit, QToolButton

from ...core.audio.io import READ_EXTENSIONS
from .pairing import Triplet

AUDIO_FILTER = "Audio files (" + " ".join(f"*{e}" for e in READ_EXTENSIONS) + ");;All files (*)"


class AddTripletDialog(QDialog):
    def __init__(self, start_dir: str = "", instruction: str = "", parent=None):
        super().__init__(parent)
        self.setWindowTitle("Add a triplet")
        self.start_dir = start_dir
        form = QFormLayout(self)
        self.input, self.target = QLineEdit(), QLineEdit()
        for label, edit in (("Original (input)", self.input), ("Target", self.target)):
            b = QToolButton()
            b.setText("…")
            b.clicked.connect(lambda _c=False, e=edit: self._browse(e))
            row = QHBoxLayout()
            row.addWidget(edit, 1)
            row.addWidget(b)
            form.addRow(label, row)
        self.instruction = QLineEdit(instruction)
        self.instruction.setPlaceholderText("e.g. Remove the air-conditioner hum")
        form.addRow("Instruction", self.instruction)
        bb = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        bb.accepted.connect(self.accept)
        bb.rejected.connect(self.reject)
        form.addRow(bb)
        self.resize(560, self.sizeHint().height())

    def _browse(self, edit):
        path, _ = QFileDialog.getOpenFileName(self, "Choose an audio file", edit.text() or self.start_dir,
                                              AUDIO_FILTER)
        if path:
            edit.setText(path)
            self.start_dir = str(Path(path).parent)

    def triplet(self) -> Triplet:
        return Triplet(self.input.text().strip(), self.target.text().strip(), self.instruction.text().strip())
