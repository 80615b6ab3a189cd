"""The Fine-tuning tab with a tiny model: triplet import and checks, training in the app's
worker with a live loss curve, the adapter in the edit panel's selector, the preview,
cancel (no adapter), rename and delete."""

import json

import numpy as np
import pytest

import gui_helpers  # noqa: F401  (offscreen Qt, temporary config folders)
from gui_helpers import INSTRUCTION, clip_path, gui_env, gui_tiny_bundle, loaded, settings, window  # noqa: F401

SR = 16000


def tone(freq, seconds=1.0, amp=0.2, noise=0.0, seed=0):
    t = np.arange(int(seconds * SR)) / SR
    x = amp * np.sin(2 * np.pi * freq * t)
    if noise:
        x = x + noise * np.random.default_rng(seed).standard_normal(len(t))
    return x.astype(np.float32)


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    """Three generated triplets in one folder: takeN.wav (tone + hiss) and takeN_target.wav."""
    import soundfile as sf

    d = tmp_path_factory.mktemp("pairs")
    for i in range(3):
        clean = tone(300 + 150 * i)
        sf.write(str(d / f"take{i}.wav"), clean + tone(0, noise=0.05, seed=i), SR)
        sf.write(str(d / f"take{i}_target.wav"), clean, SR)
    (d / "instructions.txt").write_text("Remove the hiss\n")
    return d


def points(curve) -> int:
    x = curve.getData()[0]
    return 0 if x is None else len(x)


def wait_checked(qtbot, tab):
    qtbot.waitUntil(lambda: not tab.checking, timeout=20000)


