"""KL divergence (paired, against the ground-truth targets) and Inception Score, on PANNs logits.

Both follow audioldm_eval (``metrics/kl.py`` ``calculate_kl`` and ``metrics/isc.py``
``calculate_isc``), where the features are CNN14's pre-sigmoid ``logits`` [N, 527]:

KL (paired mode: edited clip i against the target of clip i; ``input2`` is the target):

    p_i = softmax(target_logits_i),  q_i = softmax(edited_logits_i)
    KL_softmax = (1/N) sum_i sum_c p_ic (log p_ic - log(q_ic + 1e-6))
    KL_sigmoid = (1/N) sum_i sum_c s(t_ic) (log s(t_ic) - log(s(g_ic) + 1e-6)),  s = sigmoid

i.e. ``F.kl_div((q + EPS).log(), p, reduction="sum") / N``. KL_sigmoid sums only the
positive-class term per class, exactly as audioldm_eval does (not a Bernoulli KL).
audioldm_eval prints the softmax form as "KL"; both are reported.

IS: p = softmax(logits) in float64; the rows shuffled with RandomState(2020); for each of
``splits`` equal chunks, exp(mean_i KL(p_i || mean_chunk p)); mean and std over chunks
(audioldm_eval: splits=10, shuffle on, seed 2020).
"""

from __future__ import annotations

import numpy as np

KL_EPS = 1e-6


def softmax(x, axis=-1):
    x = np.asarray(x, dtype=np.float64)
    z = x - x.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax(x, axis=-1):
    x = np.asarray(x, dtype=np.float64)
    z = x - x.max(axis=axis, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


def sigmoid(x):
    x = np.asarray(x, dtype=np.float64)
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _kl_terms(p_target, q_pred, eps=KL_EPS):
    """Elementwise p (log p - log(q + eps)), with 0 log 0 = 0 (torch's kl_div)."""
    p = np.asarray(p_target, np.float64)
    q = np.asarray(q_pred, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(p > 0, p * (np.log(np.where(p > 0, p, 1.0)) - np.log(q + eps)), 0.0)
    return t


def kl_from_probs(p_target, q_pred, eps: float = KL_EPS) -> dict:
    """KL from probabilities [N, C]: total / N and per pair (row sums)."""
    p, q = np.atleast_2d(p_target), np.atleast_2d(q_pred)
    if p.shape != q.shape:
        raise ValueError(f"Paired KL needs equal shapes, got {p.shape} and {q.shape}.")
    terms = _kl_terms(p, q, eps)
    per = terms.sum(axis=1)
    return {"kl": float(terms.sum() / len(p)), "per_pair": per}


def kl_paired(pred_logits, target_logits, eps: float = KL_EPS) -> dict:
    """audioldm_eval's calculate_kl on paired logits [N, C] (pred: edited, target: ground truth)."""
    g = np.atleast_2d(np.asarray(pred_logits, np.float64))
    t = np.atleast_2d(np.asarray(target_logits, np.float64))
    if g.shape != t.shape:
        raise ValueError(f"Paired KL needs equal shapes, got {g.shape} and {t.shape}.")
    soft = kl_from_probs(softmax(t), softmax(g), eps)
    sig = kl_from_probs(sigmoid(t), sigmoid(g), eps)
    return {"kl_softmax": soft["kl"], "kl_sigmoid": sig["kl"], "per_pair_softmax": soft["per_pair"],
            "per_pair_sigmoid": sig["per_pair"], "n": int(len(g))}


def inception_score_from_probs(probs, splits: int = 10, shuffle: bool = True, seed: int = 2020) -> dict:
    """IS from class probabilities [N, C] (rows sum to 1)."""
    p = np.atleast_2d(np.asarray(probs, np.float64))
    n = p.shape[0]
    if n == 0:
        raise ValueError("The Inception Score needs at least one clip.")
    splits = int(max(1, min(splits, n)))
    if shuffle:
        p = p[np.random.RandomState(seed).permutation(n)]
    with np.errstate(divide="ignore"):
        log_p = np.log(p)
    scores = []
    for i in range(splits):
        a, b = i * n // splits, (i + 1) * n // splits
        pc, lpc = p[a:b], log_p[a:b]
        q = pc.mean(axis=0, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            kl = np.where(pc > 0, pc * (lpc - np.log(q)), 0.0)
        scores.append(float(np.exp(kl.sum(axis=1).mean())))
    return {"is_mean": float(np.mean(scores)), "is_std": float(np.std(scores)), "splits": splits,
            "scores": scores}


def inception_score(logits, splits: int = 10, shuffle: bool = True, seed: int = 2020) -> dict:
    """audioldm_eval's calculate_isc: IS from logits [N, C] through a softmax."""
    x = np.atleast_2d(np.asarray(logits, np.float64))
    n = x.shape[0]
    if n == 0:
        raise ValueError("The Inception Score needs at least one clip.")
    if shuffle:
        x = x[np.random.RandomState(seed).permutation(n)]
    # log-probabilities from log_softmax, as audioldm_eval does (exact for tiny probabilities)
    splits_eff = int(max(1, min(splits, n)))
    p, lp = softmax(x), log_softmax(x)
    scores = []
    for i in range(splits_eff):
        a, b = i * n // splits_eff, (i + 1) * n // splits_eff
        pc, lpc = p[a:b], lp[a:b]
        q = pc.mean(axis=0, keepdims=True)
        kl = pc * (lpc - np.log(q))
        scores.append(float(np.exp(kl.sum(axis=1).mean())))
    return {"is_mean": float(np.mean(scores)), "is_std": float(np.std(scores)), "splits": splits_eff,
            "scores": scores}
