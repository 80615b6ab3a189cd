"""Restoring a crashed session never loses it: a file opened meanwhile wins (the crashed copy
stays for next time), an unreadable version is left out, a failure keeps the copy and opens
what the start would have, and the copy goes only after the restored session is saved."""

from __future__ import annotations

import json
import sqlite3
import threading

import numpy as np
import pytest

from gui_helpers import clip_path, gui_env, open_clip, settings, window  # noqa: F401


def _crashed(qtbot, window, clip_path, n=3):
    """Leave ``window``'s autosave behind as a crashed session; its folder."""
    from rfm_studio.gui import session

    open_clip(qtbot, window, clip_path)
    src = window.history.source
    for i in range(n):
        window.history.add_edit(window.history.current, src.audio * (0.5 + 0.1 * i), src.sample_rate,
                                instruction=f"Make it quieter {i}", params={"steps": 3})
    window.panel.instruction.setText("Remove the car")
    window.autosave.save_now()
    window.session.flush()
    window.autosave._timer.stop()
    session._ACTIVE.discard(str(window.session.folder))  # as if its process had crashed
    return window.session.folder


def _window(qtbot, settings):
    from rfm_studio.gui.main_window import MainWindow

    w = MainWindow(settings=settings)
    w.ask_unsaved = lambda n, name: "discard"
    w.ask_restore = lambda name, n: True
    qtbot.addWidget(w)
    w.show()
    return w


def test_opening_a_file_while_a_restore_reads_keeps_the_users_file_and_the_crashed_folder(
        qtbot, window, settings, clip_path, monkeypatch):
    from rfm_studio.gui import session_restore
    from rfm_studio.gui.session import crashed_sessions

    folder = _crashed(qtbot, window, clip_path)
    gate, inside, real = threading.Event(), threading.Event(), session_restore.load_versions

    def gated(folder, files, first, rest, cancel=None):
        inside.set()
        assert gate.wait(30)
        return (yield from real(folder, files, first, rest, cancel))

    monkeypatch.setattr(session_restore, "load_versions", gated)
    w = _window(qtbot, settings)
    w.start(None, None, load_model=False)
    assert w.autosave.restoring is not None and w.history.source is None
    assert inside.wait(30)  # the restore is reading
    assert w.open_file(str(clip_path))  # the user's file, while the restore is still reading
    assert w.autosave.restoring is None
    gate.set()  # the cancelled read stops...
    qtbot.waitUntil(lambda: w.document.opening is None, timeout=30000)  # ...then the file is read (same worker)
    assert len(w.history) == 1 and w.doc_name == "dog.wav"
    doc = w.doc_id
    qtbot.wait(100)
    assert w.doc_id == doc and len(w.history) == 1 and w.doc_name == "dog.wav"
    w.session.flush()
    assert folder in crashed_sessions() and (folder / "state.json").is_file()  # offered next time
    w.close()


def test_an_unreadable_version_is_left_out_and_the_others_come_back(qtbot, window, settings, clip_path):
    from rfm_studio.gui.session import crashed_sessions

    folder = _crashed(qtbot, window, clip_path)
    state = json.loads((folder / "state.json").read_text())
    bad = next(v["file"] for v in state["versions"] if v["id"] == 1)
    (folder / bad).write_bytes(b"not a numpy file")
    w = _window(qtbot, settings)
    w.start(None, None, load_model=False)
    qtbot.waitUntil(lambda: w.autosave.restoring is None, timeout=30000)
    assert list(w.history.versions) == [0, 2, 3] and w.history.current == 3
    assert [t for t, _ in w.errors] == ["Some versions could not be restored"] and "version 1 " in w.errors[0][1]
    w.session.flush()
    assert folder in crashed_sessions()  # incomplete: the copy is kept
    saved = json.loads((w.session.folder / "state.json").read_text())
    assert sorted(v["id"] for v in saved["versions"]) == [0, 2, 3]  # what came back is saved too
    w.close()


def test_a_complete_restore_is_saved_before_the_crashed_folder_goes(qtbot, window, settings, clip_path):
    from rfm_studio.gui.session import crashed_sessions

    folder = _crashed(qtbot, window, clip_path)
    w = _window(qtbot, settings)
    w.start(None, None, load_model=False)
    qtbot.waitUntil(lambda: w.autosave.restoring is None, timeout=30000)
    w.session.flush()
    assert not folder.exists() and crashed_sessions() == []
    saved = json.loads((w.session.folder / "state.json").read_text())
    assert sorted(v["id"] for v in saved["versions"]) == [0, 1, 2, 3]
    w.close()


def test_the_crashed_folder_stays_when_the_save_fails(tmp_path):
    from rfm_studio.gui.session import SessionStore

    store = SessionStore(tmp_path)
    ran = []
    store.after_writes(lambda: ran.append("nothing saved"))
    store.save({"format": 1}, {"a.npy": np.zeros(4, np.float32)})
    store.flush()
    store.error = "disk full"
    store.after_writes(lambda: ran.append("failed save"))
    store.flush()
    store.error = None
    store.after_writes(lambda: ran.append("saved"))
    store.flush()
    assert ran == ["saved"]
    store.close()


def test_an_error_while_showing_the_restore_keeps_the_folder_and_opens_the_start_file(
        qtbot, window, settings, clip_path, monkeypatch):
    from rfm_studio.gui import session_restore
    from rfm_studio.gui.session import crashed_sessions

    folder = _crashed(qtbot, window, clip_path)

    def broken(self, got):
        raise KeyError("compare")

    monkeypatch.setattr(session_restore.Restorer, "_show_first", broken)
    w = _window(qtbot, settings)
    w.start(str(clip_path), None, load_model=False)
    qtbot.waitUntil(lambda: w.autosave.restoring is None and w.document.opening is None, timeout=30000)
    assert [t for t, _ in w.errors] == ["Cannot restore the session"]
    assert w.doc_name == "dog.wav" and len(w.history) == 1  # what the start would have opened
    w.session.flush()
    assert folder in crashed_sessions()
    w.close()


