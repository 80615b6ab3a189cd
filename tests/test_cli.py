"""CLI: exit codes, one-sentence errors, nothing written on failure, atomic outputs."""

import json

import numpy as np
import pytest
import soundfile as sf

from conftest import run_cli as run, tone
from rfm_studio.cli import main


@pytest.fixture()
def clip(tmp_path):
    p = tmp_path / "in.wav"
    sf.write(p, tone(1.5, sr=22050, channels=2), 22050)
    return p


def test_edit_writes_output(capsys, clip, tiny_bundle, tmp_path):
    out = tmp_path / "out.flac"
    code, o, e = run(capsys, "edit", str(clip), "Remove the beep", "-o", str(out), "--model", str(tiny_bundle),
                     "--steps", "2")
    assert code == 0, e
    y, sr = sf.read(out)
    assert sr == 22050 and y.shape == (int(1.5 * 22050), 2)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".rfm-")] == []


def test_edit_region(capsys, clip, tiny_bundle, tmp_path):
    out = tmp_path / "out.wav"
    code, _, e = run(capsys, "edit", str(clip), "Remove the beep", "-o", str(out), "--model", str(tiny_bundle),
                     "--steps", "1", "--region", "0.5:1.0")
    assert code == 0, e
    y, _ = sf.read(out, dtype="float32")
    x, _ = sf.read(clip, dtype="float32")
    assert np.array_equal(y[: int(0.5 * 22050)], x[: int(0.5 * 22050)])


def test_edit_draws_option(capsys, clip, tiny_bundle, tmp_path):
    outs = []
    for d in ("1", "3"):
        out = tmp_path / f"d{d}.wav"
        code, _, e = run(capsys, "edit", str(clip), "Remove the beep", "-o", str(out), "--model", str(tiny_bundle),
                         "--steps", "1", "--draws", d, "--engine", "model")
        assert code == 0, e
        outs.append(sf.read(out, dtype="float32")[0])
    assert outs[0].shape == outs[1].shape and not np.array_equal(outs[0], outs[1])
    bad = tmp_path / "bad.wav"
    code, _, e = run(capsys, "edit", str(clip), "Remove the beep", "-o", str(bad), "--model", str(tiny_bundle),
                     "--draws", "0")
    assert code == 2 and "Draws" in e and e.count("\n") == 1 and not bad.exists()


def test_edit_strength_option(capsys, clip, tiny_bundle, tmp_path):
    """--strength 0 with the mask render leaves the clip (up to the STFT round trip); 2 changes it more than 1."""
    outs = {}
    for s in ("0", "1", "2"):
        out = tmp_path / f"s{s}.wav"
        code, _, e = run(capsys, "edit", str(clip), "Remove the beep", "-o", str(out), "--model", str(tiny_bundle),
                         "--steps", "1", "--render", "mask", "--strength", s)
        assert code == 0, e
        outs[s] = sf.read(out, dtype="float32")[0]
    x, _ = sf.read(clip, dtype="float32")
    dev = {s: float(np.abs(y - x).mean()) for s, y in outs.items()}
    assert dev["0"] < 1e-4 < dev["1"] < dev["2"], dev
    code, _, e = run(capsys, "edit", str(clip), "Remove the beep", "-o", str(tmp_path / "bad.wav"), "--model",
                     str(tmp_path / "no-model"), "--strength", "5")
    assert code == 2 and "Strength" in e and "not found" not in e and e.count("\n") == 1


@pytest.mark.parametrize("case", ["missing", "empty", "notaudio", "nan"])
def test_bad_input_exit_2_nothing_written(capsys, tmp_path, tiny_bundle, case):
    src = tmp_path / "bad.wav"
    if case == "empty":
        sf.write(src, np.zeros((0,), dtype=np.float32), 16000)
    elif case == "notaudio":
        src.write_bytes(b"this is not audio at all" * 10)
    elif case == "nan":
        sf.write(src, np.array([0.1, np.nan, 0.2] * 1000, dtype=np.float32), 16000, subtype="FLOAT")
    out = tmp_path / "out.wav"
    code, o, e = run(capsys, "edit", str(src), "Remove x", "-o", str(out), "--model", str(tiny_bundle))
    assert code == 2
    assert e.startswith("rfm-studio: ") and e.count("\n") == 1 and "Traceback" not in e
    assert not out.exists()


def test_missing_model_exit_2(capsys, clip, tmp_path):
    code, _, e = run(capsys, "edit", str(clip), "Remove x", "-o", str(tmp_path / "o.wav"), "--model",
                     str(tmp_path / "nomodel"))
    assert code == 2 and "not found" in e


def test_bad_option_exit_2(capsys, clip, tiny_bundle, tmp_path):
    with pytest.raises(SystemExit) as ex:
        main(["edit", str(clip), "x", "-o", str(tmp_path / "o.wav"), "--steps", "many"])
    assert ex.value.code == 2
    code, _, e = run(capsys, "edit", str(clip), "x", "-o", str(tmp_path / "o.wav"), "--model", str(tiny_bundle),
                     "--t-start", "2")
    assert code == 2 and "t_start" in e
    code, _, e = run(capsys, "edit", str(clip), "x", "-o", str(tmp_path / "o.mp4"), "--model", str(tiny_bundle))
    assert code == 2 and "format" in e


