"""RFMEditor: the model bundle (codec + U-Net + instruction encoder + vocoder + flow settings).

A bundle is a folder in Hugging Face layout, loaded offline with one call:

  model_index.json   {"_class_name": "RFMEditor", "mel": {...}, "flow": {...},
                      "window_frames": 1024, "peak_normalize": null, ...}
  unet/              diffusers UNet2DConditionModel or MelUNet1D (config.json + safetensors)
  vae/               diffusers AutoencoderKL or MelNormalizer (config.json [+ safetensors])
  text_encoder/      rfm_text_encoder.json [+ transformers config/weights] [+ lora/]
  tokenizer/         transformers tokenizer files (absent when the encoder comes from a package)
  vocoder/           SpeechT5HifiGan, BigVGAN or GriffinLim (config.json [+ weights])
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch
from torch import nn

from ..errors import ModelLoadError
from ..features.mel import MelConfig, MelFrontEnd
from ..flow.config import FlowConfig
from .codec import KLCodec, load_codec
from .files import read_json, write_json
from .text_encoder import InstructionEncoder
from .unet import Denoiser
from .vocoder import load_vocoder

FORMAT_VERSION = 1
# (its name, the marker of its exports, what an export holds) for atomic.exporting / check_export:
# a model_index.json of this class and the folders save_pretrained writes
BUNDLE_EXPORT = ("model bundle", ("model_index.json", "_class_name", "RFMEditor"),
                 ("model_index.json", "manifest.json", "unet", "vae", "text_encoder", "tokenizer", "vocoder"))


def quiet_transformers():
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    for name in ("transformers", "diffusers", "peft"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        import transformers

        transformers.utils.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
    except Exception:
        pass


def _first_line(exc) -> str:
    lines = str(exc).splitlines()
    return (lines[0] if lines else type(exc).__name__)[:200]


class RFMEditor(nn.Module):
    def __init__(self, codec, denoiser: Denoiser, text_encoder: InstructionEncoder, vocoder,
                 flow: FlowConfig | None = None, mel: MelConfig | None = None, window_frames: int = 1024,
                 peak_normalize: float | None = None, info: dict | None = None):
        super().__init__()
        self.codec = codec
        self.denoiser = denoiser
        self.text_encoder = text_encoder
        self.vocoder = vocoder
        self.flow = flow or FlowConfig()
        self.mel_config = mel or MelConfig()
        self.front_end = MelFrontEnd(self.mel_config)
        self.window_frames = window_frames
        self.peak_normalize = peak_normalize
        self.info = dict(info or {})
        self._uncond_cache = None

    def _apply(self, fn, *args, **kwargs):
        """``.to()``, ``.half()``, ``.cuda()``...: attached adapters' LoRA factors (kept outside
        the module tree, so that they never enter the bundle's weights) move with the model."""
        out = super()._apply(fn, *args, **kwargs)
        for s in getattr(self, "_adapter_sets", None) or []:
            s._apply(fn, *args, **kwargs)
        self._uncond_cache = None
        return out

    # ---- properties -------------------------------------------------------------------
    @property
    def device(self):
        return next(self.denoiser.parameters()).device

    @property
    def dtype(self):
        return next(self.denoiser.parameters()).dtype

    def set_dtype(self, dtype):
        """The bundle's one precision rule: every network (U-Net, VAE, text encoder, vocoder,
        attached adapters' LoRA factors) holds its weights in ``dtype`` and casts its input to it;
        the mel front end, the mels and latents between the networks, the Euler integration
        and the captured attention stay float32 (each network returns float32)."""
        from ..devices import resolve_dtype

        dtype = resolve_dtype(dtype, str(self.device))
        self.to(dtype)  # the mel front end is no module: it computes in its input's dtype (float32)
        return self

    @property
    def frame_multiple(self) -> int:
        cm = self.codec.frame_multiple
        # the denoiser itself, also while training wraps it (DistributedDataParallel under accelerate)
        lat_mult = getattr(self.denoiser, "module", self.denoiser).frame_multiple
        return cm * lat_mult

    # ---- pieces of one edit -----------------------------------------------------------
    def mel(self, wav):
        """waveform [B, samples] (16 kHz) -> log-mel [B, n_mels, frames]."""
        return self.front_end(wav)

    def encode_instruction(self, texts: list[str]):
        return self.text_encoder(texts)

    def uncond_embedding(self, batch: int):
        if self._uncond_cache is None or self._uncond_cache[0].device != self.device:
            with torch.no_grad():
                self._uncond_cache = self.text_encoder([""])
        h, m = self._uncond_cache
        return h.expand(batch, -1, -1), m.expand(batch, -1)

    @property
    def accepts_prompts(self) -> bool:
        """Whether the network has the audio-prompt input (examples and references)."""
        return bool(getattr(self.denoiser, "has_prompt_input", False))

    def prompt_latent(self, audio16):
        """A prepared prompt's samples (16 kHz, see core.prompts.prepare_prompt_audio) ->
        normalised mel [1, n_mels, frames], frames a multiple of 4 (mirrored at the end)."""
        wav = torch.as_tensor(audio16, dtype=torch.float32).reshape(1, -1).to(self.device)
        mel = self.mel(wav)
        f = mel.shape[-1]
        need = -f % 4
        if need:
            mel = torch.cat([mel, mel.flip(-1)[..., 1: need + 1] if f > need else mel[..., -1:].expand(-1, -1, need)],
                            dim=-1)
        return self.codec.encode(mel)  # float32, as in an edit: the network casts to its dtype

    def encode_prompts(self, prompts, batch: int = 1):
        """AudioPrompts (core.prompts) -> (tokens [batch, K, dim], mask [batch, K], gate [batch]) for
        the network, or None when there are none or the network has no prompt input."""
        from ..prompts import check_prompts, prepare_prompt_audio

        prompts = check_prompts(prompts)
        if not prompts or not self.accepts_prompts:
            return None
        net = self.denoiser.net
        toks = [net.encode_prompt(self.prompt_latent(prepare_prompt_audio(p.audio, p.sample_rate,
                                                                           self.mel_config.sample_rate)), p.kind)
                for p in prompts]
        tok = torch.cat(toks, dim=1).expand(batch, -1, -1)
        mask = torch.ones(tok.shape[:2], dtype=torch.bool, device=tok.device)
        return tok, mask, torch.ones(batch, device=tok.device)

    def net_velocity(self, x_t, x_orig, t, context, mask, region=None, prompt=None, prediction=None):
        """The network's velocity at (x_t, t), whatever it predicts (see PathConfig.prediction).
        ``region`` [B, frames] reaches networks with a region channel; others ignore it;
        ``prompt`` (from ``encode_prompts``) reaches networks with the audio-prompt input;
        ``prediction``: the flow's prediction object when the caller holds one (a sampler does)."""
        p = self.flow.path
        tt = t if torch.is_tensor(t) else torch.full((x_t.shape[0],), float(t), device=x_t.device)
        out = self.denoiser(torch.cat([x_t, x_orig], dim=1), p.network_timestep(tt), context, mask, region=region,
                            prompt=prompt)
        return (prediction or p.make_prediction()).velocity(out, x_t, x_orig, tt)

    def guidance_context(self, cond, guidance: float, prompt=None):
        """(context, mask, prompt) of ``guided_velocity``'s network call: ``cond`` and ``prompt`` as
        they are without guidance; with it, the unconditional half (no instruction, the prompts
        gated off) before the conditional one, padded to one length. It depends on the edit's
        conditioning only, so a sampler builds it once."""
        ctx, mask = cond
        if guidance == 1.0:
            return ctx, mask, prompt
        uctx, umask = self.uncond_embedding(ctx.shape[0])
        L = max(ctx.shape[1], uctx.shape[1])
        pad = lambda h, m: (nn.functional.pad(h, (0, 0, 0, L - h.shape[1])), nn.functional.pad(m, (0, L - m.shape[1])))
        ctx, mask = pad(ctx, mask)
        uctx, umask = pad(uctx.to(ctx.dtype), umask)
        if prompt is not None:
            tok, pm, gate = prompt
            prompt = (torch.cat([tok, tok]), torch.cat([pm, pm]), torch.cat([torch.zeros_like(gate), gate]))
        return torch.cat([uctx, ctx]), torch.cat([umask, mask]), prompt

    def guided_velocity(self, x_t, x_orig, t, cond, guidance: float, region=None, prompt=None, prediction=None,
                        context=None):
        """Classifier-free guidance with cond and uncond in one batched forward (the
        unconditional half hears neither instruction nor prompts). ``context``: the caller's
        ``guidance_context(cond, guidance, prompt)`` (then ``cond`` and ``prompt`` are not read)."""
        ctx, mask, prompt = context if context is not None else self.guidance_context(cond, guidance, prompt)
        if guidance == 1.0:
            return self.net_velocity(x_t, x_orig, t, ctx, mask, region, prompt, prediction)
        v = self.net_velocity(torch.cat([x_t, x_t]), torch.cat([x_orig, x_orig]), t, ctx, mask,
                              None if region is None else torch.cat([region, region]), prompt, prediction)
        vu, vc = v.chunk(2)
        return vu + guidance * (vc - vu)

    def decode_audio(self, latent, length: int, init_audio=None):
        mel = self.codec.decode(latent)
        return self.vocoder(mel.float(), length=length, init_audio=init_audio), mel

    # ---- folders ------------------------------------------------------------------------
    def save_pretrained(self, folder, dtype=None):
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.denoiser.save_pretrained(folder / "unet", dtype=dtype)
        self.codec.save_pretrained(folder / "vae")
        self.text_encoder.save_pretrained(folder / "text_encoder", folder / "tokenizer")
        self.vocoder.save_pretrained(folder / "vocoder")
        write_json(folder / "model_index.json", {
            "_class_name": "RFMEditor", "format_version": FORMAT_VERSION,
            "mel": self.mel_config.to_dict(), "flow": self.flow.to_dict(),
            "window_frames": self.window_frames, "peak_normalize": self.peak_normalize,
            "info": self.info,
            "components": {
                "unet": ["rfm_studio" if not self.denoiser.is_diffusers else "diffusers", type(self.denoiser.net).__name__],
                "vae": ["diffusers", "AutoencoderKL"] if isinstance(self.codec, KLCodec) else ["rfm_studio", "MelNormalizer"],
                "text_encoder": ["transformers", type(self.text_encoder.base_model).__name__],
                "tokenizer": ["transformers", type(self.text_encoder.tokenizer).__name__],
                "vocoder": {"GriffinLimVocoder": ["rfm_studio", "GriffinLimVocoder"],
                            "HifiGanVocoder": ["transformers", "SpeechT5HifiGan"],
                            "BigVGANVocoder": ["bigvgan", "BigVGAN"]}.get(type(self.vocoder).__name__,
                                                                         ["rfm_studio", type(self.vocoder).__name__]),
            },
        })
        from .manifest import write_manifest

        write_manifest(folder)
        return folder

    @classmethod
    def from_pretrained(cls, folder, device="cpu", dtype=torch.float32, adapter=None, verify: bool = True):
        """``device``: a resolved device string (core.devices.resolve_device); ``dtype``: a torch
        dtype or its name, applied to every network of the bundle (``set_dtype``). With ``verify``
        (the default) the folder is checked first: only its manifest's files, each matching its
        sha256 (cached while unchanged), no links out of it, no config path leaving it
        (``integrity.check_bundle_before_load``)."""
        quiet_transformers()
        folder = Path(folder)
        if not folder.is_dir():
            raise ModelLoadError(f"Model folder not found: {folder}")
        idx = read_json(folder / "model_index.json")
        if not isinstance(idx, dict) or idx.get("_class_name") != "RFMEditor":
            raise ModelLoadError(f"{folder / 'model_index.json'} does not describe an RFM Studio model.")
        for sub in ("unet", "vae", "text_encoder", "vocoder"):
            if not (folder / sub).is_dir():
                raise ModelLoadError(f"Model folder {folder} is missing its '{sub}' component.")
        if verify:
            from .integrity import check_bundle_before_load

            check_bundle_before_load(folder)
        try:
            denoiser = Denoiser.from_pretrained(folder / "unet")
            codec = load_codec(folder / "vae")
            text = InstructionEncoder.from_pretrained(folder / "text_encoder", folder / "tokenizer")
            vocoder = load_vocoder(folder / "vocoder")
        except ModelLoadError:
            raise
        except (OSError, ValueError, RuntimeError, KeyError, TypeError, AttributeError) as exc:
            raise ModelLoadError(f"Cannot load the model in {folder} ({_first_line(exc)}).") from None
        try:
            sections = {k: idx.get(k) or {} for k in ("flow", "mel", "info")}
            for k, v in sections.items():
                if not isinstance(v, dict):
                    raise ModelLoadError(f"{folder / 'model_index.json'}: \"{k}\" must be a JSON object.")
            model = cls(codec, denoiser, text, vocoder, FlowConfig.from_dict(sections["flow"]),
                        MelConfig.from_dict(sections["mel"]), idx.get("window_frames", 1024),
                        idx.get("peak_normalize"), sections["info"])
        except (ValueError, TypeError) as exc:
            raise ModelLoadError(f"Cannot load the model in {folder}: model_index.json has a setting out of "
                                 f"range ({_first_line(exc)}).") from None
        model.source_folder = folder
        model.to(device)
        model.set_dtype(dtype)
        model.eval()
        if adapter is not None:  # after the move: its LoRA is made on the layers' device and dtype
            from .adapters import apply_adapter

            apply_adapter(model, adapter)
        return model
