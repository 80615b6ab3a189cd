"""GUI building blocks without a model: t_start mapping, history, the job runner, the
throttle, the player's callback, the waveform envelope, settings."""

import time

import numpy as np
import pytest

import gui_helpers  # noqa: F401  (offscreen Qt, temporary config folders)
from gui_helpers import gui_env, settings  # noqa: F401  (fixtures)


# -- t_start slider ------------------------------------------------------------------
def test_t_start_slider_is_fine_near_001_and_spans_0_to_02():
    from rfm_studio.gui.edit_widgets import SLIDER_MAX, slider_to_t, t_to_slider

    assert slider_to_t(0) == 0.0
    assert slider_to_t(SLIDER_MAX) == pytest.approx(0.2)
    p = t_to_slider(0.01)
    assert slider_to_t(p) == pytest.approx(0.01, abs=1e-4)
    assert slider_to_t(p + 1) - slider_to_t(p) < 1e-4  # one tick near 0.01 is below 1e-4
    for t in (0.0, 0.005, 0.01, 0.05, 0.2):
        assert slider_to_t(t_to_slider(t)) == pytest.approx(t, abs=2e-4)


def test_t_start_slider_and_field_stay_in_sync(qtbot):
    from rfm_studio.gui.edit_panel import EditPanel
    from rfm_studio.gui.edit_widgets import t_to_slider

    p = EditPanel()
    qtbot.addWidget(p)
    p.t_spin.setValue(0.0123)
    assert p.t_slider.value() == t_to_slider(0.0123)
    p.t_slider.setValue(p.t_slider.maximum())
    assert p.t_start() == pytest.approx(0.2)


def test_instruction_completion_includes_templates_and_history(qtbot):
    from rfm_studio.gui.edit_widgets import InstructionBox

    box = InstructionBox()
    qtbot.addWidget(box)
    box.set_history(["Remove the siren"])
    items = box.model.stringList()
    assert items[0] == "Remove the siren"
    assert {"Add ...", "Remove ...", "Replace ... with ..."} <= set(items)
    box.setText("Replace ... with ...")
    box._select_placeholder()
    assert box.selectedText() == "..."


def test_the_progress_bar_sets_its_tooltip_where_its_line_or_width_changes_not_while_painting(qtbot):
    """ElidedBar: the whole line as tooltip where the bar cuts it, none where it fits; set as soon
    as the line changes or the bar is resized (no event processed, nothing painted yet), and a
    paint leaves the tooltip as it is."""
    from PySide6.QtWidgets import QWidget

    from rfm_studio.gui.edit_widgets import ElidedBar, show_stage, show_text

    host = QWidget()
    qtbot.addWidget(host)
    bar = ElidedBar(host)
    bar.resize(90, 24)
    host.resize(400, 40)
    host.show()  # (a child of a shown window gets its resize events at once)
    line = "Done in 0.5 s · version 3 · Remove the dog barking"
    show_text(bar, line)
    assert bar.text() == line and bar.toolTip() == line  # cut: the whole line
    bar.resize(2000, 24)
    assert bar.toolTip() == ""  # room for it: none
    bar.resize(90, 24)
    assert bar.toolTip() == line
    show_stage(bar, 2, 3, "Learning the sound from the marked spans")
    assert bar.toolTip() == bar.text() == "Learning the sound from the marked spans (2/3)"
    show_text(bar, "Ready")
    assert bar.toolTip() == ""
    bar.setFormat("%p%")  # a line that changes with the value
    bar.setRange(0, 1000000000)
    bar.resize(bar.fontMetrics().horizontalAdvance("0%") + 12, 24)  # room for "0%", not "100%"
    bar.setValue(1)
    assert bar.toolTip() == ""
    bar.setValue(1000000000)
    assert bar.toolTip() == "100%" == bar.text()
    bar.setRange(0, 2000000000)  # the range alone: "50%", cut too
    assert bar.toolTip() == "50%" == bar.text()
    bar.setFormat("%m")  # the maximum: changes with the range alone
    bar.setRange(0, 5)
    bar.setValue(3)
    assert bar.toolTip() == "" and bar.text() == "5"
    bar.setRange(0, 1000000000)  # the value stays: only the range changed
    assert bar.toolTip() == "1000000000" == bar.text()
    from PySide6.QtCore import QEvent, QPoint
    from PySide6.QtGui import QHelpEvent
    from PySide6.QtWidgets import QApplication

    bar.setMaximum(7)  # Qt's own setter, no hook: the tip is right when it is about to show
    QApplication.sendEvent(bar, QHelpEvent(QEvent.ToolTip, QPoint(2, 2), bar.mapToGlobal(QPoint(2, 2))))
    assert bar.toolTip() == "" and bar.text() == "7"
    bar.setToolTip("set by hand")
    bar.grab()  # painting the bar leaves its tooltip alone
    assert bar.toolTip() == "set by hand"


