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

        def close(self):
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
    gate.set()
    _worker_id(qtbot, window.io)  # a job after the held search: its result has come back (dropped)
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
        gate.set()
        _worker_id(qtbot, w.io)  # the decode has come back (a later job's result follows it)
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


def _gated_encoder(monkeypatch):
    """The text encoder not loaded, and its load held until the test sets the returned gate;
    returns (gate, inside: the load began, loads: the native thread id of each load)."""
    from rfm_studio.core.library import embed

    gate, inside, loads, real = threading.Event(), threading.Event(), [], embed._load
    loaded_before = embed._loaded

    def slow_load():
        if embed._loaded is not None:  # loaded: every embedding asks
            return embed._loaded
        loads.append(threading.get_native_id())
        inside.set()
        assert gate.wait(30)
        embed._loaded = loaded_before
        return real()

    monkeypatch.setattr(embed, "_loaded", None)
    monkeypatch.setattr(embed, "_failed", False)
    monkeypatch.setattr(embed, "_load", slow_load)
    assert embed.encoder_state() == "not loaded"
    return gate, inside, loads


def test_the_text_encoder_loads_in_the_models_worker_while_searches_answer_from_keywords(
        qtbot, window, clip_path, monkeypatch):
    """The first search queues the encoder's load in the model's worker: keyword results come at
    once (saying the encoder waits for the current job, then that it loads), a search typed
    meanwhile and a file opened meanwhile do not wait for it, and the current search runs again
    with embeddings when it is loaded. A failed load says so and searches keep to keywords."""
    from rfm_studio.core.library import embed

    lib = window.library
    io_thread, model_worker = _worker_id(qtbot, window.io), _worker_id(qtbot, window.runner)
    gate, inside, loads = _gated_encoder(monkeypatch)
    job_gate, job_inside = threading.Event(), threading.Event()
    window.runner.submit("test-hold", lambda c: (job_inside.set(), job_gate.wait(30)), "held")
    assert job_inside.wait(30)  # the model's worker runs a job (an edit, a model load)
    lib.search("dog barking")
    assert lib.status.text() == "Searching…"
    qtbot.waitUntil(lambda: lib.tree.topLevelItemCount() > 0, timeout=30000)  # keyword results at once
    assert lib.status.text().endswith(" sounds · keyword results · the text encoder loads when the current job ends")
    assert lib.tree.topLevelItem(0).text(0).startswith("dog_bark_") and lib.mode == "keywords" and loads == []
    job_gate.set()
    assert inside.wait(30)  # the encoder is loading, in the model's worker
    qtbot.waitUntil(lambda: lib.status.text().endswith(" sounds · keyword results · loading the text encoder…"),
                    timeout=30000)
    assert loads == [model_worker] and model_worker not in (MAIN, io_thread)
    lib.search("cow mooing")  # typed again while it loads: answered at once, the load is not queued again
    qtbot.waitUntil(lambda: lib.tree.topLevelItemCount() > 0
                    and lib.tree.topLevelItem(0).text(0).startswith("cow_moo_"), timeout=30000)
    assert lib.status.text().endswith("keyword results · loading the text encoder…") and lib.mode == "keywords"
    open_clip(qtbot, window, clip_path)  # the I/O worker opens a file meanwhile
    assert window.doc_name == clip_path.name and window.errors == []
    assert len(loads) == 1 and not gate.is_set() and lib.loading_encoder
    gate.set()
    qtbot.waitUntil(lambda: lib.mode == "embeddings", timeout=60000)  # the current search, run again
    assert lib.status.text().endswith(" sounds") and embed.encoder_state() == "loaded"
    assert lib.tree.topLevelItem(0).text(0).startswith("cow_moo_") and len(loads) == 1
    lib.search("dog barking")  # loaded now: embeddings at once, nothing loaded again
    qtbot.waitUntil(lambda: lib.tree.topLevelItem(0).text(0).startswith("dog_bark_"), timeout=30000)
    assert lib.mode == "embeddings" and len(loads) == 1 and not lib.loading_encoder

    def broken():  # a missing package or broken model files
        embed._failed = True
        raise embed.EncoderUnavailable("no model files")

    monkeypatch.setattr(embed, "_loaded", None)
    monkeypatch.setattr(embed, "_load", broken)
    lib.search("cow mooing")
    qtbot.waitUntil(lambda: "could not load" in lib.status.text(), timeout=30000)
    assert lib.status.text().endswith(" sounds · keyword search (the text encoder could not load: no model files)")
    assert lib.mode == "keywords" and lib.tree.topLevelItem(0).text(0).startswith("cow_moo_")
    assert embed.encoder_state() == "failed" and not lib.loading_encoder
    qtbot.waitUntil(lambda: 0 in window.history.mels, timeout=30000)  # the clip's spectrogram, after the load
    assert window.errors == []