def test_import_pairing_and_validation_messages(qtbot, window, pairs, tmp_path):
    import soundfile as sf
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDropEvent

    from rfm_studio.gui.finetune.pairing import Triplet
    from rfm_studio.gui.finetune.triplet_table import COL_CHECK, COL_INSTRUCTION

    tab = window.finetune
    assert window.tabs.tabText(1) == "Fine-tuning"
    # a folder, paired by name, its instructions.txt giving the instruction
    assert tab.triplet_panel.import_folder(str(pairs)) == 3
    rows = tab.triplet_panel.triplets()
    assert [r.instruction for r in rows] == ["Remove the hiss"] * 3
    assert rows[0].input.endswith("take0.wav") and rows[0].target.endswith("take0_target.wav")
    wait_checked(qtbot, tab)
    assert tab.problems == [] and tab.ready and "3 triplets ready" in tab.triplet_panel.summary.text()
    assert tab.triplet_panel.table.item(0, COL_CHECK).text() == "✓"
    assert not tab.trainer.b_train.isEnabled() and tab.trainer.start_training() is None  # no model yet
    assert "No model" in tab.notice.text()

    # bad rows: silent, unreadable, lengths, duplicate, no instruction
    silent, broken, long = tmp_path / "silent.wav", tmp_path / "broken.wav", tmp_path / "long.wav"
    sf.write(str(silent), np.zeros(SR, np.float32), SR)
    broken.write_text("not audio")
    sf.write(str(long), tone(440, seconds=5.0), SR)
    tgt = rows[0].target
    tab.triplet_panel.add_triplets([Triplet(str(silent), tgt, "Remove the hiss"),
                                    Triplet(str(broken), tgt, "Remove the hiss"),
                                    Triplet(rows[1].input, str(long), "Remove the hiss"), rows[0],
                                    Triplet(rows[2].input, rows[2].target, "")])
    wait_checked(qtbot, tab)
    text = "\n".join(tab.problems)
    assert "Triplet 4 input is silent." in tab.problems
    assert any(p.startswith("Triplet 5 input:") and "broken.wav" in p for p in tab.problems), text
    assert any(p.startswith("Triplet 6: input and target lengths differ a lot") for p in tab.problems), text
    assert "Triplet 7 duplicates triplet 1." in tab.problems
    assert "Triplet 8 has no instruction." in tab.problems
    problem_list, check = tab.triplet_panel.problem_list, tab.triplet_panel.table.item(3, COL_CHECK)
    assert problem_list.count() == len(tab.problems) and not problem_list.isHidden()
    assert check.text().startswith("⚠") and "silent" in check.toolTip()
    assert "problems" in tab.triplet_panel.summary.text() and not tab.ready
    # edit an instruction in place: its problem goes
    tab.triplet_panel.table.item(7, COL_INSTRUCTION).setText("Remove the hiss")
    wait_checked(qtbot, tab)
    assert not any("no instruction" in p for p in tab.problems)
    # too few
    tab.triplet_panel.clear()
    tab.triplet_panel.add_triplets(rows[:2])
    wait_checked(qtbot, tab)
    assert tab.problems == ["At least 3 triplets are needed; there are 2."]

    # in/ + out/ folders, a CSV (paths relative to it), and a drop of two loose files
    (tmp_path / "set" / "in").mkdir(parents=True)
    (tmp_path / "set" / "out").mkdir()
    for name in ("a.wav", "b.wav"):
        sf.write(str(tmp_path / "set" / "in" / name), tone(500), SR)
        sf.write(str(tmp_path / "set" / "out" / name), tone(500, amp=0.1), SR)
    tab.triplet_panel.clear()
    assert tab.triplet_panel.import_folder(str(tmp_path / "set")) == 2
    assert tab.triplet_panel.triplets()[1].target.endswith("out/b.wav")
    csv = tmp_path / "set" / "list.csv"
    csv.write_text("input,target,instruction\nin/a.wav,out/a.wav,Make it quieter\n")
    assert tab.triplet_panel.import_table(str(csv)) == 1
    assert tab.triplet_panel.triplets()[2].instruction == "Make it quieter"
    assert tab.triplet_panel.triplets()[2].input == str((tmp_path / "set" / "in" / "a.wav").resolve())
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(pairs / "take1_target.wav")), QUrl.fromLocalFile(str(pairs / "take1.wav"))])
    tab.triplet_panel.table.dropEvent(QDropEvent(QPointF(5, 5), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier))
    assert tab.triplet_panel.table.rowCount() == 4 and tab.triplet_panel.triplets()[3].input.endswith("take1.wav")
    # a lone file: said in the tab, nothing added
    tab.triplet_panel.add_paths([str(silent)])
    assert tab.triplet_panel.table.rowCount() == 4 and "No partner" in tab.notice.text()
    # the Add dialog builds a triplet from its fields
    from rfm_studio.gui.finetune.add_dialog import AddTripletDialog

    dlg = AddTripletDialog(str(pairs), "Remove the hiss", tab)
    dlg.input.setText(str(pairs / "take2.wav"))
    dlg.target.setText(str(pairs / "take2_target.wav"))
    assert dlg.triplet() == Triplet(str(pairs / "take2.wav"), str(pairs / "take2_target.wav"), "Remove the hiss")
    dlg.close()
    window.tabs.setCurrentIndex(1)  # the tab renders
    qtbot.wait(10)


