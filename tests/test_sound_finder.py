"""The sound finder (core/detection): config and weights round trip, probabilities over a
clip of any length, spans, training that resumes, export, and the CLI."""

import json

import numpy as np
import pytest
import soundfile as sf

from test_find_sound import use_probs
from tiny_bank import make_tiny_bank, tiny_run


@pytest.fixture(scope="module")
def bank(tmp_path_factory):
    return make_tiny_bank(tmp_path_factory.mktemp("finder_bank"))


@pytest.fixture(scope="module")
def trained(bank, tmp_path_factory, minilm):
    """A run of 6 steps on the tiny bank, cancelled after 3 and resumed."""
    from rfm_studio.core.detection.train import DetectorTrainConfig, train_detector

    return tiny_run(train_detector, DetectorTrainConfig, bank, tmp_path_factory.mktemp("finder_run"),
                    {"channels": [4, 8, 8, 8], "width": 16, "dilations": [1, 2]})


def test_training_yields_steps_and_resumes_where_it_stopped(trained):
    run, cfg, first, second = trained
    assert [e.step for e in first] == [1, 2, 3]
    assert [e.step for e in second] == [4, 5, 6]  # resumed after step 3, not from 0
    assert all(np.isfinite(e.loss) for e in first + second)
    assert [e.step for e in first + second if e.message] == [2, 4, 6]  # validation every 2 steps
    assert "val f1" in second[-1].message
    ck = json.loads((run / "checkpoints" / "latest.json").read_text())
    assert ck["step"] == 6


