"""Small screens and high-DPI: the Edit button stays in view at 1280x720 and 1366x768, and
at 4K with 2x scaling (a 1920x1080 logical window); at 1400x900 the Library lists at least
eight results beside the whole Edit panel."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from gui_helpers import clip_path, gui_env, settings, window  # noqa: F401

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def fully_visible(widget) -> bool:
    """Shown, not scrolled out of view and not clipped by a parent."""
    return widget.isVisible() and widget.visibleRegion().boundingRect().size() == widget.size()


@pytest.mark.parametrize("size", [(1280, 720), (1280, 650), (1366, 768), (1366, 700)])
def test_the_edit_button_is_in_view_on_a_laptop_screen(qtbot, window, clip_path, size):
    window.start(str(clip_path), load_model=False)
    qtbot.waitUntil(lambda: window.document.opening is None, timeout=30000)
    window.resize(*size)
    qtbot.waitUntil(lambda: window.size().toTuple() == size, timeout=30000)
    qtbot.wait(50)
    for w in (window.panel.run_button, window.panel.cancel_button, window.panel.progress,
              window.panel.instruction):
        assert fully_visible(w), (w.objectName() or type(w).__name__, size)
    hist = window.history_panel
    assert fully_visible(hist.combo_b) and hist.tree.height() >= 60
    for v in window.views:
        assert v.height() >= 40


def test_the_whole_edit_panel_shows_without_scrolling_at_1280x680_and_1280x650(qtbot, window, clip_path):
    """At 1280×680 with the usual spacing; at 1280×650 (too short for it over the History dock at
    its smallest) with compact spacing; a taller window has the usual spacing again."""
    from PySide6.QtWidgets import QScrollArea

    window.start(str(clip_path), load_model=False)
    qtbot.waitUntil(lambda: window.document.opening is None, timeout=30000)
    scroll = next(s for s in window.findChildren(QScrollArea) if s.widget() is window.panel)
    p = window.panel
    for size, compact in (((1280, 680), False), ((1280, 650), True), ((1280, 720), False), ((1280, 650), True),
                          ((1400, 900), False)):
        _settle(qtbot, window, size)
        qtbot.wait(50)
        assert p.compact == compact, size
        assert scroll.verticalScrollBar().maximum() == 0, size  # nothing below the view
        for w in (p.instruction, p.t_spin, p.steps, p.guidance, p.draws, p.strength, p.seed, p.layers,
                  p.model_combo, p.adapter_combo, p.model_status, p.run_button, p.progress):
            assert fully_visible(w), (w.objectName() or type(w).__name__, size)
        assert fully_visible(window.history_panel.combo_b) and window.history_panel.tree.height() >= 60, size
    usual = p.sizeHint().height()
    p.set_compact(True)
    assert p.sizeHint().height() < usual - 30  # what compact spacing saves (44 px measured)
    p.set_compact(False)
    assert p.sizeHint().height() == usual


SCALED = r"""
from rfm_studio.app import create_app
app = create_app()
from rfm_studio.gui.main_window import MainWindow
from rfm_studio.gui.settings import Settings
import sys
w = MainWindow(settings=Settings(sys.argv[1])); w.show(); app.processEvents()
w.start(None, None, load_model=False)
w.resize(1920, 1080)
for _ in range(20): app.processEvents()
b = w.panel.run_button
full = b.isVisible() and b.visibleRegion().boundingRect().size() == b.size()
print("DPR", w.devicePixelRatio(), "FULL", full, "H", b.height(), "FONT", b.fontMetrics().height())
w.ask_unsaved = lambda n, m: "discard"
w.close()
"""


def test_4k_with_2x_scaling_keeps_the_edit_button_in_view_at_full_size(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=ROOT, QT_SCALE_FACTOR="2",
               RFM_STUDIO_MODEL="no-such-model", RFM_STUDIO_DATA_DIR=str(tmp_path / "data"))
    out = subprocess.run([sys.executable, "-c", SCALED, str(tmp_path / "s.ini")], env=env, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    words = out.stdout.split()
    got = dict(zip(words[::2], words[1::2]))
    assert float(got["DPR"]) == 2.0 and got["FULL"] == "True"
    assert int(got["H"]) >= int(got["FONT"])  # laid out in logical pixels: text fits the button


def test_the_library_lists_eight_results_at_1400x900_beside_the_whole_edit_panel(qtbot, window, clip_path):
    from PySide6.QtCore import Qt

    window.start(str(clip_path), load_model=False)
    qtbot.waitUntil(lambda: window.document.opening is None, timeout=30000)
    window.resize(1400, 900)
    qtbot.waitUntil(lambda: window.size().toTuple() == (1400, 900), timeout=30000)
    window.library_dock.raise_()
    lib = window.library
    lib.search_box.setText("water")
    lib.search_box.textEdited.emit("water")
    qtbot.waitUntil(lambda: lib.tree.topLevelItemCount() > 0, timeout=60000)
    tree = lib.tree

    def rows():
        return tree.viewport().height() / tree.sizeHintForRow(0)

    qtbot.waitUntil(lambda: rows() >= 8, timeout=10000)  # the spare height goes to the list
    widths = [tree.columnWidth(c) for c in range(3)]
    assert widths[0] == max(widths) and widths[0] + widths[1] + widths[2] <= tree.viewport().width() + 1, widths
    assert tree.textElideMode() == Qt.ElideMiddle  # a long name keeps its end; the tooltip has the path
    it = tree.topLevelItem(0)
    assert it.data(0, Qt.UserRole) in it.toolTip(0)
    for w in (window.panel.run_button, window.panel.cancel_button, window.panel.progress, window.panel.instruction):
        assert fully_visible(w), w.objectName() or type(w).__name__
    scroll = window.panel.parentWidget().parentWidget()  # the panel's QScrollArea: nothing scrolled out of view
    assert not scroll.verticalScrollBar().isVisible()


def _settle(qtbot, window, size):
    """Resize, then wait for a zero timer started after the window's: the refit (or the kept
    split) it schedules from its resizeEvent has run by then."""
    from PySide6.QtCore import QTimer

    window.resize(*size)
    qtbot.waitUntil(lambda: window.size().toTuple() == size, timeout=30000)
    done = []
    QTimer.singleShot(0, lambda: done.append(1))
    qtbot.waitUntil(lambda: bool(done), timeout=10000)


def test_a_resize_keeps_the_edit_dock_height_the_user_dragged(qtbot, window, clip_path):
    from PySide6.QtCore import Qt

    from rfm_studio.gui import window_docks

    window.start(str(clip_path), load_model=False)
    qtbot.waitUntil(lambda: window.document.opening is None, timeout=30000)
    _settle(qtbot, window, (1400, 900))
    edit = window.edit_dock
    need = window_docks.edit_height(window)
    assert abs(edit.height() - need) <= 4  # the app's split: the height the panel needs
    _settle(qtbot, window, (1400, 960))
    assert abs(edit.height() - need) <= 4  # a resize refits the app's split
    window.resizeDocks([edit, window.history_dock], [250, 600], Qt.Vertical)  # the user drags the separator
    qtbot.waitUntil(lambda: abs(edit.height() - need) > 100, timeout=10000)
    dragged = edit.height()
    lower = window.history_dock.height()
    _settle(qtbot, window, (1400, 980))
    assert abs(edit.height() - dragged) <= 4, (edit.height(), dragged, need)
    assert window.history_dock.height() >= lower + 10  # the dock under it took the change
    _settle(qtbot, window, (1400, 900))
    assert abs(edit.height() - dragged) <= 4, (edit.height(), dragged, need)


def _open_window(qtbot, settings, clip_path):
    """A main window on ``settings`` (its saved layout), shown, with ``clip_path`` open."""
    from rfm_studio.gui.main_window import MainWindow

    w = MainWindow(settings=settings)
    w.ask_unsaved = lambda n, name: "discard"
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    w.start(str(clip_path), load_model=False)
    qtbot.waitUntil(lambda: w.document.opening is None, timeout=30000)
    return w


def test_a_restored_layout_is_not_refitted(qtbot, settings, clip_path):
    from PySide6.QtCore import Qt

    from rfm_studio.gui import window_docks

    def open_window():
        return _open_window(qtbot, settings, clip_path)

    first = open_window()
    _settle(qtbot, first, (1400, 900))
    first.resizeDocks([first.edit_dock, first.history_dock], [250, 600], Qt.Vertical)
    qtbot.waitUntil(lambda: abs(first.edit_dock.height() - window_docks.edit_height(first)) > 100, timeout=10000)
    saved = first.edit_dock.height() / (first.edit_dock.height() + first.history_dock.height())
    settings.save_window(first)
    first.close()

    second = open_window()
    assert second._restored
    _settle(qtbot, second, (1400, 900))
    edit, lower = second.edit_dock, second.history_dock
    assert abs(edit.height() - window_docks.edit_height(second)) > 100  # not forced back to the panel's height
    assert abs(edit.height() / (edit.height() + lower.height()) - saved) < 0.02, (edit.height(), lower.height())
    second.close()


def test_eight_example_marks_keep_the_edit_panel_unscrolled_at_1280x680(qtbot, window, clip_path):
    """The examples line stays one line however many marks (their spans are in its tooltip)."""
    from PySide6.QtWidgets import QScrollArea

    from rfm_studio.core.prompts import MAX_PROMPTS

    window.start(str(clip_path), load_model=False)
    qtbot.waitUntil(lambda: window.document.opening is None, timeout=30000)
    _settle(qtbot, window, (1280, 680))  # then the marks, as a user makes them
    qtbot.wait(50)
    marks = window.examples
    for i in range(3):
        marks.on_drag(0.15 * i, 0.15 * i + 0.12, True)
    marks.set_found([(0.5 + 0.15 * i, 0.62 + 0.15 * i) for i in range(MAX_PROMPTS - 3)])
    assert len(marks.spans) == MAX_PROMPTS and marks.label.text() == "Examples: 5 found, 3 by hand"
    assert marks.label.toolTip().count("\n") == MAX_PROMPTS - 1
    qtbot.wait(50)
    scroll = next(s for s in window.findChildren(QScrollArea) if s.widget() is window.panel)
    assert scroll.verticalScrollBar().maximum() == 0
    assert marks.label.height() < 2 * marks.label.fontMetrics().height()  # one line
    assert fully_visible(marks.label) and fully_visible(window.panel.run_button)


def test_a_restored_layout_at_1280x650_gets_compact_spacing(qtbot, settings, clip_path):
    """Spacing follows the restored Edit dock's height: compact where the usual one would scroll."""
    from rfm_studio.gui import window_docks

    def open_window():
        return _open_window(qtbot, settings, clip_path)

    first = open_window()
    _settle(qtbot, first, (1280, 650))
    assert first.panel.compact
    height = first.edit_dock.height()
    settings.save_window(first)
    first.close()

    second = open_window()
    assert second._restored
    _settle(qtbot, second, (1280, 650))
    qtbot.waitUntil(lambda: second.panel.compact, timeout=10000)
    qtbot.wait(50)
    assert abs(second.edit_dock.height() - height) <= 4  # the saved split, not refitted
    assert window_docks.edit_height(second) <= second.edit_dock.height()  # the whole panel has the height
    second.close()


