"""edit-batch and the CLI's file handling: every row checked before the model loads, no
output that is another row's input, nothing written when a row fails part-way, per-row
regions, file-system errors and out-of-range options as one sentence, normal file modes."""

import json
import os
import stat

import numpy as np
import pytest
import soundfile as sf

from conftest import run_cli as run, one_sentence, tone


@pytest.fixture()
def folder(tmp_path):
    d = tmp_path / "set"
    d.mkdir()
    for name, seed in (("dog", 0), ("ship", 1)):
        sf.write(d / f"{name}.wav", tone(1.0, seed=seed), 16000)
    return d


def manifest(d, rows):
    (d / "m.jsonl").write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows))
    return str(d / "m.jsonl")


def snapshot(d):
    return {p.name: p.read_bytes() for p in sorted(d.iterdir())}


def test_an_output_that_is_another_rows_input_is_refused(capsys, folder, tiny_bundle):
    m = manifest(folder, [{"id": "ship", "input": "dog.wav", "instruction": "Remove the dog"},
                          {"id": "x", "input": "ship.wav", "instruction": "Remove the horn"}])
    before = snapshot(folder)
    code, _, e = run(capsys, "edit-batch", m, "--out-dir", str(folder), "--model", str(tiny_bundle), "--steps", "1")
    assert code == 2 and one_sentence(e) and "is an input" in e, e
    assert snapshot(folder) == before


def test_duplicate_ids_are_refused(capsys, folder, tiny_bundle, tmp_path):
    m = manifest(folder, [{"id": "a", "input": "dog.wav", "instruction": "x"},
                          {"id": "a", "input": "ship.wav", "instruction": "y"}])
    code, _, e = run(capsys, "edit-batch", m, "--out-dir", str(tmp_path / "out"), "--model", str(tiny_bundle))
    assert code == 2 and one_sentence(e) and "line 1" in e and not (tmp_path / "out").exists(), e


@pytest.mark.parametrize("bad", ["text", "instruction", "not_object"])
def test_a_bad_row_is_found_before_the_model_loads(capsys, folder, tmp_path, bad):
    """A later row's problem is named before anything loads (the model path here does not exist)."""
    (folder / "fake.wav").write_text("not audio")
    second = {"text": {"id": "b", "input": "fake.wav", "instruction": "x"},
              "instruction": {"id": "b", "input": "ship.wav", "instruction": "  "},
              "not_object": "null"}[bad]
    m = manifest(folder, [{"id": "a", "input": "dog.wav", "instruction": "x"}, second])
    code, _, e = run(capsys, "edit-batch", m, "--out-dir", str(tmp_path / "out"), "--model", str(tmp_path / "none"))
    assert code == 2 and one_sentence(e) and ("Line 2" in e or "fake.wav" in e), e
    assert "model" not in e.lower() and not (tmp_path / "out").exists()


