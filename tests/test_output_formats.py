"""What an edit writes: the input's sample format and container kept by default, --format and
--subtype to choose, encoder limits refused before the model loads (nothing written), the
residual (input minus output), and the summary wording."""

import json

import numpy as np
import pytest
import soundfile as sf

from conftest import run_cli as run, one_sentence, tone
from rfm_studio.core.audio.formats import OutputFormat, check_encoder, choose_format, kept_subtype
from rfm_studio.core.audio.io import save_audio
from rfm_studio.core.errors import OptionError


def write(path, seconds=1.0, sr=16000, channels=None, **kw):
    sf.write(path, tone(seconds, sr=sr, channels=channels), sr, **kw)
    return path


def files(d):
    return sorted(p.name for p in d.iterdir())


# -- choosing the format ------------------------------------------------------------------

def test_kept_subtype_rules():
    assert kept_subtype("WAV", "PCM_16") == "PCM_16"
    assert kept_subtype("WAV", "PCM_24") == "PCM_24"
    assert kept_subtype("WAV", "FLOAT") == "FLOAT"
    assert kept_subtype("FLAC", "FLOAT") == "PCM_24"  # the nearest FLAC holds
    assert kept_subtype("FLAC", "PCM_32") == "PCM_24"
    assert kept_subtype("FLAC", "PCM_16") == "PCM_16"
    assert kept_subtype("WAV", "MPEG_LAYER_III") == "PCM_16"  # lossy in: 16-bit PCM
    assert kept_subtype("WAV", "VORBIS") == "PCM_16"
    assert kept_subtype("OGG", "PCM_16") == "VORBIS"
    assert kept_subtype("OGG", "OPUS") == "OPUS"
    assert kept_subtype("AIFF", "PCM_24") == "PCM_24"


def test_choose_format_conflicts_are_one_sentence(tmp_path):
    src = ("WAV", "PCM_16")
    assert choose_format(tmp_path / "o.flac", src) == OutputFormat("FLAC", "PCM_16")
    assert choose_format(tmp_path / "o", src, "flac") == OutputFormat("FLAC", "PCM_16")
    assert choose_format(tmp_path / "o", ("FLAC", "PCM_24")) == OutputFormat("FLAC", "PCM_24")
    assert choose_format(tmp_path / "o", ("MP3", "MPEG_LAYER_III")) == OutputFormat("WAV", "PCM_16")
    with pytest.raises(OptionError, match="ends in .wav but --format is flac"):
        choose_format(tmp_path / "o.wav", src, "flac")
    with pytest.raises(OptionError, match="cannot hold 32-bit float"):
        choose_format(tmp_path / "o.flac", src, None, "FLOAT")
    with pytest.raises(OptionError, match="Unsupported output format '.mp4'"):
        choose_format(tmp_path / "o.mp4", src)


@pytest.mark.parametrize("fmt,sr,ch,needle", [
    (OutputFormat("OGG", "VORBIS"), 768000, 1, "200,000 Hz"),
    (OutputFormat("OGG", "VORBIS"), 48000, 256, "255 channels"),
    (OutputFormat("FLAC", "PCM_24"), 768000, 1, "655,350 Hz"),
    (OutputFormat("FLAC", "PCM_16"), 48000, 12, "8 channels"),
    (OutputFormat("OGG", "OPUS"), 44100, 2, "Opus holds only"),
    (OutputFormat("WAV", "PCM_16"), 8000, 1025, "1,024 channels"),
])
def test_encoder_limits(fmt, sr, ch, needle):
    with pytest.raises(OptionError, match=needle):
        check_encoder(fmt, sr, ch, "x")
    check_encoder(OutputFormat("WAV", "PCM_16"), sr, min(ch, 1024))  # WAV takes them


def test_save_audio_refuses_an_encoder_limit_instead_of_a_traceback(tmp_path):
    """FLAC with 12 channels was a libsndfile traceback after the edit; now one sentence, no file."""
    with pytest.raises(OptionError, match="8 channels"):
        save_audio(tmp_path / "x.flac", np.zeros((100, 12), np.float32), 16000)
    assert files(tmp_path) == []


# -- edit: the format kept or chosen ----------------------------------------------------------

