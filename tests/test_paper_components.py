"""Paper-scale components in their real formats (tiny random weights): AudioLDM VAE
(diffusers AutoencoderKL), a text-to-audio UNet2DConditionModel widened for the original
latent, Flan-T5 (T5EncoderModel), AudioLDM's HiFi-GAN (SpeechT5HifiGan)."""

import numpy as np
import pytest
import torch

from conftest import tone


@pytest.fixture(scope="module")
def components(tmp_path_factory):
    from rfm_studio.core.model.tiny_public import write_tiny_public_components

    return write_tiny_public_components(tmp_path_factory.mktemp("public"))


def test_widened_conv_in_starts_as_the_t2a_model(components):
    from diffusers import UNet2DConditionModel

    from rfm_studio.core.model.convert import load_t2a_unet

    t2a = UNet2DConditionModel.from_pretrained(str(components / "unet"))
    wide = load_t2a_unet(components / "unet", 32, 8)
    assert wide.config.in_channels == 16 and wide.conv_in.weight.shape[1] == 16
    assert torch.equal(wide.conv_in.weight[:, 8:], torch.zeros_like(wide.conv_in.weight[:, 8:]))
    x, orig, ctx = torch.randn(1, 8, 16, 16), torch.randn(1, 8, 16, 16), torch.randn(1, 5, 32)
    with torch.no_grad():
        a = t2a(x, 10, encoder_hidden_states=ctx).sample
        b = wide(torch.cat([x, orig], 1), 10, encoder_hidden_states=ctx).sample
    assert torch.allclose(a, b, atol=1e-5)


def test_paper_bundle_edits_and_round_trips(components, tmp_path):
    from rfm_studio.core.editing import edit
    from rfm_studio.core.model.bundle import RFMEditor
    from rfm_studio.core.model.codec import KLCodec
    from rfm_studio.core.model.convert import build_paper_bundle
    from rfm_studio.core.model.vocoder import HifiGanVocoder

    m = build_paper_bundle(components / "vae", components / "unet", components / "t5", components / "hifigan")
    assert isinstance(m.codec, KLCodec) and m.codec.latent_channels == 8
    assert m.codec.scaling_factor == pytest.approx(0.9227914214134216)
    assert m.text_encoder.model_type == "t5" and isinstance(m.vocoder, HifiGanVocoder)
    m.window_frames = 256
    res = edit(m, tone(3.0, sr=16000), 16000, "Remove the dog barking", steps=2, capture_attention=True,
               guidance=2.0)
    assert res.audio.shape == (48000,) and np.isfinite(res.audio).all()
    assert res.attention.shape == (2, 4, 301)  # steps x words x frames, from the diffusers processors
    m.save_pretrained(tmp_path / "paper")
    m2 = RFMEditor.from_pretrained(tmp_path / "paper")
    a, b = m.denoiser.state_dict(), m2.denoiser.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert m2.flow.path.source == "noise" and m2.flow.path.prediction == "velocity" and m2.flow.sampler.steps == 200
    assert m2.peak_normalize == 0.5


