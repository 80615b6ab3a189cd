"""Exported model folders are put in place whole (core/atomic.py ``exporting``: one folder swap):
a failure part-way leaves the old export as it was and no staging folder; a destination that is
not an export of the same kind is refused before anything is written."""

import json
from pathlib import Path

import pytest
import torch

from rfm_studio.core.detection import model as finder_model
from rfm_studio.core.detection import remover
from rfm_studio.core.errors import OptionError

CFG = finder_model.DetectorConfig(channels=(4, 8, 8, 8), width=16, dilations=(1, 2))


def _net(seed):
    torch.manual_seed(seed)
    return finder_model.build(CFG)


def _files(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_an_export_replaces_the_old_one_whole_and_a_failure_leaves_it_intact(tmp_path, monkeypatch):
    from rfm_studio.core.model import files

    dst = tmp_path / "finder"
    finder_model.save(dst, CFG, _net(0), extra={"trained": {"steps": 1}})
    old = _files(dst)
    finder_model.save(dst, CFG, _net(1), extra={"trained": {"steps": 2}})
    new = _files(dst)
    assert sorted(new) == ["config.json", "model.safetensors"]
    assert json.loads(new["config.json"])["trained"] == {"steps": 2}
    assert new["model.safetensors"] != old["model.safetensors"]
    assert [p.name for p in tmp_path.iterdir()] == ["finder"]  # no staging or backup folder left

    def broken(sd, path):  # the weights' write fails part-way
        Path(path).write_bytes(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(files, "save_safetensors", broken)
    with pytest.raises(OSError, match="disk full"):
        finder_model.save(dst, CFG, _net(2), extra={"trained": {"steps": 3}})
    assert _files(dst) == new  # the old config with the old weights
    assert [p.name for p in tmp_path.iterdir()] == ["finder"]


def test_a_destination_that_is_no_export_of_the_same_kind_is_refused_untouched(tmp_path):
    from rfm_studio.core.detection.remover import RemoverConfig

    other = tmp_path / "mine"
    other.mkdir()
    (other / "song.wav").write_bytes(b"RIFF")
    (tmp_path / "a-file").write_text("x")
    rcfg = RemoverConfig(channels=(4, 8, 8, 8), width=16, dilations=(1, 2), refine=4)
    remover.save(tmp_path / "remover", rcfg, remover.build(rcfg))
    before = {d: _files(tmp_path / d) for d in ("mine", "remover")}
    with pytest.raises(OptionError, match="holds files that are not an exported sound finder"):
        finder_model.save(other, CFG, _net(0))
    with pytest.raises(OptionError, match="holds files that are not an exported sound finder"):
        finder_model.save(tmp_path / "remover", CFG, _net(0))  # a remover is no sound finder
    with pytest.raises(OptionError, match="holds files that are not an exported sound remover"):
        remover.save(tmp_path / "mine", rcfg, remover.build(rcfg))
    with pytest.raises(OptionError, match="is a file; name a folder"):
        finder_model.save(tmp_path / "a-file", CFG, _net(0))
    assert {d: _files(tmp_path / d) for d in ("mine", "remover")} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "mine", "remover"]
    (tmp_path / "empty").mkdir()
    finder_model.save(tmp_path / "empty", CFG, _net(0))  # an empty folder, or a new one, is written
    finder_model.save(tmp_path / "new" / "finder", CFG, _net(0))
    assert finder_model.load(tmp_path / "empty")[0] == finder_model.load(tmp_path / "new" / "finder")[0] == CFG


def test_a_link_to_an_export_replaces_the_folder_it_names(tmp_path):
    real = tmp_path / "real"
    finder_model.save(real, CFG, _net(0))
    (tmp_path / "link").symlink_to(real)
    finder_model.save(tmp_path / "link", CFG, _net(1), extra={"trained": {"steps": 5}})
    assert (tmp_path / "link").is_symlink()
    assert json.loads((real / "config.json").read_text())["trained"] == {"steps": 5}


def test_the_cli_refuses_an_export_folder_before_training_or_writing(capsys, tmp_path):
    """`finder train`/`remover train --export` and `train --export` name a folder that is no export
    of their network: one sentence, exit 2, before the run starts; `remover export` likewise."""
    from conftest import one_sentence, run_cli

    bank, mine = tmp_path / "bank", tmp_path / "mine"
    bank.mkdir()
    (bank / "bank.jsonl").write_text("")
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    finder_model.save(tmp_path / "finder", CFG, _net(0))
    for argv, what in ((("finder", "train", "--export", str(mine)), "sound finder"),
                       (("remover", "train", "--export", str(tmp_path / "finder")), "sound remover")):
        code, out, err = run_cli(capsys, *argv, "--bank", str(bank), "--out", str(tmp_path / "run"))
        assert code == 2 and one_sentence(err) and f"not an exported {what}" in err, err
    code, out, err = run_cli(capsys, "train", "--data", str(bank / "bank.jsonl"), "--out", str(tmp_path / "run"),
                             "--export", str(tmp_path / "finder"))
    assert code == 2 and one_sentence(err) and "not an exported model bundle" in err, err
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"model": {"kind": "rfm-studio-sound-remover"}}))
    code, out, err = run_cli(capsys, "remover", "export", str(run), str(mine))
    assert code == 2 and one_sentence(err) and "not an exported sound remover" in err, err
    assert [p.name for p in mine.iterdir()] == ["notes.txt"] and [p.name for p in run.iterdir()] == ["config.json"]


def test_an_export_folder_holding_anything_else_is_refused_not_deleted(tmp_path):
    """Replacing the export swaps the whole folder: what else a user kept in it (notes, a run's
    checkpoints) would go with it, so the export is refused in one sentence and nothing moves."""
    dst = tmp_path / "finder"
    finder_model.save(dst, CFG, _net(0), extra={"trained": {"steps": 1}})
    (dst / "notes.txt").write_text("mine")
    (dst / "run").mkdir()
    (dst / "run" / "step-1.safetensors").write_bytes(b"checkpoint")
    weights = (dst / "model.safetensors").read_bytes()
    from rfm_studio.core.atomic import check_export

    with pytest.raises(OptionError, match=r"also holds notes\.txt, run, which replacing"):  # before training
        check_export(dst, *finder_model.export_target(finder_model.DetectorConfig))
    with pytest.raises(OptionError, match=r"also holds notes\.txt, run, which replacing"):
        finder_model.save(dst, CFG, _net(1), extra={"trained": {"steps": 2}})
    assert sorted(p.name for p in dst.iterdir()) == ["config.json", "model.safetensors", "notes.txt", "run"]
    assert (dst / "model.safetensors").read_bytes() == weights and (dst / "notes.txt").read_text() == "mine"
    assert (dst / "run" / "step-1.safetensors").read_bytes() == b"checkpoint"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["finder"]  # the staged export deleted
