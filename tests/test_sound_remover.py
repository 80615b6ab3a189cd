"""The sound remover (core/detection/remover.py, remover_train.py) and its engine (--engine
remover): config and weights round trip, training that resumes, export, keep gains over a long
clip, the edit (rate, channels, region, strength), the experiment's state dict, and the CLI."""

import json

import numpy as np
import pytest

from tiny_bank import make_tiny_bank, tiny_run

TINY = {"channels": [4, 8, 8, 8], "width": 16, "dilations": [1, 2], "refine": 4}


@pytest.fixture(scope="module")
def bank(tmp_path_factory):
    return make_tiny_bank(tmp_path_factory.mktemp("remover_bank"))


@pytest.fixture(scope="module")
def trained(bank, tmp_path_factory, minilm):
    """A run of 6 steps on the tiny bank, cancelled after 3 and resumed."""
    from rfm_studio.core.detection.remover_train import RemoverTrainConfig, train_remover

    return tiny_run(train_remover, RemoverTrainConfig, bank, tmp_path_factory.mktemp("remover_run"), TINY)


@pytest.fixture
def remover_net(trained, tmp_path):
    from rfm_studio.core.detection.remover import load
    from rfm_studio.core.detection.remover_train import export

    return load(export(trained[0], tmp_path / "remover"))[1]


def _tiny():
    from rfm_studio.core.detection.remover import RemoverConfig, build

    cfg = RemoverConfig.from_dict(TINY)
    return cfg, build(cfg)


def test_build_save_load_round_trip_and_other_kinds_are_refused(tmp_path):
    import torch

    from rfm_studio.core.detection import model as finder_model
    from rfm_studio.core.detection.remover import load, save
    from rfm_studio.core.errors import RFMError

    cfg, net = _tiny()
    mel, text = torch.randn(2, 64, 151) - 5.0, torch.randn(2, 384)
    mask, frame = net(mel, text)
    assert mask.shape == (2, 64, 151) and frame.shape == (2, 151)
    assert float(torch.sigmoid(mask).max().detach()) < 0.05  # a new remover keeps nearly everything
    for half in (False, True):
        folder = save(tmp_path / f"r{half}", cfg, net, half=half)
        assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
        assert json.loads((folder / "config.json").read_text())["kind"] == "rfm-studio-sound-remover"
        cfg2, net2 = load(folder)
        assert cfg2 == cfg
        with torch.no_grad():
            assert torch.allclose(net2(mel, text)[0], mask, atol=1e-2 if half else 1e-6)
    # a remover is no sound finder, and a sound finder no remover: one sentence each
    with pytest.raises(RFMError, match="holds a rfm-studio-sound-remover .* reads a rfm-studio-sound-finder"):
        finder_model.load(tmp_path / "rFalse")
    fcfg = finder_model.DetectorConfig(channels=(4, 8, 8, 8), width=16, dilations=(1, 2))
    finder_model.save(tmp_path / "finder", fcfg, finder_model.build(fcfg))
    with pytest.raises(RFMError, match="holds a rfm-studio-sound-finder .* reads a rfm-studio-sound-remover"):
        load(tmp_path / "finder")
    d = json.loads((tmp_path / "rFalse" / "config.json").read_text())
    (tmp_path / "rFalse" / "config.json").write_text(json.dumps({**d, "refine": 8}))
    with pytest.raises(RFMError, match="sound remover weights .* do not fit its config"):
        load(tmp_path / "rFalse")


def test_training_yields_steps_resumes_and_exports(trained, tmp_path):
    from rfm_studio.core.detection.remover import load
    from rfm_studio.core.detection.remover_train import export

    run, cfg, first, second = trained
    assert [e.step for e in first] == [1, 2, 3]
    assert [e.step for e in second] == [4, 5, 6]  # resumed after step 3, not from 0
    assert all(np.isfinite(e.loss) for e in first + second)
    assert [e.step for e in first + second if e.message] == [2, 4, 6]  # validation every 2 steps
    assert "val loss" in second[-1].message and "L1" in second[-1].message
    assert json.loads((run / "checkpoints" / "latest.json").read_text())["step"] == 6
    folder = export(run, tmp_path / "remover")
    d = json.loads((folder / "config.json").read_text())
    assert d["width"] == 16 and d["refine"] == 4 and d["trained"]["steps"] in (2, 4, 6)
    cfg2, net = load(folder)
    assert cfg2.channels == (4, 8, 8, 8)


