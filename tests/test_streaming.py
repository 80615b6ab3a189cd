"""Long files edited chunk by chunk from disk: length, region exactness, no partial files."""

import numpy as np
import pytest
import soundfile as sf

from conftest import collect, tone
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


def test_region_ending_before_the_last_chunk_starts(tiny_model, tmp_path):
    """The span edited is the region plus CONTEXT_S each side; when the last chunk starts in
    the trailing context (after the region's end) it has nothing to edit and is copied."""
    from rfm_studio.core.editing import CONTEXT_S

    sr = 16000
    x = tone(30.0, sr=sr)
    src, dst = tmp_path / "l.wav", tmp_path / "o.wav"
    sf.write(src, x, sr, subtype="FLOAT")
    r0, r1 = 4.0, 8.5
    chunk, ov = 4.0, 1.0
    # chunks start at r0 - CONTEXT_S and every chunk - ov seconds: make the last start after r1
    starts, a = [], r0 - CONTEXT_S
    while True:
        starts.append(a)
        if a + chunk >= r1 + CONTEXT_S:
            break
        a += chunk - ov
    assert starts[-1] > r1  # the case this test is about
    events, summary = collect(edit_file(tiny_model, src, dst, "Remove the beep", region=(r0, r1),
                                        chunk_seconds=chunk, overlap_seconds=ov, steps=1, engine="model"))
    y, _ = sf.read(dst, dtype="float32")
    a, b = int(r0 * sr), int(r1 * sr)
    assert y.shape == x.shape and summary["chunks"] == len(starts)
    assert np.array_equal(y[:a], x[:a]) and np.array_equal(y[b:], x[b:])
    assert not np.array_equal(y[a:b], x[a:b])
    assert events[-1].step == events[-1].total  # progress reaches its end: copied chunks have no steps


def test_progress_ends_at_its_total_when_chunks_differ_in_windows(tiny_model, tmp_path):
    """50 s in 20 s chunks: the last chunk is shorter (fewer windows); the last event's step
    equals its total and steps never go past it."""
    sr = 16000
    src, dst = tmp_path / "long.wav", tmp_path / "out.wav"
    sf.write(src, tone(50.0, sr=sr), sr)
    from rfm_studio.core.events import ProgressEvent, StepEvent

    events, _ = collect(edit_file(tiny_model, src, dst, "Remove the beep", chunk_seconds=20, overlap_seconds=2, steps=2))
    stages = [e for e in events if isinstance(e, ProgressEvent)]  # each chunk's self-prompted dictionary
    assert stages and all(e.text.startswith(("Chunk 1/3: ", "Chunk 2/3: ", "Chunk 3/3: ")) for e in stages)
    events = [e for e in events if isinstance(e, StepEvent)]
    assert events and events[-1].step == events[-1].total
    assert all(e.step <= e.total for e in events)
    assert [e.step for e in events] == list(range(1, len(events) + 1))


def test_a_seed_at_the_top_of_the_range_works_on_every_chunk(tiny_model, tmp_path):
    # chunk i is seeded nth_seed(seed, i): seed + i would pass MAX_SEED on the second chunk
    from rfm_studio.core.seeding import MAX_SEED, nth_seed

    assert nth_seed(MAX_SEED, 1) == 0 and nth_seed(5, 2) == 7
    src, dst = tmp_path / "long.wav", tmp_path / "out.wav"
    sf.write(src, tone(30.0), 16000)
    summary = drive(edit_file(tiny_model, src, dst, "Remove the beep", chunk_seconds=10, overlap_seconds=2,
                              steps=1, seed=MAX_SEED))
    assert summary["chunks"] >= 3 and sf.info(dst).frames == sf.info(src).frames


def test_the_source_is_never_the_output(tiny_model, tmp_path):
    """The output path naming the source, or a link to it, is refused before anything is written."""
    from rfm_studio.core.errors import OptionError

    src = tmp_path / "a.wav"
    sf.write(src, tone(2.0), 16000)
    before = src.read_bytes()
    (tmp_path / "link.wav").symlink_to(src)
    for dst in (src, tmp_path / "link.wav", tmp_path / "." / "a.wav"):
        with pytest.raises(OptionError, match="Refusing to overwrite the source"):
            drive(edit_file(tiny_model, src, dst, "Remove the beep", steps=1))
    assert src.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["a.wav", "link.wav"]
