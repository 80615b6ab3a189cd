"""The attention view explains itself (colour bar, hover read-out, scale choice, function
words, context-less frames of a region edit); Help, the Open dialog's folder, the Compare
selectors and the playback banner."""

from __future__ import annotations

import numpy as np
import pytest

from gui_helpers import clip_path, gui_env, open_clip, settings, window  # noqa: F401

TOKENS = ("remove", "the", "dog", "barking")


def _maps(frames=300):
    rng = np.random.default_rng(0)
    m = rng.uniform(0.0, 0.02, (4, frames)).astype(np.float32)
    m[0] += 0.5  # the verb takes most of the attention
    m[2, 100:150] += 0.3  # "dog" attends to its bark
    m[1] = 0.01  # "the": flat and small
    return m


@pytest.fixture
def view(qtbot):
    from rfm_studio.gui import theme
    from rfm_studio.gui.views.attention import AttentionView

    v = AttentionView()
    qtbot.addWidget(v)
    v.style(theme.resolve("dark"))
    v.set_duration(4.0)
    v.vb.setXRange(0.0, 4.0, padding=0)
    v.resize(900, 220)
    v.show()
    qtbot.waitExposed(v)
    return v


def test_function_words_are_hidden_by_default_and_dimmed_when_shown(view):
    view.set_map(_maps(), TOKENS)
    assert [view.tokens[i] for i in view.rows] == ["remove", "dog", "barking"]
    assert view.image.image.shape[0] == 3
    view.set_show_function_words(True)
    assert view.rows == [0, 1, 2, 3] and view.image.image.shape[0] == 4
    dims = [it for it in view._overlays if "Function words" in it.toolTip()]
    assert len(dims) == 1 and dims[0].rect().top() == 1.0  # the row of "the"


def test_colour_bar_shows_the_shared_scale_and_per_word_scale_values(view):
    m = _maps()
    view.set_map(m, TOKENS)
    assert not view.per_token  # the shared scale is the default
    assert view.colorbar.isVisible()
    lo, hi = view.levels()
    assert lo == 0 and hi == pytest.approx(float(m[[0, 2, 3]].max()))
    assert view.colorbar.labels()[0] == f"{hi:.2f}" and view.colorbar.labels()[-1] == "0"
    assert "Shared scale" in view.colorbar.toolTip()
    view.set_per_token(True)
    assert view.levels() == (0.0, 1.0) and view.colorbar.labels() == ["1", "0.50", "0"]
    assert "Per word" in view.colorbar.toolTip()
    # the bar sits in the right margin, inside the widget, beside the plot
    g = view.colorbar.geometry()
    assert g.right() < view.width() and g.height() > 50
    assert view.vb.sceneBoundingRect().right() <= g.left() + 1


def test_hover_reads_out_word_time_and_value(qtbot, view):
    from PySide6.QtCore import QPointF

    m = _maps()
    view.set_map(m, TOKENS)
    text = view.readout_at(1.2, 1.5)  # row 1 is "dog" (the is hidden), frame 120
    assert text.startswith("dog · 1.20 s · ") and f"{m[2, 120]:.3f}" in text
    view.set_per_token(True)
    assert "of this word's range" in view.readout_at(1.2, 1.5)
    # a real mouse move over the plot shows it
    pos = view.mapFromScene(view.vb.mapViewToScene(QPointF(1.2, 1.5)))
    qtbot.mouseMove(view.viewport(), pos)
    qtbot.waitUntil(view.readout.isVisible, timeout=30000)
    assert view.readout.isVisible() and view.readout.text().startswith("dog · 1.20 s")


def test_the_context_less_part_of_a_region_edit_is_hatched_with_a_tooltip(view):
    from PySide6.QtCore import Qt

    from rfm_studio.gui.views.attention import CONTEXT_TIP

    m = _maps(400)
    m[:, :120] = 0.0  # outside the model's context: the core leaves exact zeros
    m[:, 350:] = 0.0
    view.context_only = True
    view.set_map(m, TOKENS)
    hatched = [it for it in view._overlays if it.toolTip() == CONTEXT_TIP]
    spans = sorted({(round(it.rect().left(), 2), round(it.rect().right(), 2)) for it in hatched})
    assert spans == [(0.0, 1.2), (3.5, 4.0)]
    assert any(it.brush().style() == Qt.BDiagPattern for it in hatched)
    assert "outside the model's context" in view.readout_at(0.5, 0.5)
    view.context_only = False
    view.set_map(m, TOKENS)  # a whole-clip edit: nothing is hatched
    assert not [it for it in view._overlays if it.toolTip() == CONTEXT_TIP]


