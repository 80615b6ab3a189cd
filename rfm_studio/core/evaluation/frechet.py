"""Fréchet distance between Gaussians fitted to two embedding sets (FD on PANNs, FAD on VGGish).

    d^2 = ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2))

computed as audioldm_eval does (``metrics/fid.py`` and ``metrics/fad.py``, adapted there
from pytorch-fid): mean and ``np.cov(rowvar=False)`` (unbiased) of each set;
``scipy.linalg.sqrtm`` of the product; if the result is not finite, eps = 1e-6 is added
to both diagonals and the root taken again; a complex result whose diagonal imaginary
part exceeds 1e-3 is an error, a smaller one is dropped (numerical noise).
"""

from __future__ import annotations

import numpy as np

EPS = 1e-6


class FrechetError(ValueError):
    """The covariance product has no usable real square root (too few or degenerate samples)."""


def gaussian_stats(x) -> tuple[np.ndarray, np.ndarray]:
    """(mean, covariance) of an embedding set [n, dim], n >= 2."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"Embeddings must be [n, dim], got shape {x.shape}.")
    if x.shape[0] < 2:
        raise FrechetError(f"A covariance needs at least 2 embeddings, got {x.shape[0]}.")
    return x.mean(axis=0), np.atleast_2d(np.cov(x, rowvar=False))


def _sqrtm(a):
    import warnings

    from scipy import linalg

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy warns on singular products; we check the result below
        return linalg.sqrtm(a)


def frechet_distance(mu1, sigma1, mu2, sigma2, eps: float = EPS) -> float:
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape:
        raise ValueError("The two mean vectors have different lengths.")
    if sigma1.shape != sigma2.shape:
        raise ValueError("The two covariances have different dimensions.")
    diff = mu1 - mu2
    covmean = _sqrtm(sigma1.dot(sigma2))
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = _sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            m = float(np.max(np.abs(covmean.imag)))
            raise FrechetError(f"The covariance product has no real square root (imaginary part {m:.3g}).")
        covmean = covmean.real
    if not np.isfinite(covmean).all():
        raise FrechetError("The covariance product has no finite square root.")
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean))


def frechet_distance_from_embeddings(x1, x2, eps: float = EPS) -> float:
    """FD between Gaussians fitted to two sets of embeddings [n1, d] and [n2, d]."""
    m1, s1 = gaussian_stats(x1)
    m2, s2 = gaussian_stats(x2)
    return frechet_distance(m1, s1, m2, s2, eps)
