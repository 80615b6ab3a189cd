"""Property-based checks of the audio loader and the CLI on hostile input: each case gets
a clear one-sentence error or a correct result, never a crash or a partial file."""

import os

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings, strategies as st

from rfm_studio.core.audio.io import load_audio, save_audio
from rfm_studio.core.errors import AudioReadError, OptionError, RFMError

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FAST
@given(data=st.binary(min_size=0, max_size=4096), ext=st.sampled_from([".wav", ".flac", ".ogg", ".mp3", ".xyz", ""]))
def test_random_bytes_give_a_clear_error(tmp_path, data, ext):
    p = tmp_path / f"f{ext}"
    p.write_bytes(data)
    try:
        x, sr = load_audio(p)
    except AudioReadError as e:
        msg = str(e)
        assert msg.endswith(".") and "\n" not in msg and len(msg) < 300
    else:  # random bytes can only "succeed" as a real, finite signal
        assert x.size > 0 and np.isfinite(x).all() and sr > 0


@FAST
@given(channels=st.integers(1, 8), sr=st.sampled_from([8000, 11025, 16000, 22050, 44100, 48000, 96000, 192000]),
       n=st.integers(1, 3000), fmt=st.sampled_from([("WAV", "PCM_16"), ("WAV", "FLOAT"), ("FLAC", "PCM_24")]))
def test_valid_files_of_any_shape_load(tmp_path, channels, sr, n, fmt):
    rng = np.random.default_rng(n)
    x = (0.5 * rng.standard_normal((n, channels))).clip(-1, 1).astype(np.float32)
    p = tmp_path / f"a.{fmt[0].lower()}"
    sf.write(p, x, sr, format=fmt[0], subtype=fmt[1])
    y, sr2 = load_audio(p)
    assert sr2 == sr and y.shape[0] == n and (y.ndim == 1) == (channels == 1)
    m, sr3 = load_audio(p, mono=True, target_sr=16000)
    assert m.ndim == 1 and sr3 == 16000 and abs(len(m) - round(n * 16000 / sr)) <= 1


@FAST
@given(cut=st.integers(0, 2000))
def test_truncated_files(tmp_path, cut):
    p = tmp_path / "t.wav"
    sf.write(p, np.zeros((4000, 2), dtype=np.float32) + 0.1, 16000)
    data = p.read_bytes()
    p.write_bytes(data[: max(0, len(data) - 16000 - cut)] if cut % 2 else data[: 44 + cut])
    try:
        x, _ = load_audio(p)
        assert np.isfinite(x).all() and x.shape[0] > 0
    except AudioReadError:
        pass


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_samples_are_refused(tmp_path, bad):
    p = tmp_path / "n.wav"
    x = np.full(1000, 0.1, dtype=np.float32)
    x[10] = bad
    sf.write(p, x, 16000, subtype="FLOAT")
    with pytest.raises(AudioReadError, match="invalid"):
        load_audio(p)


def test_save_is_atomic_and_protects_source(tmp_path):
    src = tmp_path / "s.wav"
    sf.write(src, np.zeros(100, dtype=np.float32), 16000)
    with pytest.raises(OptionError, match="overwrite"):
        save_audio(src, np.zeros(100, np.float32), 16000, protect=[src])
    with pytest.raises(OptionError):
        save_audio(tmp_path / "o.wav", np.array([np.nan], np.float32), 16000)
    with pytest.raises(OptionError):
        save_audio(tmp_path / "missing" / "o.wav", np.zeros(10, np.float32), 16000)
    assert sorted(os.listdir(tmp_path)) == ["s.wav"]


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(channels=st.integers(1, 8), sr=st.sampled_from([8000, 44100, 96000, 192000]),
       seconds=st.floats(0.01, 1.5), region=st.one_of(st.none(), st.tuples(st.floats(-1, 2), st.floats(-1, 3))))
def test_cli_edit_any_shape(tmp_path, tiny_bundle, capsys, channels, sr, seconds, region):
    from rfm_studio.cli import main

    n = max(1, int(seconds * sr))
    x = (0.2 * np.random.default_rng(0).standard_normal((n, channels))).astype(np.float32)
    src = tmp_path / f"in_{channels}_{sr}_{n}.wav"
    sf.write(src, x, sr, subtype="FLOAT")
    out = tmp_path / f"out_{channels}_{sr}_{n}.wav"
    if out.exists():
        out.unlink()
    argv = ["edit", str(src), "Remove the beep", "-o", str(out), "--model", str(tiny_bundle), "--steps", "1"]
    if region is not None:
        argv += [f"--region={region[0]}:{region[1]}"]
    code = main(argv)
    err = capsys.readouterr().err
    if code == 0:
        y, sr2 = sf.read(out, dtype="float32", always_2d=True)
        assert sr2 == sr and y.shape == (n, channels) and np.isfinite(y).all()
    else:
        assert code == 2 and err.count("\n") == 1 and not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".rfm-")]
