"""Placing a reference into a scene (Add) and Replace: region respected, samples outside
identical, level matched; instruction parsing; the edit through run_edit and the CLI."""

import numpy as np
import pytest
import soundfile as sf
from conftest import collect, tone

from rfm_studio.core.events import EditRequest
from rfm_studio.core.library.place import DEFAULT_BELOW_DB, foreground_db, place
from rfm_studio.core.library.prompted import parse_instruction
from rfm_studio.core.prompts import AudioPrompt

SR = 16000


def scene(seconds=6.0, sr=SR, seed=0):
    rng = np.random.default_rng(seed)
    x = 0.05 * rng.standard_normal(int(seconds * sr))
    x[: int(2 * sr)] += 0.4 * np.sin(2 * np.pi * 300 * np.arange(int(2 * sr)) / sr)  # busy start
    return x.astype(np.float32)


def bark(sr=22050, seed=1):
    rng = np.random.default_rng(seed)
    t = np.arange(int(0.6 * sr)) / sr
    x = np.sin(2 * np.pi * 700 * t) * np.exp(-6 * t) + 0.2 * rng.standard_normal(len(t)) * np.exp(-8 * t)
    return np.concatenate([np.zeros(2000), x, np.zeros(3000)]).astype(np.float32)


def test_add_inside_a_region_leaves_every_sample_outside_unchanged_and_sits_under_the_scene():
    x = scene()
    out, pl = place(x, SR, bark(), 22050, region=(3.0, 4.5), below_db=6.0)
    assert 3.0 <= pl.start and pl.end <= 4.5
    a, b = int(3.0 * SR), int(4.5 * SR)
    assert np.array_equal(out[:a], x[:a]) and np.array_equal(out[b:], x[b:])
    added = out - x
    assert np.abs(added).max() > 0.01  # something was added
    s, e = int(pl.start * SR), int(pl.end * SR)
    assert np.abs(added[:s]).max() == 0 and np.abs(added[e:]).max() == 0
    # level: below_db under the scene's foreground around it
    assert abs(foreground_db(added[s:e], SR) - (pl.scene_db - 6.0)) < 0.1
    assert abs(added[s]) < 1e-3 and abs(added[e - 1]) < 1e-3  # faded edges


def test_at_the_default_level_a_peaky_sound_next_to_a_loud_passage_gives_way_instead_of_clipping():
    x = scene()  # a loud tone in the first two seconds sets the foreground around the region
    out, pl = place(x, SR, bark(), 22050, region=(3.0, 4.5))
    assert float(np.abs(out).max()) <= 0.99 + 1e-6
    assert pl.level_db < pl.scene_db - DEFAULT_BELOW_DB - 1.0  # turned down from the target: no clipping
    assert float(np.abs(out - x).max()) > 0.05  # still clearly added


def test_a_sound_added_to_a_steady_ambience_is_heard_over_it():
    from rfm_studio.core.library.place import target_level

    bed = (0.05 * np.random.default_rng(3).standard_normal(6 * SR)).astype(np.float32)
    level, fg = target_level(bed, SR)
    assert fg + 2.0 < level <= fg + 3.0 + 1e-6  # over a steady bed (at most 3 dB)
    out, pl = place(bed, SR, bark(), 22050, region=(2.0, 4.0))
    assert abs(pl.level_db - level) < 0.2 and pl.level_db > pl.scene_db


