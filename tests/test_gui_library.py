"""The Library panel in the window: search as you type, candidates for an "Add ..." instruction,
the chosen sound used by the edit and recorded in its history entry, a drop on the waveform
placing the sound there, audition, and adding a folder."""

import numpy as np
import soundfile as sf

import gui_helpers  # noqa: F401  (offscreen Qt, temporary config folders)
from gui_helpers import SR, clip_path, gui_env, gui_tiny_bundle, loaded, settings, window  # noqa: F401


def test_search_as_you_type_shows_path_description_and_length(qtbot, window):
    lib = window.library
    lib.search_box.setText("dog barking")
    lib.search_box.textEdited.emit("dog barking")
    qtbot.waitUntil(lambda: lib.tree.topLevelItemCount() > 0, timeout=60000)
    it = lib.tree.topLevelItem(0)
    assert it.text(0).startswith("dog_bark_") and "dog" in it.text(1) and it.text(2).endswith(" s")
    assert "sounds" in lib.status.text()
    assert lib.reference == ""  # typing a search does not choose for the edit


def test_an_add_instruction_lists_candidates_and_the_edit_uses_the_chosen_one(qtbot, loaded):
    w = loaded
    lib = w.library
    w.panel.instruction.setText("Add a dog barking")
    qtbot.waitUntil(lambda: lib.reference != "", timeout=60000)
    assert "dog_bark_" in lib.reference and lib.tree.topLevelItemCount() > 1
    # the user picks the second candidate
    lib.tree.setCurrentItem(lib.tree.topLevelItem(1))
    chosen = lib.tree.topLevelItem(1).data(0, 0x0100)
    assert lib.reference == chosen and "will use" in lib.use_label.text()
    w.set_region((0.2, 1.2))
    src = w.history.source.audio
    job = w.run_edit()
    assert job is not None
    qtbot.waitUntil(lambda: w.editing.job is None, timeout=60000)
    assert w.errors == []
    v = w.history.get(w.history.current)
    assert v.params["reference"] == chosen and v.params["task"] == "add"
    a, b = int(0.2 * SR), int(1.2 * SR)
    assert np.array_equal(v.audio[:a], src[:a]) and np.array_equal(v.audio[b:], src[b:])
    assert not np.array_equal(v.audio[a:b], src[a:b])
    w.history_panel.refresh() if hasattr(w, "history_panel") else None
    # a remove instruction uses no library sound
    assert lib.reference_for("Remove the dog barking") is None



def test_a_changed_instruction_never_uses_the_previous_instructions_sound(qtbot, window):
    """Between the search for the new instruction's sound and its results (the I/O worker held
    busy), the edit must not take the sound chosen for the previous instruction."""
    import threading

    lib = window.library
    window.panel.instruction.setText("Add a cat meowing")
    qtbot.waitUntil(lambda: "cat_meow_" in lib.reference, timeout=60000)
    cat = lib.reference
    gate, inside = threading.Event(), threading.Event()

    def hold(_cancel):
        inside.set()
        assert gate.wait(60)

    window.io.submit("test-hold", hold, "held")
    assert inside.wait(30)
    try:
        window.panel.instruction.setText("Add a dog barking")
        qtbot.waitUntil(lambda: lib.search_box.text() == "a dog barking" and not lib._pending, timeout=30000)
        assert lib.reference == cat  # the dog's candidates wait behind the held job
        choice = lib.reference_for("Add a dog barking")
        assert choice is not None and choice.path != cat
        assert choice.path == "" and choice.query == "a dog barking"  # the CLI's pick, looked up in the job
    finally:
        gate.set()
    qtbot.waitUntil(lambda: "dog_bark_" in lib.reference and not lib._wanted, timeout=60000)  # the final candidates
    assert lib.reference_for("Add a dog barking").path == lib.reference
    assert window.errors == []


