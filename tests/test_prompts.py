"""Audio prompts (core/prompts): the shared input for span examples and library references."""

import dataclasses

import numpy as np
import pytest

from test_data_triplets import bank  # noqa: F401  (the synthetic bank fixture)

from rfm_studio.core.editing import EditRequest
from rfm_studio.core.prompts import AudioPrompt


def test_audio_prompt_is_frozen_and_edit_request_defaults_to_no_prompts():
    p = AudioPrompt(audio=np.zeros(1600, np.float32), sample_rate=16000, kind="example", source="clip 0.00-0.10 s")
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.kind = "reference"
    req = EditRequest(np.zeros(16000, np.float32), 16000, "Remove the dog barking")
    assert req.prompts == ()
    req2 = dataclasses.replace(req, prompts=(p,))
    assert req2.prompts[0].source == "clip 0.00-0.10 s"


def _prompt_model(minilm, seed=0):
    from rfm_studio.core.model.factory import build_tiny

    return build_tiny(seed=seed, text=minilm)


def _clip():
    from conftest import tone

    return tone(2.0, freq=660.0, amp=0.2) + tone(2.0, freq=1500.0, amp=0.05, seed=1)


def _example(x, sr=16000):
    return AudioPrompt(audio=x[4000:12000].copy(), sample_rate=sr, kind="example", source="clip 0.25-0.75 s")


def test_prompt_input_changes_nothing_until_trained_and_then_prompts_change_the_edit(minilm):
    import torch

    from rfm_studio.core.editing import edit
    from rfm_studio.core.model.mel_unet import add_prompt_input

    model = _prompt_model(minilm)
    x = _clip()
    kw = dict(steps=2, draws=2, seed=3, engine="model")  # the model (auto would self-prompt a text-only remove)
    before = edit(model, x, 16000, "Remove the high tone", **kw).audio
    add_prompt_input(model.denoiser.net, tokens=3, width=32)
    assert model.accepts_prompts
    no_prompt = edit(model, x, 16000, "Remove the high tone", **kw).audio
    zero_init = edit(model, x, 16000, "Remove the high tone", prompts=(_example(x),), **kw)
    assert np.array_equal(before, no_prompt)  # bit-identical without a prompt
    assert np.array_equal(before, zero_init.audio)  # and with one, while the new output weights are zero
    assert zero_init.params["prompts"] == ["example: clip 0.25-0.75 s"]
    with torch.no_grad():
        for m in model.denoiser.net.cross_attentions():
            m.prompt_out.weight.normal_(0, 0.5)
    trained = edit(model, x, 16000, "Remove the high tone", prompts=(_example(x),), **kw).audio
    assert not np.allclose(before, trained, atol=1e-4)
    assert np.array_equal(before, edit(model, x, 16000, "Remove the high tone", **kw).audio)
    # a different example gives a different edit
    other = AudioPrompt(audio=np.random.default_rng(0).standard_normal(8000).astype(np.float32) * 0.1,
                        sample_rate=16000, kind="reference", source="noise.wav")
    assert not np.allclose(trained, edit(model, x, 16000, "Remove the high tone", prompts=(other,), **kw).audio,
                           atol=1e-4)


def test_bundle_keeps_the_prompt_input_and_an_old_bundle_loads_without_it(minilm, tmp_path, tiny_bundle):
    import json

    import torch

    from rfm_studio.core.editing import edit
    from rfm_studio.core.model.bundle import RFMEditor
    from rfm_studio.core.model.mel_unet import add_prompt_input

    old = RFMEditor.from_pretrained(tiny_bundle)
    assert not old.accepts_prompts
    model = _prompt_model(minilm, seed=1)
    add_prompt_input(model.denoiser.net, tokens=2, width=32)
    with torch.no_grad():
        for m in model.denoiser.net.cross_attentions():
            m.prompt_out.weight.normal_(0, 0.5)
    model.save_pretrained(tmp_path / "m")
    cfg = json.loads((tmp_path / "m" / "unet" / "config.json").read_text())
    assert cfg["prompt_tokens"] == 2 and cfg["prompt_width"] == 32
    back = RFMEditor.from_pretrained(tmp_path / "m")
    assert back.accepts_prompts
    x = _clip()
    kw = dict(steps=1, draws=1, seed=0, prompts=(_example(x),))
    assert np.allclose(edit(model, x, 16000, "Remove the tone", **kw).audio,
                       edit(back, x, 16000, "Remove the tone", **kw).audio, atol=1e-5)


