"""Replace A with B: B goes to every occurrence of A (found from the removal residual, or from an
example span of A when the removal took nothing), trimmed or repeated to A's length, at A's
level, and nothing changes outside A's spans."""

import dataclasses

import numpy as np
import pytest
from conftest import collect

from rfm_studio.core.events import EditRequest, EditResult, StepEvent
from rfm_studio.core.library.occurrences import find_occurrences, hysteresis, merge, pad
from rfm_studio.core.library.place import fit_length, foreground_db
from rfm_studio.core.library.prompted import run_reference_edit
from rfm_studio.core.prompts import AudioPrompt, example_from_clip

SR = 16000
A_AT = [(1.0, 1.4), (2.5, 2.9), (4.5, 4.9), (6.2, 6.6)]  # the four tone bursts
A_AMP = [0.3, 0.12, 0.3, 0.2]


def burst(seconds, freq, amp):
    t = np.arange(int(seconds * SR)) / SR
    x = amp * np.sin(2 * np.pi * freq * t)
    f = int(0.01 * SR)
    x[:f] *= np.linspace(0, 1, f)
    x[-f:] *= np.linspace(1, 0, f)
    return x


def scene_with_a(seed=0):
    rng = np.random.default_rng(seed)
    bed = 0.01 * rng.standard_normal(8 * SR)
    a = np.zeros(8 * SR)
    for (s, e), amp in zip(A_AT, A_AMP):
        a[int(s * SR): int(s * SR) + int((e - s) * SR)] += burst(e - s, 1000.0, amp)
    return (bed + a).astype(np.float32), a.astype(np.float32)


def b_sound(seconds=0.25, seed=5):
    """B: a band of noise around 4 kHz, nothing like A's 1 kHz tone."""
    from scipy.signal import butter, sosfilt

    rng = np.random.default_rng(seed)
    x = sosfilt(butter(4, (3000, 5000), "bandpass", fs=SR, output="sos"), rng.standard_normal(int(seconds * SR)))
    return (0.3 * x / np.abs(x).max()).astype(np.float32)


def band_energy(x, lo, hi):
    f = np.fft.rfftfreq(len(x), 1 / SR)
    p = np.abs(np.fft.rfft(x)) ** 2
    return float(p[(f >= lo) & (f < hi)].sum())


class FakeRemoval:
    """Stands in for the model's "Remove A": takes ``share`` of A away and, like a real model,
    changes the rest of the clip a little."""

    def __init__(self, a, share):
        self.a, self.share = a, share

    def __call__(self, model, req, cancel=None):
        yield StepEvent(1, 1, 1.0)
        rng = np.random.default_rng(1)
        out = req.audio - self.share * self.a + 1e-3 * rng.standard_normal(req.audio.shape).astype(np.float32)
        return EditResult(audio=out.astype(np.float32), sample_rate=SR, instruction=req.instruction,
                          params={"steps": 1}, seconds=0.0)


def run_replace(monkeypatch, x, a, share, prompts=(), ref=None):
    import rfm_studio.core.editing as editing

    monkeypatch.setattr(editing, "run_edit", FakeRemoval(a, share))
    ref = ref if ref is not None else AudioPrompt(b_sound(), SR, "reference", "lib/b_sound.wav")
    req = EditRequest(x, SR, "Replace the beeping with a hiss", prompts=(*prompts, ref))
    _, res = collect(run_reference_edit(object(), req))
    return res


def outside(spans, n, margin=0.0):
    m = np.ones(n, bool)
    for s, e in spans:
        m[max(0, int((s - margin) * SR)): int((e + margin) * SR)] = False
    return m


@pytest.mark.parametrize("share", [1.0, 0.3])  # a clean removal and a weak one (-3 dB)
def test_b_goes_to_all_four_places_a_was_at_a_s_level_and_nothing_changes_elsewhere(monkeypatch, share):
    x, a = scene_with_a()
    res = run_replace(monkeypatch, x, a, share)
    p = res.params
    assert p["task"] == "replace" and p["reference"] == "lib/b_sound.wav" and p["a_found_in"] == "residual"
    spans = p["a_spans"]
    assert len(spans) == 4 and len(p["placements"]) == 4
    for (s, e), (ts, te) in zip(spans, A_AT):
        assert abs(s - ts) < 0.05 and abs(e - te) < 0.05
    y = res.audio
    # keep error 0 outside the edited spans (the removal's small changes elsewhere are not taken)
    keep = outside(spans, len(x))
    assert np.array_equal(y[keep], x[keep])
    assert np.array_equal(y[outside(A_AT, len(x), 0.1)], x[outside(A_AT, len(x), 0.1)])
    added = y - (x - share * a)  # what went in besides the removal
    for (s, e), amp, pl in zip(A_AT, A_AMP, p["placements"]):
        seg = slice(int(s * SR), int(e * SR))
        # B (4 kHz band) is there at every occurrence, over its whole length (repeated: B is 0.25 s)
        assert band_energy(y[seg], 3000, 5000) > 100 * band_energy(x[seg], 3000, 5000)
        half = int(s * SR) + int(0.2 * SR)
        assert band_energy(y[half:int(e * SR) - 800], 3000, 5000) > 30 * band_energy(x[half:int(e * SR) - 800], 3000, 5000)
        # at A's level there
        a_db = foreground_db(burst(e - s, 1000.0, amp).astype(np.float32), SR)
        b_db = foreground_db(added[int(pl["start"] * SR): int(pl["end"] * SR)], SR)
        assert abs(b_db - a_db) < 1.5, (b_db, a_db)
    # A is gone where it was removed
    if share == 1.0:
        for s, e in A_AT:
            seg = slice(int(s * SR) + 400, int(e * SR) - 400)
            assert band_energy(y[seg], 900, 1100) < 1e-3 * band_energy(x[seg], 900, 1100)