def test_a_picked_sound_stays_the_current_row_when_the_list_refills(qtbot, window):
    """After the results are replaced, the chosen sound is the current (selected) row again, so
    focus or Tab into the list does not silently make the first row the choice."""
    from PySide6.QtCore import QItemSelectionModel

    lib = window.library
    window.panel.instruction.setText("Add a dog barking")
    qtbot.waitUntil(lambda: "dog_bark_" in lib.reference and lib.tree.topLevelItemCount() > 1, timeout=60000)
    lib.tree.setCurrentItem(lib.tree.topLevelItem(1))  # the user picks the second candidate
    chosen = lib.tree.topLevelItem(1).data(0, 0x0100)
    assert lib.reference == chosen
    lib._search_now()  # the list refills (as when the text encoder has loaded)
    qtbot.waitUntil(lambda: "Searching" not in lib.status.text(), timeout=60000)
    cur = lib.tree.currentItem()
    assert cur is not None and cur.data(0, 0x0100) == chosen and cur.isSelected() and lib.reference == chosen
    lib.tree.clearSelection()
    lib.tree.setCurrentItem(None)
    # what focus does to a list with no current row: the first row becomes current, unselected
    lib.tree.selectionModel().setCurrentIndex(lib.tree.model().index(0, 0), QItemSelectionModel.NoUpdate)
    assert lib.tree.currentItem() is lib.tree.topLevelItem(0) and lib.reference == chosen

def test_dropping_a_library_sound_on_the_waveform_adds_it_there(qtbot, loaded, tmp_path):
    w = loaded
    bell = tmp_path / "small bell.wav"
    t = np.arange(int(0.3 * 16000)) / 16000
    sf.write(bell, (0.5 * np.sin(2 * np.pi * 1200 * t) * np.exp(-5 * t)).astype(np.float32), 16000)
    src = w.history.source.audio
    w.library.place_requested.emit(str(bell), 0.6)
    qtbot.waitUntil(lambda: w.editing.job is None and w.history.current != 0, timeout=60000)
    assert w.errors == []
    v = w.history.get(w.history.current)
    assert v.params["reference"] == str(bell) and w.panel.instruction.text() == "Add small bell"
    pl = v.params["placement"]
    assert abs(pl["start"] - 0.6) < 0.02 and pl["end"] <= 0.95
    a = int(0.6 * SR)
    assert np.array_equal(v.audio[:a], src[:a]) and np.array_equal(v.audio[int(0.95 * SR):], src[int(0.95 * SR):])


def test_audition_plays_the_selected_sound_and_add_folder_indexes(qtbot, window, tmp_path):
    lib = window.library
    played = []

    class FakePlayer:
        available = True

        def pause(self):
            pass

        def set_sources(self, a, b, sr):
            played.append((a.shape, sr))

        def seek(self, s):
            pass

        def play(self):
            played.append("play")

        def close(self):
            pass

    lib.player = FakePlayer()
    d = tmp_path / "mine"
    d.mkdir()
    sf.write(d / "ANMLWild_Zebra Whinny_AB_Lib.wav", np.zeros(8000, np.float32) + 0.01, 16000)
    lib.add_folder(str(d))
    qtbot.waitUntil(lambda: "1 added" in lib.status.text(), timeout=60000)
    lib.search("a zebra whinnying")
    qtbot.waitUntil(lambda: lib.tree.topLevelItemCount() > 0, timeout=60000)
    assert lib.tree.topLevelItem(0).text(0) == "ANMLWild_Zebra Whinny_AB_Lib.wav"
    lib.tree.setCurrentItem(lib.tree.topLevelItem(0))
    lib.audition()
    qtbot.waitUntil(lambda: "play" in played, timeout=30000)
    assert played[0][1] == 16000


def test_the_audition_player_is_closed_when_the_window_or_the_panel_closes(qtbot, window, tmp_path):
    """An audition's player (the panel's own, made on first use) has its stream closed when the
    window closes, and when the panel itself is closed; a later audition plays again."""
    from rfm_studio.gui.library.panel import LibraryPanel
    from rfm_studio.gui.tasks import OpenedClip

    lib = window.library
    calls = []

    class FakePlayer:
        available = True

        def __init__(self, io=None):
            calls.append("made")

        def pause(self):
            pass

        def set_sources(self, a, b, sr):
            pass

        def seek(self, s):
            pass

        def play(self):
            calls.append("play")

        def close(self):
            calls.append("close")

    from rfm_studio.gui import playback

    real = playback.Player
    playback.Player = FakePlayer
    try:
        clip = OpenedClip(np.zeros(1600, np.float32), 16000)
        lib._play(str(tmp_path / "a.wav"), clip)  # the first audition makes the player
        assert calls == ["made", "play"] and isinstance(lib.player, FakePlayer)
        window.close()
        assert calls[-1] == "close" and calls.count("close") == 1
        panel = LibraryPanel(window.io)  # a panel of its own, closed as a top-level window
        qtbot.addWidget(panel)
        panel.show()
        panel._play(str(tmp_path / "a.wav"), clip)
        panel.close()
        assert calls[-3:] == ["made", "play", "close"]
        panel._play(str(tmp_path / "a.wav"), clip)  # a later audition plays again
        assert calls[-1] == "play"
    finally:
        playback.Player = real


