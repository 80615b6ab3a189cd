"""The checks of the triplet table: the whole-table rules (count, instructions, duplicates)
at once, and the core's audio checks of each file pair as a job of the window's I/O worker
(lane "finetune-check"; jobs.io_runner: a training run in the model's worker does not hold
them up), remembered per file (path, modification time, size)."""

from __future__ import annotations

import os
from typing import Optional

from PySide6.QtCore import QObject, Signal

from ...core.training.finetune_config import MIN_TRIPLETS
from . import work

LANE = "finetune-check"


def norm(p: str) -> str:
    return os.path.normcase(os.path.abspath(p)) if p else ""


def _stamp(p: str):
    try:
        st = os.stat(p)
        return (st.st_mtime_ns, st.st_size)
    except OSError:
        return None


def file_key(t) -> tuple:
    return (norm(t.input), _stamp(t.input), norm(t.target), _stamp(t.target))


def table_problems(rows) -> list[tuple[int, str]]:
    """Count, instructions, duplicates (the core's sentences), with the row they name (-1: none)."""
    out = []
    if len(rows) < MIN_TRIPLETS:
        out.append((-1, f"At least {MIN_TRIPLETS} triplets are needed; there are {len(rows)}."))
    seen = {}
    for i, t in enumerate(rows, 1):
        key = (norm(t.input), norm(t.target), t.instruction.strip().lower())
        if key in seen:
            out.append((i - 1, f"Triplet {i} duplicates triplet {seen[key]}."))
        else:
            seen[key] = i
        if not t.instruction.strip():
            out.append((i - 1, f"Triplet {i} has no instruction."))
    return out


class FileChecks(QObject):
    """The file checks of triplets, one job at a time in ``runner`` (the window's I/O worker);
    ``updated`` when results arrive."""

    updated = Signal()

    def __init__(self, runner, parent=None):
        super().__init__(parent)
        self.runner = runner
        self._results: dict = {}  # file key -> messages (numbered "Triplet 1")
        self._pending: dict = {}  # file key -> (input, target), not checked yet
        self._job: Optional[int] = None
        self._running: tuple = ()  # the keys of the job in the worker

    @property
    def checking(self) -> bool:
        return bool(self._pending)

    def request(self, rows) -> None:
        """Check the file pairs of ``rows`` not checked yet (each once)."""
        for t in rows:
            key = file_key(t)
            if key not in self._results and key not in self._pending:
                self._pending[key] = (t.input, t.target)
        self._submit()

    def messages(self, t) -> Optional[list[str]]:
        """The core's sentences for a triplet's files (numbered 'Triplet 1'); None: not known yet."""
        found = self._results.get(file_key(t))
        return None if found is None else list(found)

    def _submit(self):
        if self._job is not None or not self._pending:
            return
        items = tuple((k, a, b) for k, (a, b) in self._pending.items())
        self._running = tuple(k for k, _a, _b in items)
        self._job = self.runner.submit(LANE, lambda c: work.check_files(items, c), "triplet checks",
                                       on_yielded=self._store, on_returned=self._done, on_errored=self._failed,
                                       on_aborted=self._aborted)

    def _store(self, results) -> None:
        for key, msgs in results:
            self._results[key] = msgs
            self._pending.pop(key, None)
        self.updated.emit()

    def _done(self, results) -> None:
        self._job = None
        self._store(results)
        self._submit()  # rows added meanwhile

    def _failed(self, _err) -> None:
        self._job = None
        self._store(tuple((k, ("Triplet 1 could not be checked.",)) for k in self._running if k in self._pending))
        self._submit()

    def _aborted(self) -> None:
        # The job stopped with Cancelled while still live. Closing the app calls nothing here:
        # JobRunner.shutdown() cancels every lane and drops the jobs' callbacks.
        self._job = None