def test_text_encoder_lora_on_t5(components, tmp_path):
    from rfm_studio.core.model.text_encoder import InstructionEncoder, TextEncoderConfig, load_tokenizer, \
        load_transformers_encoder

    enc = InstructionEncoder(load_transformers_encoder(components / "t5"), load_tokenizer(components / "t5"),
                             TextEncoderConfig(base="folder"))
    enc.add_lora(rank=4)
    trainable = [n for n, p in enc.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    enc.save_pretrained(tmp_path / "te", tmp_path / "tok")
    assert (tmp_path / "te" / "lora" / "adapter_model.safetensors").exists()
    import json

    modules = json.loads((tmp_path / "te" / "lora" / "adapter_config.json").read_text())["target_modules"]
    assert modules == sorted(modules) and len(modules) >= 2  # one order, whatever peft's set gave
    h, mask = InstructionEncoder.from_pretrained(tmp_path / "te", tmp_path / "tok")(["Add a bell"])
    assert h.shape[-1] == 32


def test_models_convert_cli(components, tmp_path, capsys):
    from rfm_studio.cli import main
    from rfm_studio.core.model.bundle import RFMEditor

    out = tmp_path / "paper"
    code = main(["models", "convert", "--vae", str(components / "vae"), "--unet", str(components / "unet"),
                 "--text-encoder", str(components / "t5"), "--vocoder", str(components / "hifigan"),
                 "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    m = RFMEditor.from_pretrained(out)
    assert m.denoiser.net.config.in_channels == 16 and m.codec.latent_channels == 8
    assert main(["models", "convert", "--vae", str(tmp_path / "none"), "--unet", str(components / "unet"),
                 "--text-encoder", str(components / "t5"), "--out", str(tmp_path / "p2")]) == 2


def test_bigvgan_folder_in_its_own_format(tmp_path):
    bigvgan = pytest.importorskip("bigvgan")
    from bigvgan.env import AttrDict

    from rfm_studio.core.model.vocoder import BigVGANVocoder, load_vocoder

    h = AttrDict(dict(num_mels=64, upsample_rates=[5, 4, 2, 2, 2], upsample_kernel_sizes=[10, 8, 4, 4, 4],
                      upsample_initial_channel=32, resblock="1", resblock_kernel_sizes=[3],
                      resblock_dilation_sizes=[[1, 3, 5]], activation="snakebeta", snake_logscale=True,
                      use_tanh_at_final=False, use_bias_at_final=False, sampling_rate=16000, hop_size=160,
                      n_fft=1024, win_size=1024, fmin=0, fmax=8000))
    torch.manual_seed(0)
    ref = bigvgan.BigVGAN(h, use_cuda_kernel=False)
    (tmp_path / "bv").mkdir()
    torch.save({"generator": ref.state_dict()}, tmp_path / "bv" / "bigvgan_generator.pt")
    import json

    (tmp_path / "bv" / "config.json").write_text(json.dumps(dict(h)))
    voc = load_vocoder(tmp_path / "bv")
    assert isinstance(voc, BigVGANVocoder)
    mel = torch.randn(1, 64, 20)
    with torch.no_grad():
        wav = voc(mel, length=3200)
        ref.remove_weight_norm()
        expect = ref.eval()(mel).squeeze(1)[..., :3200]
    assert wav.shape == (1, 3200) and torch.allclose(wav, expect, atol=1e-5)


# ---- models convert: each folder must hold its kind of component -------------------------------

@pytest.mark.parametrize("flag,wrong", [("--text-encoder", "vae"), ("--vae", "unet"), ("--unet", "vae"),
                                        ("--text-encoder", "hifigan"), ("--vocoder", "t5"), ("--vae", "empty")])
def test_convert_names_a_folder_of_the_wrong_kind(flag, wrong, components, tmp_path, capsys):
    from rfm_studio.cli import main

    (tmp_path / "empty").mkdir()
    args = {"--vae": components / "vae", "--unet": components / "unet", "--text-encoder": components / "t5",
            "--vocoder": components / "hifigan"}
    args[flag] = tmp_path / "empty" if wrong == "empty" else components / wrong
    out = tmp_path / "out"
    argv = ["models", "convert", "--out", str(out)] + [str(x) for kv in args.items() for x in kv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and str(args[flag]) in err, err
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == ["empty"]


def _t5_without_tokenizer(components, folder, vocab_size=None):
    import json
    import shutil

    folder.mkdir()
    cfg = json.loads((components / "t5" / "config.json").read_text())
    if vocab_size:
        cfg["vocab_size"] = vocab_size
    (folder / "config.json").write_text(json.dumps(cfg))
    if not vocab_size:
        shutil.copy(components / "t5" / "model.safetensors", folder)
    else:
        from transformers import T5Config, T5EncoderModel

        T5EncoderModel(T5Config(**{k: v for k, v in cfg.items() if not k.startswith("_")})).save_pretrained(folder)
    return folder


def test_convert_refuses_a_missing_or_foreign_tokenizer(components, tmp_path, capsys):
    from rfm_studio.cli import main
    from rfm_studio.core.errors import ModelLoadError
    from rfm_studio.core.model.convert import build_paper_bundle

    notok = _t5_without_tokenizer(components, tmp_path / "t5_notok")
    base = ["models", "convert", "--vae", str(components / "vae"), "--unet", str(components / "unet")]
    assert main(base + ["--text-encoder", str(notok), "--out", str(tmp_path / "o")]) == 2
    assert "tokenizer" in capsys.readouterr().err and not (tmp_path / "o").exists()
    assert main(base + ["--text-encoder", str(components / "t5"), "--tokenizer", str(notok),
                        "--out", str(tmp_path / "o")]) == 2
    assert "tokenizer" in capsys.readouterr().err and not (tmp_path / "o").exists()
    # a tokenizer of another model: far fewer tokens than the text model's vocabulary
    big = _t5_without_tokenizer(components, tmp_path / "t5_big", vocab_size=100000)
    with pytest.raises(ModelLoadError, match="vocabulary of 100000"):
        build_paper_bundle(components / "vae", components / "unet", big, tokenizer_dir=components / "t5")


def test_audioldm1_unet_converts_and_edits(components, tmp_path):
    """AudioLDM 1: a CLAP embedding concatenated with the time embedding (class_embeddings_concat);
    the converted U-Net has no class embedding and keeps the time half of each time projection."""
    from diffusers import UNet2DConditionModel

    from rfm_studio.cli import main
    from rfm_studio.core.editing import edit
    from rfm_studio.core.model.bundle import RFMEditor

    torch.manual_seed(0)
    ldm1 = UNet2DConditionModel(sample_size=[64, 16], in_channels=8, out_channels=8, block_out_channels=[16, 32],
                                down_block_types=["DownBlock2D", "CrossAttnDownBlock2D"],
                                up_block_types=["CrossAttnUpBlock2D", "UpBlock2D"], layers_per_block=1,
                                cross_attention_dim=32, attention_head_dim=4, norm_num_groups=8,
                                class_embed_type="simple_projection", projection_class_embeddings_input_dim=16,
                                class_embeddings_concat=True)
    ldm1.save_pretrained(tmp_path / "unet_ldm1")
    out = tmp_path / "paper"
    assert main(["models", "convert", "--vae", str(components / "vae"), "--unet", str(tmp_path / "unet_ldm1"),
                 "--text-encoder", str(components / "t5"), "--out", str(out)]) == 0
    m = RFMEditor.from_pretrained(out)
    m.window_frames = 256
    res = edit(m, tone(3.0, sr=16000), 16000, "Remove the dog barking", steps=2, guidance=2.0)
    assert res.audio.shape == (48000,) and np.isfinite(res.audio).all()
    cfg = m.denoiser.net.config
    assert cfg.class_embed_type is None and not cfg.class_embeddings_concat
    src = ldm1.down_blocks[0].resnets[0].time_emb_proj.weight
    dst = m.denoiser.net.down_blocks[0].resnets[0].time_emb_proj.weight
    assert torch.equal(dst, src[:, : dst.shape[1]])