def test_a_candidate_picked_while_the_encoder_loads_stays_chosen(qtbot, loaded, monkeypatch):
    """An "Add ..." instruction's candidates come from keywords while the encoder loads; the one
    the user picks meanwhile is kept when the embedding results replace the list."""
    w = loaded
    lib = w.library
    gate, inside, loads = _gated_encoder(monkeypatch)
    w.panel.instruction.setText("Add a dog barking")
    qtbot.waitUntil(lambda: lib.reference != "" and lib.tree.topLevelItemCount() > 1, timeout=30000)
    assert inside.wait(30) and lib.mode == "keywords" and "dog_bark_" in lib.reference  # the best keyword match
    lib.tree.setCurrentItem(lib.tree.topLevelItem(1))  # the user picks another
    chosen = lib.tree.topLevelItem(1).data(0, 0x0100)
    assert lib.reference == chosen
    gate.set()
    qtbot.waitUntil(lambda: lib.mode == "embeddings", timeout=60000)  # the list is replaced...
    assert lib.reference == chosen and lib.reference_for("Add a dog barking").path == chosen  # ...the choice stays
    assert len(loads) == 1 and w.errors == []


def _device_at_48k():
    """Stands in for the sounddevice module of a device that plays 48 kHz only: its
    check_output_settings records the (native) thread of each call and refuses other rates."""
    import types

    asked = []

    def check_output_settings(samplerate=None, channels=None, dtype=None):
        asked.append((threading.get_native_id(), samplerate))
        if samplerate != 48000:
            raise ValueError("Invalid sample rate")

    return types.SimpleNamespace(OutputStream=_FakeStream, check_output_settings=check_output_settings), asked


class _FakeStream:
    """Stands in for sounddevice.OutputStream (no device in the tests)."""

    def __init__(self, **kw):
        self.kw, self.active = kw, False

    def start(self):
        self.active = True

    def abort(self):
        self.active = False

    def close(self):
        pass


def test_the_player_resamples_new_versions_in_the_io_worker_and_applies_what_was_asked_meanwhile(
        qtbot, monkeypatch):
    """A clip at another rate than the device's is resampled in the I/O worker; select, seek,
    loop and play asked for meanwhile apply to the new buffers; an A/B refresh of versions
    already prepared is installed at once, with nothing queued."""
    import types

    import rfm_studio.core.audio.io as audio_io
    from rfm_studio.gui.jobs import io_runner
    from rfm_studio.gui.playback import Player

    io = io_runner()
    try:
        resampled = _record(monkeypatch, audio_io, "resample")
        gate = threading.Event()
        io.submit("test-gate", lambda c: gate.wait(30))  # the worker busy: the preparation must queue
        p = Player(io)
        p.available, (p._sd, asked) = True, _device_at_48k()  # the device cannot play 16 kHz
        states = []
        p.on_preparing = states.append
        t = np.arange(32000) / 16000
        a = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        b = 0.25 * a
        p.set_sources(a, b, 16000)
        p.select(1)
        p.seek(0.5)
        p.set_loop((0.25, 1.5))
        p.play()
        assert p.preparing and p._bufs == () and resampled == [] and p._stream is None  # nothing made here
        gate.set()
        qtbot.waitUntil(lambda: not p.preparing, timeout=30000)
        io_thread = _worker_id(qtbot, io)
        assert len(resampled) == 2 and set(resampled) == {io_thread} and io_thread != MAIN
        assert asked == [(io_thread, 16000)]  # the device asked about 16 kHz once, in the I/O worker
        assert states == [True, False] and p.rate == 48000 and p.frames == 96000 and p.has_b
        assert p.selected == 1 and p.position == pytest.approx(0.5)
        assert (p._lo, p._hi) == (12000, 72000) and p.looping
        assert p.playing and p._stream.active and p._stream.kw["samplerate"] == 48000
        p.pause()
        p.set_sources(a, b, 16000)  # an A/B refresh of the same versions: installed at once
        p.select(0)
        assert not p.preparing and p.selected == 0 and not io.busy() and len(resampled) == 2
        p.set_sources(a, b.copy(), 16000)  # a new B: only it is resampled, in the worker
        assert p.preparing
        qtbot.waitUntil(lambda: not p.preparing, timeout=30000)
        assert resampled[2:] == [io_thread] and p.position == pytest.approx(0.5)
        assert asked == [(io_thread, 16000)]  # the rate it gave is remembered
        p.set_sources(a[:8000].copy(), None, 8000)  # a new rate: asked again, in the I/O worker
        qtbot.waitUntil(lambda: not p.preparing, timeout=30000)
        assert asked[1:] == [(io_thread, 8000)] and p.rate == 48000 and p.frames == 48000
    finally:
        io.shutdown()


