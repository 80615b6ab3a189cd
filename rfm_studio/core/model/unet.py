"""The editing network: diffusers ``UNet2DConditionModel`` (paper scale) or ``MelUNet1D``.

Both take the noisy latent concatenated channel-wise with the original latent
(in_channels = 2 x latent channels), a timestep and the instruction embedding.
``Denoiser`` hides the difference (diffusers returns ``.sample``).
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from .files import load_safetensors_into, read_config, save_safetensors, write_json
from .mel_unet import MelUNet1D, MelUNetConfig, widened_conv


class Denoiser(nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    @property
    def is_diffusers(self) -> bool:
        return not isinstance(self.net, MelUNet1D)

    @property
    def frame_multiple(self) -> int:
        if isinstance(self.net, MelUNet1D):
            return self.net.multiple
        return 2 ** (len(self.net.config.block_out_channels) - 1)

    @property
    def has_region_channel(self) -> bool:
        return isinstance(self.net, MelUNet1D) and bool(self.net.config.region_channel)

    @property
    def has_prompt_input(self) -> bool:
        return isinstance(self.net, MelUNet1D) and self.net.has_prompt_input

    def forward(self, x_cat, timestep, context, mask=None, region=None, prompt=None):
        """region: [B, frames] for networks with a region channel (None: the whole clip);
        prompt: audio-prompt tokens (see MelUNet1D.forward), for networks with that input.
        Inputs are cast to the network's dtype and the output back to ``x_cat``'s (the bundle's
        precision rule: see RFMEditor.set_dtype); in float32 both casts are no-ops."""
        dt = next(self.net.parameters()).dtype
        out_dtype = x_cat.dtype
        x_cat, context = x_cat.to(dt), context.to(dt)
        if isinstance(self.net, MelUNet1D):
            region = region.to(dt) if region is not None and self.has_region_channel else None
            if prompt is not None and self.has_prompt_input:
                prompt = (prompt[0].to(dt), prompt[1], prompt[2].to(dt))
            else:
                prompt = None
            return self.net(x_cat, timestep, context, mask, region=region, prompt=prompt).to(out_dtype)
        return self.net(x_cat, timestep, encoder_hidden_states=context,
                        encoder_attention_mask=mask, return_dict=False)[0].to(out_dtype)

    def save_pretrained(self, folder, dtype=None):
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        if isinstance(self.net, MelUNet1D):
            write_json(folder / "config.json", self.net.config.to_dict())
            save_safetensors(self.net, folder / "model.safetensors", dtype=dtype)
        else:
            self.net.save_pretrained(str(folder), safe_serialization=True)

    @classmethod
    def from_pretrained(cls, folder):
        folder = Path(folder)
        cfg = read_config(folder / "config.json")
        if cfg.get("_class_name") == "MelUNet1D":
            net = MelUNet1D(MelUNetConfig.from_dict(cfg))
            load_safetensors_into(net, folder / "model.safetensors")
            return cls(net)
        from diffusers import UNet2DConditionModel

        return cls(UNet2DConditionModel.from_pretrained(str(folder), local_files_only=True, use_safetensors=True))


def widen_conv_in(unet, extra_channels: int):
    """InstructPix2Pix-style: give a text-to-audio U-Net ``extra_channels`` more input
    channels (the original latent) with zero weights, so it starts as the T2A model."""
    in_channels = unet.conv_in.in_channels
    unet.conv_in = widened_conv(unet.conv_in, extra_channels)
    unet.register_to_config(in_channels=in_channels + extra_channels)
    return unet


def audioldm_unet_config(latent_channels=8, cross_attention_dim=1024, block_out_channels=(128, 256, 384, 640),
                         layers_per_block=2, attention_head_dim=8, sample_size=(256, 16)) -> dict:
    """An AudioLDM-layout UNet2DConditionModel config, widened for the concatenated latent."""
    n = len(block_out_channels)
    return dict(
        sample_size=sample_size, in_channels=2 * latent_channels, out_channels=latent_channels,
        down_block_types=["DownBlock2D"] + ["CrossAttnDownBlock2D"] * (n - 1),
        up_block_types=["CrossAttnUpBlock2D"] * (n - 1) + ["UpBlock2D"],
        block_out_channels=list(block_out_channels), layers_per_block=layers_per_block,
        cross_attention_dim=cross_attention_dim, attention_head_dim=attention_head_dim,
        norm_num_groups=min(32, min(block_out_channels)),
    )
