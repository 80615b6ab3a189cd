"""A fixed set where the removed sound plays twice, from two different recordings.

Each remove row of a fixed set (``rfm-studio data fixed-set``) gets another recording of its
removed class from the same bank's validation split, added where the row's own event does not
play (the larger free stretch, at least MIN_GAP_S), at the first event's active level within
+-LEVEL_SPREAD_DB; the target stays the clip without either, and ``edit_spans`` holds both. A
removal that takes out only the recording it found (or was shown) reaches about half of the gain
here: "remove every occurrence, not only the marked one".

    python benchmarks/occurrence_set.py --manifest data/fixed_val3/manifest.jsonl \\
        --bank data/bank2 --out data/occurrence_val3

Rows whose class has no other validation recording, or whose clip has no free stretch, are
left out (the count is printed). The output is a manifest like the input's, for
``dictionary_removal.py`` and ``edit_quality.py``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SR = 16000
MIN_GAP_S = 0.8  # the shortest free stretch the second recording is put in
MARGIN_S = 0.3  # kept free around the first event's span
LEVEL_SPREAD_DB = 3.0
FADE_S = 0.02


def active_rms(x: np.ndarray, floor_db: float = 30.0) -> float:
    """RMS over the 20 ms frames within ``floor_db`` of the loudest one (the sound, not its silence)."""
    n = len(x) // 320
    if n == 0:
        return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0
    e = np.square(x[: n * 320].astype(np.float64)).reshape(n, 320).mean(1)
    on = e >= e.max() * 10 ** (-floor_db / 10)
    return float(np.sqrt(e[on].mean())) if e.max() > 0 else 0.0


def free_stretch(length_s: float, spans) -> tuple[float, float] | None:
    """The longest stretch of the clip at least MARGIN_S away from every span, if MIN_GAP_S long."""
    busy = sorted((max(0.0, a - MARGIN_S), min(length_s, b + MARGIN_S)) for a, b in spans)
    gaps, t = [], 0.0
    for a, b in busy:
        if a > t:
            gaps.append((t, a))
        t = max(t, b)
    if t < length_s:
        gaps.append((t, length_s))
    best = max(gaps, key=lambda g: g[1] - g[0], default=None)
    return best if best is not None and best[1] - best[0] >= MIN_GAP_S else None


def second_recording(row: dict, bank_rows: list[dict], bank: Path, rng):
    """(16 kHz mono samples, bank row) of another validation recording of the removed class, or None."""
    from rfm_studio.core.audio.io import load_audio

    first = row["meta"][row["meta"]["type"].split("_")[1]]
    pool = [b for b in bank_rows if b["class"] == first["class"] and b.get("split") == "val"
            and b["path"] != first["file"]]
    if not pool:
        return None
    b = pool[int(rng.integers(len(pool)))]
    x, _ = load_audio(bank / b["path"], mono=True, target_sr=SR)
    return x.astype(np.float64), b


def build_row(row: dict, src: Path, out: Path, bank_rows, bank: Path):
    import soundfile as sf

    from rfm_studio.core.audio.io import load_audio

    rng = np.random.default_rng(int(hashlib.sha1(row["id"].encode()).hexdigest()[:8], 16))
    x, _ = load_audio(src / row["input"], mono=True, target_sr=SR)
    y, _ = load_audio(src / row["target"], mono=True, target_sr=SR)
    x, y = x.astype(np.float64), y.astype(np.float64)
    spans = row.get("edit_spans") or [[row["edit_start_s"], row["edit_end_s"]]]
    gap = free_stretch(len(x) / SR, spans)
    got = second_recording(row, bank_rows, bank, rng) if gap is not None else None
    if got is None:
        return None
    ev, brow = got
    room = int((gap[1] - gap[0]) * SR) - int(0.1 * SR)
    if len(ev) > room:  # its loudest stretch that fits
        hop = SR // 50
        e = np.convolve(np.square(ev), np.ones(hop), mode="valid")[::hop]
        win = max(1, room // hop)
        start = int(np.argmax(np.convolve(e, np.ones(win), mode="valid"))) * hop if len(e) > win else 0
        ev = ev[start: start + room]
    fade = min(int(FADE_S * SR), len(ev) // 2)
    if fade:
        ramp = np.linspace(0.0, 1.0, fade)
        ev[:fade] *= ramp
        ev[-fade:] *= ramp[::-1]
    r1, r2 = active_rms(x - y), active_rms(ev)
    if r1 <= 0 or r2 <= 0:
        return None
    gain_db = float(rng.uniform(-LEVEL_SPREAD_DB, LEVEL_SPREAD_DB))
    ev = ev * (r1 / r2) * 10 ** (gain_db / 20)
    onset = int(gap[0] * SR) + int(rng.integers(0, max(1, room - len(ev) + 1)))
    x2 = x.copy()
    x2[onset: onset + len(ev)] += ev[: len(x2) - onset]
    peak = float(np.abs(x2).max())
    scale = 0.99 / peak if peak > 0.99 else 1.0
    (out / "audio").mkdir(parents=True, exist_ok=True)
    sf.write(out / "audio" / f"{row['id']}_input.wav", (x2 * scale).astype(np.float32), SR, subtype="FLOAT")
    sf.write(out / "audio" / f"{row['id']}_target.wav", (y * scale).astype(np.float32), SR, subtype="FLOAT")
    s2 = [round(onset / SR, 3), round((onset + len(ev)) / SR, 3)]
    new = dict(row, input=f"audio/{row['id']}_input.wav", target=f"audio/{row['id']}_target.wav",
               edit_spans=sorted([list(map(float, s)) for s in spans] + [s2]))
    new["edit_start_s"], new["edit_end_s"] = new["edit_spans"][0][0], max(b for _, b in new["edit_spans"])
    new["second"] = {"file": brow["path"], "onset_s": s2[0], "duration_s": round(len(ev) / SR, 3),
                     "gain_db": round(gain_db, 2)}
    return new


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--manifest", required=True, help="a fixed set's manifest.jsonl (its remove rows are used)")
    ap.add_argument("--bank", required=True, help="the event bank the set was built from")
    ap.add_argument("--out", required=True, help="folder for the new set (manifest.jsonl, audio/)")
    args = ap.parse_args(argv)
    src, bank, out = Path(args.manifest).parent, Path(args.bank), Path(args.out)
    rows = [json.loads(line) for line in Path(args.manifest).read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [r for r in rows if r.get("task") == "remove" and isinstance(r.get("meta"), dict)]
    bank_rows = [json.loads(line) for line in (bank / "bank.jsonl").read_text(encoding="utf-8").splitlines()
                 if line.strip()]
    made = [m for m in (build_row(r, src, out, bank_rows, bank) for r in rows) if m is not None]
    out.mkdir(parents=True, exist_ok=True)
    (out / "manifest.jsonl").write_text("".join(json.dumps(m) + "\n" for m in made), encoding="utf-8")
    print(f"{len(made)} of {len(rows)} remove rows with a second recording of the removed sound -> {out}")


if __name__ == "__main__":
    main()