def test_attention_capture_shows_prompts_as_tokens(minilm):
    from rfm_studio.core.editing import edit
    from rfm_studio.core.model.mel_unet import add_prompt_input

    model = _prompt_model(minilm)
    add_prompt_input(model.denoiser.net, tokens=3, width=32)
    x = _clip()
    ex = _example(x)
    res = edit(model, x, 16000, "Remove the tone", steps=1, draws=1, capture_attention=True, prompts=(ex, ex),
               engine="model")
    assert res.tokens[-2:] == ("[example]", "[example]")
    assert res.attention.shape[1] == len(res.tokens)
    # instruction words and prompts each get their own distribution; the prompt rows carry mass
    assert np.all(res.attention[:, -2:].sum(axis=1) > 0)


def test_bad_prompts_are_one_sentence(tiny_model):
    from rfm_studio.core.editing import edit
    from rfm_studio.core.errors import OptionError

    x = _clip()
    for bad, words in [(AudioPrompt(np.zeros(8000, np.float32), 16000, "example", "clip 0-0.5 s"), "silent"),
                       (AudioPrompt(x[:100], 16000, "example", "clip 0-0.01 s"), "shorter"),
                       (AudioPrompt(x[:8000], 16000, "hint", "x"), "kind")]:
        with pytest.raises(OptionError, match=words):
            edit(tiny_model, x, 16000, "Remove the tone", steps=1, prompts=(bad,))


def test_triplets_carry_examples_and_references_only_when_asked(bank):  # noqa: F811
    from rfm_studio.core.data.triplets import TripletGenerator

    plain = TripletGenerator(bank, seconds=2.0, seed=0)
    with_p = TripletGenerator(bank, seconds=2.0, seed=0, prompt_prob=1.0)
    a = plain.sample(np.random.default_rng(5))
    assert a.prompt is None and a.prompt_kind == ""
    seen = set()
    rng = np.random.default_rng(1)
    for _ in range(30):
        t = with_p.sample(rng)
        assert t.prompt is not None and t.prompt.dtype == np.float32 and len(t.prompt) >= 1600
        assert t.prompt_kind == ("example" if t.task == "remove" else "reference")
        seen.add(t.prompt_kind)
    assert seen == {"example", "reference"}
    half = TripletGenerator(bank, seconds=2.0, seed=0, prompt_prob=0.5)
    rng = np.random.default_rng(2)
    share = np.mean([half.sample(rng).prompt is not None for _ in range(60)])
    assert 0.25 < share < 0.75


def test_training_with_prompts_runs_resumes_and_exports_a_prompt_bundle(bank, tmp_path):  # noqa: F811
    import torch

    from rfm_studio.core.model.bundle import RFMEditor
    from rfm_studio.core.training.loop import TrainConfig, export_bundle, train

    cfg = TrainConfig(data=f"bank:{bank}", out=str(tmp_path / "run"), init="tiny", steps=3, batch_size=3,
                      crop_seconds=1.28, val_every=3, log_every=1, warmup=1, val_batches=1, lora_layers=[5],
                      checkpoint_seconds=1e9, prompt_prob=1.0, prompt_tokens=2, prompt_width=16, lr=1e-2)
    events = list(train(cfg))
    assert events[-1].step == 3 and np.isfinite(events[-1].loss)
    folder, _ = export_bundle(tmp_path / "run", tmp_path / "bundle", which="latest", dtype=torch.float32)
    m = RFMEditor.from_pretrained(folder)
    assert m.accepts_prompts
    # the prompt path learned: its output weights moved from zero
    assert any(float(a.prompt_out.weight.detach().abs().sum()) > 0 for a in m.denoiser.net.cross_attentions())
    cfg2 = TrainConfig(**{**cfg.to_dict(), "steps": 4})  # resuming rebuilds the prompt input first
    assert list(train(cfg2))[-1].step == 4


@pytest.fixture(scope="module")
def prompt_bundle(tmp_path_factory, minilm):
    import torch

    from rfm_studio.core.model.mel_unet import add_prompt_input

    model = _prompt_model(minilm, seed=2)
    add_prompt_input(model.denoiser.net, tokens=2, width=16)
    with torch.no_grad():
        for m in model.denoiser.net.cross_attentions():
            m.prompt_out.weight.normal_(0, 0.5)
    d = tmp_path_factory.mktemp("pbundle") / "p"
    model.save_pretrained(d)
    return d