def test_export_loads_and_gives_probabilities_for_any_length(trained, tmp_path, monkeypatch):
    from rfm_studio.core.detection import find
    from rfm_studio.core.detection.model import load
    from rfm_studio.core.detection.train import export

    run, *_ = trained
    folder = export(run, tmp_path / "finder")
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    assert json.loads((folder / "config.json").read_text())["width"] == 16
    cfg, net = load(folder)
    x = 0.1 * np.random.default_rng(0).standard_normal(16000 * 3 + 77).astype(np.float32)
    p = find.sound_probs(net, x, "a dog barking")
    assert p.shape == (len(x) // 160 + 1,) and np.all((p >= 0) & (p <= 1))
    # a clip longer than the finder's window is heard in windows, each with context, and every
    # frame gets its probability (a window of 1 s, context 0.5 s: the seams inside the clip)
    monkeypatch.setattr(find, "WINDOW_S", 1.0)
    monkeypatch.setattr(find, "CONTEXT_S", 0.5)
    q = find.sound_probs(net, x, "a dog barking")
    assert q.shape == p.shape and np.all((q > 0) & (q < 1))
    assert np.corrcoef(p, q)[0, 1] > 0.5  # the same answer, up to the clip-wide normalisation
    # a network that answers each frame from that frame alone: windowed exactly as whole (each
    # window's frames are put back where they lie in the clip)
    def per_frame(mel, text):
        return mel.mean(1)

    monkeypatch.setattr(find, "WINDOW_S", 60.0)
    whole = find.sound_probs(per_frame, x, "a dog barking")
    monkeypatch.setattr(find, "WINDOW_S", 1.0)
    windowed = find.sound_probs(per_frame, x, "a dog barking")
    assert windowed.shape == whole.shape and np.abs(windowed - whole).max() < 1e-5


def test_weights_that_do_not_fit_the_config_are_refused(trained, tmp_path):
    from rfm_studio.core.detection.model import load
    from rfm_studio.core.detection.train import export
    from rfm_studio.core.errors import RFMError

    folder = export(trained[0], tmp_path / "finder")
    d = json.loads((folder / "config.json").read_text())
    d["width"] = 24
    (folder / "config.json").write_text(json.dumps(d))
    with pytest.raises(RFMError, match="do not fit its config"):
        load(folder)


def test_spans_from_probabilities():
    from rfm_studio.core.detection.find import FindConfig, sound_spans, strongest_spans

    p = np.zeros(1000)
    p[100:150] = 0.9  # 1.00-1.50 s
    p[160:170] = 0.6  # 10 frames after a 10-frame gap: joined (gap 0.15 s)
    p[400:405] = 0.95  # 5 frames: shorter than 0.1 s, dropped
    p[600:700] = 0.55  # 6.0-7.0 s, weak but long
    p[800:830] = 0.99  # 8.0-8.3 s
    assert sound_spans(p) == [(1.0, 1.7), (6.0, 7.0), (8.0, 8.3)]
    assert sound_spans(p, FindConfig(threshold=0.7)) == [(1.0, 1.5), (8.0, 8.3)]
    # the strongest by probability mass: 6-7 s (55) and 1.0-1.7 s (51) before 8.0-8.3 s (29.7)
    assert strongest_spans(p, k=2) == [(1.0, 1.7), (6.0, 7.0)]
    assert sound_spans(np.zeros(50)) == []


def test_query_text_is_the_sound_a_remove_names():
    from rfm_studio.core.detection.find import query_text

    assert query_text("Remove the dog barking") == "dog barking"
    assert query_text("a dog barking") == "a dog barking"


def test_cli_find_and_its_bad_input(trained, tmp_path, capsys, monkeypatch):
    from conftest import one_sentence, run_cli
    from rfm_studio.core.detection.train import export

    folder = export(trained[0], tmp_path / "finder")
    wav = tmp_path / "clip.wav"
    sf.write(str(wav), 0.1 * np.random.default_rng(1).standard_normal(32000).astype(np.float32), 16000)
    code, out, err = run_cli(capsys, "finder", "find", str(wav), "a dog barking", "--finder", str(folder),
                             "--threshold", "0.01")
    assert code == 0 and " s  probability " in out  # every frame is above 1 %: one span
    code, out, err = run_cli(capsys, "finder", "find", str(wav), "a dog barking", "--finder", str(folder),
                             "--threshold", "0.999")
    assert code == 0 and "not found in clip.wav" in out
    for argv in (["--threshold", "1.5"], ["--finder", str(tmp_path / "nope")]):
        code, out, err = run_cli(capsys, "finder", "find", str(wav), "a dog barking", *argv)
        assert code == 2 and one_sentence(err), err
    code, out, err = run_cli(capsys, "finder", "find", str(tmp_path / "missing.wav"), "a dog barking",
                             "--finder", str(folder))
    assert code == 2 and one_sentence(err)
    # a text encoder that cannot load: one sentence, as the app's Find says it
    from rfm_studio.core.detection import find
    from rfm_studio.core.library.embed import EncoderUnavailable

    def no_encoder(*a, **k):
        raise EncoderUnavailable("no all-MiniLM-L6-v2 here")

    use_probs(monkeypatch, no_encoder)
    code, out, err = run_cli(capsys, "finder", "find", str(wav), "a dog barking", "--finder", str(folder))
    assert code == 2 and one_sentence(err) and "text encoder could not load" in err, err


def test_cli_train_refuses_bad_settings_in_one_sentence(bank, tmp_path, capsys):
    from conftest import one_sentence, run_cli

    for argv in (["--steps", "0"], ["--two-prob", "0.7", "--absent-prob", "0.5"], ["--init", str(tmp_path)],
                 ["--warmup", "-1"], ["--similar-prob", "0.6", "--two-prob", "0.5"], ["--similar-prob", "-0.1"]):
        code, out, err = run_cli(capsys, "finder", "train", "--bank", str(bank), "--out", str(tmp_path / "r"), *argv)
        assert code == 2 and one_sentence(err), (argv, err)
        assert not (tmp_path / "r").exists()
    code, out, err = run_cli(capsys, "finder", "train", "--bank", str(tmp_path), "--out", str(tmp_path / "r"))
    assert code == 2 and "No event bank" in err


def test_a_clip_shorter_than_the_stft_window_gets_probabilities(trained, tmp_path):
    from rfm_studio.core.detection.find import sound_probs
    from rfm_studio.core.detection.model import load
    from rfm_studio.core.detection.train import export

    _, net = load(export(trained[0], tmp_path / "finder"))
    for n in (1, 160, 480, 512, 513):  # the STFT's reflect padding needs more than 512 samples
        p = sound_probs(net, np.full(n, 0.1, np.float32), "a dog barking")
        assert p.shape == (n // 160 + 1,) and np.all((p >= 0) & (p <= 1))


def test_a_run_resumes_only_with_its_own_network_and_a_finder_of_another_kind_is_refused(trained, tmp_path):
    import dataclasses

    from rfm_studio.core.detection.model import load
    from rfm_studio.core.detection.train import export, train_detector
    from rfm_studio.core.errors import OptionError, RFMError

    run, cfg, *_ = trained
    other = dataclasses.replace(cfg, model={**cfg.model, "width": 24})
    with pytest.raises(OptionError, match="another finder network"):
        next(train_detector(other))
    assert json.loads((run / "config.json").read_text())["model"]["width"] == 16  # left as it was
    folder = export(run, tmp_path / "finder")
    d = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**d, "text_model": "flan-t5-base"}))
    with pytest.raises(RFMError, match="text encoder flan-t5-base"):
        load(folder)


def test_find_sound_runs_a_real_finder_on_a_stereo_clip_and_a_region(trained, tmp_path):
    from rfm_studio.core.detection.find import FindConfig, find_sound
    from rfm_studio.core.detection.model import load
    from rfm_studio.core.detection.train import export

    _, net = load(export(trained[0], tmp_path / "finder"))
    x = 0.1 * np.random.default_rng(2).standard_normal((44100 * 2, 2)).astype(np.float32)
    every = find_sound(x, 44100, "Remove the dog barking", finder=net, cfg=FindConfig(threshold=0.01))
    assert every.text == "dog barking" and 0.0 < every.peak <= 1.0
    assert len(every.spans) == 1 and every.spans[0][0] == 0.0  # every frame is above 1 %: one span
    part = find_sound(x, 44100, "a dog barking", finder=net, within=(0.5, 1.25), cfg=FindConfig(threshold=0.01))
    assert part.within == (0.5, 1.25) and part.spans[0][0] == 0.5 and part.spans[-1][1] <= 1.25
    assert find_sound(x, 44100, "a dog barking", finder=net, cfg=FindConfig(threshold=0.999)).spans == ()