def test_the_progress_bar_and_the_examples_line_cut_a_line_by_one_rule(qtbot):
    """gui.elide: the line whole where it fits, else ending in '…' and marked cut; the progress
    bar's tooltip and the examples line's is_cut follow it at the same room."""
    from rfm_studio.gui.edit_widgets import ElidedBar, show_text
    from rfm_studio.gui.elide import elide
    from rfm_studio.gui.example_marks import HintLabel

    label, bar = HintLabel(), ElidedBar()
    qtbot.addWidget(label)
    qtbot.addWidget(bar)
    line = "Examples: none (Shift-drag to mark where the sound plays)"
    fm = label.fontMetrics()
    wide = fm.horizontalAdvance(line) + 4
    assert elide(fm, line, wide) == (line, False)
    shown, cut = elide(fm, line, wide // 2)
    assert cut and shown.endswith("…") and line.startswith(shown[:-1]) and fm.horizontalAdvance(shown) <= wide // 2
    label.set_line(line)
    show_text(bar, line)
    for room in (wide, wide // 2):
        label.resize(room + label.width() - label.contentsRect().width(), 20)
        bar.resize(room + 10 + bar.width() - bar.contentsRect().width(), 24)
        label.show(), bar.show()
        assert label.contentsRect().width() == room and bar.contentsRect().width() - 10 == room
        assert label.is_cut() == (room < wide) == elide(fm, line, room)[1]
        assert (bar.toolTip() == line) == elide(bar.fontMetrics(), line, room)[1]


# -- history -------------------------------------------------------------------------
def test_history_undo_redo_keeps_every_version():
    from rfm_studio.gui.history import History

    h = History()
    a = np.zeros(10, np.float32)
    h.reset(a, 100)
    v1 = h.add_edit(0, a + 1, 100, instruction="one")
    v2 = h.add_edit(v1.id, a + 2, 100, instruction="two")
    assert h.current == v2.id and [v.id for v in h.chain(v2.id)] == [0, 1, 2]
    assert h.undo() == 1 and h.undo() == 0 and h.undo() is None
    assert h.redo() == 1
    v3 = h.add_edit(1, a + 3, 100, instruction="three")  # a branch: redo is cleared, nothing deleted
    assert not h.can_redo() and len(h) == 4 and v3.parent == 1
    assert h.undo() == 1


# -- job runner ----------------------------------------------------------------------
def _gen(n, delay=0.0, fail_at=None):
    def fn(cancel):
        for i in range(n):
            if fail_at == i:
                raise ValueError("boom")
            time.sleep(delay)
            yield i
        return "done"
    return fn


def test_runner_yields_and_returns(qtbot):
    from rfm_studio.gui.jobs import JobRunner

    r = JobRunner()
    got, res = [], []
    r.yielded.connect(lambda j, ev: got.append(ev))
    r.returned.connect(lambda j, v: res.append(v))
    try:
        with qtbot.waitSignal(r.finished, timeout=20000):
            r.submit("x", _gen(5, 0.03))
        # the runner promises the newest event (coalescing may drop older ones on a busy
        # machine), in order, before the return value; not every event
        assert res == ["done"]
        assert got and got[-1] == 4 and got == sorted(set(got)), got
        assert len(got) + r.coalesced >= 5
    finally:
        assert r.shutdown()


def test_runner_coalesces_only_events_of_one_type(qtbot):
    """A sampler step followed at once by a stage (another event type) is not lost behind it:
    the undelivered events keep the newest of each type, in order."""
    import threading

    from rfm_studio.core.events import ProgressEvent, StepEvent
    from rfm_studio.gui.jobs import JobRunner

    r = JobRunner()
    got = []
    hold = threading.Event()
    r.yielded.connect(lambda j, ev: got.append(ev))

    def job(cancel):
        def gen():
            yield StepEvent(1, 4, 0.5)
            hold.wait(10)  # the UI takes nothing until every event below is posted
            for k in (2, 3, 4):
                yield StepEvent(k, 4, 0.5)
            yield ProgressEvent(1, 2, "stage one")
            yield ProgressEvent(2, 2, "stage two")
            return "done"
        return gen()

    try:
        r.yielded.connect(lambda j, ev: hold.set())
        with qtbot.waitSignal(r.finished, timeout=20000):
            r.submit("x", job)
        kinds = [(type(e).__name__, getattr(e, "step", None) or getattr(e, "stage", None)) for e in got]
        # step 4 always arrives, before the stages; older events of a type may be coalesced
        assert ("StepEvent", 4) in kinds and kinds[-1] == ("ProgressEvent", 2), kinds
        assert kinds.index(("StepEvent", 4)) < kinds.index(next(k for k in kinds if k[0] == "ProgressEvent"))
        assert [k for k in kinds if k[0] == "StepEvent"] == sorted(k for k in kinds if k[0] == "StepEvent")
    finally:
        assert r.shutdown()


def test_batch_events_coalesce_by_kind():
    from rfm_studio.core.batch import BatchEvent

    step = BatchEvent(0, 2, "a.wav", "editing", 3, 4)
    stage = BatchEvent(0, 2, "a.wav", "editing", 4, 4, message="Dictionary removal: applying the mask")
    assert (step.kind, stage.kind, BatchEvent(0, 2, "a.wav", "done").kind) == ("step", "stage", "done")


def test_a_failing_yielded_callback_loses_no_event_and_the_job_still_returns(qtbot):
    from rfm_studio.core.events import ProgressEvent, StepEvent
    from rfm_studio.gui.jobs import JobRunner

    r = JobRunner()
    got, res, done = [], [], []

    def job(cancel):
        def gen():
            yield StepEvent(1, 1, 0.5)
            yield ProgressEvent(1, 1, "stage")
            return "done"
        return gen()

    def boom(ev):
        raise RuntimeError("a broken callback")

    r.yielded.connect(lambda j, ev: got.append(type(ev).__name__))
    try:
        with qtbot.capture_exceptions() as raised, qtbot.waitSignal(r.finished, timeout=20000):
            r.submit("x", job, on_yielded=boom, on_returned=res.append, on_finished=lambda: done.append(1))
        assert raised and all("a broken callback" in str(e[1]) for e in raised)  # raised, not swallowed
        assert got == ["StepEvent", "ProgressEvent"] and res == ["done"] and done == [1]
        assert not r.busy()
    finally:
        assert r.shutdown()


def test_the_playback_cache_keeps_what_was_used_last():
    from rfm_studio.gui.playback import _MISS, _Memo

    memo = _Memo()
    for k in range(6):
        memo.put((k,), f"v{k}")
    assert memo.get((0,)) == "v0"  # the oldest, used again: now the newest
    memo.put((6,), "v6")
    assert memo.get((0,)) == "v0" and memo.get((1,)) is _MISS  # the least recently used went


def test_a_superseded_playback_preparation_stops_before_its_next_piece():
    from rfm_studio.core.errors import Cancelled
    from rfm_studio.core.events import CancelToken
    from rfm_studio.gui.playback import _MISS, _Memo, prepare

    memo, tok = _Memo(), CancelToken()
    a = np.zeros(4410, np.float32)
    b = np.ones(4410, np.float32) * 0.1
    tok.cancel()
    with pytest.raises(Cancelled):
        prepare(memo, (a, b), 44100, 48000, 2, False, cancel=tok)
    assert memo.get(("device", a, 44100, 48000, 2)) is _MISS  # nothing made
    p = prepare(memo, (a, b), 44100, 48000, 2, False, cancel=CancelToken())
    assert p.rate == 48000 and p.bufs[0].shape[1] == 2
    assert np.shares_memory(prepare(memo, (a, b), 44100, 48000, 2, False, cancel=tok).bufs[1], p.bufs[1])  # made: no check


def test_cycles_are_collected_on_the_ui_thread_while_the_worker_allocates(qtbot):
    """A closed window's cycles (timers, widgets) must never be freed by the worker thread:
    the runner turns automatic collection off and collects from a UI-thread timer."""
    import gc
    import threading

    from rfm_studio.gui.jobs import JobRunner

    freed_on = []

    class Cycle:
        def __init__(self):
            self.me = self
            self.junk = [[] for _ in range(10)]  # counts toward the collector's threshold

        def __del__(self):
            freed_on.append(threading.current_thread() is threading.main_thread())

    runner = JobRunner()
    try:
        assert not gc.isenabled()

        def job(cancel):
            for _ in range(200):
                Cycle()  # unreachable at once: only the cyclic collector can free it
                yield None

        got = []
        runner.returned.connect(lambda i, v: got.append(i))
        runner.submit("edit", job)
        qtbot.waitUntil(lambda: bool(got), timeout=20000)
        qtbot.waitUntil(lambda: len(freed_on) >= 100, timeout=10000)  # the rest wait for the next threshold
        assert all(freed_on)
    finally:
        runner.shutdown()

def test_runner_coalesces_fast_events_newest_wins(qtbot):
    from rfm_studio.gui.jobs import JobRunner

    r = JobRunner()
    got = []
    r.yielded.connect(lambda j, ev: (got.append(ev), time.sleep(0.01)))  # a slow UI
    with qtbot.waitSignal(r.finished, timeout=10000):
        r.submit("x", _gen(300))
    assert got[-1] == 299 and len(got) < 300 and got == sorted(got)
    assert r.shutdown()


def test_runner_cancel_and_supersede_drop_stale_signals(qtbot):
    from rfm_studio.gui.jobs import JobRunner

    r = JobRunner()
    seen = []
    for name in ("started", "yielded", "returned", "errored", "aborted"):
        getattr(r, name).connect(lambda *a, n=name: seen.append((n, a[0])))
    j1 = r.submit("edit", _gen(1000, 0.01))
    qtbot.waitUntil(lambda: ("yielded", j1) in seen, timeout=5000)
    j2 = r.submit("edit", _gen(3, 0.01))  # supersedes j1
    with qtbot.waitSignal(r.finished, timeout=5000):
        pass
    assert ("returned", j2) in seen
    assert not any(n in ("returned", "aborted") and j == j1 for n, j in seen)
    assert not r.busy()
    # an explicit cancel: aborted is not reported for a job the UI already let go of,
    # and the generator stops within one step
    steps = []
    r.yielded.connect(lambda j, ev: steps.append(ev))
    j3 = r.submit("edit", _gen(1000, 0.02))
    qtbot.waitUntil(lambda: len(steps) >= 2, timeout=5000)
    r.cancel("edit")
    n = len(steps)
    qtbot.wait(150)
    assert len(steps) <= n + 1 and not r.is_live(j3)
    assert r.shutdown()


def test_runner_calls_each_jobs_own_callbacks_only(qtbot):
    """Per-job callbacks: each job's on_* callbacks see its own events, result or error,
    never another job's (two lanes queued in the one worker)."""
    from rfm_studio.gui.jobs import JobError, JobRunner

    r = JobRunner()
    calls = {"a": [], "b": []}

    def rec(name):
        cb = {k: (lambda *a, k=k: calls[name].append((k,) + a))
              for k in ("started", "yielded", "returned", "errored", "aborted", "finished")}
        return {f"on_{k}": f for k, f in cb.items()}

    try:
        ja = r.submit("one", _gen(4, 0.02), **rec("a"))
        jb = r.submit("two", _gen(5, 0.02, fail_at=2), **rec("b"))
        qtbot.waitUntil(lambda: not r.busy(), timeout=20000)
        a, b = calls["a"], calls["b"]
        assert ja != jb
        assert a[0] == ("started",) and a[-2:] == [("returned", "done"), ("finished",)]
        assert [e for k, *e in a if k == "yielded"][-1] == [3]
        assert not any(k in ("errored", "aborted") for k, *_ in a)
        assert b[0] == ("started",) and b[-1] == ("finished",)
        errs = [e[0] for k, *e in b if k == "errored"]
        assert len(errs) == 1 and isinstance(errs[0], JobError) and "boom" in errs[0].message
        assert all(e[0] in (0, 1) for k, *e in b if k == "yielded")  # b's own events only
        assert not any(k in ("returned", "aborted") for k, *_ in b)
    finally:
        assert r.shutdown()


def test_runner_never_calls_back_a_superseded_or_cancelled_job(qtbot):
    from rfm_studio.gui.jobs import JobRunner

    r = JobRunner()
    calls = {1: [], 2: [], 3: []}

    def rec(n):
        return {f"on_{k}": (lambda *a, k=k: calls[n].append(k))
                for k in ("started", "yielded", "returned", "errored", "aborted", "finished")}

    try:
        r.submit("edit", _gen(1000, 0.01), **rec(1))
        qtbot.waitUntil(lambda: "yielded" in calls[1], timeout=5000)
        r.submit("edit", _gen(3, 0.01), **rec(2))  # supersedes job 1
        seen1 = len(calls[1])
        qtbot.waitUntil(lambda: "finished" in calls[2], timeout=5000)
        assert calls[2][-2:] == ["returned", "finished"]
        j3 = r.submit("edit", _gen(1000, 0.01), **rec(3))
        qtbot.waitUntil(lambda: "yielded" in calls[3], timeout=5000)
        r.cancel("edit")
        seen3 = len(calls[3])
        qtbot.waitUntil(lambda: not r._thread.isRunning() or r._running is None, timeout=5000)
        qtbot.wait(100)
        assert len(calls[1]) == seen1 and not {"returned", "aborted", "finished"} & set(calls[1])
        assert len(calls[3]) == seen3 and not {"returned", "aborted", "finished"} & set(calls[3])
        assert not r.is_live(j3)
    finally:
        assert r.shutdown()


def test_a_failing_callback_still_finishes_its_job(qtbot):
    from rfm_studio.gui.jobs import JobRunner

    r = JobRunner()
    done, finished = [], []

    def bad(_value):
        raise RuntimeError("callback bug")

    try:
        with qtbot.capture_exceptions() as exceptions:
            with qtbot.waitSignal(r.finished, timeout=5000):
                r.submit("x", lambda c: 7, on_returned=bad, on_finished=lambda: finished.append(7))
        assert [str(e[1]) for e in exceptions] == ["callback bug"]
        assert finished == [7]  # the job's own on_finished still runs (callers release its state there)
        with qtbot.waitSignal(r.finished, timeout=5000):
            r.submit("x", lambda c: 8, on_returned=done.append)
        assert done == [8] and not r.busy()
    finally:
        assert r.shutdown()


def test_runner_reports_errors_as_jobError(qtbot):
    from rfm_studio.core.errors import AudioReadError
    from rfm_studio.gui.jobs import JobError, JobRunner

    r = JobRunner()
    errs = []
    r.errored.connect(lambda j, e: errs.append(e))
    with qtbot.waitSignal(r.finished, timeout=5000):
        r.submit("x", _gen(3, fail_at=1))

    def bad(cancel):
        raise AudioReadError("The file is not audio.")
    with qtbot.waitSignal(r.finished, timeout=5000):
        r.submit("y", bad)
    assert isinstance(errs[0], JobError) and not errs[0].user and "boom" in errs[0].message
    assert errs[1].user and errs[1].message == "The file is not audio."
    assert r.shutdown()


def test_throttle_is_newest_wins(qtbot):
    from rfm_studio.gui.jobs import Throttle

    out = []
    th = Throttle(out.append, 0.05)
    for i in range(20):
        th.push(i)
    assert out == [0]  # first immediately, the rest coalesced
    qtbot.waitUntil(lambda: out[-1] == 19, timeout=2000)
    assert len(out) == 2


# -- player (no device needed: the callback is called like the audio thread would) ----
def _player(n=1000, loop=None):
    from rfm_studio.gui.playback import Player

    p = Player()
    idx = np.arange(n, dtype=np.float32)
    p.set_sources(idx / n, -idx / n, 1000)  # A: +i/n, B: -i/n (mono -> 2 channels)
    p._playing = True
    if loop:
        p.set_loop(loop)
    return p


def test_callback_switches_a_b_at_the_same_sample():
    p = _player()
    out = np.empty((64, 2), np.float32)
    p._callback(out, 64, None, None)
    assert np.allclose(out[:, 0], np.arange(64) / 1000)
    p.toggle_ab()
    p._callback(out, 64, None, None)
    assert np.allclose(out[:, 1], -np.arange(64, 128) / 1000)
    assert p.position == pytest.approx(0.128)


def test_callback_loops_the_region_and_stops_at_the_end():
    p = _player(loop=(0.1, 0.15))
    out = np.empty((120, 2), np.float32)
    p._callback(out, 120, None, None)
    assert np.allclose(out[:50, 0], np.arange(100, 150) / 1000)
    assert np.allclose(out[50:100, 0], np.arange(100, 150) / 1000)
    q = _player(n=100)
    out = np.ones((128, 2), np.float32)
    q._callback(out, 128, None, None)
    assert np.all(out[100:] == 0) and not q.playing


def test_callback_allocates_no_audio_buffers():
    import tracemalloc

    p = _player(n=200000, loop=(0.0, 150.0))
    out = np.empty((4096, 2), np.float32)  # 32 kB per block
    p._callback(out, 4096, None, None)
    tracemalloc.start()
    for _ in range(200):
        p._callback(out, 4096, None, None)
        p.toggle_ab()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 4096  # only small view objects, never a block-sized array


def test_loudness_matching_prescales_b():
    from rfm_studio.gui.playback import Player, loudness_gain

    a = np.full(100, 0.2, np.float32)
    b = np.full(100, 0.1, np.float32)
    assert loudness_gain(a, b) == pytest.approx(2.0)
    assert loudness_gain(a, b / 100) == pytest.approx(10 ** (12 / 20))  # clamped at +12 dB
    p = Player()
    p.set_sources(a, b, 1000)
    p.match_loudness = True
    p.set_sources(a, b, 1000)
    assert np.allclose(p._bufs[1], 0.2)


def test_player_without_portaudio_says_why(monkeypatch):
    import builtins

    from rfm_studio.gui.playback import Player

    real = builtins.__import__

    def fake(name, *a, **kw):
        if name == "sounddevice":
            raise OSError("PortAudio library not found")
        return real(name, *a, **kw)

    monkeypatch.setattr(builtins, "__import__", fake)
    p = Player()
    assert not p.probe() and "PortAudio" in p.reason
    with pytest.raises(RuntimeError):
        p.play()


# -- waveform envelope ----------------------------------------------------------------
def test_waveform_envelope_keeps_peaks():
    from rfm_studio.gui.views.waveform import Trace

    y = np.zeros(1_000_000, np.float32)
    y[123_457] = 0.9
    tr = Trace(y, 48000)
    x, yy, connect = tr.segments(0, len(y) / 48000, 800, 1e-3)
    assert connect == "pairs" and len(x) <= 2 * 800 + 2 and yy.max() == pytest.approx(0.9)
    x, yy, connect = tr.segments(2.572, 2.5725, 800, 1e-3)  # zoomed in: raw samples
    assert connect == "all" and yy.max() == pytest.approx(0.9)


# -- settings -------------------------------------------------------------------------
def test_settings_persist(tmp_path):
    from rfm_studio.gui.settings import Settings

    s = Settings(tmp_path / "s.ini")
    s.device, s.precision, s.model_folder, s.theme = "cpu", "bfloat16", "/models/x", "dark"
    s.add_recent(tmp_path / "a.wav")
    s.add_instruction("Add rain")
    s.sync()
    t = Settings(tmp_path / "s.ini")
    assert (t.device, t.precision, t.model_folder, t.theme) == ("cpu", "bfloat16", "/models/x", "dark")
    assert t.recent_files == [str((tmp_path / "a.wav").resolve())] and t.instructions == ["Add rain"]
    t.q.setValue("model/device", "tpu")  # unknown values fall back to the default
    assert t.device == "auto"


def test_closing_while_a_step_runs_exits_cleanly(tmp_path):
    """A window closed while the worker is inside a long step (a model load, a torch import)
    orphans the thread; at exit the process must wait for it, not abort destroying it."""
    import os
    import subprocess
    import sys

    code = r"""
import time
from PySide6.QtWidgets import QApplication
app = QApplication([])
from rfm_studio.gui.jobs import JobRunner
r = JobRunner()
r.submit("model", lambda cancel: time.sleep(1.0) or "loaded")
time.sleep(0.3)  # the worker is inside the step
print("SHUTDOWN", r.shutdown(50), flush=True)
"""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=root)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert "SHUTDOWN False" in out.stdout  # the step outlasted the wait: orphaned
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Destroyed while thread" not in out.stderr


def test_player_resamples_each_version_once_for_a_device_at_another_rate(monkeypatch):
    from types import SimpleNamespace

    import rfm_studio.core.audio.io as io
    from rfm_studio.gui.playback import Player

    calls = []
    real = io.resample
    monkeypatch.setattr(io, "resample", lambda x, a, b: (calls.append((len(x), a, b)), real(x, a, b))[1])
    asked = []

    def refuse(samplerate=None, channels=None, dtype=None):
        asked.append(samplerate)
        raise ValueError("Invalid sample rate")

    p = Player()
    p._sd = SimpleNamespace(check_output_settings=refuse)  # the device cannot play 16 kHz (its default: 48)
    a = np.sin(np.arange(16000) / 10).astype(np.float32)
    b = 0.5 * a
    p.set_sources(a, b, 16000)
    assert len(calls) == 2 and p.rate == 48000 and len(p._bufs[0]) == 48000
    p.set_sources(a, b, 16000)  # the same versions again (an A/B refresh), loudness matching on and off
    p.set_match_loudness(not p.match_loudness)
    assert len(calls) == 2
    p.set_sources(a, b.copy(), 16000)  # a new B version
    assert len(calls) == 3 and asked == [16000]  # the device asked about 16 kHz once


def test_a_surround_clip_is_folded_down_to_stereo_not_cut():
    from rfm_studio.gui.playback import _fit_channels

    n = 100
    x = np.zeros((n, 6), np.float32)
    x[:, 2] = 0.5  # dialogue in the centre channel
    y = _fit_channels(x, 2)
    assert y.shape == (n, 2) and np.allclose(y[:, 0], y[:, 1]) and y[0, 0] > 0.1
    x = np.ones((n, 6), np.float32)  # full scale everywhere: no clipping, LFE left out
    assert np.abs(_fit_channels(x, 2)).max() <= 1.0 + 1e-6
    q = np.stack([np.full(n, v, np.float32) for v in (0.1, 0.2, 0.3, 0.4)], axis=1)  # other layouts
    assert np.allclose(_fit_channels(q, 2)[0], [0.2, 0.3])
    assert _fit_channels(x, 1).shape == (n, 1)


def test_spectrogram_of_a_very_short_clip():
    from rfm_studio.gui.tasks import display_mel

    for n in (1, 160, 441, 1500):
        mel = display_mel(np.full(n, 0.1, np.float32), 44100)
        assert mel.shape[0] == 64 and mel.shape[1] == round(n * 16000 / 44100) // 160 + 1 and np.isfinite(mel).all()


def test_player_measures_loudness_once_per_pair_of_versions(monkeypatch):
    import rfm_studio.gui.playback as pb

    calls = []
    real = pb.loudness_gain
    monkeypatch.setattr(pb, "loudness_gain", lambda a, b: (calls.append(1), real(a, b))[1])
    p = pb.Player()
    a = (0.5 * np.sin(np.arange(16000) / 10)).astype(np.float32)
    b = 0.5 * a  # matched: twice as loud (within the 12 dB cap)
    p.set_match_loudness(True)
    p.set_sources(a, b, 16000)
    first = p._bufs[1].copy()
    for _ in range(3):  # A/B refreshes of the same pair
        p.set_sources(a, b, 16000)
    assert len(calls) == 1 and np.array_equal(p._bufs[1], first)
    assert np.allclose(np.sqrt(np.mean(p._bufs[1] ** 2)), np.sqrt(np.mean(p._bufs[0] ** 2)), rtol=1e-3)
    p.set_match_loudness(False)
    assert np.array_equal(p._bufs[1], pb._fit_channels(b, p.channels)) and len(calls) == 1


@pytest.mark.skipif(__import__("sys").version_info >= (3, 12),
                    reason="True is immortal from Python 3.12: its reference count shows nothing")
def test_true_emitted_through_signals_keeps_its_references(qtbot):
    """PySide6 6.12.0 drops a reference to True per emission through a Signal (the process aborts
    in bool_dealloc after a few thousand); the project's requirements exclude it."""
    import sys

    from PySide6.QtCore import QObject, Signal

    class E(QObject):
        flag = Signal(bool)
        value = Signal(object)

    e = E()
    seen = []
    e.flag.connect(lambda v: seen.append(v))
    e.value.connect(lambda v: seen.append(v))
    before = sys.getrefcount(True)
    for _ in range(500):
        e.flag.emit(True)
        e.value.emit(True)
    del seen[:]
    assert sys.getrefcount(True) >= before


def test_auto_strength_shows_what_the_engine_uses(qtbot):
    """Auto shows the strength the next edit runs at: the model's region default within a region,
    but 1 when the edit runs on the dictionary engine (a "Remove X" with a marked example), which
    is what that engine uses when given no strength."""
    from rfm_studio.core.editing import drive, run_edit
    from rfm_studio.core.events import EditRequest
    from rfm_studio.core.prompts import example_from_clip
    from rfm_studio.gui.edit_panel import EditPanel

    p = EditPanel()
    qtbot.addWidget(p)
    p.set_defaults(1, 0.01, 1.0, strength=1.0, region_strength=1.25)
    p.instruction.setText("Remove the beeping")
    p.set_region((0.5, 1.5))  # a text-only removal within a region: self-prompted, its cut at 1
    assert p.engine() == "self-prompt" and p.strength.value() == 1.0 and p.strength_value() is None
    p.set_examples(1)  # a marked example: the dictionary engine
    assert p.engine() == "dictionary" and p.strength.value() == 1.0
    p.instruction.setText("Add a bell")  # not a removal: the model, at its region default
    assert p.engine() == "model" and p.strength.value() == 1.25
    p.instruction.setText("Remove the beeping")
    assert p.strength.value() == 1.0
    p.set_examples(0)
    assert p.engine() == "self-prompt" and p.strength.value() == 1.0
    p.set_region(None)  # a text-only removal of the whole clip: self-prompted, at the whole-clip default
    assert p.engine() == "self-prompt" and p.strength.value() == 1.0
    # and the dictionary engine, given no strength, uses 1
    sr = 16000
    t = np.arange(2 * sr) / sr
    x = (0.05 * np.random.default_rng(0).standard_normal(len(t)) + 0.3 * np.sin(2 * np.pi * 1000 * t)
         * ((t % 0.5) < 0.2)).astype(np.float32)
    req = EditRequest(x, sr, "Remove the beeping", region=(0.5, 1.5), prompts=(example_from_clip(x, sr, 0.5, 0.7),))
    assert drive(run_edit(None, req)).params["strength"] == 1.0


def test_every_portaudio_call_holds_the_playback_lock():
    """PortAudio is not thread-safe and is called from the I/O worker (rate checks) and the UI
    thread (streams): each call holds playback.PORTAUDIO."""
    from types import SimpleNamespace

    from rfm_studio.gui import playback
    from rfm_studio.gui.playback import Player, stream_rate

    unlocked = []

    def held(name):
        if not playback.PORTAUDIO.locked():
            unlocked.append(name)

    class Stream:
        def __init__(self, **kw):
            held("OutputStream")
            self.active = False

        def start(self):
            held("start")
            self.active = True

        def abort(self):
            held("abort")
            self.active = False

        def close(self):
            held("close")

    sd = SimpleNamespace(OutputStream=Stream, check_output_settings=lambda **kw: held("check_output_settings"))
    assert stream_rate(sd, 16000, 2, 48000) == 16000
    p = Player()
    p._sd, p.available = sd, True
    a = np.sin(np.arange(16000) / 10).astype(np.float32)
    p.set_sources(a, 0.5 * a, 16000)
    p.play()
    p.pause()
    p.play()
    p._finished = True
    p.poll()
    p.close()
    assert unlocked == [] and not playback.PORTAUDIO.locked()


def test_the_worker_sizes_the_blas_pools_as_the_models(monkeypatch):
    """The app's worker computes on worker_threads() threads in torch and in numpy's / scipy's
    BLAS (the dictionary engine's NMF), set at the model's load and again at each edit."""
    import torch
    from threadpoolctl import threadpool_info, threadpool_limits

    from rfm_studio.core.events import EditRequest, drive
    from rfm_studio.core.model.factory import build_tiny
    from rfm_studio.gui.tasks import ModelHost

    def blas():
        return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}

    torch_before = torch.get_num_threads()
    wide = threadpool_limits(limits=2, user_api="blas")  # numpy's default on a 2-core machine
    try:
        monkeypatch.setenv("RFM_STUDIO_THREADS", "1")
        host = ModelHost()
        host.set_model(build_tiny())
        assert blas() == {1} and torch.get_num_threads() == 1
        threadpool_limits(limits=2, user_api="blas")  # widened since (a library loaded with its default)
        x = 0.1 * np.random.default_rng(0).standard_normal(16000).astype(np.float32)
        out = drive(host.edit(EditRequest(audio=x, sample_rate=16000, instruction="Make it quieter", steps=1), None))
        assert out.result.audio.shape == x.shape
        assert blas() == {1}  # the edit ran on the worker's one thread
        import threadpoolctl

        real, calls = threadpoolctl.threadpool_limits, []
        monkeypatch.setattr(threadpoolctl, "threadpool_limits", lambda *a, **k: calls.append(1) or real(*a, **k))
        drive(host.edit(EditRequest(audio=x, sample_rate=16000, instruction="Make it quieter", steps=1), None))
        assert calls == [] and blas() == {1}  # already sized: no resize under the other threads' BLAS calls
    finally:
        wide.restore_original_limits()
        torch.set_num_threads(torch_before)
