"""LoRA adapter folders without training: device and dtype, malformed folders, the peft key
format of a peft-wrapped text encoder, safe replacement, and adapter names."""

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from rfm_studio.core.errors import ModelLoadError, OptionError
from rfm_studio.core.model.adapters import (
    TEXT_TARGETS,
    UNET_TARGETS,
    AdapterCard,
    LoRASet,
    apply_adapter,
    backup_path,
    check_name,
    delete_adapter,
    list_adapters,
    remove_adapter,
    rename_adapter,
    restore_backup,
    save_adapter,
)
from rfm_studio.core.model.bundle import RFMEditor


def _random_sets(model, parts=("unet", "text_encoder"), seed=0):
    torch.manual_seed(seed)
    sets = {}
    if "unet" in parts:
        sets["unet"] = LoRASet(model.denoiser.net, UNET_TARGETS, 4, 8.0)
    if "text_encoder" in parts:
        sets["text_encoder"] = LoRASet(model.text_encoder.model, TEXT_TARGETS, 4, 8.0)
    with torch.no_grad():
        for s in sets.values():
            for p in s.B.values():
                p.normal_(0, 0.05)
    return sets


def _save(model, folder, name=None, parts=("unet", "text_encoder"), seed=0, **kw):
    folder = save_adapter(folder, _random_sets(model, parts, seed),
                          AdapterCard(name=name or folder.name, base_model="tiny", rank=4, alpha=8.0,
                                      parts=list(parts)), **kw)
    return folder


@pytest.fixture(scope="module")
def adapter(tiny_model, tmp_path_factory):
    return _save(tiny_model, tmp_path_factory.mktemp("adapters") / "ad")


def _lora_params(model):
    return [p for s in model._adapter_sets for p in s.parameters()]


# ---- 1: the adapter follows the model's device and dtype --------------------------------
def test_adapter_given_at_load_follows_the_model(tiny_bundle, adapter):
    m = RFMEditor.from_pretrained(tiny_bundle, adapter=adapter)
    assert len(m._adapter_sets) == 2
    m.to(torch.float64)
    assert all(p.dtype == torch.float64 for p in _lora_params(m))
    m.to("meta")  # a device every machine has: stands in for cuda
    assert m.device.type == "meta"
    assert all(p.device.type == "meta" for p in _lora_params(m))
    # the LoRA is made on the layers' dtype: a half-precision U-Net gets a half-precision LoRA
    h = RFMEditor.from_pretrained(tiny_bundle, dtype=torch.float16, adapter=adapter)
    unet_set = h._adapter_sets[0]
    assert all(p.dtype == torch.float16 for p in unet_set.parameters())


def test_adapter_still_works_after_a_move(tiny_bundle, adapter):
    m = RFMEditor.from_pretrained(tiny_bundle, adapter=adapter)
    torch.manual_seed(0)
    x, xo = torch.randn(1, 64, 128), torch.randn(1, 64, 128)
    with torch.no_grad():
        ctx, mask = m.encode_instruction(["Remove the hum"])
        v = m.net_velocity(x, xo, 0.3, ctx, mask)
        m.to(torch.float64)
        ctx, mask = m.encode_instruction(["Remove the hum"])
        v64 = m.net_velocity(x.double(), xo.double(), 0.3, ctx, mask)
        remove_adapter(m)
        base = m.net_velocity(x.double(), xo.double(), 0.3, ctx, mask)
    assert torch.allclose(v.double(), v64, atol=1e-4)
    assert not torch.allclose(v64, base, atol=1e-4)


# ---- 2: malformed folders are one sentence naming the adapter ---------------------------
def _broken(adapter, tmp_path, name, fix):
    d = tmp_path / name
    shutil.copytree(adapter, d)
    fix(d)
    return d


def _edit_cfg(path, **changes):
    cfg = json.loads(path.read_text())
    for k, v in changes.items():
        if v is None:
            cfg.pop(k, None)
        else:
            cfg[k] = v
    path.write_text(json.dumps(cfg))


def _edit_weights(path, fn):
    state = load_file(str(path))
    save_file(fn(state), str(path))