def test_a_run_resumes_only_with_its_own_network_and_starts_its_trunk_from_a_finder(trained, bank, tmp_path):
    import dataclasses

    import torch

    from rfm_studio.core.detection import model as finder_model
    from rfm_studio.core.detection.remover_train import train_remover
    from rfm_studio.core.errors import OptionError
    from rfm_studio.core.events import CancelToken
    from rfm_studio.core.model.files import load_safetensors

    run, cfg, *_ = trained
    with pytest.raises(OptionError, match="another remover network"):
        next(train_remover(dataclasses.replace(cfg, model={**cfg.model, "refine": 8})))
    fcfg = finder_model.DetectorConfig(channels=(4, 8, 8, 8), width=16, dilations=(1, 2))
    torch.manual_seed(3)
    finder = finder_model.build(fcfg)
    finder_model.save(tmp_path / "finder", fcfg, finder)
    token = CancelToken()
    token.cancel()  # checkpointed before its first step: the weights it starts from
    new = dataclasses.replace(cfg, out=str(tmp_path / "run"), init=str(tmp_path / "finder"))
    assert list(train_remover(new, token)) == []
    w = load_safetensors(tmp_path / "run" / "checkpoints" / "step-0000000" / "model.safetensors")
    for k, v in finder.state_dict().items():
        assert torch.equal(w[f"net.f.{k}"], v) and torch.equal(w[f"ema.f.{k}"], v)
    other = finder_model.DetectorConfig(channels=(4, 8, 8, 8), width=24, dilations=(1, 2))
    finder_model.save(tmp_path / "wide", other, finder_model.build(other))
    with pytest.raises(OptionError, match="another network than this run's trunk"):
        next(train_remover(dataclasses.replace(cfg, out=str(tmp_path / "run2"), init=str(tmp_path / "wide"))))
    assert not (tmp_path / "run2").exists()
    # a sound remover's folder (an exported run, an imported experiment): the whole network
    from rfm_studio.core.detection.remover_train import export

    start = export(run, tmp_path / "exported", half=False)
    from rfm_studio.core.detection.remover import load as load_remover_folder

    _, exported = load_remover_folder(start)
    new = dataclasses.replace(cfg, out=str(tmp_path / "run3"), init=str(start))
    assert list(train_remover(new, token)) == []
    w = load_safetensors(tmp_path / "run3" / "checkpoints" / "step-0000000" / "model.safetensors")
    for k, v in exported.state_dict().items():
        assert torch.equal(w[f"net.{k}"], v) and torch.equal(w[f"ema.{k}"], v)


