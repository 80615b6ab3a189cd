"""Training on the GPU user's path, checked on the CPU: requested devices and precisions,
several processes under ``accelerate launch``, the paper preset, CLAP-chosen checkpoints,
cached latents and gradient checkpointing."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import soundfile as sf
import torch

from rfm_studio.core.errors import OptionError
from rfm_studio.core.training import loop
from rfm_studio.core.training.loop import TrainConfig, train

pytestmark = pytest.mark.timeout(900)  # trains for real on a loaded 2-core machine


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    d = tmp_path_factory.mktemp("triplets")
    rng = np.random.default_rng(0)
    sr = 16000
    t = np.arange(int(sr * 1.28)) / sr
    rows = []
    for i in range(4):
        bg = (0.03 * rng.standard_normal(len(t))).astype(np.float32)
        beep = (0.3 * np.sin(2 * np.pi * (500 + 100 * i) * t) * ((t > 0.3) & (t < 0.9))).astype(np.float32)
        sf.write(d / f"in{i}.wav", bg + beep, sr)
        sf.write(d / f"tg{i}.wav", bg, sr)
        rows.append({"input": f"in{i}.wav", "target": f"tg{i}.wav", "instruction": "Remove the beep",
                     "target_caption": "quiet noise"})
    (d / "train.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    return d / "train.jsonl"


def _cfg(manifest, out, steps, **kw):
    base = dict(data=str(manifest), out=str(out), init="tiny", steps=steps, batch_size=2, crop_seconds=1.28,
                val_every=1000, log_every=1, lr=2e-3, warmup=1, val_batches=1, lora_layers=[5],
                checkpoint_seconds=1e9, device="cpu")
    base.update(kw)
    return TrainConfig(**base)


def _capture_model(monkeypatch):
    box = {}
    build = loop.build_model

    def capture(cfg):
        box["model"] = build(cfg)
        return box["model"]

    monkeypatch.setattr(loop, "build_model", capture)
    return box


def test_bfloat16_training_on_the_cpu(manifest, tmp_path, monkeypatch):
    box = _capture_model(monkeypatch)
    events = list(train(_cfg(manifest, tmp_path / "run", 3, dtype="bfloat16")))
    assert events[-1].step == 3 and all(np.isfinite(e.loss) for e in events)
    m = box["model"]
    # trainable weights stay float32 (autocast computes in bfloat16); the frozen VAE is cast
    assert all(p.dtype == torch.float32 for p in m.denoiser.parameters())
    assert all(p.dtype == torch.float32 for n, p in m.text_encoder.named_parameters() if "lora_" in n)
    with pytest.raises(OptionError, match="float16 needs a CUDA GPU"):
        list(train(_cfg(manifest, tmp_path / "run16", 1, dtype="float16")))
    assert not (tmp_path / "run16").exists()


def test_cuda_n_is_the_single_process_runs_device(monkeypatch):
    """cuda:N used to be ignored (accelerate took cuda:0)."""
    chosen = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "set_device", lambda d: chosen.append(str(d)))
    import accelerate

    import rfm_studio.core.devices as devices

    for dev in ("cuda:1", "cuda"):  # no GPU here to run the precision probe on
        monkeypatch.setitem(devices._PROBED, (dev, torch.bfloat16), None)

    monkeypatch.setattr(accelerate, "Accelerator", lambda **kw: kw)
    kw, dtype = loop.start_accelerator("cuda:1", "float32")
    assert chosen == ["cuda:1"] and kw["cpu"] is False and dtype == torch.float32
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    kw, dtype = loop.start_accelerator("cuda", "bfloat16")
    assert kw["mixed_precision"] == "bf16" and dtype == torch.bfloat16


def test_paper_preset(manifest, tmp_path, monkeypatch):
    from rfm_studio.cli import main
    from rfm_studio.core.training.loop import PAPER_PRESET, preset_settings

    assert PAPER_PRESET == {"lr": 5e-5, "crop_seconds": 10.24, "epochs": 100, "val_clips": 1000}
    assert preset_settings("paper", "cuda:0")["dtype"] == "bfloat16"
    assert preset_settings("paper", "cpu")["dtype"] == "float32"
    seen = []

    def fake_train(cfg, cancel=None):
        seen.append(cfg)
        return iter(())

    monkeypatch.setattr(loop, "train", fake_train)
    assert main(["train", "--data", str(manifest), "--out", str(tmp_path / "r"), "--preset", "paper",
                 "--device", "cpu"]) == 0
    c = seen[0]
    assert (c.lr, c.crop_seconds, c.epochs, c.val_clips, c.dtype, c.preset) == (5e-5, 10.24, 100, 1000,
                                                                                   "float32", "paper")
    # the old defaults were lr 3e-4 and 5.12 s crops; options given override the preset
    assert main(["train", "--data", str(manifest), "--out", str(tmp_path / "r"), "--preset", "paper",
                 "--lr", "1e-4", "--crop-seconds", "5.12", "--device", "cpu"]) == 0
    assert (seen[1].lr, seen[1].crop_seconds) == (1e-4, 5.12)


def test_epochs_set_the_steps(manifest, tmp_path):
    events = list(train(_cfg(manifest, tmp_path / "run", 999, epochs=2)))  # 2 x 4 clips / batch 2
    assert events[-1].step == 4 and events[-1].total == 4


def test_best_checkpoint_by_clap_score(manifest, tmp_path):
    from test_eval_networks import _tiny_hf_clap

    clap = _tiny_hf_clap(tmp_path / "clap")
    out = tmp_path / "run"
    events = list(train(_cfg(manifest, out, 4, val_every=2, clap_ckpt=str(clap), val_clips=2, val_steps=1)))
    scores = {e.step: float(e.message.split()[-1]) for e in events if e.message.startswith("val CLAP")}
    assert sorted(scores) == [2, 4]
    best = json.loads((out / "checkpoints" / "best.json").read_text())
    assert "clap" in best and "val_loss" not in best
    top = max(scores.values())
    assert best["step"] == min(s for s, v in scores.items() if v == top)
    assert best["clap"] == pytest.approx(top, abs=1e-4)
    with pytest.raises(OptionError, match="Cannot use the CLAP checkpoint"):
        list(train(_cfg(manifest, tmp_path / "r2", 1, clap_ckpt=str(tmp_path / "none"))))


def test_cached_latents_skip_the_vae(manifest, tmp_path, monkeypatch):
    calls = []
    real = loop.paired_latents
    monkeypatch.setattr(loop, "paired_latents", lambda *a, **k: (calls.append(1), real(*a, **k))[1])
    list(train(_cfg(manifest, tmp_path / "plain", 6)))
    plain = len(calls)
    calls.clear()
    list(train(_cfg(manifest, tmp_path / "cached", 6, cache_latents=True)))
    # clips as long as the crop: at most one VAE pass per clip (4) plus the validation batch
    assert plain == 7 and len(calls) <= 4 * 1 + 1 < plain


def test_gradient_checkpointing_on_a_paper_bundle(tmp_path, manifest, monkeypatch):
    from rfm_studio.core.model.convert import build_paper_bundle
    from rfm_studio.core.model.tiny_public import write_tiny_public_components

    d = write_tiny_public_components(tmp_path / "public")
    b = build_paper_bundle(d / "vae", d / "unet", d / "t5", d / "hifigan").save_pretrained(tmp_path / "paper")
    box = _capture_model(monkeypatch)
    events = list(train(_cfg(manifest, tmp_path / "run", 2, init=str(b), grad_checkpointing=True,
                             lora_layers=[1])))
    assert events[-1].step == 2 and np.isfinite(events[-1].loss)
    assert box["model"].denoiser.module.net.is_gradient_checkpointing if hasattr(box["model"].denoiser, "module") \
        else box["model"].denoiser.net.is_gradient_checkpointing
    with pytest.raises(OptionError, match="Gradient checkpointing needs a diffusers U-Net"):
        list(train(_cfg(manifest, tmp_path / "r2", 1, grad_checkpointing=True)))


RANK_SCRIPT = textwrap.dedent("""
    import hashlib, json, sys
    import torch
    from rfm_studio.core.training import loop

    box = {}
    build = loop.build_model
    loop.build_model = lambda cfg: box.setdefault("m", build(cfg))
    cfg = loop.TrainConfig(**json.loads(sys.argv[1]))
    events = list(loop.train(cfg))
    import accelerate
    rank = accelerate.PartialState().process_index
    state = loop.trainable_state(box["m"])
    digest = {k: hashlib.sha256(v.detach().float().cpu().numpy().tobytes()).hexdigest() for k, v in state.items()}
    json.dump({"steps": events[-1].step, "digest": digest}, open(f"{cfg.out}/rank{rank}.json", "w"))
    print("rank", rank, "done", flush=True)
