"""One prepared GPU check of the paper-scale path (issue: the GPU user's path).

Builds a real-size random paper bundle in memory (Tango-size U-Net widened to 16 input
channels, a Flan-T5-large-sized T5 encoder, AudioLDM's VAE and HiFi-GAN), then

  1. times 200-step and 25-step edits of a 10.24 s clip in bfloat16 with batched guidance
     (cond + uncond in one U-Net batch), and reports the model FLOP utilisation (MFU) from a
     FLOP count of one guided U-Net step (torch.utils.flop_counter) and the GPU's peak;
  2. trains 20 steps at batch 8 on 10.24 s clips (bf16 autocast, text-encoder LoRA) and
     reports the time per step and the peak GPU memory.

    python benchmarks/gpu_check.py                 # one H100/H200: finishes in under 8 minutes
    python benchmarks/gpu_check.py --tiny          # tiny components on the CPU (the test suite runs it)

Prints one line per figure and, with --json, writes them to a file. Weights are random: the
figures are speed and memory, not quality.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

# dense bf16 peak (no sparsity), FLOP/s, by the device name's marker
PEAK_BF16 = (("H100 PCIe", 756e12), ("H100 NVL", 835e12), ("H200", 989e12), ("H100", 989e12), ("A100", 312e12),
             ("L40S", 362e12), ("RTX 4090", 165e12))

FULL = dict(
    unet=dict(sample_size=[256, 16], in_channels=16, out_channels=8, block_out_channels=[320, 640, 1280, 1280],
              down_block_types=["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"],
              up_block_types=["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3, layers_per_block=2,
              cross_attention_dim=1024, attention_head_dim=8, norm_num_groups=32),
    t5=dict(d_model=1024, d_kv=64, d_ff=2816, num_layers=24, num_heads=16, feed_forward_proj="gated-gelu"),
    vae=dict(block_out_channels=[128, 256, 512], layers_per_block=2, norm_num_groups=32),
    hifigan={},
    edit_steps=(200, 25), train_steps=20, batch=8, lora_layers=None,
)
TINY = dict(
    unet=dict(sample_size=[64, 16], in_channels=16, out_channels=8, block_out_channels=[16, 32],
              down_block_types=["CrossAttnDownBlock2D", "DownBlock2D"],
              up_block_types=["UpBlock2D", "CrossAttnUpBlock2D"], layers_per_block=1, cross_attention_dim=32,
              attention_head_dim=4, norm_num_groups=8),
    t5=dict(d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4),
    vae=dict(block_out_channels=[8, 16, 16], layers_per_block=1, norm_num_groups=8),
    hifigan=dict(upsample_initial_channel=32),
    edit_steps=(4, 1), train_steps=2, batch=1, lora_layers=[1],
)


def build_bundle(spec: dict, device: str):
    """A random paper bundle of ``spec``'s sizes, built on ``device`` (float32)."""
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import T5Config, T5EncoderModel

    from rfm_studio.core.features.mel import MelConfig
    from rfm_studio.core.model.bundle import RFMEditor, quiet_transformers
    from rfm_studio.core.model.codec import KLCodec
    from rfm_studio.core.model.convert import PAPER_FLOW, paper_window_frames
    from rfm_studio.core.model.text_encoder import InstructionEncoder, TextEncoderConfig, load_tokenizer, \
        package_model_dir
    from rfm_studio.core.model.unet import Denoiser
    from rfm_studio.core.model.vocoder import HifiGanVocoder

    quiet_transformers()
    torch.manual_seed(0)
    tok = load_tokenizer(package_model_dir())  # any tokenizer: the encoder's size is what counts here
    with torch.device(device):
        unet = UNet2DConditionModel(**spec["unet"])
        vae = AutoencoderKL(in_channels=1, out_channels=1, latent_channels=8, sample_size=256,
                            down_block_types=["DownEncoderBlock2D"] * len(spec["vae"]["block_out_channels"]),
                            up_block_types=["UpDecoderBlock2D"] * len(spec["vae"]["block_out_channels"]),
                            scaling_factor=0.9227914214134216, **spec["vae"])
        t5 = T5EncoderModel(T5Config(vocab_size=tok.vocab_size, **spec["t5"]))
        voc = HifiGanVocoder.from_config(**spec["hifigan"])
    text = InstructionEncoder(t5, tok, TextEncoderConfig(base="folder", max_length=64))
    codec, den = KLCodec(vae), Denoiser(unet)
    m = RFMEditor(codec, den, text, voc, PAPER_FLOW, MelConfig(),
                  window_frames=paper_window_frames(codec.frame_multiple * den.frame_multiple), peak_normalize=0.5,
                  info={"name": "gpu-check-random", "render": "vocoder"})
    return m.to(device).eval()


