"""``rfm-studio models``: list, import, verify (sha256), remove, convert; --diagnose."""

import pytest

from rfm_studio.cli import main


@pytest.fixture()
def user_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("RFM_STUDIO_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def test_import_list_verify_remove(user_dirs, tiny_bundle, capsys):
    assert main(["models", "import", str(tiny_bundle), "--name", "mine"]) == 0
    assert (user_dirs / "models" / "mine" / "model_index.json").exists()
    assert main(["models", "list"]) == 0
    assert "mine" in capsys.readouterr().out
    assert main(["models", "verify", "mine"]) == 0
    f = user_dirs / "models" / "mine" / "unet" / "model.safetensors"
    f.write_bytes(f.read_bytes()[:-10] + b"0123456789")
    assert main(["models", "verify", "mine"]) == 1
    assert "unet/model.safetensors" in capsys.readouterr().out
    assert main(["models", "import", str(tiny_bundle), "--name", "mine"]) == 2
    assert main(["models", "remove", "mine"]) == 0
    assert not (user_dirs / "models" / "mine").exists()
    assert main(["models", "remove", "mine"]) == 2


def test_import_rejects_non_bundle(user_dirs, tmp_path):
    (tmp_path / "x").mkdir()
    assert main(["models", "import", str(tmp_path / "x")]) == 2


def test_diagnose(capsys):
    assert main(["--diagnose"]) == 0
    out = capsys.readouterr().out
    assert "rfm-studio" in out and "torch" in out and "models in" in out


# ---- names stay inside the user models folder ---------------------------------------------

def _one_sentence(capsys):
    err = capsys.readouterr().err
    assert err.startswith("rfm-studio: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_names_cannot_leave_the_models_folder(user_dirs, tiny_bundle, tmp_path, capsys):
    from rfm_studio.core.paths import shipped_models_dir

    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "model_index.json").write_text("{}")
    models = user_dirs / "models"
    models.mkdir(parents=True)
    for name in (str(victim), "../../victim", "../victim", "..", ".", "a/b", ".hidden", ""):
        assert main(["models", "remove", name]) == 2, name
        _one_sentence(capsys)
    assert (victim / "model_index.json").exists()
    shipped = shipped_models_dir() / "rfm-studio-small"
    assert main(["models", "remove", "rfm-studio-small"]) == 2
    assert "shipped" in _one_sentence(capsys)
    assert (shipped / "model_index.json").exists()
    for name in ("../../escaped", "../escaped", "a/b", str(tmp_path / "abs"), ".tmp-x", "a\\b", "con", "NUL.txt", "a."):
        assert main(["models", "import", str(tiny_bundle), "--name", name]) == 2, name
        assert "not allowed" in _one_sentence(capsys)
    assert list(models.iterdir()) == []
    assert not (tmp_path / "escaped").exists() and not (user_dirs / "escaped").exists()
    assert not (tmp_path / "abs").exists()


def test_leftover_temporary_folders_are_not_models(user_dirs, tiny_bundle, capsys):
    import shutil

    models = user_dirs / "models"
    models.mkdir(parents=True)
    shutil.copytree(tiny_bundle, models / ".tmp-import-cut-short")
    assert main(["models", "list"]) == 0
    assert ".tmp-" not in capsys.readouterr().out
    assert main(["models", "verify", ".tmp-import-cut-short"]) == 2
    assert main(["models", "import", str(tiny_bundle), "--name", "ok"]) == 0
    assert sorted(p.name for p in models.iterdir()) == [".tmp-import-cut-short", "ok"]  # no new leftovers
    assert main(["models", "remove", "ok"]) == 0
    assert sorted(p.name for p in models.iterdir()) == [".tmp-import-cut-short"]


def test_list_shows_the_total_training_steps(user_dirs, tiny_bundle, tmp_path, capsys):
    import json
    import shutil

    from rfm_studio.core.model.manifest import write_manifest

    b = shutil.copytree(tiny_bundle, tmp_path / "staged")
    idx = json.loads((b / "model_index.json").read_text())
    idx["info"].update(train_steps=10000, train_steps_total=32000)
    (b / "model_index.json").write_text(json.dumps(idx))
    write_manifest(b)
    assert main(["models", "import", str(b)]) == 0
    capsys.readouterr()
    assert main(["models", "list"]) == 0
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("staged "))
    assert "steps 32000" in line and "steps 10000" not in line


