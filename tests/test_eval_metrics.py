"""Evaluation metrics against closed forms and hand-computed values (no network weights)."""

import math

import numpy as np
import pytest

from rfm_studio.core.evaluation import spectral as S
from rfm_studio.core.evaluation.clap import clap_score, cosine_rows
from rfm_studio.core.evaluation.frechet import (FrechetError, frechet_distance, frechet_distance_from_embeddings,
                                                gaussian_stats)
from rfm_studio.core.evaluation.kl_is import (inception_score, inception_score_from_probs, kl_from_probs,
                                              kl_paired)


# ---- Fréchet distance ------------------------------------------------------------------------
def _psd_sqrt(a):
    w, v = np.linalg.eigh(a)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def closed_form(mu1, s1, mu2, s2):
    """d^2 = |mu1-mu2|^2 + Tr(S1 + S2 - 2 (S1^1/2 S2 S1^1/2)^1/2), via symmetric eigendecompositions."""
    r = _psd_sqrt(s1)
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(_psd_sqrt(r @ s2 @ r)))


def test_frechet_diagonal_closed_form():
    mu1, mu2 = np.array([0.0, 1.0, -2.0]), np.array([1.0, 1.0, 0.0])
    a, b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 1.0])
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)  # 5 + (1 + 1 + 4)
    assert expected == pytest.approx(11.0)
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(11.0, abs=1e-9)


def test_frechet_general_covariances_match_symmetric_form():
    rng = np.random.default_rng(0)
    for _ in range(5):
        d = 6
        m1, m2 = rng.standard_normal((2, d))
        x, y = rng.standard_normal((2, d, d))
        s1, s2 = x @ x.T + 0.1 * np.eye(d), y @ y.T + 0.1 * np.eye(d)
        assert frechet_distance(m1, s1, m2, s2) == pytest.approx(closed_form(m1, s1, m2, s2), rel=1e-7, abs=1e-9)
    # identical Gaussians are at distance 0; the distance is symmetric
    assert frechet_distance(m1, s1, m1, s1) == pytest.approx(0.0, abs=1e-8)
    assert frechet_distance(m1, s1, m2, s2) == pytest.approx(frechet_distance(m2, s2, m1, s1), rel=1e-8)


def test_frechet_from_samples_of_known_gaussians():
    rng = np.random.default_rng(1)
    mu1, mu2 = np.array([0.0, 0.0, 0.0]), np.array([1.0, -0.5, 2.0])
    s1 = np.array([[2.0, 0.5, 0.0], [0.5, 1.0, 0.2], [0.0, 0.2, 0.5]])
    s2 = np.array([[1.0, -0.3, 0.1], [-0.3, 2.0, 0.0], [0.1, 0.0, 1.5]])
    x1 = rng.multivariate_normal(mu1, s1, size=200_000)
    x2 = rng.multivariate_normal(mu2, s2, size=200_000)
    m, c = gaussian_stats(x1)
    np.testing.assert_allclose(m, mu1, atol=0.02)
    np.testing.assert_allclose(c, s1, atol=0.03)
    assert frechet_distance_from_embeddings(x1, x2) == pytest.approx(closed_form(mu1, s1, mu2, s2), rel=0.02)


def test_frechet_degenerate_sets():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((5, 32))  # fewer samples than dimensions: singular covariances
    fd = frechet_distance_from_embeddings(x, x)
    assert math.isfinite(fd) and abs(fd) < 1e-4
    with pytest.raises(FrechetError):
        frechet_distance_from_embeddings(x[:1], x)  # one sample has no covariance
    with pytest.raises(ValueError):
        frechet_distance(np.zeros(2), np.eye(2), np.zeros(3), np.eye(3))


# ---- KL (paired) -----------------------------------------------------------------------------
def test_kl_paired_softmax_and_sigmoid_by_hand():
    eps = 1e-6
    target = np.log([[0.5, 0.5], [0.2, 0.8]])
    pred = np.log([[0.9, 0.1], [0.2, 0.8]])
    r = kl_paired(pred, target)
    kl0 = 0.5 * math.log(0.5 / (0.9 + eps)) + 0.5 * math.log(0.5 / (0.1 + eps))
    kl1 = 0.2 * math.log(0.2 / (0.2 + eps)) + 0.8 * math.log(0.8 / (0.8 + eps))  # identical pair: ~ -eps
    assert r["per_pair_softmax"][0] == pytest.approx(kl0, rel=1e-9)
    assert r["per_pair_softmax"][1] == pytest.approx(kl1, rel=1e-6)
    assert r["kl_softmax"] == pytest.approx((kl0 + kl1) / 2, rel=1e-9)
    # sigmoid form: sum over classes of s(t) (log s(t) - log(s(g) + eps)), no (1 - s) term
    sig = lambda z: 1 / (1 + math.exp(-z))  # noqa: E731
    hand = sum(sig(t) * (math.log(sig(t)) - math.log(sig(g) + eps))
               for tr, gr in zip(target, pred) for t, g in zip(tr, gr)) / 2
    assert r["kl_sigmoid"] == pytest.approx(hand, rel=1e-9)


