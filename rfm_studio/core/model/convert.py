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
from ..flow.config import FlowConfig, FlowTrainingConfig, PathConfig, SamplerConfig
from .bundle import RFMEditor, quiet_transformers
from .codec import KLCodec
from .files import read_json
from .text_encoder import InstructionEncoder, TextEncoderConfig, load_tokenizer, load_transformers_encoder
from .unet import Denoiser
from .vocoder import GriffinLimVocoder, load_vocoder

# AudioLDM and Tango U-Nets are DDPM-pretrained (timestep 0: clean data, 1000: noise): a converted
# U-Net keeps that convention, the RFM time t mapped to 1000 (1 - t)
PAPER_FLOW = FlowConfig(PathConfig(sigma_min=1e-4, source="noise", prediction="velocity", timestep_convention="ddpm"),
                        SamplerConfig(t_start=0.01, steps=200, guidance=3.0), FlowTrainingConfig(cond_dropout=0.1))


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
        model = load_transformers_encoder(text_path, safetensors_only=False)
    except ValueError as exc:
        raise ModelLoadError(f"Cannot load the text encoder from {text_path} "
                             f"({str(exc).splitlines()[0][:160]}).") from None
    tokenizer = load_tokenizer(tok_path)
    check_tokenizer(tokenizer, tok_path, int(model.config.vocab_size), text_path)
    return InstructionEncoder(model, tokenizer, TextEncoderConfig(base="folder", max_length=64))


UNET_WEIGHT_FILES = ("diffusion_pytorch_model.safetensors", "model.safetensors", "diffusion_pytorch_model.bin")


def read_unet_weights(folder: Path) -> dict:
    """The U-Net checkpoint's own tensors (safetensors; a third-party .bin only with weights_only)."""
    import torch

    for name in UNET_WEIGHT_FILES:
        f = folder / name
        if f.is_file():
            try:
                if name.endswith(".safetensors"):
                    from safetensors.torch import load_file

                    return load_file(str(f))
                return torch.load(str(f), map_location="cpu", weights_only=True)
            except Exception as exc:  # a damaged or foreign file: one sentence
                raise ModelLoadError(f"Cannot read the U-Net weights {f} ({str(exc).splitlines()[0][:160]}).") from None
    raise ModelLoadError(f"The U-Net folder {folder} has no weights ({', '.join(UNET_WEIGHT_FILES)}).")


def _count_blocks(keys, prefix: str) -> int:
    idx = {int(k[len(prefix):].split(".", 1)[0]) for k in keys if k.startswith(prefix)}
    return max(idx) + 1 if idx else 0


def unet_layout(state: dict) -> dict:
    """What the checkpoint's keys say about its architecture, whatever its config.json claims:
    each down/up block's kind (with or without attention: Stable Diffusion / Tango order
    ends the down path with a plain block, AudioLDM's starts with one), the middle block,
    the class embedding AudioLDM 1 uses for its CLAP condition (FiLM: added to the time
    embedding, or concatenated with it) and the cross-attention width."""
    keys = list(state)
    n_down, n_up = _count_blocks(keys, "down_blocks."), _count_blocks(keys, "up_blocks.")
    has = lambda p: any(k.startswith(p) for k in keys)
    down = ["CrossAttnDownBlock2D" if has(f"down_blocks.{i}.attentions.") else "DownBlock2D" for i in range(n_down)]
    up = ["CrossAttnUpBlock2D" if has(f"up_blocks.{i}.attentions.") else "UpBlock2D" for i in range(n_up)]
    mid = "UNetMidBlock2DCrossAttn" if has("mid_block.attentions.") else ("UNetMidBlock2D" if has("mid_block.") else None)
    temb = state["time_embedding.linear_2.weight"].shape[0] if "time_embedding.linear_2.weight" in state else None
    projs = [v for k, v in state.items() if k.endswith("time_emb_proj.weight")]
    concat = bool(temb and projs and projs[0].shape[1] == 2 * temb)
    k_dims = sorted({v.shape[1] for k, v in state.items() if k.endswith("attn2.to_k.weight")})
    return {"down_block_types": down, "up_block_types": up, "mid_block_type": mid,
            "class_embedding": has("class_embedding."), "class_embeddings_concat": concat,
            "cross_attention_dims": k_dims}


def _converted_state(state: dict, own: dict, layout: dict, act) -> tuple[dict, list]:
    """``state`` mapped onto the converted U-Net's parameters ``own``: every tensor whose name and
    shape match is kept; the input convolution is widened with zeros; a class embedding is
    folded in as its value for a zero condition (its bias), so the converted U-Net computes
    what the original computed with the class condition zeroed. Returns (state, new names)."""
    import torch

    out, new = {}, []
    # a linear class embedding (AudioLDM's "simple_projection") gives its bias for a zero condition;
    # other kinds are dropped without folding
    cls_bias = state.get("class_embedding.bias")
    for k, target in own.items():
        v = state.get(k)
        if k.endswith("time_emb_proj.bias") and v is not None and layout["class_embeddings_concat"] \
                and cls_bias is not None:
            w = state[k[: -len("bias")] + "weight"]
            half = w.shape[1] // 2
            out[k] = v + (w[:, half:].float() @ act(cls_bias.float())).to(v.dtype)
        elif v is not None and v.shape == target.shape:
            out[k] = v
        elif k == "conv_in.weight" and v is not None and v.shape[0] == target.shape[0] \
                and v.shape[2:] == target.shape[2:] and v.shape[1] < target.shape[1]:
            w = torch.zeros(target.shape, dtype=v.dtype)
            w[:, : v.shape[1]] = v
            out[k] = w
        elif k.endswith("time_emb_proj.weight") and v is not None and layout["class_embeddings_concat"] \
                and v.shape[1] == 2 * target.shape[1]:
            out[k] = v[:, : target.shape[1]].clone()
        else:
            new.append(k)
    if layout["class_embedding"] and not layout["class_embeddings_concat"] and cls_bias is not None:
        k = "time_embedding.linear_2.bias"  # FiLM added to the time embedding: fold it there
        out[k] = out[k] + cls_bias
    return out, new