def test_a_longer_b_is_trimmed_to_each_occurrence():
    x, a = scene_with_a()
    long_b = b_sound(2.0)
    y = fit_length(long_b, int(0.4 * SR), SR)
    assert len(y) == int(0.4 * SR) and abs(y[0]) < 1e-3 and abs(y[-1]) < 1e-3
    short = fit_length(b_sound(0.25), int(1.0 * SR), SR)  # repeated with crossfades, no gap
    env = np.sqrt(np.convolve(short.astype(np.float64) ** 2, np.ones(400) / 400, mode="valid"))
    assert len(short) == SR and env[800:-1600].min() > 0.2 * env.max()


def test_with_no_removal_an_example_span_of_a_finds_every_occurrence(monkeypatch):
    x, a = scene_with_a()
    ex = example_from_clip(x, SR, 1.0, 1.4)
    res = run_replace(monkeypatch, x, a, 0.0, prompts=(ex,))
    p = res.params
    assert p["a_found_in"] == "example" and len(p["a_spans"]) == 4
    for (s, e), (ts, te) in zip(p["a_spans"], A_AT):
        assert abs(s - ts) < 0.05 and abs(e - te) < 0.05
    keep = outside(p["a_spans"], len(x))
    assert np.array_equal(res.audio[keep], x[keep])
    for s, e in A_AT:
        seg = slice(int(s * SR), int(e * SR))
        assert band_energy(res.audio[seg], 3000, 5000) > 100 * band_energy(x[seg], 3000, 5000)


def test_a_region_limits_the_occurrences_and_stereo_keeps_its_channels(monkeypatch):
    x, a = scene_with_a()
    st = np.stack([x, 0.5 * x], axis=1)
    a2 = np.stack([a, 0.5 * a], axis=1)
    import rfm_studio.core.editing as editing

    monkeypatch.setattr(editing, "run_edit", FakeRemoval(a2, 1.0))
    req = EditRequest(st, SR, "Replace the beeping with a hiss", region=(2.0, 5.5),
                      prompts=(AudioPrompt(b_sound(), SR, "reference", "b.wav"),))
    _, res = collect(run_reference_edit(object(), req))
    spans = res.params["a_spans"]
    assert len(spans) == 2 and 2.0 <= spans[0][0] and spans[-1][1] <= 5.5
    assert res.audio.shape == st.shape
    keep = outside(spans, len(x))
    assert np.array_equal(res.audio[keep], st[keep])


def test_occurrence_detection_pieces():
    db = np.array([0, 0, 10, 20, 12, 8, 12, 25, 3, 0], float)
    assert hysteresis(db, on=15, off=9) == [(2, 5), (6, 8)]
    assert merge([(0.0, 1.0), (1.05, 2.0), (3.0, 3.02)], gap=0.1, min_len=0.05) == [(0.0, 2.0)]
    assert pad([(1.0, 2.0), (2.1, 3.0)], 0.2, 0.0, 3.1) == [(0.8, 2.05), (2.05, 3.1)]
    x, a = scene_with_a()
    assert find_occurrences(x, x, SR)["spans"] == []  # nothing removed, no example: nothing found
    found = find_occurrences(x, x - a, SR)
    assert len(found["spans"]) == 4 and found["band"][0] < 1000 < found["band"][1]


def test_each_signal_is_analysed_once(monkeypatch):
    """The residual's (or the input's) spectrogram is computed once and read for both A's band
    and its envelope."""
    from rfm_studio.core.library import occurrences as O

    sr = 16000
    rng = np.random.default_rng(0)
    a = np.zeros(4 * sr, np.float32)
    for s in (0.5, 2.0, 3.0):
        i = int(s * sr)
        a[i:i + 4000] = 0.3 * np.sin(2 * np.pi * 1000 * np.arange(4000) / sr)
    x = (0.01 * rng.standard_normal(4 * sr)).astype(np.float32) + a
    calls = []
    real = O._frames
    monkeypatch.setattr(O, "_frames", lambda sig, rate: calls.append(len(sig)) or real(sig, rate))
    found = find_occurrences(x, x - 0.5 * a, sr)
    assert found["source"] == "residual" and len(found["spans"]) == 3 and calls == [len(x)]
    calls.clear()
    ex = AudioPrompt(x[2 * sr: 2 * sr + 4000].copy(), sr, "example", "clip 2-2.25 s", span=(2.0, 2.25))
    found = find_occurrences(x, None, sr, examples=[ex])
    assert found["source"] == "example" and len(found["spans"]) == 3 and calls == [len(x), 4000]
