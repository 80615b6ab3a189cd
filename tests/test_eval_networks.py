"""Loading code of the embedding networks (PANNs CNN14, VGGish, CLAP) against tiny random
weights saved in each network's real checkpoint format (same keys and nesting)."""

import importlib.util
import json
from collections import OrderedDict

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rfm_studio.core.evaluation import vggish as V  # noqa: E402
from rfm_studio.core.evaluation.checkpoints import MetricUnavailable, load_torch_file  # noqa: E402
from rfm_studio.core.evaluation.clap import (HFClap, LaionClap, MSClap, load_clap, read_laion_checkpoint,  # noqa: E402
                                             read_msclap_checkpoint)
from rfm_studio.core.evaluation.panns import PannsCnn14, build_cnn14  # noqa: E402

TINY_PANNS = dict(widths=(4, 8, 8, 16, 16, 32), embed_dim=24, classes=10)
TINY_VGGISH = dict(channels=(4, 4, 8, 8, 8, 8), hidden=(32, 32), out_dim=16)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny convolutions: threads only add overhead
    yield
    torch.set_num_threads(old)


def _randomize(net, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in net.state_dict().items():
            if "running_var" in name:
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            elif t.is_floating_point() and "extractor" not in name:
                t.copy_(torch.randn(t.shape, generator=g) * 0.3)
    return net.eval()


def _noise(sec, sr, seed):
    return (0.1 * np.random.default_rng(seed).standard_normal(int(sec * sr))).astype(np.float32)


# ---- PANNs CNN14 -------------------------------------------------------------------------------
PANNS_KEYS = (["spectrogram_extractor.stft.conv_real.weight", "spectrogram_extractor.stft.conv_imag.weight",
               "logmel_extractor.melW"]
              + [f"bn0.{s}" for s in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")]
              + [f"conv_block{i}.{layer}" for i in range(1, 7) for layer in
                 ["conv1.weight", "conv2.weight"] + [f"{bn}.{s}" for bn in ("bn1", "bn2") for s in
                                                     ("weight", "bias", "running_mean", "running_var",
                                                      "num_batches_tracked")]]
              + ["fc1.weight", "fc1.bias", "fc_audioset.weight", "fc_audioset.bias"])


def test_cnn14_layout_matches_public_checkpoint_keys():
    with torch.device("meta"):
        sd = build_cnn14().state_dict()
    assert sorted(sd) == sorted(PANNS_KEYS)
    shapes = {k: tuple(v.shape) for k, v in sd.items()}
    assert shapes["spectrogram_extractor.stft.conv_real.weight"] == (257, 1, 512)
    assert shapes["logmel_extractor.melW"] == (257, 64)
    assert shapes["conv_block6.conv2.weight"] == (2048, 2048, 3, 3)
    assert shapes["fc1.weight"] == (2048, 2048) and shapes["fc_audioset.weight"] == (527, 2048)


def test_cnn14_front_end_is_a_power_stft():
    net = build_cnn14(**TINY_PANNS)
    x = torch.from_numpy(_noise(1.0, 16000, 0))[None]
    spec = net.spectrogram_extractor(x)[0, 0]  # [T, F]
    ref = torch.stft(x[0], 512, 160, 512, torch.hann_window(512), center=True, pad_mode="reflect",
                     return_complex=True).abs().T ** 2
    torch.testing.assert_close(spec, ref, rtol=1e-3, atol=1e-4 * float(ref.max()))


def test_cnn14_loads_panns_checkpoint_format(tmp_path):
    net = _randomize(build_cnn14(**TINY_PANNS))
    path = tmp_path / "Cnn14_16k_mAP=0.438.pth"
    # the PANNs training script saves {"iteration", "model", "sampler"}; the sampler state
    # holds numpy arrays, which weights_only loading must accept (numpy allow-listed)
    torch.save({"iteration": 100000, "model": net.state_dict(),
                "sampler": {"indexes_per_class": [np.arange(5)], "queue": np.int64(3)}}, path)
    m = PannsCnn14.load(path)
    assert m.config["widths"] == TINY_PANNS["widths"] and m.record["classes"] == 10
    assert len(m.record["sha256"]) == 64
    clips = [(_noise(1.5, 16000, 1), 16000), (_noise(0.7, 22050, 2), 22050)]
    out = m.embed(clips)
    assert out["embedding"].shape == (2, 24) and out["logits"].shape == (2, 10)
    np.testing.assert_allclose(out["clipwise_output"], 1 / (1 + np.exp(-out["logits"])), rtol=1e-5)
    with torch.no_grad():
        direct = net(torch.from_numpy(PannsCnn14.prepare(*clips[0]))[None])
    np.testing.assert_allclose(out["logits"][0], direct["logits"][0].double().numpy(), rtol=1e-5, atol=1e-6)
    assert len(PannsCnn14.prepare(*clips[1])) == 32000  # padded to 2 s, as audioldm_eval does
    # a bare state dict (no "model" wrapper) and a DataParallel 'module.' prefix also load
    torch.save({"module." + k: v for k, v in net.state_dict().items()}, tmp_path / "bare.pth")
    assert PannsCnn14.load(tmp_path / "bare.pth").embed(clips[:1])["logits"] == pytest.approx(out["logits"][:1])


def test_cnn14_rejects_wrong_files(tmp_path):
    with pytest.raises(MetricUnavailable, match="not found"):
        PannsCnn14.load(tmp_path / "missing.pth")
    net = build_cnn14(**TINY_PANNS, n_fft=1024)  # the 32 kHz model's front end
    torch.save({"model": net.state_dict()}, tmp_path / "Cnn14_mAP=0.431.pth")
    with pytest.raises(MetricUnavailable, match="16 kHz"):
        PannsCnn14.load(tmp_path / "Cnn14_mAP=0.431.pth")
    sd = build_cnn14(**TINY_PANNS).state_dict()
    del sd["fc1.weight"]
    torch.save({"model": sd}, tmp_path / "broken.pth")
    with pytest.raises(MetricUnavailable, match="fc1.weight"):
        PannsCnn14.load(tmp_path / "broken.pth")


def test_pickled_objects_are_refused(tmp_path):
    import fractions

    torch.save({"model": fractions.Fraction(1, 3)}, tmp_path / "evil.pth")  # any non-weight object
    with pytest.raises(MetricUnavailable, match="weights_only"):
        load_torch_file(tmp_path / "evil.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(MetricUnavailable, match="not a PyTorch checkpoint"):
        load_torch_file(tmp_path / "junk.pth")


# ---- VGGish ------------------------------------------------------------------------------------
def test_vggish_layout_matches_torchvggish_keys():
    with torch.device("meta"):
        sd = V.build_vggish().state_dict()
    expect = {f"features.{i}.{p}" for i in (0, 3, 6, 8, 11, 13) for p in ("weight", "bias")} | \
             {f"embeddings.{i}.{p}" for i in (0, 2, 4) for p in ("weight", "bias")}
    assert set(sd) == expect
    assert tuple(sd["features.13.weight"].shape) == (512, 512, 3, 3)
    assert tuple(sd["embeddings.0.weight"].shape) == (4096, 512 * 4 * 6)
    assert tuple(sd["embeddings.4.weight"].shape) == (128, 4096)


def test_vggish_front_end():
    sr = 16000
    t = np.arange(3 * sr) / sr
    x = 0.5 * np.sin(2 * np.pi * 1000.0 * t)
    ex = V.examples(x, sr)
    assert ex.shape == (3, 96, 64)  # 298 frames -> three 0.96 s examples, the rest dropped
    # the loudest band is the one whose HTK-mel centre is nearest 1 kHz
    edges = np.linspace(V._hz_to_mel_htk(125), V._hz_to_mel_htk(7500), 66)
    assert int(np.argmax(ex[0].mean(axis=0))) == int(np.argmin(np.abs(edges[1:-1] - V._hz_to_mel_htk(1000))))
    assert V.examples(x[:8000], sr).shape == (1, 96, 64)  # short clips padded to one example
    assert np.isclose(V.log_mel(np.zeros(4000)), np.log(0.01)).all()
    w = V.mel_matrix()
    assert w.shape == (257, 64) and (w[0] == 0).all() and w.max() <= 1.0


def test_vggish_loads_torchvggish_checkpoint_and_pca(tmp_path):
    net = _randomize(V.build_vggish(**TINY_VGGISH), seed=1)
    torch.save(OrderedDict(net.state_dict()), tmp_path / "vggish-10086976.pth")  # flat state dict
    rng = np.random.default_rng(0)
    torch.save({"pca_eigen_vectors": rng.standard_normal((16, 16)), "pca_means": rng.standard_normal(16)},
               tmp_path / "vggish_pca_params-970ea276.pth")  # numpy arrays, as published
    m = V.VGGish.load(tmp_path / "vggish-10086976.pth", tmp_path / "vggish_pca_params-970ea276.pth")
    assert m.record["hash_prefix_in_name"] == "10086976" and m.record["hash_matches_name"] is False
    clips = [(_noise(2.0, 16000, 3), 16000), (_noise(1.0, 44100, 4), 44100)]
    e = m.embed(clips)
    assert e.shape == (3, 16)  # 2 examples + 1 example
    ex = torch.from_numpy(V.examples(*clips[0]))[:, None]
    with torch.no_grad():
        pre = net(ex, final_relu=False).double().numpy()
        post = net(ex, final_relu=True)
    np.testing.assert_allclose(e[:2], pre, rtol=1e-5, atol=1e-6)
    assert (pre < 0).any()  # audioldm_eval's FAD drops the final ReLU
    q = m.embed(clips[:1], postprocess=True)
    mat, mu = m.pca
    ref = torch.round((torch.clamp(torch.mm(mat, post.T - mu).T, -2, 2) + 2) * 255 / 4).double().numpy()
    np.testing.assert_allclose(q, ref)
    assert q.min() >= 0 and q.max() <= 255


def test_vggish_rejects_mismatched_weights(tmp_path):
    sd = V.build_vggish(**TINY_VGGISH).state_dict()
    sd["embeddings.0.weight"] = sd["embeddings.0.weight"][:, :10]
    torch.save(sd, tmp_path / "bad.pth")
    with pytest.raises(MetricUnavailable, match="VGGish"):
        V.VGGish.load(tmp_path / "bad.pth")
    good = V.build_vggish(**TINY_VGGISH).state_dict()
    torch.save(good, tmp_path / "v.pth")
    torch.save({"pca_eigen_vectors": np.eye(3), "pca_means": np.zeros(3)}, tmp_path / "pca.pth")
    with pytest.raises(MetricUnavailable, match="PCA"):
        V.VGGish.load(tmp_path / "v.pth", tmp_path / "pca.pth")


# ---- CLAP --------------------------------------------------------------------------------------
def _tiny_hf_clap(folder):
    """A random transformers ClapModel + ClapProcessor folder (the Hugging Face LAION-CLAP format)."""
    from transformers import (ClapAudioConfig, ClapConfig, ClapFeatureExtractor, ClapModel, ClapProcessor,
                              ClapTextConfig, RobertaTokenizer)

    folder.mkdir()
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "<mask>": 4}
    for c in "abcdefghijklmnopqrstuvwxyzĠ":
        vocab[c] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    tok = RobertaTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"))
    torch.manual_seed(0)
    cfg = ClapConfig(
        text_config=ClapTextConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                   intermediate_size=37, max_position_embeddings=80, projection_dim=16).to_dict(),
        audio_config=ClapAudioConfig(depths=[1, 1], num_attention_heads=[2, 2], patch_embeds_hidden_size=16,
                                     hidden_size=32, projection_dim=16, window_size=4, spec_size=128,
                                     num_mel_bins=64).to_dict(),
        projection_dim=16)
    ClapModel(cfg).save_pretrained(folder)
    ClapProcessor(feature_extractor=ClapFeatureExtractor(feature_size=64, sampling_rate=48000, max_length_s=1),
                  tokenizer=tok).save_pretrained(folder)
    return folder


def test_hf_clap_folder_loads_and_scores(tmp_path):
    d = _tiny_hf_clap(tmp_path / "clap-tiny")
    scorer = load_clap(d, "laion")
    assert isinstance(scorer, HFClap) and scorer.rate == 48000 and not scorer.fusion
    clips = [(_noise(2.0, 16000, 5), 16000), (_noise(0.4, 44100, 6), 44100)]
    a = scorer.embed_audio(clips)
    t = scorer.embed_text(["rain on a roof", "a dog barks"])
    assert a.shape == (2, 16) and t.shape == (2, 16)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(scorer.embed_audio(clips[:1]), a[:1], rtol=1e-5)  # deterministic crop
    s = scorer.score(clips, ["rain on a roof", "a dog barks"])
    assert -1 <= s["clap"] <= 1 and len(s["per_clip"]) == 2
    assert scorer.record["format"] == "huggingface" and scorer.record["weights"]


def _laion_state(prefix="module."):
    g = torch.Generator().manual_seed(0)
    r = lambda *s: torch.randn(*s, generator=g)  # noqa: E731
    sd = {"audio_branch.patch_embed.proj.weight": r(96, 1, 4, 4),
          "audio_branch.patch_embed.proj.bias": r(96),
          "text_branch.embeddings.word_embeddings.weight": r(50265, 4),
          "text_branch.embeddings.position_ids": torch.arange(514)[None],
          "audio_projection.0.weight": r(8, 96), "audio_projection.0.bias": r(8),
          "text_projection.0.weight": r(8, 4), "text_projection.0.bias": r(8),
          "logit_scale_a": torch.tensor(2.6), "logit_scale_t": torch.tensor(2.6)}
    return {prefix + k: v for k, v in sd.items()}


class _FakeLaionModule:
    """Stands in for laion_clap.CLAP_Module: ``.model`` with the checkpoint's parameter names."""

    def __init__(self, arch, device):
        from torch import nn

        self.arch = arch
        m = nn.Module()
        m.audio_branch = nn.Module()
        m.audio_branch.patch_embed = nn.Module()
        m.audio_branch.patch_embed.proj = nn.Conv2d(1, 96, 4)
        m.text_branch = nn.Module()
        m.text_branch.embeddings = nn.Module()
        m.text_branch.embeddings.word_embeddings = nn.Embedding(50265, 4)
        m.audio_projection = nn.Sequential(nn.Linear(96, 8))
        m.text_projection = nn.Sequential(nn.Linear(4, 8))
        m.logit_scale_a = nn.Parameter(torch.zeros(()))
        m.logit_scale_t = nn.Parameter(torch.zeros(()))
        self.model = m
        self.audio_inputs = []

    def get_audio_embedding_from_data(self, x, use_tensor=False):
        self.audio_inputs.append(x[0])
        w = self.model.audio_projection[0].weight.detach().numpy()
        return np.stack([w[:, :3].sum(axis=1) * float(np.abs(a).mean()) for a in x])

    def get_text_embedding(self, texts, use_tensor=False):
        w = self.model.text_projection[0].weight.detach().numpy()
        return np.stack([w[:, 0] * len(t) for t in texts])


def test_laion_checkpoint_reading_and_loading(tmp_path):
    path = tmp_path / "630k-audioset-best.pt"
    torch.save({"epoch": 45, "name": "630k-audioset", "state_dict": _laion_state()}, path)
    sd, arch = read_laion_checkpoint(path)
    assert arch == {"amodel": "HTSAT-tiny", "tmodel": "roberta", "fusion": False}
    assert not any(k.startswith("module.") for k in sd) and "text_branch.embeddings.position_ids" not in sd
    fakes = []
    scorer = LaionClap(path, factory=lambda a, d: fakes.append(_FakeLaionModule(a, d)) or fakes[-1])
    fake = fakes[0]
    torch.testing.assert_close(fake.model.audio_projection[0].weight, sd["audio_projection.0.weight"])
    torch.testing.assert_close(fake.model.logit_scale_a.detach(), sd["logit_scale_a"])
    a = scorer.embed_audio([(_noise(12.0, 16000, 7), 16000), (_noise(3.0, 16000, 8), 16000)])
    assert a.shape == (2, 8)
    assert [len(x) for x in fake.audio_inputs] == [480000, 144000]  # cut to 10 s at 48 kHz; short ones as is
    assert scorer.embed_text(["rain"]).shape == (1, 8)
    assert scorer.record["amodel"] == "HTSAT-tiny" and len(scorer.record["sha256"]) == 64
    # fusion and another text model are read from the weights
    st = _laion_state("")
    st["audio_branch.fusion_model.local_att.0.weight"] = torch.zeros(1)
    st["text_branch.embeddings.word_embeddings.weight"] = torch.zeros(30522, 4)
    torch.save({"state_dict": st}, tmp_path / "fusion.pt")
    assert read_laion_checkpoint(tmp_path / "fusion.pt")[1] == {"amodel": "HTSAT-tiny", "tmodel": "bert",
                                                                "fusion": True}
    # weights that do not fit the network are refused, not silently skipped
    torch.save({"state_dict": {**_laion_state(), "module.extra.weight": torch.zeros(2)}}, tmp_path / "extra.pt")
    with pytest.raises(MetricUnavailable, match="extra.weight"):
        LaionClap(tmp_path / "extra.pt", factory=_FakeLaionModule)


@pytest.mark.skipif(importlib.util.find_spec("laion_clap") is not None, reason="laion_clap is installed")
def test_laion_pt_without_package_is_unavailable(tmp_path):
    torch.save({"state_dict": _laion_state()}, tmp_path / "630k-best.pt")
    with pytest.raises(MetricUnavailable, match="laion_clap"):
        load_clap(tmp_path / "630k-best.pt", "laion")


def test_msclap_checkpoint_reading(tmp_path):
    base = {"caption_encoder.base.wte.weight": torch.zeros(10, 4),
            "caption_encoder.projection.linear1.weight": torch.zeros(8, 4),
            "audio_encoder.projection.linear1.weight": torch.zeros(8, 6), "logit_scale": torch.tensor(1.0)}
    torch.save({"model": {**base, "audio_encoder.base.htsat.patch_embed.proj.weight": torch.zeros(6, 1, 4, 4)}},
               tmp_path / "CLAP_weights_2023.pth")
    torch.save({"model": {**base, "audio_encoder.base.conv_block1.conv1.weight": torch.zeros(6, 1, 3, 3)}},
               tmp_path / "CLAP_weights_2022.pth")
    torch.save({"model": {"clap.audio_encoder.x": torch.zeros(1), "gpt.wte.weight": torch.zeros(1)}},
               tmp_path / "clapcap_weights_2023.pth")
    assert read_msclap_checkpoint(tmp_path / "CLAP_weights_2023.pth")[1] == "2023"
    assert read_msclap_checkpoint(tmp_path / "CLAP_weights_2022.pth")[1] == "2022"
    with pytest.raises(MetricUnavailable, match="clapcap"):
        read_msclap_checkpoint(tmp_path / "clapcap_weights_2023.pth")
    if importlib.util.find_spec("msclap") is None:
        with pytest.raises(MetricUnavailable, match="msclap"):
            MSClap(tmp_path / "CLAP_weights_2023.pth")


def test_msclap_loading_with_the_network_injected(tmp_path):
    import argparse

    from torch import nn

    from rfm_studio.core.evaluation.clap import _MSParts

    class Audio(nn.Module):
        def __init__(self):
            super().__init__()
            self.projection = nn.Module()
            self.projection.linear1 = nn.Linear(3, 8, bias=False)
            self.seen = []

        def forward(self, x):  # [B, samples] -> (projected, class probabilities)
            self.seen.append(tuple(x.shape))
            feats = torch.stack([x.mean(1), x.std(1), x.abs().max(1)[0]], 1)
            return self.projection.linear1(feats), None

    class Text(nn.Module):
        def __init__(self):
            super().__init__()
            self.projection = nn.Module()
            self.projection.linear1 = nn.Linear(1, 8, bias=False)

        def forward(self, tok):
            return self.projection.linear1(tok["attention_mask"].float().sum(1, keepdim=True))

    model = nn.Module()
    model.audio_encoder, model.caption_encoder = Audio(), Text()
    model.logit_scale = nn.Parameter(torch.zeros(()))
    saved = {"audio_encoder.projection.linear1.weight": torch.randn(8, 3),
             "caption_encoder.projection.linear1.weight": torch.randn(8, 1), "logit_scale": torch.tensor(2.0),
             "audio_encoder.base.htsat.patch_embed.proj.weight": torch.zeros(1)}
    torch.save({"model": saved}, tmp_path / "CLAP_weights_2023.pth")

    def tokenizer(texts, max_length, **kw):
        mask = torch.zeros(len(texts), max_length, dtype=torch.long)
        for i, t in enumerate(texts):
            mask[i, : len(t.split())] = 1
        return {"input_ids": mask.clone(), "attention_mask": mask}

    args = argparse.Namespace(sampling_rate=44100, duration=7, text_model="gpt2", text_len=77)
    with pytest.raises(MetricUnavailable, match="htsat"):  # the injected net has no HTSAT weights
        MSClap(tmp_path / "CLAP_weights_2023.pth", factory=lambda v, d: _MSParts(model, args, tokenizer))
    del saved["audio_encoder.base.htsat.patch_embed.proj.weight"]
    model.audio_encoder.base = nn.Module()
    model.audio_encoder.base.htsat = nn.Linear(1, 1, bias=False)
    saved["audio_encoder.base.htsat.weight"] = torch.full((1, 1), 3.0)
    torch.save({"model": saved}, tmp_path / "CLAP_weights_2023.pth")
    scorer = MSClap(tmp_path / "CLAP_weights_2023.pth", factory=lambda v, d: _MSParts(model, args, tokenizer))
    assert scorer.version == "2023" and scorer.rate == 44100
    torch.testing.assert_close(model.caption_encoder.projection.linear1.weight,
                               saved["caption_encoder.projection.linear1.weight"])
    a = scorer.embed_audio([(_noise(1.0, 16000, 9), 16000), (_noise(9.0, 48000, 10), 48000)])
    assert a.shape == (2, 8) and model.audio_encoder.seen[-1] == (2, 7 * 44100)  # 7 s at 44.1 kHz
    t = scorer.embed_text(["rain on a roof", "dog"])
    assert t.shape == (2, 8)
    assert -1 <= scorer.score([(_noise(1.0, 16000, 9), 16000)], ["rain"])["clap"] <= 1


def test_clap_missing_or_wrong_inputs_are_unavailable(tmp_path):
    with pytest.raises(MetricUnavailable, match="not found"):
        load_clap(tmp_path / "nothing.pt", "laion")
    with pytest.raises(MetricUnavailable, match="kind"):
        load_clap(tmp_path, "openai")
    with pytest.raises(MetricUnavailable, match="config.json"):
        load_clap(tmp_path, "laion")  # a folder that is not a Hugging Face CLAP folder
    torch.save({"state_dict": {"foo.weight": torch.zeros(1)}}, tmp_path / "other.pt")
    with pytest.raises(MetricUnavailable, match="not a LAION-CLAP"):
        read_laion_checkpoint(tmp_path / "other.pt")