def load_t2a_unet(folder, cross_attention_dim: int, latent_channels: int):
    """A text-to-audio UNet2DConditionModel, widened for the concatenated original latent.
    Its block layout comes from the checkpoint's keys (``unet_layout``); only the input
    convolution (zero weights for the original latent's channels) and, where the checkpoint
    has none of the text encoder's width, the cross-attention key/value projections are new.
    The converted U-Net's ``conversion`` config entry records what was new."""
    import torch
    from diffusers import UNet2DConditionModel
    from diffusers.models.activations import get_activation

    folder, cfg = component_folder(folder, "U-Net")
    state = read_unet_weights(folder)
    layout = unet_layout(state)
    if "conv_in.weight" not in state or not layout["down_block_types"]:
        raise ModelLoadError(f"The U-Net weights in {folder} are not a UNet2DConditionModel's (no conv_in or down blocks).")
    in_ch = int(state["conv_in.weight"].shape[1])
    if in_ch not in (latent_channels, 2 * latent_channels):
        raise ModelLoadError(f"The U-Net in {folder} takes {in_ch} channels; "
                             f"expected {latent_channels} (text-to-audio) or {2 * latent_channels}.")
    new_cfg = {k: v for k, v in cfg.items() if not k.startswith("_")}
    new_cfg.update(down_block_types=layout["down_block_types"], up_block_types=layout["up_block_types"],
                   mid_block_type=layout["mid_block_type"], cross_attention_dim=cross_attention_dim,
                   in_channels=2 * latent_channels, class_embed_type=None,
                   projection_class_embeddings_input_dim=None, class_embeddings_concat=False,
                   num_class_embeds=None, addition_embed_type=None)
    try:
        fresh = UNet2DConditionModel(**new_cfg)
    except (TypeError, ValueError) as exc:
        raise ModelLoadError(f"Cannot build the U-Net of {folder} ({str(exc).splitlines()[0][:160]}).") from None
    act = get_activation(new_cfg.get("act_fn", "silu"))
    weights, new = _converted_state(state, fresh.state_dict(), layout, act)
    fresh.load_state_dict(weights, strict=False)
    new_params = sum(fresh.state_dict()[k].numel() for k in new)
    fresh.register_to_config(conversion={
        "source_in_channels": in_ch, "block_order": "stable-diffusion" if layout["down_block_types"][-1] == "DownBlock2D"
        and layout["down_block_types"][0] != "DownBlock2D" else "audioldm",
        "class_embedding_folded": bool(layout["class_embedding"]), "new_tensors": sorted(new),
        "new_parameters": int(new_params)})
    return fresh


PAPER_FRAMES = 1024  # the paper's clips: 1024 mel frames (10.24 s at 100 frames/s)


def paper_window_frames(frame_multiple: int) -> int:
    """The paper's 1024 frames, as a multiple of what the VAE and U-Net downsample by (the
    U-Net's ``sample_size`` is only the size it was pretrained on, not the clip length)."""
    return max(frame_multiple, (PAPER_FRAMES // frame_multiple) * frame_multiple)


def build_paper_bundle(vae_dir, unet_dir, text_dir, vocoder_dir=None, tokenizer_dir=None,
                       flow: FlowConfig = PAPER_FLOW) -> RFMEditor:
    quiet_transformers()
    # every folder is checked for its kind before anything is loaded
    vae_path, _ = component_folder(vae_dir, "VAE")
    unet_path, _ = component_folder(unet_dir, "U-Net")
    component_folder(text_dir, "text encoder")
    voc_path = component_folder(vocoder_dir, "vocoder")[0] if vocoder_dir else None
    try:
        vae = KLCodec.from_pretrained(vae_path, safetensors_only=False)
    except (OSError, ValueError, TypeError, RuntimeError) as exc:
        raise ModelLoadError(f"Cannot load the VAE from {vae_path} ({str(exc).splitlines()[0][:160]}).") from None
    text = _load_text_encoder(text_dir, tokenizer_dir)
    unet = load_t2a_unet(unet_path, text.hidden_size, vae.latent_channels)
    vocoder = load_vocoder(voc_path) if voc_path else GriffinLimVocoder()
    denoiser = Denoiser(unet)
    return RFMEditor(vae, denoiser, text, vocoder, flow, MelConfig(),
                     window_frames=paper_window_frames(vae.frame_multiple * denoiser.frame_multiple),
                     peak_normalize=0.5, info={"name": "rfm-editing-paper", "render": "vocoder",
                                               "sources": {"vae": str(vae_dir), "unet": str(unet_dir),
                                                           "text_encoder": str(text_dir),
                                                           "vocoder": str(vocoder_dir or "griffin-lim")}})