def test_a_restored_narrow_edit_dock_is_as_wide_as_the_panel_needs_at_1280x650(qtbot, settings, clip_path,
                                                                               monkeypatch):
    """A saved layout whose Edit dock is narrower than the panel's contents (~260 px) comes back
    at least as wide as the panel needs: no horizontal scroll bar."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QScrollArea

    from rfm_studio.gui import window_docks

    with monkeypatch.context() as m:  # a layout saved by a build without the limit: the dock ~260 px
        m.setattr(window_docks, "fit_width", lambda win: None)
        first = _open_window(qtbot, settings, clip_path)
        _settle(qtbot, first, (1280, 650))
        first.resizeDocks([first.edit_dock], [260], Qt.Horizontal)
        qtbot.waitUntil(lambda: first.edit_dock.width() <= 270, timeout=10000)
        scroll = next(s for s in first.findChildren(QScrollArea) if s.widget() is first.panel)
        assert scroll.horizontalScrollBar().maximum() > 0  # what the limit prevents
        settings.save_window(first)
        first.close()

    second = _open_window(qtbot, settings, clip_path)
    assert second._restored
    _settle(qtbot, second, (1280, 650))
    qtbot.wait(50)
    scroll = next(s for s in second.findChildren(QScrollArea) if s.widget() is second.panel)
    assert second.edit_dock.width() > 270
    assert scroll.horizontalScrollBar().maximum() == 0, (second.edit_dock.width(), second.panel.minimumSizeHint())
    assert scroll.viewport().width() >= second.panel.minimumSizeHint().width()
    assert fully_visible(second.panel.run_button) and fully_visible(second.finding.button)
    _drag_edit_width(qtbot, second, 260)  # the user's drag narrows it: theirs
    assert second.edit_dock.width() <= 270
    _settle(qtbot, second, (1300, 650))
    assert second.edit_dock.width() <= 270 and scroll.horizontalScrollBar().maximum() > 0
    second.close()


def test_a_resize_keeps_the_edit_dock_width_the_user_dragged(qtbot, settings, clip_path, tmp_path):
    """The user narrows the Edit dock below the panel's width: later resizes keep their width
    (a window too narrow for it clamps it; widening the window gives it back), where the app's
    own layout is widened to the panel's width at each resize; a fresh window, and one that
    restores the saved layout, gets the fitted width."""
    from rfm_studio.gui.settings import Settings

    from rfm_studio.gui import window_docks

    first = _open_window(qtbot, settings, clip_path)
    _settle(qtbot, first, (1400, 900))
    dock = first.edit_dock
    fitted = window_docks.panel_width(first)
    assert abs(dock.width() - fitted) <= 4
    _settle(qtbot, first, (1093, 614))  # Qt clamps the app's width: the central widget keeps its minimum
    assert dock.width() < fitted - 100
    _settle(qtbot, first, (1400, 900))
    assert abs(dock.width() - fitted) <= 4  # the app's width comes back
    _drag_edit_width(qtbot, first, 330)  # the user drags the separator
    assert abs(dock.width() - 330) <= 4
    for size in ((1400, 960), (1500, 900), (1300, 700), (1400, 900)):
        _settle(qtbot, first, size)
        qtbot.wait(20)
        assert abs(dock.width() - 330) <= 4, (size, dock.width(), fitted)
    _settle(qtbot, first, (1093, 614))  # too narrow for it: clamped ...
    assert dock.width() < 320
    _settle(qtbot, first, (1400, 900))  # ... and the user's width, not the panel's, comes back
    assert abs(dock.width() - 330) <= 4, dock.width()
    first.close()

    for s, restored in ((Settings(tmp_path / "fresh.ini"), False), (settings, True)):
        again = _open_window(qtbot, s, clip_path)
        assert again._restored == restored  # (closing saved the layout with the user's width)
        _settle(qtbot, again, (1400, 900))
        assert abs(again.edit_dock.width() - window_docks.panel_width(again)) <= 4, restored
        again.close()


def _drag_edit_width(qtbot, window, width):
    """The user drags the separator between the central widget and the Edit dock (on its right)
    until the dock is ``width`` wide: a press on the window's separator, moves, a release, as the
    window gets them from the mouse (the dock layout applies a move at its next timer)."""
    from PySide6.QtCore import QEvent, QPointF, Qt
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    dock, central = window.edit_dock, window.centralWidget()
    x = (central.geometry().right() + dock.geometry().left()) // 2
    y = dock.geometry().center().y()
    assert window.childAt(x, y) is None  # the separator: the window's own, no child widget there

    def send(kind, at, buttons):
        pos = QPointF(at, y)
        QApplication.sendEvent(window, QMouseEvent(kind, pos, QPointF(window.mapToGlobal(pos)), Qt.LeftButton,
                                                   buttons, Qt.NoModifier))

    send(QEvent.MouseButtonPress, x, Qt.LeftButton)
    to = x + dock.width() - width
    for at in (x + (to - x) // 2, to):
        send(QEvent.MouseMove, at, Qt.LeftButton)
        qtbot.wait(20)
    qtbot.waitUntil(lambda: abs(dock.width() - width) <= 4, timeout=10000)
    send(QEvent.MouseButtonRelease, to, Qt.NoButton)


def test_qts_own_changes_of_the_edit_dock_width_are_not_the_users(qtbot, window, clip_path):
    """Only a drag of the dock's separator makes a width the user's: a hidden Edit dock shown in a
    narrower window, the dock moved to the left area and back, or the central widget's minimum
    growing for a while leave the dock the panel's width once the window has room for it."""
    from PySide6.QtCore import Qt

    from rfm_studio.gui import window_docks

    window.start(str(clip_path), load_model=False)
    qtbot.waitUntil(lambda: window.document.opening is None, timeout=30000)
    dock, central = window.edit_dock, window.centralWidget()
    _settle(qtbot, window, (1400, 900))
    fitted = window_docks.panel_width(window)
    assert abs(dock.width() - fitted) <= 4

    dock.hide()
    _settle(qtbot, window, (1093, 614))
    dock.show()
    qtbot.waitUntil(lambda: dock.width() < fitted - 100, timeout=10000)  # Qt gives it what is left (~297 px)
    qtbot.wait(50)
    _settle(qtbot, window, (1400, 900))
    assert abs(dock.width() - fitted) <= 4, dock.width()

    window.addDockWidget(Qt.LeftDockWidgetArea, dock)
    qtbot.waitUntil(lambda: dock.width() < fitted - 100, timeout=10000)  # (~294 px)
    qtbot.wait(50)
    _settle(qtbot, window, (1800, 900))
    assert abs(dock.width() - fitted) <= 4, dock.width()
    window.addDockWidget(Qt.RightDockWidgetArea, dock)
    qtbot.wait(50)
    _settle(qtbot, window, (1400, 900))
    assert abs(dock.width() - fitted) <= 4, dock.width()
    _drag_edit_width(qtbot, window, 330)  # back in its place, a drag there is the user's
    _settle(qtbot, window, (1410, 900))
    assert abs(dock.width() - 330) <= 4, dock.width()
    window.removeDockWidget(dock)  # a dock put back (here: in the area's other place) is fitted again
    window.addDockWidget(Qt.RightDockWidgetArea, dock)
    dock.show()
    qtbot.wait(50)
    _settle(qtbot, window, (1400, 900))
    assert abs(dock.width() - fitted) <= 4, dock.width()

    central.setMinimumWidth(central.width() + 50)
    qtbot.waitUntil(lambda: dock.width() < fitted - 40, timeout=10000)  # the dock gives up the room (~394 px)
    qtbot.wait(50)
    central.setMinimumWidth(0)
    _settle(qtbot, window, (1410, 900))
    _settle(qtbot, window, (1400, 900))
    assert abs(dock.width() - fitted) <= 4, dock.width()


