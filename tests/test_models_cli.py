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
