"""Find in the app: the sound finder's spans become example marks (a fake finder: no model)."""

import threading

import numpy as np
import pytest

import gui_helpers  # noqa: F401  (offscreen Qt, temporary config folders)
from gui_helpers import clip_path, gui_env, gui_tiny_bundle, loaded, open_clip, settings, window  # noqa: F401
from test_find_sound import BURSTS, SR, burst_clip, fake_probs, use_probs


@pytest.fixture
def burst_path(tmp_path):
    import soundfile as sf

    p = tmp_path / "bursts.wav"
    sf.write(str(p), burst_clip(), SR, subtype="FLOAT")
    return p


@pytest.fixture
def finder(monkeypatch):
    """A fake finder (loud frames: the sound) that records the thread each call ran on."""
    from rfm_studio.core.detection import find

    threads, calls = [], []
    probs = fake_probs(calls)

    def recorded(finder, x16, text, cancel=None):
        threads.append(threading.current_thread())
        return probs(finder, x16, text, cancel)

    monkeypatch.setattr(find, "finder_installed", lambda folder=None: True)
    monkeypatch.setattr(find, "load_finder", lambda folder=None: object())
    use_probs(monkeypatch, recorded)
    return threads, calls


def find_now(qtbot, w, text):
    w.panel.instruction.setText(text)
    job = w.finding.run()
    assert job is not None, w.statusBar().currentMessage()
    qtbot.waitUntil(lambda: not w.finding.busy, timeout=30000)
    assert w.errors == []


def near(spans, expected):
    return len(spans) == len(expected) and all(abs(a - ea) <= 0.02 and abs(b - eb) <= 0.02
                                               for (a, b), (ea, eb) in zip(spans, expected))


def test_find_marks_where_the_sound_plays_off_the_ui_thread(qtbot, window, burst_path, finder):
    threads, calls = finder
    w = window
    open_clip(qtbot, w, burst_path)
    assert w.finding.action.isEnabled() and w.finding.button.isEnabled()
    w.examples.on_drag(0.1, 0.3, True)  # a hand-made mark
    find_now(qtbot, w, "Remove the dog barking")
    assert threads and all(t is not threading.main_thread() for t in threads)  # the model worker heard it
    assert calls[0][1] == "dog barking" and len(calls[0][0]) == 3 * 16000  # mono, 16 kHz
    assert near(w.examples.spans, [(0.1, 0.3), *BURSTS]) and w.examples.found == [False, True, True]
    msg = w.statusBar().currentMessage()
    assert msg.startswith("Found 'dog barking' at 0.5") and "(peak 0.90)" in msg
    assert w.examples.label.text() == "Examples: 2 found, 1 by hand"  # one line; the spans in its tooltip
    assert w.examples.label.toolTip().count("(found)") == 2 and "(by hand)" in w.examples.label.toolTip()
    assert w.panel.engine() == "dictionary"  # the panel counts the found marks as examples
    req = w.editing.build_request()
    assert [p.kind for p in req.prompts] == ["example"] * 3  # the next edit hears them
    # a second Find within a region replaces the last Find's marks; the hand-made one stays
    w.set_region((1.5, 2.2))
    find_now(qtbot, w, "Remove the dog barking")
    assert len(calls[-1][0]) == 3 * 16000  # the finder hears the whole clip; marks only inside the region
    assert near(w.examples.spans, [(0.1, 0.3), (2.0, 2.2)]) and w.examples.found == [False, True]
    w.examples.clear_button.click()  # found marks clear like hand-made ones
    assert w.examples.spans == [] and w.examples.found == []


def test_find_says_when_the_sound_is_not_found_or_no_sound_is_named(qtbot, window, burst_path, finder,
                                                                     monkeypatch):
    from rfm_studio.core.detection import find

    w = window
    open_clip(qtbot, w, burst_path)
    use_probs(monkeypatch, fake_probs(level=0.31))
    find_now(qtbot, w, "Remove the car passing")
    assert w.examples.spans == []
    assert w.statusBar().currentMessage() == ("'car passing' not found in this clip (highest probability 0.31); "
                                              "mark an example with Shift-drag.")
    for text in ("", "Remove the ... sound"):
        w.panel.instruction.setText(text)
        assert w.finding.run() is None and not w.finding.busy
        assert "type the sound to find" in w.statusBar().currentMessage()


