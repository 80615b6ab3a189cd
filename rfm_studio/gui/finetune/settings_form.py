"""The settings of a fine-tuning run (name, LoRA rank and alpha, learning rate, steps, batch,
parts, augmentation), remembered between sessions."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QDoubleSpinBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit, QSpinBox

from ...core.errors import RFMError
from ...core.training.finetune_config import FinetuneConfig
from . import work
from ..edit_widgets import row_widget
from .widgets import hint

_KEYS = (("rank", "rank", int), ("alpha", "alpha", float), ("lr", "lr", float), ("steps", "steps", int),
         ("batch", "batch", int))


class SettingsForm(QGroupBox):
    """Uses ``settings`` (its QSettings ``q``, may be None). ``changed`` when the name or the
    parts change (what decides whether a run can start)."""

    changed = Signal()

    def __init__(self, settings=None, parent=None):
        super().__init__("Settings", parent)
        self.settings = settings
        form = QFormLayout(self)
        form.setLabelAlignment(Qt.AlignRight | Qt.AlignVCenter)
        self.name_edit = QLineEdit("my-adapter")
        self.name_edit.setToolTip("Letters, digits, spaces, '.', '_' or '-' (at most 64)")
        self.name_edit.textChanged.connect(lambda _t: self.changed.emit())
        form.addRow("Adapter name", self.name_edit)
        self.rank = QSpinBox()
        self.rank.setRange(1, 256)
        self.rank.setValue(8)
        self.rank.setToolTip("LoRA rank: more capacity with a higher rank (and a larger adapter)")
        self.alpha = QDoubleSpinBox()
        self.alpha.setRange(0.1, 1024.0)
        self.alpha.setValue(16.0)
        self.alpha.setToolTip("LoRA alpha: the update is scaled by alpha / rank")
        form.addRow("LoRA rank", row_widget(self.rank, QLabel("alpha"), self.alpha))
        self.lr = QDoubleSpinBox()
        self.lr.setDecimals(5)
        self.lr.setRange(0.00001, 0.1)
        self.lr.setSingleStep(0.0001)
        self.lr.setValue(0.001)
        form.addRow("Learning rate", self.lr)
        self.steps = QSpinBox()
        self.steps.setRange(1, 100000)
        self.steps.setValue(300)
        self.batch = QSpinBox()
        self.batch.setRange(1, 64)
        self.batch.setValue(4)
        self.batch.setToolTip("Crops per step")
        form.addRow("Steps", row_widget(self.steps, QLabel("batch"), self.batch))
        self.part_unet = QCheckBox("U-Net attention")
        self.part_unet.setChecked(True)
        self.part_unet.setToolTip("LoRA on the U-Net's attention projections (q, k, v, out)")
        self.part_text = QCheckBox("Text encoder")
        self.part_text.setToolTip("LoRA on the instruction encoder's query and value projections: helps "
                                  "with new words")
        for c in (self.part_unet, self.part_text):
            c.toggled.connect(lambda _on: self.changed.emit())
        pr = QHBoxLayout()
        pr.addWidget(self.part_unet)
        pr.addWidget(self.part_text)
        pr.addStretch(1)
        form.addRow("Adapt", pr)
        self.augment = QCheckBox("Augment (random gain, time shift)")
        self.augment.setChecked(True)
        self.augment.setToolTip("For tiny sets: every step sees each pair at a random gain and a random "
                                "2.56 s crop (a time shift)")
        form.addRow("", self.augment)
        self.model_hint = hint("Trains on the loaded model.")
        form.addRow(self.model_hint)
        self._boxes = (("unet", self.part_unet), ("text_encoder", self.part_text), ("augment", self.augment))
        self.load()

    def current(self) -> FinetuneConfig:
        """The run these settings describe (its table is staged by the worker)."""
        parts = tuple(p for p, box in self._boxes[:2] if box.isChecked())
        return work.run_config(name=self.name_edit.text().strip(), steps=int(self.steps.value()),
                               batch_size=int(self.batch.value()), lr=float(self.lr.value()),
                               rank=int(self.rank.value()), alpha=float(self.alpha.value()), parts=parts,
                               augment=self.augment.isChecked())

    def parts_chosen(self) -> bool:
        return self.part_unet.isChecked() or self.part_text.isChecked()

    def name_problem(self) -> str:
        from ...core.model.adapter_store import check_name

        try:
            check_name(self.name_edit.text().strip())
        except RFMError as exc:
            return str(exc)
        return ""

    def show_model(self, ready: bool, name: str) -> None:
        self.model_hint.setText(f"Trains on the loaded model, {name}; any adapter applied in the editor is "
                                "taken off during the run and put back after." if ready else
                                "No model is loaded: load one (edit panel ▸ Model) to train.")

    def load(self) -> None:
        q = getattr(self.settings, "q", None)
        if q is None:
            return
        for key, attr, kind in _KEYS:
            v = q.value(f"finetune/{key}")
            if v is not None:
                try:
                    getattr(self, attr).setValue(kind(v))
                except (TypeError, ValueError):
                    pass
        for key, box in self._boxes:
            v = q.value(f"finetune/{key}")
            if v is not None:
                box.setChecked(str(v).lower() in ("1", "true", "yes"))

    def save(self) -> None:
        q = getattr(self.settings, "q", None)
        if q is None:
            return
        for key, attr, _kind in _KEYS:
            q.setValue(f"finetune/{key}", getattr(self, attr).value())
        for key, box in self._boxes:
            q.setValue(f"finetune/{key}", box.isChecked())