def test_the_panel_offers_a_clear_scale_choice(qtbot):
    from rfm_studio.gui.attention_panel import AttentionPanel

    p = AttentionPanel()
    assert [p.scale.itemText(i) for i in range(p.scale.count())] == ["Shared scale", "Per word"]
    p.scale.setCurrentIndex(1)
    assert p.heatmap.per_token
    assert not p.function_words.isChecked()
    p.function_words.setChecked(True)
    assert p.heatmap.show_function
    p.show_maps(_maps()[None], TOKENS, {"region": [0.5, 1.0]})
    assert p.heatmap.context_only


def test_help_menu_has_quick_start_shortcuts_docs_and_report(qtbot, window):
    from rfm_studio.gui.help_menu import report_text, shortcut_rows

    acts = window.acts.help_actions
    assert set(acts) == {"quick_start", "shortcuts", "docs", "report", "about"}
    rows = dict(shortcut_rows(window))
    assert rows["Run Edit"] == "Ctrl+Return" and rows["Play"] == "Space"
    from rfm_studio.core.paths import user_log_dir

    assert str(user_log_dir() / "rfm-studio.log") in report_text()
    acts["quick_start"].trigger()
    acts["report"].trigger()
    titles = [d.windowTitle() for d in window._help_dialogs]
    assert titles == ["Quick Start", "Report a Problem"]
    for d in window._help_dialogs:
        d.close()


def test_open_dialog_starts_at_the_examples_then_the_last_folder(qtbot, window, settings, clip_path):
    from rfm_studio.core import paths

    assert settings.open_dir() == str(paths.examples_dir())
    open_clip(qtbot, window, clip_path)
    assert settings.open_dir() == str(clip_path.parent)


def test_compare_selectors_keep_long_instructions_readable(qtbot, window, clip_path):
    open_clip(qtbot, window, clip_path)
    long = "Replace the distant traffic noise with a gentle rain on a tin roof and birds far away"
    src = window.history.source
    v = window.history.add_edit(0, src.audio * 0.5, src.sample_rate, instruction=long)
    window.set_compare(0, v.id)
    combo = window.history_panel.combo_b
    i = combo.findData(v.id)
    assert combo.itemData(i, 3) == f"{v.id}: {long}"  # Qt.ToolTipRole: the whole text on hover
    assert combo.toolTip() == f"{v.id}: {long}"
    need = combo.fontMetrics().horizontalAdvance(f"{v.id}: {long}")
    assert combo.view().minimumWidth() >= min(need, int(combo.screen().availableGeometry().width() * 0.9))


def test_playback_disabled_stays_visible(qtbot, window, clip_path, monkeypatch):
    from rfm_studio.gui import playback

    monkeypatch.setattr(playback.Player, "probe", lambda self: (setattr(
        self, "reason", "Playback is disabled: no audio output device was found."), False)[1])
    window.start(str(clip_path), load_model=False)
    qtbot.waitUntil(lambda: window.document.opening is None, timeout=30000)
    window.statusBar().showMessage("Something else", 10)
    qtbot.wait(50)
    b = window.playback_banner
    assert b.isVisible() and "Playback is disabled" in b.text()


def test_passing_messages_keep_room_beside_the_playback_banner(qtbot, window, clip_path, monkeypatch):
    """The banner takes only its own width: a status message (Find's, an edit's) still shows."""
    from rfm_studio.gui import playback

    monkeypatch.setattr(playback.Player, "probe", lambda self: (setattr(
        self, "reason", "Playback is disabled: no audio output device was found."), False)[1])
    window.resize(1400, 900)
    window.start(str(clip_path), load_model=False)
    qtbot.waitUntil(lambda: window.document.opening is None, timeout=30000)
    qtbot.waitUntil(lambda: window.playback_banner.isVisible(), timeout=30000)
    msg = "Found 'dog barking' at 1.42-1.58 s (peak 0.77)."
    window.statusBar().showMessage(msg)
    qtbot.wait(50)
    b = window.playback_banner
    room = b.mapTo(window.statusBar(), b.rect().topLeft()).x()  # the message is drawn left of the banner
    assert room >= window.statusBar().fontMetrics().horizontalAdvance(msg)
    assert b.width() <= b.sizeHint().width() + 2