def test_a_steady_texture_filling_a_region_eases_in_and_out():
    """Rain over a region fades in and out over TEXTURE_FADE_S, not in 10 ms: no block that
    switches on and off; a short sound keeps its quick fades."""
    from rfm_studio.core.library.place import TEXTURE_FADE_S

    rain = (0.1 * np.random.default_rng(5).standard_normal(3 * SR)).astype(np.float32)
    x = (0.01 * np.random.default_rng(6).standard_normal(8 * SR)).astype(np.float32)
    out, pl = place(x, SR, rain, SR, region=(2.0, 6.0))
    s, e = int(pl.start * SR), int(pl.end * SR)
    assert (s, e) == (2 * SR, 6 * SR)  # the texture fills the region
    added = (out - x)[s:e]
    rms = lambda a: float(np.sqrt(np.mean(a ** 2)))  # noqa: E731
    w = int(0.05 * SR)
    mid = rms(added[len(added) // 2: len(added) // 2 + w])
    assert rms(added[:w]) < 0.3 * mid and rms(added[-w:]) < 0.3 * mid  # the first and last 50 ms: well under
    f = int(TEXTURE_FADE_S * SR)
    assert rms(added[f: f + w]) > 0.8 * mid and rms(added[-f - w: -f]) > 0.8 * mid  # full level after the fade
    out, pl = place(x, SR, bark(), 22050, region=(2.0, 6.0))
    s = int(pl.start * SR)
    peak = float(np.abs(out - x).max())
    assert float(np.abs((out - x)[s: s + int(0.05 * SR)]).max()) > 0.3 * peak  # a bark starts at once


def test_without_a_region_the_least_busy_stretch_is_chosen_and_stereo_gets_it_in_both_channels():
    x = scene()
    st = np.stack([x, 0.8 * x], axis=1)
    out, pl = place(st, SR, bark(), 22050)
    assert pl.start >= 2.0  # the busy first two seconds are avoided
    d = out - st
    assert np.allclose(d[:, 0], d[:, 1]) and np.abs(d).max() > 0.005
    assert out.shape == st.shape and out.dtype == np.float32


def test_a_fixed_level_and_position_are_kept_and_a_long_reference_is_cut_to_fit():
    x = scene()
    long_ref = np.tile(bark(SR), 8)
    out, pl = place(x, SR, long_ref, SR, region=(2.5, 5.5), start=3.0, length=1.0, level_db=-20.0, room=False)
    assert pl.start == pytest.approx(3.0) and pl.end <= 4.0 + 1e-6
    d = (out - x)[int(3.0 * SR):int(4.0 * SR)]
    assert abs(foreground_db(d, SR) - (-20.0)) < 0.1
    assert np.array_equal(out[int(4.0 * SR):], x[int(4.0 * SR):])


def test_the_added_sound_never_clips_a_scene_that_did_not():
    x = 0.9 * np.sign(np.sin(2 * np.pi * 50 * np.arange(3 * SR) / SR)).astype(np.float32)
    out, pl = place(x, SR, bark(SR), SR, level_db=0.0)
    assert np.abs(out).max() <= 0.99 + 1e-6


@pytest.mark.parametrize("text,want", [
    ("Add a dog barking", ("add", None, "a dog barking")),
    ("add some birds chirping.", ("add", None, "birds chirping")),
    ("Mix in light rain", ("add", None, "light rain")),
    ("Add a bell to the recording", ("add", None, "a bell")),
    ("Replace the dog barking with a cat meowing", ("replace", "the dog barking", "a cat meowing")),
    ("Substitute a cat meowing for the dog barking", ("replace", "the dog barking", "a cat meowing")),
    ("Swap the car horn for a bicycle bell", ("replace", "the car horn", "a bicycle bell")),
    ("Remove the dog barking", (None, None, None)),
])
def test_instructions_are_read_as_add_or_replace(text, want):
    assert parse_instruction(text) == want


def ref_prompt():
    return AudioPrompt(bark(SR), SR, "reference", "bark.wav")


def test_add_with_a_reference_through_run_edit_needs_no_model():
    from rfm_studio.core.editing import run_edit

    x = scene()
    events, res = collect(run_edit(None, EditRequest(x, SR, "Add a dog barking", region=(4.0, 5.0),
                                                     prompts=(ref_prompt(),))))
    assert events and res.params["reference"] == "bark.wav" and res.params["task"] == "add"
    # placing runs no sampler: progress stages (no attention), never a sampler step
    from rfm_studio.core.events import ProgressEvent

    assert all(isinstance(e, ProgressEvent) for e in events), events
    assert [(e.stage, e.stages) for e in events] == [(1, 1)] and "bark.wav" in events[0].text
    pl = res.params["placement"]
    assert 4.0 <= pl["start"] < pl["end"] <= 5.0
    assert not np.array_equal(res.audio, x)
    assert np.array_equal(res.audio[:4 * SR], x[:4 * SR]) and np.array_equal(res.audio[5 * SR:], x[5 * SR:])


def test_add_with_a_reference_stops_when_cancelled():
    from rfm_studio.core.editing import run_edit
    from rfm_studio.core.errors import Cancelled
    from rfm_studio.core.events import CancelToken

    tok = CancelToken()
    gen = run_edit(None, EditRequest(scene(), SR, "Add a dog barking", region=(4.0, 5.0), prompts=(ref_prompt(),)),
                   tok)
    next(gen)
    tok.cancel()
    with pytest.raises(Cancelled):
        next(gen)


def test_replace_removes_with_the_model_then_places_b_where_a_was(tiny_model):
    from rfm_studio.core.editing import edit

    x = tone(4.0)
    res = edit(tiny_model, x, SR, "Replace the tone with a dog barking", region=(1.0, 3.0), steps=2,
               prompts=(ref_prompt(),))
    assert res.params["task"] == "replace" and res.params["removed"] == "Remove the tone"
    assert res.params["reference"] == "bark.wav"
    assert np.array_equal(res.audio[:SR], x[:SR]) and np.array_equal(res.audio[3 * SR:], x[3 * SR:])
    pl = res.params["placement"]
    assert res.params["a_spans"] and res.params["placements"]  # A found in the region, B put there
    got = [v for q in res.params["placements"] for v in (q["start"], q["end"])]
    assert got == pytest.approx([v for sp in res.params["a_spans"] for v in sp], abs=0.01)
    keep = np.ones(len(x), bool)
    for s, e in res.params["a_spans"]:
        keep[int(round(s * SR)):int(round(e * SR))] = False
    assert np.array_equal(res.audio[keep], x[keep])  # nothing outside A's spans changed
    assert not np.array_equal(res.audio[~keep], x[~keep])
    assert 1.0 <= pl["start"] and pl["end"] <= 3.0


# ---------------------------------------------------------------- CLI

@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    d = tmp_path / "userdata"
    monkeypatch.setenv("RFM_STUDIO_DATA_DIR", str(d))
    return d


def test_cli_library_commands(tmp_path, data_dir, capsys):
    from rfm_studio.cli import main

    d = tmp_path / "my sounds"
    d.mkdir()
    sf.write(d / "ANMLDog_Angry Dog Barks_JD_Lib.wav", bark(SR), SR)
    sf.write(d / "owl hooting.flac", bark(SR, 2), SR)
    assert main(["library", "add", str(d)]) == 0
    assert "2 added" in capsys.readouterr().out
    assert main(["library", "list"]) == 0
    out = capsys.readouterr().out
    assert "(starter library)" in out and "my sounds" in out
    assert main(["library", "search", "angry dog", "-n", "1"]) == 0
    out = capsys.readouterr().out
    assert "ANMLDog_Angry Dog Barks_JD_Lib.wav" in out and "animals, dog" in out and "s)" in out
    assert main(["library", "remove", str(d)]) == 0
    assert "2 files" in capsys.readouterr().out
    assert main(["library", "add", str(tmp_path / "missing")]) == 2
    assert main(["library", "remove", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 2 and "Traceback" not in err


def test_cli_edit_with_a_reference_and_with_the_library(tmp_path, data_dir, tiny_bundle, capsys):
    from rfm_studio.cli import main

    x = scene(3.0)
    sf.write(tmp_path / "in.wav", x, SR)
    sf.write(tmp_path / "bark.wav", bark(SR), SR)
    base = [str(tmp_path / "in.wav"), "--model", str(tiny_bundle), "--region", "1:2.5"]
    assert main(["edit", base[0], "Add a dog barking", "-o", str(tmp_path / "o1.wav"), *base[1:],
                 "--reference", str(tmp_path / "bark.wav")]) == 0
    out = capsys.readouterr().out
    assert "reference" in out and "added at" in out
    y, _ = sf.read(tmp_path / "o1.wav", dtype="float32")
    assert not np.allclose(y, x, atol=1e-4)
    assert np.allclose(y[:SR], x[:SR], atol=1e-4) and np.allclose(y[int(2.5 * SR):], x[int(2.5 * SR):], atol=1e-4)
    # no reference: the best starter library match is used and named
    assert main(["edit", base[0], "Add a dog barking", "-o", str(tmp_path / "o2.wav"), *base[1:]]) == 0
    out = capsys.readouterr().out
    assert "library match for 'a dog barking'" in out and "dog_bark_" in out
    assert main(["edit", base[0], "Add birds chirping", "-o", str(tmp_path / "o3.wav"), *base[1:],
                 "--library", "bird_chirp_01.ogg"]) == 0
    assert "bird_chirp_01.ogg" in capsys.readouterr().out
    # bad reference: one sentence, nothing written
    assert main(["edit", base[0], "Add a dog barking", "-o", str(tmp_path / "o4.wav"), *base[1:],
                 "--reference", str(tmp_path / "nope.wav")]) == 2
    err = capsys.readouterr().err
    assert "Reference file not found" in err and err.count("\n") == 1
    assert not (tmp_path / "o4.wav").exists()


def test_a_steady_texture_fills_the_marked_region_and_an_event_is_placed_once():
    from rfm_studio.core.library.place import block_levels, is_steady

    rng = np.random.default_rng(5)
    x = (0.01 * rng.standard_normal(8 * SR)).astype(np.float32)
    rain = (0.2 * rng.standard_normal(int(2.5 * SR))).astype(np.float32)  # 2.5 s of even noise
    assert is_steady(rain, SR) and not is_steady(bark(SR), SR)
    out, pl = place(x, SR, rain, SR, region=(1.0, 6.0))
    assert abs(pl.start - 1.0) < 1e-3 and abs(pl.end - 6.0) < 1e-3  # all of the region, not 2.5 s of it
    lv = block_levels((out - x)[int(1.4 * SR): int(5.6 * SR)], SR)  # inside its 0.3 s fades
    assert lv.max() - lv.min() < 6.0  # even over the region: no gap between the repeats
    assert np.array_equal(out[: SR], x[: SR]) and np.array_equal(out[6 * SR:], x[6 * SR:])
    # faded in once, as a texture eases in: halfway into the fade-in the added texture is at
    # about half its level (a second fade on top left it at a quarter)
    from rfm_studio.core.library.place import TEXTURE_FADE_S

    fi = int(TEXTURE_FADE_S * SR)
    added = out - x
    mid = float(np.sqrt(np.mean(added[SR + fi // 2 - fi // 8: SR + fi // 2 + fi // 8] ** 2)))
    full = float(np.sqrt(np.mean(added[2 * SR: 5 * SR] ** 2)))
    assert 0.4 < mid / full < 0.65, mid / full  # 0.51 here; 0.30 with the fade applied twice
    out, pl = place(x, SR, rain, SR, region=(1.0, 6.0), fill=False)
    assert abs((pl.end - pl.start) - 2.5) < 0.05
    out, pl = place(x, SR, bark(SR), SR, region=(1.0, 6.0))
    assert pl.end - pl.start < 1.0  # one bark, not a row of them