def test_kl_matches_audioldm_eval_torch_expression():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    g, t = rng.standard_normal((2, 7, 527)) * 3
    f1, f2 = torch.from_numpy(g).float(), torch.from_numpy(t).float()
    # audioldm_eval calculate_kl: features_1 = generated, features_2 = target
    soft = torch.nn.functional.kl_div((f1.softmax(dim=1) + 1e-6).log(), f2.softmax(dim=1), reduction="sum") / len(f1)
    sig = torch.nn.functional.kl_div((f1.sigmoid() + 1e-6).log(), f2.sigmoid(), reduction="sum") / len(f1)
    r = kl_paired(g, t)
    assert r["kl_softmax"] == pytest.approx(float(soft), rel=1e-4)
    assert r["kl_sigmoid"] == pytest.approx(float(sig), rel=1e-4)


def test_kl_from_probs_zero_target_and_shapes():
    r = kl_from_probs([[1.0, 0.0]], [[0.5, 0.5]], eps=0.0)
    assert r["kl"] == pytest.approx(math.log(2.0))
    with pytest.raises(ValueError):
        kl_paired(np.zeros((2, 3)), np.zeros((3, 3)))


# ---- Inception Score ---------------------------------------------------------------------------
def test_inception_score_by_hand():
    p = np.array([[0.9, 0.1], [0.1, 0.9]])
    kl = 0.9 * math.log(0.9 / 0.5) + 0.1 * math.log(0.1 / 0.5)
    r = inception_score(np.log(p), splits=1)
    assert r["is_mean"] == pytest.approx(math.exp(kl), rel=1e-9)
    assert r["is_std"] == pytest.approx(0.0) and r["splits"] == 1
    assert inception_score_from_probs(p, splits=1)["is_mean"] == pytest.approx(math.exp(kl), rel=1e-9)
    # one clip per split: each chunk's marginal is the clip itself -> IS 1
    r2 = inception_score(np.log(p), splits=2)
    assert r2["is_mean"] == pytest.approx(1.0) and r2["scores"] == pytest.approx([1.0, 1.0])


def test_inception_score_confident_and_uniform():
    c = 8
    confident = np.full((4 * c, c), -30.0)
    confident[np.arange(4 * c), np.arange(4 * c) % c] = 30.0  # each class predicted 4 times, surely
    assert inception_score(confident, splits=1)["is_mean"] == pytest.approx(c, rel=1e-6)
    assert inception_score(confident, splits=4, shuffle=False)["is_mean"] == pytest.approx(c, rel=1e-6)
    assert inception_score(np.zeros((10, c)), splits=10)["is_mean"] == pytest.approx(1.0)
    # more splits than clips: capped at the number of clips (audioldm_eval uses 10)
    assert inception_score(confident[:3], splits=10)["splits"] == 3


# ---- CLAP cosine ---------------------------------------------------------------------------------
def test_clap_cosine_on_fixed_embeddings():
    a = np.array([[1.0, 0.0], [1.0, 1.0], [3.0, 4.0]])
    t = np.array([[2.0, 0.0], [0.0, 1.0], [-3.0, -4.0]])
    np.testing.assert_allclose(cosine_rows(a, t), [1.0, 1 / math.sqrt(2), -1.0])
    r = clap_score(a, t)
    assert r["clap"] == pytest.approx((1.0 + 1 / math.sqrt(2) - 1.0) / 3)
    np.testing.assert_allclose(cosine_rows(5 * a, 0.1 * t), cosine_rows(a, t))  # scale invariant
    with pytest.raises(ValueError):
        cosine_rows(a, t[:2])


# ---- model-free figures ------------------------------------------------------------------------
def _tone(sec=1.5, f=700.0, amp=0.3, sr=16000):
    t = np.arange(int(sec * sr)) / sr
    return (amp * np.sin(2 * np.pi * f * t)).astype(np.float32)


