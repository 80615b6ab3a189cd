"""Hostile bundles, adapters, options and paths (issue 19, items 2, 3, 7, 8, 10): each is one
sentence on stderr with exit code 2 (``models verify``: FAIL lines and exit 1), nothing is
written, nothing is unpickled, and every check that can run before the model loads does."""

import json
import os
import pickle
import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf
from conftest import tone

from rfm_studio.cli import main
from rfm_studio.core.errors import ModelLoadError


@pytest.fixture()
def user_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("RFM_STUDIO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RFM_STUDIO_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "data"


def _one_sentence(capsys):
    err = capsys.readouterr().err
    assert err.startswith("rfm-studio: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


def _bundle(tiny_bundle, dst, fix=None, remanifest=False):
    b = shutil.copytree(tiny_bundle, dst)
    if fix:
        fix(b)
    if remanifest:
        from rfm_studio.core.model.manifest import write_manifest

        write_manifest(b)
    return b


def _models(user_dirs):
    d = user_dirs / "models"
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


def _wav(tmp_path, seconds=1.0, name="in.wav"):
    p = tmp_path / name
    sf.write(p, tone(seconds), 16000)
    return p


# ---- 2: import copies without following links; verify flags links ------------------------------

def _parent_links(b):
    os.symlink("..", b / "unet" / "up")
    os.symlink("../..", b / "vae" / "up2")


def _passwd_link(b):
    os.symlink("/etc/passwd", b / "unet" / "notes.txt")


def _loop(b):
    os.symlink("loop-b", b / "unet" / "loop-a")
    os.symlink("loop-a", b / "unet" / "loop-b")


def _fifo(b):
    os.mkfifo(b / "unet" / "pipe")


@pytest.mark.parametrize("fix,words", [(_parent_links, "link to a folder"), (_passwd_link, "leaves the bundle"),
                                       (_loop, "link loop"), (_fifo, "not a regular file")])
def test_import_refuses_links_out_loops_and_special_files(fix, words, user_dirs, tiny_bundle, tmp_path, capsys):
    b = _bundle(tiny_bundle, tmp_path / "b", fix)
    assert main(["models", "import", str(b), "--name", "x"]) == 2
    assert words in _one_sentence(capsys)
    assert _models(user_dirs) == []  # nothing written, not even a temporary folder
    assert main(["models", "verify", str(b)]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and words in out and "OK" not in out


def test_import_never_copies_a_file_through_a_link_even_when_listed(user_dirs, tiny_bundle, tmp_path, capsys):
    # the manifest lists the link with the true hash of /etc/passwd: still refused
    b = _bundle(tiny_bundle, tmp_path / "b", _passwd_link, remanifest=True)
    assert "unet/notes.txt" in json.loads((b / "manifest.json").read_text())["files"]
    assert main(["models", "import", str(b), "--name", "x"]) == 2
    _one_sentence(capsys)
    assert _models(user_dirs) == []
    from rfm_studio.core.model.bundle import RFMEditor

    with pytest.raises(ModelLoadError, match="leaves the bundle"):
        RFMEditor.from_pretrained(b)


def test_a_link_to_a_file_inside_the_bundle_is_imported_as_a_plain_file(user_dirs, tiny_bundle, tmp_path):
    def fix(b):
        shutil.move(b / "vocoder" / "config.json", b / "vocoder" / "real.json")
        os.symlink("real.json", b / "vocoder" / "config.json")

    b = _bundle(tiny_bundle, tmp_path / "b", fix, remanifest=True)
    assert main(["models", "import", str(b), "--name", "x"]) == 0
    got = user_dirs / "models" / "x" / "vocoder" / "config.json"
    assert got.is_file() and not got.is_symlink()
    assert main(["models", "verify", "x"]) == 0


# ---- 3: the manifest covers every file; nothing unlisted; config paths stay inside ------------------

class _Boom:
    def __reduce__(self):
        return (os.system, (f"touch {os.environ.get('RFM_TEST_MARK', '/nonexistent/mark')}",))


def test_unlisted_pickle_is_refused_everywhere_and_never_unpickled(user_dirs, tiny_bundle, tmp_path, capsys,
                                                                   monkeypatch):
    mark = tmp_path / "pwned"
    monkeypatch.setenv("RFM_TEST_MARK", str(mark))

    def fix(b):
        (b / "unet" / "pytorch_model.bin").write_bytes(pickle.dumps(_Boom()))

    b = _bundle(tiny_bundle, tmp_path / "b", fix)
    assert main(["models", "verify", str(b)]) == 1
    assert "unet/pytorch_model.bin is not listed" in capsys.readouterr().out
    assert main(["models", "import", str(b), "--name", "x"]) == 2
    assert "not listed" in _one_sentence(capsys)
    assert _models(user_dirs) == []
    wav = _wav(tmp_path)
    assert main(["edit", str(wav), "Add rain", "-o", str(tmp_path / "o.wav"), "--model", str(b), "--steps", "2"]) == 2
    assert "pytorch_model.bin" in _one_sentence(capsys)
    assert not (tmp_path / "o.wav").exists() and not mark.exists()


def _folder_text_encoder(b):
    """The bundle's text encoder as a transformers folder inside it (base 'folder')."""
    from rfm_studio.core.model.text_encoder import package_model_dir

    pkg = package_model_dir()
    for name in ("config.json", "model.safetensors"):
        shutil.copy(pkg / name, b / "text_encoder" / name)
    (b / "tokenizer").mkdir()
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(pkg / name, b / "tokenizer" / name)
    meta = json.loads((b / "text_encoder" / "rfm_text_encoder.json").read_text())
    meta["base"] = "folder"
    (b / "text_encoder" / "rfm_text_encoder.json").write_text(json.dumps(meta))


def test_a_listed_pickle_in_place_of_safetensors_is_never_unpickled(tiny_bundle, tmp_path, monkeypatch):
    from rfm_studio.core.model.bundle import RFMEditor

    mark = tmp_path / "pwned"
    monkeypatch.setenv("RFM_TEST_MARK", str(mark))

    def fix(b):
        _folder_text_encoder(b)
        (b / "text_encoder" / "model.safetensors").unlink()
        (b / "text_encoder" / "pytorch_model.bin").write_bytes(pickle.dumps(_Boom()))

    b = _bundle(tiny_bundle, tmp_path / "b", fix, remanifest=True)  # the pickle is listed with its hash
    with pytest.raises(ModelLoadError) as exc:
        RFMEditor.from_pretrained(b)
    assert "text_encoder/model.safetensors" in str(exc.value)
    with pytest.raises(ModelLoadError) as exc:  # even unverified, the loaders read safetensors only
        RFMEditor.from_pretrained(b, verify=False)
    assert "\n" not in str(exc.value)
    assert not mark.exists()


@pytest.mark.parametrize("base", ["/etc", "../../outside", "../..", "~/x", "package:evil"])
def test_text_encoder_base_outside_the_bundle_is_refused(base, user_dirs, tiny_bundle, tmp_path, capsys):
    from rfm_studio.core.model.bundle import RFMEditor

    def fix(b):
        (tmp_path / "outside").mkdir()
        meta = json.loads((b / "text_encoder" / "rfm_text_encoder.json").read_text())
        meta["base"] = base
        (b / "text_encoder" / "rfm_text_encoder.json").write_text(json.dumps(meta))

    b = _bundle(tiny_bundle, tmp_path / "b", fix, remanifest=True)
    assert main(["models", "verify", str(b)]) == 2
    assert "outside the bundle" in _one_sentence(capsys)
    assert main(["models", "import", str(b), "--name", "x"]) == 2
    assert "outside the bundle" in _one_sentence(capsys)
    assert _models(user_dirs) == []
    with pytest.raises(ModelLoadError):
        RFMEditor.from_pretrained(b)
    with pytest.raises(ModelLoadError):
        RFMEditor.from_pretrained(b, verify=False)  # the loader itself refuses the path


def test_any_path_field_in_a_config_must_stay_inside(user_dirs, tiny_bundle, tmp_path, capsys):
    def fix(b):
        cfg = json.loads((b / "vae" / "config.json").read_text())
        cfg["stats_file"] = "/etc/passwd"
        (b / "vae" / "config.json").write_text(json.dumps(cfg))

    b = _bundle(tiny_bundle, tmp_path / "b", fix, remanifest=True)
    assert main(["models", "verify", str(b)]) == 1
    assert "stats_file" in capsys.readouterr().out


def _flip(path, at=None):
    data = bytearray(path.read_bytes())
    i = len(data) // 2 if at is None else at
    data[i] ^= 0x01
    st = path.stat()
    path.write_bytes(bytes(data))
    return st


def test_flipped_byte_in_weights_is_one_sentence_and_no_output(user_dirs, tiny_bundle, tmp_path, capsys):
    b = _bundle(tiny_bundle, tmp_path / "b")
    _flip(b / "unet" / "model.safetensors")  # inside the tensor data: safetensors itself cannot tell
    wav = _wav(tmp_path)
    assert main(["edit", str(wav), "Add rain", "-o", str(tmp_path / "o.wav"), "--model", str(b), "--steps", "2"]) == 2
    err = _one_sentence(capsys)
    assert "unet/model.safetensors does not match its sha256" in err
    assert not (tmp_path / "o.wav").exists()


def test_load_verification_is_cached_and_notices_a_change(user_dirs, tiny_bundle, tmp_path):
    from rfm_studio.core.model.integrity import check_bundle_before_load

    b = _bundle(tiny_bundle, tmp_path / "b")
    assert check_bundle_before_load(b) == "hashed"
    assert check_bundle_before_load(b) == "cached"
    assert (user_dirs.parent / "cache").is_dir()
    w = b / "unet" / "model.safetensors"
    st = _flip(w)
    os.utime(w, ns=(st.st_atime_ns, st.st_mtime_ns))  # same size and mtime: the change time still differs
    with pytest.raises(ModelLoadError, match="does not match its sha256"):
        check_bundle_before_load(b)
    _flip(w)  # back as it was
    assert check_bundle_before_load(b) == "hashed"
    (b / "unet" / "extra.bin").write_bytes(b"x")  # a new file is noticed with the cache warm
    with pytest.raises(ModelLoadError, match="not listed"):
        check_bundle_before_load(b)


def test_a_bundle_without_a_manifest_is_not_loaded(tiny_bundle, tmp_path):
    from rfm_studio.core.model.bundle import RFMEditor

    b = _bundle(tiny_bundle, tmp_path / "b", lambda b: (b / "manifest.json").unlink())
    with pytest.raises(ModelLoadError, match="no manifest.json"):
        RFMEditor.from_pretrained(b)


def test_the_shipped_bundle_verifies():
    from rfm_studio.core.model.integrity import check_bundle_before_load
    from rfm_studio.core.paths import shipped_models_dir

    assert check_bundle_before_load(shipped_models_dir() / "rfm-studio-small") in ("hashed", "cached")


# ---- 7: tracebacks become one sentence ---------------------------------------------------------------

def _vocoder_unknown(b):
    cfg = json.loads((b / "vocoder" / "config.json").read_text())
    cfg["nope"] = 1
    (b / "vocoder" / "config.json").write_text(json.dumps(cfg))


def _index_list(b):
    (b / "model_index.json").write_text("[1, 2]")


def _manifest_nul(b):
    (b / "manifest.json").write_bytes(b'{"files": {"a\x00b": 1}}')


def _manifest_nul_escaped(b):
    (b / "manifest.json").write_text(json.dumps({"files": {"a\u0000b": {"sha256": "0" * 64, "size": 1}}}))


def _manifest_utf8(b):
    (b / "manifest.json").write_bytes(b'{"files": {"\xff\xfe": 1}}')


def _manifest_deep(b):
    (b / "manifest.json").write_text("[" * 100000 + "]" * 100000)


@pytest.mark.parametrize("fix,remanifest", [(_vocoder_unknown, True), (_index_list, False), (_manifest_nul, False),
                                            (_manifest_nul_escaped, False), (_manifest_utf8, False),
                                            (_manifest_deep, False)])
def test_malformed_bundle_files_are_one_sentence(fix, remanifest, user_dirs, tiny_bundle, tmp_path, capsys):
    b = _bundle(tiny_bundle, tmp_path / "b", fix, remanifest=remanifest)
    wav = _wav(tmp_path)
    assert main(["edit", str(wav), "Add rain", "-o", str(tmp_path / "o.wav"), "--model", str(b), "--steps", "2"]) == 2
    _one_sentence(capsys)
    assert not (tmp_path / "o.wav").exists()
    if fix is _vocoder_unknown:  # the files are intact and listed: only loading reads the setting
        return
    assert main(["models", "import", str(b), "--name", "x"]) == 2
    _one_sentence(capsys)
    assert _models(user_dirs) == []
    assert main(["models", "verify", str(b)]) in (1, 2)
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize("argv,words", [
    (["--lora-layers", "abc"], "--lora-layers"),
    (["--lora-layers", "1,,2"], "--lora-layers"),
    (["--config", '{"unet": 5}'], "unet"),
    (["--config", '{"flow": {"nope": 1}}'], "unknown key 'nope'"),
    (["--config", '{"unet": {"nope": 1}}'], "unknown key 'nope'"),
    (["--config", '{"flow": {"source": "x"}}'], "flow"),
    (["--config", '{"unet": {"channels": 5}}'], "unet"),
    (["--config", "list.json"], "JSON object"),
    (["--config", '{"lora_layers": "abc"}'], "lora_layers"),
    (["--config", '{"init": 5}'], "init"),
    (["--config", '{"seed": "x"}'], "seed"),
    (["--config", '{"nope": 1}'], "nope"),
])
def test_train_refuses_bad_settings_before_anything(argv, words, tmp_path, capsys):
    out = tmp_path / "run"
    (tmp_path / "list.json").write_text("[1]")
    argv = [str(tmp_path / a) if a == "list.json" else a for a in argv]
    assert main(["train", "--data", str(tmp_path / "none.jsonl"), "--out", str(out), "--init", "tiny", *argv]) == 2
    assert words in _one_sentence(capsys)
    assert not out.exists()


# ---- 8: adapters load only from the adapters folder ------------------------------------------------

def test_adapter_outside_the_adapters_folder_is_refused(user_dirs, tiny_bundle, tiny_model, tmp_path, capsys):
    from rfm_studio.core.model.adapters import UNET_TARGETS, AdapterCard, LoRASet, save_adapter

    sets = {"unet": LoRASet(tiny_model.denoiser.net, UNET_TARGETS, rank=2, alpha=2.0)}
    evil = save_adapter(tmp_path / "evil", sets, AdapterCard(name="evil", base_model="tiny", rank=2, alpha=2.0))
    adapters = user_dirs / "adapters"
    adapters.mkdir(parents=True)
    os.symlink(evil, adapters / "linked")
    good = save_adapter(adapters / "good", sets, AdapterCard(name="good", base_model="tiny", rank=2, alpha=2.0))
    os.symlink(evil / "unet" / "adapter_model.safetensors", tmp_path / "w.safetensors")
    (good / "unet" / "adapter_model.safetensors").unlink()
    os.symlink(tmp_path / "w.safetensors", good / "unet" / "adapter_model.safetensors")
    wav = _wav(tmp_path)
    for name in ("../../evil", "../evil", str(evil), "linked", "good", ".", "..", "a/b", "missing"):
        code = main(["edit", str(wav), "Add rain", "-o", str(tmp_path / "o.wav"), "--model", str(tiny_bundle),
                     "--adapter", name, "--steps", "2"])
        assert code == 2, name
        _one_sentence(capsys)
        assert not (tmp_path / "o.wav").exists()


# ---- 10 and 7: path checks before the model loads ----------------------------------------------

NO_MODEL = "/nonexistent/model"  # a check that reports its own sentence ran before the model loaded


def _edit(tmp_path, inp, out, *extra):
    return main(["edit", str(inp), "Add rain", "-o", str(out), "--model", NO_MODEL, "--steps", "2", *extra])


def test_link_loops_as_input_or_output(tmp_path, capsys):
    os.symlink(tmp_path / "b.wav", tmp_path / "a.wav")
    os.symlink(tmp_path / "a.wav", tmp_path / "b.wav")
    wav = _wav(tmp_path, name="ok.wav")
    assert _edit(tmp_path, tmp_path / "a.wav", tmp_path / "o.wav") == 2
    assert "link loop" in _one_sentence(capsys)
    assert _edit(tmp_path, wav, tmp_path / "a.wav") == 2
    assert "link loop" in _one_sentence(capsys)
    man = tmp_path / "m.jsonl"
    man.write_text(json.dumps({"id": "r1", "input": "a.wav", "instruction": "Add rain"}) + "\n")
    assert main(["edit-batch", str(man), "--out-dir", str(tmp_path / "out"), "--model", NO_MODEL]) == 2
    _one_sentence(capsys)
    assert not (tmp_path / "out").exists()


def test_hard_linked_output_is_refused_before_the_model(tmp_path, capsys):
    wav = _wav(tmp_path)
    os.link(wav, tmp_path / "same.wav")
    before = wav.read_bytes()
    assert _edit(tmp_path, wav, tmp_path / "same.wav") == 2
    assert "same file as the input" in _one_sentence(capsys)
    assert wav.read_bytes() == before


def test_region_beyond_the_clip_is_refused_before_the_model(tmp_path, capsys):
    wav = _wav(tmp_path, 1.0)
    assert _edit(tmp_path, wav, tmp_path / "o.wav", "--region", "5:9") == 2
    assert "clip is only 1.00 s" in _one_sentence(capsys)


@pytest.fixture()
def read_only_dir(tmp_path):
    d = tmp_path / "ro"
    d.mkdir()
    if os.geteuid() == 0:  # root writes through mode bits: make the folder immutable instead
        if subprocess.run(["chattr", "+i", str(d)], capture_output=True).returncode != 0:
            pytest.skip("cannot make a read-only folder here")
        yield d
        subprocess.run(["chattr", "-i", str(d)], capture_output=True)
    else:
        d.chmod(0o555)
        yield d
        d.chmod(0o755)


def test_read_only_output_folder_is_refused_before_the_model(tmp_path, read_only_dir, capsys):
    wav = _wav(tmp_path)
    assert _edit(tmp_path, wav, read_only_dir / "o.wav") == 2
    assert "cannot be written" in _one_sentence(capsys)
    man = tmp_path / "m.jsonl"
    man.write_text(json.dumps({"id": "r1", "input": "in.wav", "instruction": "Add rain"}) + "\n")
    for out in (read_only_dir, read_only_dir / "new"):
        assert main(["edit-batch", str(man), "--out-dir", str(out), "--model", NO_MODEL]) == 2
        assert "cannot be written" in _one_sentence(capsys)


def test_batch_rows_are_decoded_before_the_model(tmp_path, capsys):
    _wav(tmp_path, name="good.wav")
    bad = tone(1.0)
    bad[8000] = np.nan  # the header is fine; a sample is not
    sf.write(tmp_path / "nan.wav", bad, 16000, subtype="FLOAT")
    man = tmp_path / "m.jsonl"
    man.write_text("\n".join(json.dumps({"id": f"r{i}", "input": f, "instruction": "Add rain"})
                             for i, f in enumerate(["good.wav", "nan.wav"])) + "\n")
    assert main(["edit-batch", str(man), "--out-dir", str(tmp_path / "out"), "--model", NO_MODEL]) == 2
    err = _one_sentence(capsys)
    assert "Line 2" in err and "NaN" in err
    assert not (tmp_path / "out").exists()


# ---- fuzz: the manifest and config loaders give one sentence, never another exception --------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=12), c, max_size=4), max_leaves=12)
_fuzz = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def fuzz_bundle(tiny_bundle, tmp_path_factory):
    return shutil.copytree(tiny_bundle, tmp_path_factory.mktemp("fuzz") / "b")


def _only_sentences(fn):
    from rfm_studio.core.errors import RFMError

    try:
        fn()
    except RFMError as exc:
        assert str(exc) and "\n" not in str(exc)


@_fuzz
@given(data=st.one_of(st.binary(max_size=64), _json.map(lambda v: json.dumps(v).encode()),
                      st.dictionaries(st.text(max_size=12), _json, max_size=3).map(
                          lambda f: json.dumps({"files": f}).encode())))
def test_fuzz_manifest(fuzz_bundle, data):
    from rfm_studio.core.model.manifest import verify_manifest

    (fuzz_bundle / "manifest.json").write_bytes(data)
    _only_sentences(lambda: verify_manifest(fuzz_bundle))


@_fuzz
@given(which=st.sampled_from(["model_index.json", "text_encoder/rfm_text_encoder.json", "unet/config.json",
                              "vae/config.json", "vocoder/config.json"]), value=_json)
def test_fuzz_bundle_configs(fuzz_bundle, tiny_bundle, which, value):
    from rfm_studio.core.model.integrity import config_path_problems
    from rfm_studio.core.model.manifest import required_files

    target = fuzz_bundle / which
    if which == "vocoder/config.json" and isinstance(value, dict):
        value = {**value, "_class_name": "GriffinLim"}  # the vocoder that needs no weights: its config loads
    target.write_text(json.dumps(value))
    try:
        _only_sentences(lambda: required_files(fuzz_bundle))
        config_path_problems(fuzz_bundle)
        if which == "vocoder/config.json":
            from rfm_studio.core.model.vocoder import load_vocoder

            _only_sentences(lambda: load_vocoder(fuzz_bundle / "vocoder"))
    finally:
        shutil.copy(tiny_bundle / which, target)


@_fuzz
@given(section=st.sampled_from(["unet", "flow", "lora_layers", "init", "seed", "steps", "ema", "text_lora"]),
       value=_json)
def test_fuzz_train_settings(section, value):
    from rfm_studio.core.training.loop import TrainConfig

    cfg = TrainConfig(**{"data": "x.jsonl", "out": "run", "init": "tiny", section: value})
    _only_sentences(cfg.check)


def test_a_setting_key_with_a_line_break_is_named_in_one_line():
    """The fuzz test's find: an unknown key "\n" in a training setting broke the sentence in two."""
    from rfm_studio.core.errors import OptionError
    from rfm_studio.core.training.loop import TrainConfig

    with pytest.raises(OptionError, match=r"unknown key '\\n'") as e:
        TrainConfig(data="x.jsonl", out="run", init="tiny", unet={"\n": 1}).check()
    assert "\n" not in str(e.value)


def test_a_fifo_as_input_output_or_manifest_is_refused_without_waiting(tmp_path, capsys):
    os.mkfifo(tmp_path / "pipe.wav")
    wav = _wav(tmp_path)
    assert _edit(tmp_path, tmp_path / "pipe.wav", tmp_path / "o.wav") == 2
    assert "not a regular file" in _one_sentence(capsys)
    assert _edit(tmp_path, wav, tmp_path / "pipe.wav") == 2
    assert "not a regular file" in _one_sentence(capsys)
    os.mkfifo(tmp_path / "m.jsonl")
    assert main(["edit-batch", str(tmp_path / "m.jsonl"), "--out-dir", str(tmp_path / "out"), "--model", NO_MODEL]) == 2
    assert "not a regular file" in _one_sentence(capsys)


@pytest.mark.parametrize("argv", [["train", "--data", "{fifo}", "--out", "{tmp}/run", "--init", "tiny"],
                                  ["finetune", "--triplets", "{fifo}", "--name", "x"],
                                  ["eval", "--manifest", "{fifo}", "--out", "{tmp}/ev"]])
def test_a_fifo_as_a_manifest_is_refused_without_waiting(argv, tmp_path, user_dirs):
    import sys

    os.mkfifo(tmp_path / "f.jsonl")
    argv = [a.format(fifo=tmp_path / "f.jsonl", tmp=tmp_path) for a in argv]
    try:  # a child process: opening a fifo blocks past SIGTERM, so a regression must not hang the suite
        r = subprocess.run([sys.executable, "-m", "rfm_studio", *argv], capture_output=True, text=True, timeout=120,
                           env=dict(os.environ, RFM_STUDIO_DATA_DIR=str(user_dirs)))
    except subprocess.TimeoutExpired:
        pytest.fail("the command waited on the fifo")
    assert r.returncode == 2 and "not a regular file" in r.stderr and r.stderr.count("\n") == 1, r.stderr[-500:]
    assert not (tmp_path / "run").exists() and not (tmp_path / "ev").exists()
