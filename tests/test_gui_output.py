"""The app's side of what an edit writes and says: exports keep the opened file's format (or
the dialog's type), Export ▸ Removed sound, R (A − B) as a third source to hear, the change
report in the status bar, progress line and History, and a no-op edit that says so."""

import re

import numpy as np
import soundfile as sf

import gui_helpers  # noqa: F401  (offscreen Qt, temporary config folders)
from gui_helpers import (SR, clip_path, gui_env, gui_tiny_bundle, loaded, make_clip, open_clip, run_edit, settings,  # noqa: F401
                         window)
from rfm_studio.core.audio.formats import OutputFormat
from rfm_studio.gui.window_export import export_filters, format_for


def test_export_filters_and_format_for(tmp_path):
    filters = export_filters(("WAV", "PCM_16"))
    assert filters[0] == ("Same as the source: WAV 16-bit PCM (*.wav)", OutputFormat("WAV", "PCM_16"))
    assert len({f for f, _ in filters}) == len(filters)  # Qt tells them apart by their text
    assert export_filters(("MP3", "MPEG_LAYER_III"))[0][1] == OutputFormat("WAV", "PCM_16")
    flac24 = OutputFormat("FLAC", "PCM_24")
    assert format_for(tmp_path / "x", flac24) == (tmp_path / "x.flac", flac24)
    # an extension of another container wins; the chosen depth is kept where it can be
    assert format_for(tmp_path / "x.wav", flac24) == (tmp_path / "x.wav", OutputFormat("WAV", "PCM_24"))
    assert format_for(tmp_path / "x.flac", OutputFormat("WAV", "FLOAT")) == (tmp_path / "x.flac", flac24)


def test_exports_keep_the_opened_files_format(qtbot, loaded, tmp_path):
    w = loaded
    src = tmp_path / "take.wav"
    sf.write(str(src), make_clip(), SR, subtype="PCM_16")
    open_clip(qtbot, w, src)
    qtbot.waitUntil(lambda: 0 in w.history.mels, timeout=30000)
    v = run_edit(qtbot, w, steps=2)
    out = w.export_result(str(tmp_path / "edited.wav"))
    assert sf.info(str(out)).subtype == "PCM_16"  # 16-bit in, 16-bit out (it was 32-bit float)
    data, sr = sf.read(str(out), dtype="float32")
    assert sr == SR and np.abs(data - np.clip(v.audio, -1, 1)).max() < 1e-4
    out = w.export_result(str(tmp_path / "edited"))  # no extension: the source's container
    assert out.suffix == ".wav" and sf.info(str(out)).subtype == "PCM_16"
    out = w.export_result(str(tmp_path / "hi.flac"), OutputFormat("FLAC", "PCM_24"))  # the dialog's type
    assert (sf.info(str(out)).format, sf.info(str(out)).subtype) == ("FLAC", "PCM_24")
    assert w.export_result(str(tmp_path / "bad.flac"), OutputFormat("FLAC", "FLOAT")) is None
    assert w.errors[-1][0] == "Export failed"


def test_removed_sound_export_and_r_source(qtbot, loaded, tmp_path):
    w = loaded
    assert not w.acts.a_r.isEnabled() and not w.acts.a_export_removed.isEnabled()
    v = run_edit(qtbot, w, steps=2)
    src = w.history.source
    assert w.acts.a_r.isEnabled() and w.acts.a_export_removed.isEnabled()
    out = w.exporter.export_removed(str(tmp_path / "removed.wav"))
    r, sr = sf.read(str(out), dtype="float32")
    assert sr == SR and r.shape == src.audio.shape
    assert np.abs(r - (src.audio - v.audio)).max() < 1e-6  # the opened clip is float: kept float
    assert np.abs(r).max() > 1e-3  # the edit removed something, and the file holds it
    assert not list(tmp_path.glob(".rfm-*"))
    # R: heard at the same position, shown as its own spectrogram
    qtbot.waitUntil(lambda: not w.player.preparing, timeout=30000)  # (new buffers are made in the I/O worker)
    assert w.player.has_removed
    w.acts.a_r.trigger()
    assert w.ab == 2 and w.player.selected == 2 and w.acts.a_r.isChecked()
    qtbot.waitUntil(lambda: len(w.removed.mels) == 1, timeout=30000)
    assert w.spec_tag.text().startswith("R · removed")
    buf = w.player._bufs[2]
    expect = src.audio - v.audio
    assert np.allclose(buf[:, 0], expect[: buf.shape[0], 0], atol=1e-6)
    w.playback.toggle_ab()  # the A/B key from R goes back to A
    assert w.ab == 0 and w.player.selected == 0