def test_look_alike_rows_ask_for_a_near_class_where_it_plays_and_where_it_does_not(bank, minilm):
    """similar_prob: a look-alike of X (a near class of another family) is asked for where it
    does not play (answer: nowhere), or it joins the clip and X or it is asked for; the labels
    are where the asked sound plays, and the target is the clip without it."""
    from rfm_studio.core.data.captions import CAPTIONS, caption_for
    from rfm_studio.core.data.mixing import activity
    from rfm_studio.core.data.triplets import TripletGenerator, family
    from rfm_studio.core.detection.train import DetectorTrainConfig, _similar_row, near_classes

    gen = TripletGenerator(bank, split="train", seconds=2.0, seed=0)
    near = near_classes(tuple(gen.classes), 2)
    assert set(near) == set(gen.classes)
    assert all(len(v) == 2 and c not in v and all(family(u) != family(c) for u in v) for c, v in near.items())
    cfg = DetectorTrainConfig(bank=str(bank), out="", similar_k=2)
    rng = np.random.default_rng(0)
    kinds = set()
    for _ in range(40):
        t = gen.sample(rng, task="remove")
        first = t.meta["type"].split("_")[1]
        other = "B" if first == "A" else "A"
        row = _similar_row(gen, t, first, other, rng, cfg)
        if row is None:
            continue
        audio, text, lab, target = row
        x_cls = t.meta[first]["class"]
        look = [c for c in near[x_cls] if text in CAPTIONS.get(c, (caption_for(c),))]
        assert look or text == t.meta[first]["caption"], text
        here = {family(c) for c in t.meta["classes"]["x"]} | {family(x_cls), family(t.meta[other]["class"])}
        assert not look or any(family(c) not in here for c in look)  # never a family the clip holds
        assert len(lab) == len(t.edit_mask) and audio.shape == target.shape == t.input.shape
        if not lab.any():  # the look-alike asked for, not in the clip
            assert look and np.array_equal(audio, t.input) and np.array_equal(target, audio)
            kinds.add("absent")
            continue
        # the asked sound plays where the labels say: audio - target is it
        heard = activity(audio - target)[: len(lab)]
        assert (heard == (lab > 0)).mean() > 0.95
        assert np.abs(audio - t.input).max() > 1e-4  # the look-alike joined
        kinds.add("look-alike" if look else "named")
    assert kinds == {"absent", "look-alike", "named"}


def test_without_similar_prob_no_look_alike_row_is_drawn(bank, monkeypatch):
    """similar_prob 0 (the default, and every run made before it existed): a two-event row whose
    second event shares a family with the clip falls back to the plain row, never to a
    look-alike, so older runs replay the rows they were trained on."""
    from rfm_studio.core.data.triplets import TripletGenerator
    from rfm_studio.core.detection import train

    def no(*a, **k):
        raise AssertionError("a look-alike row was drawn")

    monkeypatch.setattr(train, "_similar_row", no)
    gen = TripletGenerator(bank, split="train", seconds=2.0, seed=0)
    cfg = train.DetectorTrainConfig(bank=str(bank), out="", absent_prob=0.0, removed_prob=0.0, two_prob=1.0)
    rows = train._rows(gen, np.random.default_rng(0), 40, cfg)
    assert len(rows) == 40


def test_similar_prob_sends_its_share_of_rows_to_look_alikes(bank, monkeypatch):
    """similar_prob 1 (the other shares 0): every row is drawn as a look-alike row (one whose
    look-alikes are all in the clip falls back to the plain row), and the CLI's --similar-prob
    reaches the run's config."""
    import argparse

    from rfm_studio.commands.detector_training import add_train_arguments, train_config
    from rfm_studio.core.data.triplets import TripletGenerator
    from rfm_studio.core.detection import train
    from rfm_studio.core.detection.model import DetectorConfig

    calls = []
    real = train._similar_row
    monkeypatch.setattr(train, "_similar_row", lambda *a, **k: calls.append(1) or real(*a, **k))
    gen = TripletGenerator(bank, split="train", seconds=2.0, seed=0)
    cfg = train.DetectorTrainConfig(bank=str(bank), out="", absent_prob=0.0, removed_prob=0.0, two_prob=0.0,
                                    similar_prob=1.0, similar_k=2)
    rows = train._rows(gen, np.random.default_rng(0), 12, cfg)
    assert len(rows) == 12 and len(calls) == 12
    ap = argparse.ArgumentParser()
    add_train_arguments(ap, train.DetectorTrainConfig(bank="", out=""), "finder", "")
    args = ap.parse_args(["--bank", str(bank), "--out", "r", "--similar-prob", "0.3"])
    assert train_config(args, train.DetectorTrainConfig, "finder", DetectorConfig).similar_prob == 0.3
