"""``rfm-studio data`` subcommands: parsing, defaults, one-sentence errors."""

import argparse

import pytest

from rfm_studio.commands import data
from rfm_studio.core.errors import OptionError, RFMError


def parser():
    p = argparse.ArgumentParser()
    data.register(p.add_subparsers(dest="cmd"))
    return p


def test_parsing():
    a = parser().parse_args(["data", "bank", "--out", "x"])
    assert a.func is data.cmd_bank and a.tsv is None and a.asterisk == 24
    a = parser().parse_args(["data", "audiocaps", "--csv", "c", "--audio-dir", "d", "--out", "o", "--seed", "3"])
    assert a.func is data.cmd_audiocaps and a.seed == 3 and a.llm_url is None
    a = parser().parse_args(["data", "fixed-set", "--bank", "b", "--out", "o"])
    assert a.func is data.cmd_fixed_set and a.n_per_task == 30 and a.seconds == 10.24


def test_errors_are_rfm_errors(tmp_path):
    p = parser()
    (tmp_path / "latin1.csv").write_bytes("youtube_id,caption\nv1,Caf\u00e9 noise\n".encode("latin-1"))
    for argv in (["data", "fixed-set", "--bank", str(tmp_path), "--out", str(tmp_path / "o")],
                 ["data", "bank", "--out", str(tmp_path / "b"), "--tsv", str(tmp_path / "none.tsv")],
                 ["data", "audiocaps", "--csv", str(tmp_path / "c.csv"), "--audio-dir", str(tmp_path),
                  "--out", str(tmp_path / "ac")],
                 ["data", "fixed-set", "--bank", str(tmp_path), "--out", str(tmp_path / "fs"), "--n-per-task", "0"],
                 ["data", "fixed-set", "--bank", str(tmp_path), "--out", str(tmp_path / "fs"), "--seconds", "nan"],
                 ["data", "fixed-set", "--bank", str(tmp_path), "--out", str(tmp_path / "fs"), "--seconds", "1e9"],
                 ["data", "audiocaps", "--csv", str(tmp_path / "latin1.csv"), "--audio-dir", str(tmp_path),
                  "--out", str(tmp_path / "ac")],
                 ["data", "audiocaps", "--csv", str(tmp_path / "latin1.csv"), "--audio-dir", str(tmp_path),
                  "--out", str(tmp_path / "ac"), "--limit", "-3"]):
        a = p.parse_args(argv)
        with pytest.raises(RFMError) as e:
            a.func(a)
        assert str(e.value) and "\n" not in str(e.value)
        assert not any((tmp_path / d).exists() for d in ("o", "b", "ac", "fs"))  # bad input creates nothing


def test_find_tsv_explicit(tmp_path):
    with pytest.raises(OptionError):
        data.find_tsv(str(tmp_path / "missing.tsv"))
    f = tmp_path / "event-bank-train.tsv"
    f.write_text("class\tpackage\tpath\n")
    assert data.find_tsv(str(f)) == f