def test_training_in_the_worker_plots_the_loss_and_adds_the_adapter(qtbot, loaded, pairs, monkeypatch):
    from rfm_studio.core import paths
    from rfm_studio.gui.finetune import work

    w = loaded
    tab = w.finetune
    w.tabs.setCurrentIndex(1)
    tab.triplet_panel.import_folder(str(pairs))
    wait_checked(qtbot, tab)
    tab.form.name_edit.setText("hiss")
    tab.form.steps.setValue(4)
    tab.form.batch.setValue(2)
    assert tab.trainer.b_train.isEnabled(), tab.trainer.b_train.toolTip()
    progress = []
    w.runner.yielded.connect(lambda j, ev: isinstance(ev, work.TrainProgress) and progress.append(ev))
    job = tab.trainer.start_training()
    assert job is not None and tab.training
    # edits wait while the adapter trains, and the edit panel says so
    assert not w.panel.run_button.isEnabled() and not w.acts.a_run.isEnabled()
    assert "adapter is training" in w.panel.progress.text()
    assert not w.panel.adapter_combo.isEnabled()
    w.panel.instruction.setText(INSTRUCTION)
    assert w.run_edit() is None and len(w.history) == 1
    qtbot.waitUntil(lambda: tab.outcome is not None, timeout=60000)
    assert w.errors == []
    out = tab.outcome
    folder = paths.user_adapters_dir() / "hiss"
    assert out.folder == str(folder) and (folder / "unet" / "adapter_model.safetensors").exists()
    card = json.loads((folder / "adapter_card.json").read_text())
    assert len(card["triplets"]) == 3 and card["triplets"][0]["input"].endswith("take0.wav")
    # the live curve: one point per step (3 triplets: no held-out one)
    xs, ys = tab.trainer.train_curve.getData()
    assert list(xs) == [1, 2, 3, 4] and np.all(np.isfinite(ys))
    assert [p[0] for p in out.points] == [1, 2, 3, 4]
    assert points(tab.trainer.val_curve) == 0
    assert progress and progress[-1].step == 4
    # the adapter is listed in the tab and in the edit panel's selector; the staged copies are gone
    assert tab.adapters.names() == ["hiss"]
    assert w.panel.adapter_combo.findData(str(folder)) > 0
    assert not list(work.staging_root().glob("run-*"))
    # the before/after preview follows in the worker; then edits are possible again
    qtbot.waitUntil(lambda: tab.preview_result is not None, timeout=60000)
    assert w.errors == [] and not tab.busy
    p = tab.preview_result
    assert p.original.shape == p.base.shape == p.adapted.shape and p.instruction == "Remove the hiss"
    assert w.panel.run_button.isEnabled() and w.acts.a_run.isEnabled() and w.panel.adapter_combo.isEnabled()
    assert tab.preview.b_pv_b.isEnabled()
    # listening in the tab goes through the app's player; the editor takes it back on its tab
    w.player.available = True
    played = []
    monkeypatch.setattr(w.player, "play", lambda: played.append(w.player._raw[0]))
    assert tab.preview.play_preview("adapted") and played[-1] is p.adapted and tab.owns_player
    assert tab.triplet_panel.play_row(0, "target") and played[-1].shape[0] == SR
    w.tabs.setCurrentIndex(0)
    assert not tab.owns_player and w.player._raw[0] is w.history.source.audio
    tab.preview.open_in_editor()  # A = base model, B = with the adapter, in the editor's views
    assert w.tabs.currentIndex() == 0 and len(w.history) == 3 and w.compare == (1, 2)
    assert w.history.get(2).params["adapter"] == str(folder)
    # use it in the editor: applied without reloading the model
    tab.adapters.select("hiss")
    tab.adapters.use_selected()
    qtbot.waitUntil(lambda: w.model_info is not None and w.model_info.adapter == str(folder), timeout=30000)
    assert w.panel.adapter_combo.currentData() == str(folder)

    # five triplets: the last is held out and has its own curve; the adapter in use is taken
    # off for the run (the new one learns on the base model) and put back afterwards
    from rfm_studio.gui.finetune.pairing import Triplet

    rows = tab.triplet_panel.triplets()
    tab.triplet_panel.add_triplets([Triplet(rows[0].input, rows[0].target, "Take out the hiss"),
                      Triplet(rows[1].input, rows[1].target, "Remove the noise")])
    wait_checked(qtbot, tab)
    tab.form.name_edit.setText("hiss2")
    tab.form.steps.setValue(2)
    assert tab.trainer.start_training() is not None
    qtbot.waitUntil(lambda: tab.outcome is not None and not tab.busy and tab.preview_result.adapter.endswith("hiss2"),
                    timeout=60000)
    assert w.errors == [] and tab.outcome.final_val_loss is not None
    assert points(tab.trainer.val_curve) >= 1 and "Triplet 5 is held out" in tab.trainer.held_out.text()
    assert w.host.model._adapter_path == str(folder) and w.model_info.adapter == str(folder)
    assert len(w.host.model._adapter_sets) == 1
    assert tab.adapters.names() == ["hiss", "hiss2"] and w.panel.adapter_combo.count() == 3


