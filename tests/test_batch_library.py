"""edit-batch over core.batch: rows with their own library sounds (reference files, library
names and searches) as edit uses them, all or none, errors before the model where edit has them."""

import json

import numpy as np
import pytest
import soundfile as sf

from rfm_studio.cli import main
from test_library_place import SR, bark, scene


@pytest.fixture()
def data_dir(tmp_path, monkeypatch):
    d = tmp_path / "userdata"
    monkeypatch.setenv("RFM_STUDIO_DATA_DIR", str(d))
    return d


def _set(tmp_path, rows):
    x = scene(3.0)
    sf.write(tmp_path / "in.wav", x, SR)
    (tmp_path / "sounds").mkdir()
    sf.write(tmp_path / "sounds" / "bark.wav", bark(SR), SR)
    (tmp_path / "m.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return x


def _read(path):
    return sf.read(path, dtype="float32")[0]


def test_rows_use_their_reference_their_library_file_or_the_best_match(tmp_path, data_dir, tiny_bundle, capsys):
    rows = [{"id": "ref", "input": "in.wav", "instruction": "Add a dog barking", "region": "1:2.5",
             "reference": "sounds/bark.wav"},
            {"id": "lib", "input": "in.wav", "instruction": "Add birds chirping", "region": [1, 2.5],
             "library": "bird_chirp_01.ogg"},
            {"id": "best", "input": "in.wav", "instruction": "Add a dog barking", "region": "1:2.5"},
            {"id": "text", "input": "in.wav", "instruction": "Remove the hum", "region": "1:2.5"}]
    x = _set(tmp_path, rows)
    out = tmp_path / "out"
    assert main(["edit-batch", str(tmp_path / "m.jsonl"), "--out-dir", str(out), "--model", str(tiny_bundle),
                 "--steps", "1"]) == 0
    o = capsys.readouterr().out
    lines = {ln.split(":", 1)[0]: ln for ln in o.splitlines() if ":" in ln}
    assert "used reference" in lines["ref"] and "bark.wav" in lines["ref"] and "added at" in lines["ref"]
    assert "bird_chirp_01.ogg" in lines["lib"]
    assert "library match for 'a dog barking'" in lines["best"] and "dog_bark_" in lines["best"]
    assert "used" not in lines["text"]
    for rid in ("ref", "lib", "best"):
        y = _read(out / f"{rid}.wav")
        assert not np.allclose(y, x, atol=1e-4)  # a real sound was put in
        assert np.allclose(y[:SR], x[:SR], atol=1e-4) and np.allclose(y[int(2.5 * SR):], x[int(2.5 * SR):], atol=1e-4)


def test_the_batch_reference_serves_add_rows_only(tmp_path, data_dir, tiny_bundle, capsys):
    rows = [{"id": "add", "input": "in.wav", "instruction": "Add a dog barking", "region": "1:2.5"},
            {"id": "rm", "input": "in.wav", "instruction": "Remove the hum", "region": "1:2.5"}]
    _set(tmp_path, rows)
    assert main(["edit-batch", str(tmp_path / "m.jsonl"), "--out-dir", str(tmp_path / "out"), "--model",
                 str(tiny_bundle), "--steps", "1", "--reference", str(tmp_path / "sounds" / "bark.wav")]) == 0
    o = capsys.readouterr().out
    assert "add: used reference" in o and "rm: used" not in o


@pytest.mark.parametrize("row, needle", [
    ({"reference": "sounds/bark.wav", "library": "x"}, "either reference or library"),
    ({"reference": "sounds/nope.wav"}, "Reference file not found"),
    ({"reference": 3}, "reference must be"),
    ({"library": "bird_chirp_01.ogg", "instruction": "Remove the hum"}, "library needs an 'Add"),
])
def test_bad_row_references_are_one_sentence_before_the_model(tmp_path, data_dir, capsys, monkeypatch, row, needle):
    import rfm_studio.commands.edit as E

    def refuse(args):
        raise AssertionError("the model was loaded before the rows were checked")

    monkeypatch.setattr(E, "load_model", refuse)
    _set(tmp_path, [{"id": "a", "input": "in.wav", "instruction": "Add a dog barking", **row}])
    assert main(["edit-batch", str(tmp_path / "m.jsonl"), "--out-dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rfm-studio: Line 1 of m.jsonl: ") and needle in err and err.count("\n") == 1, err
    assert not (tmp_path / "out").exists()


def test_core_batch_items_carry_their_own_edit_and_commit_all_or_none(tmp_path, tiny_model):
    from rfm_studio.core.batch import BatchItem, run_batch
    from rfm_studio.core.editing import drive
    from rfm_studio.core.errors import AudioReadError

    x = scene(3.0)
    sf.write(tmp_path / "a.wav", x, SR)
    (tmp_path / "bad.wav").write_bytes(b"not audio")
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.wav").write_bytes(b"old")
    items = [BatchItem(tmp_path / "a.wav", out / "a.wav", "Remove the hum", (0.5, 1.0),
                       residual=out / "a.residual.wav"),
             BatchItem(tmp_path / "bad.wav", out / "b.wav", "Remove the beep")]
    with pytest.raises(AudioReadError):
        drive(run_batch(tiny_model, items, "", {"steps": 1}, commit_to=out))
    assert sorted(p.name for p in out.iterdir()) == ["a.wav"] and (out / "a.wav").read_bytes() == b"old"
    summary = drive(run_batch(tiny_model, items[:1], "", {"steps": 1}, commit_to=out,
                              describe=lambda item, audio, res: f"{res.instruction} {res.params['region']}"))
    assert summary["reports"] == [(0, "Remove the hum [0.5, 1.0]")]
    y, r = _read(out / "a.wav"), _read(out / "a.residual.wav")
    assert np.allclose(y[: int(0.5 * SR)], x[: int(0.5 * SR)], atol=1e-4)
    xin = _read(tmp_path / "a.wav")  # as the edit read it
    assert np.abs(r).max() > 1e-3 and np.allclose(r, np.clip(xin - y, -1, 1), atol=1e-4)


def test_relay_rewraps_events_returns_the_value_and_closes_early():
    from rfm_studio.core.events import relay

    closed = []

    def inner():
        try:
            yield 1
            yield 2
            return "done"
        finally:
            closed.append(True)

    def outer():
        return (yield from relay(inner(), lambda e: e * 10))

    g = outer()
    assert next(g) == 10 and next(g) == 20
    with pytest.raises(StopIteration) as stop:
        next(g)
    assert stop.value.value == "done"
    g2 = outer()
    next(g2)
    g2.close()  # the consumer stops early: the inner generator is closed too
    assert closed == [True, True]
