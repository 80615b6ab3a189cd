"""The edit panel: instruction (history + template completion), t_start, steps, guidance, draws, strength, seed,
model/adapter selector, region, Run/Cancel and the progress bar with ETA."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QGroupBox,
                               QHBoxLayout, QLabel, QMenu, QPushButton, QSlider,
                               QSpinBox, QToolButton, QVBoxLayout, QWidget)

from ..core.events import MAX_STRENGTH
from ..core.seeding import MAX_SEED, random_seed
from .edit_widgets import (SLIDER_MAX, T_MAX, TEMPLATES, ElidedBar, InstructionBox, buddy_label, row_widget,
                           show_stage, show_text, slider_to_t, t_to_slider)


BOX_MARGINS = (8, 4, 8, 6)  # inside each group: the whole panel fits a 1280×680 window without scrolling
# (margins, spacing) of the panel and of its groups' layouts, as set and compact (set_compact: a
# window too short for the panel over the History dock at its smallest, 1280×650)
SPACING = {False: ((8, 6, 8, 4), 6, BOX_MARGINS, -1), True: ((8, 4, 8, 2), 4, (8, 2, 8, 3), 3)}


class EditPanel(QWidget):
    run_requested = Signal()
    cancel_requested = Signal()
    model_chosen = Signal(str)  # a model folder
    adapter_chosen = Signal(str)  # "" for none
    browse_model = Signal()
    clear_region = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        lay = QVBoxLayout(self)
        self._boxes = []  # the groups' layouts (set_compact)
        self.compact = False

        # -- instruction -----------------------------------------------------------
        box = QGroupBox("Instruction")
        bl = QVBoxLayout(box)
        self._boxes.append(bl)
        row = QHBoxLayout()
        self.instruction = InstructionBox()
        self.instruction.returnPressed.connect(self.run_requested)
        self.history_button = QToolButton()
        self.history_button.setText("▾")
        self.history_button.setToolTip("Recent instructions and templates")
        self.history_button.setPopupMode(QToolButton.InstantPopup)
        self.history_menu = QMenu(self)
        self.history_button.setMenu(self.history_menu)
        self.history_menu.aboutToShow.connect(self._fill_history_menu)
        row.addWidget(self.instruction, 1)
        row.addWidget(self.history_button)
        bl.addLayout(row)
        self.instruction_row = row  # the window adds its Find button here (window_find)
        self.region_label = QLabel("Region: whole clip")
        self.region_label.setObjectName("hint")
        self.region_clear = QToolButton()
        self.region_clear.setText("Clear")
        self.region_clear.setAutoRaise(True)
        self.region_clear.clicked.connect(self.clear_region)
        self.region_clear.hide()
        self._region = None
        self.region_label.setWordWrap(True)
        self.instruction.textChanged.connect(self._show_region)
        self.instruction.textChanged.connect(lambda _t: self._refresh_strength())  # the engine follows the text
        rr = QHBoxLayout()
        rr.addWidget(self.region_label, 1)
        rr.addWidget(self.region_clear)
        bl.addLayout(rr)
        lay.addWidget(box)

        # -- parameters ------------------------------------------------------------
        box = QGroupBox("Parameters")
        form = QFormLayout(box)
        self._boxes.append(form)
        form.setLabelAlignment(Qt.AlignRight | Qt.AlignVCenter)
        self.t_slider = QSlider(Qt.Horizontal)
        self.t_slider.setRange(0, SLIDER_MAX)
        self.t_spin = QDoubleSpinBox()
        self.t_spin.setRange(0.0, T_MAX)
        self.t_spin.setDecimals(4)
        self.t_spin.setSingleStep(0.001)
        self.t_spin.setFixedWidth(82)
        self.t_slider.valueChanged.connect(self._slider_moved)
        self.t_spin.valueChanged.connect(self._spin_changed)
        tw = row_widget((self.t_slider, 1), self.t_spin)
        tw.setToolTip("Start time of the flow (paper default 0.01): lower keeps more of the original.")
        form.addRow("t_start", tw)
        self.steps = QSpinBox()
        self.steps.setRange(1, 2000)
        self.steps.setValue(8)
        self.guidance = QDoubleSpinBox()
        self.guidance.setRange(0.0, 50.0)
        self.guidance.setSingleStep(0.5)
        self.guidance.setDecimals(2)
        self.guidance.setValue(1.0)
        form.addRow("Steps", row_widget((self.steps, 1), buddy_label("Guidance", self.guidance), (self.guidance, 1)))
        self.draws = QSpinBox()
        self.draws.setRange(1, 64)
        self.draws.setValue(1)
        self.draws.setToolTip("Noise draws averaged per edit: more keep the untouched sound steadier "
                              "(changes that depend on the random noise cancel out); each costs one more pass")
        self.strength = QDoubleSpinBox()
        self.strength.setRange(0.0, MAX_STRENGTH)
        self.strength.setSingleStep(0.1)
        self.strength.setDecimals(2)
        self.strength.setValue(1.0)
        self.strength.setToolTip("Scales the model's change of the spectrum: 0 changes nothing, 1 is the edit as "
                                 "predicted, above 1 cuts deeper and adds louder (best with a selected region)")
        self.strength_auto = QCheckBox("Auto")
        self.strength_auto.setChecked(True)
        self.strength_auto.setToolTip("Use the model's default strength: one for the whole clip, another "
                                      "(often higher) within a selected region, where the rest cannot change")
        self.strength_auto.toggled.connect(self._refresh_strength)
        self._strength_defaults = (1.0, 1.0)  # whole clip, within a region
        self._examples = 0  # example spans marked (Shift-drag): a "Remove X" with one runs on the dictionary
        form.addRow("Draws", row_widget((self.draws, 1), buddy_label("Strength", self.strength), (self.strength, 1),
                                        self.strength_auto))
        self._refresh_strength()
        self.seed = QSpinBox()
        self.seed.setRange(0, MAX_SEED)
        self.seed_random = QCheckBox("Random")
        self.seed_random.setToolTip("Draw a new seed for every edit (the seed used is kept in the history)")
        self.seed_dice = QToolButton()
        self.seed_dice.setText("⟳")
        self.seed_dice.setToolTip("Pick a random seed now")
        self.seed_dice.clicked.connect(lambda: self.seed.setValue(random_seed()))
        form.addRow("Seed", row_widget((self.seed, 1), self.seed_dice, self.seed_random))
        self.capture = QCheckBox("Capture cross-attention")
        self.capture.setChecked(True)
        self.layers = QComboBox()
        for name in ("all", "down", "mid", "up"):
            self.layers.addItem({"all": "All layers", "down": "Down blocks", "mid": "Mid block",
                                 "up": "Up blocks"}[name], name)
        self.layers.setToolTip("Which U-Net layers' cross-attention is averaged (applies to the next edit)")
        form.addRow("Attention", row_widget(self.capture, (self.layers, 1)))
        lay.addWidget(box)

        # -- model -----------------------------------------------------------------
        box = QGroupBox("Model")
        form = QFormLayout(box)
        self._boxes.append(form)
        form.setLabelAlignment(Qt.AlignRight | Qt.AlignVCenter)
        self.model_combo = QComboBox()
        self.model_combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.model_combo.setMinimumContentsLength(10)
        self.model_combo.activated.connect(self._model_activated)
        self.model_browse = QToolButton()
        self.model_browse.setText("…")
        self.model_browse.setToolTip("Choose a model folder")
        self.model_browse.clicked.connect(self.browse_model)
        self.adapter_combo = QComboBox()
        self.adapter_combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.adapter_combo.setMinimumContentsLength(10)
        self.adapter_combo.activated.connect(lambda _i: self.adapter_chosen.emit(self.adapter_combo.currentData() or ""))
        form.addRow("Model", row_widget((self.model_combo, 1), self.model_browse,
                                        buddy_label("Adapter", self.adapter_combo), (self.adapter_combo, 1)))
        self.model_status = QLabel("No model loaded.")
        self.model_status.setWordWrap(True)
        self.model_status.setObjectName("hint")
        form.addRow(self.model_status)
        self.choose_button = QPushButton("Choose model folder…")
        self.choose_button.clicked.connect(self.browse_model)
        self.choose_button.hide()
        form.addRow(self.choose_button)
        lay.addWidget(box)

        # -- run -------------------------------------------------------------------
        self.run_button = QPushButton("Edit")
        self.run_button.setObjectName("primary")
        self.run_button.setToolTip("Run the edit (Ctrl+Return)")
        self.run_button.clicked.connect(self.run_requested)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel_requested)
        # Edit / Cancel and the progress live in ``footer``, which the window pins under the
        # scrolling panel: on a short screen the settings scroll, the Edit button never does
        self.footer = QWidget()
        fl = QHBoxLayout(self.footer)  # one row: the settings above get the height
        fl.setContentsMargins(8, 4, 8, 6)
        fl.setSpacing(6)
        self.progress = ElidedBar()
        show_text(self.progress, "Ready")
        self.progress.setTextVisible(True)
        fl.addWidget(self.run_button, 2)
        fl.addWidget(self.cancel_button, 1)
        fl.addWidget(self.progress, 3)
        lay.addStretch(1)
        self._apply_spacing()

        self.set_t_start(0.01)
        self._model_ready = False
        self._busy = False
        self.blocked = ""  # why edits wait (another job holds the model), or ""

    # -- spacing --------------------------------------------------------------------------
    def set_compact(self, on: bool) -> None:
        """Compact spacing (less room between and inside the groups, nothing hidden) or the
        usual; the window chooses (window_docks: compact only where the usual cannot show whole)."""
        if bool(on) != self.compact:
            self.compact = bool(on)
            self._apply_spacing()

    def _apply_spacing(self) -> None:
        margins, spacing, box_margins, box_spacing = SPACING[self.compact]
        self.layout().setContentsMargins(*margins)
        self.layout().setSpacing(spacing)
        for bl in self._boxes:
            bl.setContentsMargins(*box_margins)
            if isinstance(bl, QFormLayout):
                bl.setVerticalSpacing(box_spacing)
            else:
                bl.setSpacing(box_spacing)
            bl.parentWidget().updateGeometry()  # the panel's sizeHint follows at once (window_docks measures it)
        self.layout().invalidate()
        self.updateGeometry()

    # -- t_start ------------------------------------------------------------------------
    def _slider_moved(self, pos):
        t = slider_to_t(pos)
        if abs(t - self.t_spin.value()) > 0.5 * 10 ** -self.t_spin.decimals():
            self.t_spin.blockSignals(True)
            self.t_spin.setValue(t)
            self.t_spin.blockSignals(False)

    def _spin_changed(self, t):
        self.t_slider.blockSignals(True)
        self.t_slider.setValue(t_to_slider(t))
        self.t_slider.blockSignals(False)

    def set_t_start(self, t: float) -> None:
        self.t_spin.setValue(float(t))

    def t_start(self) -> float:
        return float(self.t_spin.value())

    # -- values -------------------------------------------------------------------------
    def next_seed(self) -> int:
        if self.seed_random.isChecked():
            self.seed.setValue(random_seed())
        return int(self.seed.value())

    def set_defaults(self, steps: int, t_start: float, guidance: float, draws: int = 1, strength: float = 1.0,
                     region_strength: float | None = None) -> None:
        self.steps.setValue(int(steps))
        self.draws.setValue(int(draws))
        self._strength_defaults = (float(strength), float(strength if region_strength is None else region_strength))
        self._refresh_strength()
        self.set_t_start(t_start)
        self.guidance.setValue(float(guidance))

    def strength_value(self) -> float | None:
        """The strength the next edit asks for; None: the model's default (Auto)."""
        return None if self.strength_auto.isChecked() else float(self.strength.value())

    def set_examples(self, count: int) -> None:
        """How many example spans are marked (they decide the removal engine, hence Auto's value)."""
        self._examples = int(count)
        self._refresh_strength()

    def engine(self) -> str:
        """The engine the next edit runs on (the app's engine choice is auto)."""
        from types import SimpleNamespace

        from ..core.separation.engine import removal_engine

        return removal_engine(self.instruction.text(), "auto", [SimpleNamespace(kind="example")] * self._examples,
                              self._region)

    def _refresh_strength(self) -> None:
        from ..core.edit.inputs import auto_strength

        auto = self.strength_auto.isChecked()
        self.strength.setEnabled(not auto)
        if auto:  # show what the edit will use: the engine's, for the current selection
            self.strength.setValue(auto_strength(self.engine(), *self._strength_defaults, self._region is not None))

    def set_region(self, region) -> None:
        self._region = region
        self._show_region()
        self._refresh_strength()

    def _show_region(self) -> None:
        from ..core.data.captions import is_add_instruction

        region = self._region
        if region is None:
            text = "Region: whole clip"
            if is_add_instruction(self.instruction.text()):  # the model would have to guess when
                text += " · drag on the waveform to choose where to add it"
            self.region_label.setText(text)
            self.region_clear.hide()
        else:
            self.region_label.setText(f"Region: {region[0]:.2f} – {region[1]:.2f} s "
                                      f"({region[1] - region[0]:.2f} s)")
            self.region_clear.show()

    # -- model lists ----------------------------------------------------------------------
    def set_models(self, folders, current: str = "") -> None:
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        seen = set()
        for f in folders:
            key = str(Path(f).resolve())
            if key in seen:
                continue
            seen.add(key)
            self.model_combo.addItem(Path(f).name, str(f))
            self.model_combo.setItemData(self.model_combo.count() - 1, str(f), Qt.ToolTipRole)
        if current and str(Path(current).resolve()) not in seen:
            self.model_combo.addItem(Path(current).name, current)
        if self.model_combo.count() == 0:
            self.model_combo.addItem("(no model found)", "")
        i = self.model_combo.findData(current) if current else -1
        if i < 0 and current:
            for j in range(self.model_combo.count()):
                d = self.model_combo.itemData(j)
                if d and Path(d).resolve() == Path(current).resolve():
                    i = j
        self.model_combo.setCurrentIndex(max(0, i))
        self.model_combo.blockSignals(False)

    def set_adapters(self, folders, current: str = "") -> None:
        self.adapter_combo.blockSignals(True)
        self.adapter_combo.clear()
        self.adapter_combo.addItem("No adapter", "")
        for f in folders:
            self.adapter_combo.addItem(Path(f).name, str(f))
        i = self.adapter_combo.findData(current)
        self.adapter_combo.setCurrentIndex(max(0, i))
        self.adapter_combo.blockSignals(False)

    def _model_activated(self, _i):
        folder = self.model_combo.currentData()
        if folder:
            self.model_chosen.emit(folder)
        else:
            self.browse_model.emit()

    # -- state ----------------------------------------------------------------------------
    def set_model_status(self, text: str, ready: bool, missing: bool = False) -> None:
        """``missing``: no model could be loaded; offer to choose a folder."""
        self.model_status.setText(text)
        self.choose_button.setVisible(missing)
        self._model_ready = ready
        self._update_buttons()

    def set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.cancel_button.setEnabled(busy)
        self._update_buttons()

    def set_blocked(self, reason: str = "") -> None:
        """Edits wait while another job (adapter training) holds the model: say why; the model
        and adapter choices wait too."""
        self.blocked = reason or ""
        for w in (self.model_combo, self.model_browse, self.adapter_combo, self.choose_button):
            w.setEnabled(not self.blocked)
        self.set_progress_text(self.blocked or "Ready")  # (its tooltip: the whole line where the bar cuts it)
        self._update_buttons()

    def _update_buttons(self):
        self.run_button.setEnabled(self._model_ready and not self.blocked)
        self.run_button.setToolTip(self.blocked or "Run the edit (Ctrl+Return)")

    def set_progress(self, step: int, total: int, eta: float | None) -> None:
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(step)
        eta_s = "" if eta is None else f" · ETA {eta:.1f} s" if eta < 90 else f" · ETA {eta / 60:.1f} min"
        self.progress.setFormat(f"Step {step}/{total}{eta_s}")

    def set_stage(self, stage: int, stages: int, text: str) -> None:
        """A stage of work that is no sampler step (core ProgressEvent): its text, and the bar
        at the stages done (edit_widgets.show_stage)."""
        show_stage(self.progress, stage, stages, text)

    def set_progress_text(self, text: str) -> None:
        show_text(self.progress, text)

    def _fill_history_menu(self):
        m = self.history_menu
        m.clear()
        items = self.instruction.history[:15]
        for text in items:
            m.addAction(text, lambda t=text: self._use(t))
        if items:
            m.addSeparator()
        for text in TEMPLATES[:3]:
            m.addAction(text, lambda t=text: self._use(t))

    def _use(self, text):
        self.instruction.setText(text)
        self.instruction.setFocus()
        self.instruction._select_placeholder()