def test_find_refuses_an_instruction_that_names_no_sound(qtbot, window, burst_path, finder):
    """"Remove this" and the like point at a sound without naming it (find.names_sound): Find
    says to type the sound and the finder is not asked; a bare sound name is found."""
    threads, calls = finder
    w = window
    open_clip(qtbot, w, burst_path)
    for text in ("Remove this", "Remove sounds like this", "Remove that one", "this", "Remove the marked sound"):
        w.panel.instruction.setText(text)
        assert w.finding.run() is None and not w.finding.busy, text
        assert w.statusBar().currentMessage().startswith("Find: type the sound to find first"), text
    assert calls == [] and w.examples.spans == []
    find_now(qtbot, w, "dog barking")  # the sound alone, as typed for Find
    assert [c[1] for c in calls] == ["dog barking"] and len(w.examples.spans) == 2


def test_find_is_disabled_without_a_finder_or_a_clip_and_while_it_runs(qtbot, window, burst_path, finder,
                                                                       monkeypatch):
    from rfm_studio.core.detection import find

    w = window
    assert not w.finding.action.isEnabled() and "Open a clip first" in w.finding.action.toolTip()
    open_clip(qtbot, w, burst_path)
    assert w.finding.action.isEnabled()
    assert w.finding.action in w.menuBar().actions()[1].menu().actions()  # Edit ▸ Find Sound
    gate = threading.Event()
    slow = fake_probs()

    def waiting(finder, x16, text, cancel=None):
        gate.wait(10)
        return slow(finder, x16, text, cancel)

    use_probs(monkeypatch, waiting)
    w.panel.instruction.setText("a dog barking")
    assert w.finding.run() is not None
    assert not w.finding.action.isEnabled() and w.finding.button.text() == "Finding…"
    gate.set()
    qtbot.waitUntil(lambda: not w.finding.busy, timeout=30000)
    assert w.finding.action.isEnabled() and len(w.examples.spans) == 2
    monkeypatch.setattr(find, "finder_installed", lambda folder=None: False)
    w.update_actions()
    assert not w.finding.action.isEnabled() and not w.finding.button.isEnabled()
    assert "No sound finder is installed" in w.finding.action.toolTip()


def test_opening_another_clip_drops_a_running_find(qtbot, window, burst_path, finder, monkeypatch, tmp_path):
    import soundfile as sf

    from rfm_studio.core.detection import find

    w = window
    open_clip(qtbot, w, burst_path)
    gate = threading.Event()
    slow = fake_probs()
    use_probs(monkeypatch, lambda *a, **k: (gate.wait(10), slow(*a, **k))[1])
    w.panel.instruction.setText("a dog barking")
    assert w.finding.run() is not None
    other = tmp_path / "quiet.wav"
    sf.write(str(other), np.zeros((SR, 2), np.float32), SR)
    open_clip(qtbot, w, other)
    assert not w.finding.busy and w.finding.action.isEnabled()
    gate.set()  # the let-go job ends in the worker; its marks never arrive
    w.runner.submit("sync", lambda c: None)
    qtbot.waitUntil(lambda: not w.runner.busy(), timeout=30000)
    assert w.examples.spans == []


def gated(monkeypatch):
    """The fake finder waits for the returned Event before it answers (a Find in flight)."""
    from rfm_studio.core.detection import find

    gate, slow = threading.Event(), fake_probs()
    use_probs(monkeypatch, lambda *a, **k: (gate.wait(10), slow(*a, **k))[1])
    return gate


def settle(qtbot, w):
    """Every job submitted so far has ended in the worker (a let-go one delivers nothing)."""
    w.runner.submit("sync", lambda c: None)
    qtbot.waitUntil(lambda: not w.runner.busy(), timeout=60000)


def test_running_an_edit_cancels_a_pending_find_and_hears_the_marks_as_they_are(qtbot, loaded, finder,
                                                                               monkeypatch):
    from gui_helpers import INSTRUCTION, SR as CLIP_SR

    w = loaded
    w.examples.on_drag(0.2, 0.6, True)  # a hand-made mark
    gate = gated(monkeypatch)
    w.panel.instruction.setText(INSTRUCTION)
    w.panel.steps.setValue(1)
    assert w.finding.run() is not None
    assert w.acts.a_run.isEnabled() and w.panel.run_button.isEnabled()  # Edit still works
    n = len(w.history)
    w.acts.a_run.trigger()
    assert w.editing.busy and not w.finding.busy  # the find was cancelled first
    assert w.statusBar().currentMessage().startswith("Find cancelled")
    req = w.editing.ctx.request
    src = w.history.source.audio.mean(axis=1)
    assert len(req.prompts) == 1 and np.allclose(req.prompts[0].audio, src[int(round(0.2 * CLIP_SR)):
                                                                             int(round(0.6 * CLIP_SR))])
    gate.set()
    qtbot.waitUntil(lambda: not w.editing.busy, timeout=60000)
    settle(qtbot, w)
    assert w.errors == [] and len(w.history) == n + 1
    assert w.examples.spans == [(0.2, 0.6)] and w.examples.found == [False]  # the find's marks never landed
    assert w.history.get(w.history.current).params["engine"] == "dictionary"