@pytest.mark.parametrize("subtype,out_name,expect", [
    ("PCM_16", "o.wav", ("WAV", "PCM_16")),
    ("PCM_24", "o.wav", ("WAV", "PCM_24")),
    ("FLOAT", "o.wav", ("WAV", "FLOAT")),
    ("PCM_16", "o.flac", ("FLAC", "PCM_16")),
    ("FLOAT", "o.flac", ("FLAC", "PCM_24")),
])
def test_edit_keeps_the_inputs_sample_format(capsys, tmp_path, tiny_bundle, subtype, out_name, expect):
    src = write(tmp_path / "in.wav", sr=22050, channels=2, subtype=subtype)
    out = tmp_path / out_name
    code, o, e = run(capsys, "edit", str(src), "Remove the beep", "-o", str(out), "--model", str(tiny_bundle),
                     "--steps", "1")
    assert code == 0, e
    info = sf.info(str(out))
    assert (info.format, info.subtype) == expect
    assert (info.samplerate, info.channels, info.frames) == (22050, 2, 22050)


def test_edit_format_and_subtype_options(capsys, tmp_path, tiny_bundle):
    src = write(tmp_path / "in.wav", subtype="PCM_16")
    out = tmp_path / "noext"
    code, o, e = run(capsys, "edit", str(src), "Remove the beep", "-o", str(out), "--model", str(tiny_bundle),
                     "--steps", "1", "--format", "flac", "--subtype", "pcm_24")
    assert code == 0, e
    assert (sf.info(str(out)).format, sf.info(str(out)).subtype) == ("FLAC", "PCM_24")
    out = tmp_path / "f.wav"
    code, o, e = run(capsys, "edit", str(src), "Remove the beep", "-o", str(out), "--model", str(tiny_bundle),
                     "--steps", "1", "--subtype", "FLOAT")
    assert code == 0 and sf.info(str(out)).subtype == "FLOAT", e
    ogg_in = write(tmp_path / "in.ogg", sr=22050, format="OGG", subtype="VORBIS")
    out = tmp_path / "o.ogg"
    code, o, e = run(capsys, "edit", str(ogg_in), "Remove the beep", "-o", str(out), "--model", str(tiny_bundle),
                     "--steps", "1")
    assert code == 0 and (sf.info(str(out)).format, sf.info(str(out)).subtype) == ("OGG", "VORBIS"), e


def test_pcm_output_is_clipped_not_wrapped(tmp_path):
    x = np.array([0.5, 1.7, -2.0, 0.1], np.float32)
    save_audio(tmp_path / "c.wav", x, 16000, fmt=OutputFormat("WAV", "PCM_16"))
    y, _ = sf.read(tmp_path / "c.wav", dtype="float32")
    assert y[1] > 0.99 and y[2] <= -0.99


@pytest.mark.parametrize("case", ["ogg-768k", "flac-768k", "flac-12ch", "opus-22k", "flac-float", "conflict",
                                  "residual-ogg-768k"])
def test_encoder_problems_exit_2_before_the_model_loads(capsys, tmp_path, case):
    """Each used to crash after the edit ran (OGG at 768 kHz: a segfault, exit 139, with a 0-byte
    temp file; FLAC: a traceback). The model named does not exist: the format sentence must come
    first, and nothing may be written."""
    d = tmp_path / "d"
    d.mkdir()
    if case.endswith("768k"):
        src = write(d / "in.wav", seconds=0.2, sr=768000)
    elif case == "flac-12ch":
        src = write(d / "in.wav", seconds=0.2, channels=12)
    else:
        src = write(d / "in.wav", seconds=0.2, sr=22050)
    out_name, extra = {"ogg-768k": ("o.ogg", []), "flac-768k": ("o.flac", []), "flac-12ch": ("o.flac", []),
                       "opus-22k": ("o.ogg", ["--subtype", "opus"]), "flac-float": ("o.flac", ["--subtype", "float"]),
                       "conflict": ("o.wav", ["--format", "flac"]),
                       "residual-ogg-768k": ("o.wav", ["--residual", str(d / "r.ogg")])}[case]
    before = files(d)
    code, o, e = run(capsys, "edit", str(src), "Remove x", "-o", str(d / out_name), "--model",
                     str(tmp_path / "no-such-model"), *extra)
    assert code == 2 and one_sentence(e) and "not found" not in e, e
    assert files(d) == before  # no output, no temp file