def test_the_windows_player_prepares_an_opened_clip_in_the_io_worker(qtbot, window, clip_path, monkeypatch):
    import rfm_studio.core.audio.io as audio_io

    w = window
    assert w.player.io is w.io
    w.player.available = True  # (no device in the tests: the status says nothing about a player that cannot play)
    w.player._sd, asked = _device_at_48k()  # a 44.1 kHz clip on a 48 kHz device
    resampled, real = [], audio_io.resample

    def recording(x, sr_in, sr_out):
        if sr_out == 48000:  # (the spectrogram resamples to 16 kHz in the model's worker)
            resampled.append(threading.get_native_id())
        return real(x, sr_in, sr_out)

    monkeypatch.setattr(audio_io, "resample", recording)
    shown = []

    def preparing(busy):
        w.playback.preparing(busy)
        shown.append(w.audio_label.text())

    monkeypatch.setattr(w.player, "on_preparing", preparing)
    open_clip(qtbot, w, clip_path)
    qtbot.waitUntil(lambda: w.player.frames == int(1.5 * 48000), timeout=30000)
    io_thread = _worker_id(qtbot, w.io)
    assert resampled and set(resampled) == {io_thread} and io_thread != MAIN
    assert asked == [(io_thread, SR)]  # check_output_settings: in the I/O worker, never on the UI thread
    assert shown == ["Audio: – · preparing playback…", "Audio: –"] and not w.player.preparing
    assert w.statusBar().currentMessage() == ""  # (the edits' messages are not covered)


def test_the_audio_device_is_probed_in_the_io_worker_at_start_and_by_a_first_audition(
        qtbot, window, clip_path, monkeypatch):
    """Importing sounddevice (PortAudio lists the devices) never runs on the UI thread: the
    window probes once at start in the I/O worker; a library audition before any probe
    probes in its own I/O job, and one after the window's probe does not probe again."""
    from rfm_studio.gui import playback
    from rfm_studio.gui.library.panel import PATH_ROLE

    probed = []

    def fake_probe():
        probed.append(threading.get_native_id())
        return playback.AudioDevice(False, "Playback is disabled: no audio output device was found.")

    monkeypatch.setattr(playback, "probe_device", fake_probe)
    lib = window.library
    lib.search("dog barking")
    qtbot.waitUntil(lambda: lib.tree.topLevelItemCount() > 0, timeout=60000)
    lib.tree.setCurrentItem(lib.tree.topLevelItem(0))
    assert lib.tree.currentItem().data(0, PATH_ROLE) and lib.player is None and lib.device is None
    lib.audition()  # the first audition, before the window has looked for a device
    qtbot.waitUntil(lambda: "no audio output device" in lib.status.text(), timeout=30000)
    io_thread = _worker_id(qtbot, window.io)
    assert probed == [io_thread] and io_thread != MAIN and lib.player is not None and not lib.player.available
    window.start(str(clip_path), load_model=False)  # the window's probe, in the same worker
    qtbot.waitUntil(lambda: window.audio_label.text() == "Audio: off", timeout=30000)
    assert probed == [io_thread, io_thread] and lib.device.reason == window.player.reason
    lib.status.setText("")
    lib.audition()  # the device is known now: the audition only reads the sound
    qtbot.waitUntil(lambda: "no audio output device" in lib.status.text(), timeout=30000)
    assert len(probed) == 2


