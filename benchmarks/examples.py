"""The README's kind of edit, on the shipped example clips, with the true answer known.

The examples are mixes of bank clips (packaging/make_examples.py), so each "Remove ..." has
an exact target: the same mix without that source. For every (clip, instruction) this prints
the edit_quality figures (gain and keep error on 64-band log-mels, over the frames where the
removed source is active / the other frames) and the level change in dB (mel power) over the source's
frames: of the edit, and of the exact target for comparison.

    python benchmarks/examples.py [--model DIR ...] [--draws N] [--mask-threshold T] [--bank data/bank]
                                  [--engine auto|model|dictionary|self-prompt|remover] [--remover DIR]
                                  [--example]

``--example`` also marks one occurrence of the removed sound, as a user would: its longest
stretch where it is within 20 dB of its peak (at most 3 s). "others dB" is the level change
over the frames where only the other sounds play (the issue's bar: within ±1.5 dB); "left dB"
is what remains of the removed sound over its frames, the output minus the exact target
against the sound itself (the issue's bar: 15 dB down).

Needs the event bank (``rfm-studio data bank --out data/bank``) to rebuild the stems; the
rebuilt mix is checked against the shipped WAV first, and a scene whose clips are missing from
the bank or whose rebuilt mix differs is skipped (with a line saying so).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "packaging"))

# (scene, instruction, clip ids removed)
CASES = [
    ("birds_and_car_passing", "Remove the car passing", ["scratch_effects_carpassing"]),
    ("birds_and_car_passing", "Remove the birds chirping", ["openttd_72_tropical_bird_2", "openttd_66_tropical_bird_1"]),
    ("dog_bark_in_rain", "Remove the dog barking", ["scratch_animal_dog1", "scratch_animal_dog2"]),
    ("campfire_with_crickets", "Remove the crickets", ["scratch_animal_crickets"]),
    ("sheep_and_cow_in_wind", "Remove the sheep bleating", ["openttd_36_sheep"]),
    ("sheep_and_cow_in_wind", "Remove the cow mooing", ["openttd_37_cow"]),
    ("speech_and_phone_ringing", "Remove the phone ringing", ["gm_telephone_ring_p124_n1"]),
    ("ship_horn_by_the_sea", "Remove the ship horn", ["openttd_06_ship_horn"]),
]


def active_frames(stem: np.ndarray, n_frames: int, hop: int = 160, floor_db: float = -40.0) -> np.ndarray:
    """Frames where the stem's short-time level is within ``floor_db`` of its peak."""
    pad = np.pad(stem, (0, max(0, n_frames * hop - len(stem))))[: n_frames * hop]
    e = (pad.reshape(n_frames, hop) ** 2).mean(1)
    db = 10 * np.log10(e + 1e-12)
    return db > db.max() + floor_db


def marked_span(stem: np.ndarray, sr: int = 16000, hop: int = 160, floor_db: float = -20.0, most_s: float = 3.0):
    """(start, end) seconds: the stem's longest stretch within ``floor_db`` of its peak, at most ``most_s``."""
    n = len(stem) // hop
    on = active_frames(stem, n, hop, floor_db)
    best, run, start = (0, 0), 0, 0
    for i, v in enumerate(np.append(on, False)):
        if v and run == 0:
            start = i
        run = run + 1 if v else 0
        if not v and i > 0 and on[i - 1] and i - start > best[1] - best[0]:
            best = (start, i)
    a, b = best[0] * hop / sr, min(best[1], best[0] + int(most_s * sr / hop)) * hop / sr
    return a, max(b, a + 0.1)


def left_db(out: np.ndarray, target: np.ndarray, event: np.ndarray, frames: np.ndarray, hop: int = 160) -> float:
    """What remains of the removed sound over its frames: (output - exact target) against the sound, in dB."""
    sel = np.repeat(frames, hop)[: len(event)]
    sel = np.pad(sel, (0, len(event) - len(sel)))
    d = (out[: len(event)] - target)[sel]
    return float(10 * np.log10((d.astype(np.float64) ** 2).sum() / max((event[sel].astype(np.float64) ** 2).sum(), 1e-20)))


def level_db(mel_a: np.ndarray, mel_b: np.ndarray, frames: np.ndarray) -> float:
    """Level change in dB from a to b over ``frames``. The log-mels are of the magnitude
    spectrum (features/mel.py: power 1), so the power of a band is exp(2 * mel)."""
    pa = np.exp(2 * mel_a[:, frames].astype(np.float64)).sum()
    pb = np.exp(2 * mel_b[:, frames].astype(np.float64)).sum()
    return float(10 * np.log10(pb / pa))