def test_refuses_to_overwrite_input(capsys, clip, tiny_bundle):
    before = clip.read_bytes()
    code, _, e = run(capsys, "edit", str(clip), "Remove x", "-o", str(clip), "--model", str(tiny_bundle))
    assert code == 2 and "overwrite" in e
    assert clip.read_bytes() == before


def test_edit_batch(capsys, tmp_path, tiny_bundle):
    d = tmp_path / "set"
    d.mkdir()
    for i in range(2):
        sf.write(d / f"c{i}.wav", tone(1.0, seed=i), 16000)
    (d / "m.jsonl").write_text("\n".join(json.dumps({"id": f"e{i}", "input": f"c{i}.wav",
                                                     "instruction": "Remove the beep"}) for i in range(2)))
    code, o, e = run(capsys, "edit-batch", str(d / "m.jsonl"), "--out-dir", str(tmp_path / "out"), "--model",
                     str(tiny_bundle), "--steps", "1")
    assert code == 0, e
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["e0.wav", "e1.wav"]
    rows = [ln for ln in o.splitlines() if ln.startswith(("e0: ", "e1: "))]
    assert len(rows) == 2
    for ln in rows:  # each row names the engine that ran (a text-only removal: self-prompted), as edit says it
        assert ln.split(": ", 1)[1].startswith(("self-prompted: ", "dictionary removal, examples the model marked")), ln
        assert ("Changed: " in ln) != ("No audible change: " in ln), ln
    code, o, e = run(capsys, "edit-batch", str(d / "m.jsonl"), "--out-dir", str(tmp_path / "out2"), "--model",
                     str(tiny_bundle), "--steps", "1", "--engine", "model")
    assert code == 0, e
    rows = [ln for ln in o.splitlines() if ln.startswith(("e0: ", "e1: "))]
    assert len(rows) == 2 and all(ln.split(": ", 1)[1].startswith("model edit, 1 step, t_start ") for ln in rows), o


def test_edit_batch_never_writes_over_an_input(capsys, tmp_path, tiny_bundle):
    """An output that is one of the manifest's inputs (the same path, or a hard link to it) is
    refused before the model loads."""
    import os

    d = tmp_path / "set"
    d.mkdir()
    sf.write(d / "c0.wav", tone(1.0), 16000)
    before = (d / "c0.wav").read_bytes()
    (d / "m.jsonl").write_text(json.dumps({"id": "c0", "input": "c0.wav", "instruction": "Remove the beep"}))
    out = tmp_path / "out"
    out.mkdir()
    os.link(d / "c0.wav", out / "c0.wav")
    for where in (d, out):
        code, _, e = run(capsys, "edit-batch", str(d / "m.jsonl"), "--out-dir", str(where), "--model",
                         str(tiny_bundle), "--steps", "1")
        assert code == 2 and "is an input of this manifest" in e
    assert (d / "c0.wav").read_bytes() == before


def test_edit_batch_rejects_paths_outside(capsys, tmp_path, tiny_bundle):
    d = tmp_path / "set"
    d.mkdir()
    (d / "m.jsonl").write_text(json.dumps({"id": "a", "input": "../secret.wav", "instruction": "x"}))
    code, _, e = run(capsys, "edit-batch", str(d / "m.jsonl"), "--out-dir", str(tmp_path / "out"), "--model",
                     str(tiny_bundle))
    assert code == 2 and "outside" in e


def test_bad_options_are_refused_before_the_model_loads(capsys, clip, tmp_path):
    """A bad sampling option is named at once, not after a model load (here no model exists)."""
    for opt, needle in ((["--draws", "0"], "Draws"), (["--steps", "0"], "Steps"), (["--guidance", "-1"], "Guidance")):
        code, _, e = run(capsys, "edit", str(clip), "x", "-o", str(tmp_path / "o.wav"), "--model",
                         str(tmp_path / "no-model"), *opt)
        assert code == 2 and needle in e and "not found" not in e, (opt, e)


def test_edit_batch_bad_input_creates_nothing(capsys, tmp_path, tiny_bundle):
    d = tmp_path / "set"
    d.mkdir()
    sf.write(d / "c.wav", tone(1.0), 16000)
    for src, extra, needle in (("missing.wav", [], "not found"), ("c.wav", ["--draws", "0"], "Draws")):
        (d / "m.jsonl").write_text(json.dumps({"id": "a", "input": src, "instruction": "x"}))
        code, _, e = run(capsys, "edit-batch", str(d / "m.jsonl"), "--out-dir", str(tmp_path / "out"), "--model",
                         str(tiny_bundle), *extra)
        assert code == 2 and needle in e and not (tmp_path / "out").exists(), e


def test_version(capsys):
    with pytest.raises(SystemExit) as ex:
        main(["--version"])
    assert ex.value.code == 0
    assert "rfm-studio" in capsys.readouterr().out


def test_out_of_memory_gives_advice(capsys, clip, tiny_bundle, tmp_path, monkeypatch):
    import rfm_studio.core.editing as editing

    def boom(*a, **k):
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(editing, "edit", boom)
    code, _, e = run(capsys, "edit", str(clip), "Remove x", "-o", str(tmp_path / "o.wav"), "--model", str(tiny_bundle))
    assert code == 2 and "ran out of memory" in e and "fewer steps" in e and "Traceback" not in e
    assert not (tmp_path / "o.wav").exists()