def test_change_report_after_an_edit(qtbot, loaded):
    w = loaded
    v = run_edit(qtbot, w, steps=2)
    assert v.params.get("change")
    label = w.history_panel.change_label
    assert label.isVisible() or not w.history_panel.isVisible()
    doubt = f"\n{v.params['doubt']}" if v.params.get("doubt") else ""  # (the finder unsure of the sound)
    assert label.text() == f"Version {v.id} changed: {v.params['change']}{doubt}" or label.text().startswith(
        "No audible")
    if not label.text().startswith("No audible"):  # the report names where and by how much
        assert re.search(r"\d+(\.\d+)?–\d+(\.\d+)? s: [−+]\d+ dB", label.text()), label.text()
    item = w.history_panel.tree.topLevelItem(v.id)
    assert v.params["change"] in item.toolTip(1)


def test_a_no_op_edit_says_so_and_what_to_try(qtbot, loaded, monkeypatch):
    """"Add a dog barking" used to return the clip bit-identical while the app said Done."""
    from rfm_studio.core import editing
    from rfm_studio.core.events import EditResult

    def same(model, req, cancel=None):
        yield from ()
        return EditResult(audio=np.array(req.audio), sample_rate=req.sample_rate, instruction=req.instruction,
                          params={"steps": 1, "t_start": 0.01, "guidance": 1.0, "seed": 0, "strength": 1.0,
                                  "region": None})

    monkeypatch.setattr(editing, "run_edit", same)
    w = loaded
    v = run_edit(qtbot, w, text="Add a dog barking", steps=1)
    assert v.params.get("no_change")
    assert "No audible change" in w.panel.progress.format()
    assert "No audible change" in w.statusBar().currentMessage()
    text = w.history_panel.change_label.text()
    assert text.startswith("No audible change") and "identical" in text
    assert "selecting where" in text and "Strength (2)" in text and "library" in text


def test_an_edit_the_finder_is_unsure_of_is_flagged_in_history_and_the_status_bar(qtbot, loaded, monkeypatch):
    """The finder marked the example of a text-only removal at a low peak (a sound the clip may
    not hold): the status bar and History's change line say so and how to check."""
    from rfm_studio.core import editing
    from rfm_studio.core.events import EditResult

    def unsure(model, req, cancel=None):
        yield from ()
        out = np.array(req.audio)
        out[: len(out) // 4] *= 0.1
        return EditResult(audio=out, sample_rate=req.sample_rate, instruction=req.instruction,
                          params={"engine": "self-prompt", "removal": "dictionary", "spans_from": "finder",
                                  "spans": [[0.1, 0.5]], "finder_peak": 0.52, "region": None, "strength": 1.0})

    monkeypatch.setattr(editing, "run_edit", unsure)
    w = loaded
    v = run_edit(qtbot, w, text="Remove the dog barking", steps=1)
    assert v.params["doubt"].startswith("The sound finder is unsure the clip holds 'dog barking' (peak probability 0.52")
    assert w.statusBar().currentMessage() == v.params["doubt"]
    assert "check it" in w.panel.progress.format()
    label = w.history_panel.change_label.text()
    assert label.startswith(f"Version {v.id} changed: ") and label.endswith(v.params["doubt"])
    assert v.params["doubt"] in w.history_panel.tree.topLevelItem(v.id).toolTip(1)
