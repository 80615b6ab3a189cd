"""Build a paper-scale RFM-Editing bundle from public components in their own formats.

- VAE: a diffusers ``AutoencoderKL`` folder (AudioLDM's, 8 latent channels, 4x down).
- U-Net: a diffusers ``UNet2DConditionModel`` folder of a text-to-audio model (Tango /
  AudioLDM layout, 8 input channels); widened InstructPix2Pix-style to 16 input channels
  (noisy latent + original latent) with zero weights for the new ones. A U-Net without
  cross-attention (AudioLDM 1 conditions on a CLAP class embedding) is rebuilt with
  cross-attention to the text encoder and every weight whose name and shape match is kept.
- Text encoder: a transformers folder (Flan-T5 -> ``T5EncoderModel``) with its tokenizer.
- Vocoder: a transformers ``SpeechT5HifiGan`` folder (AudioLDM's HiFi-GAN) or a BigVGAN
  folder; without one, Griffin-Lim.
Nothing is downloaded: every argument is a local folder.
"""

from __future__ import annotations

from pathlib import Path


from ..errors import ModelLoadError
from ..features.mel import MelConfig
from ..flow.rectified import FlowConfig
from .bundle import RFMEditor, quiet_transformers
from .codec import KLCodec
from .text_encoder import InstructionEncoder, TextEncoderConfig, load_tokenizer, load_transformers_encoder
from .unet import Denoiser, widen_conv_in
from .vocoder import GriffinLimVocoder, load_vocoder

PAPER_FLOW = FlowConfig(sigma_min=1e-4, source="noise", prediction="velocity", t_start=0.01, steps=200,
                        guidance=3.0, cond_dropout=0.1)


def _need(folder, what):
    p = Path(folder) if folder else None
    if p is None or not p.is_dir():
        raise ModelLoadError(f"The {what} folder was not found: {folder}")
    return p


def load_t2a_unet(folder, cross_attention_dim: int, latent_channels: int):
    """A text-to-audio UNet2DConditionModel, widened for the concatenated original latent."""
    from diffusers import UNet2DConditionModel

    unet = UNet2DConditionModel.from_pretrained(str(folder), local_files_only=True)
    cfg = dict(unet.config)
    needs_rebuild = cfg.get("cross_attention_dim") != cross_attention_dim or cfg.get("class_embed_type") is not None \
        or any("CrossAttn" not in b for b in cfg["down_block_types"][1:])
    if needs_rebuild:
        new_cfg = {k: v for k, v in cfg.items() if not k.startswith("_")}
        new_cfg.update(cross_attention_dim=cross_attention_dim, class_embed_type=None,
                       projection_class_embeddings_input_dim=None, only_cross_attention=False,
                       down_block_types=[cfg["down_block_types"][0]] + ["CrossAttnDownBlock2D"] * (len(cfg["down_block_types"]) - 1),
                       up_block_types=["CrossAttnUpBlock2D"] * (len(cfg["up_block_types"]) - 1) + [cfg["up_block_types"][-1]],
                       mid_block_type="UNetMidBlock2DCrossAttn")
        fresh = UNet2DConditionModel(**new_cfg)
        own = fresh.state_dict()
        keep = {k: v for k, v in unet.state_dict().items() if k in own and own[k].shape == v.shape}
        fresh.load_state_dict(keep, strict=False)
        unet = fresh
    if unet.config.in_channels == latent_channels:
        widen_conv_in(unet, latent_channels)
    elif unet.config.in_channels != 2 * latent_channels:
        raise ModelLoadError(f"The U-Net in {folder} takes {unet.config.in_channels} channels; "
                             f"expected {latent_channels} (text-to-audio) or {2 * latent_channels}.")
    return unet


def build_paper_bundle(vae_dir, unet_dir, text_dir, vocoder_dir=None, tokenizer_dir=None,
                       flow: FlowConfig = PAPER_FLOW) -> RFMEditor:
    quiet_transformers()
    vae = KLCodec.from_pretrained(_need(vae_dir, "VAE"))
    text_path = _need(text_dir, "text encoder")
    text = InstructionEncoder(load_transformers_encoder(text_path),
                              load_tokenizer(Path(tokenizer_dir) if tokenizer_dir else text_path),
                              TextEncoderConfig(base="folder", max_length=64))
    unet = load_t2a_unet(_need(unet_dir, "U-Net"), text.hidden_size, vae.latent_channels)
    vocoder = load_vocoder(_need(vocoder_dir, "vocoder")) if vocoder_dir else GriffinLimVocoder()
    frames = int(unet.config.sample_size[0] if isinstance(unet.config.sample_size, (list, tuple))
                 else unet.config.sample_size) * vae.frame_multiple
    return RFMEditor(vae, Denoiser(unet), text, vocoder, flow, MelConfig(), window_frames=min(max(frames, 256), 1024),
                     peak_normalize=0.5, info={"name": "rfm-editing-paper", "render": "vocoder",
                                               "sources": {"vae": str(vae_dir), "unet": str(unet_dir),
                                                           "text_encoder": str(text_dir),
                                                           "vocoder": str(vocoder_dir or "griffin-lim")}})
