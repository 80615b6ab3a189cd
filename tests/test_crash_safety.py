"""Crash safety (issue 19, items 1, 4, 6, 9): the folder swap and its recovery, checkpoints
re-saved under the same step, edit-batch outputs all or none, adapters that never vanish,
fine-tuning that resumes after a kill, the start-up sweep and SIGTERM."""

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from conftest import tone
from process_helpers import dead_pid
from rfm_studio.cli import main
from rfm_studio.core import swap

ROOT = Path(__file__).resolve().parent.parent


def _folder(p: Path, text: str) -> Path:
    p.mkdir(parents=True)
    (p / "a.txt").write_text(text)
    return p


def _names(d: Path):
    return sorted(p.name for p in d.iterdir())


# ---- the one folder swap -------------------------------------------------------------------
def test_recover_puts_back_or_completes_every_state_a_crash_can_leave(tmp_path):
    dst = tmp_path / "m"
    # killed between the renames: the complete new one goes in, the old one goes
    _folder(swap.backup_path(dst), "old")
    _folder(swap.staging_path(dst), "new")
    swap.recover(dst)
    assert (dst / "a.txt").read_text() == "new" and _names(tmp_path) == ["m"]
    # only the backup (the new one never arrived): the old one comes back
    dst.rename(swap.backup_path(dst))
    swap.recover(dst)
    assert (dst / "a.txt").read_text() == "new" and _names(tmp_path) == ["m"]
    # a backup beside a complete folder (its deletion cut short) goes; so does a staging folder
    # never committed, and a half-deleted earlier version
    _folder(swap.backup_path(dst), "old")
    _folder(swap.staging_path(dst), "half")
    _folder(tmp_path / ".rfm-del-0123abcd-m", "x")
    swap.recover(dst)
    assert (dst / "a.txt").read_text() == "new" and _names(tmp_path) == ["m"]


def test_replacing_refuses_without_replace_and_keeps_the_old_folder_on_failure(tmp_path):
    dst = _folder(tmp_path / "m", "old")
    with pytest.raises(FileExistsError):
        with swap.replacing(dst) as new:
            (new / "a.txt").write_text("new")
    with pytest.raises(RuntimeError):
        with swap.replacing(dst, replace=True) as new:
            (new / "a.txt").write_text("half")
            raise RuntimeError("disk full")
    assert (dst / "a.txt").read_text() == "old" and _names(tmp_path) == ["m"]
    with swap.replacing(dst, replace=True, keep_old=True) as new:
        (new / "a.txt").write_text("new")
    assert (dst / "a.txt").read_text() == "new" and swap.backup_path(dst).is_dir()
    swap.undo(dst)
    assert (dst / "a.txt").read_text() == "old" and _names(tmp_path) == ["m"]


# ---- item 1: checkpoints ---------------------------------------------------------------------
def _opt():
    p = torch.nn.Parameter(torch.ones(3))
    o = torch.optim.AdamW([p])
    p.grad = torch.ones(3)
    o.step()
    return o


def test_a_resave_of_the_same_step_killed_midway_leaves_a_complete_checkpoint(tmp_path):
    """The issue's case: validation improved on a periodic step, so step N is saved twice; a
    kill while the second save removes the first used to leave step-N without optimizer.json."""
    from faultinject import run_in_child

    from rfm_studio.core.training.checkpoint import latest_checkpoint, load_checkpoint, optimizer_from_files, \
        save_checkpoint

    opt = _opt()
    save_checkpoint(tmp_path, 20, {"w": torch.ones(2)}, opt, {"best": 1.0})

    def resave():
        save_checkpoint(tmp_path, 20, {"w": torch.ones(2)}, opt, {"best": .5})

    _, n = run_in_child(resave, 0, "kill")
    for k in range(1, n + 1):  # killed at each call (the old code's rmtree of step-20 among them)
        outcome, _ = run_in_child(resave, k, "kill")
        ck = latest_checkpoint(tmp_path)
        assert ck is not None and ck.name == "step-0000020", (k, outcome)
        load_checkpoint(ck)
        optimizer_from_files(_opt(), ck)  # complete: resumes


