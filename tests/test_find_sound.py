"""core.detection.find.find_sound: the app's Find (where the sound an instruction names plays),
with a fake finder whose probability is high wherever the clip is loud."""

import numpy as np
import pytest

from conftest import collect

SR = 44100
BURSTS = ((0.5, 0.9), (2.0, 2.4))  # seconds where the test clip plays its "sound"


def burst_clip(seconds: float = 3.0, sr: int = SR, bursts=BURSTS, stereo: bool = True) -> np.ndarray:
    x = np.zeros(int(seconds * sr), np.float32)
    rng = np.random.default_rng(0)
    for a, b in bursts:
        x[int(a * sr): int(b * sr)] = 0.3 * rng.standard_normal(int(b * sr) - int(a * sr))
    return np.stack([x, 0.5 * x], axis=1) if stereo else x


def fake_probs(calls=None, level=None):
    """A stand-in for find.sound_probs: 0.9 on the loud 10 ms frames of the 16 kHz mono input,
    0.05 elsewhere (or ``level`` everywhere); each call's (samples, text) go to ``calls``."""

    def probs(finder, x16, text, cancel=None):
        if calls is not None:
            calls.append((np.asarray(x16).copy(), text))
        n = len(x16) // 160 + 1
        if level is not None:
            return np.full(n, level, np.float32)
        frames = np.pad(np.asarray(x16), (0, n * 160 - len(x16))).reshape(n, 160)
        return np.where(np.sqrt((frames ** 2).mean(axis=1)) > 0.01, 0.9, 0.05).astype(np.float32)

    return probs


def use_probs(monkeypatch, fn):
    """Stand ``fn(finder, x16, text, cancel=None)`` in for the finder's probabilities
    (find.sound_prob_steps: one FindStep, then ``fn``'s answer)."""
    from rfm_studio.core.detection import find
    from rfm_studio.core.events import FindStep

    def steps(finder, x16, text, cancel=None):
        yield FindStep(1, 1, 0.0, len(x16) / 16000, text)
        return fn(finder, x16, text, cancel)

    monkeypatch.setattr(find, "sound_prob_steps", steps)


def test_find_sound_hears_mono_16k_and_gives_the_spans_in_clip_seconds(monkeypatch):
    from rfm_studio.core.detection import find

    calls = []
    use_probs(monkeypatch, fake_probs(calls))
    out = find.find_sound(burst_clip(), SR, "Remove the dog barking", finder=object())
    (x16, text), = calls
    assert text == "dog barking" and x16.ndim == 1 and len(x16) == 3 * 16000  # mono at 16 kHz
    assert out.text == "dog barking" and out.within is None and out.peak == pytest.approx(0.9)
    assert len(out.spans) == 2
    for (a, b), (ea, eb) in zip(out.spans, BURSTS):
        assert abs(a - ea) <= 0.02 and abs(b - eb) <= 0.02
    assert out.summary().startswith("Found 'dog barking' at 0.") and "(peak 0.90)" in out.summary()


def test_find_sound_within_a_region_gives_only_the_spans_inside_it(monkeypatch):
    from rfm_studio.core.detection import find

    calls = []
    use_probs(monkeypatch, fake_probs(calls))
    out = find.find_sound(burst_clip(), SR, "a dog barking", finder=object(), within=(1.5, 2.2))
    assert len(calls[0][0]) == 3 * 16000  # the whole clip is heard (the same context as without a region)
    (a, b), = out.spans
    assert abs(a - 2.0) <= 0.02 and b == pytest.approx(2.2, abs=0.011)  # clip seconds, cut at the region's end
    assert out.within == (1.5, 2.2)
    assert find.find_sound(burst_clip(), SR, "x", finder=object(), within=(1.0, 1.9)).spans == ()
    cut = find.find_sound(burst_clip(), SR, "x", finder=object(), within=(0.7, 2.1))
    assert cut.spans[0][0] == 0.7 and abs(cut.spans[0][1] - 0.9) <= 0.02 and cut.spans[1][1] == 2.1


def test_find_sound_keeps_the_strongest_spans_and_says_when_nothing_is_found(monkeypatch):
    from rfm_studio.core.detection import find

    use_probs(monkeypatch, fake_probs())
    clip = burst_clip(bursts=((0.5, 0.6), (1.0, 1.8), (2.0, 2.3)))
    assert len(find.find_sound(clip, SR, "x", finder=object()).spans) == 3
    one = find.find_sound(clip, SR, "x", finder=object(), max_spans=1)
    assert len(one.spans) == 1 and abs(one.spans[0][0] - 1.0) <= 0.02  # the longest, most probable one
    assert find.find_sound(clip, SR, "x", finder=object(), max_spans=0).spans == ()
    use_probs(monkeypatch, fake_probs(level=0.31))
    none = find.find_sound(clip, SR, "Remove the dog barking", finder=object())
    assert none.spans == () and none.peak == pytest.approx(0.31)
    assert none.summary() == ("'dog barking' not found in this clip (highest probability 0.31); "
                              "mark an example with Shift-drag.")
    inside = find.find_sound(clip, SR, "a car", finder=object(), within=(0.0, 1.0))
    assert "not found in the selection" in inside.summary()


