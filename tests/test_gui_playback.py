"""A/B playback through a real PortAudio stream: ALSA's ``file`` PCM (over ``null``) records
exactly what the callback played, so the test can check that switching A -> B continues
at the very next sample. Runs in a subprocess because PortAudio reads the ALSA
configuration once, when sounddevice is imported."""

import os
import subprocess
import sys

import numpy as np
import pytest

import gui_helpers  # noqa: F401  (offscreen Qt, temporary config folders)
from gui_helpers import gui_env  # noqa: F401  (fixture)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
N = 48000  # one second at 48 kHz; A[i] = 0.1 + 0.8 i / N, B[i] = -A[i]

PLAYER_SCRIPT = r"""
import sys, time
import numpy as np
from rfm_studio.gui.playback import Player

p = Player()
if not p.probe():
    print("NODEVICE", p.reason)
    sys.exit(3)
n = %d
a = (0.1 + 0.8 * np.arange(n) / n).astype(np.float32)
p.set_sources(a, -a, 48000)
p.set_loop((0.0, 1.0))


def played_on(since, seconds=0.02, timeout=20.0):  # wait for the audio thread, not the clock (busy CI)
    t0 = time.monotonic()
    while (p.position - since) %% 1.0 < seconds and time.monotonic() - t0 < timeout:
        time.sleep(0.005)


p.play()
played_on(0.0)
p.toggle_ab()
played_on(p.position)
p.pause()
p.close()
print("OK", p.rate, p.channels)
""" % N

ASOUNDRC = """
pcm.!default {
    type file
    slave.pcm { type null }
    file "%s"
    format "raw"
}
"""


def _portaudio_missing() -> str:
    try:
        out = subprocess.run([sys.executable, "-c", "import sounddevice"], capture_output=True, text=True,
                             timeout=30)
    except Exception as exc:  # noqa: BLE001
        return f"cannot start python: {exc}"
    if out.returncode != 0:
        return "PortAudio is not installed (apt-get install libportaudio2): " + out.stderr.strip()[-200:]
    return ""


def test_ab_switch_plays_the_right_buffer_through_portaudio(tmp_path):
    missing = _portaudio_missing()
    if missing:
        pytest.skip(missing)
    raw = tmp_path / "out.raw"
    conf = tmp_path / "asound.conf"
    conf.write_text(ASOUNDRC % raw)
    env = dict(os.environ, ALSA_CONFIG_PATH=str(conf), PYTHONPATH=ROOT)
    out = subprocess.run([sys.executable, "-c", PLAYER_SCRIPT], env=env, capture_output=True, text=True,
                         timeout=60)
    if out.returncode == 3:
        pytest.skip("PortAudio found no ALSA output device: " + out.stdout.strip())
    assert out.returncode == 0, out.stdout + out.stderr[-2000:]
    rate, channels = (int(x) for x in out.stdout.split()[1:3])
    assert rate == 48000 and channels == 2
    data = np.fromfile(raw, dtype=np.float32).reshape(-1, channels)
    assert np.array_equal(data[:, 0], data[:, 1])  # mono sources go to both channels
    x = data[:, 0]
    x = x[np.flatnonzero(x)[0]:]  # skip the device's leading silence, if any
    switch = int(np.flatnonzero(x < 0)[0])
    assert switch > 100 and np.all(x[:switch] > 0)  # A first ...
    idx_a = np.rint((x[:switch] - 0.1) / 0.8 * N).astype(np.int64)
    assert np.all(np.diff(idx_a) % N == 1)  # ... sample after sample, looping over the clip
    b = x[switch:]
    b = b[: np.flatnonzero(b == 0)[0]] if np.any(b == 0) else b  # pause: silence afterwards
    assert len(b) > 100 and np.all(b < 0)  # then B only
    idx_b = np.rint((-b - 0.1) / 0.8 * N).astype(np.int64)
    assert np.all(np.diff(idx_b) % N == 1)
    assert (idx_b[0] - idx_a[-1]) % N == 1  # B starts at the very next sample of A
