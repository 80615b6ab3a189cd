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
from .kinds import vocoder_kind
from ..features.mel import MelConfig
from ..flow.rectified import FlowConfig
from .bundle import RFMEditor, quiet_transformers
from .codec import KLCodec
from .files import read_json
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


def _holds(cfg: dict) -> str:
    """What a component folder's config.json says it holds, in words."""
    if cfg.get("_class_name"):
        return f"a model of class {cfg['_class_name']}"
    if cfg.get("model_type"):
        return f"a transformers '{cfg['model_type']}' model"
    if "upsample_initial_channel" in cfg and "resblock" in cfg:
        return "a BigVGAN vocoder"
    return "a config.json of no known kind"


def _is_text_model(cfg: dict) -> bool:
    return not cfg.get("_class_name") and isinstance(cfg.get("model_type"), str) \
        and isinstance(cfg.get("vocab_size"), int) and bool(cfg.get("d_model") or cfg.get("hidden_size"))


def _is_vocoder(cfg: dict) -> bool:
    return vocoder_kind(cfg) is not None


COMPONENT_KINDS = {  # what: (check on config.json, what it should hold)
    "VAE": (lambda c: c.get("_class_name") == "AutoencoderKL", "a diffusers AutoencoderKL (the AudioLDM VAE)"),
    "U-Net": (lambda c: c.get("_class_name") == "UNet2DConditionModel", "a diffusers UNet2DConditionModel"),
    "text encoder": (_is_text_model, "a transformers text encoder such as Flan-T5"),
    "vocoder": (_is_vocoder, "a SpeechT5HifiGan or BigVGAN vocoder"),
}


def component_folder(folder, what: str) -> tuple[Path, dict]:
    """``folder`` and its config.json, when it holds the kind of component ``what`` names;
    otherwise one sentence naming the folder and what it holds."""
    p = _need(folder, what)
    ok, expected = COMPONENT_KINDS[what]
    if not (p / "config.json").is_file():
        raise ModelLoadError(f"The {what} folder {p} has no config.json, so it is not {expected}.")
    cfg = read_json(p / "config.json")
    if not isinstance(cfg, dict) or not ok(cfg):
        raise ModelLoadError(f"The {what} folder {p} holds {_holds(cfg if isinstance(cfg, dict) else {})}, "
                             f"not {expected}.")
    return p, cfg


TOKENIZER_FILES = ("tokenizer.json", "spiece.model", "vocab.txt", "vocab.json", "sentencepiece.bpe.model",
                   "spm.model", "tokenizer.model")


def check_tokenizer(tokenizer, tok_dir: Path, vocab_size: int, text_dir: Path) -> None:
    """One sentence when the tokenizer cannot be the text model's: transformers builds a tiny
    default tokenizer (about 100 tokens for T5) from a folder without vocabulary files."""
    n = len(tokenizer)
    if n < vocab_size // 2 or n > vocab_size:
        raise ModelLoadError(f"The tokenizer in {tok_dir} has {n} tokens but the text encoder in {text_dir} has a "
                             f"vocabulary of {vocab_size}; give the text model's own tokenizer with --tokenizer.")


def _load_text_encoder(text_dir, tokenizer_dir):
    text_path, _ = component_folder(text_dir, "text encoder")
    tok_path = _need(tokenizer_dir, "tokenizer") if tokenizer_dir else text_path
    if not any((tok_path / f).is_file() for f in TOKENIZER_FILES):
        raise ModelLoadError(f"The {'tokenizer' if tokenizer_dir else 'text encoder'} folder {tok_path} has no "
                             "tokenizer files (tokenizer.json, spiece.model or vocab.txt); "
                             "give the tokenizer's folder with --tokenizer.")
    try:
        model = load_transformers_encoder(text_path)
    except ValueError as exc:
        raise ModelLoadError(f"Cannot load the text encoder from {text_path} "
                             f"({str(exc).splitlines()[0][:160]}).") from None
    tokenizer = load_tokenizer(tok_path)
    check_tokenizer(tokenizer, tok_path, int(model.config.vocab_size), text_path)
    return InstructionEncoder(model, tokenizer, TextEncoderConfig(base="folder", max_length=64))