def test_the_window_can_be_narrower_than_the_panel_needs_and_the_panel_gets_its_width_back(qtbot, window,
                                                                                         clip_path):
    """The Edit dock's width is no minimum of the window (a 1093x614 screen holds it whole), and
    once the window is wide enough again the dock is as wide as its panel needs."""
    from PySide6.QtWidgets import QScrollArea

    from rfm_studio.gui import window_docks

    window.start(str(clip_path), load_model=False)
    qtbot.waitUntil(lambda: window.document.opening is None, timeout=30000)
    _settle(qtbot, window, (1280, 650))
    assert window.minimumSizeHint().width() <= 1100 and window.minimumWidth() <= 1100
    scroll = next(s for s in window.findChildren(QScrollArea) if s.widget() is window.panel)
    assert window.edit_dock.width() >= window_docks.panel_width(window)
    assert scroll.horizontalScrollBar().maximum() == 0
    _settle(qtbot, window, (1093, 614))  # (waits until the window has that size)
    assert window.minimumSizeHint().width() <= 1100
    _settle(qtbot, window, (1280, 650))
    assert window.edit_dock.width() >= window_docks.panel_width(window)
    assert scroll.horizontalScrollBar().maximum() == 0
    assert fully_visible(window.finding.button) and fully_visible(window.panel.run_button)