def scenes_from_bank(bank) -> dict:
    """{scene: (stems, gain)} rebuilt from the event bank as make_examples builds them (a scene
    whose clip the bank lacks is skipped, and said so); exits with one sentence without a bank."""
    import make_examples

    if not (Path(bank) / "bank.jsonl").exists():
        sys.exit(f"No event bank at {bank}: build it with 'rfm-studio data bank --out {bank}'.")
    clips = make_examples.load_bank(bank)
    rng = np.random.default_rng(0)  # shared by the scenes in order, as make_examples builds them
    scenes = {}
    for name in make_examples.SCENES:
        try:
            scenes[name] = make_examples.scene_stems(name, clips, rng)
        except KeyError as e:
            print(f"skipped {name}: clip {e} is not in {bank}")
    return scenes


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", action="append", default=None)
    ap.add_argument("--draws", type=int, default=None)
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--mask-threshold", type=float, default=None)
    ap.add_argument("--bank", default=str(ROOT / "data" / "bank"))
    ap.add_argument("--engine", default=None, choices=["auto", "model", "dictionary", "self-prompt", "remover"])
    ap.add_argument("--remover", default=None, help="sound-remover folder for --engine remover (default: the installed one)")
    ap.add_argument("--example", action="store_true", help="mark one occurrence of the removed sound")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import soundfile as sf

    from rfm_studio.core.editing import edit
    from rfm_studio.core.evaluation.spectral import edit_figures, event_frames, log_mel
    from rfm_studio.core.model.loaders import load_editor
    from rfm_studio.core.paths import examples_dir, resolve_model
    from rfm_studio.core.prompts import example_from_clip

    if args.remover:  # --engine remover hears this folder's remover instead of the installed one
        from rfm_studio.core.detection import remover as remover_module

        remover_module.shipped_remover_dir = lambda: Path(args.remover).resolve()
    scenes = scenes_from_bank(args.bank)
    cases = []
    for scene, instruction, removed in CASES:
        if scene not in scenes:
            continue
        stems, gain = scenes[scene]
        mix = np.sum([s for _, s in stems], axis=0) * gain
        shipped, sr = sf.read(str(examples_dir() / f"{scene}.wav"), dtype="float32")
        err = float(np.abs(shipped - mix).max()) if sr == 16000 and shipped.shape == mix.shape else np.inf
        if err > 4.0 / 32768:  # a few 16-bit steps: the same mix
            print(f"skipped {scene} / {instruction}: the rebuilt mix differs from the shipped clip (max {err:.2e})")
            continue
        target = np.sum([s for cid, s in stems if cid not in removed], axis=0) * gain
        event = np.sum([s for cid, s in stems if cid in removed], axis=0) * gain
        mi, mt = log_mel(shipped), log_mel(target)
        frames = active_frames(event, mi.shape[-1]) | event_frames(mi, mt)  # as edit_quality.py counts them
        others = active_frames(target, mi.shape[-1]) & ~frames
        cases.append((scene, instruction, shipped, mi, mt, frames, others, marked_span(event), target, event))

    for folder in args.model or [None]:
        path = resolve_model(folder)
        model = load_editor(path, device="cpu")
        if args.mask_threshold is not None:
            model.info["mask_threshold"] = args.mask_threshold
        print(f"\n== model {path} ==")
        print(f"{'clip':26s} {'instruction':28s} {'gain':>6s} {'keep':>6s} {'edit dB':>8s} {'target dB':>9s} "
              f"{'others dB':>9s} {'left dB':>8s}" + ("  example" if args.example else ""))
        gains = []
        for scene, instruction, x, mi, mt, frames, others, span, target, event in cases:
            prompts = (example_from_clip(x, 16000, *span),) if args.example else ()
            e = edit(model, x, 16000, instruction, steps=args.steps, draws=args.draws, seed=0, prompts=prompts,
                     engine=args.engine)
            mo = log_mel(e.audio)
            fig = edit_figures(mi, mt, mo, frames)
            gains.append(fig["gain"])
            f3 = lambda v: "     -" if v is None else f"{v:6.3f}"
            print(f"{scene:26s} {instruction:28s} {f3(fig['gain'])} {f3(fig['keep_error'])} "
                  f"{level_db(mi, mo, frames):8.2f} {level_db(mi, mt, frames):9.2f} "
                  f"{level_db(mi, mo, others) if others.any() else float('nan'):9.2f} "
                  f"{left_db(e.audio, target, event, frames):8.2f}"
                  + (f"  {span[0]:.2f}-{span[1]:.2f} s" if args.example else ""))
        p = e.params
        how = (f"engine {p.get('engine', 'model')}, " + (f"steps {p['steps']}, draws {p['draws']}, " if "steps" in p else "")
               + f"render {p['render']}, mask threshold {model.info.get('mask_threshold')}")
        print(f"settings: {how}; mean gain {np.mean(gains):.3f}")


if __name__ == "__main__":
    main()
