"""Restoring a crashed session without blocking the window: the small ``state.json`` is read
on the UI thread (to ask), every version's audio in the window's I/O worker (``jobs.py``).

The job reads the versions the window shows first (the current one, then the source and the
compared pair) and yields them, so the document appears as soon as those are in; it then
reads the others (newest first) and returns them, and they join the history (with the undo
and redo lists). Only ``RestoredAudio`` (ids and numpy arrays) crosses the thread boundary.
Each version is read on its own: one that cannot be read is left out (and named), the others
come back. Autosave waits until the restore has finished; then the restored session is saved
to the window's own folder and, only when every version came back and that save succeeded,
the crashed folder is removed. A restore that fails, is left incomplete, or is dropped (the
user opened another file, or closed the window) keeps the folder: it is offered again next time."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Protocol

import numpy as np

if TYPE_CHECKING:
    from .history import History
    from .jobs import JobRunner
    from .views.waveform import WaveformView

LANE = "restore"


@dataclass(frozen=True)
class RestoredAudio:
    ids: tuple  # version ids
    audio: tuple  # one float32 array per id
    bad: tuple = ()  # the ids whose audio could not be read


def read_state(folder: Path) -> dict:
    """The saved state (no audio); raises OSError / ValueError when it is unreadable."""
    state = json.loads((Path(folder) / "state.json").read_text(encoding="utf-8"))
    vs = state.get("versions") if isinstance(state, dict) else None
    if not vs or not all(isinstance(v, dict) and {"id", "parent", "file", "sample_rate"} <= set(v) for v in vs):
        raise ValueError("its list of versions is incomplete")
    if sum(1 for v in vs if v["parent"] is None) != 1:
        raise ValueError("it has no single original")
    return state


def restore_order(state: dict) -> tuple[tuple, tuple]:
    """(the ids shown first: current, source, compared pair; the others, newest first)."""
    ids = [v["id"] for v in state["versions"]]
    src = next(v["id"] for v in state["versions"] if v["parent"] is None)
    a, b = ((state.get("compare") or []) + [None, None])[:2]
    first = tuple(i for i in dict.fromkeys((state.get("current", src), src, a, b)) if i in ids)
    return first, tuple(i for i in sorted(ids, reverse=True) if i not in first)


def load_versions(folder: Path, files: dict, first: tuple, rest: tuple, cancel=None):
    """Worker side: yields the ``first`` versions' audio, returns the ``rest``'s."""
    from ..core.errors import Cancelled

    def read(ids) -> RestoredAudio:
        got, out, bad = [], [], []
        for i in ids:
            if cancel is not None and cancel.cancelled:
                raise Cancelled("restore cancelled")
            try:
                a = np.asarray(np.load(Path(folder) / files[i], allow_pickle=False), dtype=np.float32)
                if a.ndim not in (1, 2) or a.shape[0] == 0:
                    raise ValueError("not audio")
            except (OSError, ValueError, EOFError):
                bad.append(i)
                continue
            got.append(i)
            out.append(a)
        return RestoredAudio(tuple(got), tuple(out), tuple(bad))

    yield read(first)
    return read(rest)


class RestoreWindow(Protocol):
    io: JobRunner  # reads the audio
    wave: WaveformView
    history: History
    exported: set
    source_path: Optional[Path]
    compare: tuple
    ab: int
    doc_id: int
    doc_name: str

    def statusBar(self): ...
    def show_error(self, title: str, message: str, detail: str = "") -> None: ...
    def set_document(self, audio, sr: int, name: str = "untitled") -> None: ...
    def set_region(self, region, final: bool = True) -> None: ...
    def refresh_views(self) -> None: ...
    def update_actions(self) -> None: ...
    def open_start(self) -> None: ...


class Restorer:
    """The UI side of one restore (``SessionController.offer_restore`` starts it)."""

    def __init__(self, ctl, state: dict, folder: Path):
        self.ctl, self.win, self.state, self.folder = ctl, ctl.win, state, Path(folder)
        self.meta = {v["id"]: v for v in state["versions"]}
        self.doc = self.win.doc_id  # the document when it started: opening another drops the restore
        self.at = None  # the current version once the first versions are shown
        self.done = False
        self.dropped = False  # another file was opened (or the window closed): the folder stays
        self.failed = False
        self.bad: list = []  # versions whose audio could not be read
        self.complete = False  # every version is back in the history

    def start(self) -> int:
        w, first_rest = self.win, restore_order(self.state)
        files = {i: v["file"] for i, v in self.meta.items()}
        n = len(self.meta) - 1
        w.wave.set_message(f"Restoring {n} edited version{'s' if n != 1 else ''}…")
        return w.io.submit(LANE, lambda c: load_versions(self.folder, files, *first_rest, c), "restore session",
                           on_yielded=self._first, on_returned=self._rest, on_errored=self._failed,
                           on_finished=self._finished)

    def drop(self) -> None:
        """Stop reading (another file is being opened); the crashed folder is kept."""
        self.dropped = True
        self.win.io.cancel(LANE)  # no callback of the job runs after this
        self.done = True

    def _live(self) -> bool:
        return not (self.dropped or self.failed) and self.win.doc_id == self.doc

    def _versions(self, got: RestoredAudio) -> dict:
        from .history import Version

        out = {}
        for vid, audio in zip(got.ids, got.audio):
            v = self.meta[vid]
            params = dict(v.get("params") or {})
            if isinstance(params.get("region"), list):
                params["region"] = tuple(params["region"])
            out[vid] = Version(vid, v["parent"], audio, int(v["sample_rate"]), instruction=v.get("instruction", ""),
                               params=params, seconds=float(v.get("seconds", 0.0)),
                               tokens=tuple(v.get("tokens", ())), label=v.get("label", ""))
        return out

    def _first(self, got: RestoredAudio) -> None:
        if not self._live():
            return  # another clip was opened meanwhile
        try:
            self._show_first(got)
        except Exception as exc:  # noqa: BLE001 - a broken saved state must not lose the session
            self._broken(exc)

    def _show_first(self, got: RestoredAudio) -> None:
        w, state = self.win, self.state
        self.bad.extend(got.bad)
        versions = self._versions(got)
        src = next((v for v in versions.values() if v.is_source), None)
        if src is None:
            raise ValueError("the original clip could not be read")
        path = state.get("source_path")
        w.source_path = Path(path) if path else None
        w.set_document(src.audio, src.sample_rate, state.get("doc_name") or "untitled")
        self.doc = w.doc_id
        w.history.load(versions, state.get("current", src.id), next_id=max(self.meta) + 1)
        w.exported = set(state.get("exported", []))
        a, b = ((state.get("compare") or []) + [0, None])[:2]
        w.compare = (a if a in versions else src.id, b if b in versions else None)
        w.ab = 1 if w.compare[1] is not None else 0
        self.ctl.restore_panel(state.get("panel") or {})
        w.refresh_views()
        if state.get("region"):
            w.set_region(tuple(state["region"]))
        self.at = w.history.current
        w.statusBar().showMessage(f"Restoring the edited versions of {w.doc_name}…", 8000)

    def _rest(self, got: RestoredAudio) -> None:
        if self.at is None or not self._live():
            return
        try:
            w, state = self.win, self.state
            self.bad.extend(got.bad)
            w.history.add_restored(self._versions(got), state.get("undo", []), state.get("redo", []), self.at)
            w.refresh_views()
            w.update_actions()
        except Exception as exc:  # noqa: BLE001
            self._broken(exc)
            return
        if self.bad:
            bad = ", ".join(str(i) for i in sorted(self.bad))
            w.show_error("Some versions could not be restored",
                         f"The audio of version{'s' if len(self.bad) != 1 else ''} {bad} of {w.doc_name} could not "
                         "be read; the other versions are back. The autosaved copy is kept.")
        else:
            self.complete = True
            w.statusBar().showMessage(f"Restored {len(w.history) - 1} edited version(s) of {w.doc_name}.", 8000)

    def _failed(self, err) -> None:
        if self.dropped:
            return
        self.failed = True
        w = self.win
        w.statusBar().showMessage(f"The autosaved session could not be read ({err.message}).", 8000)
        self._fall_back()

    def _broken(self, exc: Exception) -> None:
        """An error while showing the restored versions: say so, keep the folder."""
        self.failed = True
        w = self.win
        w.show_error("Cannot restore the session",
                     f"The autosaved session of {self.state.get('doc_name') or 'the clip'} could not be restored "
                     f"({type(exc).__name__}: {str(exc)[:200]}). Its copy is kept and offered again next time.")
        self._fall_back()

    def _fall_back(self) -> None:
        """Nothing of the restore is shown: open what the start would have opened."""
        w = self.win
        if self.at is None and not self.dropped:
            self.done = True
            self.ctl.restore_finished(self)
            w.open_start()

    def _finished(self) -> None:
        self.done = True
        self.ctl.restore_finished(self)
