"""MelUNet1D: a small U-Net over time with mel bands as channels (the embedded model).

Input: the noisy mel x_t concatenated channel-wise with the original mel (2 x n_mels
channels), a timestep and instruction token embeddings; output: n_mels channels.
Cheap per step: 1-D convolutions over (patched) frames, cross-attention to the
instruction at the coarser levels, one self-attention in the middle.
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

    def forward(self, x, context=None, mask=None):
        b, c, t = x.shape
        h = self.norm(x).transpose(1, 2)  # [B, T, C]
        ctx = h if context is None else context
        q = self.to_q(h).view(b, t, self.heads, -1).transpose(1, 2)
        k = self.to_k(ctx).view(b, ctx.shape[1], self.heads, -1).transpose(1, 2)
        v = self.to_v(ctx).view(b, ctx.shape[1], self.heads, -1).transpose(1, 2)
        attn_mask = None
        if mask is not None and context is not None:
            attn_mask = mask[:, None, None, :].bool()
        if self.store is not None and context is not None:
            scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
            if attn_mask is not None:
                scores = scores.masked_fill(~attn_mask, float("-inf"))
            probs = scores.softmax(dim=-1)
            self.store.add(self.name, probs)
            o = probs @ v
        else:
            o = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        o = o.transpose(1, 2).reshape(b, t, c)
        return x + self.to_out(o).transpose(1, 2)


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

    @property
    def multiple(self) -> int:
        """Frame counts must be a multiple of this."""
        return self.config.patch * 2 ** (len(self.config.channels) - 1)

    def set_attention_store(self, store):
        for m in self.modules():
            if isinstance(m, Attention1D):
                m.store = store

    def forward(self, sample, timestep, encoder_hidden_states, encoder_attention_mask=None, region=None):
        """sample: [B, in_channels, T] (T a multiple of ``multiple``); timestep: [B] or scalar;
        region: [B, T] (1 where the edit may change the clip), all ones when None; only for a
        network with ``region_channel``."""
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
        x = sample.reshape(b, cin, t // c.patch, c.patch).permute(0, 1, 3, 2).reshape(b, -1, t // c.patch)
        h = self.conv_in(x)
        hs = []
        for blocks, attns, ds in zip(self.down, self.down_attn, self.downsample):
            for blk, att in zip(blocks, attns):
                h = blk(h, temb)
                if not isinstance(att, nn.Identity):
                    h = att(h, ctx, mask)
                hs.append(h)
            h = ds(h)
        h = self.mid1(h, temb)
        if self.mid_self is not None:
            h = self.mid_self(h)
        h = self.mid_cross(h, ctx, mask)
        h = self.mid2(h, temb)
        for blocks, attns, us in zip(self.up, self.up_attn, self.upsample):
            for blk, att in zip(blocks, attns):
                h = blk(torch.cat([h, hs.pop()], dim=1), temb)
                if not isinstance(att, nn.Identity):
                    h = att(h, ctx, mask)
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