def test_run_right_after_typing_an_add_still_uses_a_library_sound(qtbot, loaded):
    """Run pressed before the candidates come back: the CLI's pick is used (no silent no-op)."""
    w = loaded
    w.panel.instruction.setText("Add a cow mooing")
    w.set_region((0.1, 1.4))
    job = w.run_edit()
    assert job is not None
    qtbot.waitUntil(lambda: w.editing.job is None, timeout=60000)
    v = w.history.get(w.history.current)
    assert w.errors == [] and "cow_moo_" in v.params["reference"]


def test_a_replace_records_the_library_file_in_its_history_entry(qtbot, loaded):
    w = loaded
    lib = w.library
    w.panel.instruction.setText("Replace the tone with a dog barking")
    qtbot.waitUntil(lambda: lib.reference != "", timeout=60000)
    chosen = lib.reference
    assert "dog_bark_" in chosen
    w.set_region((0.2, 1.4))
    job = w.run_edit()
    assert job is not None
    qtbot.waitUntil(lambda: w.editing.job is None, timeout=60000)
    assert w.errors == []
    v = w.history.get(w.history.current)
    assert v.params["task"] == "replace" and v.params["reference"] == chosen
    assert v.params["removed"] == "Remove the tone" and v.params["placements"]
    assert not np.array_equal(v.audio, w.history.source.audio)
    w.history_panel.refresh()
    tips = [w.history_panel.tree.topLevelItem(i).toolTip(0) for i in range(w.history_panel.tree.topLevelItemCount())]
    assert any(f"library sound {chosen}" in t for t in tips)


def test_an_add_with_no_library_match_or_a_broken_library_says_so_and_what_to_try(qtbot, loaded, monkeypatch):
    w = loaded
    w.set_region((0.1, 1.4))
    w.panel.instruction.setText("Add a zqxwv")
    assert w.run_edit() is not None  # Run before the candidates came back: looked up in the edit's job
    qtbot.waitUntil(lambda: w.editing.job is None, timeout=60000)
    assert len(w.history) == 1 and len(w.errors) == 1  # no edit ran without the sound
    title, msg = w.errors[0]
    assert title == "No library sound" and "zqxwv'" in msg and "Add Folder" in msg and "drag a sound" in msg
    qtbot.waitUntil(lambda: "No library sound matches 'a zqxwv'" in w.library.status.text(), timeout=60000)
    assert w.library.reference == "" and "Add Folder" in w.library.status.text()  # the panel says so too
    w.panel.instruction.setText("Replace the tone with a zqxwv")  # B with no match: the removal does not run either
    assert w.run_edit() is not None
    qtbot.waitUntil(lambda: w.editing.job is None, timeout=60000)
    assert len(w.history) == 1 and len(w.errors) == 2
    assert w.errors[1][0] == "No library sound" and "zqxwv'" in w.errors[1][1]
    del w.errors[1]

    import rfm_studio.core.library as core_library

    class Broken:
        def __init__(self, *a, **kw):
            raise RuntimeError("database disk image is malformed")

    monkeypatch.setattr(core_library, "Library", Broken)
    w.panel.instruction.setText("Add a cow mooing")
    assert w.run_edit() is not None
    qtbot.waitUntil(lambda: w.editing.job is None, timeout=60000)
    title, msg = w.errors[-1]
    assert len(w.errors) == 2 and len(w.history) == 1
    assert title == "No library sound" and "could not be searched for 'a cow mooing' (database disk image is malformed)" in msg
    assert "pick a sound in the Library panel" in msg


