"""Tiny random components saved in the public formats a paper-scale bundle is converted from
(AudioLDM VAE as diffusers AutoencoderKL, a Tango-style text-to-audio UNet2DConditionModel,
Flan-T5-style T5EncoderModel with a tokenizer, AudioLDM HiFi-GAN as SpeechT5HifiGan).
For tests and the packaging smoke test: the real loading code runs on them offline."""

from __future__ import annotations

from pathlib import Path


def write_tiny_public_components(folder) -> Path:
    """Write vae/, unet/, t5/ and hifigan/ under ``folder``; returns it."""
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import T5Config, T5EncoderModel

    from .text_encoder import load_tokenizer, package_model_dir
    from .vocoder import HifiGanVocoder

    d = Path(folder)
    torch.manual_seed(0)
    # AudioLDM VAE layout: 1-channel mel image, 3 levels (4x down), 8 latent channels, learnt scaling factor
    AutoencoderKL(in_channels=1, out_channels=1, latent_channels=8, block_out_channels=[8, 16, 16],
                  down_block_types=["DownEncoderBlock2D"] * 3, up_block_types=["UpDecoderBlock2D"] * 3,
                  layers_per_block=1, norm_num_groups=8, sample_size=256,
                  scaling_factor=0.9227914214134216).save_pretrained(d / "vae")
    # Tango-style text-to-audio U-Net: 8 latent channels in, cross-attention to the text encoder
    UNet2DConditionModel(sample_size=[64, 16], in_channels=8, out_channels=8, block_out_channels=[16, 32],
                         down_block_types=["DownBlock2D", "CrossAttnDownBlock2D"],
                         up_block_types=["CrossAttnUpBlock2D", "UpBlock2D"], layers_per_block=1,
                         cross_attention_dim=32, attention_head_dim=4, norm_num_groups=8).save_pretrained(d / "unet")
    tok = load_tokenizer(package_model_dir())
    T5EncoderModel(T5Config(vocab_size=tok.vocab_size, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4)
                   ).save_pretrained(d / "t5")
    tok.save_pretrained(d / "t5")
    HifiGanVocoder.from_config(upsample_initial_channel=64).save_pretrained(d / "hifigan")
    return d
