"""MelUNet1D: a small U-Net over time with mel bands as channels (the embedded model).

Input: the noisy mel x_t concatenated channel-wise with the original mel (2 x n_mels
channels), a timestep and instruction token embeddings; output: n_mels channels.
Cheap per step: 1-D convolutions over (patched) frames, cross-attention to the
instruction at the coarser levels, one self-attention in the middle.

Audio prompts (``prompt_tokens`` > 0): each example or reference sound's normalised mel is
encoded by a small convolutional encoder into ``prompt_tokens`` tokens (plus a learned type
embedding: example or reference). Every cross-attention layer attends to them in a second,
decoupled attention (its own keys and values, a learned "nothing" token, the instruction's
queries) whose output projection starts at zero: a network given the prompt input computes
exactly what it computed before, with or without prompts, until training moves those weights.
Without prompts that path is skipped altogether.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class MelUNetConfig:
    in_channels: int = 128
    out_channels: int = 64
    patch: int = 2  # frames folded into channels at the input
    channels: tuple = (128, 256, 384)
    blocks_per_level: int = 2
    cross_attention_levels: tuple = (False, True, True)
    cross_attention_dim: int = 384
    mid_self_attention: bool = True
    heads: int = 4
    groups: int = 16
    zero_init_out: bool = True
    region_channel: bool = False  # one more input channel: 1 on frames the edit may change
    prompt_tokens: int = 0  # > 0: an audio-prompt input, encoded into this many tokens per prompt
    prompt_width: int = 128  # channels of the prompt encoder

    def to_dict(self) -> dict:
        d = asdict(self)
        d["channels"] = list(self.channels)
        d["cross_attention_levels"] = list(self.cross_attention_levels)
        d["_class_name"] = "MelUNet1D"
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "MelUNetConfig":
        kw = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        for k in ("channels", "cross_attention_levels"):
            if k in kw:
                kw[k] = tuple(kw[k])
        return cls(**kw)


def timestep_embedding(t, dim: int):
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class ResBlock(nn.Module):
    def __init__(self, cin, cout, temb, groups):
        super().__init__()
        self.norm1 = nn.GroupNorm(min(groups, cin), cin)
        self.conv1 = nn.Conv1d(cin, cout, 3, padding=1)
        self.temb = nn.Linear(temb, 2 * cout)
        self.norm2 = nn.GroupNorm(min(groups, cout), cout)
        self.conv2 = nn.Conv1d(cout, cout, 3, padding=1)
        self.skip = nn.Conv1d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, temb):
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.temb(temb)[:, :, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        h = self.conv2(F.silu(h))
        return self.skip(x) + h


class Attention1D(nn.Module):
    """Multi-head attention over frames; cross (to tokens) or self. Capturable."""

    def __init__(self, dim, context_dim, heads, groups, name):
        super().__init__()
        self.name = name
        self.heads = heads
        self.norm = nn.GroupNorm(min(groups, dim), dim)
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_k = nn.Linear(context_dim, dim, bias=False)
        self.to_v = nn.Linear(context_dim, dim, bias=False)
        self.to_out = nn.Linear(dim, dim)
        self.store = None
        self.prompt_k = self.prompt_v = self.prompt_out = self.prompt_null = None

    def add_prompt_path(self, context_dim: int):
        """A second cross-attention, to audio-prompt tokens, whose output starts at zero."""
        dim = self.to_q.out_features
        self.prompt_k = nn.Linear(context_dim, dim, bias=False)
        self.prompt_v = nn.Linear(context_dim, dim, bias=False)
        self.prompt_null = nn.Parameter(torch.randn(1, 1, context_dim) * 0.02)  # "like nothing given"
        self.prompt_out = nn.Linear(dim, dim)
        nn.init.zeros_(self.prompt_out.weight)
        nn.init.zeros_(self.prompt_out.bias)
        dev, dt = self.to_q.weight.device, self.to_q.weight.dtype
        for m in (self.prompt_k, self.prompt_v, self.prompt_out):
            m.to(device=dev, dtype=dt)
        self.prompt_null.data = self.prompt_null.data.to(device=dev, dtype=dt)

    def _prompt_attention(self, q, prompt):
        """q [B, heads, T, d]; prompt (tokens [B, K, C], mask [B, K], gate [B]) ->
        (output [B, T, dim] times the gate, probabilities over the K tokens or None)."""
        tok, pmask, gate = prompt
        b = q.shape[0]
        ctx = torch.cat([self.prompt_null.expand(b, 1, -1).to(tok.dtype), tok], dim=1)
        m = torch.cat([torch.ones(b, 1, dtype=torch.bool, device=tok.device), pmask.bool()], dim=1)
        k = self.prompt_k(ctx).view(b, ctx.shape[1], self.heads, -1).transpose(1, 2)
        v = self.prompt_v(ctx).view(b, ctx.shape[1], self.heads, -1).transpose(1, 2)
        am = m[:, None, None, :]
        probs = None
        if self.store is not None:
            scores = (q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])).masked_fill(~am, float("-inf"))
            probs = scores.softmax(dim=-1)
            o = probs @ v
            probs = probs[..., 1:]  # the prompt tokens (not the "nothing" token)
        else:
            o = F.scaled_dot_product_attention(q, k, v, attn_mask=am)
        o = o.transpose(1, 2).reshape(b, q.shape[2], -1)
        return self.prompt_out(o) * gate.to(o.dtype)[:, None, None], probs

    def forward(self, x, context=None, mask=None, prompt=None):
        b, c, t = x.shape
        h = self.norm(x).transpose(1, 2)  # [B, T, C]
        ctx = h if context is None else context
        q = self.to_q(h).view(b, t, self.heads, -1).transpose(1, 2)
        k = self.to_k(ctx).view(b, ctx.shape[1], self.heads, -1).transpose(1, 2)
        v = self.to_v(ctx).view(b, ctx.shape[1], self.heads, -1).transpose(1, 2)
        attn_mask = None
        if mask is not None and context is not None:
            attn_mask = mask[:, None, None, :].bool()
        use_prompt = prompt is not None and context is not None and self.prompt_out is not None
        probs = None
        if self.store is not None and context is not None:
            scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
            if attn_mask is not None:
                scores = scores.masked_fill(~attn_mask, float("-inf"))
            probs = scores.softmax(dim=-1)
            if not use_prompt:
                self.store.add(self.name, probs)
            o = probs @ v
        else:
            o = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        o = o.transpose(1, 2).reshape(b, t, c)
        out = x + self.to_out(o).transpose(1, 2)
        if use_prompt:
            po, pprobs = self._prompt_attention(q, prompt)
            if probs is not None:  # instruction tokens, then prompt tokens
                self.store.add(self.name, torch.cat([probs, pprobs], dim=-1))
            out = out + po.transpose(1, 2)
        return out


class PromptEncoder(nn.Module):
    """A prompt's normalised mel [1, n_mels, frames] -> [1, tokens, dim]: convolutions over time
    (4x fewer frames), then attention pooling by learned queries, a projection and a type
    embedding (0: example from the clip, 1: reference recording)."""

    KINDS = ("example", "reference")

    def __init__(self, n_mels: int, width: int, dim: int, tokens: int, groups: int):
        super().__init__()
        g = min(groups, width)
        self.conv = nn.Sequential(
            nn.Conv1d(n_mels, width, 3, padding=1), nn.GroupNorm(g, width), nn.SiLU(),
            nn.Conv1d(width, width, 3, stride=2, padding=1), nn.GroupNorm(g, width), nn.SiLU(),
            nn.Conv1d(width, width, 3, stride=2, padding=1), nn.GroupNorm(g, width), nn.SiLU(),
            nn.Conv1d(width, width, 3, padding=1))
        self.queries = nn.Parameter(torch.randn(tokens, width) * 0.02)
        self.proj = nn.Linear(2 * width, dim)
        self.type_embedding = nn.Embedding(len(self.KINDS), dim)
        nn.init.normal_(self.type_embedding.weight, std=0.02)

    def forward(self, mel, kind: int = 0):
        h = self.conv(mel).transpose(1, 2)  # [1, F', width]
        w = (self.queries[None] @ h.transpose(1, 2) / math.sqrt(h.shape[-1])).softmax(dim=-1)  # [1, k, F']
        pooled = w @ h
        glob = h.mean(dim=1, keepdim=True).expand_as(pooled)
        out = self.proj(torch.cat([pooled, glob], dim=-1))
        return out + self.type_embedding.weight[kind][None, None]


class MelUNet1D(nn.Module):
    def __init__(self, config: MelUNetConfig):
        super().__init__()
        self.config = c = config
        temb = 4 * c.channels[0]
        self.temb_dim = c.channels[0]
        self.time_mlp = nn.Sequential(nn.Linear(c.channels[0], temb), nn.SiLU(), nn.Linear(temb, temb))
        self.conv_in = nn.Conv1d((c.in_channels + int(c.region_channel)) * c.patch, c.channels[0], 3, padding=1)
        self.down = nn.ModuleList()
        self.down_attn = nn.ModuleList()
        self.downsample = nn.ModuleList()
        skips = []
        ch = c.channels[0]
        for lvl, cout in enumerate(c.channels):
            blocks, attns = nn.ModuleList(), nn.ModuleList()
            for i in range(c.blocks_per_level):
                blocks.append(ResBlock(ch, cout, temb, c.groups))
                ch = cout
                attns.append(Attention1D(ch, c.cross_attention_dim, c.heads, c.groups, f"down_blocks.{lvl}.attentions.{i}")
                             if c.cross_attention_levels[lvl] else nn.Identity())
                skips.append(ch)
            self.down.append(blocks)
            self.down_attn.append(attns)
            self.downsample.append(nn.Conv1d(ch, ch, 3, stride=2, padding=1) if lvl < len(c.channels) - 1 else nn.Identity())
        self.mid1 = ResBlock(ch, ch, temb, c.groups)
        self.mid_self = Attention1D(ch, ch, c.heads, c.groups, "mid_block.self") if c.mid_self_attention else None
        self.mid_cross = Attention1D(ch, c.cross_attention_dim, c.heads, c.groups, "mid_block.attentions.0")
        self.mid2 = ResBlock(ch, ch, temb, c.groups)
        self.up = nn.ModuleList()
        self.up_attn = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for lvl in reversed(range(len(c.channels))):
            cout = c.channels[lvl]
            blocks, attns = nn.ModuleList(), nn.ModuleList()
            for i in range(c.blocks_per_level):
                blocks.append(ResBlock(ch + skips.pop(), cout, temb, c.groups))
                ch = cout
                attns.append(Attention1D(ch, c.cross_attention_dim, c.heads, c.groups, f"up_blocks.{lvl}.attentions.{i}")
                             if c.cross_attention_levels[lvl] else nn.Identity())
            self.up.append(blocks)
            self.up_attn.append(attns)
            self.upsample.append(nn.Conv1d(ch, ch, 3, padding=1) if lvl > 0 else nn.Identity())
        self.norm_out = nn.GroupNorm(min(c.groups, ch), ch)
        self.conv_out = nn.Conv1d(ch, c.out_channels * c.patch, 3, padding=1)
        if c.zero_init_out:
            nn.init.zeros_(self.conv_out.weight)
            nn.init.zeros_(self.conv_out.bias)
        self.prompt_encoder = None
        if c.prompt_tokens > 0:
            self._build_prompt_input()

    def _build_prompt_input(self):
        c = self.config
        self.prompt_encoder = PromptEncoder(c.out_channels, c.prompt_width, c.cross_attention_dim, c.prompt_tokens,
                                            c.groups).to(device=self.conv_in.weight.device,
                                                         dtype=self.conv_in.weight.dtype)
        for m in self.cross_attentions():
            m.add_prompt_path(c.cross_attention_dim)

    def cross_attentions(self):
        """The attention layers that attend to the instruction (and to prompts)."""
        return [m for m in self.modules() if isinstance(m, Attention1D) and m is not self.mid_self]

    @property
    def has_prompt_input(self) -> bool:
        return self.prompt_encoder is not None

    def encode_prompt(self, mel, kind: str = "example"):
        """A prompt's normalised mel [1, n_mels, frames] (frames a multiple of 4) -> tokens [1, k, dim]."""
        if self.prompt_encoder is None:
            raise ValueError("this network has no audio-prompt input")
        return self.prompt_encoder(mel.to(self.conv_in.weight.dtype), PromptEncoder.KINDS.index(kind))

    @property
    def multiple(self) -> int:
        """Frame counts must be a multiple of this."""
        return self.config.patch * 2 ** (len(self.config.channels) - 1)

    def set_attention_store(self, store):
        for m in self.modules():
            if isinstance(m, Attention1D):
                m.store = store

    def forward(self, sample, timestep, encoder_hidden_states, encoder_attention_mask=None, region=None,
                prompt=None):
        """sample: [B, in_channels, T] (T a multiple of ``multiple``); timestep: [B] or scalar;
        region: [B, T] (1 where the edit may change the clip), all ones when None; only for a
        network with ``region_channel``; prompt: (tokens [B, K, dim], mask [B, K], gate [B])
        from ``encode_prompt`` (gate 0: that row has no prompt), or None."""
        c = self.config
        b, _, t = sample.shape
        if t % self.multiple:
            raise ValueError(f"frame count {t} is not a multiple of {self.multiple}")
        if not torch.is_tensor(timestep):
            timestep = torch.tensor([timestep], device=sample.device)
        timestep = timestep.reshape(-1).expand(b)
        temb = self.time_mlp(timestep_embedding(timestep, self.temb_dim).to(sample.dtype))
        ctx, mask = encoder_hidden_states, encoder_attention_mask
        cin = c.in_channels
        if c.region_channel:
            r = torch.ones(b, 1, t, dtype=sample.dtype, device=sample.device) if region is None \
                else region.reshape(b, 1, t).to(sample)
            sample, cin = torch.cat([sample, r], dim=1), cin + 1
        elif region is not None:
            raise ValueError("this network has no region channel")
        if prompt is not None and self.prompt_encoder is None:
            raise ValueError("this network has no audio-prompt input")
        x = sample.reshape(b, cin, t // c.patch, c.patch).permute(0, 1, 3, 2).reshape(b, -1, t // c.patch)
        h = self.conv_in(x)
        hs = []
        for blocks, attns, ds in zip(self.down, self.down_attn, self.downsample):
            for blk, att in zip(blocks, attns):
                h = blk(h, temb)
                if not isinstance(att, nn.Identity):
                    h = att(h, ctx, mask, prompt)
                hs.append(h)
            h = ds(h)
        h = self.mid1(h, temb)
        if self.mid_self is not None:
            h = self.mid_self(h)
        h = self.mid_cross(h, ctx, mask, prompt)
        h = self.mid2(h, temb)
        for blocks, attns, us in zip(self.up, self.up_attn, self.upsample):
            for blk, att in zip(blocks, attns):
                h = blk(torch.cat([h, hs.pop()], dim=1), temb)
                if not isinstance(att, nn.Identity):
                    h = att(h, ctx, mask, prompt)
            if not isinstance(us, nn.Identity):
                h = us(F.interpolate(h, scale_factor=2, mode="nearest"))
        out = self.conv_out(F.silu(self.norm_out(h)))
        return out.reshape(b, c.out_channels, c.patch, t // c.patch).permute(0, 1, 3, 2).reshape(b, c.out_channels, t)


def widened_conv(old, extra_in: int):
    """A copy of the convolution ``old`` with ``extra_in`` more input channels whose weights
    are zero: it computes what ``old`` computed whatever those channels hold."""
    new = type(old)(old.in_channels + extra_in, old.out_channels, old.kernel_size, old.stride, old.padding)
    new = new.to(device=old.weight.device, dtype=old.weight.dtype)
    with torch.no_grad():
        new.weight.zero_()
        new.weight[:, : old.in_channels] = old.weight
        new.bias.copy_(old.bias)
    return new


def add_region_channel(net: MelUNet1D) -> MelUNet1D:
    """Give a trained network the region input channel with zero weights, so it computes
    exactly what it computed before until fine-tuning teaches it to use the region."""
    c = net.config
    if c.region_channel:
        return net
    net.conv_in = widened_conv(net.conv_in, c.patch)  # the channel is patched like the others
    c.region_channel = True
    return net


def add_prompt_input(net: MelUNet1D, tokens: int = 4, width: int = 128) -> MelUNet1D:
    """Give a trained network the audio-prompt input (encoder and decoupled attention with
    zero output weights): it computes exactly what it computed before until trained."""
    c = net.config
    if c.prompt_tokens > 0:
        return net
    c.prompt_tokens, c.prompt_width = int(tokens), int(width)
    net._build_prompt_input()
    return net
