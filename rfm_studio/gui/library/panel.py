"""The Library panel: search the sound library as you type, audition a result, drag it onto
the waveform to place it there, and choose which library sound an "Add ..." or
"Replace ... with ..." edit uses (the top candidates for the instruction are listed).

Nothing here waits on the library's database or on a sound file: searching and reading a
sound to audition are jobs of the window's I/O worker (``jobs.io_runner``, whose thread owns
the panel's database connection), indexing a folder is a job of the model's worker (long: it
would hold up opening files in the I/O worker; its Cancel button stops it between files), and
the library sound of an "Add ..." edit is looked up and read inside the edit's own job
(``LibraryChoice``/``with_reference``). The text encoder that embedding searches need is
loaded once, on the first search, by the model's worker (seconds, with torch: in the I/O worker
it would hold up opening files and the searches typed meanwhile; the model's worker does all
the other torch work, so no two threads import it at once); until it is loaded searches answer
from the keyword index, and the current one runs again when it is. A search in the I/O worker
embeds its query only: descriptions not embedded yet (an Add Folder… cancelled before its
embedding step) are embedded by the model's worker (``embed_descriptions``) while searches
answer from keywords, and the current one runs again when they are. A search's own text is
embedded by the model's worker too (``embed_query``; the I/O worker never runs the encoder),
then searched with that vector in the I/O worker; while a long job holds the model's worker,
keyword results come at once and the search by meaning follows when the job ends. Results
come back to the UI thread as per-job callbacks carrying tuples of frozen Hit records or
numpy arrays; closing the window cancels the jobs (their runners' shutdown), it never waits
on them here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from PySide6.QtCore import QMimeData, Qt, QTimer, QUrl, Signal
from PySide6.QtWidgets import (QAbstractItemView, QFileDialog, QHBoxLayout, QHeaderView, QLabel, QLineEdit,
                               QPushButton, QStyledItemDelegate, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget)

from ...core.errors import OptionError
from ..jobs import JobError


def parse_instruction(text: str):
    from ...core.library.prompted import parse_instruction as parse  # core imports stay off the start-up path

    return parse(text)

PATH_ROLE = Qt.UserRole
DUR_ROLE = Qt.UserRole + 1
LIMIT = 25
DESCRIPTION_WIDTH = 120  # px: the Description column starts narrow (the tooltip shows it whole)
SEARCH, AUDITION, INDEX = "library-search", "library-audition", "library-index"  # job lanes
ENCODER = "library-encoder"  # the text encoder's load (a lane of the model's worker)
EMBED = "library-embed"  # embedding descriptions (a lane of the model's worker)
QUERY = "library-query"  # embedding a search's text (a lane of the model's worker)
WAITING_QUERY = "results by meaning when the current job ends"
EMBEDDING = "embedding the new sounds' descriptions…"
STOPPED = "library-index-stopped"  # after a cancelled indexing job (the same worker): search again
LOADING_ENCODER = "loading the text encoder…"
WAITING_ENCODER = "the text encoder loads when the current job ends"


@dataclass(frozen=True)
class LibraryChoice:
    """Which library sound an edit uses: ``path`` (chosen in the panel) or, when none was
    chosen yet, the best match for ``query`` as the CLI picks it; resolved in the edit's job."""
    path: str
    query: str
    db_path: object = None


ADVICE = ("Add a folder of sounds (Library ▸ Add Folder…), pick a sound in the Library panel, "
          "or drag a sound file onto the waveform.")


class NoLibrarySound(OptionError):
    """An "Add X" / "Replace A with B" edit found no library sound to use (its job raises it)."""


def no_library_sound(message: str) -> NoLibrarySound:
    return NoLibrarySound(f"{message} {ADVICE}")