def test_cancel_leaves_no_adapter_and_resume_starts_again(qtbot, loaded, pairs):
    from rfm_studio.core import paths
    from rfm_studio.gui.finetune import work

    w = loaded
    tab = w.finetune
    tab.triplet_panel.import_folder(str(pairs))
    wait_checked(qtbot, tab)
    tab.form.name_edit.setText("gone")
    tab.form.steps.setValue(500)
    tab.form.batch.setValue(1)
    resume_tip = tab.trainer.b_resume.toolTip()
    assert resume_tip.startswith("Start the last run again") and "step 0" in resume_tip
    tab.trainer.start_training()
    qtbot.waitUntil(lambda: points(tab.trainer.train_curve) >= 2, timeout=60000)
    assert "ETA" in tab.trainer.progress.text() and "loss" in tab.trainer.progress.text()
    tab.trainer.cancel()
    assert not tab.busy and "no adapter was saved" in tab.trainer.progress.text()
    assert w.panel.run_button.isEnabled() and tab.trainer.b_resume.isEnabled()
    qtbot.waitUntil(lambda: w.runner._running is None and not w.runner._queue, timeout=30000)
    qtbot.wait(50)
    assert tab.adapters.refresh() == [] and not (paths.user_adapters_dir() / "gone").exists()
    assert not list(paths.user_adapters_dir().glob(".tmp-*"))
    assert not list(work.staging_root().glob("run-*"))
    assert w.panel.adapter_combo.count() == 1  # "No adapter" only
    # Resume: the same triplets and settings again, from step 0
    job = tab.trainer.resume_training()
    assert job is not None and tab.training and tab.trainer.last[1].name == "gone" and tab.trainer.last[1].steps == 500
    tab.trainer.cancel()
    qtbot.waitUntil(lambda: w.runner._running is None and not w.runner._queue, timeout=30000)
    assert w.errors == [] and tab.adapters.refresh() == []


def test_rename_and_delete_update_the_tab_and_the_edit_panel(qtbot, window):
    from rfm_studio.core import paths

    w = window
    tab = w.finetune
    base = paths.user_adapters_dir()
    for name in ("alpha", "beta"):
        (base / name).mkdir(parents=True)
        (base / name / "adapter_card.json").write_text(json.dumps(
            {"name": name, "steps": 10, "final_loss": 0.5, "final_val_loss": None, "triplets": [{}, {}, {}]}))
    tab.adapters.refresh()
    w.models.refresh_lists()
    assert tab.adapters.names() == ["alpha", "beta"]
    assert w.panel.adapter_combo.findData(str(base / "alpha")) > 0
    w.settings.adapter = str(base / "beta")  # the one chosen for the editor follows a rename

    tab.ask_text = lambda *a: "gamma"
    tab.adapters.select("alpha")
    assert tab.adapters.b_rename.isEnabled()
    tab.adapters.b_rename.click()
    assert tab.adapters.names() == ["beta", "gamma"]
    assert w.panel.adapter_combo.findData(str(base / "gamma")) > 0
    assert w.panel.adapter_combo.findData(str(base / "alpha")) < 0
    assert json.loads((base / "gamma" / "adapter_card.json").read_text())["name"] == "gamma"
    # bad or taken names: a message in the tab, nothing changes
    assert tab.adapters.rename_adapter("beta", "bad/name") is None and "must be" in tab.notice.text()
    assert tab.adapters.rename_adapter("beta", "gamma") is None and "already exists" in tab.notice.text()
    assert tab.adapters.rename_adapter("beta", "delta") == "delta"
    assert w.settings.adapter == str(base / "delta")
    assert w.panel.adapter_combo.currentData() == str(base / "delta")

    asked = []
    tab.confirm = lambda title, text: asked.append(title) or False
    assert not tab.adapters.delete_adapter("gamma") and tab.adapters.names() == ["delta", "gamma"]
    tab.confirm = lambda title, text: True
    assert tab.adapters.delete_adapter("gamma")
    assert asked == ["Delete the adapter?"]
    assert tab.adapters.names() == ["delta"] and not (base / "gamma").exists()
    assert w.panel.adapter_combo.findData(str(base / "gamma")) < 0
    assert tab.adapters.delete_adapter("delta") and w.settings.adapter == ""
    assert w.panel.adapter_combo.count() == 1 and "No adapters yet" in tab.adapters.adapters_hint.text()