def test_batch_keeps_containers_and_checks_encoders_first(capsys, tmp_path, tiny_bundle):
    d = tmp_path / "set"
    d.mkdir()
    write(d / "a.wav", subtype="PCM_24")
    write(d / "b.flac", subtype="PCM_16")
    write(d / "c.mp3", format="MP3", subtype="MPEG_LAYER_III")
    rows = [{"id": k, "input": f, "instruction": "Remove the beep"} for k, f in
            (("a", "a.wav"), ("b", "b.flac"), ("c", "c.mp3"))]
    (d / "m.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    out = tmp_path / "out"
    code, o, e = run(capsys, "edit-batch", str(d / "m.jsonl"), "--out-dir", str(out), "--model", str(tiny_bundle),
                     "--steps", "1", "--residuals")
    assert code == 0, e
    assert files(out) == ["a.residual.wav", "a.wav", "b.flac", "b.residual.flac", "c.residual.wav", "c.wav"]
    assert sf.info(str(out / "a.wav")).subtype == "PCM_24"
    assert sf.info(str(out / "b.flac")).subtype == "PCM_16"
    assert (sf.info(str(out / "c.wav")).format, sf.info(str(out / "c.wav")).subtype) == ("WAV", "PCM_16")
    x, _ = sf.read(d / "a.wav", dtype="float32")
    y, _ = sf.read(out / "a.wav", dtype="float32")
    r, _ = sf.read(out / "a.residual.wav", dtype="float32")
    assert np.abs(np.clip(x - y, -1, 1) - r).max() < 1e-4
    assert all(line.split(":")[0] in "abc" for line in o.splitlines()[1:])  # one change report per row
    # --format: every output in that container; a 12-channel row refused for FLAC before the model loads
    write(d / "many.wav", seconds=0.2, channels=12)
    rows.append({"id": "m", "input": "many.wav", "instruction": "Remove the beep"})
    (d / "m.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    code, o, e = run(capsys, "edit-batch", str(d / "m.jsonl"), "--out-dir", str(tmp_path / "out2"), "--model",
                     str(tmp_path / "nope"), "--format", "flac")
    assert code == 2 and one_sentence(e) and "8 channels" in e and "'m'" in e and not (tmp_path / "out2").exists()


def test_batch_residual_names_must_not_collide(capsys, tmp_path, tiny_bundle):
    d = tmp_path / "set"
    d.mkdir()
    write(d / "a.wav")
    rows = [{"id": "a", "input": "a.wav", "instruction": "x"}, {"id": "a.residual", "input": "a.wav", "instruction": "y"}]
    (d / "m.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    code, o, e = run(capsys, "edit-batch", str(d / "m.jsonl"), "--out-dir", str(tmp_path / "o"), "--model",
                     str(tiny_bundle), "--residuals")
    assert code == 2 and one_sentence(e) and "a.residual.wav" in e and not (tmp_path / "o").exists(), e


# -- the residual -----------------------------------------------------------------------------

def test_edit_residual_is_input_minus_output(capsys, tmp_path, tiny_bundle):
    src = write(tmp_path / "in.wav", sr=22050, channels=2, subtype="FLOAT")
    out, res = tmp_path / "o.wav", tmp_path / "removed.flac"
    code, o, e = run(capsys, "edit", str(src), "Remove the beep", "-o", str(out), "--residual", str(res),
                     "--model", str(tiny_bundle), "--steps", "1")
    assert code == 0, e
    x, _ = sf.read(src, dtype="float32")
    y, _ = sf.read(out, dtype="float32")
    r, sr = sf.read(res, dtype="float32")
    assert sr == 22050 and r.shape == x.shape and sf.info(str(res)).subtype == "PCM_24"
    assert np.abs(np.clip(x - y, -1, 1) - r).max() < 1e-4 and np.abs(r).max() > 1e-3
    assert f"Wrote {res}" in o
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".rfm-")] == []