# ---- import and verify need a complete, well-formed bundle ------------------------------------

def _manifest(folder, files):
    import json

    (folder / "manifest.json").write_text(json.dumps(files))


@pytest.mark.parametrize("case", ["index_only", "index_only_no_manifest", "empty_files", "files_list",
                                  "files_str_entry", "entry_outside", "needed_file_unlisted", "not_rfm"])
def test_import_refuses_incomplete_or_malformed_bundles(case, user_dirs, tiny_bundle, tmp_path, capsys):
    import json
    import shutil

    b = tmp_path / "b"
    if case.startswith("index_only"):
        b.mkdir()
        shutil.copy(tiny_bundle / "model_index.json", b)
        if case == "index_only":
            from rfm_studio.core.model.manifest import write_manifest

            write_manifest(b)  # a manifest that matches: but the bundle lacks its components
    else:
        shutil.copytree(tiny_bundle, b)
        man = json.loads((b / "manifest.json").read_text())
        if case == "empty_files":
            _manifest(b, {"files": {}})
        elif case == "files_list":
            _manifest(b, {"files": []})
        elif case == "files_str_entry":
            (b / "x").write_text("abc")
            _manifest(b, {"files": {"x": "abc"}})
        elif case == "entry_outside":  # a file beside the bundle, listed with its true hash
            from rfm_studio.core.model.manifest import file_sha256

            (tmp_path / "outside.bin").write_bytes(b"1")
            man["files"]["../outside.bin"] = {"sha256": file_sha256(tmp_path / "outside.bin"), "size": 1}
            _manifest(b, man)
        elif case == "needed_file_unlisted":
            del man["files"]["unet/model.safetensors"]
            _manifest(b, man)
        elif case == "not_rfm":
            (b / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionPipeline"}))
            from rfm_studio.core.model.manifest import write_manifest

            write_manifest(b)
    assert main(["models", "import", str(b), "--name", "x"]) == 2
    err = _one_sentence(capsys)
    if case == "needed_file_unlisted":
        assert "unet/model.safetensors" in err
    assert not (user_dirs / "models").exists() or list((user_dirs / "models").iterdir()) == []


def test_verify_reports_a_manifest_that_lists_too_little(user_dirs, tiny_bundle, capsys):
    import json

    assert main(["models", "import", str(tiny_bundle), "--name", "m"]) == 0
    man_path = user_dirs / "models" / "m" / "manifest.json"
    man = json.loads(man_path.read_text())
    _manifest(man_path.parent, {"files": {}})
    capsys.readouterr()
    assert main(["models", "verify", "m"]) == 1
    out = capsys.readouterr().out
    assert "OK" not in out and "unet/model.safetensors is needed" in out
    del man["files"]["vae/config.json"]
    _manifest(man_path.parent, man)
    assert main(["models", "verify", "m"]) == 1
    assert "vae/config.json" in capsys.readouterr().out
    _manifest(man_path.parent, {"files": []})
    assert main(["models", "verify", "m"]) == 2
    assert "malformed" in _one_sentence(capsys)


# ---- download: explicit, honours the user's offline mode, placed only when verified -----------

@pytest.fixture()
def fake_hub(monkeypatch):
    """huggingface_hub.snapshot_download replaced: it copies ``source`` into local_dir."""
    import shutil

    import huggingface_hub

    state = {"calls": [], "source": None, "fail": None}

    def snapshot_download(repo_id, revision=None, local_dir=None, **kw):
        import os

        from huggingface_hub import constants

        state["calls"].append((repo_id, os.environ.get("HF_HUB_OFFLINE"), constants.HF_HUB_OFFLINE))
        if state["fail"]:
            raise state["fail"]
        shutil.copytree(state["source"], local_dir, dirs_exist_ok=True)
        (Path(local_dir) / ".cache" / "huggingface").mkdir(parents=True, exist_ok=True)
        return local_dir

    from pathlib import Path

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    return state


@pytest.fixture()
def cli_default_offline(monkeypatch):
    """As when the user set neither HF_HUB_OFFLINE nor TRANSFORMERS_OFFLINE (the CLI sets them)."""
    for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "RFM_STUDIO_OFFLINE_DEFAULT", "RFM_STUDIO_ALLOW_DOWNLOAD"):
        monkeypatch.delenv(k, raising=False)