def test_a_find_is_ignored_when_the_version_or_the_selection_changed_while_it_ran(qtbot, window, burst_path,
                                                                                 finder, monkeypatch):
    w = window
    open_clip(qtbot, w, burst_path)
    gate = gated(monkeypatch)
    w.panel.instruction.setText("Remove the dog barking")
    assert w.finding.run() is not None
    v = w.history.add_edit(0, w.history.source.audio * 0.5, SR, instruction="Make it quieter")
    w.go_to_version(v.id)  # another version is current when the find's result arrives
    gate.set()
    qtbot.waitUntil(lambda: not w.finding.busy, timeout=30000)
    assert w.examples.spans == [] and w.statusBar().currentMessage() == "Find ignored: the version changed."
    gate.clear()
    assert w.finding.run() is not None
    w.set_region((1.5, 2.8))  # the selection changed
    gate.set()
    qtbot.waitUntil(lambda: not w.finding.busy, timeout=30000)
    assert w.examples.spans == [] and w.statusBar().currentMessage() == "Find ignored: the selection changed."
    find_now(qtbot, w, "Remove the dog barking")  # unchanged: applied
    assert near(w.examples.spans, [(2.0, 2.4)]) and w.errors == []


def test_find_is_blocked_when_every_example_mark_is_made_by_hand(qtbot, window, burst_path, finder):
    from rfm_studio.core.prompts import MAX_PROMPTS

    w = window
    open_clip(qtbot, w, burst_path)
    for i in range(MAX_PROMPTS):
        w.examples.on_drag(0.3 * i, 0.3 * i + 0.2, True)
    assert len(w.examples.spans) == MAX_PROMPTS
    why = "All example marks are in use; clear some first"
    assert not w.finding.action.isEnabled() and why in w.finding.action.toolTip()
    w.panel.instruction.setText("Remove the dog barking")
    assert w.finding.run() is None and w.statusBar().currentMessage() == f"Find: {why}."
    w.examples.clear_button.click()
    assert w.finding.action.isEnabled()


def test_the_status_line_lists_only_the_spans_that_were_marked(qtbot, window, burst_path, finder, monkeypatch):
    from rfm_studio.core.detection import find
    from rfm_studio.core.prompts import MAX_PROMPTS
    from rfm_studio.gui.window_find import found_message

    w = window
    open_clip(qtbot, w, burst_path)
    spans = ((0.5, 0.9), (2.0, 2.04))  # the second one shorter than MIN_PROMPT_SECONDS
    monkeypatch.setattr(find, "run_find", lambda *a, **k: find.FoundSound("dog barking", spans, 0.9))
    find_now(qtbot, w, "Remove the dog barking")
    assert w.examples.spans == [(0.5, 0.9)]
    assert w.statusBar().currentMessage() == ("Found 'dog barking' at 0.50–0.90 s (peak 0.90); "
                                              "too short to mark (under 0.1 s): 2.00–2.04 s.")
    assert w.examples.set_found([(2.0, 2.04)]) == [] and w.examples.spans == []
    many = [(0.3 * i, 0.3 * i + 0.2) for i in range(MAX_PROMPTS + 2)]
    assert w.examples.set_found(many) == many[:MAX_PROMPTS]
    msg = found_message(find.FoundSound("x", tuple(many), 0.9), many[:MAX_PROMPTS])
    assert msg.endswith("(peak 0.90); no room for more marks.") and "2.70–2.90" not in msg


def test_cancel_stops_a_running_find(qtbot, window, burst_path, finder, monkeypatch):
    w = window
    open_clip(qtbot, w, burst_path)
    assert not w.acts.a_cancel.isEnabled() and not w.panel.cancel_button.isEnabled()
    gate = gated(monkeypatch)
    w.panel.instruction.setText("Remove the dog barking")
    assert w.finding.run() is not None
    assert w.acts.a_cancel.isEnabled() and w.panel.cancel_button.isEnabled()
    w.panel.cancel_button.click()  # the Edit panel's Cancel
    assert not w.finding.busy and w.finding.action.isEnabled()
    assert w.statusBar().currentMessage() == "Find cancelled."
    assert not w.acts.a_cancel.isEnabled() and not w.panel.cancel_button.isEnabled()
    assert w.finding.run() is not None
    w.acts.a_cancel.trigger()  # Edit ▸ Cancel (Esc)
    assert not w.finding.busy
    gate.set()
    settle(qtbot, w)
    assert w.examples.spans == [] and w.errors == []