def test_add_folder_indexes_in_the_models_worker_and_cancel_stops_it_between_files(qtbot, window, tmp_path,
                                                                                   monkeypatch):
    import threading

    from rfm_studio.core.library import index as library_index
    from rfm_studio.core.library import Library

    lib = window.library
    d = tmp_path / "many"
    d.mkdir()
    for i in range(5):
        sf.write(d / f"bell_{i}.wav", np.zeros(800, np.float32) + 0.01, 16000)
    gate, inside, read = threading.Event(), threading.Event(), []
    real = library_index.read_meta

    def held(path):
        if not str(path).startswith(str(d)):
            return real(path)  # the starter library, indexed on first use
        read.append((str(path), threading.get_native_id()))
        if len(read) == 2:
            inside.set()
            assert gate.wait(30)  # the second file is being read when Cancel is pressed
        return real(path)

    monkeypatch.setattr(library_index, "read_meta", held)
    assert not lib.cancel_btn.isVisibleTo(lib)
    lib.search_box.setText("bell")  # a search shown while indexing: it runs again after the cancel
    lib._search_now()
    qtbot.waitUntil(lambda: "Searching" not in lib.status.text(), timeout=60000)
    lib.add_folder(str(d))
    assert lib.cancel_btn.isVisibleTo(lib) and not lib.add_btn.isEnabled()
    assert inside.wait(30)
    lib.cancel_btn.click()
    assert lib.add_btn.isEnabled() and not lib.cancel_btn.isVisibleTo(lib) and "stopped" in lib.status.text()
    gate.set()  # the job ends at the next file; the one below runs after it, in the same worker
    where = []
    window.runner.submit("test-which-thread", lambda c: threading.get_native_id(), on_returned=where.append)
    qtbot.waitUntil(lambda: bool(where), timeout=30000)
    assert len(read) == 2 and read[0][1] == read[1][1] == where[0] != threading.get_native_id()  # the model's worker
    with Library(lib.db_path) as check:
        indexed = [p for p, in check.db.execute("SELECT path FROM files WHERE path LIKE ?", (str(d) + "%",))]
    # the file indexed before the cancel and the one being read then are kept; none after them
    assert sorted(indexed) == sorted(p for p, _ in read)
    shown = lambda: {lib.tree.topLevelItem(i).data(0, 0x0100) for i in range(lib.tree.topLevelItemCount())}  # noqa: E731
    # the search ran again: they show (a later search, e.g. once the text encoder has loaded, may
    # still be running: its "Searching…" gives way to the count)
    qtbot.waitUntil(lambda: set(indexed) <= shown() and "sounds" in lib.status.text(), timeout=60000)
    assert window.errors == []


def test_the_panel_and_the_cli_pick_the_same_library_sound_for_an_instruction(qtbot, loaded):
    """No keyword matches "a puppy yapping" or "a doorbell"; each one's best embedding match
    scores above MIN_SCORE. The edit run before the candidates come, and the candidate the
    panel chooses, are the sound `rfm-studio edit` picks (commands.library.library_reference)."""
    import types

    import pytest

    from rfm_studio.commands.library import library_reference
    from rfm_studio.core.library import Library
    from rfm_studio.core.library.embed import EncoderUnavailable, load_encoder

    try:
        load_encoder()
    except EncoderUnavailable:
        pytest.skip("encoder package not installed")
    w = loaded
    lib = w.library

    def cli_pick(text):
        prompt, _note = library_reference(types.SimpleNamespace(library=None), text)
        return prompt.source

    with Library(lib.db_path) as db:
        assert db.keyword_search("a puppy yapping", 5) == [] and db.keyword_search("a doorbell", 5) == []
    text = "Add a puppy yapping"
    w.panel.instruction.setText(text)
    w.set_region((0.1, 1.4))
    choice = lib.reference_for(text)
    assert choice is not None and choice.path == ""  # Run before the candidates: picked in the edit's job
    assert w.run_edit() is not None
    qtbot.waitUntil(lambda: w.editing.job is None, timeout=60000)
    v = w.history.get(w.history.current)
    assert w.errors == [] and v.params["reference"] == cli_pick(text)
    text = "Add a doorbell"
    w.panel.instruction.setText(text)  # the candidates, chosen in the panel
    qtbot.waitUntil(lambda: lib.search_box.text() == "a doorbell" and lib.mode == "embeddings"
                    and not lib._wanted, timeout=60000)
    cli = cli_pick(text)
    assert "bell" in cli and lib.reference == cli and lib.reference_for(text).path == cli