def count(module) -> int:
    return sum(p.numel() for p in module.parameters())


def sync(device):
    import torch

    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def peak_flops(device: str, override: float | None) -> tuple[float | None, str]:
    import torch

    if override:
        return override * 1e12, "given"
    if not str(device).startswith("cuda"):
        return None, "no peak known for the CPU"
    name = torch.cuda.get_device_name(torch.device(device))
    for mark, flops in PEAK_BF16:
        if mark in name:
            return flops, name
    return None, f"no peak known for {name} (give --peak-tflops)"


def guided_step_flops(m, frames: int, device) -> int:
    """FLOPs of one guided Euler step: one U-Net forward on the batched cond + uncond pair."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    lat = torch.zeros(1, m.codec.latent_channels, frames // m.codec.frame_multiple,
                      m.mel_config.n_mels // m.codec.frame_multiple, device=device)
    with torch.no_grad():
        cond = m.encode_instruction(["Remove the dog barking"])
        with FlopCounterMode(display=False) as fc:
            m.guided_velocity(lat, lat, 0.5, cond, 3.0)
    return int(fc.get_total_flops())


def time_edits(m, device, steps_list, clip, sr=16000) -> dict:
    from rfm_studio.core.editing import edit

    edit(m, clip, sr, "Remove the dog barking", steps=2, guidance=3.0, seed=0)  # warm-up (kernels, caches)
    out = {}
    for steps in steps_list:
        sync(device)
        t0 = time.perf_counter()
        res = edit(m, clip, sr, "Remove the dog barking", steps=steps, guidance=3.0, seed=0)
        sync(device)
        out[steps] = time.perf_counter() - t0
        assert res.params["windows"] == 1, "a 10.24 s clip must be one window"
    return out


def write_clips(folder: Path, n: int, seconds: float, sr: int = 16000) -> Path:
    import numpy as np
    import soundfile as sf

    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        x = (0.1 * rng.standard_normal(int(seconds * sr))).astype(np.float32)
        sf.write(folder / f"in{i}.wav", x, sr)
        sf.write(folder / f"tg{i}.wav", 0.5 * x, sr)
        rows.append({"input": f"in{i}.wav", "target": f"tg{i}.wav", "instruction": "Make it quieter"})
    (folder / "train.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    return folder / "train.jsonl"


def time_training(m, device, steps: int, batch: int, dtype: str, lora_layers, grad_ckpt: bool) -> dict:
    import torch

    from rfm_studio.core.training.loop import TrainConfig, train

    with tempfile.TemporaryDirectory() as tmp:
        man = write_clips(Path(tmp), max(batch, 2), 10.24)
        cfg = TrainConfig(data=str(man), out=str(Path(tmp) / "run"), init="gpu-check", steps=10 * steps + 10,
                          batch_size=batch, crop_seconds=10.24, lr=5e-5, warmup=1, val_every=10**9,
                          checkpoint_seconds=1e12, log_every=1, device=device, dtype=dtype, lora_layers=lora_layers,
                          grad_checkpointing=grad_ckpt, val_batches=1)
        if str(device).startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
        times = {}
        t0 = time.perf_counter()
        for ev in train(cfg, model=m):
            if ev.message:
                continue
            sync(device)
            times[ev.step] = time.perf_counter() - t0
            if ev.step >= steps:
                break  # before the run's final validation and checkpoint
        warm = min(3, steps - 1)  # the first steps compile kernels and fill caches
        per_step = (times[steps] - times[warm]) / (steps - warm)
        peak = torch.cuda.max_memory_allocated() / 2**30 if str(device).startswith("cuda") else None
    return {"steps": steps, "batch": batch, "seconds_per_step": per_step, "first_step_s": times[1],
            "peak_memory_gib": peak}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tiny", action="store_true", help="tiny components on the CPU (what the test suite runs)")
    p.add_argument("--device", default=None, help="default: cuda (cpu with --tiny)")
    p.add_argument("--dtype", default=None, help="default: bfloat16 (float32 with --tiny on the CPU)")
    p.add_argument("--peak-tflops", type=float, default=None, help="the device's dense peak for MFU")
    p.add_argument("--grad-checkpointing", action="store_true")
    p.add_argument("--skip-train", action="store_true")
    p.add_argument("--json", default=None, help="also write the figures to this file")
    args = p.parse_args(argv)

    import numpy as np
    import torch

    from rfm_studio.core.devices import resolve_device, resolve_dtype
    from rfm_studio.core.errors import OptionError

    spec = TINY if args.tiny else FULL
    try:
        device = resolve_device(args.device or ("cpu" if args.tiny else "cuda"))
        dtype = resolve_dtype(args.dtype or ("bfloat16" if not args.tiny else "float32"), device)
    except OptionError as exc:
        print(f"gpu_check: {exc}", file=sys.stderr)
        return 2
    if device.startswith("cuda:"):
        torch.cuda.set_device(torch.device(device))
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    t_start = time.perf_counter()
    fig = {"device": device if not device.startswith("cuda") else torch.cuda.get_device_name(torch.device(device)),
           "dtype": str(dtype).replace("torch.", ""), "torch": torch.__version__, "tiny": bool(args.tiny)}

    t0 = time.perf_counter()
    m = build_bundle(spec, device)
    fig["build_s"] = time.perf_counter() - t0
    fig["params_m"] = {"unet": count(m.denoiser) / 1e6, "text_encoder": count(m.text_encoder) / 1e6,
                       "vae": count(m.codec) / 1e6, "vocoder": count(m.vocoder) / 1e6}
    fig["window_frames"] = m.window_frames
    print(f"bundle: U-Net {fig['params_m']['unet']:.0f} M ({m.denoiser.net.config.in_channels} input channels), "
          f"T5 {fig['params_m']['text_encoder']:.0f} M, VAE {fig['params_m']['vae']:.1f} M, "
          f"HiFi-GAN {fig['params_m']['vocoder']:.1f} M; window {m.window_frames} frames; "
          f"built in {fig['build_s']:.1f} s on {fig['device']}", flush=True)

    # ---- edits ----------------------------------------------------------------------------
    m.set_dtype(dtype)
    clip = (0.1 * np.random.default_rng(1).standard_normal(int(10.24 * 16000))).astype(np.float32)
    step_flops = guided_step_flops(m, m.window_frames, device)
    secs = time_edits(m, device, spec["edit_steps"], clip)
    peak, peak_src = peak_flops(device, args.peak_tflops)
    fig["guided_step_gflop"] = step_flops / 1e9
    fig["edits"] = {}
    for steps, s in secs.items():
        achieved = steps * step_flops / s  # the U-Net's share; VAE, vocoder and text encoder run once
        mfu = achieved / peak if peak else None
        fig["edits"][str(steps)] = {"seconds": s, "unet_tflops_per_s": achieved / 1e12, "mfu": mfu}
        print(f"edit 10.24 s, {steps} steps, guidance batched: {s:.3f} s; U-Net {achieved / 1e12:.2f} TFLOP/s; "
              f"MFU {'%.1f %%' % (100 * mfu) if mfu is not None else 'n/a (' + peak_src + ')'}", flush=True)

    # ---- training ---------------------------------------------------------------------------
    if not args.skip_train:
        m.set_dtype(torch.float32)  # trainable weights in float32; the run computes in --dtype (autocast)
        m.train()
        tr = time_training(m, device, spec["train_steps"], spec["batch"], fig["dtype"], spec["lora_layers"],
                           args.grad_checkpointing)
        fig["train"] = tr
        mem = f"{tr['peak_memory_gib']:.1f} GiB" if tr["peak_memory_gib"] is not None else "n/a on the CPU"
        print(f"train {tr['steps']} steps at batch {tr['batch']} (10.24 s clips, {fig['dtype']}): "
              f"{tr['seconds_per_step']:.3f} s/step after warm-up; peak memory {mem}", flush=True)
    fig["total_s"] = time.perf_counter() - t_start
    print(f"total {fig['total_s']:.0f} s", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(fig, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
