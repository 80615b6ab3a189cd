"""Automatic curation checks for the event bank (used by ``build_bank``).

- ``clipping(x)``: share of samples in flat runs at the clip's peak (hard clipping
  survives level changes, so it is measured on the source audio).
- ``Fingerprints``: landmark fingerprints (pairs of spectral peaks, Wang 2003) on
  8 kHz audio with an inverted index. Peaks do not move with gain, resampling or
  lossy re-encoding, and matching counts hashes that agree on one time offset, so
  the same recording is found under another name, at another level or sample rate,
  or cut from a longer file.
- ``label_check(...)``: k-fold, group-aware logistic regression on mean/std log-mel
  features; a clip whose held-out prediction is confidently another class (and
  gives its own label little probability) is flagged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..features.mel import mel_weights

FP_SR = 8000
FP_NFFT, FP_HOP = 512, 64           # 64 ms windows, 8 ms hop at 8 kHz
PEAKS_PER_S = 30
FAN_OUT = 5
MAX_DT = 100                         # frames (0.8 s) between paired peaks
MIN_MATCHES = 12                     # aligned hashes needed to call two clips one recording
MATCH_SHARE = 0.15                   # ... and this share of the shorter clip's hashes
CLIP_RUN = 2                         # consecutive samples at the peak count as clipped


def clipping(x: np.ndarray, tol: float = 1e-4) -> float:
    """Share of samples inside runs of >= CLIP_RUN consecutive samples at +-peak (flat tops)."""
    x = np.asarray(x, np.float64).ravel()
    if x.size == 0:
        return 0.0
    peak = float(np.max(np.abs(x)))
    if peak <= 0:
        return 0.0
    at = np.abs(x) >= peak * (1 - tol)
    if not at.any():
        return 0.0
    # run lengths of True
    d = np.diff(np.r_[0, at.astype(np.int8), 0])
    starts, ends = np.nonzero(d == 1)[0], np.nonzero(d == -1)[0]
    runs = ends - starts
    return float(runs[runs >= CLIP_RUN].sum() / x.size)


# ------------------------------------------------------------------ fingerprints
def _to_fp_rate(x: np.ndarray, sr: int) -> np.ndarray:
    from ..audio.io import resample

    x = np.asarray(x, np.float32)
    return resample(x, sr, FP_SR) if sr != FP_SR else x


def landmarks(x: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """(hashes int64 [k], anchor frame [k]) of one clip."""
    from scipy.ndimage import maximum_filter

    y = _to_fp_rate(x, sr)
    if len(y) < FP_NFFT:
        y = np.pad(y, (0, FP_NFFT - len(y)))
    n = 1 + (len(y) - FP_NFFT) // FP_HOP
    idx = np.arange(FP_NFFT)[None, :] + FP_HOP * np.arange(n)[:, None]
    spec = np.abs(np.fft.rfft(y[idx] * np.hanning(FP_NFFT), axis=1))[:, 1:]  # drop DC
    s = np.log(spec + 1e-6)
    s -= s.max()
    floor = np.median(s, axis=1, keepdims=True) + 10 / 8.686          # 10 dB over the frame's median bin
    peaks = (s == maximum_filter(s, size=(15, 21))) & (s > floor) & (s > -60 / 8.686)
    t, f = np.nonzero(peaks)
    if t.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    keep = max(1, int(PEAKS_PER_S * len(y) / FP_SR))
    if t.size > keep:
        order = np.argsort(-s[t, f], kind="stable")[:keep]
        t, f = t[order], f[order]
    order = np.lexsort((f, t))
    t, f = t[order], f[order]
    hashes, anchors = [], []
    for i in range(len(t)):
        j = i + 1
        paired = 0
        while j < len(t) and paired < FAN_OUT:
            dt = t[j] - t[i]
            if dt > MAX_DT:
                break
            if dt > 0:
                # 8-bit frequencies (bins / 1), 9-bit delta (signed, offset), 6-bit dt
                f1, df = int(f[i]) >> 1, (int(f[j]) >> 1) - (int(f[i]) >> 1)  # 31 Hz steps
                hashes.append((f1 << 16) | ((df + 256) << 6) | (int(dt) >> 1))
                anchors.append(int(t[i]))
                paired += 1
            j += 1
    return np.asarray(hashes, np.int64), np.asarray(anchors, np.int64)


@dataclass(frozen=True)
class Match:
    other: int          # index of the earlier clip
    matches: int        # aligned hashes
    share: float        # matches / hashes of the shorter clip
    offset_s: float     # where this clip starts inside the other (seconds, may be negative)


class Fingerprints:
    """Inverted index of landmark hashes; ``add`` returns the best earlier match, if any."""

    def __init__(self, min_matches: int = MIN_MATCHES, min_share: float = MATCH_SHARE):
        self.index: dict[int, list[tuple[int, int]]] = {}
        self.sizes: list[int] = []
        self.min_matches, self.min_share = min_matches, min_share

    def query(self, x: np.ndarray, sr: int) -> Match | None:
        h, a = landmarks(x, sr)
        return self._query(h, a)

    def _query(self, h, a) -> Match | None:
        votes: dict[tuple[int, int], int] = {}
        for hv, tv in zip(h.tolist(), a.tolist()):
            for other, to in self.index.get(hv, ()):
                k = (other, to - tv)
                votes[k] = votes.get(k, 0) + 1
        best = None
        for (other, off), n in votes.items():
            # allow one frame of jitter (resampling can move a peak by a frame)
            n = n + votes.get((other, off - 1), 0) + votes.get((other, off + 1), 0) \
                + votes.get((other, off - 2), 0) + votes.get((other, off + 2), 0)
            share = n / max(1, min(len(h), self.sizes[other]))
            if n >= self.min_matches and share >= self.min_share and (best is None or n > best.matches):
                best = Match(other, n, round(share, 3), round(off * FP_HOP / FP_SR, 3))
        return best

    def add(self, x: np.ndarray, sr: int) -> tuple[int, Match | None]:
        h, a = landmarks(x, sr)
        m = self._query(h, a)
        i = len(self.sizes)
        self.sizes.append(len(h))
        for hv, tv in zip(h.tolist(), a.tolist()):
            self.index.setdefault(hv, []).append((i, tv))
        return i, m


# ------------------------------------------------------------------ label check
def clip_features(x: np.ndarray, sr: int = 16000, n_mels: int = 48) -> np.ndarray:
    """Mean and std of the log-mel spectrum (in dB) plus a few shape figures: [2 * n_mels + 3]."""
    x = np.asarray(x, np.float32)
    n_fft, hop = 1024, 320
    if len(x) < n_fft:
        x = np.pad(x, (0, n_fft - len(x)))
    n = 1 + (len(x) - n_fft) // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(n)[:, None]
    p = np.abs(np.fft.rfft(x[idx] * np.hanning(n_fft), axis=1)) ** 2
    fb = mel_weights(sr, n_fft, n_mels, 50.0, sr / 2, htk=True, norm=None, width_pad=1e-9)
    m = 10 * np.log10(p @ fb.T + 1e-10)
    loud = m.max(axis=1) > m.max() - 40
    m = m[loud] if loud.any() else m
    m = m - m.max()                      # level-invariant
    frame_e = m.max(axis=1)
    d = np.diff(m, axis=0) if len(m) > 1 else np.zeros((1, n_mels))
    extra = [np.std(frame_e), np.mean(np.abs(d)), np.log(len(x) / sr)]
    return np.concatenate([m.mean(axis=0), m.std(axis=0), extra]).astype(np.float32)


@dataclass(frozen=True)
class LabelFlag:
    index: int
    label: str
    predicted: str
    p_predicted: float
    p_label: float


def label_check(features: np.ndarray, labels: list[str], groups: list[str], *, folds: int = 5,
                min_class: int = 4, confident: float = 0.8, label_floor: float = 0.05,
                seed: int = 0) -> tuple[list[LabelFlag], float]:
    """Cross-validated label check. Returns (flags, held-out accuracy).

    Clips of classes with fewer than ``min_class`` clips are predicted but never
    flagged (too few others to learn from). Folds split by ``groups`` so no
    recording is judged by a model that heard it.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold
    from sklearn.preprocessing import StandardScaler

    X = np.asarray(features, np.float64)
    y = np.asarray(labels)
    classes, counts = np.unique(y, return_counts=True)
    if len(classes) < 2 or len(y) < 2 * folds:
        return [], float("nan")
    count = dict(zip(classes.tolist(), counts.tolist()))
    g = np.asarray(groups)
    k = min(folds, len(np.unique(g)))
    proba = np.zeros((len(y), len(classes)))
    for tr, te in GroupKFold(n_splits=k).split(X, y, g):
        sc = StandardScaler().fit(X[tr])
        clf = LogisticRegression(C=0.5, max_iter=2000)
        clf.fit(sc.transform(X[tr]), y[tr])
        cols = np.searchsorted(classes, clf.classes_)
        proba[np.ix_(te, cols)] = clf.predict_proba(sc.transform(X[te]))
    pred = classes[np.argmax(proba, axis=1)]
    acc = float(np.mean(pred == y))
    flags = []
    col = {c: i for i, c in enumerate(classes.tolist())}
    for i in range(len(y)):
        if count[y[i]] < min_class or pred[i] == y[i]:
            continue
        pp, pl = float(proba[i].max()), float(proba[i, col[y[i]]])
        if pp >= confident and pl <= label_floor:
            flags.append(LabelFlag(i, str(y[i]), str(pred[i]), round(pp, 3), round(pl, 3)))
    return flags, acc
