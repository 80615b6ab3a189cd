"""Short reads run in the window's I/O worker (jobs.io_runner), off the UI thread and not
behind a long job of the model's worker: opening a long file, the fine-tuning file checks,
decoding a file to listen to, library searches and auditions. The library sound of an
"Add ..." edit is looked up in the edit's own job, and the library panel never waits on its
jobs. Each test holds the model's worker inside a job (a stand-in for a training run) and
checks where the work ran, with thread identities and events (no timing)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import soundfile as sf

import gui_helpers  # noqa: F401  (offscreen Qt, temporary config folders)
from gui_helpers import SR, clip_path, gui_env, gui_tiny_bundle, loaded, open_clip, settings, window  # noqa: F401


MAIN = threading.get_native_id()  # the UI thread (pytest's main thread)


@pytest.fixture
def held(window):
    """The model's worker held inside a job until the test ends (like a long training run);
    yields (its thread's native id, the gate that releases it)."""
    gate, inside, where = threading.Event(), threading.Event(), []

    def hold(_cancel):
        where.append(threading.get_native_id())
        inside.set()
        gate.wait(60)

    window.runner.submit("test-hold", hold, "held")
    assert inside.wait(30)
    yield where[0], gate
    gate.set()


def _record(monkeypatch, module, name):
    """Wrap ``module.name`` to record the (native) thread id of each call."""
    threads, real = [], getattr(module, name)

    def wrapper(*a, **kw):
        threads.append(threading.get_native_id())
        return real(*a, **kw)

    monkeypatch.setattr(module, name, wrapper)
    return threads


def test_fine_tuning_checks_listening_and_opening_do_not_wait_behind_the_models_worker(
        qtbot, window, held, tmp_path, monkeypatch):
    from rfm_studio.gui import window_document
    from rfm_studio.gui.finetune import playback, work

    d = tmp_path / "pairs"
    d.mkdir()
    t = np.arange(SR) / SR
    for i in range(3):
        x = (0.2 * np.sin(2 * np.pi * (300 + 100 * i) * t)).astype(np.float32)
        sf.write(d / f"take{i}.wav", x + 0.01, SR)
        sf.write(d / f"take{i}_target.wav", x, SR)
    (d / "instructions.txt").write_text("Remove the hiss\n")
    checked = _record(monkeypatch, work, "check_triplet")
    decoded = _record(monkeypatch, playback, "read_clip")
    tab = window.finetune
    assert tab.triplet_panel.import_folder(str(d)) == 3
    qtbot.waitUntil(lambda: not tab.checking, timeout=30000)
    assert tab.problems == [] and tab.ready
    window.player.available = True
    played = []
    monkeypatch.setattr(window.player, "play", lambda: played.append(window.player._raw[0]))
    assert tab.triplet_panel.play_row(0, "target")  # queued: nothing decoded on this thread
    qtbot.waitUntil(lambda: bool(played), timeout=30000)
    assert played[0].shape[0] == SR and tab.owns_player
    # opening a file
    opened = _record(monkeypatch, window_document, "read_clip")
    long = tmp_path / "long.wav"
    sf.write(long, np.zeros(3 * SR, np.float32), SR)
    assert window.open_file(str(long))
    qtbot.waitUntil(lambda: window.doc_name == "long.wav", timeout=30000)
    model_worker, gate = held
    assert window.runner.busy("test-hold") and not gate.is_set()  # all of it while the worker was held
    assert checked and decoded and opened
    io_threads = set(checked + decoded + opened)
    assert len(io_threads) == 1 and not io_threads & {MAIN, model_worker}  # the one I/O worker


def test_library_search_and_audition_run_in_the_io_worker_and_the_panel_never_waits(
        qtbot, window, held, monkeypatch):
    from rfm_studio.gui.library import panel as library_panel

    lib = window.library
    assert not hasattr(lib, "_pool")  # no thread of its own to join on close
    model_worker, _gate = held
    searched = []
    real_library = lib._library

    def recording_library():
        searched.append(threading.get_native_id())
        return real_library()

    lib._library = recording_library
    lib.search("dog barking")
    qtbot.waitUntil(lambda: lib.tree.topLevelItemCount() > 0, timeout=60000)
    assert searched and not set(searched) & {MAIN, model_worker}

    class FakePlayer:
        available = True
        sources = []

        def pause(self):
            pass

        def set_sources(self, a, b, sr):
            self.sources.append((threading.get_native_id(), a.shape, sr))

        def seek(self, s):
            pass

        def play(self):
            pass

    from rfm_studio.gui import tasks

    lib.player = FakePlayer()
    read = _record(monkeypatch, tasks, "read_clip")
    lib.tree.setCurrentItem(lib.tree.topLevelItem(0))
    lib.audition()
    qtbot.waitUntil(lambda: bool(FakePlayer.sources), timeout=30000)
    assert read == searched[:1] and FakePlayer.sources[0][0] == MAIN  # read in the I/O worker, played here

    # a search held inside the I/O worker: shutdown() returns at once and its result is dropped
    gate, inside = threading.Event(), threading.Event()

    def stuck():
        inside.set()
        gate.wait(30)
        return real_library()

    lib._library = stuck
    before = lib.tree.topLevelItemCount()
    lib.search_box.setText("cow")
    lib._search_now()
    assert inside.wait(30)
    lib.shutdown()  # cancels; it does not wait for the held search
    assert not gate.is_set() and window.io.busy() is False
    with qtbot.waitSignal(window.io._worker.returned, timeout=30000):  # the held search ends (dropped)
        gate.set()
    assert lib.tree.topLevelItemCount() == before and lib.status.text() == "Searching…"  # dropped
    assert window.runner.busy("test-hold") and not library_panel.LibraryPanel.__dict__.get("_run")


def test_the_library_sound_of_an_add_edit_is_looked_up_and_read_in_the_edit_job(qtbot, loaded, monkeypatch):
    from rfm_studio.gui.library import panel as library_panel

    w = loaded
    picked = _record(monkeypatch, library_panel, "pick")
    w.panel.instruction.setText("Add a cow mooing")
    w.set_region((0.1, 1.4))
    choice = w.library.reference_for("Add a cow mooing")
    assert choice is not None and choice.path == "" and choice.query  # nothing read on this thread
    assert w.run_edit() is not None
    qtbot.waitUntil(lambda: w.editing.job is None, timeout=60000)
    assert w.errors == [] and picked and picked[0] != MAIN
    v = w.history.get(w.history.current)
    assert "cow_moo_" in v.params["reference"] and w.library.reference == v.params["reference"]


def test_a_listen_decoded_after_stop_or_the_editor_tab_does_not_take_the_player(qtbot, window, clip_path,
                                                                                 monkeypatch):
    from rfm_studio.gui.finetune import playback as ft_playback

    w, tab = window, window.finetune
    open_clip(qtbot, w, clip_path)
    w.player.available = True
    played = []
    monkeypatch.setattr(w.player, "play", lambda: played.append(w.player._raw[0]))
    gate, inside, real = threading.Event(), threading.Event(), ft_playback.read_clip

    def gated(path):
        inside.set()
        assert gate.wait(30)
        return real(path)

    monkeypatch.setattr(ft_playback, "read_clip", gated)
    w.tabs.setCurrentWidget(tab)
    for give_up in (tab.player.stop, lambda: w.tabs.setCurrentIndex(0)):
        w.tabs.setCurrentWidget(tab)
        gate.clear()
        inside.clear()
        assert tab.player.play_file(str(clip_path))
        assert inside.wait(30)
        give_up()  # while it is still being decoded
        with qtbot.waitSignal(w.io._worker.returned, timeout=30000):
            gate.set()
        assert played == [] and not tab.owns_player
    assert w.player._raw[0] is w.history.source.audio  # the editor's clip is still in the player
    w.tabs.setCurrentWidget(tab)
    gate.set()
    assert tab.player.play_file(str(clip_path))
    qtbot.waitUntil(lambda: len(played) == 1, timeout=30000)  # a listen still wanted plays
    assert tab.owns_player


def _worker_id(qtbot, runner) -> int:
    """The native thread id of ``runner``'s worker (from a job run there)."""
    got = []
    runner.submit("test-which-thread", lambda c: threading.get_native_id(), on_returned=got.append)
    qtbot.waitUntil(lambda: bool(got), timeout=30000)
    return got[0]


def test_a_library_drop_reads_the_sounds_length_in_the_io_worker(qtbot, loaded, tmp_path, monkeypatch):
    from rfm_studio.gui.library import drop

    w = loaded
    io_thread = _worker_id(qtbot, w.io)
    read = _record(monkeypatch, drop, "sound_length")
    bell = tmp_path / "small bell.wav"
    t = np.arange(int(0.3 * 16000)) / 16000
    sf.write(bell, (0.5 * np.sin(2 * np.pi * 1200 * t)).astype(np.float32), 16000)
    w.library.place_requested.emit(str(bell), 0.6)
    assert w.editing.job is None and w.region is None  # nothing read here: the edit waits for the length
    qtbot.waitUntil(lambda: w.editing.job is None and w.history.current != 0, timeout=60000)
    assert read == [io_thread] and io_thread != MAIN
    assert w.region == pytest.approx((0.6, 0.9), abs=1e-3) and w.errors == []
    # an unreadable file: one message in the status bar, no edit
    bad = tmp_path / "broken.wav"
    bad.write_text("not audio")
    n = len(w.history)
    w.library.place_requested.emit(str(bad), 0.2)
    qtbot.waitUntil(lambda: w.statusBar().currentMessage() == "Cannot read broken.wav.", timeout=30000)
    assert len(read) == 2 and read[1] == io_thread and len(w.history) == n and w.editing.job is None