def test_cancel_stops_the_finder_between_its_windows_and_the_progress_line_shows_them(qtbot, window, burst_path,
                                                                                     monkeypatch):
    """A clip of four finder windows: the progress line says which one is heard; Esc while the
    first is heard stops the finder before the second (the worker drives run_find's steps)."""
    import torch

    from rfm_studio.core.detection import find
    from rfm_studio.core.library import embed

    w = window
    calls, entered, gate = [], threading.Event(), threading.Event()

    def finder(mel, q):
        calls.append(mel.shape[-1])
        entered.set()
        gate.wait(10)
        return torch.full((1, mel.shape[-1]), -5.0)

    monkeypatch.setattr(find, "WINDOW_S", 1.0)  # the 3 s clip: four windows (the last one frame)
    monkeypatch.setattr(find, "finder_installed", lambda folder=None: True)
    monkeypatch.setattr(find, "load_finder", lambda folder=None: finder)
    monkeypatch.setattr(embed, "embed", lambda texts: np.zeros((len(texts), 384), np.float32))
    open_clip(qtbot, w, burst_path)
    before = w.panel.progress.format()
    w.panel.instruction.setText("Remove the dog barking")
    assert w.finding.run() is not None
    assert entered.wait(30)
    qtbot.waitUntil(lambda: w.panel.progress.format() == "Finding 'dog barking' (1/4)", timeout=10000)
    w.acts.a_cancel.trigger()  # Esc
    assert not w.finding.busy and w.statusBar().currentMessage() == "Find cancelled."
    assert w.panel.progress.format() == before
    gate.set()
    settle(qtbot, w)
    assert len(calls) == 1  # one window heard, not four
    assert w.examples.spans == [] and w.errors == []
    # uncancelled, the same find hears every window and marks nothing (the finder hears nothing)
    calls.clear()
    find_now(qtbot, w, "Remove the dog barking")
    assert len(calls) == 4 and w.examples.spans == [] and w.panel.progress.format() == before


def _shown(w):
    """Find's marks as drawn: per found span, whether its item in every view shows."""
    return [all(it.isVisible() for it in items) for items, f in zip(w.examples._items, w.examples.found) if f]


def test_found_marks_hide_while_the_instruction_names_another_sound(qtbot, window, burst_path, finder, monkeypatch):
    w = window
    open_clip(qtbot, w, burst_path)
    w.examples.on_drag(0.1, 0.3, True)  # a hand-made mark
    find_now(qtbot, w, "Remove the dog barking")
    assert w.examples.found == [False, True, True] and w.examples.found_for == "dog barking"
    for same in ("Remove the dog barking.", "remove the Dog  Barking", "Remove a dog barking"):
        w.panel.instruction.setText(same)  # the same sound: the marks stay
        assert w.examples.found == [False, True, True] and w.examples.label.text() == "Examples: 2 found, 1 by hand"
    w.panel.instruction.setText("Remove the car passing")
    assert w.examples.found == [False, True, True] and _shown(w) == [False, False]  # kept, not drawn
    assert w.examples.label.text() == ("Examples: 1 by hand, 2 found for 'dog barking' hidden "
                                       "(the instruction names another sound)")
    assert w.statusBar().currentMessage() == ("Find's marks for 'dog barking' hidden: the instruction names "
                                              "another sound.")
    assert w.panel.engine() == "dictionary"  # the hand mark is still an example
    assert [p.kind for p in w.editing.build_request().prompts] == ["example"]  # the next edit hears the hand mark only
    for item in w.examples._items[0]:
        assert item.scene() is not None and item.isVisible()  # the hand mark is still drawn
    w.panel.instruction.setText("Remove the dog barking")  # back again: the marks show again
    assert _shown(w) == [True, True] and w.examples.label.text() == "Examples: 2 found, 1 by hand"
    assert w.statusBar().currentMessage() == "Find's marks for 'dog barking' shown again."
    assert [p.kind for p in w.editing.build_request().prompts] == ["example"] * 3
    # a Find whose instruction names another sound by the time it answers is not applied
    gate = gated(monkeypatch)
    w.panel.instruction.setText("Remove the dog barking")
    assert w.finding.run() is not None
    w.panel.instruction.setText("Remove the car passing")
    gate.set()
    qtbot.waitUntil(lambda: not w.finding.busy, timeout=30000)
    assert w.examples.found == [False, True, True] and _shown(w) == [False, False]
    assert w.statusBar().currentMessage() == "Find ignored: the instruction names another sound now."
    # marks drawn by hand while Find's are hidden: the last hidden one makes room where all are in use
    from rfm_studio.core.prompts import MAX_PROMPTS

    for i in range(MAX_PROMPTS - 3):
        w.examples.on_drag(0.4 + 0.02 * i, 0.52 + 0.02 * i, True)
    assert len(w.examples.spans) == MAX_PROMPTS and w.examples.found.count(True) == 2
    w.examples.on_drag(2.6, 2.9, True)
    assert len(w.examples.in_use()) == MAX_PROMPTS - 1 and w.examples.found.count(True) == 1
    assert len(w.examples._items) == len(w.examples.spans) == MAX_PROMPTS
    w.panel.instruction.setText("Remove the dog barking")
    assert _shown(w) == [True] and len(w.examples.in_use()) == MAX_PROMPTS
    w.panel.instruction.setText("Remove the car passing")
    # a new Find replaces the hidden marks, for its own sound
    use_probs(monkeypatch, fake_probs())
    w.examples.clear_button.click()
    w.examples.on_drag(0.1, 0.3, True)
    find_now(qtbot, w, "Remove the dog barking")
    w.panel.instruction.setText("Remove the car passing")
    assert _shown(w) == [False, False]
    find_now(qtbot, w, "Remove the car passing")
    assert w.examples.found == [False, True, True]
    assert w.examples.found_for == "car passing" and _shown(w) == [True, True]
    assert w.examples.label.text() == "Examples: 2 found, 1 by hand"