""")


@pytest.mark.slow  # two processes each load torch and the model: ~20-50 s on 2 loaded cores
def test_two_processes_average_the_unet_and_text_lora_gradients(manifest, tmp_path):
    """``accelerate launch --num_processes 2`` (gloo, CPU): each process draws its own batches, and
    after the steps both hold the same U-Net and text-encoder LoRA weights. The text encoder's LoRA
    used to stay outside accelerate, so its gradients were not averaged and the ranks drifted apart."""
    import socket

    (tmp_path / "rank.py").write_text(RANK_SCRIPT)
    out = tmp_path / "run"
    out.mkdir()
    cfg = dict(data=str(manifest), out=str(out), init="tiny", steps=3, batch_size=1, crop_seconds=1.28,
               val_every=1000, log_every=1, lr=1e-2, warmup=1, val_batches=1, lora_layers=[5],
               checkpoint_seconds=1e9, device="cpu", ema=0.5)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.getcwd())
    # --multi_gpu starts the processes with torchrun (accelerate's --cpu would start one); each of them
    # asks for the CPU, so accelerate joins them with gloo
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
           "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(port),
           str(tmp_path / "rank.py"), json.dumps(cfg)]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    assert (out / "rank1.json").exists(), (p.stdout[-2000:], p.stderr[-3000:])
    r0, r1 = (json.loads((out / f"rank{i}.json").read_text()) for i in (0, 1))
    assert r0["steps"] == r1["steps"] == 3
    text = [k for k in r0["digest"] if k.startswith("text.")]
    assert text and any(k.startswith("unet.") for k in r0["digest"])
    differ = [k for k in r0["digest"] if r0["digest"][k] != r1["digest"][k]]
    assert not differ, differ[:5]


def test_gpu_check_tiny_runs_on_the_cpu(tmp_path):
    """benchmarks/gpu_check.py --tiny: the prepared GPU script's every stage, on tiny components."""
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.getcwd())
    p = subprocess.run([sys.executable, "benchmarks/gpu_check.py", "--tiny", "--json", str(tmp_path / "f.json")],
                       capture_output=True, text=True, env=env, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    fig = json.loads((tmp_path / "f.json").read_text())
    assert fig["window_frames"] == 1024 and fig["guided_step_gflop"] > 0
    assert set(fig["edits"]) == {"4", "1"} and all(e["seconds"] > 0 for e in fig["edits"].values())
    assert fig["train"]["steps"] == 2 and fig["train"]["seconds_per_step"] > 0
    assert "MFU n/a" in p.stdout and "peak memory n/a on the CPU" in p.stdout
    bad = subprocess.run([sys.executable, "benchmarks/gpu_check.py", "--device", "cuda:7"], capture_output=True,
                         text=True, env=env, timeout=300)
    if not torch.cuda.is_available():
        assert bad.returncode == 2 and "no usable CUDA GPU" in bad.stderr
