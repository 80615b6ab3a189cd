"""Example marks in the time views (Shift-drag): the next edit's audio prompts."""

import numpy as np

import gui_helpers  # noqa: F401  (offscreen Qt, temporary config folders)
from gui_helpers import INSTRUCTION, SR, clip_path, gui_env, gui_tiny_bundle, loaded, run_edit, settings, window  # noqa: F401


class _Drag:
    """A left-button drag from view x ``a`` to ``b`` seconds, for SelectViewBox.mouseDragEvent."""

    def __init__(self, vb, a, b, shift, finish=True):
        from PySide6.QtCore import QPointF, Qt

        self._down, self._now = vb.mapViewToScene(QPointF(a, 0.0)), vb.mapViewToScene(QPointF(b, 0.0))
        self._mods = Qt.ShiftModifier if shift else Qt.NoModifier
        self._finish = finish

    def button(self):
        from PySide6.QtCore import Qt

        return Qt.LeftButton

    def modifiers(self):
        return self._mods

    def buttonDownScenePos(self):
        return self._down

    def scenePos(self):
        return self._now

    def isFinish(self):
        return self._finish

    def accept(self):
        pass


def test_shift_drag_marks_examples_that_the_next_edit_hears(qtbot, loaded):
    w = loaded
    vb = w.wave.vb
    assert w.examples.label.toolTip() == w.examples.label.text()  # the hint whole, where a narrow dock cuts it
    assert w.examples.label.text().startswith("Examples: none (Shift-drag")
    vb.mouseDragEvent(_Drag(vb, 0.2, 0.6, shift=True))
    vb.mouseDragEvent(_Drag(vb, 0.9, 1.3, shift=True))
    vb.mouseDragEvent(_Drag(vb, 1.0, 1.02, shift=True))  # too short: not kept
    assert [tuple(round(t, 2) for t in s) for s in w.examples.spans] == [(0.2, 0.6), (0.9, 1.3)]
    assert w.region is None  # a Shift-drag is no region
    assert w.examples.label.text() == "Examples: 2 by hand" and not w.examples.clear_button.isHidden()
    assert w.examples.label.toolTip() == "0.20–0.60 s (by hand)\n0.90–1.30 s (by hand)"
    req = w.editing.build_request()
    assert [p.kind for p in req.prompts] == ["example", "example"]
    src = w.history.source.audio.mean(axis=1)
    assert np.allclose(req.prompts[0].audio, src[int(round(w.examples.spans[0][0] * SR)):
                                                 int(round(w.examples.spans[0][1] * SR))])
    vb.mouseDragEvent(_Drag(vb, 0.3, 0.8, shift=False))  # a plain drag still selects the region
    assert w.region is not None and len(w.examples.spans) == 2
    w.panel.instruction.setText(INSTRUCTION)
    assert w.panel.engine() == "dictionary"  # the marks reached the panel: Auto shows that engine's strength
    shown = w.panel.strength.value()
    v = run_edit(qtbot, w, steps=1)  # a marked example: "Remove ..." runs on the dictionary engine
    assert v.params["engine"] == "dictionary" and len(v.params["prompts"]) == 2
    assert v.params["strength"] == shown
    assert not np.allclose(v.audio, w.history.source.audio, atol=1e-4)  # it removed something
    w.examples.clear_button.click()
    assert w.examples.spans == [] and w.editing.build_request().prompts == ()
    assert w.examples.clear_button.isHidden()


def test_a_cut_examples_line_ends_in_an_ellipsis_and_its_tooltip_holds_it_whole(qtbot, window, clip_path):
    """At 1093x614 the Edit dock cuts the one-line hint: it is drawn ending in '…' (as a label
    showing the elided text), text() stays the whole line, and the tooltip holds it; a line with
    spans has them in the tooltip under the line where it is cut (or tells of hidden found marks),
    and the spans alone where it is whole."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QLabel

    from rfm_studio.gui.example_marks import HintLabel

    window.start(str(clip_path), load_model=False)
    qtbot.waitUntil(lambda: window.document.opening is None, timeout=30000)
    window.resize(1093, 614)
    qtbot.waitUntil(lambda: window.size().toTuple() == (1093, 614), timeout=30000)
    qtbot.wait(50)
    label = window.examples.label
    assert label.text() == "Examples: none (Shift-drag to mark where the sound plays)" and label.is_cut()
    assert label.toolTip() == label.text()
    shown = label.fontMetrics().elidedText(label.text(), Qt.ElideRight, label.contentsRect().width())
    assert shown.endswith("…") and len(shown) < len(label.text())
    ref = QLabel(shown, label.parentWidget())  # what the label must look like: the elided line
    ref.setObjectName("hint")
    ref.setGeometry(label.geometry())
    ref.show()
    assert ref.grab().toImage() == label.grab().toImage()
    ref.deleteLater()

    window.examples.set_found([(0.1, 0.4)], "dog barking")
    window.examples.show_found(False)  # the hidden-found line: the line and the spans
    assert label.toolTip() == label.text() + "\n0.10–0.40 s (found, hidden)"

    alone = HintLabel()
    qtbot.addWidget(alone)
    alone.show()  # (a hidden widget gets its resize events when it shows)
    alone.set_line("Examples: 2 by hand", "0.20–0.60 s (by hand)\n0.90–1.30 s (by hand)")
    alone.resize(400, 20)
    assert not alone.is_cut() and alone.toolTip() == "0.20–0.60 s (by hand)\n0.90–1.30 s (by hand)"
    alone.resize(60, 20)
    assert alone.is_cut() and alone.toolTip() == "Examples: 2 by hand\n0.20–0.60 s (by hand)\n0.90–1.30 s (by hand)"
    assert alone.text() == "Examples: 2 by hand"