def test_a_failed_read_opens_what_the_start_would_have(qtbot, window, settings, clip_path, monkeypatch):
    from rfm_studio.gui import session_restore
    from rfm_studio.gui.session import crashed_sessions

    folder = _crashed(qtbot, window, clip_path)

    def failing(folder, files, first, rest, cancel=None):
        raise OSError("the disk went away")
        yield  # noqa: unreachable (a generator)

    monkeypatch.setattr(session_restore, "load_versions", failing)
    monkeypatch.setattr(type(window), "example_files", lambda self: [clip_path])
    w = _window(qtbot, settings)
    w.start(None, None, load_model=False)
    qtbot.waitUntil(lambda: w.autosave.restoring is None and w.history.source is not None, timeout=30000)
    assert w.doc_name == "dog.wav" and len(w.history) == 1  # the example the start opens
    w.session.flush()
    assert folder in crashed_sessions()
    w.close()


def test_restored_edit_settings_are_applied_once(window, monkeypatch):
    ctl, p = window.autosave, window.panel
    ctl.restore_panel({"instruction": "Remove the car", "steps": 17})  # no model loading: applied, done
    assert p.instruction.text() == "Remove the car" and p.steps.value() == 17
    p.instruction.setText("The user's own")
    ctl.apply_panel_state(once=True)  # what a later model / adapter load does
    assert p.instruction.text() == "The user's own"
    monkeypatch.setattr(window.models, "loading", lambda: True)
    ctl.restore_panel({"instruction": "Remove the car"})  # a model on its way: once more when it arrives
    p.instruction.setText("typed meanwhile")
    ctl.apply_panel_state(once=True)
    assert p.instruction.text() == "Remove the car"
    p.instruction.setText("The user's own")
    ctl.apply_panel_state(once=True)
    assert p.instruction.text() == "The user's own"


def test_history_keeps_restored_versions_in_id_order():
    from rfm_studio.gui.history import History, Version

    a = np.zeros(8, np.float32)
    h = History()
    h.load({2: Version(2, 0, a, 8000), 0: Version(0, None, a, 8000)}, 2, next_id=4)
    h.add_edit(2, a, 8000, instruction="meanwhile")
    h.add_restored({3: Version(3, 2, a, 8000), 1: Version(1, 0, a, 8000)}, [0, 1], [], 2)
    assert list(h.versions) == [0, 1, 2, 3, 4]


def test_close_stops_both_runners_together(monkeypatch):
    """Both are cancelled and told to quit before either is waited for, and the waits share one
    limit (a clock that each hung wait uses up in full stands in for the time)."""
    from rfm_studio.gui import jobs

    calls, clock = [], [100.0]
    monkeypatch.setattr(jobs.time, "monotonic", lambda: clock[0])

    class Thread:
        def __init__(self, name):
            self.name = name

        def quit(self):
            calls.append(("quit", self.name))

    class Runner:
        def __init__(self, name):
            self.name, self._thread = name, Thread(name)

        def cancel(self):
            calls.append(("cancel", self.name))

        def shutdown(self, ms):
            calls.append(("wait", self.name, ms))
            clock[0] += ms / 1000  # it hangs for as long as it may
            return False

    assert not jobs.shutdown_runners([Runner("a"), Runner("b")], 3000)
    assert [c[:2] for c in calls[:4]] == [("cancel", "a"), ("quit", "a"), ("cancel", "b"), ("quit", "b")]
    assert [c[0] for c in calls[4:]] == ["wait", "wait"] and sum(c[2] for c in calls[4:]) <= 3000


def test_close_shuts_the_library_down_and_closes_its_database(qtbot, window):
    lib = window.library._library()  # as the I/O worker opens it
    cancelled = []
    window.io.cancel = lambda lane=None, real=window.io.cancel: cancelled.append(lane) or real(lane)
    window.close()
    assert "library-search" in cancelled and window.library._lib is None
    with pytest.raises(sqlite3.ProgrammingError):
        lib.db.execute("select 1")


def test_closing_during_a_partial_restore_counts_the_versions_still_being_read(
        qtbot, window, settings, clip_path, monkeypatch):
    from rfm_studio.gui import session_restore

    _crashed(qtbot, window, clip_path, n=3)  # versions 1, 2, 3; the current one is 3
    gate, real = threading.Event(), session_restore.load_versions

    def gated(folder, files, first, rest, cancel=None):
        it = real(folder, files, first, rest, cancel)
        yield next(it)  # the current version and the source are shown
        assert gate.wait(30)
        return (yield from it)

    monkeypatch.setattr(session_restore, "load_versions", gated)
    w = _window(qtbot, settings)
    asked = []
    w.ask_unsaved = lambda n, name: asked.append((n, name)) or "cancel"
    w.start(None, None, load_model=False)
    assert w.autosave.unsaved_versions() == [1, 2, 3]  # nothing read yet: all three are unsaved
    w.close()
    assert asked == [(3, "dog.wav")] and w.isVisible()
    qtbot.waitUntil(lambda: w.history.source is not None, timeout=30000)
    assert sorted(w.history.versions) == [0, 3] and w.autosave.restoring is not None  # 1 and 2 still being read
    w.close()
    assert asked[-1] == (3, "dog.wav") and w.isVisible()
    gate.set()
    qtbot.waitUntil(lambda: w.autosave.restoring is None, timeout=30000)
    assert w.autosave.unsaved_versions() == [1, 2, 3]
    w.ask_unsaved = lambda n, name: "discard"
    w.close()