def test_find_sound_refuses_an_empty_text_and_a_missing_finder(monkeypatch):
    from rfm_studio.core.detection import find
    from rfm_studio.core.errors import ModelLoadError, OptionError

    with pytest.raises(OptionError, match="Name the sound"):
        find.find_sound(burst_clip(), SR, "   ", finder=object())
    monkeypatch.setattr(find, "load_finder", lambda folder=None: None)
    with pytest.raises(ModelLoadError, match="No sound finder"):
        find.find_sound(burst_clip(), SR, "a dog barking")


def test_finder_installed_needs_both_files(tmp_path):
    from rfm_studio.core.detection.find import finder_installed

    assert not finder_installed(tmp_path)
    (tmp_path / "config.json").write_text("{}")
    assert not finder_installed(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"")
    assert finder_installed(tmp_path)


def test_find_reaches_out_over_the_shoulders_as_the_edits_example_does(monkeypatch):
    """Find's spans are the self-prompted removal's (APP_FIND: a frame at 0.5, the frames around
    it at 0.2 or more), so a bark whose peak barely passes 0.5 is marked whole, not dropped as a
    sliver shorter than 0.1 s."""
    from rfm_studio.core.detection import find
    from rfm_studio.core.separation.self_prompt import SelfPromptConfig

    p = np.full(301, 0.05, np.float32)
    p[100:140] = 0.3  # 1.00-1.40 s: the bark's shoulders
    p[118:124] = 0.6  # its peak, 0.06 s over 0.5
    use_probs(monkeypatch, lambda finder, x16, text, cancel=None: p)
    out = find.find_sound(np.zeros(3 * 16000, np.float32), 16000, "Remove the dog barking", finder=object())
    assert out.spans == ((1.0, 1.4),)
    sp = SelfPromptConfig()
    assert (sp.finder_threshold, sp.finder_low) == (find.APP_FIND.threshold, find.APP_FIND.low)


def tiny_finder():
    """A small random sound finder (the shipped one's network, narrow) and a record of its calls."""
    import torch

    from rfm_studio.core.detection.model import DetectorConfig, build

    torch.manual_seed(0)
    net = build(DetectorConfig(channels=(8, 16), width=8, dilations=(1,))).eval()
    calls = []

    def finder(mel, q):
        calls.append(mel.shape[-1])
        return net(mel, q)

    return finder, calls


def test_run_find_yields_a_step_per_window_and_stops_between_windows_on_cancel():
    from rfm_studio.core.detection import find
    from rfm_studio.core.errors import Cancelled
    from rfm_studio.core.events import CancelToken, FindStep

    finder, calls = tiny_finder()
    clip = 0.1 * np.random.default_rng(1).standard_normal(int(65 * 16000)).astype(np.float32)  # 3 windows
    cancel, seen = CancelToken(), []
    gen = find.run_find(clip, 16000, "Remove the dog barking", finder=finder, cancel=cancel)
    with pytest.raises(Cancelled):
        for ev in gen:
            assert isinstance(ev, FindStep) and ev.windows == 3 and ev.text == "dog barking"
            seen.append((ev.window, ev.start_s, ev.end_s))
            if ev.window == 2:
                cancel.cancel()  # Cancel pressed while window 2 is about to be heard
    assert seen == [(1, 0.0, 30.0), (2, 30.0, 60.0)]
    assert len(calls) == 1  # the first window was heard, the second and the last never were


