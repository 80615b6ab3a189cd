"""The one loader (core/model/loaders.py): names and folders, device and precision, adapters by
name or folder, errors in order, and every place that loads a bundle going through it."""

import re
import shutil
from pathlib import Path

import pytest
import torch

from rfm_studio.core.errors import ModelLoadError, OptionError
from rfm_studio.core.model.loaders import load_editor

ROOT = Path(__file__).resolve().parent.parent


def test_loads_a_folder_on_the_cpu_in_float32(tiny_bundle):
    m = load_editor(tiny_bundle, device="cpu")
    assert m.source_folder == Path(tiny_bundle) and str(m.device) == "cpu" and not m.training
    assert all(p.dtype == torch.float32 for p in m.denoiser.parameters())
    b = load_editor(str(tiny_bundle), device="cpu", dtype="bfloat16")
    assert all(p.dtype == torch.bfloat16 for p in b.denoiser.parameters())


def test_loads_by_name_from_the_user_models_folder_with_a_named_adapter(tiny_bundle, tiny_model):
    from rfm_studio.core.paths import user_adapters_dir, user_models_dir
    from test_adapters import _save

    name = "loader-test-model"
    shutil.copytree(tiny_bundle, user_models_dir() / name, dirs_exist_ok=True)
    _save(tiny_model, user_adapters_dir() / "loader-ad", name="loader-ad")
    try:
        m = load_editor(name, device="cpu", adapter="loader-ad")
        assert m.source_folder == user_models_dir() / name
        assert len(m._adapter_sets) == 2 and Path(m._adapter_path).name == "loader-ad"
        by_folder = load_editor(name, device="cpu", adapter=user_adapters_dir() / "loader-ad")
        assert len(by_folder._adapter_sets) == 2
    finally:
        shutil.rmtree(user_models_dir() / name)
        shutil.rmtree(user_adapters_dir() / "loader-ad")


def test_errors_are_one_sentence_device_first(tiny_bundle, tmp_path):
    with pytest.raises(OptionError, match="Unknown device"):
        load_editor(tmp_path / "missing", device="gpu7")  # the device is checked before the model
    with pytest.raises(OptionError, match="Unknown precision"):
        load_editor(tiny_bundle, device="cpu", dtype="float8")
    with pytest.raises(ModelLoadError, match="not found"):
        load_editor("no-such-model-name", device="cpu")
    with pytest.raises(OptionError, match="not an adapter name"):
        load_editor(tiny_bundle, device="cpu", adapter="../elsewhere")


def test_every_bundle_load_goes_through_load_editor():
    """No module or benchmark loads a bundle with RFMEditor.from_pretrained but the loader itself."""
    allowed = {ROOT / "rfm_studio/core/model/loaders.py", ROOT / "rfm_studio/core/model/bundle.py"}
    found = []
    for folder in ("rfm_studio", "benchmarks", "packaging"):
        for p in (ROOT / folder).rglob("*.py"):
            if p not in allowed and re.search(r"RFMEditor\.from_pretrained\(", p.read_text(encoding="utf-8")):
                found.append(str(p.relative_to(ROOT)))
    assert found == []


def test_a_load_scans_the_bundle_folder_once(tiny_bundle, monkeypatch):
    """The check before a load walks the folder once, also when it hashes the files."""
    from rfm_studio.core.model import integrity

    walks = []
    real = integrity.scan_tree
    monkeypatch.setattr(integrity, "scan_tree", lambda folder: walks.append(folder) or real(folder))
    assert integrity.check_bundle_before_load(tiny_bundle, use_cache=False) == "hashed"
    assert len(walks) == 1