def test_keep_gains_over_a_long_clip_in_windows_and_cancel_stops_between_them(remover_net, monkeypatch):
    from rfm_studio.core.detection import remover
    from rfm_studio.core.errors import Cancelled
    from rfm_studio.core.events import CancelToken

    x = 0.1 * np.random.default_rng(0).standard_normal(16000 * 4 + 77).astype(np.float32)
    whole = remover.keep_gains(remover_net, x, "a dog barking")
    monkeypatch.setattr(remover, "WINDOW_S", 1.0)  # 5 windows of 1 s, 0.5 s of context each side
    monkeypatch.setattr(remover, "CONTEXT_S", 0.5)
    keep = remover.keep_gains(remover_net, x, "a dog barking")
    assert keep.shape == whole.shape == (64, len(x) // 160 + 1)
    assert np.all((keep >= 0) & (keep <= 1)) and np.all(np.isfinite(keep))
    assert np.corrcoef(keep.ravel(), whole.ravel())[0, 1] > 0.5  # the same answer, up to the windows' context

    def per_bin(mel, text):  # answers each bin from itself alone: windows must put it back in place
        return mel / 10.0, mel.mean(1)

    windowed = remover.keep_gains(per_bin, x, "a dog barking")
    monkeypatch.setattr(remover, "WINDOW_S", 60.0)
    assert np.abs(windowed - remover.keep_gains(per_bin, x, "a dog barking")).max() < 1e-5
    monkeypatch.setattr(remover, "WINDOW_S", 1.0)
    for n in (1, 300, 513):  # shorter than the STFT window
        assert remover.keep_gains(remover_net, np.full(n, 0.1, np.float32), "rain").shape == (64, n // 160 + 1)
    token, calls = CancelToken(), []

    def net(mel, text):  # cancels during the first window
        calls.append(mel.shape[-1])
        token.cancel()
        return remover_net(mel, text)

    with pytest.raises(Cancelled):
        remover.keep_gains(net, x, "a dog barking", cancel=token)
    assert len(calls) == 1  # stopped before the second window


def _installed(monkeypatch, tmp_path, bias=None):
    """A tiny remover installed as the shipped one; ``bias``: its coarse mask logits' bias (8:
    it takes out nearly everything)."""
    import torch

    from rfm_studio.core.detection import remover

    cfg, net = _tiny()
    if bias is not None:
        with torch.no_grad():
            net.coarse.bias.fill_(bias)
    remover.save(tmp_path / "sound-remover", cfg, net)
    monkeypatch.setattr(remover, "shipped_remover_dir", lambda: tmp_path / "sound-remover")
    return net


def test_the_remover_engine_keeps_rate_channels_and_length_and_changes_only_the_region(monkeypatch, tmp_path, minilm):
    from rfm_studio.core.editing import edit, run_edit
    from rfm_studio.core.events import EditRequest, ProgressEvent
    from rfm_studio.core.separation.engine import removal_engine

    _installed(monkeypatch, tmp_path, bias=8.0)
    sr = 44100
    t = np.arange(int(sr * 3.3)) / sr
    x = np.stack([0.3 * np.sin(2 * np.pi * 600 * t), 0.2 * np.sin(2 * np.pi * 900 * t)], 1).astype(np.float32)
    events = []
    gen = run_edit(None, EditRequest(x, sr, "Remove the dog barking", engine="remover"))
    while True:
        try:
            events.append(next(gen))
        except StopIteration as stop:
            res = stop.value
            break
    assert [(e.stage, e.stages) for e in events if isinstance(e, ProgressEvent)] == [(1, 2), (2, 2)]
    assert res.audio.shape == x.shape and res.sample_rate == sr and res.audio.dtype == np.float32
    assert res.params["engine"] == "remover" and res.params["sound"] == "dog barking"
    rms = lambda a: float(np.sqrt(np.mean(a ** 2)))  # noqa: E731
    assert rms(res.audio[sr // 2: -sr // 2]) < 0.05 * rms(x[sr // 2: -sr // 2])  # nearly everything taken out
    r = edit(None, x, sr, "Remove the dog barking", engine="remover", region=(1.0, 2.0))
    a, b = sr, 2 * sr
    assert np.array_equal(r.audio[:a], x[:a]) and np.array_equal(r.audio[b:], x[b:])  # outside: sample-identical
    assert rms(r.audio[a + sr // 10: b - sr // 10]) < 0.05 * rms(x[a + sr // 10: b - sr // 10])
    assert r.params["region"] == [1.0, 2.0]
    zero = edit(None, x, sr, "Remove the dog barking", engine="remover", strength=0.0)
    assert np.array_equal(zero.audio, x)  # strength 0: nothing removed
    mono = edit(None, x[:, 0], 22050, "Remove the dog barking", engine="remover")
    assert mono.audio.shape == (len(x),) and mono.sample_rate == 22050
    # auto never chooses it; it runs only a "Remove X"
    assert removal_engine("Remove the dog", "auto", ()) != "remover"
    assert removal_engine("Remove the dog", "remover", ()) == "remover"
    assert removal_engine("Add a dog", "remover", ()) == "model"


def test_the_remover_engine_is_cancelled_and_needs_an_installed_remover(monkeypatch, tmp_path, minilm):
    from rfm_studio.core.detection import remover
    from rfm_studio.core.editing import edit
    from rfm_studio.core.errors import Cancelled, ModelLoadError
    from rfm_studio.core.events import CancelToken

    x = 0.1 * np.random.default_rng(1).standard_normal(16000 * 3).astype(np.float32)
    monkeypatch.setattr(remover, "shipped_remover_dir", lambda: tmp_path / "none")
    with pytest.raises(ModelLoadError, match="No sound remover is installed"):
        edit(None, x, 16000, "Remove the rain", engine="remover")
    _installed(monkeypatch, tmp_path)
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        edit(None, x, 16000, "Remove the rain", engine="remover", cancel=token)


def test_from_experiment_loads_a_state_dict_of_the_experiments_names(tmp_path):
    import torch
    from safetensors.torch import save_file

    from rfm_studio.core.detection.remover import RemoverConfig, build, load
    from rfm_studio.core.detection.remover_train import from_experiment
    from rfm_studio.core.errors import RFMError

    torch.manual_seed(1)
    net = build(RemoverConfig())  # the experiment's network: the default finder's trunk
    sd = {k: v.contiguous() for k, v in net.state_dict().items()}
    assert {k.split(".")[0] for k in sd} == {"f", "coarse", "refine"}
    save_file(sd, str(tmp_path / "last.safetensors"))
    (tmp_path / "state.json").write_text(json.dumps({"step": 149}))
    folder = from_experiment(tmp_path / "last.safetensors", tmp_path / "remover")
    assert json.loads((folder / "config.json").read_text())["trained"]["steps"] == 149
    cfg, loaded = load(folder)
    assert cfg == RemoverConfig()
    for k, v in loaded.state_dict().items():
        assert torch.equal(v, sd[k])
    save_file({"f.proj.weight": torch.zeros(3, 3)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(RFMError):
        from_experiment(tmp_path / "other.safetensors", tmp_path / "bad")
    assert not (tmp_path / "bad").exists()


def test_cli_refuses_bad_input_in_one_sentence(bank, trained, tmp_path, capsys):
    from conftest import one_sentence, run_cli

    for argv in (["--steps", "0"], ["--two-prob", "0.7", "--absent-prob", "0.5"], ["--init", str(tmp_path)],
                 ["--lr", "0"], ["--absent-any", "2"], ["--warmup", "-1"]):
        code, out, err = run_cli(capsys, "remover", "train", "--bank", str(bank), "--out", str(tmp_path / "r"), *argv)
        assert code == 2 and one_sentence(err), (argv, err)
        assert not (tmp_path / "r").exists()
    code, out, err = run_cli(capsys, "remover", "train", "--bank", str(tmp_path), "--out", str(tmp_path / "r"))
    assert code == 2 and "No event bank" in err and one_sentence(err)
    code, out, err = run_cli(capsys, "remover", "export", str(tmp_path / "nope"), str(tmp_path / "d"))
    assert code == 2 and one_sentence(err) and not (tmp_path / "d").exists()
    code, out, err = run_cli(capsys, "remover", "import", str(tmp_path / "nope.safetensors"), str(tmp_path / "d"))
    assert code == 2 and one_sentence(err) and not (tmp_path / "d").exists()
    (tmp_path / "junk.safetensors").write_bytes(b"not a state dict")
    code, out, err = run_cli(capsys, "remover", "import", str(tmp_path / "junk.safetensors"), str(tmp_path / "d"))
    assert code == 2 and one_sentence(err) and not (tmp_path / "d").exists()
    code, out, err = run_cli(capsys, "remover", "export", str(trained[0]), str(tmp_path / "ok"))
    assert code == 0 and (tmp_path / "ok" / "model.safetensors").is_file()


def test_cli_edit_on_the_remover_engine_whole_and_from_disk_in_chunks(capsys, tmp_path, tiny_bundle, monkeypatch):
    import soundfile as sf

    from conftest import one_sentence, run_cli
    from rfm_studio.core.detection import remover
    from test_dictionary_removal import stream_in_chunks

    sr = 22050
    t = np.arange(int(sr * 5.5)) / sr
    x = np.stack([0.3 * np.sin(2 * np.pi * 600 * t)] * 2, 1).astype(np.float32)
    src = tmp_path / "in.wav"
    sf.write(str(src), x, sr, subtype="FLOAT")
    monkeypatch.setattr(remover, "shipped_remover_dir", lambda: tmp_path / "none")
    code, out, err = run_cli(capsys, "edit", str(src), "Remove the beep", "-o", str(tmp_path / "o0.wav"),
                             "--engine", "remover", "--model", str(tiny_bundle))
    assert code == 2 and one_sentence(err) and "No sound remover is installed" in err
    assert not (tmp_path / "o0.wav").exists()
    _installed(monkeypatch, tmp_path, bias=8.0)
    code, out, err = run_cli(capsys, "edit", str(src), "Remove the beep", "-o", str(tmp_path / "o1.wav"),
                             "--engine", "remover", "--model", str(tmp_path / "no-model"))  # needs no flow model
    assert code == 0, err
    assert "the sound remover's mask for 'beep'" in out
    y, ysr = sf.read(str(tmp_path / "o1.wav"), dtype="float32")
    assert y.shape == x.shape and ysr == sr and np.abs(y).max() < 0.2 * np.abs(x).max()
    stream_in_chunks(monkeypatch)  # the long-file path: 3 chunks, each on the remover
    code, out, err = run_cli(capsys, "edit", str(src), "Remove the beep", "-o", str(tmp_path / "o2.wav"),
                             "--engine", "remover", "--model", str(tiny_bundle), "--region", "1:4")
    assert code == 0, err
    assert "the sound remover's mask for 'beep'" in out  # the long-file report names the sound too
    z, _ = sf.read(str(tmp_path / "o2.wav"), dtype="float32")
    assert z.shape == x.shape and np.array_equal(z[: sr], x[: sr]) and np.array_equal(z[4 * sr:], x[4 * sr:])
    assert np.abs(z[int(1.5 * sr): int(3.5 * sr)]).max() < 0.2 * np.abs(x).max()


def test_a_model_folder_is_no_training_run_and_short_clips_stay_unchanged(trained, tmp_path):
    """``--out`` naming an exported remover (or finder) is refused in one sentence and the folder is
    left as it was; a clip shorter than half the STFT window comes back unchanged, not an error."""
    import dataclasses

    from rfm_studio.core.detection.remover import apply_removal
    from rfm_studio.core.detection.remover_train import export, train_remover
    from rfm_studio.core.errors import OptionError

    run, cfg, *_ = trained
    folder = export(run, tmp_path / "exported")
    before = (folder / "config.json").read_bytes()
    with pytest.raises(OptionError, match="not a training run"):
        next(train_remover(dataclasses.replace(cfg, out=str(folder))))
    assert (folder / "config.json").read_bytes() == before
    for sr, n in ((16000, 100), (44100, 882), (48000, 1)):
        x = np.linspace(-0.1, 0.1, n, dtype=np.float32)
        assert np.array_equal(apply_removal(x, sr, np.full((64, 1), 0.5, np.float32)), x)


def test_the_remover_cuts_the_bands_its_mask_names_and_keeps_the_others(monkeypatch, tmp_path, minilm):
    """A mask that names the upper half of the mel bands only: at 44.1 kHz a 5 kHz tone goes,
    a 600 Hz tone stays (the mel mask lands on the right STFT bins)."""
    import torch

    from rfm_studio.core.editing import edit

    net = _installed(monkeypatch, tmp_path)
    with torch.no_grad():
        bias = net.coarse.bias.view(64, 2)
        bias[:32] = -8.0  # keep the lower 32 bands
        bias[32:] = 8.0  # take out the upper 32
    from rfm_studio.core.detection import remover

    remover.save(tmp_path / "sound-remover", _tiny()[0], net)
    sr = 44100
    t = np.arange(int(sr * 2.0)) / sr
    low, high = 0.3 * np.sin(2 * np.pi * 600 * t), 0.3 * np.sin(2 * np.pi * 5000 * t)
    out = edit(None, (low + high).astype(np.float32), sr, "Remove the whistle", engine="remover").audio

    def level(x, f):  # dB of the tone at f Hz in the middle second
        seg = x[sr // 2: sr // 2 + sr] * np.hanning(sr)
        spec = np.abs(np.fft.rfft(seg))
        return 20 * np.log10(spec[int(f) - 3: int(f) + 4].max() + 1e-12)

    x = low + high
    assert abs(level(out, 600) - level(x, 600)) < 1.0
    assert level(out, 5000) < level(x, 5000) - 20.0