def test_a_cancel_during_the_text_encoders_load_stops_before_the_first_window_is_heard(monkeypatch):
    """The first window's FindStep comes before the text is embedded (the encoder's slow first
    load): a Cancel pressed during that load is heard before the finder runs on any window, and
    one already set when the first window begins does not even wait for the load."""
    from rfm_studio.core.detection import find
    from rfm_studio.core.errors import Cancelled
    from rfm_studio.core.events import CancelToken, FindStep
    from rfm_studio.core.library import embed as embed_mod

    finder, calls = tiny_finder()
    cancel, embedded = CancelToken(), []

    def slow_embed(texts):  # Cancel pressed while the encoder loads
        embedded.append(list(texts))
        cancel.cancel()
        return np.zeros((len(texts), 512), np.float32)

    monkeypatch.setattr(embed_mod, "embed", slow_embed)
    clip = 0.1 * np.random.default_rng(1).standard_normal(int(65 * 16000)).astype(np.float32)  # 3 windows
    seen = []
    with pytest.raises(Cancelled, match="The edit was cancelled"):
        for ev in find.run_find(clip, 16000, "Remove the dog barking", finder=finder, cancel=cancel):
            assert isinstance(ev, FindStep)
            seen.append((ev.window, ev.windows, ev.text))
    assert embedded == [["dog barking"]] and seen == [(1, 3, "dog barking")]
    assert calls == []  # the finder never heard a window

    cancel, embedded[:], seen[:] = CancelToken(), [], []
    with pytest.raises(Cancelled, match="The edit was cancelled"):
        for ev in find.run_find(clip, 16000, "Remove the dog barking", finder=finder, cancel=cancel):
            seen.append(ev.window)
            cancel.cancel()  # Cancel pressed as the first window begins, before the encoder loads
    assert seen == [1] and embedded == [] and calls == []  # the encoder was never asked