def test_typing_around_the_sound_keeps_the_found_marks_once_it_names_it_again(qtbot, window, burst_path, finder):
    """Typed a key at a time: "Remove the " in front of "dog barking" hides the marks at the
    first key and shows them again at the last; " x" typed and deleted, likewise."""
    from PySide6.QtCore import Qt

    w = window
    open_clip(qtbot, w, burst_path)
    find_now(qtbot, w, "dog barking")
    box = w.panel.instruction
    spans = list(w.examples.spans)
    assert len(spans) == 2 and _shown(w) == [True, True]
    box.setFocus()
    box.setCursorPosition(0)
    qtbot.keyClicks(box, "R")
    assert box.text() == "Rdog barking" and _shown(w) == [False, False]  # another sound: hidden, not deleted
    assert w.editing.build_request().prompts == () and w.panel.engine() != "dictionary"
    qtbot.keyClicks(box, "emove the ")
    assert box.text() == "Remove the dog barking"
    assert w.examples.spans == spans and _shown(w) == [True, True]
    assert [p.kind for p in w.editing.build_request().prompts] == ["example"] * 2
    box.end(False)
    qtbot.keyClicks(box, " x")
    assert box.text() == "Remove the dog barking x" and _shown(w) == [False, False]
    qtbot.keyClick(box, Qt.Key_Backspace)
    qtbot.keyClick(box, Qt.Key_Backspace)
    assert box.text() == "Remove the dog barking"
    assert w.examples.spans == spans and _shown(w) == [True, True] and w.examples.label.text() == "Examples: 2 found"


def test_a_block_set_while_a_find_runs_outlasts_it_and_training_waits_for_the_find(qtbot, loaded, finder,
                                                                                    monkeypatch):
    """The progress line after a Find: "Edits wait: …" set meanwhile, not the line from before
    it (a "Done in … · version N"); and the Fine-tuning tab's job waits while a Find runs."""
    from gui_helpers import run_edit

    w = loaded
    v = run_edit(qtbot, w, steps=1)
    done = w.panel.progress.format()
    assert done.startswith("Done in") and done.endswith(f"version {v.id}")
    gate = gated(monkeypatch)
    w.panel.instruction.setText("Remove the dog barking")
    assert w.finding.run() is not None
    assert w.finetune.slot.other_job() == "A Find is running: train when it has finished (or cancel it)."
    w.finetune.slot.changed.emit(True)  # (as a fine-tuning job would: the Edit panel is blocked)
    blocked = w.panel.blocked
    assert blocked.startswith("Edits wait:") and w.panel.progress.format() == blocked
    gate.set()
    qtbot.waitUntil(lambda: not w.finding.busy, timeout=30000)
    assert w.panel.progress.format() == blocked and w.errors == []
    assert w.finetune.slot.other_job() == ""
    w.finetune.slot.changed.emit(False)
    assert w.panel.progress.format() == "Ready"
