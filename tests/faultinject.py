"""Fault injection for every code path that swaps or replaces files (shared by
tests/test_fault_injection.py and benchmarks/reliability.py).

As SQLite and git test their crash safety: a clean run of an operation counts its file-system
calls (os.replace, os.rename, os.unlink/remove, os.rmdir, os.mkdir, opening a file for writing
and each write to it: shutil.rmtree, copytree, Path.* and tempfile go through these); then,
for k = 1..N, the operation runs again in a forked child in which the k-th call either
raises OSError ("fail") or ends the process on the spot ("kill": os._exit before the call;
a write is torn: half of it reaches the file first). After each, in this process, the
scenario's check asserts that the previous good state is intact (or the new one complete),
the rerun completes (or resumes) the operation, and the final check asserts the new state
with no leftovers once the start-up sweep has run.
"""

from __future__ import annotations

import builtins
import errno
import io
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

KILLED = 77  # a child's exit status when the fault killed it
OPS = ("replace", "rename", "unlink", "remove", "rmdir", "mkdir")


class _Injector:
    def __init__(self, target: int, mode: str):
        self.target, self.mode, self.count = target, mode, 0
        self.calls: list[tuple[str, str]] = []
        self.saved = {}

    def _hit(self, op: str, path) -> bool:
        self.count += 1
        self.calls.append((op, os.path.basename(str(path))))
        if self.count != self.target:
            return False
        if self.mode == "kill":
            os._exit(KILLED)
        return True

    def _raise(self, op, path):
        raise OSError(errno.EIO, f"injected fault at call {self.count} ({op})", str(path))

    def install(self):
        for op in OPS:
            real = getattr(os, op)
            self.saved[op] = real

            def wrapped(*a, _op=op, _real=real, **kw):
                if self._hit(_op, a[0] if a else ""):
                    self._raise(_op, a[0] if a else "")
                return _real(*a, **kw)

            setattr(os, op, wrapped)
        real_open = builtins.open
        self.saved["open"] = real_open
        inj = self

        class Writer:
            def __init__(self, f, path):
                self._f, self._path = f, path

            def write(self, data):
                if inj.count + 1 == inj.target and inj.mode == "kill":
                    inj.count += 1
                    self._f.write(data[: len(data) // 2])  # a torn write: half reaches the file
                    self._f.flush()
                    os._exit(KILLED)
                if inj._hit("write", self._path):
                    inj._raise("write", self._path)
                return self._f.write(data)

            def __getattr__(self, name):
                return getattr(self._f, name)

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self._f.close()
                return False

            def __iter__(self):
                return iter(self._f)

        def opener(file, mode="r", *a, **kw):
            if isinstance(file, int) or not any(c in mode for c in "wax+"):
                return real_open(file, mode, *a, **kw)
            if inj._hit("open-w", file):
                inj._raise("open-w", file)
            return Writer(real_open(file, mode, *a, **kw), file)

        builtins.open = opener
        io.open = opener
        return self

    def uninstall(self):
        for op in OPS:
            setattr(os, op, self.saved[op])
        builtins.open = self.saved["open"]
        io.open = self.saved["open"]


def run_in_child(action: Callable[[], None], target: int, mode: str, timeout: float = 120.0) -> tuple[str, int]:
    """Run ``action`` in a forked child with the ``target``-th call faulted (0: none).
    Returns (outcome, calls counted): outcome "ok", "failed" (an exception), "killed"."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 3
        try:
            os.close(r)
            if "torch" in sys.modules:  # an OpenMP pool does not survive fork: run inline
                sys.modules["torch"].set_num_threads(1)
            inj = _Injector(target, mode).install()
            try:
                action()
                code = 0
            except BaseException:  # noqa: BLE001 - the fault (or what it caused) surfaced
                code = 1
            finally:
                inj.uninstall()
            os.write(w, str(inj.count).encode())
        finally:
            os._exit(code)
    os.close(w)
    deadline = time.time() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.time() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            raise RuntimeError("fault-injection child timed out")
        time.sleep(0.002)
    with os.fdopen(r, "rb") as f:
        out = f.read()
    code = os.waitstatus_to_exitcode(status)
    count = int(out) if out else -1
    return {0: "ok", 1: "failed", KILLED: "killed"}.get(code, f"exit {code}"), count


@dataclass
class Scenario:
    """One code path: ``setup(d)`` makes the previous good state in an empty folder ``d``;
    ``action(d)`` is the operation under faults; ``check(d)`` (after a fault, in this process)
    asserts the previous or the new state is whole and returns how many states it checked;
    ``rerun(d)`` runs the operation again without faults; ``done(d)`` asserts the new state
    and no leftovers, returning its number of checked states."""

    name: str
    setup: Callable[[Path], None]
    action: Callable[[Path], None]
    check: Callable[[Path], int]
    rerun: Callable[[Path], None]
    done: Callable[[Path], int]


@dataclass
class Report:
    name: str
    calls: int = 0
    injected: int = 0
    killed: int = 0
    failed: int = 0
    states: int = 0
    problems: list = field(default_factory=list)
    ops: dict = field(default_factory=dict)


def count_calls(sc: Scenario, base: Path) -> tuple[int, list]:
    d = base / f"{sc.name}-count"
    d.mkdir(parents=True)
    sc.setup(d)
    calls = []

    def action():
        sc.action(d)

    # counted in the child too, so the parent's own state is never touched
    outcome, n = run_in_child(action, 0, "fail")
    if outcome != "ok":
        raise AssertionError(f"{sc.name}: the clean run did not succeed ({outcome})")
    # the calls' names, for the report (a second clean run in this process, faults off)
    d2 = base / f"{sc.name}-names"
    d2.mkdir()
    sc.setup(d2)
    inj = _Injector(0, "fail").install()
    try:
        sc.action(d2)
    finally:
        inj.uninstall()
    calls = inj.calls
    shutil.rmtree(d, ignore_errors=True)
    shutil.rmtree(d2, ignore_errors=True)
    return n, calls


def run_scenario(sc: Scenario, base: Path, modes=("fail", "kill"), keep_going: bool = False) -> Report:
    """Inject a fault at every call point of ``sc`` in each mode; assert after each."""
    rep = Report(sc.name)
    env = os.environ.get("RFM_STUDIO_DATA_DIR")
    fsync = os.fsync
    os.fsync = lambda fd: None  # a killed process loses nothing fsync would keep (only power loss does)
    try:
        _run(sc, base, modes, keep_going, rep)
    finally:
        os.fsync = fsync
        if env is None:
            os.environ.pop("RFM_STUDIO_DATA_DIR", None)
        else:
            os.environ["RFM_STUDIO_DATA_DIR"] = env
    return rep


def _run(sc: Scenario, base: Path, modes, keep_going: bool, rep: Report) -> None:
    n, calls = count_calls(sc, base)
    rep.calls = n
    for op, _name in calls:
        rep.ops[op] = rep.ops.get(op, 0) + 1
    for mode in modes:
        for k in range(1, n + 1):
            d = base / f"{sc.name}-{mode}-{k}"
            d.mkdir(parents=True)
            try:
                sc.setup(d)
                outcome, _ = run_in_child(lambda: sc.action(d), k, mode)
                rep.injected += 1
                rep.killed += outcome == "killed"
                rep.failed += outcome == "failed"
                rep.states += sc.check(d)
                sc.rerun(d)
                rep.states += sc.done(d)
            except Exception as exc:  # noqa: BLE001 - an assertion, or the state could not even be read
                msg = (f"{sc.name}: {mode} at call {k} ({calls[k - 1] if k <= len(calls) else '?'}): "
                       f"{type(exc).__name__}: {exc}")
                if not keep_going:
                    raise AssertionError(msg) from exc
                rep.problems.append(msg)
            finally:
                shutil.rmtree(d, ignore_errors=True)


# ---- the scenarios ------------------------------------------------------------------------
def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith((".rfm-", ".tmp-")))


def _sweep(folder: Path):
    from rfm_studio.core.atomic import sweep

    sweep(folder, before=time.time() + 1)  # a later start-up: every writer here is gone


def atomic_write_scenario() -> Scenario:
    from rfm_studio.core.atomic import atomic_write_bytes

    old, new = b"old contents\n" * 50, b"new contents\n" * 80

    def setup(d):
        (d / "settings.json").write_bytes(old)

    def action(d):
        atomic_write_bytes(d / "settings.json", new)

    def check(d):
        assert (d / "settings.json").read_bytes() in (old, new), "the file is neither the old nor the new one"
        return 1

    def done(d):
        assert (d / "settings.json").read_bytes() == new
        _sweep(d)
        assert _leftovers(d) == [], _leftovers(d)
        return 2

    return Scenario("atomic write", setup, action, check, action, done)


def audio_save_scenario() -> Scenario:
    """An edit's output (core.audio.io.save_audio): encoded to a temporary file, renamed over."""
    import numpy as np

    from rfm_studio.core.audio.io import save_audio

    sr = 16000
    old = (0.1 * np.sin(np.arange(sr) / 10)).astype(np.float32)
    new = (0.2 * np.sin(np.arange(2 * sr) / 7)).astype(np.float32)

    def setup(d):
        save_audio(d / "out.wav", old, sr)

    def action(d):
        save_audio(d / "out.wav", new, sr)

    def frames(d) -> int:
        import soundfile as sf

        return sf.info(str(d / "out.wav")).frames

    def check(d):
        assert frames(d) in (len(old), len(new)), "the output is neither the old nor the new one"
        return 1

    def done(d):
        assert frames(d) == len(new)
        _sweep(d)
        assert _leftovers(d) == [], _leftovers(d)
        return 2

    return Scenario("audio output", setup, action, check, action, done)


def checkpoint_scenario() -> Scenario:
    """A run holding step 10 and 20 re-saves step 20 (validation improved on a periodic
    step) and then saves step 30 (a kill at any moment must leave a complete checkpoint and a
    resume at step >= 20)."""
    import torch

    from rfm_studio.core.training.checkpoint import latest_checkpoint, load_checkpoint, mark_best, \
        optimizer_from_files, save_checkpoint

    p = torch.nn.Parameter(torch.ones(8, 4))
    opt = torch.optim.AdamW([p], lr=1e-3)
    p.grad = torch.full_like(p, 0.5)
    opt.step()

    def w(step):
        return {"unet.w": torch.full((8, 4), float(step)), "ema.unet.w": torch.full((8, 4), step + 0.5)}

    def setup(d):
        for s in (10, 20):
            save_checkpoint(d, s, w(s), opt, {"best": 1.0, "elapsed": float(s)})
        mark_best(d, 20, 1.0)

    def action(d):
        save_checkpoint(d, 20, w(20), opt, {"best": 0.5, "elapsed": 21.0, "val_loss": 0.5})
        mark_best(d, 20, 0.5)
        save_checkpoint(d, 30, w(30), opt, {"best": 0.5, "elapsed": 30.0})

    def resumable(d) -> int:
        ck = latest_checkpoint(d)
        assert ck is not None, "no checkpoint to resume from"
        weights, state = load_checkpoint(ck)
        step = int(state["step"])
        assert step in (20, 30), f"resumes from step {step}"
        assert torch.equal(weights["unet.w"], w(step)["unet.w"]), "the checkpoint's weights are not its step's"
        o = torch.optim.AdamW([torch.nn.Parameter(torch.ones(8, 4))], lr=1e-3)
        optimizer_from_files(o, ck)
        return step

    def check(d):
        resumable(d)
        return 1

    def done(d):
        assert resumable(d) == 30
        ck = d / "checkpoints"
        assert _leftovers(ck) == [], _leftovers(ck)
        return 2

    return Scenario("checkpoint save", setup, action, check, action, done)


def _lora_sets(seed: int):
    import torch

    from rfm_studio.core.model.adapters import LoRASet

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.to_q = torch.nn.Linear(4, 4)
            self.to_v = torch.nn.Linear(4, 4)

    torch.manual_seed(seed)
    net = Net()
    s = LoRASet(net, ["to_q", "to_v"], rank=2, alpha=4.0)
    with torch.no_grad():
        for prm in s.parameters():
            prm.fill_(float(seed))
    return net, {"unet": s}


def adapter_scenario() -> Scenario:
    """``finetune --replace``: adapter 'mine' (seed 1) replaced by seed 2. After a fault the
    name holds a whole adapter (old or new); a save without replace is then refused and keeps
    it; the rerun replaces it."""
    from rfm_studio.core.model.adapters import AdapterCard, LoRASet, save_adapter
    from rfm_studio.core.training.finetune import adapter_exists

    net, old_sets = _lora_sets(1)
    _net2, new_sets = _lora_sets(2)

    def card(seed):
        return AdapterCard(name="mine", base_model="tiny", rank=2, alpha=4.0, steps=seed)

    def setup(d):
        save_adapter(d / "mine", old_sets, card(1))

    def action(d):
        save_adapter(d / "mine", new_sets, card(2), replace=True)

    def value(d) -> float:
        s = LoRASet.load(net, d / "mine" / "unet")
        vals = {float(v) for prm in s.parameters() for v in prm.detach().flatten()}
        assert len(vals) == 1, "the adapter's weights are a mix"
        return vals.pop()

    def check(d):
        assert adapter_exists(d, "mine"), "the adapter vanished"
        v = value(d)
        assert v in (1.0, 2.0), v
        try:  # a later fine-tuning without --replace must refuse, and keep this one
            save_adapter(d / "mine", _lora_sets(3)[1], card(3), replace=False)
            raise AssertionError("a save without replace went through")
        except FileExistsError:
            pass
        assert value(d) == v, "the refused save changed the adapter"
        return 3

    def done(d):
        assert value(d) == 2.0
        _sweep(d)
        assert _leftovers(d) == [], _leftovers(d)
        return 2

    return Scenario("adapter save --replace", setup, action, check, action, done)


def models_import_scenario(bundle: Path) -> Scenario:
    """``models import``: a model 'keep' is installed; 'new' is imported from ``bundle``."""
    import argparse

    from rfm_studio.commands.models import cmd_import
    from rfm_studio.core.model.manifest import verify_manifest

    def models(d) -> Path:
        os.environ["RFM_STUDIO_DATA_DIR"] = str(d / "data")
        return d / "data" / "models"

    def setup(d):
        shutil.copytree(bundle, models(d) / "keep")

    def action(d):
        models(d)
        cmd_import(argparse.Namespace(folder=str(bundle), name="new"))

    def check(d):
        m = models(d)
        assert verify_manifest(m / "keep") == [], "the installed model was damaged"
        n = 1
        if (m / "new").exists():
            assert verify_manifest(m / "new") == [], "a half-imported model is installed"
            n += 1
        return n

    def rerun(d):
        m = models(d)
        from rfm_studio.core.cleanup import startup_sweep

        startup_sweep(before=time.time() + 1)
        if not (m / "new").exists():
            action(d)

    def done(d):
        m = models(d)
        assert verify_manifest(m / "new") == [] and verify_manifest(m / "keep") == []
        assert _leftovers(m) == [], _leftovers(m)
        return 2

    return Scenario("models import", setup, action, check, rerun, done)


def models_remove_scenario(bundle: Path) -> Scenario:
    import argparse

    from rfm_studio.commands.models import cmd_remove
    from rfm_studio.core.model.manifest import verify_manifest

    def models(d) -> Path:
        os.environ["RFM_STUDIO_DATA_DIR"] = str(d / "data")
        return d / "data" / "models"

    def setup(d):
        shutil.copytree(bundle, models(d) / "gone")

    def action(d):
        models(d)
        cmd_remove(argparse.Namespace(name="gone"))

    def check(d):
        m = models(d)
        if (m / "gone").exists():
            assert verify_manifest(m / "gone") == [], "a half-removed model is still listed"
        return 1

    def rerun(d):
        from rfm_studio.core.cleanup import startup_sweep

        startup_sweep(before=time.time() + 1)
        if (models(d) / "gone").exists():
            action(d)

    def done(d):
        m = models(d)
        assert not (m / "gone").exists() and sorted(p.name for p in m.iterdir()) == []
        return 1

    return Scenario("models remove", setup, action, check, rerun, done)


def ship_scenario(bundle: Path) -> Scenario:
    """benchmarks/ship_candidate.install: the shipped bundle replaced by a candidate."""
    from rfm_studio.core.model.manifest import verify_manifest
    from rfm_studio.core.swap import replacing

    from rfm_studio.core.model.files import read_json, write_json
    from rfm_studio.core.model.manifest import write_manifest

    def setup(d):
        shutil.copytree(bundle, d / "shipped")
        idx = read_json(d / "shipped" / "model_index.json")
        idx["info"]["which"] = "old"  # tells the old bundle from the new one
        write_json(d / "shipped" / "model_index.json", idx)
        write_manifest(d / "shipped")

    def action(d):
        with replacing(d / "shipped", replace=True) as new:
            shutil.copytree(bundle, new, dirs_exist_ok=True)

    def check(d):
        from rfm_studio.core.swap import recover

        recover(d / "shipped")
        assert verify_manifest(d / "shipped") == [], "the shipped model is not whole"
        return 1

    def done(d):
        assert verify_manifest(d / "shipped") == []
        assert "which" not in read_json(d / "shipped" / "model_index.json")["info"], "the old bundle is in place"
        assert _leftovers(d) == [], _leftovers(d)
        return 2

    return Scenario("shipped model swap", setup, action, check, action, done)


def batch_scenario() -> Scenario:
    """edit-batch finalisation: r1, r2 exist; r1, r2, r3 are put in place all or none."""
    from rfm_studio.core.atomic import commit_files, recover_commits, temp_beside

    names = ("r1.wav", "r2.wav", "r3.wav")

    def setup(d):
        (d / "out").mkdir()
        for n in names[:2]:
            (d / "out" / n).write_bytes(b"old " + n.encode())

    def staged(d):
        pairs = []
        for n in names:
            tmp = temp_beside(d / "out" / n, ".wav")
            with builtins.open(tmp, "wb") as f:
                f.write(b"new " + n.encode())
            pairs.append((tmp, d / "out" / n))
        return pairs

    pre = {}

    def setup_and_stage(d):
        setup(d)
        pre[str(d)] = staged(d)

    def action(d):
        commit_files(pre[str(d)], d / "out")

    def state(d) -> str:
        out = d / "out"
        got = {n: (out / n).read_bytes() for n in names if (out / n).exists()}
        if got == {n: b"old " + n.encode() for n in names[:2]}:
            return "old"
        if got == {n: b"new " + n.encode() for n in names}:
            return "new"
        raise AssertionError(f"a mix of old and new outputs: {sorted(got)} {list(got.values())}")

    def check(d):
        recover_commits(d / "out", before=time.time() + 1)  # the next edit-batch into this folder
        state(d)
        return 1

    def rerun(d):
        from rfm_studio.core.atomic import discard

        for tmp, _dst in pre.pop(str(d), []):
            discard(tmp)  # the failed run's own cleanup (a killed one's: the sweep)
        recover_commits(d / "out", before=time.time() + 1)
        commit_files(staged(d), d / "out")

    def done(d):
        assert state(d) == "new"
        _sweep(d / "out")
        assert _leftovers(d / "out") == [], _leftovers(d / "out")
        return 2

    return Scenario("edit-batch finalisation", setup_and_stage, action, check, rerun, done)


def all_scenarios(bundle: Path) -> list[Scenario]:
    return [atomic_write_scenario(), audio_save_scenario(), checkpoint_scenario(), adapter_scenario(), batch_scenario(),
            models_import_scenario(bundle), models_remove_scenario(bundle), ship_scenario(bundle)]
