"""End-to-end edits with a tiny random model on CPU."""

import numpy as np
import pytest

from conftest import collect, tone
from rfm_studio.core.editing import drive, edit, run_edit
from rfm_studio.core.errors import Cancelled, OptionError
from rfm_studio.core.events import CancelToken, EditRequest, StepEvent


def test_edit_end_to_end_shapes_and_events(tiny_model):
    x = tone(3.0, sr=44100, channels=2)
    events, res = collect(run_edit(tiny_model, EditRequest(x, 44100, "Remove the dog barking", steps=3,
                                                          capture_attention=True, engine="model")))
    assert [e.step for e in events] == [1, 2, 3] and all(isinstance(e, StepEvent) for e in events)
    assert events[-1].t == pytest.approx(1.0)
    assert events[0].tokens == ("remove", "the", "dog", "barking")
    assert events[0].attention.shape == (4, 301)  # words x frames of the 3 s clip
    assert res.audio.shape == x.shape and res.sample_rate == 44100 and res.audio.dtype == np.float32
    assert np.isfinite(res.audio).all()
    assert res.attention.shape == (3, 4, 301)
    assert res.params["steps"] == 3 and res.params["t_start"] == pytest.approx(0.01)


def test_attention_rows_are_distributions_over_tokens(tiny_model):
    res = edit(tiny_model, tone(1.0), 16000, "Add a bell", steps=1, capture_attention=True)
    # summed over all tokens (incl. special ones) attention is 1 per frame; words hold part of it
    assert (res.attention >= 0).all() and (res.attention <= 1.0 + 1e-5).all()
    words = res.attention.sum(axis=1)  # [steps, frames]: the words' share of each frame's attention
    assert (words <= 1.0 + 1e-4).all() and (words > 0).all()


def test_same_seed_same_result_and_seed_changes_it(tiny_model):
    x = tone(1.0)
    a = edit(tiny_model, x, 16000, "Add a bell", steps=2, seed=3).audio
    b = edit(tiny_model, x, 16000, "Add a bell", steps=2, seed=3).audio
    c = edit(tiny_model, x, 16000, "Add a bell", steps=2, seed=4).audio
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_long_clip_windowing_preserves_length(tiny_model):
    x = tone(23.3, sr=22050)
    res = edit(tiny_model, x, 22050, "Remove the beep", steps=1)
    assert res.audio.shape == x.shape
    assert res.params["windows"] == 3
    assert np.isfinite(res.audio).all()


def test_short_clip_is_padded_and_trimmed(tiny_model):
    x = tone(0.2, sr=8000)
    res = edit(tiny_model, x, 8000, "Remove the beep", steps=1)
    assert res.audio.shape == x.shape


@pytest.mark.parametrize("render", ["mask", "vocoder"])
def test_region_leaves_everything_outside_untouched(tiny_model, render):
    sr = 48000
    x = tone(4.0, sr=sr, channels=2)
    res = edit(tiny_model, x, sr, "Remove the beep", steps=2, region=(1.5, 2.5), render=render)
    a, b = int(1.5 * sr), int(2.5 * sr)
    assert np.array_equal(res.audio[:a], x[:a]) and np.array_equal(res.audio[b:], x[b:])
    assert not np.array_equal(res.audio[a:b], x[a:b])


def test_cancel_stops_within_one_step(tiny_model):
    tok = CancelToken()
    gen = run_edit(tiny_model, EditRequest(tone(1.0), 16000, "Add a bell", steps=50), tok)
    next(gen)
    tok.cancel()
    with pytest.raises(Cancelled):
        next(gen)


@pytest.mark.parametrize("kw", [dict(steps=0), dict(t_start=1.5), dict(guidance=-1.0), dict(region=(3.0, 1.0)),
                                dict(region=(9.0, 10.0))])
def test_bad_options_raise_one_sentence(tiny_model, kw):
    with pytest.raises(OptionError) as e:
        edit(tiny_model, tone(1.0), 16000, "Add a bell", **kw)
    assert str(e.value).endswith(".") and "\n" not in str(e.value)


