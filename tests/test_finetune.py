"""Personal LoRA adapters on a tiny bundle with three generated triplets."""

import dataclasses
import json

import numpy as np
import pytest

pytestmark = pytest.mark.timeout(900)  # trains for real; slow on a loaded 2-core machine
import soundfile as sf
import torch

from conftest import tone
from rfm_studio.core.editing import edit
from rfm_studio.core.model.adapters import apply_adapter, list_adapters, remove_adapter, rename_adapter, \
    delete_adapter
from rfm_studio.core.model.bundle import RFMEditor
from rfm_studio.core.training.finetune import finetune
from rfm_studio.core.training.finetune_config import FinetuneConfig
from rfm_studio.core.training.triplet_files import load_triplet_table, validate_triplets


@pytest.fixture(scope="module")
def triplets(tmp_path_factory):
    d = tmp_path_factory.mktemp("mine")
    sr = 16000
    rows = []
    for i in range(3):
        hum = tone(2.0, freq=60.0 * (i + 1), amp=0.2, seed=i)
        voice = tone(2.0, freq=700 + 50 * i, amp=0.1, seed=10 + i)
        sf.write(d / f"in{i}.wav", hum + voice, sr)
        sf.write(d / f"out{i}.wav", voice, sr)
        rows.append({"input": f"in{i}.wav", "target": f"out{i}.wav", "instruction": "Remove the hum"})
    (d / "t.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    (d / "t.csv").write_text("input,target,instruction\n" + "\n".join(f"{r['input']},{r['target']},{r['instruction']}"
                                                                     for r in rows))
    return d


def test_finetune_trains_saves_reloads_and_changes_output(tiny_bundle, triplets, tmp_path):
    model = RFMEditor.from_pretrained(tiny_bundle)
    base = {k: v.clone() for k, v in model.state_dict().items()}
    cfg = FinetuneConfig(triplets=str(triplets / "t.jsonl"), name="hum", out_dir=str(tmp_path), steps=40,
                         batch_size=3, lr=5e-3, log_every=10, crop_seconds=1.28,
                         parts=("unet", "text_encoder"))
    events = list(finetune(model, cfg))
    losses = [e.loss for e in events if e.message == ""]
    assert losses[-1] < losses[0]
    folder = tmp_path / "hum"
    assert events[-1].checkpoint == str(folder)
    for f in ("adapter_card.json", "unet/adapter_config.json", "unet/adapter_model.safetensors",
              "text_encoder/adapter_model.safetensors"):
        assert (folder / f).exists(), f
    card = json.loads((folder / "adapter_card.json").read_text())
    assert card["name"] == "hum" and len(card["triplets"]) == 3 and card["final_loss"] is not None
    cfgj = json.loads((folder / "unet" / "adapter_config.json").read_text())
    assert cfgj["peft_type"] == "LORA" and cfgj["r"] == 8
    # base weights unchanged by training; adapter changes the output; removing restores it exactly
    assert all(torch.equal(base[k], v) for k, v in model.state_dict().items())
    x = tone(1.0, freq=120.0)
    before = edit(model, x, 16000, "Remove the hum", steps=2, engine="model").audio
    apply_adapter(model, folder)
    with_adapter = edit(model, x, 16000, "Remove the hum", steps=2, engine="model").audio
    remove_adapter(model)
    after = edit(model, x, 16000, "Remove the hum", steps=2, engine="model").audio
    assert not np.allclose(before, with_adapter)
    assert np.array_equal(before, after)
    assert all(torch.equal(base[k], v) for k, v in model.state_dict().items())
    # loads with the bundle too
    m2 = RFMEditor.from_pretrained(tiny_bundle, adapter=folder)
    assert np.allclose(edit(m2, x, 16000, "Remove the hum", steps=2, engine="model").audio, with_adapter, atol=1e-5)


