"""A training batch's audio prompts as the network's prompt input (tokens, mask, gate)."""

from __future__ import annotations

import torch

from ..prompts import prepare_prompt_audio


def prompt_batch(model, items, sample_rate: int = 16000):
    """``items``: per row (audio at ``sample_rate``, kind) or None -> (tokens [B, k, dim],
    mask [B, k], gate [B]; 0 for rows without a prompt, whose prompt path is then off), or None
    when no row has one. The encoder runs with gradients; the mel front end without."""
    if not any(it is not None for it in items):
        return None
    net = getattr(model.denoiser, "module", model.denoiser).net
    toks = []
    for it in items:
        if it is None:
            toks.append(None)
            continue
        with torch.no_grad():
            lat = model.prompt_latent(prepare_prompt_audio(it[0], sample_rate, model.mel_config.sample_rate))
        toks.append(net.encode_prompt(lat, it[1])[0])
    ref = next(t for t in toks if t is not None)
    tok = torch.stack([t if t is not None else torch.zeros_like(ref) for t in toks])
    mask = torch.ones(tok.shape[:2], dtype=torch.bool, device=tok.device)
    gate = torch.tensor([float(t is not None) for t in toks], device=tok.device)
    return tok, mask, gate
