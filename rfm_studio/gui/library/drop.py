"""Drop a sound from the Library panel onto the waveform: it is added at the drop time by an
"Add ..." edit whose region is the sound's length from there, and the edit's history entry names
the file. The sound's length is read in the window's I/O worker (never on the UI thread)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QObject

LANE = "library-drop"  # the I/O worker's lane for reading a dropped sound's length


def sound_length(path: str) -> float:
    """Worker side: the sound file's duration in seconds (its header only)."""
    import soundfile as sf

    return float(sf.info(path).duration)


def _dropped_path(md) -> str | None:
    from ...core.library.meta import AUDIO_EXTS

    for url in md.urls() if md.hasUrls() else []:
        p = url.toLocalFile()
        if p and p.lower().endswith(AUDIO_EXTS):
            return p
    return None


class DropPlacer(QObject):
    def __init__(self, window, panel):
        super().__init__(window)
        self.window = window
        self.panel = panel
        view = window.wave
        view.setAcceptDrops(True)
        view.viewport().setAcceptDrops(True)
        view.viewport().installEventFilter(self)
        panel.place_requested.connect(self.place)

    def eventFilter(self, obj, ev):
        t = ev.type()
        if t in (QEvent.DragEnter, QEvent.DragMove, QEvent.Drop) and ev.source() is not self.panel.tree:
            return False  # a file from elsewhere opens as before (the window's own drop)
        if t in (QEvent.DragEnter, QEvent.DragMove):
            if _dropped_path(ev.mimeData()) and self.window.history.source is not None:
                ev.acceptProposedAction()
                return True
        elif t == QEvent.Drop:
            path = _dropped_path(ev.mimeData())
            if path and self.window.history.source is not None:
                view = self.window.wave
                x = view.vb.mapSceneToView(view.mapToScene(ev.position().toPoint())).x()
                ev.acceptProposedAction()
                self.panel.place_requested.emit(path, float(x))
                return True
        return False

    def place(self, path: str, at: float) -> None:
        """Add ``path`` at ``at`` seconds of the current clip: its length is read in the I/O
        worker, then the edit starts (unless another clip was opened meanwhile)."""
        w = self.window
        if float(w.duration) <= 0:
            return
        doc = w.doc_id
        w.statusBar().showMessage(f"Reading {Path(path).name}…", 5000)
        w.io.submit(LANE, lambda c: sound_length(path), f"length of {Path(path).name}",
                    on_returned=lambda length: self._place(doc, path, at, length),
                    on_errored=lambda _err: w.statusBar().showMessage(f"Cannot read {Path(path).name}.", 5000))

    def _place(self, doc: int, path: str, at: float, length: float) -> None:
        from ...core.library.describe import name_words
        from ...core.library.prompted import parse_instruction

        w = self.window
        dur_clip = float(w.duration)
        if doc != w.doc_id or dur_clip <= 0:
            return  # another clip was opened while the sound was read
        at = min(max(0.0, at), max(0.0, dur_clip - 0.05))
        w.set_region((at, min(dur_clip, at + max(length, 0.05))))
        if parse_instruction(w.panel.instruction.text())[0] != "add":
            w.panel.instruction.setText(f"Add {name_words(Path(path).stem) or Path(path).stem}")
        self.panel.keep_reference(path)  # the instruction's candidates must not replace the dropped file
        w.run_edit()