def test_cancel_leaves_no_adapter(tiny_bundle, triplets, tmp_path):
    from rfm_studio.core.events import CancelToken

    model = RFMEditor.from_pretrained(tiny_bundle)
    tok = CancelToken()
    cfg = FinetuneConfig(triplets=str(triplets / "t.csv"), name="gone", out_dir=str(tmp_path), steps=500,
                         batch_size=2, log_every=2, crop_seconds=1.28)
    for ev in finetune(model, cfg, tok):
        if ev.step >= 4:
            tok.cancel()
    assert ev.message == "cancelled" and ev.step == 4  # stopped before step 5
    assert list_adapters(tmp_path) == []
    assert not any(p.name.startswith(".tmp") for p in tmp_path.iterdir())
    # a cancel at the last step's event: nothing is saved either
    tok = CancelToken()
    events = []
    for ev in finetune(model, dataclasses.replace(cfg, steps=4), tok):
        events.append(ev)
        if ev.step >= 4:
            tok.cancel()
    assert [(e.step, e.message) for e in events] == [(2, ""), (4, ""), (4, "cancelled")]
    assert list_adapters(tmp_path) == []


def test_validation_messages(triplets, tmp_path):
    table = load_triplet_table(triplets / "t.jsonl")
    assert validate_triplets(table.rows, triplets) == []
    sf.write(triplets / "silent.wav", np.zeros(16000, dtype=np.float32), 16000)
    (triplets / "bad").write_bytes(b"nope")
    sf.write(triplets / "long.wav", tone(8.0), 16000)
    rows = [{"input": "in0.wav", "target": "silent.wav", "instruction": "x"},
            {"input": "bad", "target": "out0.wav", "instruction": ""},
            {"input": "in0.wav", "target": "long.wav", "instruction": "y"},
            {"input": "in0.wav", "target": "long.wav", "instruction": "y"}]
    msgs = validate_triplets(rows, triplets)
    joined = " | ".join(msgs)
    assert "silent" in joined and "Cannot read" in joined and "no instruction" in joined
    assert "differ" in joined and "duplicates" in joined
    assert "At least 3" in validate_triplets(rows[:1], triplets, min_count=3)[0]


def test_rename_and_delete(tmp_path):
    d = tmp_path / "a"
    d.mkdir()
    (d / "adapter_card.json").write_text(json.dumps({"name": "a"}))
    rename_adapter("a", "b", tmp_path)
    assert [n for n, _, _ in list_adapters(tmp_path)] == ["b"]
    delete_adapter("b", tmp_path)
    assert list_adapters(tmp_path) == []


def test_finetune_cli(tiny_bundle, triplets, tmp_path, capsys):
    from rfm_studio.cli import main

    code = main(["finetune", "--triplets", str(triplets / "t.csv"), "--name", "cli", "--steps", "3",
                 "--model", str(tiny_bundle), "--out-dir", str(tmp_path)])
    assert code == 0
    assert (tmp_path / "cli" / "adapter_card.json").exists()
    code = main(["finetune", "--triplets", str(triplets / "t.csv"), "--name", "bad/name", "--steps", "3",
                 "--model", str(tiny_bundle), "--out-dir", str(tmp_path)])
    assert code == 2
    capsys.readouterr()
    # a bad name or setting is named before the model loads (this model folder does not exist)
    for extra in (["--name", "../x"], ["--name", "ok", "--lr", "-1"], ["--name", "ok", "--batch-size", "0"]):
        code = main(["finetune", "--triplets", str(triplets / "t.csv"), "--steps", "3", "--model",
                     str(tmp_path / "no-model"), "--out-dir", str(tmp_path), *extra])
        err = capsys.readouterr().err
        assert code == 2 and "not found" not in err and err.count("\n") == 1, (extra, err)


