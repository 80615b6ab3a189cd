"""Training: the loss falls, checkpoints resume, export gives a loadable bundle."""

import json
import re
from pathlib import Path

import numpy as np
import soundfile as sf
import pytest

pytestmark = pytest.mark.timeout(900)  # trains for real; slow on a loaded 2-core machine

from rfm_studio.core.errors import OptionError
from rfm_studio.core.model.bundle import RFMEditor
from rfm_studio.core.training.checkpoint import latest_checkpoint
from rfm_studio.core.training.loop import TrainConfig, export_bundle, train


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    d = tmp_path_factory.mktemp("triplets")
    rng = np.random.default_rng(0)
    sr = 16000
    t = np.arange(sr * 2) / sr
    rows = []
    for i in range(4):
        bg = (0.03 * rng.standard_normal(len(t))).astype(np.float32)
        beep = (0.3 * np.sin(2 * np.pi * (500 + 100 * i) * t) * ((t > 0.5) & (t < 1.2))).astype(np.float32)
        sf.write(d / f"in{i}.wav", bg + beep, sr)
        sf.write(d / f"tg{i}.wav", bg, sr)
        rows.append({"input": f"in{i}.wav", "target": f"tg{i}.wav", "instruction": "Remove the beep"})
    (d / "train.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    return d / "train.jsonl"


def _cfg(manifest, out, steps):
    return TrainConfig(data=str(manifest), out=str(out), init="tiny", steps=steps, batch_size=4, crop_seconds=1.28,
                       val_every=10, log_every=5, lr=2e-3, warmup=1, val_batches=2, lora_layers=[5],
                       checkpoint_seconds=1e9)


def test_loss_falls_and_resume(manifest, tmp_path):
    out = tmp_path / "run"
    events = list(train(_cfg(manifest, out, 40)))
    vals = [e.val_loss for e in events if e.val_loss is not None]
    assert len(vals) == 4 and vals[-1] < vals[0]
    ck = latest_checkpoint(out)
    assert ck is not None and ck.name == "step-0000040"
    more = list(train(_cfg(manifest, out, 45)))
    assert more[0].message.startswith("resumed from step-0000040")
    assert more[-1].step == 45
    bundle, state = export_bundle(out, tmp_path / "bundle")
    m = RFMEditor.from_pretrained(bundle)
    assert m.text_encoder._lora and m.info["train_steps"] == state["step"]
    # the bundle is put in place whole: a write that fails part-way leaves the old one as it was
    old = {p.relative_to(bundle): p.read_bytes() for p in sorted(bundle.rglob("*")) if p.is_file()}

    def broken(self, folder, dtype=None):
        (Path(folder) / "model_index.json").write_text("{}")
        raise OSError("disk full")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(RFMEditor, "save_pretrained", broken)
        with pytest.raises(OSError, match="disk full"):
            export_bundle(out, bundle)
    assert {p.relative_to(bundle): p.read_bytes() for p in sorted(bundle.rglob("*")) if p.is_file()} == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle", "run"]
    export_bundle(out, bundle, which="latest")  # an export of the same kind is replaced
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mine")
    with pytest.raises(OptionError, match="not an exported model bundle"):
        export_bundle(out, tmp_path / "mine")
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["notes.txt"]


def test_interrupted_checkpoint_save_keeps_last_complete(manifest, tmp_path):
    out = tmp_path / "run"
    list(train(_cfg(manifest, out, 10)))
    # a save killed half-way leaves a temporary folder and no pointer change
    (out / "checkpoints" / ".tmp-step-0000020-1").mkdir()
    (out / "checkpoints" / ".tmp-step-0000020-1" / "model.safetensors").write_bytes(b"partial")
    assert latest_checkpoint(out).name == "step-0000010"
    ev = list(train(_cfg(manifest, out, 12)))
    assert ev[0].message == "resumed from step-0000010"


def test_cancel_writes_a_checkpoint(manifest, tmp_path):
    from rfm_studio.core.events import CancelToken

    tok = CancelToken()
    out = tmp_path / "run"
    for ev in train(_cfg(manifest, out, 1000), tok):
        if ev.step >= 5:
            tok.cancel()
    assert ev.message == "cancelled"
    assert latest_checkpoint(out) is not None


def test_lr_warms_up_stays_flat_and_decays_to_zero_at_the_end():
    from rfm_studio.core.training.loop import TrainConfig, lr_factor

    flat = TrainConfig(data="x", out="y", steps=1000, warmup=10)
    assert lr_factor(0, flat) == 0.1 and lr_factor(9, flat) == 1.0 and lr_factor(999, flat) == 1.0
    wsd = TrainConfig(data="x", out="y", steps=1000, warmup=10, decay_steps=200)
    assert lr_factor(500, wsd) == 1.0 and lr_factor(800, wsd) == 1.0
    assert lr_factor(900, wsd) == 0.5 and lr_factor(999, wsd) == 1 / 200
    # resuming a flat run with more steps and a decay anneals it from where it stopped
    longer = TrainConfig(data="x", out="y", steps=1500, warmup=10, decay_steps=500)
    assert lr_factor(1000, longer) == 1.0 and lr_factor(1250, longer) == 0.5


def test_cli_train_stops_on_sigterm_with_a_checkpoint_and_resumes(manifest, tmp_path):
    """``kill`` (or Ctrl-C) ends a training run after the current step, saving it: no step is lost."""
    import os
    import signal
    import subprocess
    import sys

    out = tmp_path / "run"
    cfg = json.dumps({"batch_size": 4, "crop_seconds": 1.28, "log_every": 1, "lr": 2e-3, "warmup": 1,
                      "val_batches": 1, "lora_layers": [5]})
    cmd = [sys.executable, "-m", "rfm_studio.cli", "train", "--data", str(manifest), "--out", str(out), "--init", "tiny",
           "--steps", "100000", "--val-every", "100000", "--checkpoint-seconds", "1e9", "--config", cfg]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    for line in p.stdout:
        if line.startswith("step 3/"):
            p.send_signal(signal.SIGTERM)
            break
    rest, err = p.communicate(timeout=300)
    assert p.returncode == 0, err[-2000:]
    assert "stopped; resume with the same command" in rest and "Traceback" not in err
    last = [ln for ln in rest.splitlines() if ln.startswith("stopped at step ")][-1]
    stopped_at = int(last.split()[3].split("/")[0])
    assert "checkpoint" in last and stopped_at >= 3 and "nan" not in rest
    assert latest_checkpoint(out).name == f"step-{stopped_at:07d}"


def test_bad_training_data_leaves_no_run_folder(tmp_path):
    from rfm_studio.core.errors import RFMError

    for data in (str(tmp_path / "none.jsonl"), f"bank:{tmp_path / 'nobank'}"):
        with pytest.raises(RFMError):
            list(train(TrainConfig(data=data, out=str(tmp_path / "run"), init="tiny", steps=2)))
        assert not (tmp_path / "run").exists()


def test_peak_normalising_models_scale_input_and_target_by_the_inputs_gain(tiny_model, monkeypatch):
    """An edit can only measure the input's peak; training must scale the target by the same
    gain, or a quieter target (a removal) would be taught as a level change of everything."""
    import torch

    from rfm_studio.core.training.loop import paired_latents

    monkeypatch.setattr(tiny_model, "peak_normalize", 0.5)
    rng = np.random.default_rng(0)
    inp = (0.3 * rng.standard_normal((2, 16000))).astype(np.float32)
    tgt = 0.5 * inp  # the target at half the level
    x, y = paired_latents(tiny_model, inp, tgt, "cpu")
    mx = tiny_model.codec.decode(x)
    my = tiny_model.codec.decode(y)
    shift = (mx - my)[:, :, 2:-2].float()  # log-mel: half the amplitude is a constant shift
    assert shift.mean().item() > 0.3 and torch.allclose(shift, shift.mean(), atol=0.05)
    x2, y2 = paired_latents(tiny_model, inp, inp, "cpu")
    assert torch.allclose(x2, y2)


def test_exported_totals_count_from_what_the_start_bundle_had_when_the_run_began(manifest, tmp_path):
    """A run from a bundle adds its steps to the bundle's; replacing that bundle later (as
    shipping the run's own export does) must not count them twice."""
    import shutil

    from rfm_studio.core.model.files import read_json

    start = tmp_path / "start"
    first = TrainConfig(data=str(manifest), out=str(tmp_path / "r0"), init="tiny", steps=2, batch_size=2,
                        crop_seconds=0.5, val_every=1, val_batches=1, checkpoint_seconds=1e9)
    list(train(first))
    export_bundle(tmp_path / "r0", start, which="latest")
    assert read_json(start / "model_index.json")["info"]["train_steps_total"] == 2
    cfg = TrainConfig(data=str(manifest), out=str(tmp_path / "r1"), init=str(start), steps=3, batch_size=2,
                      crop_seconds=0.5, val_every=1, val_batches=1, checkpoint_seconds=1e9)
    list(train(cfg))
    assert json.loads((tmp_path / "r1" / "base_info.json").read_text())["train_steps_total"] == 2
    out, _ = export_bundle(tmp_path / "r1", tmp_path / "e1", which="latest")
    assert read_json(out / "model_index.json")["info"]["train_steps_total"] == 5
    shutil.rmtree(start)  # the start bundle is replaced by the run's own export (as shipping does)
    shutil.copytree(out, start)
    out2, _ = export_bundle(tmp_path / "r1", tmp_path / "e2", which="latest")
    assert read_json(out2 / "model_index.json")["info"]["train_steps_total"] == 5  # not 8


def test_cli_options_override_the_config_file(tmp_path):
    """`--steps` / `--decay-steps` on the command line win over the --config file's values, so a
    run started from a config can be extended and annealed by resuming with larger --steps."""
    import argparse

    from rfm_studio.commands import train as train_cmd

    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"steps": 2000, "decay_steps": 1200, "lr": 1e-4, "seed": 7}))
    ap = argparse.ArgumentParser()
    train_cmd.register(ap.add_subparsers())
    args = ap.parse_args(["train", "--data", "bank:x", "--out", str(tmp_path / "r"), "--config", str(cfg),
                          "--steps", "1300", "--decay-steps", "800", "--data-workers", "6"])
    c = train_cmd.config_from_args(args)
    assert (c.steps, c.decay_steps, c.lr, c.seed, c.data_workers) == (1300, 800, 1e-4, 7, 6)
    args = ap.parse_args(["train", "--data", "bank:x", "--out", str(tmp_path / "r"), "--config", str(cfg)])
    c = train_cmd.config_from_args(args)
    assert (c.steps, c.decay_steps, c.init, c.batch_size, c.val_every) == (2000, 1200, "small", 16, 500)
    # the file's data / out / device / switches give way to the command line's too
    cfg.write_text(json.dumps({"data": "bank:from-file", "out": "file-run", "device": "cpu",
                               "grad_checkpointing": True, "cache_latents": True, "text_lora": False}))
    c = train_cmd.config_from_args(ap.parse_args(["train", "--data", "bank:x", "--out", str(tmp_path / "r"),
                                                  "--config", str(cfg), "--device", "auto", "--no-grad-checkpointing",
                                                  "--no-cache-latents", "--text-lora"]))
    assert (c.data, c.out, c.device) == ("bank:x", str(tmp_path / "r"), "auto")
    assert (c.grad_checkpointing, c.cache_latents, c.text_lora) == (False, False, True)
    c = train_cmd.config_from_args(ap.parse_args(["train", "--data", "bank:x", "--out", "o", "--config", str(cfg)]))
    assert (c.device, c.grad_checkpointing, c.cache_latents, c.text_lora) == ("cpu", True, True, False)
    # a bad value in the file is named as the file's, even where an option overrides it
    cfg.write_text(json.dumps({"steps": 0}))
    with pytest.raises(OptionError, match=rf"^In {re.escape(str(cfg))}: Training setting steps"):
        train_cmd.config_from_args(ap.parse_args(["train", "--data", "bank:x", "--out", "o", "--config", str(cfg),
                                                  "--steps", "5"]))
