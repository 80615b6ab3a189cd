"""benchmarks/ship_candidate.py's decision and install: a figure that could not be measured
never counts as perfect, and the shipped bundle is swapped in whole or not at all."""

import importlib.util
import json
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture()
def ship(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("ship_candidate", ROOT / "benchmarks" / "ship_candidate.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    (tmp_path / "models").mkdir()
    monkeypatch.setattr(mod, "ROOT", tmp_path)  # never the repository's own models/
    monkeypatch.setattr(mod, "SHIPPED", tmp_path / "models" / "rfm-studio-small")
    return mod


def fig(add, remove, replace, keep):
    return {"add/all": {"gain": add}, "remove/all": {"gain": remove}, "replace/all": {"gain": replace},
            "all/all": {"keep_error": keep}}


def test_score_and_keep_target(ship):
    assert ship.score(fig(0.1, 0.2, 0.3, 0.1)) == pytest.approx(0.2)
    assert ship.score(fig(0.1, 0.2, 0.3, 0.22)) == pytest.approx(0.1)  # 0.1 over the keep target
    assert ship.score(fig(0.1, None, 0.3, 0.1)) == float("-inf")
    assert ship.score(fig(0.1, 0.2, 0.3, None)) == float("-inf")
    assert not ship.within_keep_target(fig(0.1, 0.2, 0.3, None))
    assert ship.within_keep_target(fig(0.1, 0.2, 0.3, 0.12))


def test_install_swaps_the_whole_bundle_and_a_failed_copy_keeps_the_old_one(ship, tmp_path, monkeypatch):
    old = ship.SHIPPED
    old.mkdir()
    (old / "model_index.json").write_text("old")
    cand = tmp_path / "cand"
    cand.mkdir()
    (cand / "model_index.json").write_text("new")
    (cand / "weights.bin").write_bytes(b"w" * 1000)

    def half_copy(src, dst, **kw):  # the disk fills up half-way
        Path(dst).mkdir(exist_ok=True)
        (Path(dst) / "model_index.json").write_text("new")
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as m, pytest.raises(OSError):  # only this patch is undone after it
        m.setattr(shutil, "copytree", half_copy)
        ship.install(cand, {"model": {}})
    assert sorted(p.name for p in old.iterdir()) == ["model_index.json"] and (old / "model_index.json").read_text() == "old"
    assert not (tmp_path / "models" / "rfm-studio-small.benchmark.json").exists()
    ship.install(cand, {"model": {"x": 1}})
    assert sorted(p.name for p in old.iterdir()) == ["model_index.json", "weights.bin"]
    assert json.loads((tmp_path / "models" / "rfm-studio-small.benchmark.json").read_text()) == {"model": {"x": 1}}
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["rfm-studio-small", "rfm-studio-small.benchmark.json"]
