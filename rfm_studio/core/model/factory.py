"""Building fresh bundles from configs: the embedded small model, tiny test models,
and AudioLDM-layout paper-scale models (random or from public components)."""

from __future__ import annotations

import torch

from ..features.mel import MelConfig
from ..flow.config import FlowConfig, FlowTrainingConfig, PathConfig, SamplerConfig
from .bundle import RFMEditor, quiet_transformers
from .codec import MelNormalizer, MelNormalizerConfig
from .mel_unet import MelUNet1D, MelUNetConfig
from .text_encoder import InstructionEncoder, TextEncoderConfig, load_tokenizer, load_transformers_encoder, \
    package_model_dir
from .unet import Denoiser
from .vocoder import GriffinLimConfig, GriffinLimVocoder

SMALL_FLOW = FlowConfig(PathConfig(sigma_min=1e-4, source="original", source_noise=0.5, prediction="sample"),
                        SamplerConfig(t_start=0.01, steps=8, guidance=1.0),
                        FlowTrainingConfig(cond_dropout=0.1, changed_weight=4.0, changed_threshold=0.5))


def minilm_encoder(config: TextEncoderConfig | None = None) -> InstructionEncoder:
    quiet_transformers()
    d = package_model_dir()
    return InstructionEncoder(load_transformers_encoder(d), load_tokenizer(d), config or TextEncoderConfig())


def build_small(unet: MelUNetConfig | None = None, flow: FlowConfig = SMALL_FLOW, seed: int = 0,
                text: InstructionEncoder | None = None, render: str = "mask") -> RFMEditor:
    """The embedded model's architecture, randomly initialised (MiniLM pretrained)."""
    torch.manual_seed(seed)
    text = text or minilm_encoder()
    ucfg = unet or MelUNetConfig(cross_attention_dim=text.hidden_size)
    return RFMEditor(MelNormalizer(MelNormalizerConfig()), Denoiser(MelUNet1D(ucfg)), text,
                     GriffinLimVocoder(GriffinLimConfig()), flow, MelConfig(), window_frames=1024,
                     info={"name": "rfm-studio-small", "render": render})


def build_tiny(seed: int = 0, flow: FlowConfig | None = None, text: InstructionEncoder | None = None) -> RFMEditor:
    """A tiny random model for tests: fast on CPU, same code paths."""
    torch.manual_seed(seed)
    ucfg = MelUNetConfig(channels=(16, 32), blocks_per_level=1, cross_attention_levels=(True, True),
                         heads=2, groups=8, zero_init_out=False, cross_attention_dim=384)
    flow = flow or FlowConfig(sampler=SamplerConfig(steps=3, guidance=1.0))
    return RFMEditor(MelNormalizer(), Denoiser(MelUNet1D(ucfg)), text or minilm_encoder(),
                     GriffinLimVocoder(GriffinLimConfig(n_iter=4, nnls_iter=5)), flow, MelConfig(),
                     window_frames=1024, info={"name": "tiny-test", "render": "vocoder"})