def pick(choice: LibraryChoice):
    """Worker side (the edit's job, in the model's worker: it may load the text encoder): the
    reference prompt of the file ``choice`` names, or of the best match for its query as the
    CLI picks it (core ``pick_reference``: embeddings and MIN_SCORE, keywords when the encoder
    cannot load); raises (one sentence and what to try) when nothing matches or the library
    cannot be searched."""
    from ...core.library.prompted import load_reference

    if choice.path:
        return load_reference(choice.path, source=choice.path)
    from ...core.library import Library
    from ...core.library.prompted import pick_reference

    try:
        with Library(choice.db_path) as lib:
            return pick_reference(choice.query, lib)[0]
    except OptionError:
        raise no_library_sound(f"The sound library has no sound matching '{choice.query}'.") from None
    except Exception as exc:  # noqa: BLE001 - a broken or locked index: say so, suggest another way
        reason = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise no_library_sound(f"The sound library could not be searched for '{choice.query}' ({reason}).") from None


def with_reference(req, choice: LibraryChoice | None):
    """Worker side: ``req`` with the chosen library sound appended to its prompts."""
    if choice is None:
        return req
    return replace(req, prompts=tuple(req.prompts) + (pick(choice),))


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


class _ElideRight(QStyledItemDelegate):
    """A description cut short keeps its start (the tree cuts names in the middle)."""

    def initStyleOption(self, option, index):
        super().initStyleOption(option, index)
        option.textElideMode = Qt.ElideRight