def test_residual_refusals(capsys, tmp_path, tiny_bundle):
    src = write(tmp_path / "in.wav")
    for res, needle in ((tmp_path / "o.wav", "same file"), (src, "overwrite"), (tmp_path / "r.mp4", "format")):
        code, _, e = run(capsys, "edit", str(src), "Remove x", "-o", str(tmp_path / "o.wav"), "--residual", str(res),
                         "--model", str(tiny_bundle))
        assert code == 2 and one_sentence(e) and needle in e, e
    assert files(tmp_path) == ["in.wav"]


def test_long_file_residual_streams(capsys, tmp_path, tiny_bundle, monkeypatch):
    from rfm_studio.commands import edit as edit_cmd

    monkeypatch.setattr(edit_cmd, "STREAM_SECONDS", 0.5)  # edit this 1.5 s file chunk by chunk
    src = write(tmp_path / "in.wav", seconds=1.5, sr=22050, subtype="PCM_16")
    out, res = tmp_path / "o.wav", tmp_path / "r.wav"
    code, o, e = run(capsys, "edit", str(src), "Remove the beep", "-o", str(out), "--residual", str(res),
                     "--model", str(tiny_bundle), "--steps", "1")
    assert code == 0, e
    assert sf.info(str(out)).subtype == "PCM_16" and sf.info(str(res)).subtype == "PCM_16"
    x, _ = sf.read(src, dtype="float32")
    y, _ = sf.read(out, dtype="float32")
    r, _ = sf.read(res, dtype="float32")
    assert r.shape == x.shape and np.abs(np.clip(x - y, -1, 1) - r).max() < 1e-4
    lines = o.splitlines()
    assert lines[2].startswith("Edited in ") and "chunks from disk" in lines[2]
    assert lines[3].startswith(("Changed: ", "No audible change: "))  # the report, from the files
    # the model's own edit in every chunk: its steps, as the chunks' edits ran them
    code, o, e = run(capsys, "edit", str(src), "Make it louder", "-o", str(tmp_path / "o2.wav"),
                     "--model", str(tiny_bundle), "--steps", "1", "--t-start", "0.2")
    assert code == 0, e
    assert "(1 step, t_start 0.2; " in o and "chunks from disk)" in o, o


# -- what the CLI says ------------------------------------------------------------------------

def test_summary_separates_time_taken_from_clip_length(capsys, tmp_path, tiny_bundle):
    src = write(tmp_path / "in.wav", seconds=1.5, subtype="PCM_16")
    out = tmp_path / "o.wav"
    code, o, e = run(capsys, "edit", str(src), "Remove the beep", "-o", str(out), "--model", str(tiny_bundle),
                     "--steps", "1", "--engine", "model")
    assert code == 0, e
    lines = o.splitlines()
    assert lines[0] == f"Wrote {out} (WAV 16-bit PCM, 1.50 s of audio)"
    assert lines[1].startswith("Edited in ") and lines[1].endswith("s (1 step, t_start 0.01)")
    assert lines[2].startswith(("Changed: ", "No audible change: "))
    code, o, e = run(capsys, "edit", str(src), "Remove the beep", "-o", str(out), "--model", str(tiny_bundle),
                     "--steps", "2", "--engine", "model")
    assert "(2 steps, " in o


def test_a_silent_no_op_is_reported_with_what_to_try(capsys, tmp_path, tiny_bundle):
    """strength 0 with the mask render returns the clip (up to the STFT round trip): the CLI must
    not just say it is done."""
    src = write(tmp_path / "in.wav", seconds=1.5)
    code, o, e = run(capsys, "edit", str(src), "Remove the beep", "-o", str(tmp_path / "o.wav"), "--model",
                     str(tiny_bundle), "--steps", "1", "--render", "mask", "--strength", "0")
    assert code == 0, e
    line = o.splitlines()[2]
    assert line.startswith("No audible change: ") and "--region" in line and "--strength 2" in line
    assert line.lower().count("no audible change") == 1  # said once, then why
    assert "rephrasing" in line and "reference" not in line  # a reference is advice for Add only
    code, o, e = run(capsys, "edit", str(src), "Remove the beep", "-o", str(tmp_path / "o2.wav"), "--model",
                     str(tiny_bundle), "--steps", "1", "--render", "mask", "--strength", "0", "--region", "0.2:1.0")
    line = o.splitlines()[2]
    assert line.startswith("No audible change: ") and "--region" not in line