def test_guidance_batches_cond_and_uncond(tiny_model):
    res = edit(tiny_model, tone(1.0), 16000, "Add a bell", steps=2, guidance=3.0)
    assert np.isfinite(res.audio).all()


def test_mask_render_keeps_source_where_model_changes_nothing(tiny_model):
    """The mask renderer applies only the model's change: no change -> the source itself."""
    from rfm_studio.core.features import MelConfig, MelFrontEnd
    from rfm_studio.core.render import render_mask
    from rfm_studio.core.audio.io import resample

    sr = 44100
    x = tone(2.0, sr=sr, channels=2)
    mono16 = resample(x.mean(1), sr, 16000)
    mel = MelFrontEnd().numpy(mono16)
    out = render_mask(x, sr, mel, mel, tiny_model.vocoder, MelConfig())
    assert np.abs(out - x).max() < 1e-4
    # lowering every band by 6 dB lowers the level by about 6 dB
    out2 = render_mask(x, sr, mel, mel - np.log(2.0) - 0.1, tiny_model.vocoder, MelConfig())
    ratio = np.sqrt((out2[2000:-2000] ** 2).mean() / (x[2000:-2000] ** 2).mean())
    assert 0.45 < ratio < 0.55


def _latent(model, seconds=1.0):
    import torch

    wav = torch.from_numpy(tone(seconds))[None]
    with torch.no_grad():
        mel = model.mel(wav)
        f = (mel.shape[-1] // model.frame_multiple) * model.frame_multiple
        return model.codec.encode(mel[..., :f].to(model.dtype))


@pytest.mark.parametrize("steps,guidance", [(1, 1.0), (3, 2.0)])
def test_draws_average_independent_trajectories(tiny_model, steps, guidance):
    """draws=K is the mean of K trajectories from K independent noises: the same as running
    K copies of the clip as a batch with the same generator and averaging them."""
    import torch

    from rfm_studio.core.editing import drive
    from rfm_studio.core.sampling import sample_window

    m = tiny_model
    x = _latent(m)
    ctx, mask = m.encode_instruction(["Remove the beep"])
    k = 3
    kw = dict(steps=steps, t_start=0.01, guidance=guidance)
    avg = drive(sample_window(m, x, (ctx, mask), generator=torch.Generator().manual_seed(7), draws=k, **kw))
    rows = drive(sample_window(m, x.repeat(k, *([1] * (x.dim() - 1))), (ctx.repeat(k, 1, 1), mask.repeat(k, 1)),
                               generator=torch.Generator().manual_seed(7), **kw))
    assert avg.shape == x.shape
    torch.testing.assert_close(avg, rows.mean(0, keepdim=True), rtol=1e-4, atol=1e-5)
    # the draws differ from each other, so averaging does something
    assert (rows[0] - rows[1]).abs().max() > 1e-3
    one = drive(sample_window(m, x, (ctx, mask), generator=torch.Generator().manual_seed(7), **kw))
    torch.testing.assert_close(one, rows[:1], rtol=1e-4, atol=1e-5)  # draws=1: the paper's sampler
    # a context built for other draws is refused, not broadcast or cut to fit
    from rfm_studio.core.sampling import sampling_context

    wrong = sampling_context(m, (ctx, mask), None, draws=1, guidance=guidance)
    with pytest.raises(ValueError, match="sampling context has a batch of"):
        drive(sample_window(m, x, (ctx, mask), generator=torch.Generator().manual_seed(7), draws=k,
                            context=wrong, **kw))


def test_draws_in_an_edit_keep_shapes_attention_and_params(tiny_model):
    x = tone(1.5, sr=22050, channels=2)
    kw = dict(steps=2, seed=1, capture_attention=True, engine="model")  # the model's engine (not auto's self-prompt)
    one = edit(tiny_model, x, 22050, "Remove the beep", **kw)
    four = edit(tiny_model, x, 22050, "Remove the beep", draws=4, **kw)
    assert four.audio.shape == x.shape and np.isfinite(four.audio).all()
    assert four.attention.shape == one.attention.shape  # averaged over the draws, not stacked
    assert four.params["draws"] == 4 and one.params["draws"] == tiny_model.flow.sampler.draws == 1
    assert not np.array_equal(four.audio, one.audio)
    again = edit(tiny_model, x, 22050, "Remove the beep", draws=4, **kw)
    assert np.array_equal(again.audio, four.audio)  # seeded: reproducible


@pytest.mark.parametrize("draws", [0, 65])
def test_bad_draws_raise_one_sentence(tiny_model, draws):
    with pytest.raises(OptionError) as e:
        edit(tiny_model, tone(1.0), 16000, "Add a bell", draws=draws)
    assert "Draws" in str(e.value) and str(e.value).endswith(".")


def test_strength_scales_the_models_change(tiny_model):
    """strength s gives ref + s * (edit - ref): 0 is the clip through the codec, 2 doubles
    every change of the mel, and the rendered audio differs between them."""
    x = tone(1.5, sr=22050)
    kw = dict(steps=2, seed=3, engine="model")
    m = {s: edit(tiny_model, x, 22050, "Remove the beep", strength=s, **kw) for s in (0.0, 1.0, 2.0)}
    assert m[1.0].params["strength"] == 1.0 and m[2.0].params["strength"] == 2.0
    d1 = m[1.0].mel_out - m[0.0].mel_out
    assert np.abs(d1).max() > 1e-2  # the random model changes the clip
    np.testing.assert_allclose(m[2.0].mel_out - m[1.0].mel_out, d1, atol=1e-4)
    assert np.isfinite(m[2.0].audio).all() and m[2.0].audio.shape == x.shape
    assert not np.array_equal(m[2.0].audio, m[1.0].audio) and not np.array_equal(m[0.0].audio, m[1.0].audio)
    # default: the model's own strength (bundle info), 1.0 when it has none
    assert edit(tiny_model, x, 22050, "Remove the beep", **kw).params["strength"] == 1.0
    tiny_model.info["strength"] = 2.0
    try:
        again = edit(tiny_model, x, 22050, "Remove the beep", **kw)
        same = edit(tiny_model, x, 22050, "Remove the beep", region=(0.2, 1.0), **kw)
        tiny_model.info["region_strength"] = 1.5  # its own default within a region
        region = edit(tiny_model, x, 22050, "Remove the beep", region=(0.2, 1.0), **kw)
        whole = edit(tiny_model, x, 22050, "Remove the beep", **kw)
    finally:
        tiny_model.info.pop("strength", None)
        tiny_model.info.pop("region_strength", None)
    assert again.params["strength"] == 2.0 and np.array_equal(again.mel_out, m[2.0].mel_out)
    assert same.params["strength"] == 2.0 and region.params["strength"] == 1.5 and whole.params["strength"] == 2.0


def test_strength_zero_with_mask_render_returns_the_source(tiny_model):
    """Mask render: no change of the mel -> the source's own samples (up to the STFT round trip)."""
    x = tone(2.0, sr=44100, channels=2)
    res = edit(tiny_model, x, 44100, "Remove the beep", steps=2, strength=0.0, render="mask")
    loud = edit(tiny_model, x, 44100, "Remove the beep", steps=2, strength=3.0, render="mask")
    assert np.abs(res.audio - x).max() < 1e-3
    assert np.abs(loud.audio - x).max() > 1e-2


def test_a_bad_default_strength_in_the_bundle_is_named(tiny_model):
    tiny_model.info["region_strength"] = 7
    try:
        whole = edit(tiny_model, tone(1.0), 16000, "Add a bell", steps=1)
        with pytest.raises(OptionError) as e:
            edit(tiny_model, tone(1.0), 16000, "Add a bell", steps=1, region=(0.2, 0.6))
        given = edit(tiny_model, tone(1.0), 16000, "Add a bell", steps=1, region=(0.2, 0.6), strength=1.0)
    finally:
        tiny_model.info.pop("region_strength", None)
    assert whole.params["strength"] == 1.0 and given.params["strength"] == 1.0
    assert "region_strength (7)" in str(e.value) and str(e.value).endswith(".")


@pytest.mark.parametrize("strength", [-0.5, 4.5, float("nan")])
def test_bad_strength_raises_one_sentence(tiny_model, strength):
    with pytest.raises(OptionError) as e:
        edit(tiny_model, tone(1.0), 16000, "Add a bell", strength=strength)
    assert "Strength" in str(e.value) and str(e.value).endswith(".")


def test_window_padding_mirrors_the_clip_instead_of_silence(tiny_model, monkeypatch):
    """The network needs a multiple of its frame size; a clip whose end falls short of it is
    lengthened by mirroring its end. Zero padding made the embedded model hear the clip fade
    into silence and fade the last 0.1 s of its edit (12 to 40 dB on a shipped example)."""
    heard = []
    mel = tiny_model.mel

    def spy(wav):
        heard.append(wav.detach().cpu().numpy()[0].copy())
        return mel(wav)

    monkeypatch.setattr(tiny_model, "mel", spy)
    x = tone(5.12)  # 513 frames: the network's frame multiple pads it
    edit(tiny_model, x, 16000, "Remove the beep", steps=1)
    window = next(w for w in heard if len(w) > len(x))  # the padded window, not the span's own mel
    tail = window[len(x):]
    assert len(tail) >= 160
    rms = lambda v: float(np.sqrt(np.mean(v ** 2)))
    assert rms(tail) == pytest.approx(rms(x[-len(tail):]), rel=0.05)
    assert np.allclose(tail[:50], x[-2:-52:-1])  # the mirror image of the clip's end


def test_pad_end_mirrors_and_handles_short_input():
    from rfm_studio.core.editing import pad_end

    assert np.array_equal(pad_end(np.arange(4.0), 7), [0, 1, 2, 3, 2, 1, 0])
    assert len(pad_end(np.arange(3.0), 20)) == 20  # longer than the clip: mirrored again
    assert np.array_equal(pad_end(np.ones(1), 3), [1, 0, 0])
    x = np.arange(5.0)
    assert pad_end(x, 5) is x


@pytest.mark.parametrize("render", ["mask", "vocoder"])
def test_the_last_sample_is_edited_too(tiny_model, render):
    """48 kHz, 288,001 samples: the 16 kHz mix has 96,000, which maps back to 288,000."""
    x = tone(6.0, sr=48000)
    x = np.concatenate([x, np.full(1, 0.2, np.float32)])
    y = edit(tiny_model, x, 48000, "Remove the beep", steps=1, render=render, strength=2.0).audio
    assert y.shape == x.shape and y[-1] != x[-1]


def test_t_start_one_runs_no_steps(tiny_model):
    events, res = collect(run_edit(tiny_model, EditRequest(tone(1.0), 16000, "Remove the beep", steps=4, t_start=1.0,
                                                                engine="model")))
    assert events == [] and res.audio.shape == (16000,)


def test_the_sampler_and_the_guided_context_serve_every_window_and_step(tiny_model, monkeypatch):
    """The flow's path and prediction objects and the guidance batch's context (instruction and
    unconditional halves, repeated for the draws) are built once per edit, not per window or
    step, and the edit is the same as when they were built per step."""
    from rfm_studio.core.flow.config import PathConfig

    x = tone(23.3, sr=16000)
    kw = dict(steps=3, guidance=2.0, draws=2, seed=5, engine="model")  # auto: a text-only remove self-prompts
    before = edit(tiny_model, x, 16000, "Remove the beep", **kw)
    built = []
    real, real_ctx = PathConfig.make_prediction, type(tiny_model).guidance_context
    monkeypatch.setattr(PathConfig, "make_prediction", lambda self: built.append("path") or real(self))
    monkeypatch.setattr(type(tiny_model), "guidance_context",
                        lambda self, *a, **k: built.append("context") or real_ctx(self, *a, **k))
    res = edit(tiny_model, x, 16000, "Remove the beep", **kw)
    assert res.params["windows"] == 3 and built == ["path", "context"]
    assert np.array_equal(res.audio, before.audio)