def test_finetune_cli_refuses_bad_alpha_and_an_existing_name(tiny_bundle, triplets, tmp_path, capsys):
    from rfm_studio.cli import main

    def run(*extra, model=None):
        code = main(["finetune", "--triplets", str(triplets / "t.csv"), "--steps", "2", "--batch-size", "2",
                     "--model", str(model or tmp_path / "no-model"), "--out-dir", str(tmp_path / "ad"), *extra])
        return code, capsys.readouterr()

    # alpha out of range: one sentence before the model loads (this model folder does not exist)
    for alpha in ("nan", "inf", "0", "-1"):
        code, out = run("--name", "a", "--alpha", alpha)
        assert code == 2 and "alpha" in out.err and out.err.count("\n") == 1, (alpha, out.err)
    assert not (tmp_path / "ad").exists()
    # an existing adapter is refused without --replace (again before the model loads), and kept
    old = tmp_path / "ad" / "mine"
    old.mkdir(parents=True)
    (old / "adapter_card.json").write_text(json.dumps({"name": "mine"}))
    code, out = run("--name", "mine")
    assert code == 2 and "already exists" in out.err and "--replace" in out.err and out.err.count("\n") == 1
    assert json.loads((old / "adapter_card.json").read_text()) == {"name": "mine"}
    # with --replace it is replaced, and nothing else is left in the folder
    code, out = run("--name", "mine", "--replace", model=tiny_bundle)
    assert code == 0, out.err
    assert json.loads((old / "adapter_card.json").read_text())["steps"] == 2
    assert (old / "unet" / "adapter_model.safetensors").exists()
    assert sorted(p.name for p in (tmp_path / "ad").iterdir()) == ["mine"]
    with pytest.raises(SystemExit):
        main(["finetune", "--help"])
    assert "--replace" in capsys.readouterr().out


def test_finetune_refuses_nan_settings_and_a_diverged_adapter(tiny_bundle, triplets, tmp_path, monkeypatch):
    from rfm_studio.core.errors import OptionError, RFMError
    from rfm_studio.core.training import finetune as ft

    model = RFMEditor.from_pretrained(tiny_bundle)
    base = dict(triplets=str(triplets / "t.csv"), out_dir=str(tmp_path), steps=2, batch_size=2, log_every=1,
                crop_seconds=1.28)
    for bad in (dict(alpha=float("nan")), dict(alpha=0.0), dict(lr=float("nan")), dict(name="bad.")):
        with pytest.raises(OptionError):
            next(finetune(model, FinetuneConfig(**{"name": "x", **base, **bad})))
    # the loss goes NaN (as with alpha=nan before the check): one sentence, nothing written
    monkeypatch.setattr(ft, "rfm_loss", lambda *a, **k: torch.tensor(float("nan"), requires_grad=True))
    with pytest.raises(RFMError) as exc:
        list(finetune(model, FinetuneConfig(name="nan", **base)))
    assert "not finite" in str(exc.value) and "\n" not in str(exc.value)
    assert list(tmp_path.iterdir()) == []
    # an existing name is refused unless replace is set
    monkeypatch.undo()
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "adapter_card.json").write_text("{}")
    with pytest.raises(OptionError, match="already exists"):
        next(finetune(model, FinetuneConfig(name="taken", **base)))
    events = list(finetune(model, FinetuneConfig(name="taken", replace=True, **base)))
    assert events[-1].message == "saved" and (tmp_path / "taken" / "unet").is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


def test_finetuning_drops_the_instruction_as_training_does(tiny_model, triplets, tmp_path, monkeypatch):
    """With the model's cond_dropout, some fine-tuning steps see the empty instruction (the
    unconditional branch that guidance other than 1 uses)."""
    from rfm_studio.core.training.finetune import finetune

    seen = []
    real = tiny_model.encode_instruction
    monkeypatch.setattr(tiny_model, "encode_instruction", lambda texts: (seen.extend(texts), real(texts))[1])
    monkeypatch.setattr(tiny_model, "flow", tiny_model.flow.replace(cond_dropout=0.5))
    cfg = FinetuneConfig(triplets=str(triplets / "t.csv"), name="drop", out_dir=str(tmp_path), steps=6, batch_size=4)
    for _ in finetune(tiny_model, cfg):
        pass
    assert "" in seen and any(t for t in seen)