def test_a_save_finishes_what_a_killed_save_left_and_recovers_its_step_under_the_lock(tmp_path, monkeypatch):
    """A save after kills: the step being saved was cut between its renames (only its backup
    left), another step's swap was cut too, and a staging folder, a half-deleted folder and a
    temporary file of dead writers lie in the folder. The save puts the new step in, the other
    step back, and leaves nothing else; the step it saves is recovered by the folder's sweep and
    again by the commit under the folder lock."""
    from rfm_studio.core.training.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint

    opt = _opt()
    for s in (10, 20):
        save_checkpoint(tmp_path, s, {"w": torch.full((2,), float(s))}, opt, {})
    ck = tmp_path / "checkpoints"
    (ck / "step-0000020").rename(swap.backup_path(ck / "step-0000020"))
    (ck / "step-0000010").rename(swap.backup_path(ck / "step-0000010"))
    _folder(ck / f".rfm-stage-{dead_pid()}-0123abcd-step-0000030", "half")
    _folder(ck / ".rfm-del-0123abcd-step-0000005", "x")
    (ck / f".rfm-{dead_pid()}-abcd1234").write_text("{")
    past = time.time() - 60
    for p in ck.iterdir():
        os.utime(p, (past, past))
    recovered = []
    real = swap._recover
    monkeypatch.setattr(swap, "_recover", lambda dst, trash: (recovered.append(dst.name), real(dst, trash))[1])
    save_checkpoint(tmp_path, 20, {"w": torch.full((2,), 21.0)}, opt, {})
    assert recovered.count("step-0000020") == 3  # the sweep's, replacing()'s, and the commit's (under the lock)
    assert _names(ck) == ["latest.json", "step-0000010", "step-0000020"]
    assert torch.equal(load_checkpoint(ck / "step-0000010")[0]["w"], torch.full((2,), 10.0))
    assert latest_checkpoint(tmp_path).name == "step-0000020"
    assert torch.equal(load_checkpoint(ck / "step-0000020")[0]["w"], torch.full((2,), 21.0))


def test_resume_never_silently_restarts_from_step_0(tmp_path):
    from rfm_studio.core.errors import RFMError
    from rfm_studio.core.training.checkpoint import latest_checkpoint, save_checkpoint

    opt = _opt()
    save_checkpoint(tmp_path, 10, {"w": torch.ones(2)}, opt, {})
    save_checkpoint(tmp_path, 20, {"w": torch.ones(2)}, opt, {})
    ck = tmp_path / "checkpoints"
    (ck / "step-0000020" / "optimizer.json").unlink()  # damaged: the newest complete one is used
    assert latest_checkpoint(tmp_path).name == "step-0000010"
    (ck / "step-0000010" / "model.safetensors").unlink()
    with pytest.raises(RFMError, match="no complete checkpoint"):
        latest_checkpoint(tmp_path)


def test_training_saves_a_step_that_improved_validation_once(tmp_path, monkeypatch):
    """No second save of the same step (the window the issue found is gone altogether)."""
    from rfm_studio.core.training import loop
    from rfm_studio.core.training.checkpoint import save_checkpoint

    saved = []
    monkeypatch.setattr(loop, "save_checkpoint", lambda root, step, *a, **k: (saved.append(step),
                                                                               save_checkpoint(root, step, *a, **k))[1])
    data = tmp_path / "m.jsonl"
    for i in range(2):
        sf.write(tmp_path / f"i{i}.wav", tone(1.0, seed=i), 16000)
        sf.write(tmp_path / f"o{i}.wav", tone(1.0, seed=i + 5), 16000)
    data.write_text("\n".join(json.dumps({"input": f"i{i}.wav", "target": f"o{i}.wav", "instruction": "x"})
                              for i in range(2)))
    cfg = loop.TrainConfig(data=str(data), out=str(tmp_path / "run"), init="tiny", steps=2, batch_size=2,
                           crop_seconds=0.64, val_every=2, val_batches=1, text_lora=False, device="cpu",
                           checkpoint_seconds=1e9)
    list(loop.train(cfg))
    assert saved == [2]


