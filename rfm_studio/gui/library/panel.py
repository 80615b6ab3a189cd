"""The Library panel: search the sound library as you type, audition a result, drag it onto
the waveform to place it there, and choose which library sound an "Add ..." or
"Replace ... with ..." edit uses (the top candidates for the instruction are listed).

Searching, indexing and reading files run on one worker thread that owns the library's
database connection; results come back to the UI thread through a queued signal as tuples
of frozen Hit records.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PySide6.QtCore import QMimeData, Qt, QTimer, QUrl, Signal
from PySide6.QtWidgets import (QAbstractItemView, QFileDialog, QHBoxLayout, QLabel, QLineEdit, QPushButton,
                               QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget)


def parse_instruction(text: str):
    from ...core.library.prompted import parse_instruction as parse  # core imports stay off the start-up path

    return parse(text)

PATH_ROLE = Qt.UserRole
DUR_ROLE = Qt.UserRole + 1
LIMIT = 25


class _ResultTree(QTreeWidget):
    """Results; dragging one carries its file as a URL (the waveform accepts it)."""

    def mimeData(self, items):
        md = QMimeData()
        paths = [it.data(0, PATH_ROLE) for it in items if it.data(0, PATH_ROLE)]
        md.setUrls([QUrl.fromLocalFile(p) for p in paths])
        md.setText("\n".join(paths))
        return md

    def mimeTypes(self):
        return ["text/uri-list", "text/plain"]


class LibraryPanel(QWidget):
    place_requested = Signal(str, float)  # a file dropped on the waveform at this time (s)
    reference_changed = Signal(str)  # the file Add / Replace will use ("" for none)
    _results = Signal(int, object)  # (request id, (hits, mode, count) or an exception)
    _loaded = Signal(object)  # (path, audio, rate) of an audition, or an exception
    _indexed = Signal(object)  # ScanReport or an exception

    def __init__(self, db_path=None, player=None, parent=None):
        super().__init__(parent)
        self.db_path = db_path
        self.player = player  # a Player of its own for auditions (made on first use)
        self._lib = None  # opened in the worker thread, used only there
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="library")
        self._closed = False
        self._req = 0
        self._follow = False  # the list shows candidates for the instruction
        self.hits: tuple = ()
        self.mode = ""
        self.reference: str = ""
        self.search_box = QLineEdit()
        self.search_box.setPlaceholderText("Search sounds (e.g. dog barking)")
        self.search_box.setClearButtonEnabled(True)
        self.search_box.textEdited.connect(self._typed)
        self.tree = _ResultTree()
        self.tree.setHeaderLabels(["Sound", "Description", "Length"])
        self.tree.setRootIsDecorated(False)
        self.tree.setDragEnabled(True)
        self.tree.setDragDropMode(QAbstractItemView.DragOnly)
        self.tree.setSelectionMode(QAbstractItemView.SingleSelection)
        self.tree.currentItemChanged.connect(self._current_changed)
        self.tree.itemDoubleClicked.connect(lambda *_: self.audition())
        self.use_label = QLabel("")
        self.use_label.setWordWrap(True)
        self.status = QLabel("")
        self.status.setObjectName("hint")
        self.audition_btn = QPushButton("Audition")
        self.audition_btn.setToolTip("Play the selected sound (double-click does the same)")
        self.audition_btn.clicked.connect(self.audition)
        self.add_btn = QPushButton("Add Folder…")
        self.add_btn.setToolTip("Index a folder of WAV, FLAC, OGG, MP3 or AIFF files")
        self.add_btn.clicked.connect(self.choose_folder)
        row = QHBoxLayout()
        row.addWidget(self.audition_btn)
        row.addWidget(self.add_btn)
        row.addStretch(1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addWidget(self.search_box)
        lay.addWidget(self.tree, 1)
        lay.addWidget(self.use_label)
        lay.addLayout(row)
        lay.addWidget(self.status)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(150)  # search as you type, once the typing pauses
        self._timer.timeout.connect(self._search_now)
        self._pending = ""  # the instruction's sound, searched once typing pauses and no edit runs
        self.busy = lambda: False
        self._follow_timer = QTimer(self)
        self._follow_timer.setSingleShot(True)
        self._follow_timer.setInterval(300)
        self._follow_timer.timeout.connect(self._follow_now)
        self._results.connect(self._show, Qt.QueuedConnection)
        self._loaded.connect(self._play, Qt.QueuedConnection)
        self._indexed.connect(self._after_index, Qt.QueuedConnection)
        self.tree.setToolTip("Drag a sound onto the waveform to place it there")

    # ------------------------------------------------------------- worker side
    def _library(self):
        if self._lib is None:
            from ...core.library import Library

            self._lib = Library(self.db_path)
        return self._lib

    def _run(self, fn, signal, *head):
        def done(fut):
            try:
                value = fut.result()
            except BaseException as exc:  # delivered to the UI thread as a value
                value = exc
            if self._closed:
                return
            try:
                signal.emit(*head, value)
            except RuntimeError:  # the panel was deleted meanwhile
                pass

        if self._closed:  # a close was refused (the window stays): work again
            self._closed = False
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="library")
        self._pool.submit(fn).add_done_callback(done)

    def shutdown(self) -> None:
        """Wait for the worker (no thread may outlive the window's Qt objects) and drop queued work."""
        self._closed = True
        self._pool.shutdown(wait=True, cancel_futures=True)

    # ------------------------------------------------------------- searching
    def _typed(self, _text):
        self._follow = False
        self._timer.start()

    def search(self, text: str, follow: bool = False) -> None:
        """Search for ``text`` now; with ``follow`` the best result becomes the reference."""
        self.search_box.setText(text)
        self._follow = follow
        self._search_now()

    def _search_now(self):
        q = self.search_box.text().strip()
        self._req += 1
        rid = self._req
        if not q:
            self._show(rid, ((), self.mode, None))
            return
        self.status.setText("Searching…")

        def work():
            lib = self._library()
            return tuple(lib.search(q, LIMIT)), lib.mode, lib.count()

        self._run(work, self._results, rid)

    def _show(self, rid, payload):
        if rid != self._req:
            return  # a newer search was started
        if isinstance(payload, BaseException):
            self.status.setText(f"Library error: {payload}")
            return
        hits, mode, count = payload
        self.hits, self.mode = hits, mode
        self.tree.clear()
        for h in hits:
            it = QTreeWidgetItem([Path(h.path).name, h.description, f"{h.duration:.1f} s"])
            it.setData(0, PATH_ROLE, h.path)
            it.setData(0, DUR_ROLE, float(h.duration))
            for c in range(3):
                it.setToolTip(c, f"{h.path}\n{h.description}")
            self.tree.addTopLevelItem(it)
        if count is not None:
            self.status.setText(f"{len(hits)} of {count} sounds" + (" · keyword search" if mode == "keywords" else ""))
        if self._follow and hits:
            self.tree.setCurrentItem(self.tree.topLevelItem(0))
        elif self._follow:
            self.set_reference("")

    def _current_changed(self, cur, _prev):
        if cur is not None:
            self.set_reference(cur.data(0, PATH_ROLE) or "")

    def set_reference(self, path: str) -> None:
        if path == self.reference:
            return
        self.reference = path
        self.use_label.setText(f"Add / Replace will use: <b>{Path(path).name}</b>" if path else "")
        self.reference_changed.emit(path)

    def keep_reference(self, path: str) -> None:
        """Use ``path`` for the next edit, whatever the instruction's candidates are."""
        self._pending = ""
        self._follow = False
        self._follow_timer.stop()
        self.set_reference(path)

    def follow_instruction(self, text: str) -> None:
        """For an "Add X" / "Replace A with B" instruction, list the candidates for X / B and
        pick the best (the user may choose another)."""
        task, _, what = parse_instruction(text)
        if task is None:
            self._follow = False
            self._pending = ""
            self.set_reference("")
            return
        if what and what != self.search_box.text():
            self._pending = what
            self._follow_timer.start()

    def _follow_now(self):
        if not self._pending:
            return
        if self.busy():  # no library work competes with a running edit; look again shortly
            self._follow_timer.start()
            return
        what, self._pending = self._pending, ""
        self.search(what, follow=True)

    def prompts_for(self, instruction: str) -> tuple:
        """The reference prompt an edit with ``instruction`` uses: the chosen library sound
        for an add / replace instruction, else none."""
        task, _, what = parse_instruction(instruction)
        if task is None:
            return ()
        if what and (not self.reference or self._pending == what):  # Run before the candidates came back
            path = self._quick_pick(what)
            if path:
                self._pending = ""
                self.set_reference(path)
        if not self.reference:
            return ()
        from ...core.library.prompted import load_reference

        return (load_reference(self.reference, source=self.reference),)

    def _quick_pick(self, what: str) -> str:
        """The best keyword match (FTS5: no model, milliseconds) on a connection of this thread."""
        from ...core.library import Library

        try:
            with Library(self.db_path) as lib:
                hits = lib.keyword_search(what, 1)
        except Exception:
            return ""
        return hits[0].path if hits else ""

    # ------------------------------------------------------------- audition, folders
    def audition(self) -> None:
        it = self.tree.currentItem()
        if it is None:
            return
        path = it.data(0, PATH_ROLE)

        def work():
            from ...core.audio.io import load_audio

            audio, sr = load_audio(path)
            return path, audio, sr

        self._run(work, self._loaded)

    def _play(self, payload):
        if isinstance(payload, BaseException):
            self.status.setText(str(payload))
            return
        path, audio, sr = payload
        if self.player is None:
            from ..playback import Player

            self.player = Player()
        if not self.player.available and not self.player.probe():
            self.status.setText(self.player.reason)
            return
        self.player.pause()
        self.player.set_sources(audio, None, sr)
        self.player.seek(0.0)
        self.player.play()
        self.status.setText(f"Playing {Path(path).name}")

    def choose_folder(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "Add a folder of sounds to the library", os.path.expanduser("~"))
        if d:
            self.add_folder(d)

    def add_folder(self, folder: str) -> None:
        self.status.setText(f"Indexing {folder}…")
        self.add_btn.setEnabled(False)
        self._run(lambda: self._index_and_embed(folder), self._indexed)

    def _index_and_embed(self, folder: str):
        """Worker side: scan the folder, then embed its descriptions (keywords serve if that fails)."""
        lib = self._library()
        rep = lib.add_folder(folder)
        try:
            lib.embed_pending()
        except Exception:  # the encoder is unavailable: searches fall back to keywords
            pass
        return rep

    def _after_index(self, rep):
        self.add_btn.setEnabled(True)
        if isinstance(rep, BaseException):
            self.status.setText(str(rep))
            return
        self.status.setText(f"{Path(rep.folder).name}: {rep.added} added, {rep.updated} updated, "
                            f"{rep.removed} removed" + (f", {rep.failed} unreadable" if rep.failed else ""))
        if self.search_box.text().strip():
            self._search_now()