def test_replacing_an_adapter_is_undone_by_a_cancel_while_saving(pairs, gui_tiny_bundle):
    """The tab asks before replacing an adapter of the same name; the worker then keeps the old
    one as a backup until the run's outcome is known: a cancel that arrives while the new one is
    being saved (the tab already said "cancelled, nothing saved") brings the old one back."""
    from types import SimpleNamespace

    from rfm_studio.core import paths
    from rfm_studio.core.events import CancelToken
    from rfm_studio.core.model.bundle import RFMEditor
    from rfm_studio.gui.finetune import work
    from rfm_studio.gui.finetune.pairing import Triplet

    host = SimpleNamespace(model=RFMEditor.from_pretrained(gui_tiny_bundle), info=None)
    triplets = [Triplet(str(pairs / f"take{i}.wav"), str(pairs / f"take{i}_target.wav"), "Remove the hiss")
                for i in range(3)]
    base = paths.user_adapters_dir()
    folder = base / "mine"

    def train(cancel_when_saved):
        tok = CancelToken()
        gen = work.train(host, triplets, work.run_config(name="mine", steps=2, batch_size=2, seed=len(seen)), tok)
        for ev in gen:
            if ev.message == "saved" and cancel_when_saved:
                tok.cancel()
                gen.close()  # the runner drops a cancelled job at its next event
                return None
        return folder

    seen = []
    assert train(False) == folder
    first = (folder / "unet" / "adapter_model.safetensors").read_bytes()
    seen.append(first)
    assert train(False) == folder  # replaced (the tab asked)
    second = (folder / "unet" / "adapter_model.safetensors").read_bytes()
    assert second != first
    seen.append(second)
    assert train(True) is None  # cancelled while saving: the adapter before it is back
    assert (folder / "unet" / "adapter_model.safetensors").read_bytes() == second
    assert sorted(p.name for p in base.iterdir()) == ["mine"]
    assert not getattr(host.model, "_adapter_sets", None) and not getattr(host.model, "_adapter_path", None)


def test_job_slot_says_what_runs_and_calls_the_cancelled_jobs_own_callback(qtbot):
    """The slot knows a training run from a preview by a flag given at submit, and Cancel calls
    back the job's own ``cancelled`` (no other job's); a job that ends by itself does not."""
    from rfm_studio.gui.finetune.job_slot import JobSlot

    class Runner:
        def __init__(self):
            self.jobs, self.cancelled = [], []

        def submit(self, lane, fn, label, **callbacks):
            self.jobs.append(callbacks)
            return len(self.jobs)

        def cancel(self, lane):
            self.cancelled.append(lane)

    runner, calls, changes = Runner(), [], []
    slot = JobSlot(runner)
    slot.changed.connect(changes.append)
    slot.submit(lambda c: None, "preview", cancelled=lambda: calls.append("preview"))
    assert slot.busy and not slot.training
    assert slot.cancel() and calls == ["preview"] and runner.cancelled == ["finetune"]
    assert not slot.busy and not slot.training and changes == [True, False]
    assert not slot.cancel() and calls == ["preview"]  # nothing running: nothing called
    slot.submit(lambda c: None, "run", training=True, returned=calls.append,
                cancelled=lambda: calls.append("train"))
    assert slot.busy and slot.training
    runner.jobs[-1]["on_returned"]("out")  # ended by itself: no cancelled callback
    assert calls == ["preview", "out"] and not slot.busy and not slot.training
    assert not slot.cancel() and calls == ["preview", "out"]
    slot.submit(lambda c: None, "run", training=True, cancelled=lambda: calls.append("train"))
    assert slot.cancel() and calls == ["preview", "out", "train"] and not slot.training


def test_the_previews_progress_carries_a_stage_with_no_sampler_step():
    """The adapter preview's edit (a self-prompted "Remove the hiss"): its StepEvents and the
    dictionary's ProgressEvents both reach the panel as PreviewSteps, a stage with its text."""
    from conftest import collect

    from rfm_studio.core.events import ProgressEvent, StepEvent
    from rfm_studio.gui.finetune import work

    def edit():
        yield StepEvent(1, 2, 0.5)
        yield StepEvent(2, 2, 1.0)
        yield ProgressEvent(1, 2, "Dictionary removal: learning the sound the model marked")
        return "result"

    events, res = collect(work._drive(edit(), "adapter"))
    assert res == "result" and events == [
        work.PreviewStep("adapter", 1, 2), work.PreviewStep("adapter", 2, 2),
        work.PreviewStep("adapter", 1, 2, "Dictionary removal: learning the sound the model marked")]