class LibraryPanel(QWidget):
    place_requested = Signal(str, float)  # a file dropped on the waveform at this time (s)
    reference_changed = Signal(str)  # the file Add / Replace will use ("" for none)

    def __init__(self, io, runner=None, db_path=None, player=None, parent=None):
        super().__init__(parent)
        self.io = io  # JobRunner for searches and auditions (its thread owns self._lib)
        self.runner = runner if runner is not None else io  # JobRunner for indexing (long)
        self.db_path = db_path
        self.player = player  # a Player of its own for auditions (made on first use)
        self.device = None  # the audio output (playback.AudioDevice: the window's probe at start, or the first audition's)
        self._lib = None  # opened in the I/O worker's thread, used only there
        self._req = 0
        self._encoder_started = False  # the model's worker is loading the text encoder
        self._encoder_error = ""  # why the text encoder could not load (searches use keywords)
        self._auto = False  # the panel itself is choosing the current result
        self._filling = False  # the list is being replaced
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
        self.tree.setUniformRowHeights(True)
        self.tree.setTextElideMode(Qt.ElideMiddle)  # a long name keeps its end (take numbers); the tooltip has it all
        head = self.tree.header()
        head.setStretchLastSection(False)
        head.setSectionResizeMode(0, QHeaderView.Stretch)  # the name takes the width the others leave
        head.setSectionResizeMode(1, QHeaderView.Interactive)
        head.setSectionResizeMode(2, QHeaderView.ResizeToContents)
        head.resizeSection(1, DESCRIPTION_WIDTH)
        self._describe = _ElideRight(self.tree)
        self.tree.setItemDelegateForColumn(1, self._describe)
        self.tree.setDragEnabled(True)
        self.tree.setDragDropMode(QAbstractItemView.DragOnly)
        self.tree.setSelectionMode(QAbstractItemView.SingleSelection)
        self.tree.currentItemChanged.connect(self._current_changed)
        self.tree.itemDoubleClicked.connect(lambda *_: self.audition())
        self.use_label = QLabel("")
        self.use_label.setWordWrap(True)
        self.use_label.hide()  # shown while a sound is chosen for Add / Replace
        self.status = QLabel("")
        self.status.setObjectName("hint")
        self.status.setWordWrap(True)
        self.audition_btn = QPushButton("Audition")
        self.audition_btn.setToolTip("Play the selected sound (double-click does the same)")
        self.audition_btn.clicked.connect(self.audition)
        self.add_btn = QPushButton("Add Folder…")
        self.add_btn.setToolTip("Index a folder of WAV, FLAC, OGG, MP3 or AIFF files")
        self.add_btn.clicked.connect(self.choose_folder)
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.setToolTip("Stop indexing (the files indexed so far stay in the library)")
        self.cancel_btn.clicked.connect(self.cancel_index)
        self.cancel_btn.hide()
        row = QHBoxLayout()  # the buttons share the search box's row: the height goes to the results
        row.setSpacing(4)
        row.addWidget(self.search_box, 1)
        row.addWidget(self.audition_btn)
        row.addWidget(self.add_btn)
        row.addWidget(self.cancel_btn)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.setSpacing(4)
        lay.addLayout(row)
        lay.addWidget(self.tree, 1)
        lay.addWidget(self.use_label)
        lay.addWidget(self.status)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(150)  # search as you type, once the typing pauses
        self._timer.timeout.connect(self._search_now)
        self._pending = ""  # the instruction's sound, searched once typing pauses and no edit runs
        self._wanted = ""  # the instruction's sound until its candidates are shown (``reference`` is older)
        self._query = ""  # what the latest search looks for
        self.busy = lambda: False
        self._follow_timer = QTimer(self)
        self._follow_timer.setSingleShot(True)
        self._follow_timer.setInterval(300)
        self._follow_timer.timeout.connect(self._follow_now)
        self.tree.setToolTip("Drag a sound onto the waveform to place it there")

    # ------------------------------------------------------------- worker side
    def _library(self):
        if self._lib is None:
            from ...core.library import Library

            self._lib = Library(self.db_path)
        return self._lib

    def shutdown(self) -> None:
        """Close the audition player (its stream) and cancel the panel's jobs (nothing waits:
        a running step's result is dropped). The window calls it when it closes."""
        self.close_player()
        self.io.cancel(SEARCH)
        self.runner.cancel(QUERY)
        self.io.cancel(AUDITION)
        self.runner.cancel(INDEX)
        self.runner.cancel(STOPPED)
        self.runner.cancel(ENCODER)
        self.runner.cancel(EMBED)

    @property
    def loading_encoder(self) -> bool:
        """The text encoder's load is queued or under way in the model's worker."""
        return self.runner.busy(ENCODER)

    def _load_encoder(self) -> None:
        """Queue the text encoder's load (seconds: torch and the model are read) in the model's
        worker, so that neither the searches nor the file reads of the I/O worker wait for it;
        searches answer from keywords until it is loaded, then the current one runs again."""
        from ...core.library.embed import encoder_state

        if encoder_state() != "not loaded" or self.loading_encoder:
            return
        self._encoder_started = False
        why = lambda text: setattr(self, "_encoder_error", text)  # noqa: E731
        self.runner.submit(ENCODER, load_text_encoder, "load the text encoder",
                           on_started=self._encoder_loading, on_returned=why,
                           on_errored=lambda err: why(err.message), on_finished=self._encoder_loaded)

    def _embed_descriptions(self) -> None:
        """Embed the descriptions no search has embedded (the I/O worker's searches never run
        the encoder on them) in the model's worker; then search again, with embeddings."""
        from ...core.library.embed import encoder_state

        if encoder_state() != "loaded" or self.runner.busy(EMBED):
            return  # (the encoder's load searches again; a failed load leaves keywords)
        db = self.db_path
        self.runner.submit(EMBED, lambda c: embed_descriptions(db, c), "embed the library's descriptions",
                           on_returned=lambda n: self._search_again() if n else None,
                           on_errored=lambda err: setattr(self, "_encoder_error", err.message))

    def _encoder_loading(self) -> None:
        self._encoder_started = True
        self.status.setText(self.status.text().replace(WAITING_ENCODER, LOADING_ENCODER))

    def _encoder_loaded(self) -> None:
        self._encoder_started = False
        if self.search_box.text().strip():
            self._search_now()  # with embeddings now (or keywords, saying why, if the load failed)

    def close_db(self) -> None:
        """Close the library's database (after the I/O worker has stopped: it used it)."""
        lib, self._lib = self._lib, None
        if lib is not None:
            lib.close()

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
        self._query = q
        if not q:
            self._show(rid, ((), self.mode, None, 0))
            return
        self.status.setText("Searching…")
        self._load_encoder()
        from ...core.library.embed import encoder_state

        if encoder_state() != "loaded":  # keywords while the encoder loads (the I/O worker never waits for it)
            self._search_io(rid, q, None)
            return
        self.runner.cancel(QUERY)  # an older search's embedding is not wanted
        if self.runner.busy():  # another job holds the model's worker: keywords now, by meaning when it ends
            self._search_io(rid, q, None)
        self.runner.submit(QUERY, lambda _cancel: embed_query(q), f"embed the search '{q}'",
                           on_returned=lambda vec: self._search_io(rid, q, vec),
                           on_errored=lambda err: self._search_io(rid, q, None))

    def _search_io(self, rid: int, q: str, vec) -> None:
        """Search in the I/O worker: with ``vec``, the query's embedding (made in the model's
        worker), by meaning; without, by keywords."""
        if rid != self._req:
            return  # a newer search was started

        def work(_cancel):  # never the encoder here (the I/O worker never waits for it nor runs torch)
            lib = self._library()
            hits = tuple(lib.search(q, LIMIT, load_encoder=False, vector=vec))
            return hits, lib.mode, lib.count(), lib.unembedded()

        self.io.submit(SEARCH, work, f"search {q}", on_returned=lambda payload: self._show(rid, payload),
                       on_errored=lambda err: self._show(rid, err))

    def _show(self, rid, payload):
        """A search's results. While the text encoder loads they are keyword results, which
        the search run again once it is loaded replaces."""
        if rid != self._req:
            return  # a newer search was started
        if isinstance(payload, JobError):
            self.status.setText(f"Library error: {payload.message}")
            return
        hits, mode, count, unembedded = payload
        self.hits, self.mode = hits, mode
        self._filling = True  # clear() moves the current item: that is no one's choice
        try:
            self.tree.clear()
            for h in hits:
                it = QTreeWidgetItem([Path(h.path).name, h.description, f"{h.duration:.1f} s"])
                it.setData(0, PATH_ROLE, h.path)
                it.setData(0, DUR_ROLE, float(h.duration))
                for c in range(3):
                    it.setToolTip(c, f"{h.path}\n{h.description}")
                self.tree.addTopLevelItem(it)
            if not self._follow and self.reference:  # the sound chosen stays the current row: focus or
                self._select(self.reference)        # Tab into the list does not replace it with the first
        finally:
            self._filling = False
        if mode == "keywords" and unembedded:
            self._embed_descriptions()
        embedding = mode == "keywords" and self.runner.busy(EMBED)
        loading = mode == "keywords" and self.loading_encoder
        waiting = mode == "keywords" and self.runner.busy(QUERY)  # the query's embedding comes later
        if count is not None:
            how = (f" · keyword results · {LOADING_ENCODER if self._encoder_started else WAITING_ENCODER}" if loading else
                   f" · keyword results · {EMBEDDING}" if embedding else
                   f" · keyword results · {WAITING_QUERY}" if waiting else
                   f" · keyword search (the text encoder could not load: {self._encoder_error})"
                   if mode == "keywords" and self._encoder_error else " · keyword search" if mode == "keywords" else "")
            self.status.setText(f"{len(hits)} of {count} sounds{how}")
        loading = loading or waiting  # (results by meaning replace these)
        if self._follow and self._query == self._wanted.strip() and not (loading or embedding):
            self._wanted = ""  # the reference below is the one the CLI would pick (until then an edit picks in its job)
        from ...core.library.prompted import usable_hits  # the CLI's rule: a weak embedding match is no match

        if self._follow and usable_hits(hits[:1], mode):
            self._auto = True
            try:
                self.tree.setCurrentItem(self.tree.topLevelItem(0))
            finally:
                self._auto = False
        elif self._follow:
            self.set_reference("")
            if not (loading or embedding):  # the encoder's results may still find one
                self.status.setText(f"No library sound matches '{self.search_box.text().strip()}'. {ADVICE}")

    def _select(self, path: str) -> None:
        for i in range(self.tree.topLevelItemCount()):
            it = self.tree.topLevelItem(i)
            if it.data(0, PATH_ROLE) == path:
                self._auto = True
                try:
                    self.tree.setCurrentItem(it)
                finally:
                    self._auto = False
                return

    def _current_changed(self, cur, _prev):
        if cur is not None and not self._filling and cur.isSelected():  # (focus alone moves the current
            # row without selecting it: that is no one's choice)
            if not self._auto:
                self._follow = False  # the user's choice: results that come later do not replace it
                self._wanted = ""
            self.set_reference(cur.data(0, PATH_ROLE) or "")

    def set_reference(self, path: str) -> None:
        if path == self.reference:
            return
        self.reference = path
        self.use_label.setText(f"Add / Replace will use: <b>{Path(path).name}</b>" if path else "")
        self.use_label.setVisible(bool(path))
        self.reference_changed.emit(path)

    def keep_reference(self, path: str) -> None:
        """Use ``path`` for the next edit, whatever the instruction's candidates are."""
        self._pending = self._wanted = ""
        self._follow = False
        self._follow_timer.stop()
        self.set_reference(path)

    def follow_instruction(self, text: str) -> None:
        """For an "Add X" / "Replace A with B" instruction, list the candidates for X / B and
        pick the best (the user may choose another)."""
        task, _, what = parse_instruction(text)
        if task is None:
            self._follow = False
            self._pending = self._wanted = ""
            self.set_reference("")
            return
        if what and (what != self.search_box.text() or self._wanted):  # (another sound's candidates may be due)
            self._pending = self._wanted = what
            self._follow_timer.start()

    def _follow_now(self):
        if not self._pending:
            return
        if self.busy():  # no library work competes with a running edit; look again shortly
            self._follow_timer.start()
            return
        what, self._pending = self._pending, ""  # (``_wanted`` stays until its results are shown)
        self.search(what, follow=True)

    def reference_for(self, instruction: str) -> LibraryChoice | None:
        """Which library sound an edit with ``instruction`` uses (resolved and read in the
        edit's job, ``with_reference``): the chosen one for an add / replace instruction, or
        the best match as the CLI picks it (``pick``) when Run came before the final candidates
        (the reference shown was chosen for an earlier instruction's sound, or from keyword
        results while the text encoder loads); None for other edits."""
        task, _, what = parse_instruction(instruction)
        if task is None:
            return None
        if what and (not self.reference or what in (self._pending, self._wanted)):  # Run before the candidates came
            return LibraryChoice("", what, self.db_path)
        return LibraryChoice(self.reference, what, self.db_path) if self.reference else None

    # ------------------------------------------------------------- audition, folders
    def use_device(self, dev) -> None:
        """The audio output the window found (its probe at start, in the I/O worker)."""
        self.device = dev

    def audition(self) -> None:
        it = self.tree.currentItem()
        if it is None:
            return
        path = it.data(0, PATH_ROLE)
        probe = self.device is None and not (self.player is not None and self.player.available)

        from ..tasks import read_clip

        def work(_cancel):  # the sound, and the audio device if no one has looked for it yet
            from ..playback import probe_device

            return read_clip(path), (probe_device() if probe else None)

        self.io.submit(AUDITION, work, f"audition {Path(path).name}",
                       on_returned=lambda got: self._play(path, *got),
                       on_errored=lambda err: self.status.setText(err.message))

    def close_player(self) -> None:
        """Stop an audition and close the player's audio stream (a later audition opens it again)."""
        if self.player is not None:
            self.player.close()

    def closeEvent(self, ev):  # the panel closed on its own (as a top-level window): the audition ends
        self.close_player()
        super().closeEvent(ev)

    def _play(self, path, clip, dev=None):
        if dev is not None:
            self.device = dev
        if self.player is None:
            from ..playback import Player

            self.player = Player(self.io)  # no device yet (cheap); its buffers are prepared in the I/O worker
        if not self.player.available and self.device is not None:
            self.player.use_device(self.device)
        if not self.player.available:
            self.status.setText(self.player.reason)
            return
        self.player.pause()
        self.player.set_sources(clip.audio, None, clip.sample_rate)
        self.player.seek(0.0)
        self.player.play()
        self.status.setText(f"Playing {Path(path).name}")

    def choose_folder(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "Add a folder of sounds to the library", os.path.expanduser("~"))
        if d:
            self.add_folder(d)

    def add_folder(self, folder: str) -> None:
        """Index ``folder`` in the model's worker (a long job: 10,000 files take up to a minute,
        which would hold up opening files in the I/O worker); Cancel stops it between two files."""
        self.status.setText(f"Indexing {folder}…")
        self.add_btn.setEnabled(False)
        self.cancel_btn.show()
        db = self.db_path
        self.runner.submit(INDEX, lambda c: index_folder(db, folder, c), f"index {folder}",
                           on_returned=self._after_index, on_errored=self._after_index,
                           on_aborted=lambda: self._after_index(None))

    def cancel_index(self) -> None:
        """Stop indexing: the job's cancel token is checked between files, and what was indexed
        is committed (a consistent index that the next Add Folder… completes)."""
        if not self.runner.busy(INDEX):
            return
        self.runner.cancel(INDEX)  # no callback of the job runs after this
        self._after_index(None)
        # The job stops at its next file and commits what it read; a job queued behind it in the
        # same worker then runs the current search again, so the files indexed so far show.
        self.runner.submit(STOPPED, lambda _cancel: None, "after indexing stopped",
                           on_returned=lambda _: self._search_again())

    def _search_again(self) -> None:
        if self.search_box.text().strip():
            self._search_now()

    def _after_index(self, rep):
        self.add_btn.setEnabled(True)
        self.cancel_btn.hide()
        if rep is None:
            self.status.setText("Indexing stopped; the files indexed so far stay in the library.")
            return
        if isinstance(rep, JobError):
            self.status.setText(rep.message)
            return
        self.status.setText(f"{Path(rep.folder).name}: {rep.added} added, {rep.updated} updated, "
                            f"{rep.removed} removed" + (f", {rep.failed} unreadable" if rep.failed else ""))
        if self.search_box.text().strip():
            self._search_now()


