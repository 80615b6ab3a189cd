"""Find (a controller MainWindow composes): where the sound the instruction names plays in the
current version, heard by the shipped sound finder (core.detection.find.run_find, a generator: the
Edit panel's progress line shows the window it hears, and Cancel / Esc stops it between windows) in
the model worker, within the selected region when there is one. The spans it finds become example marks
(ExampleMarks.set_found: they replace the last Find's marks, hand-made ones stay; hidden while the
instruction names another sound) and the status bar says where, or that nothing was found. ``FindHost`` lists everything it uses of the window."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional, Protocol

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QToolButton

from ..core.detection import find
from ..core.events import FindStep
from ..core.prompts import MIN_PROMPT_SECONDS
from .jobs import JobError
from .window_edit import TEMPLATE_GAP

if TYPE_CHECKING:
    from .edit_panel import EditPanel
    from .example_marks import ExampleMarks
    from .finetune.tab import FinetuneTab
    from .history import History
    from .jobs import JobRunner
    from .window_edit import EditController

TIP = "Mark where the sound the instruction names plays (the sound finder), within the selection if any"


def found_message(found: find.FoundSound, kept) -> str:
    """The status line for a find whose spans became the marks ``kept`` (ExampleMarks.set_found):
    a span too short to mark, or past the last mark there is room for, is said so, not listed."""
    if len(kept) == len(found.spans):
        return found.summary()
    marks = ", ".join(f"{a:.2f}–{b:.2f} s" for a, b in kept)
    out = f"Found '{found.text}' at {marks} (peak {found.peak:.2f})" if kept else f"Found '{found.text}'"
    short = [(a, b) for a, b in found.spans if b - a < MIN_PROMPT_SECONDS]
    if short:
        where = ", ".join(f"{a:.2f}–{b:.2f} s" for a, b in short)
        out += f"; too short to mark (under {MIN_PROMPT_SECONDS:g} s): {where}"
    if len(kept) + len(short) < len(found.spans):
        out += "; no room for more marks"
    return out + "."


class FindHost(Protocol):
    history: History
    runner: JobRunner
    panel: EditPanel
    examples: ExampleMarks
    editing: EditController
    finetune: FinetuneTab
    region: Optional[tuple[float, float]]
    doc_id: int

    def addAction(self, action) -> None: ...
    def statusBar(self): ...
    def update_actions(self) -> None: ...
    def show_error(self, title: str, message: str, detail: str = "") -> None: ...


class FindController:
    """The Find action (Edit menu, Ctrl+F) and its button beside the instruction; ``job`` is the
    running find's id."""

    def __init__(self, win: FindHost):
        self.win = win
        self.job: Optional[int] = None
        self._doc = -1
        self._heard: tuple = ()  # (version, region) the running find heard
        self._rest = ""  # the Edit panel's progress line before the find
        self.action = QAction("&Find Sound", win)
        self.action.setShortcut(QKeySequence("Ctrl+F"))
        self.action.triggered.connect(self.run)
        win.addAction(self.action)
        self.button = QToolButton()
        self.button.setDefaultAction(self.action)  # its enabled state and tooltip follow the action's
        self.button.setText("Find")
        self.button.setAutoRaise(True)
        win.panel.instruction_row.addWidget(self.button)  # beside the instruction it reads
        win.examples.changed.connect(self.update)  # hand marks may leave no room for found ones
        win.panel.instruction.textChanged.connect(self._instruction_changed)
        self.update()

    @property
    def busy(self) -> bool:
        return self.job is not None

    def blocked(self) -> str:
        """Why Find cannot run now, or ""."""
        w = self.win
        if not find.finder_installed():
            return f"No sound finder is installed ({find.shipped_finder_dir()})"
        if w.history.source is None:
            return "Open a clip first"
        if w.examples.room_for_found() <= 0:
            return "All example marks are in use; clear some first"
        if self.busy:
            return "Finding…"
        if w.editing.busy:
            return "An edit is running"
        if w.finetune.busy:
            return "The model is busy in the Fine-tuning tab"
        return ""

    def update(self) -> None:
        why = self.blocked()
        self.action.setEnabled(not why)
        tip = why or TIP
        self.action.setToolTip(f"{tip} (Ctrl+F)")
        self.action.setStatusTip(tip)
        self.button.setText("Finding…" if self.busy else "Find")
        self.win.panel.cancel_button.setEnabled(self.busy or self.win.editing.busy)  # Cancel stops a find too

    def run(self) -> Optional[int]:
        w = self.win
        why = self.blocked()
        if why:
            w.statusBar().showMessage(f"Find: {why}.", 5000)
            return None
        text = w.panel.instruction.text().strip()
        if not find.names_sound(text) or TEMPLATE_GAP.search(text):  # "", "Remove this": no sound to listen for
            w.statusBar().showMessage("Find: type the sound to find first, e.g. \"Remove the dog barking\".", 8000)
            return None
        cur = w.history.get(w.history.current)
        audio, sr, within, room = cur.audio, cur.sample_rate, w.region, w.examples.room_for_found()
        self._doc, self._heard = w.doc_id, (w.history.current, w.region)
        self._rest = w.panel.progress.format()  # the progress line the find's steps borrow
        self.job = w.runner.submit(  # a generator: Cancel / Esc stops it between the finder's windows
            "find", lambda cancel: find.run_find(audio, sr, text, within=within, max_spans=room, cancel=cancel),
            label=f"find {text}", on_yielded=self._step, on_returned=self._done, on_errored=self._failed,
            on_aborted=self._ended)
        w.statusBar().showMessage(f"Finding '{find.query_text(text)}'…")
        w.panel.set_progress_text(f"Finding '{find.query_text(text)}'…")
        w.update_actions()
        return self.job

    def cancel(self, say: str = "") -> None:
        """Drop a running find (Cancel; an edit started; a new clip was opened): its result is
        never applied. ``say``: the status bar's message (else it is cleared)."""
        if self.job is not None:
            self.win.runner.cancel("find")
            self._ended()
            if say:
                self.win.statusBar().showMessage(say, 5000)

    def _instruction_changed(self, text: str) -> None:
        """The marks Find made are hidden while the instruction names another sound than the one
        they were found for (a key at a time, a half-typed instruction does) and shown again once it
        names that sound again; hand marks stay as they are."""
        marks = self.win.examples
        same = find.sound_key(text) == find.sound_key(marks.found_for)
        if marks.show_found(same):
            say = "shown again" if same else "hidden: the instruction names another sound"
            self.win.statusBar().showMessage(f"Find's marks for '{marks.found_for}' {say}.", 8000)

    def _step(self, ev) -> None:
        """A FindStep: the window the finder hears now, on the Edit panel's progress line."""
        if self.job is not None and isinstance(ev, FindStep):
            self.win.panel.set_stage(ev.window, ev.windows, f"Finding '{ev.text}'")

    def _settle(self) -> None:
        """The find is over: the actions, and the progress line as it was before it, unless edits
        wait now (a block set while it ran says so)."""
        self.job = None
        self.win.update_actions()
        if not self.win.editing.busy:  # (an edit that cancelled the find shows its own progress)
            self.win.panel.set_progress_text(self.win.panel.blocked or self._rest)

    def _done(self, found: find.FoundSound) -> None:
        w = self.win
        doc = self._doc
        self._settle()
        if doc != w.doc_id:
            return
        if self._heard != (w.history.current, w.region):  # it heard another version or selection
            what = "version" if self._heard[0] != w.history.current else "selection"
            w.statusBar().showMessage(f"Find ignored: the {what} changed.", 8000)
            return
        if find.sound_key(w.panel.instruction.text()) != find.sound_key(found.text):
            w.statusBar().showMessage("Find ignored: the instruction names another sound now.", 8000)
            return
        kept = w.examples.set_found(found.spans, found.text)
        w.statusBar().showMessage(found_message(found, kept), 20000)

    def _failed(self, err: JobError) -> None:
        self._settle()
        self.win.statusBar().clearMessage()
        self.win.show_error("Find failed", err.message, err.detail if not err.user else "")

    def _ended(self) -> None:
        self._settle()
        self.win.statusBar().clearMessage()
