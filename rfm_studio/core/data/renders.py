"""Synthetic sources that fill thin bank classes.

- General MIDI renders with fluidsynth + fluid-soundfont-gm: programs 120-127 are
  sound effects (bird tweet, telephone, helicopter, applause, gunshot, seashore),
  melodic programs and the drum kit give instrument classes.
- espeak-ng sentences in several English voices and variants for ``speech``.
- Each render is its own source file for the train/val split.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import OptionError

SOUNDFONT_CANDIDATES = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/default-GM.sf2")
GM_LICENCE = ("fluid-soundfont-gm", "MIT", "usr/share/doc/fluid-soundfont-gm/copyright")
ESPEAK_LICENCE = ("espeak-ng-data", "GPL-3+", "usr/share/doc/espeak-ng-data/copyright")

# class -> GM programs (0-based). Melodic instruments.
MELODIC = {
    "piano": (0, 1, 2),
    "electric_piano": (4, 5),
    "harpsichord": (6,),
    "glockenspiel_celesta": (8, 9),
    "music_box": (10,),
    "vibraphone": (11,),
    "xylophone_marimba": (12, 13),
    "tubular_bells": (14,),
    "organ": (19, 16, 20),
    "accordion": (21, 23),
    "harmonica": (22,),
    "guitar": (24, 25),
    "electric_guitar": (26, 27, 29, 30),
    "bass_guitar": (32, 33, 34),
    "violin_cello": (40, 42, 41),
    "harp": (46,),
    "string_ensemble": (48, 49),
    "pizzicato_strings": (45,),
    "timpani": (47,),
    "choir": (52, 53),
    "trumpet_brass": (56, 57, 61),
    "tuba": (58,),
    "french_horn": (60,),
    "saxophone": (64, 65, 66),
    "clarinet_oboe": (71, 68, 70),
    "flute_woodwind": (73, 72),
    "recorder": (74,),
    "pan_flute": (75,),
    "whistling": (78,),
    "ocarina": (79,),
    "sitar": (104,),
    "banjo": (105,),
    "koto": (107,),
    "kalimba": (108,),
    "bagpipes": (109,),
    "steel_drums": (114,),
    "taiko_drum": (116,),
}
CHORDED = ("piano", "organ", "guitar", "electric_piano", "accordion", "harpsichord", "string_ensemble", "choir")
BASS_CLASSES = ("bass_guitar", "tuba", "timpani", "taiko_drum")
# class -> GM drum-kit notes played as a short run of hits (channel 10, several kits)
DRUM_PIECES = {
    "kick_drum": (35, 36),
    "snare_drum": (38, 40),
    "hihat": (42, 44, 46),
    "cymbal": (49, 57, 51, 55),
    "tom_drum": (41, 43, 45, 47, 48, 50),
    "hand_clap": (39,),
    "cowbell": (56,),
    "tambourine": (54,),
    "shaker": (69, 70, 82),
    "bongo_conga": (60, 61, 62, 63, 64),
    "woodblock": (76, 77),
    "triangle": (80, 81),
}
DRUM_KITS = (0, 8, 16, 24, 25, 32, 40)
# class -> (program, pitches, note seconds, repeats) for GM sound-effect programs
SFX = {
    "bird_chirp": (123, (72, 79, 84, 76), 0.35, 5),
    "telephone_ring": (124, (60, 64, 67, 72), 2.2, 1),
    "helicopter": (125, (48, 55, 60, 43), 3.5, 1),
    "applause": (126, (60, 64, 55, 67), 3.5, 1),
    "gunshot": (127, (60, 48, 55, 64), 0.5, 3),
    "ocean_waves": (122, (60, 52, 67, 57), 5.0, 1),
}
RENDERS_PER_CLASS = 12
SPEECH_SENTENCES = (
    "Please close the door when you leave the room.",
    "The next train to the city centre departs in five minutes.",
    "I think it is going to rain again this afternoon.",
    "Can you hear me? I am calling from the office.",
    "Welcome everyone, and thank you for coming tonight.",
    "Turn left at the end of the street and keep walking.",
    "We should plant some tomatoes in the garden this spring.",
    "The meeting has been moved to Thursday morning.",
    "Hello, this is a reminder about your appointment tomorrow.",
    "She read the whole book in a single evening.",
    "Let me know if you need any help with the boxes.",
    "The weather forecast says it will be sunny and warm.",
    "Attention please, the store will close in ten minutes.",
    "My grandfather used to tell us stories about the sea.",
)
ESPEAK_VOICES = ("en-us", "en-gb", "en-gb-scotland", "en-029", "en-us-nyc", "en-gb-x-rp", "en-gb-x-gbcwmd")
ESPEAK_VARIANTS = ("", "+f2", "+f4", "+m3", "+m7", "+f3")


@dataclass
class Rendered:
    cls: str
    name: str          # unique stem, e.g. gm_piano_p000_m1
    wav: Path
    package: str
    licence: str
    copyright: str
    source_path: str   # what was rendered (program, text...)


def soundfont() -> str | None:
    for p in SOUNDFONT_CANDIDATES:
        if Path(p).exists():
            return p
    return None


# ----------------------------------------------------------------- MIDI writing
def _vlq(n: int) -> bytes:
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    return bytes(reversed(out))


def midi_bytes(notes, *, program: int, channel: int = 0, tail_s: float = 1.0, tpq: int = 480) -> bytes:
    """Format-0 MIDI at 120 bpm. ``notes``: (start_s, dur_s, pitch, velocity)."""
    tick = lambda s: int(round(s * tpq * 2))  # 120 bpm: 1 s = 2 quarters
    ev = []
    for start, dur, pitch, vel in notes:
        ev.append((tick(start), 1, bytes([0x90 | channel, pitch, vel])))
        ev.append((tick(start + dur), 0, bytes([0x80 | channel, pitch, 0])))
    ev.sort(key=lambda e: (e[0], e[1]))
    end = max(e[0] for e in ev) + tick(tail_s)
    body = _vlq(0) + bytes([0xC0 | channel, program & 0x7F])
    t = 0
    for at, _, msg in ev:
        body += _vlq(at - t) + msg
        t = at
    body += _vlq(end - t) + b"\xff\x2f\x00"
    return b"MThd" + struct.pack(">IHHH", 6, 0, 1, tpq) + b"MTrk" + struct.pack(">I", len(body)) + body


def melody(rng: np.random.Generator, *, chords: bool, low: bool = False) -> list:
    root = int(rng.choice([48, 53, 55, 57, 60, 62, 64])) - (24 if low else 0)
    scale = [0, 2, 4, 5, 7, 9, 11, 12, 14]
    notes, t = [], 0.0
    total = float(rng.uniform(2.0, 4.0))
    while t < total:
        d = float(rng.choice([0.25, 0.375, 0.5, 0.75]))
        deg = int(rng.integers(0, len(scale) - 2))
        vel = int(rng.integers(70, 115))
        pitches = [root + scale[deg]]
        if chords and rng.random() < 0.5:
            pitches += [root + scale[deg + 2], root + scale[min(deg + 4, len(scale) - 1)]]
        for p in pitches:
            notes.append((t, d * 0.95, p, vel))
        t += d
    return notes


def drum_pattern(rng: np.random.Generator) -> list:
    kick, snare, hat, tom, crash = 36, 38, 42, 45, 49
    step, notes = float(rng.choice([0.125, 0.15, 0.1875])), []
    for i in range(int(rng.integers(16, 28))):
        t = i * step
        if i % 4 == 0:
            notes.append((t, 0.1, kick, 110))
        if i % 8 == 4:
            notes.append((t, 0.1, snare, 105))
        if rng.random() < 0.7:
            notes.append((t, 0.05, hat, int(rng.integers(60, 95))))
        if rng.random() < 0.08:
            notes.append((t, 0.1, tom, 100))
    notes.append((0.0, 0.5, crash, 100))
    return notes


def drum_run(rng: np.random.Generator, notes: tuple) -> list:
    """A short run of hits of one drum piece (2-8 hits, a little timing and velocity variation)."""
    step = float(rng.choice([0.15, 0.2, 0.25, 0.3, 0.4]))
    out, t = [], 0.0
    for _ in range(int(rng.integers(2, 9))):
        out.append((t, 0.1, int(rng.choice(notes)), int(rng.integers(70, 127))))
        t += step * float(rng.uniform(0.9, 1.1)) * float(rng.choice([1, 1, 2]))
    return out


def render_midi(mid: bytes, out_wav: Path, sf2: str, sr: int = 16000) -> Path:
    mid_path = out_wav.with_suffix(".mid")
    mid_path.write_bytes(mid)
    cmd = ["fluidsynth", "-ni", "-q", "-C", "0", "-g", "0.7", "-r", str(sr), "-F", str(out_wav), sf2, str(mid_path)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
    mid_path.unlink()
    return out_wav


def gm_renders(work: Path, seed: int = 0) -> list[Rendered]:
    sf2 = soundfont()
    if sf2 is None or shutil.which("fluidsynth") is None:
        raise OptionError("General MIDI renders need fluidsynth and fluid-soundfont-gm (apt-get install fluidsynth fluid-soundfont-gm).")
    work.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    jobs = []
    for cls, programs in MELODIC.items():
        for k in range(RENDERS_PER_CLASS):
            prog = programs[k % len(programs)]
            notes = melody(rng, chords=cls in CHORDED, low=cls in BASS_CLASSES)
            jobs.append((cls, f"gm_{cls}_p{prog:03d}_m{k}", midi_bytes(notes, program=prog), f"GM program {prog}, melody {k}"))
    for k in range(8):
        jobs.append(("drums", f"gm_drums_kit_p{k}", midi_bytes(drum_pattern(rng), program=DRUM_KITS[k % len(DRUM_KITS)], channel=9),
                     f"GM drum kit {DRUM_KITS[k % len(DRUM_KITS)]}, pattern {k}"))
    for cls, notes in DRUM_PIECES.items():
        for k in range(RENDERS_PER_CLASS):
            kit = DRUM_KITS[k % len(DRUM_KITS)]
            jobs.append((cls, f"gm_{cls}_kit{kit:03d}_r{k}", midi_bytes(drum_run(rng, notes), program=kit, channel=9, tail_s=0.8),
                         f"GM drum kit {kit}, notes {notes}, run {k}"))
    for cls, (prog, pitches, dur, reps) in SFX.items():
        for k, pitch in enumerate(pitches):
            notes, t = [], 0.0
            for _ in range(reps):
                notes.append((t, dur, pitch + int(rng.integers(-2, 3)), int(rng.integers(85, 120))))
                t += dur + float(rng.uniform(0.1, 0.6))
            jobs.append((cls, f"gm_{cls}_p{prog:03d}_n{k}", midi_bytes(notes, program=prog, tail_s=0.6), f"GM program {prog}, note {pitch}"))
    out = []
    for cls, name, mid, what in jobs:
        wav = work / f"{name}.wav"
        if not wav.exists():
            render_midi(mid, wav, sf2)
        out.append(Rendered(cls, name, wav, GM_LICENCE[0], GM_LICENCE[1], GM_LICENCE[2], f"fluidsynth {Path(sf2).name}: {what}"))
    return out


def espeak_renders(work: Path, seed: int = 0, n: int = 18) -> list[Rendered]:
    if shutil.which("espeak-ng") is None:
        raise OptionError("Speech renders need espeak-ng (apt-get install espeak-ng).")
    work.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed + 7)
    out = []
    for k in range(n):
        text = SPEECH_SENTENCES[k % len(SPEECH_SENTENCES)]
        voice = ESPEAK_VOICES[k % len(ESPEAK_VOICES)] + ESPEAK_VARIANTS[int(rng.integers(len(ESPEAK_VARIANTS)))]
        speed, pitch = int(rng.integers(135, 185)), int(rng.integers(30, 70))
        wav = work / f"espeak_{k:02d}.wav"
        if not wav.exists():
            subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(wav), text],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
        out.append(Rendered("speech", f"espeak_{k:02d}", wav, ESPEAK_LICENCE[0], ESPEAK_LICENCE[1], ESPEAK_LICENCE[2],
                            f"espeak-ng -v {voice} -s {speed} -p {pitch}: {text}"))
    return out