def load_text_encoder(_cancel=None) -> str:
    """Worker side (the model's worker): load the text encoder; "" or why it cannot load."""
    from ...core.library.embed import EncoderUnavailable, load_encoder

    try:
        load_encoder()
    except EncoderUnavailable as exc:
        return str(exc)
    return ""


def embed_query(text: str):
    """Worker side (the model's worker, where torch runs): a search's text embedded ([384]
    float32, numpy), or None when the encoder cannot load (the search keeps to keywords)."""
    from ...core.library.embed import EncoderUnavailable, embed

    try:
        return embed([text])[0]
    except EncoderUnavailable:
        return None


def embed_descriptions(db_path, cancel=None) -> int:
    """Worker side (the model's worker): embed up to ``SEARCH_EMBED_MAX`` (512) descriptions that have
    no embedding yet (an edit queued meanwhile waits for one such job, not for a whole backlog;
    the search run after it queues the next); how many. ``cancel`` is checked between batches."""
    from ...core.library import Library
    from ...core.library.index import SEARCH_EMBED_MAX

    with Library(db_path) as lib:
        return lib.embed_pending(cancel=cancel, limit=SEARCH_EMBED_MAX)


def index_folder(db_path, folder: str, cancel=None):
    """Worker side (the model's worker: long): scan ``folder`` on a connection of that thread,
    then embed its descriptions (keywords serve if the encoder is unavailable). ``cancel`` is
    checked between files and between embedding batches; a cancelled scan commits what it read."""
    from ...core.library import Library

    with Library(db_path) as lib:
        rep = lib.add_folder(folder, cancel=cancel)
        try:
            lib.embed_pending(cancel=cancel)
        except Exception:  # noqa: BLE001 - the encoder is unavailable: searches fall back to keywords
            pass
    return rep
