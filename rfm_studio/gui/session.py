"""No lost work: the editing state is autosaved, a crashed session is offered back, and
closing with versions that were never exported asks first (``SessionController``, composed by
MainWindow; ``SessionWindow`` lists everything it uses of the window).

Each running window keeps a session folder under ``user_data_dir()/sessions/<pid>-<n>``:
``session.lock`` (the owner's process id, written at start, removed on a clean exit), one
``.npy`` file per version's audio and ``state.json`` (versions, undo/redo, compare, region,
edit-panel settings, which versions were exported). Every file is written atomically, the
audio by a background thread (versions never change, so each is written once). A folder
whose lock names a process that is no longer running was left by a crash.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional, Protocol

import numpy as np
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QMessageBox

from ..core.atomic import atomic_write_bytes, atomic_write_text
from ..core.pids import pid_alive

if TYPE_CHECKING:
    from .edit_panel import EditPanel
    from .window_model import ModelController
    from .history import History

STATE = "state.json"
LOCK = "session.lock"
AUTOSAVE_DELAY_MS = 400
_ACTIVE: set[str] = set()  # session folders owned by windows of this process
_COUNTER = iter(range(1, 1 << 30))


def sessions_dir() -> Path:
    from ..core.paths import user_data_dir

    return user_data_dir() / "sessions"


def crashed_sessions() -> list[Path]:
    """Session folders left behind by a process that ended without closing (newest first)."""
    out = []
    base = sessions_dir()
    if not base.is_dir():
        return out
    for d in base.iterdir():
        lock = d / LOCK
        if not (d / STATE).is_file() or not lock.is_file():
            continue
        try:
            pid = int(lock.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pid = -1
        mine = pid == os.getpid()
        if (mine and str(d) not in _ACTIVE) or (not mine and not pid_alive(pid)):
            out.append(d)
    return sorted(out, key=lambda p: (p / STATE).stat().st_mtime, reverse=True)


class SessionStore:
    """This window's session folder: the lock, the autosave writes, the clean-exit removal."""

    def __init__(self, base: Optional[Path] = None):
        base = base or sessions_dir()
        self.folder = base / f"{os.getpid()}-{next(_COUNTER)}"
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rfm-autosave")
        self._written: set[str] = set()
        self._lock = threading.Lock()
        self.saves = 0  # completed autosaves (tests, diagnostics)
        self.error: Optional[str] = None  # the last write failure (a full disk must not stop editing)
        self._started = False

    def _start(self):
        if not self._started:
            self.folder.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(self.folder / LOCK, f"{os.getpid()}\n".encode())
            _ACTIVE.add(str(self.folder))
            self._started = True

    def save(self, state: dict, audio: dict) -> None:
        """Queue a write of ``state`` (JSON) and ``audio`` ({file name: array}); newest last."""
        try:
            self._pool.submit(self._write, state, audio)
        except RuntimeError:  # closed: the window is going away
            pass

    def _write(self, state: dict, audio: dict) -> None:
        try:
            with self._lock:
                self._start()
                for name, a in audio.items():
                    if name in self._written and (self.folder / name).is_file():
                        continue
                    buf = io.BytesIO()
                    np.save(buf, np.asarray(a), allow_pickle=False)
                    atomic_write_bytes(self.folder / name, buf.getvalue())
                    self._written.add(name)
                atomic_write_text(self.folder / STATE, json.dumps(state, default=str))
                keep = set(audio) | {STATE, LOCK}
                for p in self.folder.iterdir():
                    if p.suffix == ".npy" and p.name not in keep:
                        p.unlink(missing_ok=True)
                        self._written.discard(p.name)
                self.saves += 1
                self.error = None
        except OSError as exc:
            self.error = str(exc)

    def after_writes(self, fn) -> None:
        """Run ``fn`` (in the writer thread) after the queued writes, when they all succeeded."""
        def run():
            if self.error is None and self.saves:
                fn()
        try:
            self._pool.submit(run)
        except RuntimeError:
            pass

    def flush(self) -> None:
        """Wait for the queued writes (tests; the clean exit)."""
        try:
            self._pool.submit(lambda: None).result()
        except RuntimeError:
            pass

    def clear(self) -> None:
        """Nothing to keep (the document was closed): remove the saved state, keep the lock."""
        self.flush()
        with self._lock:
            if self.folder.is_dir():
                for p in self.folder.iterdir():
                    if p.name != LOCK:
                        p.unlink(missing_ok=True)
            self._written.clear()

    def close(self) -> None:
        """A clean exit: wait for the writes, then remove the folder."""
        self._pool.shutdown(wait=True)
        _ACTIVE.discard(str(self.folder))
        shutil.rmtree(self.folder, ignore_errors=True)