def test_searches_after_a_cancelled_indexing_leave_the_new_descriptions_to_the_models_worker(
        qtbot, window, tmp_path, monkeypatch):
    """Files scanned but not embedded (Add Folder… cancelled before its embedding step): the
    I/O worker's searches answer from keywords and embed nothing; the descriptions and the
    query are embedded in the model's worker, then the search runs again with embeddings."""
    from rfm_studio.core.library import Library
    from rfm_studio.core.library import embed as embed_mod

    try:
        embed_mod.load_encoder()
    except embed_mod.EncoderUnavailable:
        pytest.skip("encoder package not installed")
    lib = window.library
    d = tmp_path / "mine"
    d.mkdir()
    sf.write(d / "ANMLWild_Zebra Whinny_AB_Lib.wav", np.zeros(8000, np.float32) + 0.01, 16000)
    with Library(lib.db_path) as db:  # what a cancelled indexing leaves: scanned, not embedded
        db.add_folder(d)
        db.embed_pending(limit=0)  # (nothing: the starter library's texts stay unembedded too)
        assert db.unembedded() > 0
    calls, real = [], embed_mod.embed
    monkeypatch.setattr(embed_mod, "embed", lambda texts: (calls.append((threading.get_native_id(), list(texts))),
                                                           real(texts))[1])
    modes = []
    real_show = lib._show
    monkeypatch.setattr(lib, "_show", lambda rid, payload: (modes.append(payload[1]), real_show(rid, payload))[1])
    lib.search("a zebra whinnying")
    qtbot.waitUntil(lambda: bool(modes) and modes[-1] == "embeddings", timeout=120000)
    assert modes[0] == "keywords" and lib.tree.topLevelItem(0).text(0) == "ANMLWild_Zebra Whinny_AB_Lib.wav"
    io_thread, model_worker = _worker_id(qtbot, window.io), _worker_id(qtbot, window.runner)
    described = [texts for t, texts in calls if t == model_worker]
    assert ["a zebra whinnying"] in described  # the query, in the model's worker too
    assert any(any("zebra" in x.lower() for x in texts) for texts in described if texts != ["a zebra whinnying"])
    assert {t for t, _ in calls} == {model_worker}  # the I/O worker embedded nothing
    with Library(lib.db_path) as db:
        assert db.unembedded() == 0


def test_a_search_embeds_its_text_in_the_models_worker_never_in_the_io_worker(qtbot, window, monkeypatch):
    """With the text encoder loaded, a search's text is embedded in the model's worker and the I/O
    worker searches with that vector; while a job holds the model's worker, keyword results come
    at once (saying the results by meaning follow) and the search by meaning when the job ends."""
    from rfm_studio.core.library import embed
    from rfm_studio.gui.library.panel import WAITING_QUERY

    try:
        embed.load_encoder()
    except embed.EncoderUnavailable:
        pytest.skip("encoder package not installed")
    lib = window.library
    io_thread, model_worker = _worker_id(qtbot, window.io), _worker_id(qtbot, window.runner)
    embedded = []
    real = embed.embed
    monkeypatch.setattr(embed, "embed", lambda texts: (embedded.append((threading.get_native_id(), list(texts))),
                                                      real(texts))[1])
    lib.search("dog barking")
    qtbot.waitUntil(lambda: lib.mode == "embeddings" and lib.tree.topLevelItemCount() > 0, timeout=60000)
    assert lib.tree.topLevelItem(0).text(0).startswith("dog_bark_")
    assert (model_worker, ["dog barking"]) in embedded and {t for t, _ in embedded} == {model_worker}
    assert model_worker not in (MAIN, io_thread)
    gate, inside = threading.Event(), threading.Event()
    window.runner.submit("test-hold", lambda c: (inside.set(), gate.wait(30)), "held")
    assert inside.wait(30)  # the model's worker runs a job (an edit, a model load)
    lib.search("cow mooing")
    qtbot.waitUntil(lambda: lib.mode == "keywords" and lib.tree.topLevelItemCount() > 0
                    and lib.tree.topLevelItem(0).text(0).startswith("cow_moo_"), timeout=30000)
    assert lib.status.text().endswith(f" sounds · keyword results · {WAITING_QUERY}")
    assert all(texts != ["cow mooing"] for _, texts in embedded)  # not embedded yet, and not here
    gate.set()
    qtbot.waitUntil(lambda: lib.mode == "embeddings", timeout=30000)
    assert lib.tree.topLevelItem(0).text(0).startswith("cow_moo_") and lib.status.text().endswith(" sounds")
    assert (model_worker, ["cow mooing"]) in embedded and {t for t, _ in embedded} == {model_worker}
    assert window.errors == []