def test_gain_keep_and_success():
    rng = np.random.default_rng(4)
    bg = (0.02 * rng.standard_normal(24000)).astype(np.float32)
    ev = np.zeros_like(bg)
    ev[8000:16000] = _tone(0.5, 900.0)
    x, y = bg + ev, bg  # remove the tone between 0.5 s and 1.0 s
    mx, my = S.log_mel(x), S.log_mel(y)
    mask = S.mask_from_spans([[0.5, 1.0]], mx.shape[-1])
    assert mask.sum() == 50 and mask[50] and not mask[49] and not mask[100]
    perfect = S.edit_figures(mx, my, my, mask)
    nothing = S.edit_figures(mx, my, mx, mask)
    assert perfect["gain"] == pytest.approx(1.0) and perfect["success"] is True
    assert nothing["gain"] == pytest.approx(0.0) and nothing["keep_error"] == pytest.approx(0.0)
    assert nothing["success"] is False
    half = S.edit_figures(mx, my, 0.5 * (mx + my), mask)  # halfway in log-mel: gain 0.5
    assert half["gain"] == pytest.approx(0.5)
    # the derived mask finds the tone's frames (plus the analysis window's spread)
    derived = S.mask_from_mels(mx, my)
    assert derived[55:95].all() and not derived[:40].any() and not derived[110:].any()
    assert S.success_rate([1.0, 0.1, None, 0.25]) == pytest.approx(2 / 3)
    assert S.summarize([None, 1.0, 3.0]) == {"mean": 2.0, "median": 2.0, "n": 2}


def test_gain_undefined_when_input_equals_target():
    m = S.log_mel(_tone())
    r = S.edit_figures(m, m, m, np.ones(m.shape[-1], bool))
    assert r["gain"] is None and r["success"] is None and r["keep_error"] is None


def test_lsd_and_si_sdr():
    rng = np.random.default_rng(5)
    y = _tone(1.0) + 0.01 * rng.standard_normal(16000).astype(np.float32)
    assert S.lsd(y, y) == pytest.approx(0.0, abs=1e-9)
    assert S.lsd(0.5 * y, y) == pytest.approx(2 * math.log10(2), rel=1e-3)  # power ratio 4 everywhere
    n = rng.standard_normal(16000)
    n -= n.mean()
    yz = y - y.mean()
    n -= (n @ yz) / (yz @ yz) * yz  # orthogonal to the target ...
    n *= np.linalg.norm(yz) / np.linalg.norm(n) / 10 ** (10 / 20)  # ... and 10 dB below it: SI-SDR 10 dB
    assert S.si_sdr(y + n, y) == pytest.approx(10.0, abs=1e-6)
    assert S.si_sdr(3.0 * y, y) > 100  # scale invariant
    assert S.si_sdr(y, np.zeros_like(y)) is None


def test_span_seconds_map_to_their_own_frames():
    """Spans written from frame boundaries come back as the same frames (0.29 s is frame 29)."""
    m = S.mask_from_spans([[0.29, 0.56], [1.13, 1.28]], 300)
    assert np.flatnonzero(m).tolist() == list(range(29, 56)) + list(range(113, 128))


def test_a_perfect_edit_has_no_keep_error_where_the_event_is_quiet_outside_its_span():
    rng = np.random.default_rng(5)
    bg = (0.002 * rng.standard_normal(32000)).astype(np.float32)
    ev = np.zeros_like(bg)
    ev[8000:16000] = _tone(0.5, 700.0)
    ev[16000:24000] = _tone(0.5, 700.0, amp=0.01)  # a quiet tail: below the span's 40 dB, over the background
    x, y = bg + ev, bg
    mx, my = S.log_mel(x), S.log_mel(y)
    spans = [[0.5, 1.0]]
    old = S.mask_from_spans(spans, mx.shape[-1])
    assert S.edit_figures(mx, my, my, old)["keep_error"] > 0.1  # the tail was counted as "keep"
    e = S.event_frames(mx, my, spans)
    assert e[50:100].all() and e[105:145].all() and not e[:40].any() and not e[160:].any()
    perfect = S.edit_figures(mx, my, my, e)
    assert perfect["gain"] == pytest.approx(1.0) and perfect["keep_error"] < 1e-3  # was 0.10
    assert S.event_frames(mx, my)[105:145].all()  # without spans: the mel difference alone


def test_gain_is_undefined_when_there_is_next_to_nothing_to_edit():
    m = S.log_mel(_tone())
    r = S.edit_figures(m, m + 0.005, m + 1.0, np.ones(m.shape[-1], bool))
    assert r["gain"] is None and r["success"] is None
