"""Rebuild resources/examples/*.wav from a built event bank (data/bank by default).

    python packaging/make_examples.py [BANK_DIR]

Each scene mixes a few bank clips whose licences are compatible (CC0, CC-BY-3.0,
CC-BY-SA-3.0, MIT) at fixed onsets and levels; the result is 16 kHz mono 16-bit
WAV. Sources and licences are listed in resources/examples/ATTRIBUTION.md.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from rfm_studio.core.data import mixing as M  # noqa: E402

SR = 16000
# name: (seconds, bed (id, level dBFS) or None, [(id, onset s, level dBFS)])
SCENES = {
    "dog_bark_in_rain": (8.0, ("megaglest_sounds_rain", -27),
                         [("scratch_animal_dog1", 1.4, -15), ("scratch_animal_dog2", 4.7, -15)]),
    "birds_and_car_passing": (8.0, None,
                              [("openttd_72_tropical_bird_2", 0.3, -24), ("scratch_effects_carpassing", 0.2, -21),
                               ("openttd_66_tropical_bird_1", 5.3, -24)]),
    "sheep_and_cow_in_wind": (8.0, ("openttd_52_wind", -30),
                              [("openttd_36_sheep", 0.8, -18), ("openttd_37_cow", 4.2, -17)]),
    "speech_and_phone_ringing": (8.0, None,
                                 [("asterisk_en_us_f_allison_dir_welcome", 0.4, -19),
                                  ("gm_telephone_ring_p124_n1", 2.6, -24),
                                  ("asterisk_en_us_f_allison_queue_holdtime", 5.0, -19)]),
    "campfire_with_crickets": (10.0, ("minetest_sounds_fire_large", -23),
                               [("scratch_animal_crickets", 2.5, -27)]),
    "ship_horn_by_the_sea": (8.0, ("gm_ocean_waves_p122_n0", -25), [("openttd_06_ship_horn", 2.5, -17)]),
}


def load_bank(bank=ROOT / "data" / "bank") -> dict:
    bank = Path(bank)
    return {json.loads(l)["id"]: dict(json.loads(l), _path=str(bank / json.loads(l)["path"]))
            for l in (bank / "bank.jsonl").read_text().splitlines()}


def scene_stems(name: str, clips: dict, rng) -> tuple[list[tuple[str, np.ndarray]], float]:
    """The scene's sources as placed, levelled and faded stems [(clip id, samples)], and the
    gain applied to their sum. ``rng`` must be shared by the scenes in SCENES order (beds are
    looped with it), as ``main`` does."""
    secs, bed, events = SCENES[name]
    n = int(secs * SR)
    fade = int(0.05 * SR)
    env = np.ones(n, np.float32)
    env[:fade] = np.linspace(0, 1, fade)
    env[-fade:] = np.linspace(1, 0, fade)
    stems = []
    if bed:
        x, _ = sf.read(clips[bed[0]]["_path"], dtype="float32")
        x = M.loop_to(x, n, rng)
        stems.append((bed[0], (x * 10 ** ((bed[1] - M.active_level_db(x)) / 20) * env).astype(np.float32)))
    for cid, onset, lvl in events:
        x, _ = sf.read(clips[cid]["_path"], dtype="float32")
        e = M.place(x, n, int(onset * SR))
        stems.append((cid, (e * 10 ** ((lvl - M.active_level_db(e)) / 20) * env).astype(np.float32)))
    y = np.sum([s for _, s in stems], axis=0)
    return stems, min(1.0, 0.9 / float(np.abs(y).max()))


def all_scenes(bank=ROOT / "data" / "bank") -> dict:
    """{name: (stems, gain)} for every scene, built in order with one rng (as ``main``)."""
    clips = load_bank(bank)
    rng = np.random.default_rng(0)
    return {name: scene_stems(name, clips, rng) for name in SCENES}


def main(bank=ROOT / "data" / "bank", out=ROOT / "resources" / "examples") -> None:
    for name, (stems, gain) in all_scenes(bank).items():
        y = np.sum([s for _, s in stems], axis=0) * gain
        sf.write(str(Path(out) / f"{name}.wav"), y, SR, subtype="PCM_16")
        print(name, [c for c, _ in stems])


if __name__ == "__main__":
    main(*sys.argv[1:2])
