"""The region channel: a network told where the edit may happen (a user's selection)."""

import numpy as np
import pytest
import torch

from rfm_studio.core.editing import edit, region_frames
from rfm_studio.core.model.bundle import RFMEditor
from rfm_studio.core.model.mel_unet import MelUNet1D, MelUNetConfig, add_region_channel
from rfm_studio.core.training.loop import TrainConfig, export_bundle, train
from rfm_studio.core.training.sources import BankSource, region_masks

from conftest import tone
from test_data_triplets import bank  # noqa: F401  (the synthetic bank fixture)

pytestmark = pytest.mark.timeout(900)


def _net(seed=0):
    torch.manual_seed(seed)
    return MelUNet1D(MelUNetConfig(channels=(16, 32), blocks_per_level=1, cross_attention_levels=(True, True),
                                   heads=2, groups=8, zero_init_out=False, cross_attention_dim=8)).eval()


def test_added_channel_starts_as_the_old_network():
    net = _net()
    x, ctx = torch.randn(2, 128, 32), torch.randn(2, 3, 8)
    with torch.no_grad():
        before = net(x, torch.tensor([5.0, 500.0]), ctx)
        add_region_channel(net)
        assert net.config.region_channel and net.conv_in.in_channels == 129 * net.config.patch
        for region in (None, torch.zeros(2, 32), torch.ones(2, 32), (torch.rand(2, 32) > 0.5).float()):
            assert torch.allclose(net(x, torch.tensor([5.0, 500.0]), ctx, region=region), before, atol=1e-6)
        # once the new weights are not zero, the region changes the output
        net.conv_in.weight[:, -net.config.patch:].normal_()
        a = net(x, torch.tensor([5.0, 500.0]), ctx, region=torch.zeros(2, 32))
        b = net(x, torch.tensor([5.0, 500.0]), ctx, region=torch.ones(2, 32))
        assert not torch.allclose(a, b)
        assert torch.allclose(b, net(x, torch.tensor([5.0, 500.0]), ctx))  # None means the whole clip
    assert add_region_channel(net) is net and net.conv_in.in_channels == 129 * net.config.patch  # idempotent


def test_a_network_without_the_channel_refuses_a_region():
    with pytest.raises(ValueError, match="no region channel"):
        _net()(torch.randn(1, 128, 32), 1.0, torch.randn(1, 3, 8), region=torch.ones(1, 32))


def test_region_frames_follow_the_window_offset():
    # window starts 1 s into the clip; region 1.5-2.0 s; 100 frames/s
    r = region_frames(16000, 100, 100, 160, 16000, 1.5, 2.0)
    assert r.dtype == np.float32 and r.shape == (100,)
    assert np.flatnonzero(r).tolist() == list(range(50, 100))
    # a latent at half the frame rate takes every other frame
    r2 = region_frames(16000, 50, 100, 160, 16000, 1.5, 2.0)
    assert np.array_equal(r2, r[::2])


def test_region_masks_widen_the_span_or_cover_the_clip():
    rng = np.random.default_rng(0)
    m = region_masks([(10, 20), (0, 5)], 64, rng, prob=1.0, max_pad=4)
    for row, (a, b) in zip(m, [(10, 20), (0, 5)]):
        on = np.flatnonzero(row)
        assert on[0] <= a and on[-1] >= b - 1 and on[0] >= a - 4 and on[-1] <= b - 1 + 4
        assert np.all(row[on[0]: on[-1] + 1] == 1)
    assert np.all(region_masks([(10, 20)], 64, rng, prob=0.0) == 1)


def test_edit_gives_the_region_to_the_network(minilm):
    from rfm_studio.core.model.factory import build_tiny

    model = build_tiny(text=minilm)
    add_region_channel(model.denoiser.net)
    seen = []
    fwd = model.denoiser.net.forward

    def spy(*a, region=None, **k):
        seen.append(None if region is None else region.detach().clone())
        return fwd(*a, region=region, **k)

    model.denoiser.net.forward = spy
    x = tone(6.0)
    out = edit(model, x, 16000, "Add a bell", steps=1, seed=0, region=(3.0, 4.0))
    assert np.array_equal(out.audio[: 2 * 16000], x[: 2 * 16000])  # outside the region: untouched
    r = seen[-1][0].numpy()
    # the window starts CONTEXT_S before the region (or at the clip's start), so the region's
    # 100 frames sit that far in
    from rfm_studio.core.editing import CONTEXT_S

    first = int(round(100 * (3.0 - max(0.0, 3.0 - CONTEXT_S))))
    on = np.flatnonzero(r)
    assert abs(on[0] - first) <= 1 and abs(on[-1] - (first + 100)) <= 1 and r.sum() == len(on)
    seen.clear()
    edit(model, x, 16000, "Add a bell", steps=1, seed=0)
    assert seen[-1] is None  # no region: the network sees the whole clip as editable