def test_cli_example_spans_are_cut_from_the_input_and_checked(capsys, tmp_path, prompt_bundle):
    import soundfile as sf

    from conftest import tone
    from rfm_studio.cli import main

    src = tmp_path / "in.wav"
    sf.write(src, tone(1.5, sr=22050, channels=2), 22050)
    base = ["edit", str(src), "Remove the beep", "--model", str(prompt_bundle), "--steps", "1", "--draws", "1"]
    assert main(base + ["-o", str(tmp_path / "plain.wav")]) == 0
    assert main(base + ["-o", str(tmp_path / "ex.wav"), "--example", "0.2:0.8", "--example", "1:1.5"]) == 0
    plain, ex = sf.read(tmp_path / "plain.wav")[0], sf.read(tmp_path / "ex.wav")[0]
    assert plain.shape == ex.shape and not np.allclose(plain, ex, atol=1e-4)
    capsys.readouterr()
    for span, words in [("1.2:2.0", "ends after the clip"), ("0.8:0.5", "END must be after START"),
                        ("0.5:0.55", "shorter than"), ("a:b", "START:END")]:
        out = tmp_path / "bad.wav"
        code = main(base + ["-o", str(out), "--example", "0.1:0.5", "--example", span])
        _, err = capsys.readouterr()
        assert code == 2 and words in err and err.count("\n") == 1 and "Traceback" not in err, err
        assert not out.exists()


def test_every_window_and_every_chunk_hears_the_prompts(monkeypatch, minilm, tmp_path):
    import soundfile as sf

    from rfm_studio.core import streaming
    from rfm_studio.core.edit import window as edit_window
    from rfm_studio.core.editing import drive, edit
    from rfm_studio.core.model.mel_unet import add_prompt_input

    model = _prompt_model(minilm)
    add_prompt_input(model.denoiser.net, tokens=2, width=16)
    x = np.tile(_clip(), 12)  # 24 s: three 10.24 s windows
    ex = _example(x)
    seen = []
    real = edit_window.sample_window

    def spy(*a, **kw):
        seen.append(kw.get("prompt"))
        return real(*a, **kw)

    monkeypatch.setattr(edit_window, "sample_window", spy)
    res = edit(model, x, 16000, "Remove the tone", steps=1, draws=1, prompts=(ex,), engine="model")
    assert res.params["windows"] == len(seen) >= 3
    assert all(p is not None and p[0].shape[1] == 2 for p in seen)
    # a long file edited from disk chunk by chunk: each chunk's edit gets the prompts
    src, dst = tmp_path / "long.wav", tmp_path / "out.wav"
    sf.write(src, x, 16000)
    reqs = []
    real_run = streaming.run_edit

    def spy_run(model_, req, cancel=None):
        reqs.append(req)
        return real_run(model_, req, cancel)

    monkeypatch.setattr(streaming, "run_edit", spy_run)
    drive(streaming.edit_file(model, src, dst, "Remove the tone", chunk_seconds=10.0, overlap_seconds=1.0,
                              steps=1, draws=1, prompts=(ex,), engine="model"))
    assert len(reqs) >= 3 and all(r.prompts == (ex,) for r in reqs)


def test_a_long_prompt_is_its_loudest_stretch_at_the_prompt_level():
    from rfm_studio.core.prompts import MAX_PROMPT_SECONDS, PROMPT_LEVEL_DBFS, prepare_prompt_audio

    sr = 16000
    rng = np.random.default_rng(3)
    x = (0.01 * rng.standard_normal(30 * sr)).astype(np.float32)
    x[12 * sr: 20 * sr] *= 20  # the loud part: 8 s, inside the 10.24 s kept
    y = prepare_prompt_audio(x, sr)
    assert len(y) == int(MAX_PROMPT_SECONDS * sr) and y.dtype == np.float32
    rms_db = 20 * np.log10(np.sqrt(np.mean(y.astype(np.float64) ** 2)))
    assert rms_db == pytest.approx(PROMPT_LEVEL_DBFS, abs=0.01)
    start = int(np.flatnonzero(np.abs(y) > 0.2 * np.abs(y).max())[0])  # where the loud part begins in y
    assert 0 <= start < 2.3 * sr  # the stretch holds all 8 loud seconds
    short = (0.1 * rng.standard_normal(sr)).astype(np.float32)
    for z in (short, np.zeros(sr, np.float32)):  # the caller's array is never handed back
        assert not np.shares_memory(prepare_prompt_audio(z, sr), z)
