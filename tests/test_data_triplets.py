"""On-the-fly triplet generator and fixed set, on a synthetic bank of tones and noise."""

import json

import numpy as np
import pytest
import soundfile as sf

from rfm_studio.core.data import mixing as M
from rfm_studio.core.data.triplets import TripletGenerator, family, make_fixed_set
from rfm_studio.core.errors import OptionError

from tiny_bank import SR, make_tiny_bank


@pytest.fixture(scope="module")
def bank(tmp_path_factory):
    return make_tiny_bank(tmp_path_factory.mktemp("bank"))


def test_six_triplet_rule():
    rng = np.random.default_rng(0)
    x, a, b = (rng.standard_normal(100).astype(np.float32) for _ in range(3))
    six = M.six_triplets(x, a, b)
    assert [(t, w) for t, w, *_ in six] == list(M.SIX_TYPES)
    want = {("add", "A"): (x, x + a), ("add", "B"): (x, x + b), ("remove", "A"): (x + a, x),
            ("remove", "B"): (x + b, x), ("replace", "AB"): (x + a, x + b), ("replace", "BA"): (x + b, x + a)}
    for t, w, inp, tgt in six:
        np.testing.assert_allclose(inp, want[(t, w)][0])
        np.testing.assert_allclose(tgt, want[(t, w)][1])


