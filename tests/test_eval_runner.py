"""The evaluation job and ``rfm-studio eval``: sweep rows, report files, unavailable metrics,
one-sentence errors for bad manifests."""

import json

import numpy as np
import pytest
import soundfile as sf

torch = pytest.importorskip("torch")

from rfm_studio.cli import main  # noqa: E402
from rfm_studio.core.errors import Cancelled, OptionError  # noqa: E402
from rfm_studio.core.evaluation.panns import build_cnn14  # noqa: E402
from rfm_studio.core.evaluation.runner import EvalConfig, evaluate, load_networks  # noqa: E402
from rfm_studio.core.evaluation.vggish import build_vggish  # noqa: E402
from rfm_studio.core.events import CancelToken  # noqa: E402

SR = 16000


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def _write_set(folder, n=2, seconds=1.0):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "audio").mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        m = int(seconds * SR)
        t = np.arange(m) / SR
        bg = 0.03 * rng.standard_normal(m)
        tone = np.where((t > 0.3) & (t < 0.7), 0.3 * np.sin(2 * np.pi * (500 + 300 * i) * t), 0.0)
        sf.write(folder / f"audio/{i}_in.wav", (bg + tone).astype(np.float32), SR)
        sf.write(folder / f"audio/{i}_tg.wav", bg.astype(np.float32), SR)
        row = {"id": f"clip{i}", "input": f"audio/{i}_in.wav", "target": f"audio/{i}_tg.wav",
               "instruction": "Remove the beeping", "target_caption": "background hiss", "task": "remove"}
        if i == 0:
            row["edit_spans"] = [[0.3, 0.7]]
        rows.append(row)
    (folder / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder / "test.jsonl"


@pytest.fixture(scope="module")
def testset(tmp_path_factory):
    return _write_set(tmp_path_factory.mktemp("evalset") / "set")


@pytest.fixture(scope="module")
def tiny_ckpts(tmp_path_factory):
    d = tmp_path_factory.mktemp("ckpt")
    torch.manual_seed(0)
    torch.save({"iteration": 0, "model": build_cnn14((4, 8, 8, 16, 16, 32), 24, 10).state_dict()},
               d / "Cnn14_16k_mAP=0.438.pth")
    torch.save(build_vggish((4, 4, 8, 8, 8, 8), (32, 32), 16).state_dict(), d / "vggish-10086976.pth")
    return d


def test_sweep_writes_one_row_per_setting(tmp_path, testset, tiny_bundle, tiny_ckpts, capsys):
    out = tmp_path / "report"
    rc = main(["eval", "--manifest", str(testset), "--model", str(tiny_bundle), "--out", str(out),
               "--t-start", "0,0.1", "--steps", "1,2", "--draws", "2", "--strength", "1.5", "--device", "cpu",
               "--panns-ckpt", str(tiny_ckpts / "Cnn14_16k_mAP=0.438.pth"),
               "--vggish-ckpt", str(tiny_ckpts / "vggish-10086976.pth"),
               "--clap-ckpt", str(tmp_path / "missing-630k-best.pt")])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    rep = json.loads((out / "report.json").read_text())
    settings = [(r["t_start"], r["steps"]) for r in rep["rows"]]
    assert settings == [(0.0, 1), (0.0, 2), (0.1, 1), (0.1, 2)]
    assert rep["settings"]["t_start"] == [0.0, 0.1] and rep["settings"]["steps"] == [1, 2]
    assert rep["settings"]["draws"] == 2 and all(r["draws"] == 2 for r in rep["rows"])
    assert rep["settings"]["strength"] == 1.5 and all(r["strength"] == 1.5 for r in rep["rows"])
    assert "2 noise draw(s) per edit, strength 1.5" in (out / "report.md").read_text()
    assert rep["device"]["device"] == "cpu" and rep["device"]["threads"] >= 1
    for row in rep["rows"]:
        assert [c["id"] for c in row["clips"]] == ["clip0", "clip1"]
        assert row["time"]["n"] == 2 and row["time"]["mean_s"] > 0 and row["time"]["median_s"] > 0
        m = row["metrics"]
        for key in ("fd", "fad", "kl", "is", "gain", "keep_error", "lsd", "si_sdr", "success_rate"):
            assert m[key]["available"] is True and isinstance(m[key]["value"], float), key
        # the missing CLAP checkpoint is reported with its reason, never as a number
        assert m["clap"] == {"available": False, "reason": m["clap"]["reason"]}
        assert "not found" in m["clap"]["reason"]
        assert all("clap" not in c for c in row["clips"])
        assert row["by_task"]["remove"]["n"] == 2
    assert rep["rows"][0]["clips"][0]["edited_frames_from"] == "spans + mel-difference"
    assert rep["rows"][0]["clips"][1]["edited_frames_from"] == "mel-difference"
    base = rep["baseline"]
    assert base["metrics"]["gain"]["value"] == pytest.approx(0.0)
    assert base["metrics"]["keep_error"]["value"] == pytest.approx(0.0)
    assert rep["networks"]["panns"]["network"] == "Cnn14_16k" and len(rep["networks"]["panns"]["sha256"]) == 64
    md = (out / "report.md").read_text()
    table = md.split("## Quality")[1].split("## Model-free")[0]
    assert sum(line.startswith("| t0") for line in table.splitlines()) == 4
    assert "| input (no edit) |" in table and "n/a" in table
    assert "## Unavailable metrics" in md and "CLAP checkpoint not found" in md
    assert (out / "t_start_sweep.png").stat().st_size > 1000 and (out / "edit_time.png").exists()
    assert "t0.1_s2" in captured.out and "report.md" in captured.out  # tables printed
    assert "edit" in captured.err  # progress bar


def test_missing_checkpoints_are_unavailable_not_zero(tmp_path):
    cfg = EvalConfig(manifest="unused", out=tmp_path, panns_ckpt=tmp_path / "nope.pth",
                     vggish_ckpt=tmp_path / "vggish-10086976.pth", clap_ckpt=None)
    (tmp_path / "vggish-10086976.pth").write_bytes(b"truncated download")
    nets = load_networks(cfg, "cpu")
    assert nets["panns"] == {"available": False, "reason": f"PANNs checkpoint not found: {tmp_path / 'nope.pth'}"}
    assert nets["vggish"]["available"] is False and "vggish-10086976.pth" in nets["vggish"]["reason"]
    assert nets["clap"]["available"] is False and "--clap-ckpt" in nets["clap"]["reason"]
    assert not any("value" in v for v in nets.values())


def test_default_settings_and_cancel(tmp_path, testset, tiny_model):
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        evaluate(EvalConfig(manifest=testset, out=tmp_path / "c"), cancel=token, model=tiny_model)
    from test_eval_networks import _tiny_hf_clap

    clap_dir = _tiny_hf_clap(tmp_path / "clap-tiny")
    rep = evaluate(EvalConfig(manifest=testset, out=tmp_path / "d", limit=1, baseline=False, warmup=False,
                              plots=False, clap_ckpt=clap_dir), model=tiny_model)
    assert len(rep["rows"]) == 1 and rep["baseline"] is None
    row = rep["rows"][0]
    assert (row["t_start"], row["steps"]) == (tiny_model.flow.sampler.t_start, tiny_model.flow.sampler.steps)
    assert row["draws"] == rep["settings"]["draws"] == tiny_model.flow.sampler.draws  # the model's default, recorded
    clap = row["metrics"]["clap"]
    assert clap["available"] is True and clap["n"] == 1 and -1 <= clap["value"] <= 1
    assert clap["value"] == pytest.approx(row["clips"][0]["clap"])
    assert rep["networks"]["clap"]["format"] == "huggingface"
    assert all(row["metrics"][k]["available"] is False for k in ("fd", "fad", "kl", "is"))
    assert row["metrics"]["fd"]["reason"].startswith("no checkpoint given")
    assert row["metrics"]["fd"] == {"available": False, "reason": row["metrics"]["fd"]["reason"]}
    assert not (tmp_path / "d" / "t_start_sweep.png").exists()


def _bad(tmp_path, name, lines, files=True):
    d = tmp_path / name
    d.mkdir()
    if files:
        (d / "a.wav").write_bytes(b"")
        sf.write(d / "in.wav", np.zeros(1600, np.float32), SR)
        sf.write(d / "tg.wav", np.zeros(1600, np.float32), SR)
        (d / "text.wav").write_text("not audio")
        sf.write(d / "empty.wav", np.zeros(0, np.float32), SR)
    (d / "m.jsonl").write_text("\n".join(lines) + "\n")
    return d / "m.jsonl"


OK = '"input": "in.wav", "target": "tg.wav", "instruction": "Remove it"'


@pytest.mark.parametrize("case, lines, needle", [
    ("json", ["{not json"], "not valid JSON"),
    ("field", ['{"input": "in.wav", "instruction": "x"}'], "no 'target' field"),
    ("missing", ['{"input": "in.wav", "target": "gone.wav", "instruction": "x"}'], "audio file not found"),
    ("outside", ['{"input": "../../etc/passwd", "target": "tg.wav", "instruction": "x"}'], "outside"),
    ("dup", ['{"id": "a", ' + OK + '}', '{"id": "a", ' + OK + '}'], "repeats the id"),
    ("span", ['{' + OK + ', "edit_spans": [[2.0, 1.0]]}'], "invalid edit span"),
    ("empty", [""], "has no triplets"),
    ("caption", ['{' + OK + ', "target_caption": 3}'], "target_caption"),
    ("notaudio", ['{"input": "in.wav", "target": "text.wav", "instruction": "x"}'], "Cannot read text.wav"),
    ("nosamples", ['{"input": "empty.wav", "target": "tg.wav", "instruction": "x"}'], "no audio samples"),
])
def test_cli_bad_manifest_exits_2_with_one_sentence(tmp_path, capsys, case, lines, needle):
    m = _bad(tmp_path, case, lines)
    out = tmp_path / f"out_{case}"
    rc = main(["eval", "--manifest", str(m), "--out", str(out), "--model", str(tmp_path / "no-model")])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert err.startswith("rfm-studio: ") and needle in err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()  # nothing written


def test_cli_bad_options_exit_2(tmp_path, capsys, testset):
    assert main(["eval", "--manifest", str(tmp_path / "none.jsonl"), "--out", str(tmp_path / "o")]) == 2
    assert "Manifest not found" in capsys.readouterr().err
    for opts, needle in ((["--t-start", "0,abc"], "--t-start"), (["--t-start", "0,2"], "between 0 and 1"),
                         (["--steps", "0"], "between 1 and 2000"), (["--limit", "0"], "--limit"),
                         (["--draws", "0"], "Draws")):
        rc = main(["eval", "--manifest", str(testset), "--out", str(tmp_path / "o")] + opts)
        err = capsys.readouterr().err.strip()
        assert rc == 2 and needle in err and len(err.splitlines()) == 1, (opts, err)
    with pytest.raises(OptionError, match="t_start"):
        evaluate(EvalConfig(manifest=testset, out=tmp_path / "o", t_starts=[1.5]))