def test_run_find_gives_what_the_whole_call_gives_and_the_finder_windows_exactly():
    """find_sound (run_find driven) equals the windowed finder computed in one loop, frame for frame."""
    import torch

    from rfm_studio.core.detection import find
    from rfm_studio.core.events import FindStep
    from rfm_studio.core.library.embed import embed

    finder, calls = tiny_finder()
    x = 0.1 * np.random.default_rng(2).standard_normal(int(65 * 16000)).astype(np.float32)
    x[int(31 * 16000): int(33 * 16000)] *= 8.0
    q = torch.from_numpy(embed(["dog barking"]))
    ref = np.zeros(len(x) // 160 + 1, np.float32)
    with torch.inference_mode():
        for a, b, a0, mel in find.mel_windows(x):
            logits = finder(mel, q)[0].numpy()[a - a0: b - a0]
            ref[a: a + len(logits)] = 1.0 / (1.0 + np.exp(-logits))
    whole = find.find_sound(x, 16000, "Remove the dog barking", finder=finder,
                            cfg=find.FindConfig(threshold=float(np.quantile(ref, 0.9))))
    gen = find.run_find(x, 16000, "Remove the dog barking", finder=finder,
                        cfg=find.FindConfig(threshold=float(np.quantile(ref, 0.9))))
    events = []
    while True:
        try:
            events.append(next(gen))
            assert not torch.is_inference_mode_enabled()  # the finder's inference mode never leaks into a step
        except StopIteration as stop:
            stepped = stop.value
            break
    assert [e.window for e in events] == [1, 2, 3] and all(isinstance(e, FindStep) for e in events)
    assert np.array_equal(whole.probs, ref) and np.array_equal(stepped.probs, ref)
    assert stepped == whole and whole.spans  # the same spans, peak and text


def test_sound_key_says_when_two_instructions_name_the_same_sound():
    from rfm_studio.core.detection.find import sound_key

    assert sound_key("Remove the dog barking") == sound_key("remove a Dog barking.") == sound_key("dog barking")
    assert sound_key("Remove the dog barking") == ("dog", "barking")
    assert sound_key("Remove the car passing") != sound_key("Remove the dog barking")
    assert sound_key("Remove the dog") != sound_key("Remove the dog barking")
    assert sound_key("Remove all the birds") == sound_key("Remove birds") == sound_key("Remove some birds") == ("birds",)


def test_very_confident_logits_give_0_and_1_without_overflow_warnings():
    """A finder or remover sure of itself (logits of +-1000) gives probabilities of 1 and about 0, with no
    'overflow encountered in exp' warning printed in the user's terminal."""
    import warnings

    import torch

    from rfm_studio.core.detection import find

    x = 0.1 * np.random.default_rng(3).standard_normal(16000 * 3).astype(np.float32)

    def answer(mel, q):
        out = torch.full((mel.shape[-1],), -1000.0)
        out[: mel.shape[-1] // 2] = 1000.0
        return out

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = find.windowed_probs(answer, x, "dog barking")
    assert p.max() == 1.0 and p.min() < 1e-20 and np.isfinite(p).all()


def text_vectors(monkeypatch):
    """A stand-in for the text encoder (library.embed.embed): a fixed unit vector per text; the
    texts it was asked for."""
    import zlib

    from rfm_studio.core.library import embed as embed_mod

    asked = []

    def embed(texts):
        asked.extend(texts)
        v = np.stack([np.random.default_rng(zlib.crc32(t.encode())).standard_normal(384) for t in texts])
        return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)

    monkeypatch.setattr(embed_mod, "embed", embed)
    return asked


def test_the_finder_hears_the_same_audio_and_text_once(monkeypatch):
    """The app's Find (a 44.1 kHz stereo clip) and then the removal's finder on the same clip
    (16 kHz mono, as the engines hear it) run the network once: the second answer is the first
    one, a copy, after the same FindSteps; other audio, another text, another finder or other
    windows are heard again."""
    from rfm_studio.core.audio.io import resample, to_mono
    from rfm_studio.core.detection import find
    from rfm_studio.core.events import FindStep

    monkeypatch.setattr(find, "WINDOW_S", 1.0)  # the 3 s clip: 4 windows (the last one frame)
    asked = text_vectors(monkeypatch)
    finder, calls = tiny_finder()
    clip = burst_clip()
    events, first = collect(find.run_find(clip, SR, "Remove the dog barking", finder=finder))
    assert len(calls) == 4 and asked == ["dog barking"]
    kept = first.probs.copy()
    first.probs[:] = -1.0  # what a caller does with its answer is its own
    again_events, again = collect(find.run_find(clip, SR, "Remove the dog barking", finder=finder))
    assert len(calls) == 4 and asked == ["dog barking"]  # neither the finder nor the encoder ran again
    assert again_events == events and [e.window for e in events] == [1, 2, 3, 4]
    assert all(isinstance(e, FindStep) for e in events)
    assert np.array_equal(again.probs, kept) and again.spans == find.find_sound(
        clip, SR, "Remove the dog barking", finder=finder).spans
    x16 = resample(to_mono(clip), SR, 16000)  # the engines' self_prompt.more_examples / found_examples
    assert np.array_equal(find.find_sound(x16, 16000, "Remove the dog barking", finder=finder).probs, kept)
    assert np.array_equal(find.sound_probs(finder, x16, "dog barking"), kept) and len(calls) == 4
    other = clip.copy()
    other[1000, 0] += 0.01
    find.find_sound(other, SR, "Remove the dog barking", finder=finder)
    assert len(calls) == 8  # other audio: heard again
    find.find_sound(clip, SR, "Remove the car passing", finder=finder)
    assert len(calls) == 12 and asked[-1] == "car passing"  # another text
    twin, twin_calls = tiny_finder()  # the same weights, another finder
    assert np.array_equal(find.find_sound(clip, SR, "Remove the dog barking", finder=twin).probs, kept)
    assert len(twin_calls) == 4
    monkeypatch.setattr(find, "WINDOW_S", 2.0)  # other windows
    find.find_sound(clip, SR, "Remove the dog barking", finder=finder)
    assert len(calls) == 14


def test_a_cancelled_find_keeps_nothing_and_the_finder_keeps_a_few_answers(monkeypatch):
    from rfm_studio.core.detection import find
    from rfm_studio.core.errors import Cancelled
    from rfm_studio.core.events import CancelToken

    monkeypatch.setattr(find, "WINDOW_S", 1.0)
    text_vectors(monkeypatch)
    finder, calls = tiny_finder()
    clip = burst_clip()
    cancel = CancelToken()
    gen = find.run_find(clip, SR, "Remove the dog barking", finder=finder, cancel=cancel)
    with pytest.raises(Cancelled):
        for ev in gen:
            if ev.window == 3:
                cancel.cancel()  # Cancel pressed as window 3 begins: windows 1 and 2 were heard
    assert len(calls) == 2
    whole = find.find_sound(clip, SR, "Remove the dog barking", finder=finder)
    assert len(calls) == 6  # the partial answer was not kept: every window heard
    cancel = CancelToken()
    with pytest.raises(Cancelled):  # a kept answer still stops on a Cancel between its steps
        for ev in find.run_find(clip, SR, "Remove the dog barking", finder=finder, cancel=cancel):
            cancel.cancel()
    assert len(calls) == 6
    for k in range(find.PROBS_CACHE_SIZE):  # as many other texts as answers are kept
        find.find_sound(clip, SR, f"Remove the sound {k}", finder=finder)
    assert len(find._probs_cache) == find.PROBS_CACHE_SIZE and len(calls) == 6 + 4 * find.PROBS_CACHE_SIZE
    again = find.find_sound(clip, SR, "Remove the dog barking", finder=finder)  # the oldest was let go
    assert len(calls) == 10 + 4 * find.PROBS_CACHE_SIZE and np.array_equal(again.probs, whole.probs)
    assert len(find._probs_cache) == find.PROBS_CACHE_SIZE