BROKEN = {
    "no-r": (lambda d: _edit_cfg(d / "unet" / "adapter_config.json", r=None), "'r'"),
    "no-alpha": (lambda d: _edit_cfg(d / "unet" / "adapter_config.json", lora_alpha=None), "'lora_alpha'"),
    "nan-alpha": (lambda d: (d / "unet" / "adapter_config.json").write_text(
        (d / "unet" / "adapter_config.json").read_text().replace('"lora_alpha": 8.0', '"lora_alpha": NaN')),
        "'lora_alpha'"),
    "r-text": (lambda d: _edit_cfg(d / "unet" / "adapter_config.json", r="eight"), "'r'"),
    "other-r": (lambda d: _edit_cfg(d / "unet" / "adapter_config.json", r=8), "rank r=8"),
    "bad-json": (lambda d: (d / "unet" / "adapter_config.json").write_text("{"), "not valid JSON"),
    "no-weights": (lambda d: (d / "unet" / "adapter_model.safetensors").unlink(), "missing"),
    "not-safetensors": (lambda d: (d / "unet" / "adapter_model.safetensors").write_bytes(b"nope"),
                        "not safetensors"),
    "text-lora-under-unet": (lambda d: (shutil.rmtree(d / "unet"), shutil.copytree(d / "text_encoder", d / "unet")),
                             "does not fit this model"),
    "foreign-key": (lambda d: _edit_weights(d / "unet" / "adapter_model.safetensors",
                                            lambda s: {**s, "something.else": torch.zeros(1)}),
                    "not a peft LoRA weight"),
    "no-B": (lambda d: _edit_weights(d / "unet" / "adapter_model.safetensors",
                                     lambda s: {k: v for k, v in s.items() if not k.endswith("lora_B.weight")}),
             "but not lora_B"),
    "nan-weights": (lambda d: _edit_weights(d / "text_encoder" / "adapter_model.safetensors",
                                            lambda s: {k: v * float("nan") for k, v in s.items()}),
                    "not finite"),
    "empty": (lambda d: (shutil.rmtree(d / "unet"), shutil.rmtree(d / "text_encoder")), "holds no LoRA"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_malformed_adapter_is_one_sentence_and_changes_nothing(tiny_model, adapter, tmp_path, case):
    fix, words = BROKEN[case]
    bad = _broken(adapter, tmp_path, f"bad-{case}", fix)
    x = torch.randn(1, 64, 128)
    ctx, mask = tiny_model.encode_instruction(["Add rain"])
    try:
        apply_adapter(tiny_model, adapter)
        with torch.no_grad():
            before = tiny_model.net_velocity(x, x, 0.5, ctx, mask)
        with pytest.raises(ModelLoadError) as exc:
            apply_adapter(tiny_model, bad)
        msg = str(exc.value)
        assert f"Adapter 'bad-{case}'" in msg and words in msg and "\n" not in msg, msg
        # the adapter attached before is still attached, unchanged
        assert tiny_model._adapter_path == str(adapter)
        with torch.no_grad():
            assert torch.equal(tiny_model.net_velocity(x, x, 0.5, ctx, mask), before)
    finally:
        remove_adapter(tiny_model)


def test_malformed_adapter_at_load_is_one_line_on_the_cli(tiny_bundle, adapter, tmp_path, capsys, monkeypatch):
    import soundfile as sf
    from conftest import tone

    from rfm_studio.cli import main

    monkeypatch.setenv("RFM_STUDIO_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "data" / "adapters").mkdir(parents=True)
    _broken(adapter, tmp_path / "data" / "adapters", "bad", BROKEN["no-r"][0])
    sf.write(tmp_path / "in.wav", tone(1.0), 16000)
    code = main(["edit", str(tmp_path / "in.wav"), "Add rain", "-o", str(tmp_path / "out.wav"),
                 "--model", str(tiny_bundle), "--adapter", "bad", "--steps", "2"])
    err = capsys.readouterr().err
    assert code == 2 and "Adapter 'bad' (unet)" in err and err.count("\n") == 1 and "Traceback" not in err, err
    assert not (tmp_path / "out.wav").exists()


# ---- 6: a peft-wrapped text encoder's keys are standard peft keys -----------------------
def test_peft_wrapped_text_encoder_saves_standard_peft_keys(tmp_path):
    from peft import PeftModel

    from rfm_studio.core.model.factory import build_tiny, minilm_encoder
    from rfm_studio.core.model.text_encoder import _quiet_peft

    wrapped = build_tiny(text=minilm_encoder())
    wrapped.text_encoder.add_lora()  # an embedded model's encoder: already peft-wrapped
    folder = _save(wrapped, tmp_path / "te", parts=("text_encoder",), seed=3)
    keys = list(load_file(str(folder / "text_encoder" / "adapter_model.safetensors")))
    assert keys and all(k.startswith("base_model.model.encoder.") for k in keys), keys[:2]
    # loads on the wrapped encoder and on a plain one, the same layers
    plain = build_tiny(text=minilm_encoder())
    assert set(LoRASet.load(wrapped.text_encoder.model, folder / "text_encoder").layers) == \
        set(LoRASet.load(plain.text_encoder.model, folder / "text_encoder").layers)
    # and standard peft loads it: the same embeddings as our hooks give
    texts = ["Remove the hum", "Add rain"]
    apply_adapter(plain, folder)
    with torch.no_grad():
        ours = plain.text_encoder(texts)[0]
    remove_adapter(plain)
    enc = plain.text_encoder
    with _quiet_peft():
        enc.model = PeftModel.from_pretrained(enc.model, str(folder / "text_encoder"))
    enc._lora = True
    enc.eval()
    with torch.no_grad():
        theirs = enc(texts)[0]
    assert torch.allclose(ours, theirs, atol=1e-5)
    # an adapter saved before the fix (peft's prefix twice) still loads on the wrapped encoder
    old = tmp_path / "old"
    shutil.copytree(folder, old)
    w = old / "text_encoder" / "adapter_model.safetensors"
    _edit_weights(w, lambda s: {"base_model.model." + k: v for k, v in s.items()})
    with torch.no_grad():
        apply_adapter(wrapped, folder)
        new_out = wrapped.text_encoder(texts)[0]
        apply_adapter(wrapped, old)
        old_out = wrapped.text_encoder(texts)[0]
    assert torch.equal(new_out, old_out)


# ---- 4: replacing an adapter never loses the old one --------------------------------------
def _weights(folder):
    return (folder / "unet" / "adapter_model.safetensors").read_bytes()


def test_replace_keeps_the_old_adapter_until_the_new_one_is_in_place(tiny_model, tmp_path, monkeypatch):
    import os
    from pathlib import Path

    folder = _save(tiny_model, tmp_path / "mine", parts=("unet",), seed=1)
    old = _weights(folder)
    real = os.rename

    def fail_new_into_place(src, dst):
        if Path(src).name.startswith(".rfm-new-"):
            raise OSError(28, "No space left on device", str(src))
        return real(src, dst)

    monkeypatch.setattr(os, "rename", fail_new_into_place)
    with pytest.raises(OSError):
        _save(tiny_model, folder, parts=("unet",), seed=2)
    monkeypatch.undo()
    assert _weights(folder) == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]  # no temporary or backup folder
    # a replacement that completes: the new weights, no backup left
    _save(tiny_model, folder, parts=("unet",), seed=2)
    assert _weights(folder) != old and sorted(p.name for p in tmp_path.iterdir()) == ["mine"]
    new = _weights(folder)
    # kept as a backup, the replaced adapter can be put back (the GUI's cancel while saving)
    _save(tiny_model, folder, parts=("unet",), seed=3, keep_backup=True)
    assert backup_path(folder).is_dir() and [n for n, _p, _c in list_adapters(tmp_path)] == ["mine"]
    restore_backup(folder)
    assert _weights(folder) == new and sorted(p.name for p in tmp_path.iterdir()) == ["mine"]
    # a crash between the two renames left only the backup: the next save puts it back first
    folder.rename(backup_path(folder))
    _save(tiny_model, folder, parts=("unet",), seed=4, keep_backup=True)
    restore_backup(folder)
    assert _weights(folder) == new


# ---- 5: adapter names --------------------------------------------------------------------
@pytest.mark.parametrize("name", ["a ", "a.", "a..", ".a", " a", "", "a/b", "..", "con", "NUL.txt", "com1",
                                  "x" * 65, "a\\b"])
def test_bad_names_are_refused(name):
    with pytest.raises(OptionError):
        check_name(name)


@pytest.mark.parametrize("name", ["a", "my adapter", "v1.2", "hum_removal-3", "console", "x" * 64, "a_"])
def test_good_names(name):
    assert check_name(name) == name


def test_rename_and_delete_refuse_paths_and_bad_names(tmp_path):
    base = tmp_path / "adapters"
    base.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "adapter_card.json").write_text(json.dumps({"name": "outside"}))
    (base / "a").mkdir()
    (base / "a" / "adapter_card.json").write_text(json.dumps({"name": "a"}))
    for bad in ("../outside", str(outside), ".", ".."):
        with pytest.raises(OptionError):
            delete_adapter(bad, base)
        with pytest.raises(OptionError):
            rename_adapter(bad, "b", base)
    for bad in ("../b", "b.", "b ", str(tmp_path / "b")):
        with pytest.raises(OptionError):
            rename_adapter("a", bad, base)
    assert (outside / "adapter_card.json").exists() and [n for n, _p, _c in list_adapters(base)] == ["a"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adapters", "outside"]
    # an adapter saved under the older rule (a trailing dot) can still be renamed and deleted
    (base / "old.").mkdir()
    (base / "old." / "adapter_card.json").write_text(json.dumps({"name": "old."}))
    rename_adapter("old.", "old", base)
    assert json.loads((base / "old" / "adapter_card.json").read_text())["name"] == "old"
    delete_adapter("old", base)
    assert [n for n, _p, _c in list_adapters(base)] == ["a"]


def test_finetune_message_says_how_to_use_an_adapter_saved_elsewhere(tmp_path, monkeypatch):
    """--adapter takes names from the user adapters folder only, so an adapter saved with
    --out-dir elsewhere must not be announced as usable with --adapter NAME as it stands."""
    from types import SimpleNamespace

    from rfm_studio.commands.finetune import _how_to_use

    monkeypatch.setenv("RFM_STUDIO_DATA_DIR", str(tmp_path / "data"))
    from rfm_studio.core.paths import user_adapters_dir

    assert _how_to_use(SimpleNamespace(out_dir=None, name="mine")) == "use it with --adapter 'mine'"
    assert _how_to_use(SimpleNamespace(out_dir=str(user_adapters_dir()), name="mine")) == \
        "use it with --adapter 'mine'"
    msg = _how_to_use(SimpleNamespace(out_dir=str(tmp_path / "elsewhere"), name="mine"))
    assert "copy the folder there" in msg and str(user_adapters_dir()) in msg