def test_generator_shapes_and_labels(bank):
    gen = TripletGenerator(bank, seconds=2.0, seed=1)
    n = 32000
    rng = np.random.default_rng(0)
    for _ in range(60):
        t = gen.sample(rng)
        assert t.input.shape == t.target.shape == (n,)
        assert t.input.dtype == t.target.dtype == np.float32
        assert t.edit_mask.shape == (n // 160 + 1,) and t.edit_mask.dtype == bool
        assert t.task in ("add", "remove", "replace") and t.meta["type"].startswith(t.task)
        assert max(np.abs(t.input).max(), np.abs(t.target).max()) <= 0.95 + 1e-5
        a, b, xs = t.meta["classes"]["a"], t.meta["classes"]["b"], t.meta["classes"]["x"]
        fams = [family(c) for c in [a, b] + xs]
        assert len(fams) == len(set(fams))
        assert len(xs) <= 2
        if t.templated:
            head = {"add": "Add ", "remove": "Remove ", "replace": "Replace "}[t.task]
            assert t.instruction.startswith(head)
        # the edit lives where the mask says: input and target agree elsewhere
        d = M.frame_energy(t.target - t.input)
        assert d[~t.edit_mask].sum() <= 1e-3 * d.sum() + 1e-9
        assert t.edit_mask.any()


def test_captions_follow_the_edit(bank):
    gen = TripletGenerator(bank, seconds=2.0, seed=2, paraphrase_prob=0.0)
    rng = np.random.default_rng(5)
    for _ in range(40):
        t = gen.sample(rng)
        ca, cb = t.meta["A"]["caption"], t.meta["B"]["caption"]
        first, second = (ca, cb) if t.meta["type"].endswith(("_A", "_AB")) else (cb, ca)
        if t.task == "add":
            assert t.instruction == f"Add {first}" and t.target_caption.endswith(first)
        elif t.task == "remove":
            assert t.instruction == f"Remove {first}" and first not in t.target_caption
        else:
            assert t.instruction == f"Replace {first} with {second}" and t.target_caption.endswith(second)


def test_tasks_uniform_and_paraphrase_share(bank):
    gen = TripletGenerator(bank, seconds=1.0, seed=0, paraphrase_prob=0.5)
    rng = np.random.default_rng(1)
    ts = [gen.sample(rng) for _ in range(450)]
    counts = {k: sum(t.task == k for t in ts) for k in ("add", "remove", "replace")}
    assert all(110 <= v <= 190 for v in counts.values()), counts
    types = {t.meta["type"] for t in ts}
    assert types == {"add_A", "add_B", "remove_A", "remove_B", "replace_AB", "replace_BA"}
    share = np.mean([t.templated for t in ts])
    assert 0.4 <= share <= 0.6


def test_seeded_and_iterable(bank):
    g1 = TripletGenerator(bank, seconds=1.0, seed=7)
    g2 = TripletGenerator(bank, seconds=1.0, seed=7)
    a = [next(iter(g1)) for _ in range(1)][0]
    b = next(iter(g2))
    np.testing.assert_array_equal(a.input, b.input)
    assert a.instruction == b.instruction
    it = iter(g1)
    x, y = next(it), next(it)
    assert not np.array_equal(x.input, y.input) or x.instruction != y.instruction


def test_splits_never_mix(bank):
    rng = np.random.default_rng(0)
    for split, want in (("train", ("_0.wav", "_1.wav")), ("val", ("_2.wav",))):
        gen = TripletGenerator(bank, split=split, seconds=1.0)
        for _ in range(40):
            m = gen.sample(rng).meta
            files = [m["A"]["file"], m["B"]["file"]] + [e["file"] for e in m["background"]["events"]]
            if m["background"]["bed"]:
                files.append(m["background"]["bed"]["file"])
            assert all(f.endswith(want) for f in files), files


def test_fixed_set(bank, tmp_path):
    m = make_fixed_set(bank, tmp_path / "fixed", n_per_task=4, seconds=2.0, seed=3)
    rows = [json.loads(l) for l in m.read_text().splitlines()]
    assert len(rows) == 12 and {r["task"] for r in rows} == {"add", "remove", "replace"}
    assert sum(r["templated"] for r in rows) == 6
    for r in rows:
        x, sr = sf.read(str(m.parent / r["input"]))
        y, _ = sf.read(str(m.parent / r["target"]))
        assert sr == SR and len(x) == len(y) == 32000
        assert r["edit_spans"] and r["edit_start_s"] <= r["edit_end_s"]
        assert {"id", "instruction", "target_caption", "classes"} <= set(r)
    again = make_fixed_set(bank, tmp_path / "fixed2", n_per_task=4, seconds=2.0, seed=3)
    assert [json.loads(l)["instruction"] for l in again.read_text().splitlines()] == [r["instruction"] for r in rows]


def test_errors(bank, tmp_path):
    with pytest.raises(OptionError):
        TripletGenerator(tmp_path)
    with pytest.raises(OptionError):
        TripletGenerator(bank, sample_rate=22050)
    with pytest.raises(OptionError):
        TripletGenerator(bank, seconds=1.0).sample(np.random.default_rng(0), task="louder")


def test_augment_functions_change_speed_timbre_and_room_as_described():
    from rfm_studio.core.data import augment as A

    t = np.arange(SR) / SR
    tone = np.sin(2 * np.pi * 1000 * t).astype(np.float32)
    fast = A.varispeed(tone, 1.1)
    peak = np.fft.rfftfreq(len(fast), 1 / SR)[np.argmax(np.abs(np.fft.rfft(fast)))]
    assert abs(peak - 1100) < 5 and abs(len(fast) - SR / 1.1) < 2  # higher and shorter
    rng = np.random.default_rng(0)
    wet = A.room(tone * np.hanning(SR).astype(np.float32), rng)
    assert len(wet) > SR  # a tail
    x = np.random.default_rng(1).standard_normal(SR).astype(np.float32)
    y = A.vary_event(x, np.random.default_rng(2), 1.0)
    assert np.isclose(np.sqrt(np.mean(y.astype(np.float64) ** 2)), np.sqrt(np.mean(x.astype(np.float64) ** 2)), rtol=1e-3)
    assert A.vary_event(x, rng, 0.0) is x
    # one chain for input and target: their difference goes through the same filter
    a, b = x, 0.5 * x
    fa, fb = A.channel_eq(a, b, np.random.default_rng(3), 1.0)
    assert not np.allclose(fa, a)
    np.testing.assert_allclose(fb, 0.5 * fa, atol=1e-5)


def test_augmentation_is_off_by_default_and_keeps_the_edit_consistent(bank):
    plain = TripletGenerator(bank, seconds=2.0, seed=1)
    off = TripletGenerator(bank, seconds=2.0, seed=1, event_augment=0.0, channel_augment=0.0)
    on = TripletGenerator(bank, seconds=2.0, seed=1, event_augment=1.0, channel_augment=1.0)
    differ = 0
    for i in range(12):
        p, o, a = (g.sample(np.random.default_rng(i), task="remove") for g in (plain, off, on))
        np.testing.assert_array_equal(p.input, o.input)  # no extra random draws when off
        np.testing.assert_array_equal(p.target, o.target)
        differ += not np.array_equal(p.input, a.input[: len(p.input)])
        assert a.input.shape == p.input.shape and np.abs(a.input).max() <= M.PEAK_MAX + 1e-6
        # the removed event sounds only inside the edit mask (rooms lengthen events: the mask follows)
        d = M.frame_energy(a.input - a.target)
        outside = ~a.edit_mask[: len(d)]
        assert d[outside].max(initial=0.0) <= 1e-3 * max(d.max(), 1e-12) + 1e-10
    assert differ >= 10


def test_channel_eq_does_not_wrap_the_end_of_a_clip_into_its_start():
    """The EQ is a linear convolution: an event in the last 0.5 s changes nothing in the first
    second (the FFT's circular wrap once put it there, outside the edit mask, in 188 of 200
    draws)."""
    from rfm_studio.core.data import augment as A

    rng = np.random.default_rng(0)
    bg = 0.003 * rng.standard_normal(5 * SR).astype(np.float32)
    event = np.zeros_like(bg)
    event[-SR // 2:] = 0.5 * np.sin(2 * np.pi * 80 * np.arange(SR // 2) / SR)  # low: the longest response
    worst = 0.0
    for i in range(50):
        fi, ft = A.channel_eq(bg + event, bg, np.random.default_rng(i), 1.0)
        worst = max(worst, float(np.abs(fi - ft)[:SR].max()))
        assert len(fi) == len(bg)
    assert worst < 1e-4  # against 0.5 of the event and 0.003 of the background
    x = rng.standard_normal(SR).astype(np.float32)  # vary_event's EQ: same length back
    n = A.eq_size(len(x))
    assert len(A.apply_eq(x, np.ones(n // 2 + 1), n)) == len(x)
    np.testing.assert_allclose(A.apply_eq(x, np.ones(n // 2 + 1), n), x, atol=1e-5)
    with pytest.raises(ValueError):
        A.apply_eq(x, np.ones(len(x) // 2 + 1), len(x))
