"""The Fine-tuning tab: a personal LoRA adapter from the user's own triplets.

Left: the triplet table (``triplet_table.TripletsPanel``) and the adapters on disk
(``adapters_panel.AdaptersPanel``). Right: the settings (``settings_form.SettingsForm``),
Train / Cancel / Resume with the live loss curve (``training_panel.TrainingPanel``) and the
before/after preview of the last adapter (``preview_panel.PreviewPanel``).

Training and the preview run as the tab's one job in the app's worker (``job_slot``), on
the model the worker holds; while one runs, edits wait (the main window blocks them and
says why) and the app stays usable for opening files and listening. The file checks
(``checks``) and decoding a file to listen to (``playback``) are jobs of the window's I/O
worker (``io``, see jobs.py), so they do not wait behind a training run; they read audio only.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QInputDialog, QLabel, QLineEdit, QMessageBox, QScrollArea, QSplitter, QVBoxLayout, QWidget

from .adapters_panel import AdaptersPanel
from .checks import FileChecks
from .job_slot import JobSlot
from .playback import TabPlayer
from .preview_panel import PreviewPanel
from .settings_form import SettingsForm
from .training_panel import TrainingPanel
from .triplet_table import TripletsPanel

BLOCK_NOTE = ("The model is busy with {what}: edits wait until it has finished. You can still open "
              "files and listen.")


class FinetuneTab(QWidget):
    adapters_changed = Signal()  # an adapter was saved, renamed or deleted
    adapter_moved = Signal(str, str)  # (old folder, new folder or "" when deleted)
    busy_changed = Signal(bool)  # a training or preview job holds the model
    use_adapter = Signal(str)  # apply this adapter folder in the editor
    open_preview = Signal(object)  # a work.PreviewOutcome, to show in the editor's views
    error = Signal(str, str, str)  # title, message, detail
    status = Signal(str)  # a status-bar message

    def __init__(self, runner, host, player, settings=None, parent=None, io=None):
        super().__init__(parent)
        io = io if io is not None else runner  # the I/O worker (file checks, decoding to listen)
        self.confirm = self._confirm_dialog  # replaceable in tests
        self.ask_text = self._ask_text_dialog
        self._model_ready = False
        self._model_name = ""
        self.slot = JobSlot(runner, self)
        self.player = TabPlayer(player, io, self)
        self.player.message.connect(lambda text, warn: self.say(text, warn))
        self.player.playing.connect(self.status)
        ready, say = (lambda: self._model_ready), self.say
        confirm = lambda *a: self.confirm(*a)  # noqa: E731 - late: tests replace self.confirm
        self.triplet_panel = TripletsPanel(FileChecks(io, self), settings, say, self.player.play_file,
                                           self.player.stop)
        self.adapters = AdaptersPanel(ready, lambda: self.slot.busy, lambda: self.triplet_panel.table.rowCount() > 0, say,
                                      confirm, lambda *a: self.ask_text(*a))
        self.form = SettingsForm(settings)
        self.trainer = TrainingPanel(self.slot, host, self.form, self.triplet_panel, ready, say, confirm)
        self.preview = PreviewPanel(self.slot, host, self.triplet_panel, self.trainer.progress, ready, say,
                                    self.player.play, self.player.stop)
        self._layout()
        self.setAcceptDrops(True)
        self._wire()
        self.adapters.refresh()
        self.triplet_panel.run_checks()

    @property
    def checking(self) -> bool:
        return self.triplet_panel.checking

    @property
    def problems(self) -> list[str]:
        return self.triplet_panel.problems

    @property
    def ready(self) -> bool:
        return self.triplet_panel.ready

    @property
    def outcome(self):
        return self.trainer.outcome

    @property
    def preview_result(self):
        return self.preview.result

    def _layout(self):
        left = QSplitter(Qt.Vertical)
        left.setChildrenCollapsible(False)
        left.addWidget(self.triplet_panel)
        left.addWidget(self.adapters)
        left.setStretchFactor(0, 3)
        left.setStretchFactor(1, 2)
        inner = QWidget()
        rl = QVBoxLayout(inner)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self.form)
        rl.addWidget(self.trainer, 1)
        rl.addWidget(self.preview)
        scroll = QScrollArea()
        scroll.setWidget(inner)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(inner.minimumSizeHint().width() + 18)  # + the vertical scroll bar
        split = QSplitter(Qt.Horizontal)
        split.setChildrenCollapsible(False)
        split.addWidget(left)
        split.addWidget(scroll)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([600, 420])
        self.splitter = split
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        self.notice = QLabel("")
        self.notice.setObjectName("banner")
        self.notice.setWordWrap(True)
        self.notice.hide()
        lay.addWidget(self.notice)
        lay.addWidget(split, 1)

    def _wire(self):
        self.slot.changed.connect(self._job_changed)
        self.triplet_panel.changed.connect(self._update_buttons)
        self.triplet_panel.checked.connect(self.trainer.show_held_out)
        self.form.changed.connect(self._update_buttons)
        self.adapters.changed.connect(self._update_buttons)
        self.adapters.adapters_changed.connect(self.adapters_changed)
        self.adapters.adapter_moved.connect(self.adapter_moved)
        self.adapters.use_adapter.connect(self.use_adapter)
        self.adapters.preview_requested.connect(lambda folder: self.preview.preview_adapter(folder))
        self.trainer.saved.connect(self._saved)
        self.trainer.error.connect(self.error)
        self.preview.error.connect(self.error)
        self.preview.open_preview.connect(self.open_preview)

    # -- state -------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        """A training or preview job of this tab holds the model."""
        return self.slot.busy

    @property
    def training(self) -> bool:
        return self.slot.busy and self.slot.training

    @property
    def owns_player(self) -> bool:
        return self.player.owns

    @owns_player.setter
    def owns_player(self, value: bool) -> None:  # the window takes the player back
        if not value:
            self.player.cancel_pending()  # a listen still being decoded must not take it again
        self.player.owns = bool(value)

    def set_model_ready(self, ready: bool, name: str = "") -> None:
        if ready == self._model_ready and name == self._model_name:
            return
        self._model_ready, self._model_name = bool(ready), name
        self.form.show_model(ready, name)
        self._update_buttons()

    def say(self, text: str, warn: bool = False) -> None:
        """A message in the tab (and the status bar)."""
        self.notice.setText(("⚠ " if warn else "") + text if text else "")
        self.notice.setVisible(bool(text))
        if text:
            self.status.emit(text)

    def _update_buttons(self):
        busy = self.slot.busy
        self.trainer.update_buttons()
        self.triplet_panel.update_buttons(busy)
        self.adapters.update_buttons()
        self.preview.update_buttons()

    def _job_changed(self, busy: bool):
        if busy:
            self.say(BLOCK_NOTE.format(what="training the adapter" if self.slot.training
                                       else "the adapter preview"))
        else:
            self.notice.hide()
        self._update_buttons()
        self.busy_changed.emit(busy)

    def _saved(self, out, triplets):
        self.adapters.refresh(select=out.name)
        self.adapters_changed.emit()
        self.preview.preview_adapter(out.folder, self.preview.pick_triplet(triplets))

    # -- drops anywhere on the tab -----------------------------------------------------
    def dragEnterEvent(self, ev):
        if ev.mimeData().hasUrls() and any(u.isLocalFile() for u in ev.mimeData().urls()):
            ev.acceptProposedAction()
        else:
            ev.ignore()

    def dropEvent(self, ev):
        paths = [u.toLocalFile() for u in ev.mimeData().urls() if u.isLocalFile()]
        if paths:
            ev.acceptProposedAction()
            self.triplet_panel.add_paths(paths)

    # -- dialogs, theme, shutdown ------------------------------------------------------
    def _confirm_dialog(self, title: str, text: str) -> bool:
        return QMessageBox.question(self, title, text, QMessageBox.Yes | QMessageBox.No,
                                    QMessageBox.No) == QMessageBox.Yes

    def _ask_text_dialog(self, title: str, label: str, text: str) -> Optional[str]:
        value, ok = QInputDialog.getText(self, title, label, QLineEdit.Normal, text)
        return value if ok else None

    def style(self, colors) -> None:
        self.trainer.style(colors)
        self.triplet_panel.style(colors)

    def shutdown(self) -> None:
        self.player.shutdown()
