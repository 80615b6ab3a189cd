"""Batch editing: the core plan (outputs never over a source) and the GUI batch window."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from gui_helpers import SR, gui_env, gui_tiny_bundle, make_clip, settings, window  # noqa: F401


@pytest.fixture
def takes(tmp_path):
    d = tmp_path / "takes"
    d.mkdir()
    for i, name in enumerate(("a.wav", "b.flac", "c.wav")):
        sf.write(str(d / name), make_clip(1.2 + 0.2 * i, channels=1), SR)
    (d / "notes.txt").write_text("not audio")
    return d


def test_plan_puts_outputs_beside_the_sources_or_in_a_folder_and_never_over_a_source(takes, tmp_path):
    from rfm_studio.core.batch import plan_batch
    from rfm_studio.core.errors import OptionError

    items = plan_batch([takes])
    assert [(i.source.name, i.output.name) for i in items] == [
        ("a.wav", "a-edited.wav"), ("b.flac", "b-edited.flac"), ("c.wav", "c-edited.wav")]
    out = tmp_path / "out"
    items = plan_batch([takes / "a.wav", takes], out_dir=out)
    assert [i.output for i in items] == [out / "a.wav", out / "b.flac", out / "c.wav"]  # a.wav once
    with pytest.raises(OptionError, match="replace a source"):
        plan_batch([takes], out_dir=takes)  # a.wav -> takes/a.wav
    with pytest.raises(OptionError, match="suffix"):
        plan_batch([takes], suffix="")
    (tmp_path / "x").mkdir()
    sf.write(str(tmp_path / "x" / "a.wav"), make_clip(1.2, channels=1), SR)
    with pytest.raises(OptionError, match="both be written"):
        plan_batch([takes / "a.wav", tmp_path / "x" / "a.wav"], out_dir=out)
    (tmp_path / "empty").mkdir()
    with pytest.raises(OptionError, match="No audio files"):
        plan_batch([tmp_path / "empty"])


def test_batch_window_edits_every_file_with_progress_and_keeps_sources(qtbot, window, takes, gui_tiny_bundle,
                                                                       monkeypatch, no_sound_finder):
    import functools

    from rfm_studio.core.separation import self_prompt

    # whatever the tiny random model takes out marks a span, and the dictionary learned from it
    # stands: its stages run (where the model's output stands, none is announced)
    monkeypatch.setattr(self_prompt, "SelfPromptConfig", functools.partial(
        self_prompt.SelfPromptConfig, min_removal=0.0, model_above=float("inf"), min_share=0.0))
    w = window
    w.start(None, str(gui_tiny_bundle))
    qtbot.waitUntil(lambda: w.model_info is not None, timeout=60000)
    before = {p.name: p.read_bytes() for p in takes.iterdir()}
    dlg = w.acts.open_batch()
    assert dlg.isVisible()
    assert dlg.add_folder(takes) == 3
    dlg.instruction.setText("Remove the hum")
    w.panel.steps.setValue(2)
    seen, shown = [], []
    w.runner.yielded.connect(lambda j, ev: seen.append(ev) if j == dlg.job else None)
    handle = dlg._on_event  # what the file's bar shows after each event, as the dialog drew it

    def on_event(ev):
        handle(ev)
        if ev.status == "editing":
            bar = dlg.bars[ev.index]
            shown.append((ev.message, bar.format(), (ev.step, ev.steps, bar.value(), bar.maximum())))

    dlg._on_event = on_event
    job = dlg.start()
    assert job is not None, dlg.status.text()
    qtbot.waitUntil(lambda: dlg.job is None, timeout=120000)
    assert dlg.summary is not None and len(dlg.summary["done"]) == 3, dlg.status.text()
    for name in ("a-edited.wav", "b-edited.flac", "c-edited.wav"):
        assert (takes / name).is_file()
    assert {p.name: p.read_bytes() for p in takes.iterdir() if p.name in before} == before  # sources untouched
    assert all(bar.format() == "done" for bar in dlg.bars)
    assert seen and any(ev.status == "editing" and ev.steps for ev in seen)
    # "Remove the hum" runs self-prompted: the model's steps, then the dictionary's stages by name
    assert any(f.startswith("step ") for m, f, _ in shown if not m)
    steps = [n for m, f, n in shown if not m and f.startswith("step ")]
    assert all(value == step for step, _, value, _ in steps)  # a sampler step counts once it has run
    stages = [(m, f, n) for m, f, n in shown if m]
    assert stages and all(f == f"{m} ({k}/{total})" and m.startswith("Dictionary removal: ")
                          for m, f, (k, total, _, _) in stages), shown
    # a stage shows as begun, not done: the bar stands at the stages before it, as in the edit panel
    assert all(value == k - 1 and top == total for _, _, (k, total, value, top) in stages), shown
    assert sf.info(str(takes / "c-edited.wav")).frames == sf.info(str(takes / "c.wav")).frames
    for name in ("a-edited.wav", "b-edited.flac"):  # the source's sample format is kept
        assert sf.info(str(takes / name)).subtype == "PCM_16"
    dlg.close()


def test_batch_window_cancel_stops_and_a_bad_file_does_not_stop_the_rest(qtbot, window, takes, gui_tiny_bundle,
                                                                         tmp_path, monkeypatch):
    from gui_helpers import pace_steps

    (takes / "broken.wav").write_bytes(b"RIFF0000WAVEjunk")
    w = window
    w.start(None, str(gui_tiny_bundle))
    qtbot.waitUntil(lambda: w.model_info is not None, timeout=60000)
    dlg = w.acts.open_batch()
    dlg.add_folder(takes)
    dlg.instruction.setText("Remove the hum")
    dlg.into.setChecked(True)
    dlg.out_dir.setText(str(tmp_path / "out"))
    w.panel.steps.setValue(2)
    assert dlg.start() is not None
    qtbot.waitUntil(lambda: dlg.job is None, timeout=120000)
    failed = dict(dlg.summary["failed"])
    assert list(failed) == ["broken.wav"] and len(dlg.summary["done"]) == 3
    assert dlg.bars[2].format() == "failed" and dlg.files.topLevelItem(2).text(2)
    # cancel: slow steps, cancel during the first file
    pace_steps(monkeypatch, 0.2)
    w.panel.steps.setValue(20)
    dlg.out_dir.setText(str(tmp_path / "out2"))
    assert dlg.start() is not None
    qtbot.waitUntil(lambda: any(b.format().startswith("step") for b in dlg.bars), timeout=60000)
    dlg.cancel()
    assert dlg.job is None and "Cancelled" in dlg.status.text() and dlg.run_button.isEnabled()
    qtbot.wait(600)
    assert not (tmp_path / "out2").exists() or not list((tmp_path / "out2").iterdir())
    dlg.close()
