"""What an edit changed: where, in which band and by how much, as one short line.

    report = compare(input_audio, output_audio, sample_rate)
    report.text   # "2.1–5.3 s: −9 dB (0–2.5 kHz); elsewhere unchanged"

Both clips are cut into Hann frames every 10 ms (the power of two samples under 40 ms: 23 ms at
44.1 kHz); each frame's power is summed into
the bands of BAND_EDGES_HZ (up to the clip's Nyquist rate) over every channel, smoothed over
50 ms, and compared band by band in dB. Quiet cells cannot swing the figures: every energy
carries a floor of 60 dB under the loudest cell of the input (and −100 dBFS). A frame has
changed where some band moved by ``threshold_db`` (1 dB) or more; changed frames closer than
0.25 s form one segment, except that a segment is cut between its strong changes (a frame's
whole level moved by 3 dB and by 0.3 of the segment's largest move) lying more than 0.25 s apart:
small changes between two cuts never pool them, with the sound between, into one figure. Segments
under 0.1 s that moved no band by 3 dB are dropped. For each segment the change is
named in the contiguous bands that hold most of the energy it removed (and, when it also added
a comparable amount, most of what it added): the level of those bands after the edit against
before, over the segment's frames where they moved that way by 1 dB or more, in dB (added sound
as +dB), so loud sound the edit left alone within the segment does not dilute it; when the neighbouring bands moved the same
way by 3 dB or more, two bands or more beyond them, that wider range is named too ("−10 dB
(0–250 Hz; −9 dB across 0–5 kHz)"). No segment means nothing audible changed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BAND_EDGES_HZ = (0, 250, 500, 1000, 1500, 2000, 2500, 3000, 4000, 5000, 6000, 8000, 10000, 12000, 16000, 20000)
HOP_S = 0.01
WIN_S = 0.04
SMOOTH_FRAMES = 5
THRESHOLD_DB = 1.0
FLOOR_DB = 60.0
MERGE_GAP_S = 0.25
MIN_SEGMENT_S = 0.1
SHORT_DB = 3.0  # a segment shorter than MIN_SEGMENT_S counts only when some band moved this much
SECOND_SIGN = 0.3  # a segment's opposite change is named too when it moved this share of the energy
SPREAD = 0.2  # neighbouring bands join a change's range while they hold this share of its largest band
WIDE_DB = 3.0  # a change is also named across the neighbouring bands that moved this much the same way
WIDE_BANDS = 2  # when they are at least this many
STRONG_SHARE = 0.3  # a frame is among a stretch's strong ones when its level moved this share of the largest
MAX_SEGMENTS = 4  # named in the text (the largest); the rest are counted


@dataclass(frozen=True)
class BandChange:
    db: float  # level after the edit against before, in the bands [f_lo, f_hi) over the segment
    f_lo: float
    f_hi: float
    wide: tuple = ()  # (db, f_lo, f_hi) when the change of the same sign reaches well beyond them

    def text(self) -> str:
        more = f"; {_fmt_db(self.wide[0])} across {_fmt_band(*self.wide[1:])}" if self.wide else ""
        return f"{_fmt_db(self.db)} ({_fmt_band(self.f_lo, self.f_hi)}{more})"


@dataclass(frozen=True)
class ChangeSegment:
    start: float  # seconds
    end: float
    changes: tuple[BandChange, ...]  # the main change first
    energy: float = 0.0  # how much energy moved (orders the segments in the text)

    def text(self) -> str:
        d = 2 if self.end - self.start < 0.3 else 1  # a short change gets hundredths
        return f"{self.start:.{d}f}–{self.end:.{d}f} s: " + ", ".join(c.text() for c in self.changes)


@dataclass(frozen=True)
class ChangeReport:
    segments: tuple[ChangeSegment, ...]
    duration: float
    max_db: float  # the largest change of any band in any frame (after smoothing), in dB
    threshold_db: float = THRESHOLD_DB
    identical: bool = False  # the output is the input sample for sample

    @property
    def unchanged(self) -> bool:
        """Nothing audible changed: no band of any frame moved by threshold_db or more."""
        return not self.segments

    @property
    def detail(self) -> str:
        """Why nothing counts as a change, for a line that already says "No audible change"
        (empty when something changed): the output is the input, or no band of any moment moved by
        threshold_db, or (the largest move of one band at one moment given) none of the moves
        that did held over a stretch of the clip."""
        if self.identical:
            return "the output is identical to the input"
        if self.segments:
            return ""
        if self.max_db < self.threshold_db:
            return f"no band moved by {self.threshold_db:g} dB or more (largest {self.max_db:.1f} dB)"
        return (f"only brief or scattered changes, none of {self.threshold_db:g} dB over a stretch of the clip "
                f"(largest {self.max_db:.1f} dB, in one band for a moment)")

    @property
    def text(self) -> str:
        if self.identical:
            return self.detail
        if not self.segments:
            return f"no audible change: {self.detail}"
        shown = sorted(sorted(self.segments, key=lambda s: -s.energy)[:MAX_SEGMENTS], key=lambda s: s.start)
        parts = [s.text() for s in shown]
        more = len(self.segments) - len(shown)
        if more:
            parts.append(f"{more} smaller change{'s' if more > 1 else ''}")
        covered = sum(s.end - s.start for s in self.segments)
        if covered < self.duration - 2 * MERGE_GAP_S:
            parts.append("elsewhere unchanged")
        return "; ".join(parts)


def _fmt_db(db: float) -> str:
    v = round(db)
    if v == 0:
        v = 1 if db > 0 else -1
    return f"+{v} dB" if v > 0 else f"−{abs(v)} dB"


def _fmt_band(lo: float, hi: float) -> str:
    if hi <= 1000:
        return f"{lo:g}–{hi:g} Hz"
    return f"{lo / 1000:g}–{hi / 1000:g} kHz"


def _n_fft(sr: int) -> int:
    """The frame length: the power of two nearest under WIN_S (1,024 at 44.1 and 48 kHz)."""
    return 1 << int(np.floor(np.log2(max(16, WIN_S * sr))))


def _bands(sr: int) -> np.ndarray:
    nyq = sr / 2
    edges = [e for e in BAND_EDGES_HZ if e < nyq] + [nyq]
    return np.array(edges, dtype=np.float64)


def band_energies(audio: np.ndarray, sr: int, chunk: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """([bands, frames] power per band and frame summed over the channels, band edges in Hz)."""
    import scipy.fft as sfft

    x = np.asarray(audio, dtype=np.float32)
    if x.ndim == 1:
        x = x[:, None]
    if x.shape[1] > 8:  # many channels: their mix
        x = x.mean(axis=1, keepdims=True)
    hop = max(1, int(round(HOP_S * sr)))
    n_fft = _n_fft(sr)
    win = np.hanning(n_fft).astype(np.float32)
    edges = _bands(sr)
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    idx = np.clip(np.searchsorted(edges, freqs, side="right") - 1, 0, len(edges) - 2)
    n = x.shape[0]
    frames = n // hop + 1
    out = np.zeros((len(edges) - 1, frames), dtype=np.float64)
    first = np.searchsorted(idx, np.arange(len(edges) - 1))  # bins are sorted: each band's first bin
    keep = np.flatnonzero(np.diff(np.concatenate([first, [len(freqs)]])) > 0)  # bands holding bins
    for c in range(x.shape[1]):
        pad = np.pad(x[:, c], (n_fft // 2, n_fft // 2 + hop))
        view = np.lib.stride_tricks.sliding_window_view(pad, n_fft)[::hop][:frames]  # no copy
        for f0 in range(0, frames, chunk):
            f1 = min(frames, f0 + chunk)
            spec = sfft.rfft(view[f0:f1] * win, axis=1)
            p = np.square(spec.real) + np.square(spec.imag)  # [frames, bins]
            out[keep, f0:f1] += np.add.reduceat(p, first[keep], axis=1).T
    return out, edges


def _smooth(e: np.ndarray, k: int) -> np.ndarray:
    if k <= 1 or e.shape[1] < 2:
        return e
    c = np.cumsum(np.pad(e, ((0, 0), (k // 2 + 1, k // 2)), mode="edge"), axis=1)
    return (c[:, k:] - c[:, :-k]) / k


def _band_range(values: np.ndarray) -> tuple[int, int]:
    """The contiguous bands around the largest value holding at least SPREAD of it: [lo, hi)."""
    k = int(np.argmax(values))
    lo, hi = k, k + 1
    lim = SPREAD * values[k]
    while lo > 0 and values[lo - 1] >= lim:
        lo -= 1
    while hi < len(values) and values[hi] >= lim:
        hi += 1
    return lo, hi


def _wide(ei, eo, eps, lo, hi, sign, edges) -> tuple:
    """(db, f_lo, f_hi) of the contiguous bands around [lo, hi) that moved the same way by WIDE_DB
    or more, when they reach WIDE_BANDS or more bands beyond it (a broad cut or boost); else ()."""
    n = ei.shape[1]
    db = 10 * np.log10((eo.sum(axis=1) + eps * n) / (ei.sum(axis=1) + eps * n))
    ok = (np.sign(db) == sign) & (np.abs(db) >= WIDE_DB)
    a, b = lo, hi
    while a > 0 and ok[a - 1]:
        a -= 1
    while b < len(ok) and ok[b]:
        b += 1
    if (lo - a) + (b - hi) < WIDE_BANDS:
        return ()
    total = 10 * np.log10((eo[a:b].sum() + eps * n) / (ei[a:b].sum() + eps * n))
    return (float(total), float(edges[a]), float(edges[b]))


def compare(before: np.ndarray, after: np.ndarray, sample_rate: int, threshold_db: float = THRESHOLD_DB) -> ChangeReport:
    """The ChangeReport of an edit from ``before`` to ``after`` (same rate, channels and length)."""
    a = np.asarray(before, dtype=np.float32)
    b = np.asarray(after, dtype=np.float32)
    sr = int(sample_rate)
    duration = a.shape[0] / sr
    if a.shape == b.shape and np.array_equal(a, b):
        return ChangeReport((), duration, 0.0, threshold_db, identical=True)
    n = min(a.shape[0], b.shape[0])
    ei, edges = band_energies(a[:n], sr)
    eo, _ = band_energies(b[:n], sr)
    return _report(ei, eo, edges, sr, duration, threshold_db)


def compare_files(before, after, threshold_db: float = THRESHOLD_DB, chunk_s: float = 60.0) -> ChangeReport:
    """compare() of two audio files of the same rate, channels and length, read chunk by chunk
    (memory for one chunk and the band energies only: long files edited from disk)."""
    import soundfile as sf

    with sf.SoundFile(str(before)) as fa, sf.SoundFile(str(after)) as fb:
        sr = fa.samplerate
        hop = max(1, int(round(HOP_S * sr)))
        step = max(1, int(chunk_s * sr) // hop) * hop
        parts_i, parts_o, edges, identical = [], [], None, True
        while True:
            a = fa.read(step, dtype="float32", always_2d=True)
            if not len(a):
                break
            b = fb.read(len(a), dtype="float32", always_2d=True)
            identical = identical and a.shape == b.shape and np.array_equal(a, b)
            ei, edges = band_energies(a, sr)
            eo, _ = band_energies(b, sr)
            last = len(a) < step or fa.tell() >= fa.frames
            k = ei.shape[1] if last else ei.shape[1] - 1  # a chunk's last frame is the next one's first
            parts_i.append(ei[:, :k])
            parts_o.append(eo[:, :k])
        duration = fa.frames / sr
    if identical:
        return ChangeReport((), duration, 0.0, threshold_db, identical=True)
    return _report(np.concatenate(parts_i, axis=1), np.concatenate(parts_o, axis=1), edges, sr, duration,
                   threshold_db)


def _stretches(changed: np.ndarray, level: np.ndarray, gap: int) -> list[tuple[int, int]]:
    """The changed frames' runs joined across gaps of at most ``gap`` frames; a joined stretch
    whose strong frames (the whole frame's ``level`` moved by SHORT_DB or more and by STRONG_SHARE
    of the stretch's largest move) lie more than ``gap`` frames apart is cut between them, so
    smaller changes between two cuts never pool them, with the sound between, into one diluted
    figure (a deeper edit would otherwise read as a smaller one). Each strong group keeps the
    changed frames that touch it, unless they reach the next group; the changes left between
    groups stand alone."""
    from .runs import merge_runs, runs

    out = []
    for s, e in merge_runs(runs(changed), gap):
        moved = np.abs(level[s:e])
        strong = moved >= max(SHORT_DB, STRONG_SHARE * float(moved.max(initial=0.0)))
        groups = merge_runs([(a + s, b + s) for a, b in runs(strong)], gap)
        if len(groups) <= 1:
            out.append((s, e))
            continue
        # changed frames that reach from one group to the next join neither: they stand alone
        joined = [bool(changed[b:a].all()) for (_, b), (a, _) in zip(groups, groups[1:])]
        pieces = []
        for i, (a, b) in enumerate(groups):  # each strong group grown through the changed frames touching it
            if i == 0 or not joined[i - 1]:
                while a > s and changed[a - 1]:
                    a -= 1
            if i == len(joined) or not joined[i]:
                while b < e and changed[b]:
                    b += 1
            pieces.append([a, b])
        pieces[0][0], pieces[-1][1] = s, e  # the small changes before the first and after the last join them
        for (a0, b0), (a1, _) in zip(pieces, pieces[1:]):
            out.append((a0, b0))
            out.extend((x + b0, y + b0) for x, y in merge_runs(runs(changed[b0:a1]), gap))
        out.append(tuple(pieces[-1]))
    return out


def _report(ei, eo, edges, sr, duration, threshold_db) -> ChangeReport:
    ei, eo = _smooth(ei, SMOOTH_FRAMES), _smooth(eo, SMOOTH_FRAMES)
    n_fft = _n_fft(sr)
    full_scale = (np.hanning(n_fft).sum() / 2) ** 2  # a full-scale sine's power in one frame
    eps = max(float(ei.max(initial=0.0)) * 10 ** (-FLOOR_DB / 10), full_scale * 1e-10)
    d = 10 * np.log10((eo + eps) / (ei + eps))
    max_db = float(np.abs(d).max(initial=0.0))
    changed = (np.abs(d) >= threshold_db).any(axis=0)
    level = 10 * np.log10((eo.sum(axis=0) + eps) / (ei.sum(axis=0) + eps))  # each frame's whole level
    segments = []
    for s, e in _stretches(changed, level, int(round(MERGE_GAP_S / HOP_S))):
        if (e - s) * HOP_S < MIN_SEGMENT_S and np.abs(d[:, s:e]).max() < SHORT_DB:
            continue  # a brief small flicker
        delta = (eo[:, s:e] - ei[:, s:e]).sum(axis=1)
        removed, added = np.maximum(-delta, 0), np.maximum(delta, 0)
        order = [removed, added] if removed.sum() >= added.sum() else [added, removed]
        top = order[0].sum()
        changes = []
        for vals in order:
            if vals.sum() <= 0 or vals.sum() < SECOND_SIGN * top:
                continue
            lo, hi = _band_range(vals)
            a, b = ei[lo:hi, s:e].sum(axis=0), eo[lo:hi, s:e].sum(axis=0)
            sign = 1 if vals is added else -1
            moved = sign * 10 * np.log10((b + eps) / (a + eps)) >= threshold_db  # frames these bands moved this way
            keep = np.flatnonzero(moved) + s if moved.any() else np.arange(s, e)
            db = 10 * np.log10((eo[lo:hi, keep].sum() + eps) / (ei[lo:hi, keep].sum() + eps))
            if abs(db) >= threshold_db:
                changes.append(BandChange(float(db), float(edges[lo]), float(edges[hi]),
                                          _wide(ei[:, keep], eo[:, keep], eps, lo, hi, np.sign(db), edges)))
        if not changes:
            continue
        t0 = s * HOP_S
        t1 = min(duration, (e - 1) * HOP_S)
        segments.append(ChangeSegment(round(t0, 2), round(max(t1, t0 + HOP_S), 2), tuple(changes),
                                      float(np.abs(delta).sum())))
    return ChangeReport(tuple(segments), duration, max_db, threshold_db)


ADD_WORDS = ("add", "insert", "put", "place", "replace", "overlay", "mix in")


def mark_hint(cli: bool) -> str:
    """How to mark where a sound plays: the CLI's option or the app's gesture."""
    return "--example START:END" if cli else "Shift-drag over it"


def advice(instruction: str, *, region: bool, strength: float | None, cli: bool, library: bool = False,
           engine: str | None = None, templates: str | None = None) -> str:
    """What to try after an edit that changed nothing audible (one sentence). ``engine``: the
    removal engine that ran, ``templates``: where the dictionary engine's came from ("examples",
    "library"): a self-prompted removal, or a dictionary removal with the library's templates, is
    told to mark an example first."""
    tips = []
    mark = f"({mark_hint(cli)})"
    if engine == "self-prompt":  # the model found nothing to learn from: the user can show it
        tips.append(f"marking where the sound plays {mark}")
    elif engine == "dictionary" and templates == "library":  # other recordings of it: show this clip's
        tips.append(f"marking where the sound plays {mark}, for templates of this recording instead of "
                    f"the library's")
    if not region:
        tips.append("selecting where it should happen (--region START:END)" if cli else
                    "selecting where it should happen (drag over the waveform)")
    if strength is None or strength < 3:
        nxt = 2 if strength is None or strength < 2 else 3
        tips.append(f"a higher strength (--strength {nxt})" if cli else f"a higher Strength ({nxt})")
    tips.append("rephrasing the instruction to name the sound as it is heard")
    if instruction.strip().lower().startswith(ADD_WORDS):
        if cli:
            tips.append("a reference sound from the library (--library NAME or --reference FILE)" if library else
                        "a reference recording of the sound to add")
        else:
            tips.append("a reference sound from the library")
    return "Try " + ", ".join(tips[:-1]) + (" or " if len(tips) > 1 else "") + tips[-1] + "."
