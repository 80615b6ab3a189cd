"""Long files edited chunk by chunk from disk: length, region exactness, no partial files."""

import numpy as np
import pytest
import soundfile as sf

from conftest import tone
from rfm_studio.core.editing import drive
from rfm_studio.core.streaming import edit_file


def test_chunked_file_edit_preserves_length_and_format(tiny_model, tmp_path):
    sr = 22050
    x = tone(50.0, sr=sr, channels=2)
    src, dst = tmp_path / "long.flac", tmp_path / "out.flac"
    sf.write(src, x, sr, subtype="PCM_24")
    summary = drive(edit_file(tiny_model, src, dst, "Remove the beep", chunk_seconds=20, overlap_seconds=2, steps=1))
    y, sr2 = sf.read(dst, always_2d=True)
    assert sr2 == sr and y.shape == x.shape and summary["chunks"] == 3
    assert np.isfinite(y).all()


def test_region_in_a_long_file_copies_the_rest_exactly(tiny_model, tmp_path):
    sr = 16000
    x = tone(40.0, sr=sr)
    src, dst = tmp_path / "l.wav", tmp_path / "o.wav"
    sf.write(src, x, sr, subtype="FLOAT")
    drive(edit_file(tiny_model, src, dst, "Remove the beep", region=(20.0, 22.0), chunk_seconds=10, steps=1))
    y, _ = sf.read(dst, dtype="float32")
    a, b = 20 * sr, 22 * sr
    assert y.shape == x.shape
    assert np.array_equal(y[:a], x[:a]) and np.array_equal(y[b:], x[b:])
    assert not np.array_equal(y[a:b], x[a:b])


def test_cancel_leaves_no_partial_file(tiny_model, tmp_path):
    from rfm_studio.core.errors import Cancelled
    from rfm_studio.core.events import CancelToken

    sr = 16000
    src, dst = tmp_path / "l.wav", tmp_path / "o.wav"
    sf.write(src, tone(30.0, sr=sr), sr)
    tok = CancelToken()
    gen = edit_file(tiny_model, src, dst, "Remove the beep", chunk_seconds=10, steps=2, cancel=tok)
    next(gen)
    tok.cancel()
    with pytest.raises(Cancelled):
        drive(gen)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["l.wav"]