def _jsonable(params: dict) -> dict:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in params.items()}


class SessionWindow(Protocol):
    panel: EditPanel
    models: ModelController
    history: History
    exported: set
    source_path: Optional[Path]
    compare: tuple
    ab: int
    region: Optional[tuple[float, float]]
    doc_id: int
    doc_name: str
    ask_unsaved: Callable[[int, str], str]  # -> "save" | "discard" | "cancel" (replaceable in tests)
    ask_restore: Callable[[str, int], bool]  # (replaceable in tests)
    # (a restore also uses what session_restore.RestoreWindow lists)

    def statusBar(self): ...
    def set_document(self, audio, sr: int, name: str = "untitled") -> None: ...
    def refresh_views(self) -> None: ...
    def set_region(self, region, final: bool = True) -> None: ...
    def export_result(self, path=None, fmt=None): ...


class SessionController:
    """Autosave, crash restore and the unsaved-work prompt of one window; ``store`` is its folder."""

    def __init__(self, win: SessionWindow, parent=None):
        self.win = win
        self.store = SessionStore()
        self._restored_panel: Optional[dict] = None  # a restored session's edit settings, until applied
        self.restoring = None  # the session_restore.Restorer while its versions are being read
        self._timer = QTimer(parent)
        self._timer.setSingleShot(True)
        self._timer.setInterval(AUTOSAVE_DELAY_MS)
        self._timer.timeout.connect(self.save_now)
        p = win.panel
        for sig in (p.instruction.textChanged, p.steps.valueChanged, p.guidance.valueChanged, p.draws.valueChanged,
                    p.t_spin.valueChanged, p.strength.valueChanged, p.seed.valueChanged):
            sig.connect(self.schedule)

    # -- autosave ----------------------------------------------------------------------
    def unsaved_versions(self) -> list:
        """The ids of the edited versions that were never exported, those a restore is still
        reading included (they are in the history only once read)."""
        w = self.win
        ids = [v.id for v in w.history.versions.values() if not v.is_source and v.id not in w.exported]
        r = self.restoring
        if r is not None and not (r.dropped or r.failed):
            exported = set(r.state.get("exported", []))
            ids += [i for i, v in r.meta.items()
                    if v["parent"] is not None and i not in w.history.versions and i not in exported]
        return sorted(ids)

    def schedule(self, *_):
        self._timer.start()

    def panel_state(self) -> dict:
        p = self.win.panel
        return {"instruction": p.instruction.text(), "steps": p.steps.value(), "guidance": p.guidance.value(),
                "draws": p.draws.value(), "t_start": p.t_start(), "strength": p.strength.value(),
                "strength_auto": p.strength_auto.isChecked(), "seed": p.seed.value(),
                "seed_random": p.seed_random.isChecked()}

    def save_now(self) -> None:
        """Write the editing state (only while there is an edit to lose)."""
        w = self.win
        self._timer.stop()
        if self.restoring is not None:
            return  # the crashed folder stays the copy until every version is back (then it saves)
        h = w.history
        if h.source is None or len(h) < 2:
            if self.store.saves:
                self.store.clear()
                self.store.saves = 0
            return
        doc = w.doc_id
        files, versions = {}, []
        for v in h.versions.values():
            name = f"d{doc}-v{v.id}.npy"
            files[name] = v.audio
            versions.append({"id": v.id, "parent": v.parent, "sample_rate": v.sample_rate, "file": name,
                             "instruction": v.instruction, "params": _jsonable(v.params), "seconds": v.seconds,
                             "tokens": list(v.tokens), "label": v.label})
        state = {"format": 1, "doc_name": w.doc_name,
                 "source_path": str(w.source_path) if w.source_path else None,
                 "versions": versions, "current": h.current, "undo": list(h._undo), "redo": list(h._redo),
                 "compare": list(w.compare), "region": list(w.region) if w.region else None,
                 "exported": sorted(w.exported), "panel": self.panel_state()}
        self.store.save(state, files)

    # -- restore -----------------------------------------------------------------------
    def ask_restore_dialog(self, name: str, n: int) -> bool:
        return QMessageBox.question(
            self.win, "Restore unsaved work?",
            f"RFM Studio did not close properly last time. Restore the {n} edited version"
            f"{'s' if n != 1 else ''} of {name}?", QMessageBox.Yes | QMessageBox.No, QMessageBox.Yes
        ) == QMessageBox.Yes

    def offer_restore(self) -> bool:
        """At start: offer the newest crashed session back; True when its restore began (its
        versions are read in the I/O worker, ``session_restore``). Left-over sessions are
        removed once answered (the restored one when its versions are read)."""
        from .session_restore import Restorer, read_state

        restored = False
        for i, folder in enumerate(crashed_sessions()):
            if i == 0:
                try:
                    state = read_state(folder)
                except (OSError, ValueError) as exc:
                    self.win.statusBar().showMessage(f"The autosaved session could not be read ({exc}).", 8000)
                    state = None
                if state is not None:
                    n = sum(1 for v in state["versions"] if v["parent"] is not None)
                    if n and self.win.ask_restore(state.get("doc_name") or "the clip", n):
                        self.restoring = Restorer(self, state, folder)
                        self.restoring.start()
                        restored = True
                        continue
            shutil.rmtree(folder, ignore_errors=True)
        return restored

    def restore_finished(self, restorer) -> None:
        """The restore ended: the window's versions are saved to its own folder now; the crashed
        folder goes only after that save, and only when every version came back."""
        if self.restoring is not restorer:
            return
        self.restoring = None
        self.save_now()
        if restorer.complete:
            self.store.after_writes(lambda: shutil.rmtree(restorer.folder, ignore_errors=True))

    def drop_restore(self) -> None:
        """Another file is being opened: stop the restore; its crashed folder is offered next time."""
        r, self.restoring = self.restoring, None
        self._restored_panel = None
        if r is not None:
            r.drop()

    def restore_panel(self, panel: dict) -> None:
        """A restored session's edit settings; applied now and, when a model is still loading,
        once more when its defaults arrive (then never again)."""
        self._restored_panel = dict(panel)
        self.apply_panel_state(once=not self.win.models.loading())

    def apply_panel_state(self, once: bool = False, apply: bool = True) -> None:
        """The restored edit settings (applied again once the model's defaults arrive; ``once``:
        for the last time; ``apply=False``: only forget them)."""
        s = self._restored_panel
        if once:
            self._restored_panel = None
        if not s or not apply:
            return
        p = self.win.panel
        p.instruction.setText(s.get("instruction", ""))
        for w, key in ((p.steps, "steps"), (p.draws, "draws"), (p.seed, "seed")):
            if key in s:
                w.setValue(int(s[key]))
        for w, key in ((p.guidance, "guidance"), (p.strength, "strength")):
            if key in s:
                w.setValue(float(s[key]))
        if "t_start" in s:
            p.set_t_start(float(s["t_start"]))
        p.strength_auto.setChecked(bool(s.get("strength_auto", True)))
        p.seed_random.setChecked(bool(s.get("seed_random", False)))

    # -- closing -----------------------------------------------------------------------
    def ask_unsaved_dialog(self, n: int, name: str) -> str:
        box = QMessageBox(QMessageBox.Warning, "Unsaved versions",
                          f"{n} edited version{'s' if n != 1 else ''} of {name} "
                          f"{'have' if n != 1 else 'has'} not been exported.",
                          QMessageBox.Save | QMessageBox.Discard | QMessageBox.Cancel, self.win)
        box.setInformativeText("Save exports the version shown as B; Discard closes without exporting.")
        box.setDefaultButton(QMessageBox.Save)
        r = box.exec()
        return {QMessageBox.Save: "save", QMessageBox.Discard: "discard"}.get(r, "cancel")

    def confirm_close(self) -> bool:
        """True when the window may close (nothing unsaved, exported now, or discarded)."""
        w = self.win
        unsaved = self.unsaved_versions()
        if not unsaved:
            return True
        r = self.restoring
        name = r.state.get("doc_name") or w.doc_name if r is not None and r.at is None else w.doc_name
        answer = w.ask_unsaved(len(unsaved), name)
        if answer == "discard":
            return True
        if answer == "save":
            return w.export_result() is not None
        return False

    def end_session(self) -> None:
        """The clean exit: the autosaved state and the lock go."""
        self._timer.stop()
        self.store.close()