def test_the_instruction_row_and_its_find_button_fit_the_edit_dock_at_1093x614(qtbot, window, clip_path):
    """A window too narrow for the Edit panel (the central tabs keep ~790 px): the groups under
    the instruction scroll sideways, the instruction row with its ▾ and Find buttons fits the
    panel's view at scroll 0; with room for the panel, the Instruction group is as wide as the rest."""
    from PySide6.QtCore import QRect
    from PySide6.QtWidgets import QScrollArea

    window.start(str(clip_path), load_model=False)
    qtbot.waitUntil(lambda: window.document.opening is None, timeout=30000)
    scroll = next(s for s in window.findChildren(QScrollArea) if s.widget() is window.panel)
    bar, view = scroll.horizontalScrollBar(), scroll.viewport()
    p = window.panel
    box = p.instruction_row.parentWidget()
    for size in ((1093, 614), (1056, 614)):
        _settle(qtbot, window, size)
        qtbot.wait(50)
        assert bar.maximum() > 0 and bar.value() == 0, size  # the Parameters and Model rows need more
        for w in (p.instruction, p.history_button, window.finding.button):
            r = QRect(w.mapTo(view, w.rect().topLeft()), w.size())
            assert view.rect().contains(r), (size, w.text(), r, view.rect())
            assert fully_visible(w), size
        assert p.instruction.width() >= 100, size  # still room to read what is typed
    _settle(qtbot, window, (1400, 900))
    qtbot.wait(50)
    assert bar.maximum() == 0 and fully_visible(window.finding.button)
    params = next(b for b in box.parentWidget().children() if getattr(b, "title", lambda: "")() == "Parameters")
    assert box.width() == params.width()
