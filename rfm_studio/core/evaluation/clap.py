"""CLAP score: cosine similarity between each edited clip and its target caption.

    CLAP_i = <a_i, t_i> / (|a_i| |t_i|),   CLAP = mean_i CLAP_i

with a_i the CLAP audio embedding of the edited clip and t_i the text embedding of its
``target_caption`` (the paper's Table 2/3 column; the same score audioldm_eval's
``clap_score`` computes). Three local checkpoint kinds, never downloaded here:

``--clap-kind laion`` with a FOLDER: a Hugging Face ``ClapModel`` folder (config.json,
  model.safetensors, processor/tokenizer files), e.g. ``laion/clap-htsat-unfused`` or
  ``laion/larger_clap_general`` downloaded once with ``huggingface-cli download``. Loaded
  with transformers (already a dependency). The same LAION-CLAP networks, converted.
``--clap-kind laion`` with a FILE: an original LAION-CLAP checkpoint (``630k-best.pt``,
  ``630k-audioset-best.pt``, ``630k-fusion-best.pt``, ``630k-audioset-fusion-best.pt``,
  ``music_audioset_epoch_15_esc_90.14.pt``; https://huggingface.co/lukewys/laion_clap).
  A dict with ``"state_dict"`` (keys prefixed ``module.``), read with
  ``torch.load(weights_only=True)``; needs the ``laion_clap`` package (pip install
  laion_clap) and its text model (roberta-base) in the local Hugging Face cache. The
  architecture (HTSAT tiny/base/large or PANN-14, fusion or not, roberta/bert/bart) is read
  from the weights.
``--clap-kind ms``: Microsoft CLAP ``CLAP_weights_2022.pth`` or ``CLAP_weights_2023.pth``
  (https://huggingface.co/microsoft/msclap); a dict with ``"model"``; needs the ``msclap``
  package and its text model (bert-base-uncased for 2022, gpt2 for 2023) in the local
  Hugging Face cache. The version is read from the weights.

Expected sha256 of each file: (record when you first download); the report records the
sha256 of the file used. Audio is resampled to the network's rate (48 kHz LAION, 44.1 kHz
MS-CLAP) and cut to the network's input length from the clip's start (10 s LAION; 5 s / 7 s
MS-CLAP), so scores are reproducible (the packages crop longer clips at random); shorter
clips are repeat-padded as each package does.
If a package, a file or the text model is missing, the metric is reported unavailable with
the reason.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from .checkpoints import MetricUnavailable, file_record, load_torch_file, state_dict_in, to_tensor_dict

KINDS = ("laion", "ms")


# ---- the score ---------------------------------------------------------------------------
def cosine_rows(a, b) -> np.ndarray:
    """Row-wise cosine similarity of two [N, D] arrays."""
    a = np.atleast_2d(np.asarray(a, np.float64))
    b = np.atleast_2d(np.asarray(b, np.float64))
    if a.shape != b.shape:
        raise ValueError(f"Cosine similarity needs equal shapes, got {a.shape} and {b.shape}.")
    na = np.linalg.norm(a, axis=1)
    nb = np.linalg.norm(b, axis=1)
    return (a * b).sum(axis=1) / np.maximum(na * nb, 1e-12)


def clap_score(audio_emb, text_emb) -> dict:
    per = cosine_rows(audio_emb, text_emb)
    return {"clap": float(per.mean()) if len(per) else float("nan"), "per_clip": per}


def _crop_or_repeat(x: np.ndarray, n: int) -> np.ndarray:
    if len(x) >= n:
        return x[:n]
    reps = int(np.ceil(n / max(1, len(x))))
    return np.tile(x, reps)[:n]


def _mono_at(audio, sr, rate):
    from ..audio.io import resample, to_mono

    return resample(to_mono(np.asarray(audio, np.float32)), int(sr), int(rate))


def _norm(x) -> np.ndarray:
    return np.asarray(x.detach().double().cpu().numpy() if hasattr(x, "detach") else x, np.float64)


class ClapScorer:
    """Common interface: embed_audio(list of (audio, sr)) and embed_text(list of str) -> [N, D]."""

    kind = "?"
    name = "CLAP"
    record: dict = {}

    def embed_audio(self, clips) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def embed_text(self, texts) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def score(self, clips, texts) -> dict:
        return clap_score(self.embed_audio(clips), self.embed_text(texts))


# ---- Hugging Face ClapModel folder ---------------------------------------------------------
class HFClap(ClapScorer):
    kind = "laion"

    def __init__(self, folder, device="cpu"):
        p = Path(folder)
        if not (p / "config.json").exists():
            raise MetricUnavailable(f"{p} is not a Hugging Face CLAP folder (no config.json).")
        try:
            from transformers import ClapModel, ClapProcessor

            from ..model.bundle import quiet_transformers

            quiet_transformers()
            self.model = ClapModel.from_pretrained(str(p), local_files_only=True).eval().to(device)
            self.processor = ClapProcessor.from_pretrained(str(p), local_files_only=True)
        except MetricUnavailable:
            raise
        except Exception as exc:
            raise MetricUnavailable(f"Cannot load the CLAP folder {p.name} ({_short(exc)}).") from None
        self.device = device
        fe = self.processor.feature_extractor
        self.rate = int(fe.sampling_rate)
        self.max_samples = int(fe.nb_max_samples)
        self.fusion = bool(getattr(self.model.config.audio_config, "enable_fusion", False))
        self.name = f"LAION-CLAP (Hugging Face folder {p.name})"
        weights = [q for q in sorted(p.glob("*.safetensors")) + sorted(p.glob("*.bin"))]
        self.record = {"path": str(p), "format": "huggingface", "fusion": self.fusion,
                       "weights": [file_record(q) for q in weights]}

    def embed_audio(self, clips) -> np.ndarray:
        import torch

        out = []
        for audio, sr in clips:
            x = _mono_at(audio, sr, self.rate)
            x = x[: self.max_samples]  # cut here, also for fusion models (no random chunks); short: repeatpad
            f = self.processor.feature_extractor([x], sampling_rate=self.rate, return_tensors="pt",
                                                 truncation="fusion" if self.fusion else "rand_trunc")
            with torch.no_grad():
                r = self.model.get_audio_features(**{k: v.to(self.device) for k, v in f.items()})
            out.append(_norm(getattr(r, "pooler_output", r))[0])
        return np.stack(out)

    def embed_text(self, texts) -> np.ndarray:
        import torch

        tok = self.processor.tokenizer(list(texts), padding=True, truncation=True, return_tensors="pt")
        with torch.no_grad():
            r = self.model.get_text_features(**{k: v.to(self.device) for k, v in tok.items()})
        return _norm(getattr(r, "pooler_output", r))


# ---- original LAION-CLAP checkpoint (laion_clap package) -----------------------------------
def read_laion_checkpoint(path) -> tuple[dict, dict]:
    """(state dict without 'module.' and position_ids, architecture) of a LAION-CLAP .pt file."""
    ck = load_torch_file(path, "LAION-CLAP checkpoint")
    sd = state_dict_in(ck, "state_dict", "LAION-CLAP checkpoint")
    sd.pop("text_branch.embeddings.position_ids", None)
    if not any(k.startswith("audio_branch.") for k in sd) or not any(k.startswith("text_branch.") for k in sd):
        raise MetricUnavailable("The file is not a LAION-CLAP checkpoint (no audio_branch / text_branch weights).")
    fusion = any("fusion_model" in k or "mel_conv2d" in k or "mel_conv1d" in k for k in sd)
    if "audio_branch.patch_embed.proj.weight" in sd:
        dim = int(sd["audio_branch.patch_embed.proj.weight"].shape[0])
        amodel = {96: "HTSAT-tiny", 128: "HTSAT-base", 256: "HTSAT-large"}.get(dim)
        if amodel is None:
            raise MetricUnavailable(f"Unknown HTSAT width {dim} in the LAION-CLAP checkpoint.")
    elif "audio_branch.conv_block1.conv1.weight" in sd:
        amodel = "PANN-14"
    else:
        raise MetricUnavailable("Unknown audio encoder in the LAION-CLAP checkpoint.")
    if "text_branch.shared.weight" in sd:
        tmodel = "bart"
    elif "text_branch.embeddings.word_embeddings.weight" in sd:
        vocab = int(sd["text_branch.embeddings.word_embeddings.weight"].shape[0])
        tmodel = "bert" if vocab == 30522 else "roberta"
    elif any(k.startswith("text_branch.resblocks") for k in sd):
        tmodel = "transformer"
    else:
        raise MetricUnavailable("Unknown text encoder in the LAION-CLAP checkpoint.")
    return sd, {"amodel": amodel, "tmodel": tmodel, "fusion": fusion}


def _laion_factory(arch: dict, device):
    import laion_clap

    return laion_clap.CLAP_Module(enable_fusion=arch["fusion"], amodel=arch["amodel"], tmodel=arch["tmodel"],
                                  device=device)


def _load_into(module, sd: dict, what: str):
    res = module.load_state_dict(sd, strict=False)
    params = {n for n, _ in module.named_parameters()}
    missing = [k for k in res.missing_keys if k in params]
    if missing or res.unexpected_keys:
        bad = (missing or res.unexpected_keys)[:3]
        raise MetricUnavailable(f"The {what} checkpoint does not match the network "
                                f"({'missing' if missing else 'unexpected'} weights: {', '.join(bad)}).")


class LaionClap(ClapScorer):
    """An original LAION-CLAP checkpoint run by the laion_clap package (``factory`` for tests)."""

    kind = "laion"
    RATE = 48000
    SAMPLES = 480000

    def __init__(self, path, device="cpu", factory=None):
        if factory is None and importlib.util.find_spec("laion_clap") is None:
            raise MetricUnavailable("LAION-CLAP .pt checkpoints need the laion_clap package (pip install laion_clap); "
                                    "or give a Hugging Face CLAP folder instead.")
        sd, arch = read_laion_checkpoint(path)
        try:
            self.module = (factory or _laion_factory)(arch, device)
        except MetricUnavailable:
            raise
        except Exception as exc:  # typically: roberta-base not in the offline Hugging Face cache
            raise MetricUnavailable(f"Cannot build the LAION-CLAP network ({_short(exc)}).") from None
        _load_into(self.module.model, sd, "LAION-CLAP")
        self.module.model.eval()
        self.arch = arch
        self.name = f"LAION-CLAP ({arch['amodel']}, {arch['tmodel']}{', fusion' if arch['fusion'] else ''})"
        self.record = {**file_record(path), "format": "laion_clap", **arch}

    def embed_audio(self, clips) -> np.ndarray:
        out = []
        for audio, sr in clips:
            x = _mono_at(audio, sr, self.RATE)[: self.SAMPLES]  # no random crop or chunks; short: repeatpad
            out.append(np.asarray(self.module.get_audio_embedding_from_data([x], use_tensor=False))[0])
        return np.asarray(out, np.float64)

    def embed_text(self, texts) -> np.ndarray:
        t = list(texts)
        if len(t) == 1:  # laion_clap squeezes a batch of one
            t = t + t
            return np.asarray(self.module.get_text_embedding(t, use_tensor=False), np.float64)[:1]
        return np.asarray(self.module.get_text_embedding(t, use_tensor=False), np.float64)


# ---- Microsoft CLAP (msclap package) -------------------------------------------------------
def read_msclap_checkpoint(path) -> tuple[dict, str]:
    """(state dict, version '2022' | '2023') of a Microsoft CLAP .pth file."""
    ck = load_torch_file(path, "MS-CLAP checkpoint")
    if not isinstance(ck, dict) or not isinstance(ck.get("model"), dict):
        raise MetricUnavailable("The MS-CLAP checkpoint has no 'model' entry.")
    sd = to_tensor_dict(ck["model"], "The MS-CLAP checkpoint")
    if any(k.startswith("module.") for k in sd):
        sd = {k[7:] if k.startswith("module.") else k: v for k, v in sd.items()}
    if any(k.startswith(("clap.", "clap_project.", "gpt.")) for k in sd):
        raise MetricUnavailable("This is the MS-CLAP captioning model (clapcap); give CLAP_weights_2022.pth or "
                                "CLAP_weights_2023.pth.")
    if not any(k.startswith("audio_encoder.") for k in sd) or not any(k.startswith("caption_encoder.") for k in sd):
        raise MetricUnavailable("The file is not an MS-CLAP checkpoint (no audio_encoder / caption_encoder weights).")
    if any(k.startswith("audio_encoder.base.htsat.") for k in sd):
        version = "2023"
    elif any(k.startswith("audio_encoder.base.conv_block1.") for k in sd):
        version = "2022"
    else:
        raise MetricUnavailable("Unknown audio encoder in the MS-CLAP checkpoint.")
    return sd, version


class _MSParts:
    """The pieces of an MS-CLAP model: ``model`` (msclap's CLAP), ``args``, ``tokenizer``."""

    def __init__(self, model, args, tokenizer):
        self.model, self.args, self.tokenizer = model, args, tokenizer
        self.token_keys = ["input_ids", "attention_mask"]
        if not any(s in args.text_model for s in ("roberta", "clip", "gpt")):
            self.token_keys.append("token_type_ids")  # BERT


def _msclap_factory(version: str, device):
    """msclap's CLAP network and tokenizer, built as CLAPWrapper.load_clap does (minus its torch.load)."""
    import argparse

    import yaml
    from msclap.models.clap import CLAP
    from transformers import AutoTokenizer

    cfg_path = Path(importlib.util.find_spec("msclap").origin).parent / "configs" / f"config_{version}.yml"
    args = argparse.Namespace(**yaml.safe_load(cfg_path.read_text(encoding="utf-8")))
    clap = CLAP(audioenc_name=args.audioenc_name, sample_rate=args.sampling_rate, window_size=args.window_size,
                hop_size=args.hop_size, mel_bins=args.mel_bins, fmin=args.fmin, fmax=args.fmax,
                classes_num=args.num_classes, out_emb=args.out_emb, text_model=args.text_model,
                transformer_embed_dim=args.transformer_embed_dim, d_proj=args.d_proj)
    tok = AutoTokenizer.from_pretrained(args.text_model, local_files_only=True)
    if "gpt" in args.text_model:
        tok.add_special_tokens({"pad_token": "!"})
    return _MSParts(clap.to(device), args, tok)


class MSClap(ClapScorer):
    kind = "ms"

    def __init__(self, path, device="cpu", factory=None):
        if factory is None and importlib.util.find_spec("msclap") is None:
            raise MetricUnavailable("MS-CLAP checkpoints need the msclap package (pip install msclap).")
        sd, version = read_msclap_checkpoint(path)
        try:
            self.parts = (factory or _msclap_factory)(version, device)
        except MetricUnavailable:
            raise
        except Exception as exc:  # typically: the text model is not in the offline Hugging Face cache
            raise MetricUnavailable(f"Cannot build the MS-CLAP network ({_short(exc)}).") from None
        _load_into(self.parts.model, sd, "MS-CLAP")
        self.parts.model.eval()
        self.device = device
        self.version = version
        self.rate = int(self.parts.args.sampling_rate)
        self.samples = int(self.parts.args.duration * self.rate)
        self.name = f"MS-CLAP {version}"
        self.record = {**file_record(path), "format": "msclap", "version": version}

    def embed_audio(self, clips) -> np.ndarray:
        import torch

        xs = [_crop_or_repeat(_mono_at(a, sr, self.rate), self.samples) for a, sr in clips]
        with torch.no_grad():
            emb = self.parts.model.audio_encoder(torch.from_numpy(np.stack(xs)).float().to(self.device))[0]
        return _norm(emb)

    def embed_text(self, texts) -> np.ndarray:
        import torch

        a = self.parts.args
        texts = [t + " <|endoftext|>" if "gpt" in a.text_model else t for t in texts]
        tok = self.parts.tokenizer(texts, max_length=a.text_len, padding="max_length", truncation=True,
                                   return_tensors="pt")
        with torch.no_grad():
            emb = self.parts.model.caption_encoder({k: tok[k].to(self.device) for k in self.parts.token_keys
                                                    if k in tok})
        return _norm(emb)


# ---- entry point -----------------------------------------------------------------------------
def load_clap(path, kind: str = "laion", device="cpu") -> ClapScorer:
    """A CLAP scorer from a local checkpoint; raises MetricUnavailable with the reason."""
    if kind not in KINDS:
        raise MetricUnavailable(f"Unknown CLAP kind '{kind}' (use laion or ms).")
    p = Path(path).expanduser()
    if not p.exists():
        raise MetricUnavailable(f"CLAP checkpoint not found: {p}")
    if kind == "laion":
        return HFClap(p, device) if p.is_dir() else LaionClap(p, device)
    if p.is_dir():
        raise MetricUnavailable(f"MS-CLAP expects a .pth file, got the folder {p}.")
    return MSClap(p, device)


def _short(exc: Exception) -> str:
    s = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return s[:160].rstrip(".")