def test_a_row_failing_part_way_leaves_the_output_folder_unchanged(capsys, folder, tiny_bundle, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.wav").write_bytes(b"an earlier result")
    x = tone(1.0)
    x[100] = np.nan  # only found when the samples are read, after the first row was edited
    sf.write(folder / "nan.wav", x, 16000, subtype="FLOAT")
    m = manifest(folder, [{"id": "a", "input": "dog.wav", "instruction": "x"},
                          {"id": "b", "input": "nan.wav", "instruction": "x"}])
    code, _, e = run(capsys, "edit-batch", m, "--out-dir", str(out), "--model", str(tiny_bundle), "--steps", "1")
    last = e.splitlines()[-1] + "\n"  # after the progress bar
    assert code == 2 and one_sentence(last) and "NaN" in last, e
    assert snapshot(out) == {"a.wav": b"an earlier result"}


def test_a_rows_region_limits_its_edit(capsys, folder, tiny_bundle, tmp_path):
    m = manifest(folder, [{"id": "a", "input": "dog.wav", "instruction": "Remove the beep", "region": "0.5:0.8"},
                          {"id": "b", "input": "ship.wav", "instruction": "Remove the beep", "region": [0.2, 0.4]},
                          {"id": "c", "input": "dog.wav", "instruction": "Remove the beep"}])
    code, _, e = run(capsys, "edit-batch", m, "--out-dir", str(tmp_path / "out"), "--model", str(tiny_bundle),
                     "--steps", "1")
    assert code == 0, e
    x, _ = sf.read(folder / "dog.wav", dtype="float32")
    a, _ = sf.read(tmp_path / "out" / "a.wav", dtype="float32")
    c, _ = sf.read(tmp_path / "out" / "c.wav", dtype="float32")
    assert np.array_equal(a[:8000], x[:8000]) and np.array_equal(a[12800:], x[12800:])
    assert not np.array_equal(a[8400:12400], x[8400:12400])
    assert not np.array_equal(c[:8000], x[:8000])  # without a region the whole clip is edited
    bad = manifest(folder, [{"id": "a", "input": "dog.wav", "instruction": "x", "region": "5:6"}])
    code, _, e = run(capsys, "edit-batch", bad, "--out-dir", str(tmp_path / "o2"), "--model", str(tiny_bundle))
    assert code == 2 and one_sentence(e) and "Region" in e and not (tmp_path / "o2").exists()


def test_file_system_errors_are_one_sentence(capsys, folder, tiny_bundle, tmp_path):
    (tmp_path / "dir.wav").mkdir()
    code, _, e = run(capsys, "edit", str(folder / "dog.wav"), "x", "-o", str(tmp_path / "dir.wav"),
                     "--model", str(tiny_bundle), "--steps", "1")
    assert code == 2 and one_sentence(e) and "folder" in e, e
    m = manifest(folder, [{"id": "a", "input": "dog.wav", "instruction": "x"}])
    code, _, e = run(capsys, "edit-batch", m, "--out-dir", str(folder / "dog.wav"), "--model", str(tiny_bundle))
    assert code == 2 and one_sentence(e) and "is a file" in e, e


def test_os_errors_reaching_the_cli_are_one_sentence(capsys, folder, tiny_bundle, tmp_path, monkeypatch):
    import rfm_studio.core.audio.io as io

    def refuse(*a, **k):
        raise PermissionError(13, "Permission denied", str(tmp_path / "o.wav"))

    monkeypatch.setattr(io, "temp_beside", refuse)
    code, _, e = run(capsys, "edit", str(folder / "dog.wav"), "x", "-o", str(tmp_path / "o.wav"),
                     "--model", str(tiny_bundle), "--steps", "1")
    assert code == 2 and one_sentence(e) and "permission denied" in e and "o.wav" in e, e


def test_a_seed_out_of_range_is_one_sentence(capsys, folder, tmp_path):
    for seed in ("99999999999999999999", "-1"):
        code, _, e = run(capsys, "edit", str(folder / "dog.wav"), "x", "-o", str(tmp_path / "o.wav"),
                         "--model", str(tmp_path / "none"), "--seed", seed)
        assert code == 2 and one_sentence(e) and "Seed" in e, e


def test_outputs_get_a_normal_file_mode(capsys, folder, tiny_bundle, tmp_path):
    old = os.umask(0o027)
    try:
        out = tmp_path / "o.wav"
        code, _, e = run(capsys, "edit", str(folder / "dog.wav"), "x", "-o", str(out), "--model", str(tiny_bundle),
                         "--steps", "1")
        assert code == 0, e
        assert stat.S_IMODE(out.stat().st_mode) == 0o640
    finally:
        os.umask(old)


@pytest.mark.parametrize("opt,needle", [(["--steps", "0"], "steps"), (["--lr", "-1"], "lr"),
                                        (["--batch-size", "0"], "batch_size"),
                                        (["--config", '{"ema": 1.5}'], "ema")])
def test_train_refuses_settings_out_of_range(capsys, tmp_path, opt, needle):
    code, _, e = run(capsys, "train", "--data", str(tmp_path / "none.jsonl"), "--out", str(tmp_path / "run"), *opt)
    assert code == 2 and one_sentence(e) and needle in e, e
    assert not (tmp_path / "run").exists()