def test_region_training_from_the_bank_exports_a_region_bundle(bank, tmp_path):  # noqa: F811
    src = BankSource(bank, 16000)
    inp, tgt, texts, spans = src.batch(3, np.random.default_rng(0), spans=True)
    assert inp.shape == tgt.shape == (3, 16000) and len(texts) == len(spans) == 3
    for (a, b) in spans:
        assert 0 <= a < b <= 101
    cfg = TrainConfig(data=f"bank:{bank}", out=str(tmp_path / "run"), init="tiny", steps=3, batch_size=2,
                      crop_seconds=1.28, val_every=3, log_every=1, warmup=1, val_batches=1, lora_layers=[5],
                      checkpoint_seconds=1e9, region_prob=1.0)
    events = list(train(cfg))
    assert events[-1].step == 3 and np.isfinite(events[-1].loss)
    folder, state = export_bundle(tmp_path / "run", tmp_path / "bundle", which="latest", dtype=torch.float32)
    m = RFMEditor.from_pretrained(folder)
    assert m.denoiser.has_region_channel and state["step"] == 3
    # resuming rebuilds the widened network before loading its weights
    cfg2 = TrainConfig(**{**cfg.to_dict(), "steps": 4})
    assert list(train(cfg2))[-1].step == 4
    # a run started from that bundle counts the bundle's steps in its total
    cfg3 = TrainConfig(**{**cfg.to_dict(), "init": str(folder), "out": str(tmp_path / "run2"), "steps": 2})
    list(train(cfg3))
    f3, _ = export_bundle(tmp_path / "run2", tmp_path / "bundle2", which="latest")
    info = RFMEditor.from_pretrained(f3).info
    assert info["train_steps"] == 2 and info["train_steps_total"] == 5


def test_edge_fades_start_and_end_at_silence_and_fade_weights_are_their_crossfade_kin():
    import numpy as np

    from rfm_studio.core.audio.windows import edge_fades, fade_weights

    e = edge_fades(100, 10, 20)
    assert e[0] == 0.0 and e[-1] < 1e-30 and np.all(e[10:80] == 1.0)
    assert np.all(np.diff(e[:10]) > 0) and np.all(np.diff(e[80:]) < 0)
    w = fade_weights(40, 8, 8)  # raised cosine, half a sample off the ends
    assert np.allclose(w[:8], np.sin(0.5 * np.pi * (np.arange(8) + 0.5) / 8) ** 2)
    assert np.allclose(w[32:], w[:8][::-1])


def test_both_training_sources_answer_the_same_questions(bank, tmp_path):  # noqa: F811
    """The training loop reads a source through its interface (size, gives_spans, gives_prompts,
    batch, clips), never by its type."""
    import inspect

    from rfm_studio.core.data.triplets import make_fixed_set
    from rfm_studio.core.training import loop
    from rfm_studio.core.training.sources import ManifestSource

    man = ManifestSource(make_fixed_set(bank, tmp_path / "fixed", split="train", n_per_task=1, seconds=1.0), 16000)
    src = BankSource(bank, 16000)
    assert (man.size, man.gives_spans, man.gives_prompts) == (3, False, False)
    assert (src.size, src.gives_spans, src.gives_prompts) == (None, True, True)
    with pytest.raises(ValueError):
        man.batch(2, np.random.default_rng(0), spans=True)
    for s in (man, src):
        clips = s.clips(2, np.random.default_rng(0))
        assert len(clips) == 2 and all(len(c[0]) == len(c[1]) == 16000 and c[2] for c in clips)
    assert "isinstance(source" not in inspect.getsource(loop)
