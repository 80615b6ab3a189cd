"""Cross-attention capture: swappable processors that record attention probabilities.

Capturing is off by default and then costs nothing (the fast fused attention runs).
When a store is active, processors compute softmax(QK^T) explicitly and hand the
probabilities of the conditional batch half to the store, which aggregates them into
one [tokens, frames] map per step (heads, frequency and the chosen layers averaged).
"""

from __future__ import annotations

import math

import numpy as np


class AttentionStore:
    """Collects cross-attention maps during one network forward pass."""

    def __init__(self, layers: str = "all"):
        if layers not in ("all", "down", "mid", "up"):
            raise ValueError("layers must be one of all, down, mid, up")
        self.layers = layers
        self.latent_hw: tuple[int, int] | None = None  # (time, freq) of the network input
        self.keep_batch = slice(None)
        self._maps: list = []

    def reset(self, latent_hw=None, keep_batch=slice(None)):
        self.latent_hw = latent_hw
        self.keep_batch = keep_batch
        self._maps = []

    def wants(self, name: str) -> bool:
        if self.layers == "all":
            return True
        return name.startswith(self.layers) or (f".{self.layers}" in name) or name.startswith(f"{self.layers}_")

    def add(self, name: str, probs):
        """probs: torch [B, heads, Q, K]. Stored as time-resolved [B, K, T'] numpy."""
        if not self.wants(name):
            return
        p = probs[self.keep_batch].float().mean(dim=1)  # [B, Q, K]
        b, q, k = p.shape
        if self.latent_hw is not None and self.latent_hw[1] > 1:
            th, fw = self.latent_hw
            d = math.sqrt(th * fw / q)
            t_len = max(1, int(round(th / d)))
            f_len = max(1, q // t_len)
            p = p[:, : t_len * f_len].reshape(b, t_len, f_len, k).mean(dim=2)
        self._maps.append(p.transpose(1, 2).detach().cpu().numpy())  # [B, K, T']

    def collect(self, frames: int) -> np.ndarray | None:
        """Average of the stored maps, each resampled to ``frames`` -> [B, K, frames]."""
        if not self._maps:
            return None
        out = None
        for m in self._maps:
            src = np.linspace(0.0, 1.0, m.shape[-1])
            dst = np.linspace(0.0, 1.0, frames)
            r = np.stack([np.stack([np.interp(dst, src, row) for row in mb]) for mb in m])
            out = r if out is None else out + r
        return (out / len(self._maps)).astype(np.float32)


class CaptureAttnProcessor:
    """A diffusers attention processor that records cross-attention probabilities.

    Numerically the same as diffusers' ``AttnProcessor`` (explicit softmax); only installed
    on cross-attention layers (attn2) while a store is active.
    """

    def __init__(self, store: AttentionStore, name: str):
        self.store = store
        self.name = name

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None, **kw):
        import torch

        residual = hidden_states
        input_ndim = hidden_states.ndim
        if input_ndim == 4:
            b, c, h, w = hidden_states.shape
            hidden_states = hidden_states.view(b, c, h * w).transpose(1, 2)
        batch, seq, _ = hidden_states.shape if encoder_hidden_states is None else encoder_hidden_states.shape
        attention_mask = attn.prepare_attention_mask(attention_mask, seq, batch)
        if attn.group_norm is not None:
            hidden_states = attn.group_norm(hidden_states.transpose(1, 2)).transpose(1, 2)
        query = attn.to_q(hidden_states)
        if encoder_hidden_states is None:
            encoder_hidden_states = hidden_states
        elif attn.norm_cross:
            encoder_hidden_states = attn.norm_encoder_hidden_states(encoder_hidden_states)
        key = attn.to_k(encoder_hidden_states)
        value = attn.to_v(encoder_hidden_states)
        query = attn.head_to_batch_dim(query)
        key = attn.head_to_batch_dim(key)
        value = attn.head_to_batch_dim(value)
        probs = attn.get_attention_scores(query, key, attention_mask)  # [B*h, Q, K]
        bh, q, k = probs.shape
        self.store.add(self.name, probs.view(bh // attn.heads, attn.heads, q, k))
        hidden_states = torch.bmm(probs, value)
        hidden_states = attn.batch_to_head_dim(hidden_states)
        hidden_states = attn.to_out[0](hidden_states)
        hidden_states = attn.to_out[1](hidden_states)
        if input_ndim == 4:
            hidden_states = hidden_states.transpose(-1, -2).reshape(b, c, h, w)
        if attn.residual_connection:
            hidden_states = hidden_states + residual
        return hidden_states / attn.rescale_output_factor


def install_capture(unet, store: AttentionStore | None):
    """Switch capture on (store given) or off (None) on a U-Net.

    Works for diffusers ``UNet2DConditionModel`` (processors on attn2 layers) and for
    models exposing ``set_attention_store`` (our MelUNet1D).
    """
    if hasattr(unet, "set_attention_store"):
        unet.set_attention_store(store)
        return
    from diffusers.models.attention_processor import AttnProcessor2_0

    procs = {}
    for name in unet.attn_processors.keys():
        if store is not None and name.endswith("attn2.processor"):
            procs[name] = CaptureAttnProcessor(store, name)
        else:
            procs[name] = AttnProcessor2_0()
    unet.set_attn_processor(procs)
