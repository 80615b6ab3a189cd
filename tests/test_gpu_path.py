"""The GPU user's path, checked on the CPU with tiny components in the public formats:
one device and precision rule for a whole bundle, conversion that keeps what a public U-Net
computes, the paper's window and timestep convention, and training settings."""

import json
import os

import numpy as np
import pytest
import torch

from conftest import tone


@pytest.fixture(scope="module")
def components(tmp_path_factory):
    from rfm_studio.core.model.tiny_public import write_tiny_public_components

    return write_tiny_public_components(tmp_path_factory.mktemp("public"))


@pytest.fixture(scope="module")
def paper_bundle(components, tmp_path_factory):
    from rfm_studio.core.model.convert import build_paper_bundle

    m = build_paper_bundle(components / "vae", components / "unet", components / "t5", components / "hifigan")
    m.window_frames = 256  # a short window keeps the CPU edits fast
    return m.save_pretrained(tmp_path_factory.mktemp("paper") / "bundle")


# ---- 1. devices -----------------------------------------------------------------------------
def test_a_device_asked_for_by_name_must_be_usable(monkeypatch):
    from rfm_studio.core.devices import resolve_device
    from rfm_studio.core.errors import OptionError

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("cpu") == "cpu" and resolve_device("auto") in ("cpu", "mps")
    for spec in ("cuda", "cuda:1"):
        with pytest.raises(OptionError, match=f"Device '{spec}' was requested but no usable CUDA GPU"):
            resolve_device(spec)
    with pytest.raises(OptionError, match="Unknown device 'gpu'"):
        resolve_device("gpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("cuda:1") == "cuda:1" and resolve_device("auto") == "cuda"  # cuda:N is kept
    with pytest.raises(OptionError, match=r"has 2 CUDA GPUs \(cuda:0 to cuda:1\)"):
        resolve_device("cuda:2")


def test_train_on_a_missing_gpu_is_one_sentence_and_exit_2(tmp_path, capsys, monkeypatch):
    """It used to train on the CPU and exit 0."""
    from rfm_studio.cli import main

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for dev in ("cuda", "cuda:1"):
        code = main(["train", "--data", str(tmp_path / "x.jsonl"), "--out", str(tmp_path / "run"), "--init", "tiny",
                     "--steps", "1", "--device", dev])
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1 and "no usable CUDA GPU" in err and "Traceback" not in err
        assert not (tmp_path / "run").exists()


def test_edit_eval_and_finetune_refuse_a_missing_gpu(tmp_path, capsys, monkeypatch):
    import soundfile as sf

    from rfm_studio.cli import main

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    sf.write(tmp_path / "in.wav", tone(1.0, sr=16000), 16000)
    assert main(["edit", str(tmp_path / "in.wav"), "Remove the hum", "-o", str(tmp_path / "o.wav"),
                 "--device", "cuda:0"]) == 2
    assert "no usable CUDA GPU" in capsys.readouterr().err and not (tmp_path / "o.wav").exists()
    (tmp_path / "m.jsonl").write_text(json.dumps({"id": "a", "input": "in.wav", "instruction": "x"}) + "\n")
    assert main(["edit-batch", str(tmp_path / "m.jsonl"), "--out-dir", str(tmp_path / "out"), "--device", "cuda"]) == 2
    assert "no usable CUDA GPU" in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_one_device_rule_everywhere():
    """The three copies (training, evaluation, GUI) are gone: each uses core.devices."""
    import inspect

    import rfm_studio.core.evaluation.runner as runner
    import rfm_studio.core.training.loop as loop
    import rfm_studio.gui.tasks as tasks

    assert not hasattr(loop, "pick_device") and not hasattr(runner, "resolve_device")
    assert "core.devices" in inspect.getsource(tasks.resolve_device)


def test_precision_names(monkeypatch):
    from rfm_studio.core.devices import resolve_dtype
    from rfm_studio.core.errors import OptionError

    assert resolve_dtype("bfloat16", "cpu") == torch.bfloat16 and resolve_dtype(None) == torch.float32
    assert resolve_dtype("float16", "cpu") == torch.float16  # this CPU runs the ops in float16 (probed)
    with pytest.raises(OptionError, match="Unknown precision 'float8'"):
        resolve_dtype("float8", "cpu")
    import rfm_studio.core.devices as devices

    monkeypatch.setitem(devices._PROBED, ("cpu", torch.float16), "conv2d not implemented for 'Half'")
    with pytest.raises(OptionError, match="cannot run this model's operations in it"):
        resolve_dtype("float16", "cpu")


# ---- 2. one precision for a whole bundle ----------------------------------------------------------
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_paper_bundle_edits_in_half_precision(paper_bundle, dtype):
    """Only the U-Net used to be cast: the fp32 VAE then failed on the half-precision mel."""
    from rfm_studio.core.editing import edit
    from rfm_studio.core.model.bundle import RFMEditor

    m = RFMEditor.from_pretrained(paper_bundle, dtype=dtype)
    assert {p.dtype for p in m.parameters()} == {dtype}  # U-Net, VAE, text encoder, vocoder
    res = edit(m, tone(3.0, sr=16000), 16000, "Remove the dog barking", steps=2, guidance=2.0,
               capture_attention=True, preview_every=1, engine="model")
    assert res.audio.dtype == np.float32 and res.audio.shape == (48000,) and np.isfinite(res.audio).all()
    assert res.attention is not None and np.isfinite(res.attention).all()
    ref = edit(RFMEditor.from_pretrained(paper_bundle), tone(3.0, sr=16000), 16000, "Remove the dog barking",
               steps=2, guidance=2.0, engine="model")
    # the same edit, to the precision's rounding (the mels: this random HiFi-GAN's waveform is ~1e-9,
    # below float16's smallest number)
    assert np.corrcoef(res.mel_out.ravel(), ref.mel_out.ravel())[0, 1] > 0.99


def test_cli_edit_in_bfloat16(paper_bundle, tmp_path, capsys):
    import soundfile as sf

    from rfm_studio.cli import main

    sf.write(tmp_path / "in.wav", tone(2.0, sr=16000), 16000)
    assert main(["edit", str(tmp_path / "in.wav"), "Add a bell", "-o", str(tmp_path / "o.wav"), "--model",
                 str(paper_bundle), "--steps", "2", "--dtype", "bfloat16", "--device", "cpu"]) == 0, \
        capsys.readouterr().err
    out, sr = sf.read(tmp_path / "o.wav")
    assert sr == 16000 and len(out) == 32000 and np.isfinite(out).all()


def test_adapter_on_a_half_precision_paper_bundle(paper_bundle, tmp_path):
    """A LoRA adapter (U-Net and text encoder) attached to a bfloat16 bundle is made in bfloat16 and edits."""
    from test_adapters import _save

    from rfm_studio.core.editing import edit
    from rfm_studio.core.model.bundle import RFMEditor

    path = _save(RFMEditor.from_pretrained(paper_bundle), tmp_path / "ad")
    h = RFMEditor.from_pretrained(paper_bundle, dtype="bfloat16", adapter=path)
    assert len(h._adapter_sets) == 2
    assert all(p.dtype == torch.bfloat16 for s in h._adapter_sets for p in s.parameters())
    res = edit(h, tone(1.0, sr=16000), 16000, "Remove the hum", steps=2, guidance=2.0)
    assert np.isfinite(res.audio).all()


def test_gui_precision_uses_the_core_rule(tiny_bundle, monkeypatch):
    from rfm_studio.gui.tasks import ModelHost

    host = ModelHost()
    info = host.load(str(tiny_bundle), device="cpu", precision="bfloat16")
    assert info.precision == "bfloat16" and {p.dtype for p in host.model.parameters()} == {torch.bfloat16}
    import rfm_studio.core.devices as devices

    monkeypatch.setitem(devices._PROBED, ("cpu", torch.float16), "not implemented for 'Half'")
    info = host.load(str(tiny_bundle), device="cpu", precision="float16")
    assert info.precision == "float32" and "float16 is not usable on cpu" in info.note


# ---- 3. conversion keeps what the public U-Net computes -----------------------------------------
def _t2a_unet(order: str, film: str | None = None, cross_dim: int = 32):
    from diffusers import UNet2DConditionModel

    torch.manual_seed(1)
    if order == "tango":  # Stable Diffusion's block order: attention first, a plain block last
        down, up = ["CrossAttnDownBlock2D", "DownBlock2D"], ["UpBlock2D", "CrossAttnUpBlock2D"]
    else:  # AudioLDM's: a plain block first
        down, up = ["DownBlock2D", "CrossAttnDownBlock2D"], ["CrossAttnUpBlock2D", "UpBlock2D"]
    kw = {}
    if film:
        kw = dict(class_embed_type="simple_projection", projection_class_embeddings_input_dim=16,
                  class_embeddings_concat=film == "concat")
    return UNet2DConditionModel(sample_size=[64, 16], in_channels=8, out_channels=8, block_out_channels=[16, 32],
                                down_block_types=down, up_block_types=up, layers_per_block=1,
                                cross_attention_dim=cross_dim, attention_head_dim=4, norm_num_groups=8, **kw)


@pytest.mark.parametrize("order,film", [("tango", None), ("audioldm", None), ("tango", "concat"),
                                        ("audioldm", "concat"), ("audioldm", "add")])
def test_converted_unet_computes_what_the_original_did(order, film, tmp_path):
    """With zeros on the new input channels (and a zero class condition for FiLM U-Nets) the
    converted U-Net gives the original's output. A Tango U-Net used to be rebuilt with
    cross-attention in every block (new random weights): it no longer computed the same."""
    from rfm_studio.core.model.convert import load_t2a_unet, unet_layout

    src = _t2a_unet(order, film)
    with torch.no_grad():  # a trained-looking class embedding: its bias matters
        if film:
            src.class_embedding.bias.normal_()
    src.save_pretrained(tmp_path / "unet")
    conv = load_t2a_unet(tmp_path / "unet", 32, 8)
    assert conv.config.in_channels == 16
    assert list(conv.config.down_block_types) == list(src.config.down_block_types)
    assert list(conv.config.up_block_types) == list(src.config.up_block_types)
    assert conv.config.conversion["new_parameters"] == 0
    torch.manual_seed(2)
    x, ctx = torch.randn(2, 8, 16, 16), torch.randn(2, 5, 32)
    kw = {"class_labels": torch.zeros(2, 16)} if film else {}
    with torch.no_grad():
        a = src(x, 500, encoder_hidden_states=ctx, **kw).sample
        b = conv(torch.cat([x, torch.zeros_like(x)], 1), 500, encoder_hidden_states=ctx).sample
    torch.testing.assert_close(b, a, atol=1e-5, rtol=1e-5)
    # the layout comes from the weights, not the config: a config that lies is overruled
    lay = unet_layout(dict(src.state_dict()))
    assert lay["down_block_types"] == list(src.config.down_block_types)
    assert lay["class_embeddings_concat"] == (film == "concat")


def test_convert_cli_says_what_it_kept(components, tmp_path, capsys):
    from rfm_studio.cli import main

    _t2a_unet("tango").save_pretrained(tmp_path / "unet")
    assert main(["models", "convert", "--vae", str(components / "vae"), "--unet", str(tmp_path / "unet"),
                 "--text-encoder", str(components / "t5"), "--out", str(tmp_path / "out")]) == 0
    assert "stable-diffusion block order, 0.00 M new parameters" in capsys.readouterr().out


def test_block_kinds_come_from_the_checkpoints_keys(tmp_path):
    """A Tango checkpoint whose config.json names AudioLDM's order is converted by its weights."""
    from rfm_studio.core.model.convert import load_t2a_unet

    src = _t2a_unet("tango")
    src.save_pretrained(tmp_path / "unet")
    cfg = json.loads((tmp_path / "unet" / "config.json").read_text())
    cfg["down_block_types"], cfg["up_block_types"] = ["DownBlock2D", "CrossAttnDownBlock2D"], \
        ["CrossAttnUpBlock2D", "UpBlock2D"]
    (tmp_path / "unet" / "config.json").write_text(json.dumps(cfg))
    conv = load_t2a_unet(tmp_path / "unet", 32, 8)
    assert list(conv.config.down_block_types) == ["CrossAttnDownBlock2D", "DownBlock2D"]
    assert conv.config.conversion["new_parameters"] == 0


def test_another_text_width_only_renews_the_cross_attention_keys_and_values(tmp_path):
    from rfm_studio.core.model.convert import load_t2a_unet

    _t2a_unet("audioldm", cross_dim=24).save_pretrained(tmp_path / "unet")
    conv = load_t2a_unet(tmp_path / "unet", 32, 8)
    new = conv.config.conversion["new_tensors"]
    assert new and all(k.endswith(("attn2.to_k.weight", "attn2.to_v.weight")) for k in new)


def test_converted_bundle_edits_the_papers_1024_frames(components):
    """The window used to come from the U-Net's sample_size (64 latent frames: 2.56 s)."""
    from rfm_studio.core.model.convert import build_paper_bundle, paper_window_frames

    m = build_paper_bundle(components / "vae", components / "unet", components / "t5", components / "hifigan")
    assert m.window_frames == 1024 and m.window_frames * m.mel_config.hop_length / 16000 == pytest.approx(10.24)
    assert paper_window_frames(4 * 8) == 1024 and paper_window_frames(48) == 1008


# ---- 4. timestep convention ---------------------------------------------------------------------
def test_converted_models_use_the_ddpm_timestep_convention(paper_bundle):
    """AudioLDM / Tango were pretrained with timestep 0 = clean data, 1000 = noise: RFM time t
    (0 noise, 1 data) reaches them as 1000 (1 - t). It used to reach them as 1000 t."""
    from rfm_studio.core.flow.config import PathConfig
    from rfm_studio.core.model.bundle import RFMEditor

    m = RFMEditor.from_pretrained(paper_bundle)
    assert m.flow.path.timestep_convention == "ddpm"
    seen = []
    net = m.denoiser.net
    orig = net.forward
    net.forward = lambda x, t, **kw: (seen.append(t.clone()), orig(x, t, **kw))[1]
    x = torch.zeros(1, 8, 16, 16)
    ctx, mask = m.encode_instruction(["Add a bell"])
    with torch.no_grad():
        m.net_velocity(x, x, torch.tensor([0.01]), ctx, mask)
    assert float(seen[0][0]) == pytest.approx(990.0)
    assert PathConfig().network_timestep(torch.tensor(0.25)) == 250.0  # the embedded models' convention
    with pytest.raises(ValueError, match="timestep convention"):
        PathConfig(timestep_convention="edm")


SHIPPED_UNET_SHA256 = "0ecc39becf1e828ba5a264971132846e76121647181273737879ed35800a7790"
SHIPPED_EDIT_EVERY_1000TH = [  # r.audio[::1000] of the edit below, float32
    0.001257302239537239, 0.011839019134640694, 0.0041925483383238316, -0.003884783247485757, 0.008520286530256271,
    -0.0017997425748035312, -0.013518646359443665, 0.02050735056400299, 0.005838473793119192, -0.012318585067987442,
    0.004894076380878687, -0.0028359105344861746, 0.003214733675122261, 0.006991291884332895,
    -0.00028848095098510385, 0.0016974008176475763, 0.00745978020131588, -0.008368384093046188,
    0.0009210875723510981, -0.004708769265562296, 0.0032359471078962088, 0.006455393973737955, 0.005666188430041075,
    -0.008628252893686295, -0.00743501354008913, 0.005607554689049721, -0.016127310693264008, 0.008174238726496696,
    0.005092571955174208, 0.0009463310125283897, -0.011056379415094852, -0.0030910391360521317,
    -0.009910978376865387, 0.005243163555860519, -0.0033677711617201567, 0.0046358248218894005, 0.004372648429125547,
    -0.02624758519232273, -0.0026717903092503548, -0.009493504650890827, 0.0017576264217495918, 0.015539116226136684,
    -0.001672421465627849, -0.007129840087145567, 0.002736250637099147, 0.0039849597960710526,
    -0.0026406077668070793, 0.009426379576325417,
]
SHIPPED_EDIT_L2 = 46.355753202111515
# sha256 of the float32 audio's dtype, shape and bytes; recorded with torch 2.14.1+cu130 on an AVX512
# "AMD EPYC" x86-64 machine, one intra-op thread (OMP_NUM_THREADS=1): compared with RFM_STUDIO_PIN_DIGESTS=1
SHIPPED_EDIT_SHA256 = "9b5babad944f799d4c0d57dd97b72a780f0e3bc1f59252782c1591568a5cb58d"


def test_the_shipped_model_edits_bit_identically():
    """The shipped bundle has no timestep_convention (rfm: the network hears 1000 t) and its
    float32 edit is unchanged by the precision rule: the fingerprint was taken before either existed
    (while the shipped U-Net is the one it was taken of). Samples to 1e-7, not a digest of the bits:
    processors of different makes differ in the last bits; the digest only with
    RFM_STUDIO_PIN_DIGESTS=1 on the build that recorded it."""
    import hashlib

    from rfm_studio.core.editing import edit
    from rfm_studio.core.model.bundle import RFMEditor
    from rfm_studio.core.paths import resolve_model

    folder = resolve_model(None)
    m = RFMEditor.from_pretrained(folder)
    assert m.flow.path.timestep_convention == "rfm" and m.dtype == torch.float32
    seen = []
    net = m.denoiser.net
    orig = net.forward
    net.forward = lambda x, t, *a, **kw: (seen.append(t.clone()), orig(x, t, *a, **kw))[1]
    r = edit(m, tone(3.0, sr=16000), 16000, "Remove the dog barking", seed=3, steps=4)
    times = np.linspace(m.flow.sampler.t_start, 1.0, 5)[:4]
    assert [float(t[0]) for t in seen] == [float(torch.tensor(t) * 1000.0) for t in times]
    weights = hashlib.sha256((folder / "unet" / "model.safetensors").read_bytes()).hexdigest()
    if weights != SHIPPED_UNET_SHA256:
        pytest.skip("the shipped U-Net is not the one the fingerprint was taken of")
    np.testing.assert_allclose(r.audio[1000:1004], [0.011839019134640694, -0.04854046180844307,
                                                    -0.09970083087682724, -0.1459781676530838], rtol=0, atol=1e-7)
    assert float(np.abs(r.audio).mean()) == pytest.approx(0.19015730917453766, rel=1e-6)
    # a strided fingerprint over the whole clip: every window and the overlap-add, not only its start
    np.testing.assert_allclose(r.audio[::1000], SHIPPED_EDIT_EVERY_1000TH, rtol=0, atol=1e-7)
    assert float(np.linalg.norm(r.audio.astype(np.float64))) == pytest.approx(SHIPPED_EDIT_L2, rel=1e-6)
    if os.environ.get("RFM_STUDIO_PIN_DIGESTS") == "1":  # the bits, on the build that recorded them
        a = np.ascontiguousarray(r.audio)
        digest = hashlib.sha256(str((a.dtype.str, a.shape)).encode() + a.tobytes()).hexdigest()
        assert digest == SHIPPED_EDIT_SHA256