def test_download_refuses_when_the_user_asked_for_offline(user_dirs, tiny_bundle, fake_hub, monkeypatch, capsys):
    fake_hub["source"] = tiny_bundle
    monkeypatch.delenv("RFM_STUDIO_OFFLINE_DEFAULT", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["models", "download", "someone/tiny"]) == 2
    assert "HF_HUB_OFFLINE" in _one_sentence(capsys)
    monkeypatch.setenv("RFM_STUDIO_ALLOW_DOWNLOAD", "1")  # no way around the user's own setting
    assert main(["models", "download", "someone/tiny"]) == 2
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    assert main(["models", "download", "someone/tiny"]) == 2
    assert fake_hub["calls"] == [] and not (user_dirs / "models" / "tiny").exists()


@pytest.mark.parametrize("allow", [None, "1"])
def test_download_lifts_only_the_cli_default(allow, user_dirs, tiny_bundle, fake_hub, cli_default_offline,
                                             monkeypatch, capsys):
    import os

    if allow:
        monkeypatch.setenv("RFM_STUDIO_ALLOW_DOWNLOAD", allow)
    from huggingface_hub import constants

    before = constants.HF_HUB_OFFLINE
    fake_hub["source"] = tiny_bundle
    assert main(["models", "download", "someone/tiny"]) == 0, capsys.readouterr().err
    assert fake_hub["calls"] == [("someone/tiny", "0", False)]
    assert os.environ["HF_HUB_OFFLINE"] == "1" and constants.HF_HUB_OFFLINE == before  # offline again
    models = user_dirs / "models"
    assert sorted(p.name for p in models.iterdir()) == ["tiny"]
    assert not (models / "tiny" / ".cache").exists()
    assert main(["models", "verify", "tiny"]) == 0
    assert main(["models", "download", "someone/tiny"]) == 2  # the name is taken: nothing fetched
    assert "already installed" in _one_sentence(capsys) and len(fake_hub["calls"]) == 1


def test_download_is_placed_only_when_complete_and_verified(user_dirs, tiny_bundle, tmp_path, fake_hub,
                                                            cli_default_offline, capsys):
    import shutil

    models = user_dirs / "models"
    fake_hub["fail"] = OSError("connection reset")
    assert main(["models", "download", "someone/tiny"]) == 2
    assert "resume" in _one_sentence(capsys)
    assert not (models / "tiny").exists() and main(["models", "list"]) == 0
    assert "tiny" not in capsys.readouterr().out  # the partial download (kept to resume) is not a model
    fake_hub["fail"] = None
    half = tmp_path / "half"
    half.mkdir()
    shutil.copy(tiny_bundle / "model_index.json", half)
    shutil.copy(tiny_bundle / "manifest.json", half)
    fake_hub["source"] = half
    assert main(["models", "download", "someone/half"]) == 2
    assert "discarded" in _one_sentence(capsys)
    bad = shutil.copytree(tiny_bundle, tmp_path / "bad")
    f = bad / "unet" / "model.safetensors"
    f.write_bytes(f.read_bytes()[:-4] + b"0000")
    fake_hub["source"] = bad
    assert main(["models", "download", "someone/bad"]) == 2
    assert "sha256" in _one_sentence(capsys)
    assert not (models / "half").exists() and not (models / "bad").exists()
    assert not any(p.name.startswith(".tmp-download-half") or p.name.startswith(".tmp-download-bad")
                   for p in models.iterdir())
    assert main(["models", "download", "someone/x", "--name", "../x"]) == 2
    assert len(fake_hub["calls"]) == 3
