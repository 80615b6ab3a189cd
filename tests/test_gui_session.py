"""No lost work: the unsaved-work prompt on close, autosave, and restore after a crash."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np

from gui_helpers import clip_path, gui_env, open_clip, settings, window  # noqa: F401

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _add_versions(w, n=3):
    src = w.history.source
    for i in range(n):
        w.history.add_edit(w.history.current, src.audio * (0.5 + 0.1 * i), src.sample_rate,
                           instruction=f"Make it quieter {i}", params={"steps": 3, "region": (0.1, 0.4)})
    w.refresh_views()


def test_close_with_unexported_versions_asks_and_cancel_keeps_the_window(qtbot, window, clip_path):
    open_clip(qtbot, window, clip_path)
    _add_versions(window, 3)
    asked = []
    window.ask_unsaved = lambda n, name: asked.append((n, name)) or "cancel"
    window.close()
    assert asked == [(3, "dog.wav")]
    assert window.isVisible()  # Cancel keeps the window and its versions
    assert len(window.history) == 4
    # exporting the shown version leaves two unexported
    out = window.export_result(str(clip_path.parent / "kept.wav"))
    assert out is not None and len(window.autosave.unsaved_versions()) == 2
    window.ask_unsaved = lambda n, name: asked.append((n, name)) or "discard"
    window.close()
    assert asked[-1] == (2, "dog.wav") and not window.isVisible()
    assert not window.session.folder.exists()  # a clean exit leaves no session behind


def test_close_without_edits_does_not_ask(qtbot, window, clip_path):
    open_clip(qtbot, window, clip_path)
    window.ask_unsaved = lambda n, name: (_ for _ in ()).throw(AssertionError("asked"))
    window.close()
    assert not window.isVisible()


def test_autosave_writes_versions_and_settings_atomically(qtbot, window, clip_path):
    open_clip(qtbot, window, clip_path)
    _add_versions(window, 2)
    window.panel.instruction.setText("Remove the car")
    window.autosave.save_now()
    window.session.flush()
    files = sorted(p.name for p in window.session.folder.iterdir())
    assert "state.json" in files and "session.lock" in files
    assert len([f for f in files if f.endswith(".npy")]) == 3
    assert not [f for f in files if ".tmp" in f or f.startswith(".")]


CRASH = r"""
import os, sys
from rfm_studio.app import create_app
app = create_app()
from rfm_studio.gui.main_window import MainWindow
from rfm_studio.gui.settings import Settings
w = MainWindow(settings=Settings(sys.argv[2])); w.show(); app.processEvents()
w.open_file(sys.argv[1])
while w.document.opening is not None:  # read in the I/O worker
    app.processEvents()
src = w.history.source
for i in range(3):
    w.history.add_edit(w.history.current, src.audio * (0.5 + 0.1 * i), src.sample_rate,
                       instruction=f"Make it quieter {i}", params={"steps": 3, "region": (0.1, 0.4)})