# ---- item 4: edit-batch ------------------------------------------------------------------------
def _batch_folder(tmp_path):
    d = tmp_path / "set"
    d.mkdir()
    for name in ("a", "b"):
        sf.write(d / f"{name}.wav", tone(1.0, seed=ord(name)), 16000)
    return d


def _no_model(monkeypatch):
    import rfm_studio.commands.edit as E

    def refuse(args):
        raise AssertionError("the model was loaded before the outputs were checked")

    monkeypatch.setattr(E, "load_model", refuse)


def test_edit_batch_refuses_an_output_that_is_a_folder_or_an_overlong_id_before_the_model(tmp_path, monkeypatch,
                                                                                          capsys):
    d = _batch_folder(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "r1.wav").write_bytes(b"old r1")
    (out / "r2.wav").mkdir()
    rows = [{"id": "r1", "input": "a.wav", "instruction": "x"}, {"id": "r2", "input": "b.wav", "instruction": "y"}]
    (d / "m.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    _no_model(monkeypatch)
    code = main(["edit-batch", str(d / "m.jsonl"), "--out-dir", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "r2.wav" in err and "folder" in err and err.count("\n") == 1, err
    assert (out / "r1.wav").read_bytes() == b"old r1" and _names(out) == ["r1.wav", "r2.wav"]
    rows = [{"id": "r" * 300, "input": "a.wav", "instruction": "x"}]
    (d / "m.jsonl").write_text(json.dumps(rows[0]))
    code = main(["edit-batch", str(d / "m.jsonl"), "--out-dir", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "too long" in err and err.count("\n") == 1, err
    assert _names(out) == ["r1.wav", "r2.wav"]


def test_edit_batch_outputs_are_all_or_none_when_a_move_fails(tmp_path, tiny_bundle, monkeypatch, capsys):
    d = _batch_folder(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    for n in ("r1", "r2"):
        (out / f"{n}.wav").write_bytes(b"old " + n.encode())
    rows = [{"id": n, "input": "a.wav", "instruction": "x"} for n in ("r1", "r2", "r3")]
    (d / "m.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    real = os.replace
    moved = []

    def third_move_fails(src, dst, **kw):
        if str(dst).endswith(".wav") and Path(dst).parent == out and not Path(dst).name.startswith(".rfm-"):
            moved.append(dst)
            if len(moved) == 2:
                raise OSError(28, "No space left on device", str(dst))
        return real(src, dst, **kw)

    monkeypatch.setattr(os, "replace", third_move_fails)
    code = main(["edit-batch", str(d / "m.jsonl"), "--out-dir", str(out), "--model", str(tiny_bundle),
                 "--steps", "1"])
    monkeypatch.undo()
    assert code == 2, capsys.readouterr().err
    assert _names(out) == ["r1.wav", "r2.wav"]  # the old outputs, no temporary files
    assert [(out / f"r{i}.wav").read_bytes() for i in (1, 2)] == [b"old r1", b"old r2"]


# ---- item 6: adapters ---------------------------------------------------------------------------
def test_an_adapter_left_as_a_backup_by_a_kill_is_back_and_never_deleted_without_replace(tmp_path):
    from faultinject import _lora_sets

    from rfm_studio.core.model.adapters import AdapterCard, list_adapters, save_adapter
    from rfm_studio.core.training.finetune import adapter_exists

    card = AdapterCard(name="mine", base_model="tiny", rank=2, alpha=4.0)
    save_adapter(tmp_path / "mine", _lora_sets(1)[1], card)
    # killed between the renames of a --replace: only the backup holds the adapter
    (tmp_path / "mine").rename(swap.backup_path(tmp_path / "mine"))
    assert adapter_exists(tmp_path, "mine")  # recovered: the name is taken
    assert [n for n, _p, _c in list_adapters(tmp_path)] == ["mine"]
    before = (tmp_path / "mine" / "unet" / "adapter_model.safetensors").read_bytes()
    (tmp_path / "mine").rename(swap.backup_path(tmp_path / "mine"))
    with pytest.raises(FileExistsError):  # a fine-tuning without --replace: refused, the old one kept
        save_adapter(tmp_path / "mine", _lora_sets(2)[1], card, replace=False)
    assert (tmp_path / "mine" / "unet" / "adapter_model.safetensors").read_bytes() == before
    assert _names(tmp_path) == ["mine"]


@pytest.fixture(scope="module")
def ft_triplets(tmp_path_factory):
    d = tmp_path_factory.mktemp("ft")
    for i in range(2):
        sf.write(d / f"in{i}.wav", tone(1.0, freq=60.0 * (i + 1), seed=i) + tone(1.0, freq=700, amp=.1, seed=9), 16000)
        sf.write(d / f"out{i}.wav", tone(1.0, freq=700, amp=.1, seed=9), 16000)
    (d / "t.jsonl").write_text("\n".join(json.dumps({"input": f"in{i}.wav", "target": f"out{i}.wav",
                                                     "instruction": "Remove the hum"}) for i in range(2)))
    return d


@pytest.fixture
def one_thread():
    """Same float results in the parent and a forked child: a forked child does not get the
    parent's intra-op thread pool, and sums split over other thread counts round differently."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_finetuning_killed_part_way_resumes_to_the_same_adapter(tiny_model, ft_triplets, tmp_path, one_thread):
    from faultinject import run_in_child

    from rfm_studio.core.model.files import load_safetensors
    from rfm_studio.core.training import finetune as ft

    def cfg(name, out):
        return ft.FinetuneConfig(triplets=str(ft_triplets / "t.jsonl"), name=name, out_dir=str(out), steps=6,
                                 batch_size=2, crop_seconds=0.64, log_every=1, checkpoint_every=2)

    list(ft.finetune(tiny_model, cfg("whole", tmp_path / "a")))
    whole = load_safetensors(tmp_path / "a" / "whole" / "unet" / "adapter_model.safetensors")
    assert not ft.resume_dir(tmp_path / "a", "whole").exists()  # checkpoints go once it is saved

    def killed_at_step_5(name="cut", lr=1e-3):
        c = dataclasses.replace(cfg(name, tmp_path / "b"), lr=lr)  # the config is frozen
        for ev in ft.finetune(tiny_model, c):
            if ev.step == 5:
                os._exit(9)  # like kill -9: no cleanup

    assert run_in_child(killed_at_step_5, 0, "fail")[0] == "exit 9"
    assert not (tmp_path / "b" / "cut").exists() and ft.resume_dir(tmp_path / "b", "cut").is_dir()
    events = list(ft.finetune(tiny_model, cfg("cut", tmp_path / "b")))
    assert events[0].message == "resumed from step 4" and events[1].step == 5
    cut = load_safetensors(tmp_path / "b" / "cut" / "unet" / "adapter_model.safetensors")
    assert set(cut) == set(whole) and all(torch.allclose(cut[k], whole[k], atol=1e-6) for k in whole)
    assert not ft.resume_dir(tmp_path / "b", "cut").exists()
    # other settings: not resumed from a checkpoint of another fine-tuning
    assert run_in_child(lambda: killed_at_step_5("other", lr=5e-4), 0, "fail")[0] == "exit 9"
    assert ft.resume_dir(tmp_path / "b", "other").is_dir()
    events = list(ft.finetune(tiny_model, cfg("other", tmp_path / "b")))
    assert not any(e.message.startswith("resumed") for e in events)


# ---- item 9: the start-up sweep and SIGTERM -------------------------------------------------------
def test_startup_sweeps_only_the_apps_stale_temporary_files(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    dead, old = dead_pid(), time.time() - 3600
    stale = [out / f".rfm-{dead}-ab_cd123.wav", out / ".rfm-k2j4h5l6", out / f".rfm-{dead}-zzzzzzzz.journal"]
    kept = [out / f".rfm-{os.getpid()}-ab_cd123.wav",  # a live process's
            out / ".rfm-notes.txt", out / ".rfm-ab_cd123.wav.keep", out / "take.wav"]  # not the app's names
    for p in stale + kept:
        p.write_bytes(b"x" * 100)
        os.utime(p, (old, old))
    fresh = out / f".rfm-{dead}-fresh123.wav"  # newer than the process
    fresh.write_bytes(b"x")
    os.utime(fresh, (time.time() + 60, time.time() + 60))
    half = _folder(out / ".rfm-old-model", "old")  # a swap cut short: put back, not deleted
    os.utime(half, (old, old))
    from rfm_studio.core.cleanup import startup_sweep

    startup_sweep([out])
    assert not any(p.exists() for p in stale)
    assert all(p.exists() for p in kept) and fresh.exists()
    assert (out / "model" / "a.txt").read_text() == "old"
    # the CLI runs it for the folders a command writes to
    stale[0].write_bytes(b"x")
    os.utime(stale[0], (old, old))
    main(["edit", str(tmp_path / "missing.wav"), "x", "-o", str(out / "o.wav")])
    capsys.readouterr()
    assert not stale[0].exists()


SIGTERM_SCRIPT = r"""
import sys, time
from pathlib import Path
import rfm_studio.commands.edit as E
from rfm_studio.core.atomic import discard, temp_beside

def long_edit(args):  # as save_audio and the streamed edit do: a temporary file, removed on any exit
    tmp = temp_beside(Path(args.output), ".wav")
    try:
        with open(tmp, "wb") as f:
            f.write(b"\0" * 1_000_000)
            f.flush()
            open(sys.argv[3], "w").close()
            time.sleep(60)
    except BaseException:
        discard(tmp)
        raise

E.run_edit_cmd = long_edit
from rfm_studio.cli import main
sys.exit(main(["edit", sys.argv[1], "x", "-o", sys.argv[2]]))
"""


def test_sigterm_removes_the_partial_output_like_ctrl_c(tmp_path):
    sf.write(tmp_path / "in.wav", tone(0.5), 16000)
    out, ready = tmp_path / "out", tmp_path / "ready"
    out.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.Popen([sys.executable, "-c", SIGTERM_SCRIPT, str(tmp_path / "in.wav"), str(out / "o.wav"),
                          str(ready)], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not ready.exists() and p.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert ready.exists(), p.communicate()[1]
    assert [q.name for q in out.iterdir() if q.name.startswith(".rfm-")]  # the partial temporary file
    p.send_signal(signal.SIGTERM)
    _o, err = p.communicate(timeout=60)
    assert p.returncode == 143 and "terminated" in err, err
    assert _names(out) == []  # no partial temporary file, no output


def test_data_writers_leave_only_the_finished_file(tmp_path, monkeypatch):
    """The bank's manifests are written through core/atomic.py: a failed write leaves the old
    file and no temporary one."""
    import pytest

    from rfm_studio.core import atomic
    from rfm_studio.core.data.bank import _write_jsonl

    path = tmp_path / "bank.jsonl"
    _write_jsonl(path, [{"a": "é"}, {"b": 2}])
    assert path.read_text(encoding="utf-8") == '{"a": "é"}\n{"b": 2}\n'
    monkeypatch.setattr(atomic.os, "fsync", lambda fd: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError, match="disk full"):
        _write_jsonl(path, [{"c": 3}])
    assert path.read_text(encoding="utf-8") == '{"a": "é"}\n{"b": 2}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bank.jsonl"]


def test_same_file_sees_links(tmp_path):
    from rfm_studio.core.atomic import file_id, same_file

    a = tmp_path / "a.wav"
    a.write_bytes(b"x")
    (tmp_path / "hard.wav").hardlink_to(a)
    (tmp_path / "soft.wav").symlink_to(a)
    assert same_file(a, tmp_path / "hard.wav") and same_file(tmp_path / "soft.wav", a)
    assert not same_file(a, tmp_path / "new.wav")
    assert same_file(tmp_path / "new.wav", tmp_path / "sub" / ".." / "new.wav")
    assert file_id(tmp_path / "missing") is None and file_id("bad\0name") is None