def _class_embedding_free(state: dict, own: dict) -> dict:
    """Weights of a U-Net built with ``class_embeddings_concat`` for the same U-Net without it:
    every resnet's time projection took [time embedding, class embedding]; keep the time half."""
    out = {}
    for k, v in state.items():
        if k not in own:
            continue
        if own[k].shape == v.shape:
            out[k] = v
        elif k.endswith("time_emb_proj.weight") and v.dim() == 2 and v.shape[0] == own[k].shape[0] \
                and v.shape[1] == 2 * own[k].shape[1]:
            out[k] = v[:, : own[k].shape[1]].clone()
    return out


def load_t2a_unet(folder, cross_attention_dim: int, latent_channels: int):
    """A text-to-audio UNet2DConditionModel, widened for the concatenated original latent."""
    from diffusers import UNet2DConditionModel

    folder, _ = component_folder(folder, "U-Net")
    try:
        unet = UNet2DConditionModel.from_pretrained(str(folder), local_files_only=True)
    except (OSError, ValueError, TypeError, RuntimeError) as exc:
        raise ModelLoadError(f"Cannot load the U-Net from {folder} ({str(exc).splitlines()[0][:160]}).") from None
    cfg = dict(unet.config)
    # AudioLDM 1 conditions on a CLAP embedding added to (or, with class_embeddings_concat, concatenated
    # with) the time embedding; the rebuilt U-Net has no class embedding, so none of these may remain
    needs_rebuild = cfg.get("cross_attention_dim") != cross_attention_dim or cfg.get("class_embed_type") is not None \
        or bool(cfg.get("class_embeddings_concat")) or cfg.get("num_class_embeds") is not None \
        or cfg.get("addition_embed_type") is not None \
        or any("CrossAttn" not in b for b in cfg["down_block_types"][1:])
    if needs_rebuild:
        new_cfg = {k: v for k, v in cfg.items() if not k.startswith("_")}
        new_cfg.update(cross_attention_dim=cross_attention_dim, class_embed_type=None,
                       projection_class_embeddings_input_dim=None, class_embeddings_concat=False,
                       num_class_embeds=None, addition_embed_type=None, only_cross_attention=False,
                       down_block_types=[cfg["down_block_types"][0]] + ["CrossAttnDownBlock2D"] * (len(cfg["down_block_types"]) - 1),
                       up_block_types=["CrossAttnUpBlock2D"] * (len(cfg["up_block_types"]) - 1) + [cfg["up_block_types"][-1]],
                       mid_block_type="UNetMidBlock2DCrossAttn")
        fresh = UNet2DConditionModel(**new_cfg)
        fresh.load_state_dict(_class_embedding_free(unet.state_dict(), fresh.state_dict()), strict=False)
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
    # every folder is checked for its kind before anything is loaded
    vae_path, _ = component_folder(vae_dir, "VAE")
    unet_path, _ = component_folder(unet_dir, "U-Net")
    component_folder(text_dir, "text encoder")
    voc_path = component_folder(vocoder_dir, "vocoder")[0] if vocoder_dir else None
    try:
        vae = KLCodec.from_pretrained(vae_path)
    except (OSError, ValueError, TypeError, RuntimeError) as exc:
        raise ModelLoadError(f"Cannot load the VAE from {vae_path} ({str(exc).splitlines()[0][:160]}).") from None
    text = _load_text_encoder(text_dir, tokenizer_dir)
    unet = load_t2a_unet(unet_path, text.hidden_size, vae.latent_channels)
    vocoder = load_vocoder(voc_path) if voc_path else GriffinLimVocoder()
    frames = int(unet.config.sample_size[0] if isinstance(unet.config.sample_size, (list, tuple))
                 else unet.config.sample_size) * vae.frame_multiple
    return RFMEditor(vae, Denoiser(unet), text, vocoder, flow, MelConfig(), window_frames=min(max(frames, 256), 1024),
                     peak_normalize=0.5, info={"name": "rfm-editing-paper", "render": "vocoder",
                                               "sources": {"vae": str(vae_dir), "unet": str(unet_dir),
                                                           "text_encoder": str(text_dir),
                                                           "vocoder": str(vocoder_dir or "griffin-lim")}})