w.refresh_views()
w.panel.instruction.setText("Remove the car")
w.panel.steps.setValue(17)
w.undo()
app.processEvents()
w.autosave.save_now(); w.session.flush()
print("SAVED", w.session.folder, flush=True)
os._exit(3)  # a crash: no close, no clean-up
"""


def test_restore_after_a_crash_brings_the_versions_back(qtbot, settings, clip_path, tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=ROOT)
    out = subprocess.run([sys.executable, "-c", CRASH, str(clip_path), str(tmp_path / "crash.ini")], env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 3 and "SAVED" in out.stdout, out.stderr[-2000:]
    from rfm_studio.gui.main_window import MainWindow
    from rfm_studio.gui.session import crashed_sessions

    assert len(crashed_sessions()) == 1
    w = MainWindow(settings=settings)
    w.ask_unsaved = lambda n, name: "discard"
    asked = []
    w.ask_restore = lambda name, n: asked.append((name, n)) or True
    qtbot.addWidget(w)
    w.show()
    w.start(None, None, load_model=False)
    assert asked == [("dog.wav", 3)]
    qtbot.waitUntil(lambda: w.autosave.restoring is None, timeout=30000)  # read in the I/O worker
    assert len(w.history) == 4 and w.history.current == 2  # the undo is kept
    assert [w.history.get(i).instruction for i in (1, 2, 3)] == [f"Make it quieter {i}" for i in range(3)]
    src = w.history.source.audio
    np.testing.assert_allclose(w.history.get(3).audio, src * 0.7, rtol=1e-6)
    assert w.history.get(1).params["region"] == (0.1, 0.4)
    assert w.panel.instruction.text() == "Remove the car" and w.panel.steps.value() == 17
    assert w.history.can_redo() and w.doc_name == "dog.wav"
    w.session.flush()  # the restored session is saved first, then the crashed folder goes
    assert crashed_sessions() == []  # offered once
    w.close()


def test_a_declined_restore_is_not_offered_again(qtbot, settings, clip_path, tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=ROOT)
    out = subprocess.run([sys.executable, "-c", CRASH, str(clip_path), str(tmp_path / "crash.ini")], env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 3, out.stderr[-2000:]
    from rfm_studio.gui.main_window import MainWindow
    from rfm_studio.gui.session import crashed_sessions

    w = MainWindow(settings=settings)
    w.ask_restore = lambda name, n: False
    qtbot.addWidget(w)
    w.start(str(clip_path), None, load_model=False)
    qtbot.waitUntil(lambda: w.document.opening is None, timeout=30000)
    assert len(w.history) == 1 and crashed_sessions() == []
    w.close()


def test_restore_shows_the_current_version_first_and_reads_the_rest_in_the_io_worker(
        qtbot, window, settings, clip_path, monkeypatch):
    """The restore reads audio in the I/O worker: the current version (with the source) is
    shown while the other versions are still being read; an edit made meanwhile keeps its
    own id, and the saved undo list comes back before it."""
    import threading

    from rfm_studio.gui import session, session_restore
    from rfm_studio.gui.main_window import MainWindow

    open_clip(qtbot, window, clip_path)
    _add_versions(window, 3)
    window.undo()  # current 2, redo [3]
    window.autosave.save_now()
    window.session.flush()
    window.autosave._timer.stop()
    session._ACTIVE.discard(str(window.session.folder))  # as if its process had crashed
    src = window.history.source.audio
    gate, readers, orders = threading.Event(), [], []
    real = session_restore.load_versions

    def gated(folder, files, first, rest, cancel=None):
        readers.append(threading.current_thread())
        orders.append((first, rest))
        it = real(folder, files, first, rest, cancel)
        yield next(it)
        assert gate.wait(30)
        return (yield from it)

    monkeypatch.setattr(session_restore, "load_versions", gated)
    w = MainWindow(settings=settings)
    w.ask_unsaved = lambda n, name: "discard"
    w.ask_restore = lambda name, n: True
    qtbot.addWidget(w)
    w.show()
    w.start(None, None, load_model=False)
    assert w.history.source is None  # start() returned before any audio was read
    qtbot.waitUntil(lambda: w.history.source is not None, timeout=30000)
    assert orders == [((2, 0), (3, 1))] and readers[0] is not threading.main_thread()
    assert sorted(w.history.versions) == [0, 2] and w.history.current == 2 and w.compare == (0, 2)
    np.testing.assert_allclose(w.history.get(2).audio, src * 0.6, rtol=1e-6)
    assert w.autosave.restoring is not None and not w.history.can_undo()
    v = w.history.add_edit(2, src * 0.2, w.history.source.sample_rate, instruction="Made meanwhile")
    assert v.id == 4  # after every saved id, also those still being read
    gate.set()
    qtbot.waitUntil(lambda: w.autosave.restoring is None, timeout=30000)
    assert sorted(w.history.versions) == [0, 1, 2, 3, 4] and w.history.current == 4
    assert w.history._undo == [0, 1, 2] and not w.history.can_redo()
    np.testing.assert_allclose(w.history.get(3).audio, src * 0.7, rtol=1e-6)
    w.close()
